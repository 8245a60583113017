"""Real footage for judging removal and mask tracking: a clip with per-frame object masks.

Removing the clip's own objects has no ground truth, so holes are cut where the truth is
known (the clean frames are the truth) and kept mostly off the objects:

- a foreign moving mask: the clip's masks played backwards, mirrored and moved onto the
  background, so the hole moves with a motion and a shape the clip never had;
- a shifted copy of the clip's own masks, moved onto the background;
- a stationary rectangle of 1/16 of the frame, where the camera's motion alone uncovers what
  is behind it.

The object masks are also the ground truth for mask tracking (DAVIS J, mean IoU).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .synthetic import Case, _clip

# Next to the repository, never inside it: the footage is for evaluation only.
DEFAULT_FOOTAGE = Path(__file__).resolve().parents[1].parent / "shared" / "footage" / "schoolgirls"
HOLE_KINDS = ("foreign moving mask", "shifted own masks", "stationary rectangle")


def find_footage(folder=None) -> Path | None:
    """The footage folder given, or the default one when it is present (None otherwise)."""
    folder = Path(folder) if folder else DEFAULT_FOOTAGE
    return folder if (folder / "masks").is_dir() and _video(folder) is not None else None


def _video(folder: Path) -> Path | None:
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".mp4", ".mov", ".mkv", ".avi"})
    return videos[0] if videos else None


def load(folder, count: int | None = None, max_side: int | None = None, start: int = 0):
    """(frames [T, H, W, 3] float, object masks bool [T, H, W], name) of a footage folder."""
    from .clip import read_clip, read_masks

    folder = Path(folder)
    clip = read_clip(_video(folder), start, count, max_side)
    masks = read_masks(folder / "masks", size=clip.size, start=start, count=clip.T)
    if len(masks) < clip.T:
        raise ValueError(f"{folder} has {len(masks)} masks for {clip.T} frames")
    return clip.frames, masks[:clip.T], folder.name


def shift(masks: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Masks moved by (dy, dx) pixels; what leaves the frame is lost, nothing wraps round."""
    out = torch.zeros_like(masks)
    h, w = masks.shape[-2:]
    src_y, dst_y = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
    src_x, dst_x = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
    out[..., dst_y, dst_x] = masks[..., src_y, src_x]
    return out


def _on_background(hole: torch.Tensor, objects: torch.Tensor, overlap: float = 0.05) -> tuple[int, int]:
    """The shift that moves the hole onto the background (at most `overlap` of it on the
    objects over the clip, none of it off the frame) nearest the frame's centre: the middle of
    a frame is where removals usually are, and a hole pushed into a corner would test the
    frame's edge instead."""
    h, w = hole.shape[-2:]
    ys, xs = torch.nonzero(hole.any(0), as_tuple=True)
    top, bottom, left, right = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    # every shift's overlap at once: the correlation of hole and objects, summed over frames
    size = (2 * h, 2 * w)
    spectrum = (torch.fft.rfft2(objects.float(), size).mul(torch.fft.rfft2(hole.float(), size).conj())).sum(0)
    shared = torch.fft.irfft2(spectrum, size) / float(hole.sum())  # [dy mod 2h, dx mod 2w]
    dy = torch.arange(-top, h - bottom)
    dx = torch.arange(-left, w - right)
    on_objects = shared[dy % size[0]][:, dx % size[1]]
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    distance = (centre_y + dy[:, None] - (h - 1) / 2) ** 2 + (centre_x + dx[None] - (w - 1) / 2) ** 2
    score = torch.where(on_objects <= overlap, distance, distance.max() + 1e9 * on_objects)
    best = int(score.argmin())
    return int(dy[best // len(dx)]), int(dx[best % len(dx)])


def foreign_hole(objects: torch.Tensor) -> torch.Tensor:
    """The objects' masks played backwards, mirrored left-right and scaled to 60%, moved onto
    the background: a moving hole of a shape and motion the clip does not have."""
    import torch.nn.functional as F

    t, h, w = objects.shape
    other = objects.flip(0).flip(2).float()[:, None]
    small = F.interpolate(other, scale_factor=0.6, mode="nearest")[:, 0] > 0.5
    placed = torch.zeros_like(objects)
    sh, sw = small.shape[1:]
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    placed[:, y0:y0 + sh, x0:x0 + sw] = small
    return shift(placed, *_on_background(placed, objects))


def shifted_hole(objects: torch.Tensor) -> torch.Tensor:
    """A copy of the objects' own masks moved onto the background."""
    return shift(objects, *_on_background(objects, objects))


def rectangle_hole(objects: torch.Tensor) -> torch.Tensor:
    """A still rectangle a quarter of the frame wide and high (1/16 of its area) on the
    background."""
    t, h, w = objects.shape
    rect = torch.zeros_like(objects)
    rh, rw = h // 4, w // 4
    rect[:, (h - rh) // 2:(h - rh) // 2 + rh, (w - rw) // 2:(w - rw) // 2 + rw] = True
    return shift(rect, *_on_background(rect, objects))


HOLES = {"foreign moving mask": foreign_hole, "shifted own masks": shifted_hole,
         "stationary rectangle": rectangle_hole}


def removal_cases(frames: torch.Tensor, objects: torch.Tensor, name: str,
                  kinds=HOLE_KINDS) -> list[Case]:
    """One removal case per hole kind: the clean clip with the hole painted grey, the clean clip
    as the truth."""
    cases = []
    for kind in kinds:
        hole = HOLES[kind](objects)
        damaged = frames.clone()
        damaged[hole] = 0.5
        cases.append(Case(f"real {name}: {kind}", "removal", _clip(damaged.numpy()), frames, frames, mask=hole))
    return cases


def iou(predicted: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """Per-frame intersection over union (DAVIS J); a frame where both are empty counts 1."""
    p, t = predicted.bool().flatten(1), truth.bool().flatten(1)
    inter, union = (p & t).sum(1).float(), (p | t).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones(())).numpy()
