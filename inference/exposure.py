"""Exposure, white balance, relight and deflicker: a tone curve for the shot and a smooth gain
field for every frame, fitted together.

    out_t(x) = exp(G_t(x)) * curve(in_t(x))

G_t is a small grid of log gains per channel (bilinearly stretched over the frame: a relight,
a white balance, an exposure change), curve a monotone piecewise-linear curve per channel.
With field "per_shot" one G serves every frame (a light that is wrong for the whole take). With
a region (a supervisor's mask: the face in shade, the side a lamp flickers on) the change is
blended in through a feathered weight map, w * out + (1 - w) * in, so nothing outside it moves.
They are fitted by gradient descent on sampled pixels to:

- target "reference": a reference frame, through pixels registered to it (the checked
  registration of colour match), for every frame that sees what the reference sees; a quarter
  of them (blocks spread over the frame) is kept out of the fit, and the error left there
  against the source's is the model's own estimate for the QC verdict;
- temporal consistency: each frame against the next at the same scene points (DIS flow on
  equalised luma, forward-backward checked), which is what removes flicker;
- target "median" (deflicker only): no absolute target, the curve stays the identity, and the
  gains' slow component is held at zero (their average over a few frames), so fast flicker is
  taken out while a deliberate slow change of light stays: the fix does not pump.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .colour import STATISTICS_ERROR_SCALE, block_ids, _equalised, held_out_blocks, register, statistics_distance
from .errors import EmptyClipError
from .flow import _dis, fb_error, pixel_grid
from .params import Params
from .qc import COLOUR_REVIEW_DELTA_E, Estimate, Metric, systematic_delta_e
from .sparse import SparseMap

METHOD = "gain-field+tone-curve"
VERSION = "1.0"


@dataclass
class ExposureParams(Params):
    target: str = "auto"  # "reference", "median" or "auto" (reference when one is given)
    grid: int = 4  # gain cells along the short side (the long side gets proportionally more)
    knots: int = 12  # tone curve points per channel
    iterations: int = 300
    learning_rate: float = 0.03
    samples: int = 4000  # pixels per frame
    spatial: float = 0.02  # smoothness of each gain field
    anchor: float = 5.0  # holds the slow part of the gains at zero when there is no reference
    anchor_frames: float = 3.0  # what counts as slow: Gaussian over this many frames
    temporal_weight: float = 1.0
    reference_every: int = 2  # register every n-th frame to the reference
    field: str = "per_frame"  # "per_shot": one gain field for the whole take (a light that is wrong throughout)
    feather: float = 0.04  # with a region: soft edge, as a fraction of the frame's short side

    def check(self):
        self.choice("target", ("auto", "reference", "median"))
        self.choice("field", ("per_frame", "per_shot"))


def _curve(values: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear curve per channel: values [..., 3] in 0..1, knots [3, K]."""
    k = knots.shape[1]
    x = values.clamp(0, 1) * (k - 1)
    lower = x.floor().clamp(max=k - 2).long()
    frac = x - lower
    flat_lower = lower.reshape(-1, 3).T
    lo = torch.gather(knots, 1, flat_lower).T.reshape(values.shape)
    hi = torch.gather(knots, 1, flat_lower + 1).T.reshape(values.shape)
    return lo + (hi - lo) * frac


class _FixedLookup:
    """Bilinear gain lookups and curve lookups for samples that never move during the fit:
    the indices and weights are worked out once, each step is a gather (cheap both ways)."""

    def __init__(self, frame: torch.Tensor, pos: torch.Tensor, value: torch.Tensor, size, grid, knots: int,
                 len_frames: int, region: torch.Tensor | None = None):
        h, w = size
        self.value = value
        self.weight = _sample_map(region, pos)[:, None] if region is not None else None
        gh, gw = grid
        gx = (pos[:, 0] / max(w - 1, 1)).clamp(0, 1) * (gw - 1)
        gy = (pos[:, 1] / max(h - 1, 1)).clamp(0, 1) * (gh - 1)
        x0 = gx.floor().clamp(max=max(gw - 2, 0)).long()
        y0 = gy.floor().clamp(max=max(gh - 2, 0)).long()
        fx, fy = gx - x0, gy - y0
        x1, y1 = (x0 + 1).clamp(max=gw - 1), (y0 + 1).clamp(max=gh - 1)
        cells = torch.stack([y0 * gw + x0, y0 * gw + x1, y1 * gw + x0, y1 * gw + x1], 1)  # [N, 4]
        weights = torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 1)
        n = len(pos)
        self.grid = SparseMap(torch.arange(n).repeat_interleave(4), (frame[:, None] * gh * gw + cells).reshape(-1),
                              weights.reshape(-1), (n, len_frames * gh * gw))
        x = value.clamp(0, 1) * (knots - 1)
        self.lower = x.floor().clamp(max=knots - 2).long()  # [N, 3]
        self.frac = x - self.lower

    def gains(self, gains: torch.Tensor) -> torch.Tensor:
        """Log gains [N, 3] from gains [T, 3, gh, gw]."""
        return self.grid(gains.permute(0, 2, 3, 1).reshape(-1, 3))

    def curve(self, knots: torch.Tensor) -> torch.Tensor:
        lo = torch.gather(knots, 1, self.lower.T).T
        hi = torch.gather(knots, 1, (self.lower + 1).T).T
        return lo + (hi - lo) * self.frac

    def output(self, gains: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
        out = torch.exp(self.gains(gains)) * self.curve(knots)
        return out if self.weight is None else self.value + self.weight * (out - self.value)


def _sample_map(image: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Values of a map [H, W] at positions [N, 2] (x, y), bilinear."""
    h, w = image.shape
    grid = torch.stack([pos[:, 0] / max(w - 1, 1) * 2 - 1, pos[:, 1] / max(h - 1, 1) * 2 - 1], -1)
    return F.grid_sample(image[None, None].float(), grid[None, None], mode="bilinear", padding_mode="border",
                         align_corners=True)[0, 0, 0]


def region_weights(mask, size, feather: float) -> torch.Tensor:
    """A supervisor's region (any frame of a mask [T, H, W] or one [H, W]) as a soft weight map
    [H, W] in 0..1: where the relight applies, fading out over `feather` of the short side so no
    edge shows."""
    import cv2

    region = torch.as_tensor(mask)
    region = (region.reshape(-1, *region.shape[-2:]) > 0.5).any(0).float()
    if tuple(region.shape) != tuple(size):
        region = F.interpolate(region[None, None], size=size, mode="nearest")[0, 0]
    sigma = max(1.0, feather * min(size))
    grown = cv2.dilate(region.numpy(), np.ones((3, 3), np.uint8), iterations=int(round(sigma)))
    return torch.from_numpy(cv2.GaussianBlur(grown, (0, 0), sigma)).clamp(0, 1)


@dataclass
class _Samples:
    frame: torch.Tensor  # [N] long
    pos: torch.Tensor  # [N, 2]
    value: torch.Tensor  # [N, 3]


def _sample_frames(frames: torch.Tensor, frame_ids, positions) -> torch.Tensor:
    out = []
    for t, pos in zip(frame_ids, positions):
        h, w = frames.shape[1:3]
        grid = torch.stack([pos[:, 0] / max(w - 1, 1) * 2 - 1, pos[:, 1] / max(h - 1, 1) * 2 - 1], -1)
        out.append(F.grid_sample(frames[t].permute(2, 0, 1)[None], grid[None, None], mode="bilinear",
                                 padding_mode="border", align_corners=True)[0, :, 0].T)
    return torch.cat(out) if out else torch.zeros((0, 3))


def temporal_pairs(frames: torch.Tensor, samples: int, rng: np.random.Generator):
    """Scene points seen in frame t and t+1: (points in t, points in t+1), flow checked both ways."""
    engine = _dis("medium")
    grey = [_equalised(f) for f in frames]
    h, w = frames.shape[1:3]
    a_frames, a_pos, b_frames, b_pos = [], [], [], []
    for t in range(len(frames) - 1):
        fwd = torch.from_numpy(engine.calc(grey[t], grey[t + 1], None))
        bwd = torch.from_numpy(engine.calc(grey[t + 1], grey[t], None))
        ok = (fb_error(fwd, bwd) <= 1.0).reshape(-1)
        candidates = torch.nonzero(ok)[:, 0].numpy()
        if len(candidates) == 0:
            continue
        pick = torch.from_numpy(rng.choice(candidates, min(samples, len(candidates)), replace=False))
        p = pixel_grid(h, w).reshape(-1, 2)[pick]
        a_frames.append(torch.full((len(pick),), t))
        a_pos.append(p)
        b_frames.append(torch.full((len(pick),), t + 1))
        b_pos.append(p + fwd.reshape(-1, 2)[pick])
    if not a_pos:
        return None
    a = _Samples(torch.cat(a_frames), torch.cat(a_pos), _sample_frames(frames, [int(f[0]) for f in a_frames], a_pos))
    b = _Samples(torch.cat(b_frames), torch.cat(b_pos), _sample_frames(frames, [int(f[0]) for f in b_frames], b_pos))
    return a, b


def reference_pairs(frames: torch.Tensor, reference: torch.Tensor, params: ExposureParams,
                    rng: np.random.Generator):
    """Pixels of the shot matched to the reference frame, as (points of the shot, reference
    colours): one set to fit on and one from blocks kept out of the fit to check it. None when
    no frame registers plausibly."""
    h, w = frames.shape[1:3]
    held_map = held_out_blocks(h, w)
    found = {False: ([], [], []), True: ([], [], [])}
    for t in range(0, len(frames), max(1, params.reference_every)):
        got = register(frames[t], reference)
        if got is None:
            continue
        for held, (ids, positions, targets) in found.items():
            where = torch.nonzero((got.valid & (held_map if held else ~held_map)).reshape(-1))[:, 0].numpy()
            if len(where) < 50:
                continue
            pick = torch.from_numpy(rng.choice(where, min(params.samples, len(where)), replace=False))
            ids.append(torch.full((len(pick),), t))
            positions.append(pixel_grid(h, w).reshape(-1, 2)[pick])
            targets.append(got.warped.reshape(-1, 3)[pick])
    if not found[False][0] or not found[True][0]:
        return None
    out = []
    for held in (False, True):
        ids, positions, targets = found[held]
        values = _sample_frames(frames, [int(i[0]) for i in ids], positions)
        out.append((_Samples(torch.cat(ids), torch.cat(positions), values), torch.cat(targets)))
    return out


def _identity_knots(k: int) -> torch.Tensor:
    return torch.linspace(0, 1, k).repeat(3, 1)


class ExposureModel:
    def __init__(self, gains: torch.Tensor, knots: torch.Tensor, info: dict, estimate: Estimate | None = None,
                 region: torch.Tensor | None = None):
        self.gains, self.knots, self.info, self.estimate, self.region = gains, knots, info, estimate, region

    def gain_field(self, index: int, size) -> torch.Tensor:
        return F.interpolate(self.gains[index][None], size=size, mode="bilinear", align_corners=True)[0]

    def apply(self, index: int, frame: torch.Tensor, plate=None):
        field = torch.exp(self.gain_field(index, frame.shape[:2])).permute(1, 2, 0)
        out = field * _curve(frame, self.knots)
        if self.region is not None:
            weight = F.interpolate(self.region[None, None], size=frame.shape[:2], mode="bilinear",
                                   align_corners=True)[0, 0, ..., None]
            out = frame + weight * (out - frame)
        return out.clamp(0, 1), None


def _gaussian_time(values: torch.Tensor, sigma: float) -> torch.Tensor:
    """Smooth [T, ...] along time with a Gaussian (edges: reflected)."""
    if sigma <= 0 or len(values) < 2:
        return values
    radius = max(1, int(round(2.5 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=values.dtype)
    kernel = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    flat = values.reshape(len(values), -1).T[:, None]  # [C, 1, T]
    padded = F.pad(flat, (radius, radius), mode="replicate")
    return F.conv1d(padded, kernel.view(1, 1, -1))[:, 0].T.reshape(values.shape)


def fit(clip, params: ExposureParams, *, reference=None, mask=None, device=None, rng=None, progress=None,
        **_) -> ExposureModel:
    frames = clip.frames
    t_count, h, w = frames.shape[:3]
    target = params.target
    if target == "auto":
        target = "reference" if reference is not None else "median"
    if target == "reference" and reference is None:
        raise EmptyClipError("exposure with target 'reference' needs a reference frame (reference=Clip or frame)")
    report = progress or (lambda *_: None)
    report(0.0, "matching")
    gh = max(1, params.grid)
    gw = max(1, round(gh * w / h)) if w >= h else gh
    if h > w:
        gh, gw = max(1, round(gw * h / w)), gw
    # per shot: one field for every frame (its gradient gathers from all of them)
    free = torch.zeros((1 if params.field == "per_shot" else t_count, 3, gh, gw), requires_grad=True)
    region = region_weights(mask, (h, w), params.feather) if mask is not None else None
    k = max(2, params.knots)
    knots_raw = _identity_knots(k).clone().requires_grad_(target == "reference")
    pairs = temporal_pairs(frames, params.samples, rng) if t_count > 1 else None
    ref_pairs = held_pairs = None
    if target == "reference":
        ref = reference.frames if hasattr(reference, "frames") else torch.as_tensor(reference)
        ref = ref[len(ref) // 2] if ref.ndim == 4 else ref
        if ref.shape[:2] != (h, w):
            ref = F.interpolate(ref.permute(2, 0, 1)[None], size=(h, w), mode="area")[0].permute(1, 2, 0)
        registered = reference_pairs(frames, ref, params, rng)
        if registered is not None:
            ref_pairs, held_pairs = registered
        else:  # nothing registers: match the reference's colour distribution per channel
            ref_pairs = _statistics_pairs(frames, ref, params, rng)
    report(0.2, "fitting")
    variables = [free] + ([knots_raw] if knots_raw.requires_grad else [])
    optimiser = torch.optim.Adam(variables, params.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, params.iterations)
    lookup = lambda s: _FixedLookup(s.frame, s.pos, s.value, (h, w), (gh, gw), k, t_count, region)  # noqa: E731
    temporal = (lookup(pairs[0]), lookup(pairs[1])) if pairs is not None else None
    anchored = (lookup(ref_pairs[0]), ref_pairs[1]) if ref_pairs is not None else None
    for step in range(params.iterations):
        knots = knots_raw
        gains = free.expand(t_count, -1, -1, -1)
        loss = torch.zeros(())
        if temporal is not None:
            out_a, out_b = temporal[0].output(gains, knots), temporal[1].output(gains, knots)
            loss = loss + params.temporal_weight * torch.sqrt((out_a - out_b) ** 2 + 1e-6).mean()
        if anchored is not None:
            out = anchored[0].output(gains, knots)
            loss = loss + torch.sqrt((out - anchored[1]) ** 2 + 1e-6).mean()
        else:
            slow = _gaussian_time(gains, params.anchor_frames)
            loss = loss + params.anchor * (slow ** 2).mean()
        spatial = (gains.diff(dim=2) ** 2).mean() if gh > 1 else torch.zeros(())
        spatial = spatial + ((gains.diff(dim=3) ** 2).mean() if gw > 1 else 0)
        loss = loss + params.spatial * spatial
        if knots_raw.requires_grad:
            loss = loss + 10.0 * F.relu(-knots_raw.diff(dim=1)).mean()  # monotone
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 25 == 0:
            report(0.2 + 0.8 * step / params.iterations, "fitting")
    report(1.0, "done")
    knots = knots_raw.detach()
    knots = torch.cummax(knots, dim=1).values  # exactly monotone whatever the optimiser left
    gains = free.detach().expand(t_count, -1, -1, -1).contiguous()
    info = {"target": target, "grid": [gh, gw], "field": params.field,
            "region": round(float(region.mean()), 4) if region is not None else None,
            "reference_pixels": int(len(ref_pairs[1])) if ref_pairs is not None else 0,
            "temporal_pixels": int(len(pairs[0].frame)) if pairs is not None else 0}
    estimate = None
    if target == "reference":
        info["fitted_on"] = "registered pixels" if held_pairs is not None else "colour statistics"
        estimate = _estimate(gains, knots, held_pairs, frames, ref, (h, w), (gh, gw), k, region)
    return ExposureModel(gains, knots, info, estimate, region)


def _estimate(gains, knots, held_pairs, frames, ref, size, grid, k, region) -> Estimate:
    """The error against the reference on registered pixels kept out of the fit; without any,
    the distance left between the middle frame's colours and the reference's."""
    if held_pairs is not None:
        samples, target = held_pairs
        lookup = _FixedLookup(samples.frame, samples.pos, samples.value, size, grid, k, len(frames), region)
        out = lookup.output(gains, knots)
        ids = block_ids(*size)
        blocks = ids[samples.pos[:, 1].long(), samples.pos[:, 0].long()] + samples.frame * (int(ids.max()) + 1)
        return Estimate(Metric("estimated colour error (ΔE)", systematic_delta_e(out, target, blocks),
                               systematic_delta_e(samples.value, target, blocks), True,
                               "CIELAB difference from the reference where both show the same thing, on blocks kept "
                               "out of the fit, registration noise taken out; lower is closer"),
                        checked=True, review_above=COLOUR_REVIEW_DELTA_E)
    middle = len(frames) // 2
    model = ExposureModel(gains, knots, {}, region=region)
    out = model.apply(middle, frames[middle])[0]
    pick = slice(None, None, 7)
    return Estimate(Metric("estimated colour error (ΔE)",
                           STATISTICS_ERROR_SCALE * statistics_distance(out.reshape(-1, 3)[pick], ref.reshape(-1, 3)[pick]),
                           statistics_distance(frames[middle].reshape(-1, 3)[pick], ref.reshape(-1, 3)[pick]), True,
                           "the difference left between the result's colours and the reference's, calibrated on real "
                           "footage; lower is closer"),
                    checked=False, review_above=COLOUR_REVIEW_DELTA_E,
                    notes=["no frame of the shot could be aligned with the reference plausibly, so the levels were "
                           "matched by colour statistics"])


def _statistics_pairs(frames, ref, params, rng):
    """Quantile pairs per channel between the shot's middle frame and the reference: a tone
    curve target when the two cannot be registered."""
    middle = frames[len(frames) // 2]
    q = torch.linspace(0.01, 0.99, 64)
    src = torch.quantile(middle.reshape(-1, 3)[::7], q, dim=0)
    dst = torch.quantile(ref.reshape(-1, 3)[::7], q, dim=0)
    h, w = frames.shape[1:3]
    pos = torch.tensor([[(w - 1) / 2, (h - 1) / 2]]).repeat(len(q), 1)
    return _Samples(torch.full((len(q),), len(frames) // 2), pos, src), dst
