"""Mask tracking: a region drawn on one frame, or on a few keyframes, followed through a shot.

From every keyframe the mask is carried frame by frame both ways along the optical flow (DIS).
Each step:

1. the previous frame's mask is pulled onto this frame along this frame's flow back to it;
2. where the flow fails its forward-backward check (occlusion, disocclusion, a wrong match) the
   carried value is not trusted;
3. a band around the carried outline, and every untrusted pixel, is decided again by the frame's
   own appearance: each pixel's colour against the local colours of the sure object and the sure
   background around it (the line between them, as a compositor's key would);
4. a guided filter with the frame as guide snaps the outline to the image's edges, and the
   result is made binary again so the next step does not blur it further.

Between two keyframes each frame takes the mask carried from both, weighted by how near each
keyframe is; a keyframe itself is exactly what the supervisor drew (re-anchoring).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch

from .errors import MaskError
from .flow import fb_error, pair_flows, warp
from .matte import guided_filter, spread
from .params import Params

METHOD = "flow-carry+appearance"
VERSION = "1.0"


@dataclass
class TrackParams(Params):
    flow_preset: str = "medium"
    consistency: float = 1.0  # forward-backward disagreement tolerated, in Sundaram et al.'s units
    band: float = 0.012  # half-width of the band decided again by appearance, in frame widths
    appearance: float = 0.2  # weight of the appearance against the carried mask inside the band
    colour_scale: float = 0.04  # reach of the local object / background colours, in frame widths
    guided_radius: int = 2
    guided_eps: float = 1e-3

    def check(self):
        self.choice("flow_preset", ("ultrafast", "fast", "medium"))


def check_keyframes(keyframes: Mapping[int, torch.Tensor], frames: torch.Tensor) -> dict[int, torch.Tensor]:
    """{frame index: bool [H, W]} with every index inside the clip and every mask the frame's size."""
    t_count, h, w = frames.shape[:3]
    if not keyframes:
        raise MaskError("tracking needs the region drawn on at least one frame")
    out = {}
    for index, mask in sorted(keyframes.items()):
        index = int(index)
        if not 0 <= index < t_count:
            raise MaskError(f"keyframe {index} falls outside the clip's {t_count} frames")
        mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
        if mask.dtype.is_floating_point:
            mask = mask >= 0.5
        if tuple(mask.shape) != (h, w):
            raise MaskError(f"the mask drawn on frame {index} is {tuple(mask.shape)} but the frames are {h}x{w}")
        out[index] = mask.bool()
    return out


def _disk(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def appearance(frame: torch.Tensor, sure_object: torch.Tensor, sure_background: torch.Tensor,
               scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """How much each pixel looks like the object rather than the background around it:
    (score 0..1, confidence 0..1). The colour is placed on the line from the local background
    colour to the local object colour; where the two are alike the score says little."""
    rgb = frame.permute(2, 0, 1)
    fg = spread(rgb, sure_object.float(), scale)
    bg = spread(rgb, sure_background.float(), scale)
    axis = fg - bg
    length = (axis ** 2).sum(0)
    score = (((rgb - bg) * axis).sum(0) / length.clamp(min=1e-6)).clamp(0, 1)
    confidence = (length / (length + 0.01)).clamp(0, 1)  # colours 0.1 apart or more: trusted
    return score, confidence


def step(frame: torch.Tensor, carried: torch.Tensor, trusted: torch.Tensor, params: TrackParams) -> torch.Tensor:
    """One frame's mask from the mask carried onto it (soft [H, W]) and where the carrying can be
    trusted ([H, W] bool): bool [H, W]."""
    import cv2

    h, w = carried.shape
    hard = (carried >= 0.5).numpy().astype(np.uint8)
    radius = max(1, round(params.band * w))
    grown = torch.from_numpy(cv2.dilate(hard, _disk(radius)) > 0)
    shrunk = torch.from_numpy(cv2.erode(hard, _disk(radius)) > 0)
    near = torch.from_numpy(cv2.dilate(hard, _disk(3 * radius)) > 0)
    band = (grown & ~shrunk) | (near & ~trusted)  # never far from the object: no new blobs
    sure_object = shrunk & trusted
    sure_background = near & ~grown & trusted
    soft = carried.clone()
    if sure_object.any() and sure_background.any() and params.appearance > 0:
        score, confidence = appearance(frame, sure_object, sure_background, params.colour_scale * w)
        weight = params.appearance * confidence * band.float()
        weight = torch.where(trusted | ~band, weight, confidence)  # untrusted: appearance decides where it can
        soft = (1 - weight) * carried + weight * score
    if params.guided_radius:
        soft = guided_filter(frame.permute(2, 0, 1), soft, params.guided_radius, params.guided_eps)
    return soft >= 0.5


def _carry(frames: torch.Tensor, flows, start: int, mask: torch.Tensor, stop: int, direction: int,
           params: TrackParams, out: dict[int, torch.Tensor]) -> None:
    """Carry mask from frame start towards stop (exclusive) one frame at a time, into out."""
    fwd, bwd = flows
    current = mask
    t = start
    while t + direction != stop:
        nxt = t + direction
        # flow from the next frame back to this one, and its partner for the check
        back, there = (bwd[t], fwd[t]) if direction > 0 else (fwd[nxt], bwd[nxt])
        carried = warp(current.float()[None], back)[0]
        trusted = fb_error(back, there) <= params.consistency
        current = step(frames[nxt], carried, trusted, params)
        out[nxt] = current
        t = nxt


def track(frames: torch.Tensor, keyframes: Mapping[int, torch.Tensor], params: TrackParams | dict | None = None,
          flows=None, progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """A bool [T, H, W] matte track for frames [T, H, W, 3] from masks drawn on keyframes
    ({frame index: bool [H, W]}). flows: the clip's (fwd, bwd) when already computed."""
    if not isinstance(params, TrackParams):
        params = TrackParams.from_dict(params)
    keys = check_keyframes(keyframes, frames)
    t_count = len(frames)
    flows = flows if flows is not None else pair_flows(frames, params.flow_preset)
    order = sorted(keys)
    from_before: dict[int, torch.Tensor] = {}
    from_after: dict[int, torch.Tensor] = {}
    for i, key in enumerate(order):
        following = order[i + 1] if i + 1 < len(order) else t_count
        preceding = order[i - 1] if i > 0 else -1
        _carry(frames, flows, key, keys[key], following, 1, params, from_before)
        _carry(frames, flows, key, keys[key], preceding, -1, params, from_after)
        if progress:
            progress((i + 1) / len(order))
    out = torch.zeros((t_count, *frames.shape[1:3]), dtype=torch.bool)
    for t in range(t_count):
        if t in keys:
            out[t] = keys[t]
            continue
        before, after = from_before.get(t), from_after.get(t)
        if before is not None and after is not None:
            previous = max(k for k in order if k < t)
            following = min(k for k in order if k > t)
            weight = (following - t) / (following - previous)  # nearer keyframe weighs more
            out[t] = (weight * before.float() + (1 - weight) * after.float()) >= 0.5
        else:
            out[t] = before if before is not None else after
    return out


def flow_warp_only(frames: torch.Tensor, mask: torch.Tensor, flows=None, preset: str = "medium") -> torch.Tensor:
    """Baseline: the first frame's mask pulled along the flow frame after frame, nothing else."""
    fwd, bwd = flows if flows is not None else pair_flows(frames, preset)
    out = [mask.bool()]
    for t in range(len(frames) - 1):
        out.append(warp(out[-1].float()[None], bwd[t])[0] >= 0.5)
    return torch.stack(out)


def track_files(source_path, mask_path, drawn_at: int, start: int, count: int, output_dir,
                max_side: int = 1280, params: dict | None = None, progress=None) -> dict:
    """The worker's entry point: track the mask drawn on frame `drawn_at` of the shot (an image
    at any size) through frames start .. start+count-1 and write it as one grey PNG per frame
    (000000.png for frame `start`) at the working size the fix is fitted at. The drawn frame may
    lie outside the range: the shot is then followed from it to the range.

    Returns {"folder", "files", "sha256", "keyframes"}. sha256 is inference.card.tensor_hash of
    the matte as the fix reads it back from the folder: the mask_sha256 its model card records."""
    from .card import tensor_hash
    from .clip import read_clip, read_masks, write_frames

    first, last = min(start, drawn_at), max(start + count - 1, drawn_at)
    work = read_clip(source_path, first, last - first + 1, max_side)
    drawn = read_masks(mask_path, size=work.size)[0]
    matte = track(work.frames, {drawn_at - first: drawn}, params, progress=progress)
    wanted = matte[start - first:start - first + count]
    files = write_frames(output_dir, wanted.float(), grey=True)
    written = read_masks(output_dir, size=work.size, count=len(wanted))
    return {"folder": str(output_dir), "files": files, "sha256": tensor_hash(written),
            "keyframes": [drawn_at]}
