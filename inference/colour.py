"""Colour match to a reference shot with a 3D LUT fitted by gradient descent.

The LUT is a 33x33x33 table stored (channel, blue, green, red), so torch's grid_sample reads it
trilinearly with (red, green, blue) as (x, y, z) -- the layout that matched colour-science's
LUT3D.apply. It starts as the identity and is fitted to:

- corresponding pixels, where the two shots see the same things: a source keyframe and the
  reference frame that shares most features with it are registered by a homography (ORB on
  equalised luma, so a strong grade does not stop the match), then refined by DIS flow to follow
  parallax; pixels where the flow disagrees both ways or the image is busy (an edge a pixel off
  would mislead) are left out;
- colour statistics otherwise (sliced Wasserstein distance between the graded source and the
  reference colours), when too little overlaps;

with a smoothness term (squared differences between neighbouring cells, so cells no pixel
touches follow their neighbours) and a monotonicity term (each output channel may not fall as
its own input rises). The result is applied to every frame and written as a .cube file that
Resolve and Nuke read: LUT_3D_SIZE header, rows with red varying fastest.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import EmptyClipError, ParameterError
from .flow import _dis, fb_error, pixel_grid, warp
from .params import Params
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
    min_overlap: float = 0.15  # fraction of a keyframe that must register, else statistics
    keyframes: int = 4

    def check(self):
        self.choice("mode", ("auto", "correspondence", "statistics"))
        if not 2 <= self.size <= 129:
            raise ParameterError("parameter size must be between 2 and 129")


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

def _equalised(frame: torch.Tensor) -> np.ndarray:
    import cv2

    grey = (frame.clamp(0, 1) * torch.tensor([0.2126, 0.7152, 0.0722])).sum(-1)
    return cv2.equalizeHist((grey * 255 + 0.5).to(torch.uint8).numpy())


def _homography(a: np.ndarray, b: np.ndarray):
    """Homography mapping points of a to b from ORB matches, and its inlier count."""
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
        return None, 0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 8:
        return None, 0
    pa = np.float32([ka[m.queryIdx].pt for m in matches]) / scale
    pb = np.float32([kb[m.trainIdx].pt for m in matches]) / scale
    matrix, inliers = cv2.findHomography(pa, pb, cv2.RANSAC, max(1.0, 3.0 / scale))
    if matrix is None:
        return None, 0
    return matrix, int(inliers.sum())


def register(source: torch.Tensor, reference: torch.Tensor, min_inliers: int = 25):
    """Reference colours at the source frame's pixels where the two see the same point:
    (reference frame warped onto the source [H, W, 3], valid [H, W] bool) or None."""
    import cv2

    a, b = _equalised(source), _equalised(reference)
    matrix, inliers = _homography(a, b)
    if matrix is None or inliers < min_inliers:
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
    # busy pixels: a registration error of a pixel there changes the colour a lot
    gx = cv2.Sobel(a.astype(np.float32) / 255, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(a.astype(np.float32) / 255, cv2.CV_32F, 0, 1, ksize=3)
    calm = torch.from_numpy(np.hypot(gx, gy) < np.quantile(np.hypot(gx, gy), 0.7))
    return warped, inside & consistent & calm


@dataclass
class Pairs:
    source: torch.Tensor  # [N, 3]
    target: torch.Tensor  # [N, 3]
    overlap: float  # mean fraction of a keyframe that registered


def correspondences(clip: torch.Tensor, reference: torch.Tensor, params: ColourParams,
                    rng: np.random.Generator) -> Pairs:
    keys = np.unique(np.linspace(0, len(clip) - 1, params.keyframes).round().astype(int))
    refs = np.unique(np.linspace(0, len(reference) - 1, max(params.keyframes, 4)).round().astype(int))
    sources, targets, overlaps = [], [], []
    for k in keys:
        best = None
        for r in refs:
            got = register(clip[k], reference[r])
            if got is not None and (best is None or got[1].sum() > best[1].sum()):
                best = got
        if best is None:
            overlaps.append(0.0)
            continue
        warped, valid = best
        overlaps.append(float(valid.float().mean()))
        sources.append(clip[k][valid])
        targets.append(warped[valid])
    if not sources:
        return Pairs(torch.zeros((0, 3)), torch.zeros((0, 3)), 0.0)
    source, target = torch.cat(sources), torch.cat(targets)
    if len(source) > params.samples:
        pick = torch.from_numpy(rng.choice(len(source), params.samples, replace=False))
        source, target = source[pick], target[pick]
    return Pairs(source, target, float(np.mean(overlaps)))


def _samples(frames: torch.Tensor, count: int, rng: np.random.Generator) -> torch.Tensor:
    flat = frames.reshape(-1, 3)
    return flat[torch.from_numpy(rng.choice(len(flat), min(count, len(flat)), replace=False))]


class _SlicedWasserstein:
    """Distance between two colour samples along many fixed directions (the axes, the
    diagonals and random ones): sorted projections compared quantile by quantile. The target's
    sorted projections are computed once; each step uses a random subset of the directions."""

    def __init__(self, target: torch.Tensor, count: int, directions: int, seed: int, device=None):
        generator = torch.Generator().manual_seed(seed)
        fixed = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, -1, 0], [1, 1, -2]], dtype=torch.float32)
        extra = torch.randn(max(0, directions - len(fixed)), 3, generator=generator)
        d = torch.cat([fixed, extra])
        self.directions = d / d.norm(dim=1, keepdim=True)
        self.count = count
        projected, _ = torch.sort(self.directions @ target.T, dim=1)
        q = torch.linspace(0, len(target) - 1, count).round().long()
        self.target = projected[:, q].to(device)
        self.directions = self.directions.to(device)
        self.generator = generator

    def __call__(self, source: torch.Tensor, per_step: int = 16) -> torch.Tensor:
        pick = torch.randperm(len(self.directions), generator=self.generator)[:per_step].to(self.target.device)
        projected, _ = torch.sort(self.directions[pick] @ source.T, dim=1)
        q = torch.linspace(0, len(source) - 1, self.count, device=source.device).round().long()
        return ((projected[:, q] - self.target[pick]) ** 2).mean()


def fit_lut(params: ColourParams, pairs: Pairs | None = None, source: torch.Tensor | None = None,
            target: torch.Tensor | None = None, seed: int = 0, device=None, progress=None) -> torch.Tensor:
    """Fit the table to pixel pairs (pairs) or to two colour samples (source, target)."""
    device = device or torch.device("cpu")
    identity = identity_lut(params.size).to(device)
    lut = identity.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([lut], params.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, params.iterations)
    if pairs is not None:
        src, dst = pairs.source, pairs.target.to(device)
    else:
        src, dst = source, None
        distance = _SlicedWasserstein(target, min(len(source), len(target)), 64, seed, device)
    lookup = interpolation_matrix(src, params.size).to(device)
    # smoothness is per cell and the data term per pixel: scale so the balance holds at any size
    smooth_weight = params.smoothness * (params.size / 33) ** 2
    for step in range(params.iterations):
        out = lookup(lut.reshape(3, -1).T)
        if pairs is not None:
            data = torch.sqrt((out - dst) ** 2 + 1e-6).mean()  # Charbonnier: registration slips
        else:
            data = distance(out) * 10
        smooth, falling = lut_penalties(lut, identity)
        loss = data + smooth_weight * smooth + params.monotonicity * falling
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress and step % 25 == 0:
            progress(step / params.iterations)
    return lut.detach().cpu().clamp(0, 1)


class ColourModel:
    def __init__(self, lut: torch.Tensor, info: dict):
        self.lut, self.info = lut, info

    def apply(self, index: int, frame: torch.Tensor, plate=None):
        return apply_lut(self.lut, frame), None

    def write(self, output_dir) -> dict:
        return {"cube": write_cube(Path(output_dir) / "match.cube", self.lut)}


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
    pairs = None
    if params.mode != "statistics":
        pairs = correspondences(frames, ref, params, rng)
        if params.mode == "auto" and pairs.overlap < params.min_overlap:
            pairs = None
    if params.mode == "correspondence" and pairs is None:
        raise ParameterError("mode 'correspondence' asked for, but the shot and the reference do not overlap; "
                             "use mode 'auto' or 'statistics'")
    report(0.2, "fitting")
    stage = lambda f: report(0.2 + 0.8 * f, "fitting")  # noqa: E731
    if pairs is not None:
        lut = fit_lut(params, pairs=pairs, seed=seed, device=device, progress=stage)
        info = {"fitted_on": "corresponding pixels", "pairs": len(pairs.source), "overlap": round(pairs.overlap, 4)}
    else:
        lut = fit_lut(params, source=_samples(frames, params.samples // 8, rng),
                      target=_samples(ref, params.samples // 8, rng), seed=seed, device=device, progress=stage)
        info = {"fitted_on": "colour statistics"}
    report(1.0, "done")
    return ColourModel(lut, info)
