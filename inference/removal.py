"""Object and rig removal: real background pixels carried in from other frames, then a
per-shot network, trained on this shot's own pixels only, for what no frame ever shows.

1. Flow between neighbouring frames both ways (DIS). Wherever the object is in either frame,
   grown by a band (the object's motion bleeds into the flow around it), the flow is replaced
   by the smooth membrane that meets the measured flow outside: the camera's motion, not the
   object's.
2. Every hole pixel is followed frame by frame forwards and backwards along that flow while the
   two directions agree (forward-backward check); the first frame each way where it lands
   outside that frame's hole gives a real colour. Both are blended, nearer frames weighing more.
3. The same pixels are also taken as the median of every frame that sees them once the camera's
   motion (homographies fitted to the flow) is taken out, and blended with the flow's colours.
4. The band's width and the blend are chosen on the shot itself: the hole's content is pasted,
   moving as it moves, over parts of the shot that are seen, and each setting fills those copies
   as it would the real hole; the setting that puts back the true pixels best is used.
5. What no frame shows (the "gap") is filled by Telea, then corrected by a small dilated
   residual CNN trained, for this shot alone, to fill gap-shaped holes cut into the visible
   pixels near the real one (internal learning: L1 loss, no pretrained weights). The fill is
   then smoothed along the flow with its neighbours' fill so it holds still from frame to frame.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .device import autocast, warm_cosine
from .errors import MaskError
from .flow import complete, fb_error, inside, pair_flows, sample, warp
from .params import Params
from .removal_qc import removal_estimate

METHOD = "flow-propagation+internal-cnn"
VERSION = "1.0"


@dataclass
class RemovalParams(Params):
    grow: int = 2  # pixels added around the given mask (soft edges, motion blur)
    flow_preset: str = "medium"
    flow_margin: float = 0.035  # band around the hole where measured flow is not trusted, in frame widths
    max_distance: int = 0  # frames a pixel may travel to find a real colour; 0: the whole clip
    candidates: int = 1  # real colours gathered each way and averaged (grain averages out)
    consistency: float = 2.0  # forward-backward disagreement a track may show, in Sundaram et al.'s units
    stabilised: bool = True  # also the median of frames aligned by the camera's motion, blended as the shot says
    self_tune: bool = True  # choose the flow margin and the blend on copies of the hole cut into the shot
    tune_side: int = 480  # ... working on a copy at most this many pixels across
    iterations: int = 300  # training steps of the per-shot network; 0: Telea alone fills the gap
    channels: int = 32
    crop: int = 48
    batch: int = 8
    learning_rate: float = 2e-3
    neighbourhood: float = 0.2  # how far from the real hole training holes are cut, in frame sizes
    gap_width: int = 32  # the network works at a scale where the gap is at most this wide
    smooth: bool = True  # smooth the synthesised fill along the flow

    def check(self):
        self.choice("flow_preset", ("ultrafast", "fast", "medium"))


def check_mask(mask, frames: torch.Tensor) -> torch.Tensor:
    """A bool [T, H, W] hole from [T, H, W] or one [H, W] for every frame, matching the clip."""
    if mask is None:
        raise MaskError("removal needs a mask: the pixels to remove, per frame or one for all frames")
    mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    if mask.dtype.is_floating_point:
        if not torch.isfinite(mask).all():
            raise MaskError("the mask has NaN or infinite values")
        mask = mask >= 0.5
    mask = mask.bool()
    t, h, w = frames.shape[:3]
    if mask.ndim == 2:
        mask = mask[None].expand(t, -1, -1)
    if mask.ndim != 3 or mask.shape[1:] != (h, w):
        raise MaskError(f"the mask is {tuple(mask.shape)} but the clip's frames are {h}x{w} (height x width)")
    if mask.shape[0] != t:
        raise MaskError(f"the mask has {mask.shape[0]} frames but the clip has {t}")
    if not mask.any():
        raise MaskError("the mask is empty: nothing to remove")
    if mask.flatten(1).all(1).any():
        raise MaskError("the mask covers a whole frame: nothing is left to fill it from")
    return mask.contiguous()


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Grow a bool [T, H, W] (or [H, W]) mask by a disk of the given radius."""
    import cv2

    if radius <= 0:
        return mask
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    frames = mask[None] if mask.ndim == 2 else mask
    out = np.stack([cv2.dilate(m.numpy().astype(np.uint8), disk) for m in frames]) > 0
    return torch.from_numpy(out[0] if mask.ndim == 2 else out)


# --- propagation ---------------------------------------------------------------------------------

@dataclass
class Motion:
    """Completed flows and where they can be trusted, for the whole clip."""

    fwd: torch.Tensor  # [T-1, H, W, 2]
    bwd: torch.Tensor
    fwd_ok: torch.Tensor  # [T-1, H, W] float: 1 where forward-backward consistent
    bwd_ok: torch.Tensor

    @classmethod
    def estimate(cls, frames: torch.Tensor, hole: torch.Tensor, params: RemovalParams, raw=None) -> "Motion":
        """raw: the measured (fwd, bwd) flows when already computed."""
        fwd, bwd = raw if raw is not None else pair_flows(frames, params.flow_preset)
        # The flow between two frames is polluted wherever the object is in either of them
        # (covered in one, uncovered in the other), so both directions are completed there.
        unsure = dilate(hole, max(2, round(params.flow_margin * max(frames.shape[1:3]))))
        unsure = unsure[:-1] | unsure[1:]
        fwd = torch.stack([complete(fwd[t], unsure[t]) for t in range(len(fwd))]) if len(fwd) else fwd
        bwd = torch.stack([complete(bwd[t], unsure[t]) for t in range(len(bwd))]) if len(bwd) else bwd
        limit = params.consistency
        fwd_ok = torch.stack([(fb_error(fwd[t], bwd[t]) <= limit).float() for t in range(len(fwd))]) if len(fwd) else fwd[..., 0]
        bwd_ok = torch.stack([(fb_error(bwd[t], fwd[t]) <= limit).float() for t in range(len(bwd))]) if len(bwd) else bwd[..., 0]
        return cls(fwd, bwd, fwd_ok, bwd_ok)

    def step(self, frame: int, direction: int):
        """Flow and trust map leading from frame to frame + direction."""
        if direction > 0:
            return self.fwd[frame], self.fwd_ok[frame]
        return self.bwd[frame - 1], self.bwd_ok[frame - 1]


def gather(frames_chw: torch.Tensor, usable: torch.Tensor, motion: Motion, frame: int, points: torch.Tensor,
           max_distance: int, per_side: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Follow points [N, 2] (x, y) of one frame along the flow both ways and take the colours of
    the first `per_side` frames each way where they land on usable pixels (usable: [T, H, W]
    float). Returns colours [N, 2 * per_side, 3] and weights [N, 2 * per_side]: 1 / distance in
    frames, 0 where nothing was found."""
    t_count, _, h, w = frames_chw.shape
    n = len(points)
    colours = torch.zeros((n, 2 * per_side, 3))
    distance = torch.zeros((n, 2 * per_side), dtype=torch.int64)
    limit = max_distance or t_count
    for first_slot, direction in ((0, 1), (per_side, -1)):
        pos = points.clone()
        alive = torch.arange(n)
        found = torch.zeros(n, dtype=torch.int64)
        current = frame
        while len(alive) and 0 <= current + direction < t_count and abs(current + direction - frame) <= limit:
            flow, ok = motion.step(current, direction)
            p = pos[alive]
            trusted = sample(ok[None], p, mode="nearest")[:, 0] > 0.5
            p = p + sample(flow.permute(2, 0, 1), p)
            current += direction
            keep = trusted & inside(p, h, w)
            alive, p = alive[keep], p[keep]
            pos[alive] = p
            # a landing spot counts only if all four pixels it is read from are usable
            good = sample(usable[current][None], p)[:, 0] > 0.999
            hit = alive[good]
            slot = first_slot + found[hit]
            colours[hit, slot] = sample(frames_chw[current], p[good])
            distance[hit, slot] = abs(current - frame)
            found[hit] += 1
            alive = alive[found[alive] < per_side]
    weight = torch.where(distance > 0, 1.0 / distance.clamp(min=1).float(), torch.zeros(()))
    return colours, weight


def telea(frame: np.ndarray, hole: np.ndarray, radius: int = 5) -> np.ndarray:
    """OpenCV's Telea inpainting of one float RGB frame, channel by channel at 16 bits (its
    float path misbehaves on 0..1 data)."""
    import cv2

    if not hole.any():
        return frame
    m = hole.astype(np.uint8)
    deep = np.round(np.clip(frame, 0, 1) * 65535).astype(np.uint16)
    out = np.stack([cv2.inpaint(np.ascontiguousarray(deep[..., c]), m, radius, cv2.INPAINT_TELEA)
                    for c in range(3)], -1)
    return out.astype(np.float32) / 65535.0


def propagate(frames: torch.Tensor, hole: torch.Tensor, motion: Motion, params: RemovalParams,
              progress=None, per_side: int | None = None, which: torch.Tensor | None = None):
    """Frames with every reachable hole pixel (or only those of `which`) replaced by real colours
    from other frames, and the gap [T, H, W] of those pixels no frame reached."""
    frames_chw = frames.permute(0, 3, 1, 2).contiguous()
    usable = (~hole).float()
    out = frames.clone()
    gap = torch.zeros_like(hole)
    which = hole if which is None else which
    for t in range(len(frames)):
        ys, xs = torch.nonzero(which[t], as_tuple=True)
        if len(ys):
            points = torch.stack([xs, ys], 1).float()
            colours, weight = gather(frames_chw, usable, motion, t, points, params.max_distance,
                                     per_side or params.candidates)
            total = weight.sum(1)
            found = total > 0
            blend = (colours * weight[..., None]).sum(1) / total.clamp(min=1e-8)[:, None]
            out[t, ys[found], xs[found]] = blend[found]
            gap[t, ys[~found], xs[~found]] = True
        if progress:
            progress((t + 1) / len(frames))
    return out, gap


def camera_homographies(motion: Motion, hole: torch.Tensor) -> list[np.ndarray]:
    """For each frame, the homography taking its pixels to frame 0's, chained from homographies
    fitted (RANSAC) to the flow between neighbours away from the hole: the camera's motion."""
    import cv2

    t_count, h, w = hole.shape
    ys, xs = np.mgrid[0:h:4, 0:w:4]
    to_first = [np.eye(3)]
    for t in range(t_count - 1):
        keep = ~hole[t].numpy()[ys, xs]
        src = np.stack([xs[keep], ys[keep]], -1).astype(np.float32)
        dst = src + motion.fwd[t].numpy()[ys[keep], xs[keep]]
        matrix = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)[0] if len(src) >= 8 else None
        step = matrix if matrix is not None else np.eye(3)  # frame t -> frame t+1
        to_first.append(to_first[-1] @ np.linalg.inv(step))
    return to_first


def stabilised_median(frames: torch.Tensor, usable: torch.Tensor, to_first: list[np.ndarray], frame: int,
                      points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The median colour of points [N, 2] of one frame over every other frame that sees them
    once the camera's motion is taken out: (colours [N, 3], found [N])."""
    t_count, h, w = usable.shape
    homogeneous = torch.cat([points, torch.ones(len(points), 1)], 1).double()
    samples = torch.full((t_count, len(points), 3), float("nan"))
    for other in range(t_count):
        if other == frame:
            continue
        matrix = torch.from_numpy(np.linalg.inv(to_first[other]) @ to_first[frame])
        mapped = homogeneous @ matrix.T
        pos = (mapped[:, :2] / mapped[:, 2:3]).float()
        ok = inside(pos, h, w) & (sample(usable[other][None], pos)[:, 0] > 0.999)
        samples[other, ok] = sample(frames[other].permute(2, 0, 1), pos[ok])
    colours = samples.nanmedian(dim=0).values
    found = torch.isfinite(colours).all(-1)
    return colours, found


def stabilised_all(frames: torch.Tensor, hole: torch.Tensor, motion: Motion, which: torch.Tensor | None = None):
    """The stabilised median at every pixel of `which` (default: the hole): (frames, found)."""
    to_first = camera_homographies(motion, hole)
    usable = (~hole).float()
    which = hole if which is None else which
    out, found = frames.clone(), torch.zeros_like(hole)
    for t in range(len(frames)):
        ys, xs = torch.nonzero(which[t], as_tuple=True)
        if len(ys):
            colours, ok = stabilised_median(frames, usable, to_first, t, torch.stack([xs, ys], 1).float())
            out[t, ys[ok], xs[ok]] = colours[ok]
            found[t, ys[ok], xs[ok]] = True
    return out, found


BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)
MARGINS = (0.035, 0.05, 0.07, 0.1)


def choose_settings(frames: torch.Tensor, hole: torch.Tensor, params: RemovalParams,
                    rng: np.random.Generator, trials: int = 2) -> tuple[float, float, dict]:
    """Two settings decided on this shot: how wide a band around the hole the flow is not
    trusted in (it depends on how far the object's motion bleeds into the flow), and how much
    to trust the flow against the stabilised median (flow wins where the scene has depth, the
    median where it is nearly flat). Copies of the hole are cut, moving as it moves, into parts
    of the shot that are seen; each setting fills them as it would the real hole; the one that
    puts back the true pixels best wins. Returns (margin, flow weight, the trial errors)."""
    t_count, h, w = hole.shape
    margins = sorted({params.flow_margin, *MARGINS})
    errors = np.zeros((len(margins), len(BLENDS)))
    # the classical tool and the source left alone on the same copies: what the QC compares against
    telea_error = source_error = 0.0
    counted = 0
    for _ in range(trials * 8):
        if counted >= trials:
            break
        dy, dx = int(rng.integers(-h // 3, h // 3 + 1)), int(rng.integers(-w // 3, w // 3 + 1))
        pretend = torch.roll(hole, (dy, dx), (1, 2)) & ~hole
        if pretend.sum() < hole.sum() // 2:
            continue
        union = hole | pretend
        # the object itself is copied along, so its motion bleeds into the flow as it really does
        pasted = torch.where(pretend[..., None], torch.roll(frames, (dy, dx), (1, 2)), frames)
        pasted_raw = pair_flows(pasted, params.flow_preset)
        fills, reached = [], pretend.clone()
        for margin in margins:
            motion = Motion.estimate(pasted, union, replace(params, flow_margin=margin), pasted_raw)
            by_flow, flow_gap = propagate(pasted, union, motion, params, which=pretend)
            fills.append(by_flow)
            reached &= ~flow_gap
        by_median, found = stabilised_all(pasted, union, motion, pretend)
        judged = reached & found
        if judged.sum() < 20:
            continue
        truth, median = frames[judged], by_median[judged]
        telea_error += float(((fill_telea(pasted, union)[judged] - truth) ** 2).mean())
        source_error += float(((pasted[judged] - truth) ** 2).mean())
        for i, fill in enumerate(fills):
            for j, b in enumerate(BLENDS):
                errors[i, j] += float(((b * fill[judged] + (1 - b) * median - truth) ** 2).mean())
        counted += 1
    if not counted:
        return params.flow_margin, 1.0, {}
    i, j = np.unravel_index(int(np.argmin(errors)), errors.shape)
    trial = {f"margin {m:g}": {f"flow {b:g}": round(e / counted, 7) for b, e in zip(BLENDS, row)}
             for m, row in zip(margins, errors)}
    trial["chosen"] = round(float(errors[i, j]) / counted, 7)
    trial["telea"] = round(telea_error / counted, 7)
    trial["source"] = round(source_error / counted, 7)
    return margins[i], BLENDS[j], trial


def blend_stabilised(frames, propagated, gap, hole, motion, weight: float):
    """Flow colours blended with the stabilised median (weight on the flow), and the median alone
    where the flow found nothing."""
    median, found = stabilised_all(frames, hole, motion)
    both = hole & ~gap & found
    out = propagated.clone()
    out[both] = weight * propagated[both] + (1 - weight) * median[both]
    only = gap & found
    out[only] = median[only]
    return out, gap & ~found


def fill_telea(frames: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
    out = frames.clone()
    for t in range(len(frames)):
        if gap[t].any():
            out[t] = torch.from_numpy(telea(frames[t].numpy(), gap[t].numpy()))
    return out


# --- the per-shot network ------------------------------------------------------------------------

class GapNet(nn.Module):
    """A small fully convolutional net with dilated residual blocks (receptive field about 70
    pixels): input the Telea-filled frame, the gap and the hole; output a correction to Telea.
    Its last layer starts at zero, so before any training it returns Telea's fill unchanged."""

    def __init__(self, channels: int = 32, dilations=(1, 2, 4, 8, 1)):
        super().__init__()
        self.inp = nn.Conv2d(5, channels, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.LeakyReLU(0.2),
                          nn.Conv2d(channels, channels, 3, padding=d, dilation=d))
            for d in dilations)
        self.out = nn.Conv2d(channels, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    reach = 2 * (1 + 2 * (1 + 2 + 4 + 8 + 1) + 1)  # pixels of context either side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.inp(x), 0.2)
        for block in self.blocks:
            h = F.leaky_relu(h + block(h), 0.2)
        return x[:, :3] + self.out(h)


def _net_input(image: np.ndarray, gap: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return np.concatenate([telea(image, gap), gap[..., None].astype(np.float32),
                           hole[..., None].astype(np.float32)], -1)


def _gap_scale(gap: torch.Tensor, params: RemovalParams) -> float:
    """The scale at which the widest gap is at most gap_width pixels across."""
    import cv2

    widest = max(float(cv2.distanceTransform(g.numpy().astype(np.uint8), cv2.DIST_L2, 3).max()) * 2
                 for g in gap if g.any())
    return min(1.0, params.gap_width / max(widest, 1.0))


def _resize(frames: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(frames.permute(0, 3, 1, 2), size=size, mode="area").permute(0, 2, 3, 1).contiguous()


def _resize_mask(mask: torch.Tensor, size) -> torch.Tensor:
    return F.adaptive_max_pool2d(mask.float()[:, None], size)[:, 0] > 0


def train_gap_net(base: torch.Tensor, hole: torch.Tensor, gap: torch.Tensor, params: RemovalParams,
                  device: torch.device, rng: np.random.Generator, progress=None) -> GapNet:
    """Internal learning: cut copies of the real gaps into visible pixels near the real hole,
    and learn to put those pixels back from their surroundings."""
    t_count, h, w = hole.shape
    crop = min(params.crop, h, w)
    gaps = [t for t in range(t_count) if gap[t].any()]
    reach_y, reach_x = max(1, int(params.neighbourhood * h)), max(1, int(params.neighbourhood * w))
    pool = []
    for _ in range(40 * len(gaps)):
        if len(pool) >= 48:
            break
        t = int(rng.integers(t_count))
        shape = gap[gaps[int(rng.integers(len(gaps)))]].numpy()
        dy, dx = int(rng.integers(-reach_y, reach_y + 1)), int(rng.integers(-reach_x, reach_x + 1))
        pretend = np.roll(shape, (dy, dx), (0, 1)) & ~hole[t].numpy()
        if pretend.sum() < max(8, shape.sum() // 3):
            continue
        image = base[t].numpy()
        pool.append((_net_input(image, pretend, hole[t].numpy()), image, pretend))
    net = GapNet(params.channels).to(device)
    if not pool:
        return net
    optimiser = torch.optim.Adam(net.parameters(), params.learning_rate)
    schedule = warm_cosine(optimiser, params.iterations)
    for step in range(params.iterations):
        inputs, targets, weights = [], [], []
        for _ in range(params.batch):
            x, image, pretend = pool[int(rng.integers(len(pool)))]
            ys, xs = np.nonzero(pretend)
            k = int(rng.integers(len(ys)))
            jitter = crop // 4
            y0 = int(np.clip(ys[k] - crop // 2 + rng.integers(-jitter, jitter + 1), 0, h - crop))
            x0 = int(np.clip(xs[k] - crop // 2 + rng.integers(-jitter, jitter + 1), 0, w - crop))
            inputs.append(x[y0:y0 + crop, x0:x0 + crop])
            targets.append(image[y0:y0 + crop, x0:x0 + crop])
            weights.append(pretend[y0:y0 + crop, x0:x0 + crop])
        x = torch.from_numpy(np.stack(inputs)).permute(0, 3, 1, 2).to(device)
        y = torch.from_numpy(np.stack(targets)).permute(0, 3, 1, 2).to(device)
        m = torch.from_numpy(np.stack(weights))[:, None].float().to(device)
        with autocast(device):
            out = net(x)
        loss = ((out.float() - y).abs() * m).sum() / (3 * m.sum()).clamp(min=1)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress and step % 10 == 0:
            progress(step / params.iterations)
    return net.eval()


@torch.no_grad()
def fill_gaps(base: torch.Tensor, hole: torch.Tensor, gap: torch.Tensor, net: GapNet,
              device: torch.device) -> torch.Tensor:
    """Run the net on a window around each frame's gap; returns frames with the gap filled."""
    out = base.clone()
    h, w = hole.shape[1:]
    for t in range(len(base)):
        if not gap[t].any():
            continue
        ys, xs = torch.nonzero(gap[t], as_tuple=True)
        pad = GapNet.reach
        y0, y1 = max(0, int(ys.min()) - pad), min(h, int(ys.max()) + pad + 1)
        x0, x1 = max(0, int(xs.min()) - pad), min(w, int(xs.max()) + pad + 1)
        window = _net_input(base[t, y0:y1, x0:x1].numpy(), gap[t, y0:y1, x0:x1].numpy(),
                            hole[t, y0:y1, x0:x1].numpy())
        x = torch.from_numpy(window).permute(2, 0, 1)[None].to(device)
        with autocast(device):
            y = net(x)
        filled = y.float()[0].permute(1, 2, 0).cpu().clamp(0, 1)
        region = gap[t, y0:y1, x0:x1]
        out[t, y0:y1, x0:x1][region] = filled[region]
    return out


def smooth_along_flow(frames: torch.Tensor, gap: torch.Tensor, motion: Motion) -> torch.Tensor:
    """Average each gap pixel with the fill its neighbours put at the same scene point
    (weights 1/4, 1/2, 1/4), so a synthesised fill does not boil from frame to frame."""
    out = frames.clone()
    t_count = len(frames)
    for t in range(t_count):
        if not gap[t].any():
            continue
        total = frames[t] * 0.5
        weight = torch.full(gap[t].shape, 0.5)
        for other, flow in ((t + 1, motion.fwd[t] if t + 1 < t_count else None),
                            (t - 1, motion.bwd[t - 1] if t >= 1 else None)):
            if flow is None:
                continue
            seen = warp(gap[other].float()[None], flow)[0] > 0.999
            moved = warp(frames[other].permute(2, 0, 1), flow).permute(1, 2, 0)
            total = total + 0.25 * moved * seen[..., None]
            weight = weight + 0.25 * seen
        smoothed = total / weight[..., None]
        out[t][gap[t]] = smoothed[gap[t]]
    return out


# --- the fix -------------------------------------------------------------------------------------

class RemovalModel:
    """The fitted removal: the filled frames at the working size. apply() returns them, or puts
    them, scaled up, into a larger frame's hole (the rest of that frame stays untouched)."""

    def __init__(self, filled: torch.Tensor, hole: torch.Tensor, info: dict, estimate=None):
        self.filled, self.hole, self.info = filled, hole, info
        self.estimate = estimate  # inference.qc.Estimate: the fill's error on copies of the hole

    def apply(self, index: int, frame: torch.Tensor, plate=None):
        if frame.shape[:2] == self.filled.shape[1:3]:
            out = frame.clone()
            out[self.hole[index]] = self.filled[index][self.hole[index]]
            return out, None
        size = frame.shape[:2]
        fill = F.interpolate(self.filled[index].permute(2, 0, 1)[None], size=size, mode="bilinear",
                             align_corners=False)[0].permute(1, 2, 0)
        hole = F.interpolate(self.hole[index].float()[None, None], size=size, mode="bilinear",
                             align_corners=False)[0, 0, ..., None]
        return frame * (1 - hole) + fill * hole, None


def fit(clip, params: RemovalParams, *, mask=None, device=None, rng=None, progress=None, **_) -> RemovalModel:
    frames = clip.frames
    given = check_mask(mask, frames)
    hole = dilate(given, params.grow)
    report = progress or (lambda *_: None)
    report(0.0, "flow")
    raw = pair_flows(frames, params.flow_preset)
    # pixels changed outside the given mask are on record: the grow band is part of the fix
    info = {"hole_pixels": int(hole.sum()), "grow_band_pixels": int((hole & ~given).sum())}
    weight = 1.0
    if params.self_tune:
        report(0.05, "choosing settings on the shot")
        # on a copy at most tune_side across: the settings are relative to the frame's size
        scale = min(1.0, params.tune_side / max(frames.shape[1:3]))
        size = (round(frames.shape[1] * scale), round(frames.shape[2] * scale))
        small = (frames, hole) if scale == 1.0 else (_resize(frames, size), _resize_mask(hole, size))
        margin, weight, trial = choose_settings(*small, params, rng)
        params = replace(params, flow_margin=margin)
        info.update(flow_margin=margin, flow_weight=weight, trials=trial)
    motion = Motion.estimate(frames, hole, params, raw)
    report(0.2, "propagation")
    propagated, gap = propagate(frames, hole, motion, params, lambda f: report(0.2 + 0.1 * f, "propagation"))
    info["unreached_by_flow"] = float(gap.sum()) / max(int(hole.sum()), 1)
    if params.stabilised:
        propagated, gap = blend_stabilised(frames, propagated, gap, hole, motion, weight)
    info["gap_fraction"] = float(gap.sum()) / max(int(hole.sum()), 1)
    filled = fill_telea(propagated, gap)
    if gap.any() and params.iterations:
        scale = _gap_scale(gap, params)
        size = (max(8, round(frames.shape[1] * scale)), max(8, round(frames.shape[2] * scale)))
        small = filled if scale == 1.0 else _resize(filled, size)
        small_hole = hole if scale == 1.0 else _resize_mask(hole, size)
        small_gap = gap if scale == 1.0 else _resize_mask(gap, size)
        report(0.4, "training")
        net = train_gap_net(small, small_hole, small_gap, params, device, rng,
                            lambda f: report(0.4 + 0.55 * f, "training"))
        fixed = fill_gaps(small, small_hole, small_gap, net, device)
        if scale != 1.0:  # bring back only the correction the net made to the Telea fill
            correction = F.interpolate((fixed - small).permute(0, 3, 1, 2), size=frames.shape[1:3],
                                       mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
            fixed = filled + correction
        filled = torch.where(gap[..., None], fixed.clamp(0, 1), filled)
        info["network_scale"] = scale
        info["network_parameters"] = sum(p.numel() for p in net.parameters())
    if params.smooth and gap.any():
        filled = smooth_along_flow(filled, gap, motion)
    report(1.0, "done")
    return RemovalModel(filled, hole, info, removal_estimate(info.get("trials")))


def propagation_only(frames: torch.Tensor, mask, params: dict | None = None) -> torch.Tensor:
    """Baseline: flow propagation alone (the nearest real colour each way along the flow, with
    the usual consistency threshold), Telea for what it does not reach."""
    p = RemovalParams.from_dict({"consistency": 1.0, **(params or {})})
    hole = dilate(check_mask(mask, frames), p.grow)
    propagated, gap = propagate(frames, hole, Motion.estimate(frames, hole, p), p, per_side=1)
    return fill_telea(propagated, gap)
