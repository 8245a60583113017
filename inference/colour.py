"""Colour match to a reference shot: a 3D LUT that never trusts an alignment it cannot check.

The LUT is a 33x33x33 table stored (channel, blue, green, red), so torch's grid_sample reads it
trilinearly with (red, green, blue) as (x, y, z) -- the layout that matched colour-science's
LUT3D.apply. Two fits:

- statistics, always: the MKL transfer (mean and covariance in RGB) followed by regional CIELAB
  statistics (a smooth monotone lightness curve, colour mean and spread in the shadows, mids and
  highlights), baked into the table. It is the fallback, and the prior of the pixel fit;
- corresponding pixels, where the two shots see the same things: a source keyframe and the
  reference frame that shares most features with it are registered by a homography (ORB on
  equalised luma, so a strong grade does not stop the match), accepted only when it is
  plausible (enough matches agree within a few pixels, the homography fitted the other way
  round undoes it, it neither folds nor stretches the frame) and refined by DIS flow for
  parallax; a pixel counts where the flow agrees both ways, the image is calm, and the local
  structure of the two frames agrees. The table is fitted by gradient descent from the
  statistics table to three quarters of those pixels (blocks spread over the frame), with a
  smoothness term around the prior and a monotonicity term; the quarter held out must be
  matched better than by the statistics alone, or the alignment is not trusted.

The held-out residual (or, without alignment, the distance left between colour distributions)
is the model's own estimate of its error, which the proposal's QC verdict reads (inference.qc).
The table is applied to every frame and written as a .cube file that Resolve and Nuke read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import EmptyClipError, ParameterError
from .flow import _dis, fb_error, pixel_grid, warp
from .params import Params
from .qc import COLOUR_REVIEW_DELTA_E, Estimate, Metric, systematic_delta_e, delta_e_pairs
from .sparse import SparseMap

METHOD = "lut3d-gradient-descent"
VERSION = "1.0"


@dataclass
class ColourParams(Params):
    size: int = 33
    iterations: int = 500
    learning_rate: float = 0.01
    smoothness: float = 0.2
    monotonicity: float = 10.0
    samples: int = 60_000  # pixel pairs drawn for the fit
    mode: str = "auto"  # "auto", "correspondence" or "statistics"
    min_overlap: float = 0.05  # fraction of a keyframe that must register, else statistics
    keyframes: int = 4
    # The editor's ASC CDL from the timeline ({"slope", "offset", "power": [r, g, b], "saturation"}):
    # the fit starts from that grade rather than from the untouched shot.
    start_cdl: dict | None = None

    def check(self):
        self.choice("mode", ("auto", "correspondence", "statistics"))
        if not 2 <= self.size <= 129:
            raise ParameterError("parameter size must be between 2 and 129")
        if self.start_cdl is not None:
            self.start_cdl = check_cdl(self.start_cdl)


# --- the editor's CDL ------------------------------------------------------------------------------

REC709_LUMA = (0.2126, 0.7152, 0.0722)  # the ASC CDL's saturation weights


def check_cdl(cdl) -> dict:
    """The CDL with numbers as floats and saturation filled in, or a ParameterError saying what is wrong
    (a CDL from a timeline is data from outside, and a bad one would silently skew every fit)."""
    if not isinstance(cdl, dict):
        raise ParameterError(f"parameter start_cdl must be an ASC CDL object, got {cdl!r}")
    unknown = sorted(set(cdl) - {"slope", "offset", "power", "saturation"})
    if unknown:
        raise ParameterError(f"parameter start_cdl has unknown key(s) {', '.join(map(str, unknown))}")
    out = {}
    for name, lowest in (("slope", 0.0), ("offset", None), ("power", 0.0)):
        values = cdl.get(name)
        if (not isinstance(values, (list, tuple)) or len(values) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values)):
            raise ParameterError(f"parameter start_cdl needs {name} as three numbers (red, green, blue), "
                                 f"got {values!r}")
        # a negative slope inverts a channel and a power of 0 or less is undefined on black
        if lowest is not None and (min(values) < lowest or (name == "power" and min(values) <= 0)):
            raise ParameterError(f"parameter start_cdl {name} must be {'above' if name == 'power' else 'at least'} 0, "
                                 f"got {list(values)!r}")
        out[name] = [float(v) for v in values]
    saturation = cdl.get("saturation", 1.0)
    if isinstance(saturation, bool) or not isinstance(saturation, (int, float)) or not np.isfinite(saturation) \
            or saturation < 0:
        raise ParameterError(f"parameter start_cdl saturation must be a number of at least 0, got {saturation!r}")
    out["saturation"] = float(saturation)
    return out


def apply_cdl(cdl: dict, rgb: torch.Tensor) -> torch.Tensor:
    """The ASC CDL on rgb [..., 3] (0..1): slope, offset, power per channel, clamped to 0..1, then
    saturation around Rec. 709 luma, clamped again (as media.cdl shows it in the browser)."""
    slope, offset, power = (torch.tensor(cdl[k], dtype=rgb.dtype) for k in ("slope", "offset", "power"))
    graded = (rgb * slope + offset).clamp(0, 1) ** power
    luma = (graded * torch.tensor(REC709_LUMA, dtype=rgb.dtype)).sum(-1, keepdim=True)
    return (luma + cdl.get("saturation", 1.0) * (graded - luma)).clamp(0, 1)


def start_lut(cdl: dict | None, size: int) -> torch.Tensor:
    """Where a fit starts: the CDL baked into a table [3, B, G, R], or identity without one."""
    table = identity_lut(size)
    if cdl is None:
        return table
    return apply_cdl(cdl, table.permute(1, 2, 3, 0)).permute(3, 0, 1, 2).contiguous()


# --- the table -----------------------------------------------------------------------------------

def identity_lut(size: int) -> torch.Tensor:
    """[3, B, G, R]: channel c at (b, g, r) is that cell's own coordinate."""
    axis = torch.linspace(0, 1, size)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b])


def apply_lut(lut: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of rgb [..., 3] (0..1) in lut [3, B, G, R]."""
    shape = rgb.shape
    coords = rgb.reshape(1, 1, 1, -1, 3).clamp(0, 1) * 2 - 1
    out = F.grid_sample(lut[None], coords.to(lut.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(3, -1).T.reshape(shape)


def interpolation_matrix(rgb: torch.Tensor, size: int) -> SparseMap:
    """A @ table = trilinear lookup of rgb [N, 3], the table flattened (blue, green, red) x
    channel. The fit's pixels never change, so the lookup is built once."""
    x = rgb.clamp(0, 1) * (size - 1)
    lower = x.floor().clamp(max=size - 2).long()
    frac = x - lower
    rows, cols, vals = [], [], []
    n = len(rgb)
    for db in (0, 1):
        for dg in (0, 1):
            for dr in (0, 1):
                index = (lower[:, 2] + db) * size * size + (lower[:, 1] + dg) * size + (lower[:, 0] + dr)
                weight = ((frac[:, 2] if db else 1 - frac[:, 2]) * (frac[:, 1] if dg else 1 - frac[:, 1])
                          * (frac[:, 0] if dr else 1 - frac[:, 0]))
                rows.append(torch.arange(n))
                cols.append(index)
                vals.append(weight)
    return SparseMap(torch.cat(rows), torch.cat(cols), torch.cat(vals), (n, size ** 3))


def lut_penalties(lut: torch.Tensor, identity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(smoothness, monotonicity) of lut [3, B, G, R]."""
    delta = lut - identity
    smooth = sum(((delta.diff(dim=d)) ** 2).mean() for d in (1, 2, 3))
    falling = (F.relu(-lut[0].diff(dim=2)).mean() + F.relu(-lut[1].diff(dim=1)).mean()
               + F.relu(-lut[2].diff(dim=0)).mean())
    return smooth, falling


def write_cube(path, lut: torch.Tensor, title: str = "Answerprint colour match") -> str:
    """A .cube file: LUT_3D_SIZE N, then N^3 rows "r g b" with red varying fastest."""
    size = lut.shape[-1]
    rows = lut.detach().cpu().permute(1, 2, 3, 0).reshape(-1, 3).clamp(0, 1).numpy()  # b, g, r order: r fastest
    lines = [f'TITLE "{title}"', f"LUT_3D_SIZE {size}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    lines += [f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in rows]
    Path(path).write_text("\n".join(lines) + "\n")
    return str(path)


def read_cube(path) -> torch.Tensor:
    """The table of a .cube file (3D, domain 0..1) as [3, B, G, R]."""
    size, rows = None, []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head = line.split()[0]
        if head == "LUT_3D_SIZE":
            size = int(line.split()[1])
        elif head[0].isdigit() or head[0] in "-.":
            rows.append([float(v) for v in line.split()[:3]])
        elif head in {"DOMAIN_MIN", "DOMAIN_MAX"}:
            values = [float(v) for v in line.split()[1:4]]
            if values not in ([0, 0, 0], [1, 1, 1]):
                raise ParameterError(f"{path}: only a 0..1 domain is supported")
    if size is None or len(rows) != size ** 3:
        raise ParameterError(f"{path} is not a 3D .cube file with LUT_3D_SIZE and N^3 rows")
    return torch.tensor(rows, dtype=torch.float32).reshape(size, size, size, 3).permute(3, 0, 1, 2).contiguous()


# --- correspondences -----------------------------------------------------------------------------

# What a registration must show before its pixels are trusted as pairs: a homography that many
# matches agree on to within a pixel or two, that the matches fitted the other way round undo,
# that does not fold or stretch the frame, and local structure that agrees after the warp.
MIN_INLIERS = 25
MIN_INLIER_RATIO = 0.1  # a partial overlap leaves many matches outside it
MAX_REPROJECTION_PX = 2.5
MAX_ROUNDTRIP_PX = 3.0
MIN_AGREEMENT = 0.5  # local correlation of equalised luma for a pixel to count as seen by both
MIN_AGREEING_FRACTION = 0.4  # of the pixels both frames see, or the motion is not the content's
MIN_AREA_SCALE, MAX_AREA_SCALE = 0.5, 2.0

# The model's own error estimate, calibrated against the true error on the real-footage protocol
# (inference.evaluate --cross-shot prints predicted against true for every case, and their rank
# correlation). On aligned pixels: the part of the difference from the reference that is
# systematic within each block (qc.systematic_delta_e), since the plain mean carries a floor of
# about 2 dE from registration noise. Without alignment: the distance left between colour
# distributions, scaled, since matching distributions is exactly what the statistics fit does
# and so understates what is left.
STATISTICS_ERROR_SCALE = 3.5
BLOCK = 16  # pixels: the held-out blocks, and the patches the estimate separates noise in


def _equalised(frame: torch.Tensor) -> np.ndarray:
    import cv2

    grey = (frame.clamp(0, 1) * torch.tensor([0.2126, 0.7152, 0.0722])).sum(-1)
    return cv2.equalizeHist((grey * 255 + 0.5).to(torch.uint8).numpy())


@dataclass
class Homography:
    matrix: np.ndarray  # maps points of a to b
    inliers: int
    inlier_ratio: float
    reprojection_px: float  # mean distance of the inliers from where the matrix puts them
    a_points: np.ndarray
    b_points: np.ndarray


def _homography(a: np.ndarray, b: np.ndarray) -> Homography | None:
    """Homography mapping points of a to b from ORB matches (RANSAC), or None."""
    import cv2

    # ORB ignores a 31-pixel border and needs room for its patches: small frames are enlarged
    scale = max(1.0, 240.0 / min(a.shape))
    if scale > 1:
        a = cv2.resize(a, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        b = cv2.resize(b, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    orb = cv2.ORB_create(1000, fastThreshold=5)
    ka, da = orb.detectAndCompute(a, None)
    kb, db = orb.detectAndCompute(b, None)
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 8:
        return None
    pa = np.float32([ka[m.queryIdx].pt for m in matches]) / scale
    pb = np.float32([kb[m.trainIdx].pt for m in matches]) / scale
    matrix, inliers = cv2.findHomography(pa, pb, cv2.RANSAC, max(1.0, 3.0 / scale))
    if matrix is None:
        return None
    keep = inliers.ravel().astype(bool)
    mapped = cv2.perspectiveTransform(pa[keep].reshape(-1, 1, 2), matrix).reshape(-1, 2)
    error = float(np.linalg.norm(mapped - pb[keep], axis=1).mean()) if keep.any() else float("inf")
    return Homography(matrix, int(keep.sum()), float(keep.mean()), error, pa[keep], pb[keep])


def _roundtrip_px(forward: np.ndarray, backward: np.ndarray, h: int, w: int) -> float:
    """How far a grid of points lands from where it started after forward then backward."""
    import cv2

    ys, xs = np.meshgrid(np.linspace(0, h - 1, 8), np.linspace(0, w - 1, 8), indexing="ij")
    points = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32).reshape(-1, 1, 2)
    back = cv2.perspectiveTransform(cv2.perspectiveTransform(points, forward), backward)
    return float(np.linalg.norm((back - points).reshape(-1, 2), axis=1).mean())


def _area_scale(matrix: np.ndarray, h: int, w: int) -> float:
    """Area of the frame after the homography over its area before (negative when it folds)."""
    import cv2

    corners = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]).reshape(-1, 1, 2)
    x, y = cv2.perspectiveTransform(corners, matrix).reshape(-1, 2).T
    area = 0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return float(area / ((w - 1) * (h - 1)))


def _local_correlation(a: np.ndarray, b: np.ndarray, radius: int = 4) -> np.ndarray:
    """Normalised cross-correlation of two grey images in a (2r+1)^2 window around each pixel."""
    import cv2

    a, b = a.astype(np.float32) / 255, b.astype(np.float32) / 255
    size = (2 * radius + 1, 2 * radius + 1)
    mean = lambda x: cv2.blur(x, size)  # noqa: E731
    ma, mb = mean(a), mean(b)
    va, vb = mean(a * a) - ma ** 2, mean(b * b) - mb ** 2
    return (mean(a * b) - ma * mb) / np.sqrt(np.maximum(va, 1e-5) * np.maximum(vb, 1e-5))


@dataclass
class Registration:
    """The reference seen from the source frame: its colours at the source's pixels and where
    that can be trusted, with the numbers that decided it."""

    warped: torch.Tensor  # [H, W, 3]
    valid: torch.Tensor  # [H, W] bool
    checks: dict


def check_homography(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, dict]:
    """The homography from a to b when it is plausible, else None; and why."""
    h, w = a.shape
    forward = _homography(a, b)
    if forward is None:
        return None, {"refused": "too few features match"}
    checks = {"inliers": forward.inliers, "inlier_ratio": round(forward.inlier_ratio, 3),
              "reprojection_px": round(forward.reprojection_px, 3)}
    if forward.inliers < MIN_INLIERS or forward.inlier_ratio < MIN_INLIER_RATIO:
        return None, {**checks, "refused": "too few matches agree on one motion"}
    if forward.reprojection_px > MAX_REPROJECTION_PX:
        return None, {**checks, "refused": "the matches do not fit the motion closely"}
    backward = _homography(b, a)
    if backward is None:
        return None, {**checks, "refused": "the reference does not match back onto the shot"}
    checks["roundtrip_px"] = round(_roundtrip_px(forward.matrix, backward.matrix, h, w), 3)
    if checks["roundtrip_px"] > MAX_ROUNDTRIP_PX:
        return None, {**checks, "refused": "the motion fitted the other way round does not undo it"}
    checks["area_scale"] = round(_area_scale(forward.matrix, h, w), 3)
    if not MIN_AREA_SCALE <= checks["area_scale"] <= MAX_AREA_SCALE:
        return None, {**checks, "refused": "the motion folds or stretches the frame"}
    return forward.matrix, checks


def register(source: torch.Tensor, reference: torch.Tensor) -> Registration | None:
    """Reference colours at the source frame's pixels where the two see the same point, or None
    when no plausible registration exists. A homography (checked: check_homography) is refined
    by DIS flow for parallax; a pixel counts when the flow agrees both ways, the image is calm
    there (an edge a pixel off would mislead) and the local structure of the two agrees."""
    import cv2

    a, b = _equalised(source), _equalised(reference)
    matrix, checks = check_homography(a, b)
    if matrix is None:
        return None
    h, w = a.shape
    grid = pixel_grid(h, w).numpy().reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(grid, matrix).reshape(h, w, 2)
    coarse = torch.from_numpy(mapped) - pixel_grid(h, w)  # a flow from source to reference coordinates
    b_warped = warp(torch.from_numpy(b).float()[None], coarse)[0].clamp(0, 255).to(torch.uint8).numpy()
    engine = _dis("medium")
    residual_fwd = torch.from_numpy(engine.calc(a, b_warped, None))
    residual_bwd = torch.from_numpy(engine.calc(b_warped, a, None))
    consistent = fb_error(residual_fwd, residual_bwd) <= 1.0
    total = residual_fwd + warp(coarse.permute(2, 0, 1), residual_fwd).permute(1, 2, 0)
    pos = pixel_grid(h, w) + total
    inside = (pos[..., 0] >= 0) & (pos[..., 0] <= w - 1) & (pos[..., 1] >= 0) & (pos[..., 1] <= h - 1)
    warped = warp(reference.permute(2, 0, 1), total).permute(1, 2, 0)
    grey_warped = warp(torch.from_numpy(b).float()[None], total)[0].clamp(0, 255).numpy().astype(np.uint8)
    correlation = torch.from_numpy(_local_correlation(a, grey_warped))
    agrees = correlation >= MIN_AGREEMENT
    gx = cv2.Sobel(a.astype(np.float32) / 255, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(a.astype(np.float32) / 255, cv2.CV_32F, 0, 1, ksize=3)
    calm = torch.from_numpy(np.hypot(gx, gy) < np.quantile(np.hypot(gx, gy), 0.7))
    seen = inside & consistent
    checks["agreement"] = round(float(agrees[seen].float().mean()) if seen.any() else 0.0, 3)
    if checks["agreement"] < MIN_AGREEING_FRACTION:
        return None
    return Registration(warped, seen & agrees & calm, checks)


@dataclass
class Pairs:
    source: torch.Tensor  # [N, 3]
    target: torch.Tensor  # [N, 3]
    overlap: float  # mean fraction of a keyframe that registered
    held_out: torch.Tensor | None = None  # [N] bool: pixels kept out of the fit to check it
    checks: list = field(default_factory=list)
    blocks: torch.Tensor | None = None  # [N] long: which block of which frame each pair is in

    def part(self, held: bool) -> "Pairs":
        keep = self.held_out if held else ~self.held_out
        return Pairs(self.source[keep], self.target[keep], self.overlap, blocks=self.blocks[keep])


def block_ids(h: int, w: int, block: int = BLOCK) -> torch.Tensor:
    """[H, W] long: the index of the block each pixel is in."""
    return (torch.arange(h)[:, None] // block) * (w // block + 1) + torch.arange(w)[None, :] // block


def held_out_blocks(h: int, w: int, block: int = BLOCK) -> torch.Tensor:
    """[H, W] bool: one block in four, spread over the frame, kept out of a fit to check it on.
    Whole blocks, so a held-out pixel's neighbours (nearly the same colour) are not fitted."""
    ys = torch.arange(h)[:, None] // block
    xs = torch.arange(w)[None, :] // block
    return (ys + 2 * xs) % 4 == 0


def correspondences(clip: torch.Tensor, reference: torch.Tensor, params: ColourParams,
                    rng: np.random.Generator) -> Pairs:
    keys = np.unique(np.linspace(0, len(clip) - 1, params.keyframes).round().astype(int))
    refs = np.unique(np.linspace(0, len(reference) - 1, max(params.keyframes, 4)).round().astype(int))
    h, w = clip.shape[1:3]
    held_map, block_map = held_out_blocks(h, w), block_ids(h, w)
    sources, targets, held, blocks, overlaps, checks = [], [], [], [], [], []
    for k in keys:
        best = None
        for r in refs:
            got = register(clip[k], reference[r])
            if got is not None and (best is None or got.valid.sum() > best.valid.sum()):
                best = got
        if best is None:
            overlaps.append(0.0)
            continue
        overlaps.append(float(best.valid.float().mean()))
        checks.append({"frame": int(k), **best.checks})
        sources.append(clip[k][best.valid])
        targets.append(best.warped[best.valid])
        held.append(held_map[best.valid])
        blocks.append(block_map[best.valid] + int(k) * (int(block_map.max()) + 1))
    if not sources:
        return Pairs(torch.zeros((0, 3)), torch.zeros((0, 3)), 0.0, torch.zeros(0, dtype=torch.bool))
    source, target, held_out, block = torch.cat(sources), torch.cat(targets), torch.cat(held), torch.cat(blocks)
    if len(source) > params.samples:
        pick = torch.from_numpy(rng.choice(len(source), params.samples, replace=False))
        source, target, held_out, block = source[pick], target[pick], held_out[pick], block[pick]
    return Pairs(source, target, float(np.mean(overlaps)), held_out, checks, block)


def _samples(frames: torch.Tensor, count: int, rng: np.random.Generator) -> torch.Tensor:
    flat = frames.reshape(-1, 3)
    return flat[torch.from_numpy(rng.choice(len(flat), min(count, len(flat)), replace=False))]



# --- matching by statistics ----------------------------------------------------------------------

BANDS = (0.0, 0.5, 1.0)  # shadows, mids, highlights, as ranks of lightness
BAND_WIDTH = 0.25  # of the Gaussian membership in rank: bands overlap, so nothing steps
LIGHTNESS_QUANTILES = np.linspace(0.05, 0.95, 10)


class RegionalStatistics:
    """What colourists match between shots when nothing lines up, in CIELAB: lightness by a
    smooth monotone curve through a few quantiles (so tones keep their order and nothing bands),
    and the colour (a*, b*) mean and spread separately in the shadows, mids and highlights, each
    pixel weighted by how much it belongs to each. Few numbers, so different content in the two
    shots moves them little."""

    def __init__(self, source: torch.Tensor, target: torch.Tensor):
        from skimage.color import rgb2lab

        src = rgb2lab(source.clamp(0, 1).reshape(1, -1, 3).numpy().astype(np.float64))[0]
        dst = rgb2lab(target.clamp(0, 1).reshape(1, -1, 3).numpy().astype(np.float64))[0]
        self.src_l = np.maximum.accumulate(np.quantile(src[:, 0], LIGHTNESS_QUANTILES))
        self.dst_l = np.maximum.accumulate(np.quantile(dst[:, 0], LIGHTNESS_QUANTILES))
        self.src_l = self.src_l + np.arange(len(self.src_l)) * 1e-6  # strictly rising, for interp
        self.stats = []
        src_w, dst_w = self._weights(src[:, 0], self.src_l), self._weights(dst[:, 0], self.dst_l)
        for k in range(len(BANDS)):
            mean_s, std_s = self._moments(src[:, 1:], src_w[:, k])
            mean_t, std_t = self._moments(dst[:, 1:], dst_w[:, k])
            self.stats.append((mean_s, mean_t, np.clip(std_t / np.maximum(std_s, 1e-3), 0.5, 2.0)))

    @staticmethod
    def _weights(lightness: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
        rank = np.interp(lightness, quantiles, LIGHTNESS_QUANTILES)
        weights = np.exp(-((rank[:, None] - np.array(BANDS)[None]) ** 2) / (2 * BAND_WIDTH ** 2))
        return weights / weights.sum(1, keepdims=True)

    @staticmethod
    def _moments(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = max(weights.sum(), 1e-9)
        mean = (values * weights[:, None]).sum(0) / total
        std = np.sqrt((((values - mean) ** 2) * weights[:, None]).sum(0) / total)
        return mean, std

    def lightness(self, values: np.ndarray) -> np.ndarray:
        """The curve through the quantile pairs, continued beyond them with the end slopes."""
        out = np.interp(values, self.src_l, self.dst_l)
        for end, inner in ((0, 1), (-1, -2)):
            slope = (self.dst_l[end] - self.dst_l[inner]) / max(self.src_l[end] - self.src_l[inner], 1e-6)
            slope = float(np.clip(slope, 0.25, 4.0))
            beyond = values < self.src_l[0] if end == 0 else values > self.src_l[-1]
            out[beyond] = self.dst_l[end] + slope * (values[beyond] - self.src_l[end])
        return out

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from skimage.color import lab2rgb, rgb2lab

        lab = rgb2lab(np.clip(rgb, 0, 1).reshape(1, -1, 3).astype(np.float64))[0]
        weights = self._weights(lab[:, 0], self.src_l)
        out = np.empty_like(lab)
        out[:, 0] = self.lightness(lab[:, 0])
        out[:, 1:] = sum(weights[:, k:k + 1] * ((lab[:, 1:] - mean_s) * scale + mean_t)
                         for k, (mean_s, mean_t, scale) in enumerate(self.stats))
        out[:, 0] = np.clip(out[:, 0], 0, 100)
        return np.clip(lab2rgb(out[None])[0], 0, 1).reshape(np.shape(rgb))


def mkl_affine(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pitie & Kokaram 2007, the Monge-Kantorovich linear transfer: (matrix, offset) of the affine
    map in RGB, rgb @ matrix.T + offset, that carries the source colours' mean and covariance onto
    the target's with the least displacement."""
    src, dst = source.reshape(-1, 3).astype(np.float64), target.reshape(-1, 3).astype(np.float64)
    a, b = np.cov(src.T) + 1e-8 * np.eye(3), np.cov(dst.T) + 1e-8 * np.eye(3)

    def sqrtm(m):
        values, vectors = np.linalg.eigh(m)
        return vectors @ np.diag(np.sqrt(np.maximum(values, 0))) @ vectors.T

    a_half = sqrtm(a)
    a_half_inv = np.linalg.inv(a_half)
    matrix = a_half_inv @ sqrtm(a_half @ b @ a_half) @ a_half_inv
    return matrix, dst.mean(0) - src.mean(0) @ matrix.T


class StatisticsMatch:
    """The match when nothing lines up: the MKL transfer (mean and covariance in RGB, which undoes
    per-channel lift, gain and mixing), then the regional CIELAB statistics on what it left."""

    def __init__(self, source: torch.Tensor, target: torch.Tensor):
        self.matrix, self.offset = mkl_affine(source.numpy(), target.numpy())
        self.regional = RegionalStatistics(torch.from_numpy(self.linear(source.numpy())), target)

    def linear(self, rgb: np.ndarray) -> np.ndarray:
        flat = rgb.reshape(-1, 3) @ self.matrix.T + self.offset
        return np.clip(flat, 0, 1).astype(np.float32).reshape(np.shape(rgb))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.regional(self.linear(rgb))

    def lut(self, size: int, start: torch.Tensor | None = None) -> torch.Tensor:
        """The same transfer as a table [3, B, G, R], each channel rising with its own input; after
        the table `start` (the editor's CDL) when given, since the transfer was fitted on its output."""
        grid = (start if start is not None else identity_lut(size)).permute(1, 2, 3, 0).reshape(-1, 3).numpy()
        table = torch.from_numpy(self(grid).astype(np.float32)).reshape(size, size, size, 3).permute(3, 0, 1, 2)
        table[0] = torch.cummax(table[0], dim=2).values
        table[1] = torch.cummax(table[1], dim=1).values
        table[2] = torch.cummax(table[2], dim=0).values
        return table.contiguous()


def fit_lut(params: ColourParams, pairs: Pairs, prior: torch.Tensor, device=None, progress=None) -> torch.Tensor:
    """Fit the table to pixel pairs, starting from prior (the statistics match) and staying smooth
    around it, so colours the pairs never show keep the statistics' answer."""
    device = device or torch.device("cpu")
    anchor = prior.to(device)
    lut = anchor.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([lut], params.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, params.iterations)
    target = pairs.target.to(device)
    lookup = interpolation_matrix(pairs.source, params.size).to(device)
    # smoothness is per cell and the data term per pixel: scale so the balance holds at any size
    smooth_weight = params.smoothness * (params.size / 33) ** 2
    for step in range(params.iterations):
        out = lookup(lut.reshape(3, -1).T)
        data = torch.sqrt((out - target) ** 2 + 1e-6).mean()  # Charbonnier: registration slips
        smooth, falling = lut_penalties(lut, anchor)  # the monotonicity term reads the table itself
        loss = data + smooth_weight * smooth + params.monotonicity * falling
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress and step % 25 == 0:
            progress(step / params.iterations)
    return lut.detach().cpu().clamp(0, 1)


class ColourModel:
    def __init__(self, lut: torch.Tensor, info: dict, estimate: Estimate | None = None):
        self.lut, self.info, self.estimate = lut, info, estimate

    def apply(self, index: int, frame: torch.Tensor, plate=None):
        return apply_lut(self.lut, frame), None

    def write(self, output_dir) -> dict:
        return {"cube": write_cube(Path(output_dir) / "match.cube", self.lut)}


def _lab_quantiles(rgb: torch.Tensor, count: int = 33) -> torch.Tensor:
    from skimage.color import rgb2lab

    lab = torch.from_numpy(rgb2lab(rgb.clamp(0, 1).reshape(1, -1, 3).numpy())[0])
    return torch.quantile(lab.float(), torch.linspace(0.02, 0.98, count), dim=0)


def statistics_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """How far two colour samples' distributions are apart: the mean CIEDE2000 between their
    L*, a*, b* quantiles taken together (a colour at the same rank in each)."""
    from skimage.color import deltaE_ciede2000

    qa, qb = _lab_quantiles(a), _lab_quantiles(b)
    return float(deltaE_ciede2000(qa.numpy()[None], qb.numpy()[None]).mean())


def _statistics_estimate(source: torch.Tensor, target: torch.Tensor, lut: torch.Tensor, notes: list[str]) -> Estimate:
    """Without aligned pixels the error is estimated from the distance left between the
    result's colour distribution and the reference's, scaled by the calibration."""
    estimate = Metric("estimated colour error (ΔE)",
                      STATISTICS_ERROR_SCALE * statistics_distance(apply_lut(lut, source), target),
                      # untouched, the distance is about the error itself: it is not scaled
                      statistics_distance(source, target), True,
                      "the difference left between the result's colours and the reference's, calibrated on real "
                      "footage; lower is closer")
    return Estimate(estimate, checked=False, review_above=COLOUR_REVIEW_DELTA_E, notes=notes)


def fit(clip, params: ColourParams, *, reference=None, device=None, rng=None, progress=None, seed: int = 0,
        **_) -> ColourModel:
    if reference is None:
        raise EmptyClipError("colour match needs a reference shot (reference=Clip or frames)")
    frames = clip.frames
    ref = reference.frames if hasattr(reference, "frames") else torch.as_tensor(reference)
    report = progress or (lambda *_: None)
    report(0.0, "registration")
    if ref.shape[1:3] != frames.shape[1:3]:  # registration works at the shot's size
        ref = F.interpolate(ref.permute(0, 3, 1, 2), size=frames.shape[1:3], mode="area").permute(0, 2, 3, 1)
    pairs, notes = None, []
    if params.mode != "statistics":
        pairs = correspondences(frames, ref, params, rng)
        if params.mode == "auto" and pairs.overlap < params.min_overlap:
            notes.append(f"no part of the reference could be aligned with the shot plausibly "
                         f"({100 * pairs.overlap:.0f}% of the frame, {100 * params.min_overlap:.0f}% needed), "
                         "so the match is by colour statistics")
            pairs = None
    if params.mode == "correspondence" and pairs is None:
        raise ParameterError("mode 'correspondence' asked for, but the shot and the reference do not overlap; "
                             "use mode 'auto' or 'statistics'")
    report(0.1, "fitting")
    # the statistics fit is the fallback, the prior of the pixel fit and the yardstick it must beat
    source, target = _samples(frames, params.samples // 3, rng), _samples(ref, params.samples // 3, rng)
    start = start_lut(params.start_cdl, params.size) if params.start_cdl is not None else None
    # With the editor's CDL the statistics match what is left after that grade, so the fallback
    # and the pixel fit's prior are the CDL-graded shot moved towards the reference.
    graded = apply_cdl(params.start_cdl, source) if params.start_cdl is not None else source
    statistics = StatisticsMatch(graded, target).lut(params.size, start)
    info = {"fitted_on": "colour statistics"}
    if params.start_cdl is not None:
        info["started_from"] = "the editor's CDL"
    if pairs is not None:
        info["registration"] = pairs.checks
        train, check = pairs.part(held=False), pairs.part(held=True)
        refined = fit_lut(params, train, statistics, device, progress=lambda f: report(0.1 + 0.8 * f, "fitting"))
        outputs = {"fit": apply_lut(refined, check.source), "statistics": apply_lut(statistics, check.source),
                   "source": check.source}
        errors = {name: delta_e_pairs(out, check.target) for name, out in outputs.items()}
        info["held_out_delta_e"] = {k: round(v, 3) for k, v in errors.items()}
        typical = {name: systematic_delta_e(out, check.target, check.blocks) for name, out in outputs.items()}
        if params.mode == "correspondence" or errors["fit"] < errors["statistics"]:
            info.update({"fitted_on": "corresponding pixels", "pairs": len(train.source),
                         "held_out_pairs": len(check.source), "overlap": round(pairs.overlap, 4)})
            estimate = Estimate(
                Metric("estimated colour error (ΔE)", typical["fit"], typical["source"], True,
                       "CIELAB difference from the reference where both shots show the same thing, on blocks kept "
                       "out of the fit, registration noise taken out; lower is closer"),
                checked=True, review_above=COLOUR_REVIEW_DELTA_E,
                extra=[Metric("matching colour statistics alone (ΔE)", typical["statistics"], None, True,
                              "what the fallback would leave on the same pixels")])
            report(1.0, "done")
            return ColourModel(refined, info, estimate)
        notes.append(f"the pixels aligned with the reference were matched no better than by colour statistics "
                     f"(ΔE2000 {errors['fit']:.2f} against {errors['statistics']:.2f} on held-out pixels), so the "
                     "alignment was not trusted")
    report(0.9, "checking")
    estimate = _statistics_estimate(source, target, statistics, notes)
    report(1.0, "done")
    return ColourModel(statistics, info, estimate)
