"""Optical flow (OpenCV's DIS), warping, forward-backward consistency and flow completion.

Conventions: positions are (x, y) in pixels; flow[t] maps frame t to frame t+1, so
frame_t(p) ~ frame_{t+1}(p + fwd[t](p)), and bwd[t] maps frame t+1 back to frame t.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


def gray_u8(frames: torch.Tensor) -> np.ndarray:
    """[T, H, W, 3] float -> [T, H, W] uint8 luma (Rec.709 weights)."""
    weights = torch.tensor([0.2126, 0.7152, 0.0722], dtype=frames.dtype)
    luma = (frames * weights).sum(-1).clamp(0, 1)
    return (luma * 255.0 + 0.5).to(torch.uint8).numpy()


def _dis(preset: str):
    import cv2

    if preset not in PRESETS:
        raise ValueError(f"flow preset {preset!r} is not one of {', '.join(PRESETS)}")
    return cv2.DISOpticalFlow_create(PRESETS[preset])


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "medium", engine=None) -> np.ndarray:
    """Flow from grey uint8 image a to b, [H, W, 2] float32: a(p) ~ b(p + flow(p))."""
    return (engine or _dis(preset)).calc(a, b, None)


def pair_flows(frames: torch.Tensor, preset: str = "medium") -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward flow between neighbouring frames: two [T-1, H, W, 2] tensors."""
    grey = gray_u8(frames)
    engine = _dis(preset)
    fwd = [dis_flow(grey[t], grey[t + 1], engine=engine) for t in range(len(grey) - 1)]
    bwd = [dis_flow(grey[t + 1], grey[t], engine=engine) for t in range(len(grey) - 1)]
    if not fwd:
        empty = torch.zeros((0, *grey.shape[1:], 2))
        return empty, empty.clone()
    return torch.from_numpy(np.stack(fwd)), torch.from_numpy(np.stack(bwd))


def sample(image: torch.Tensor, pos: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Values of image [C, H, W] at positions pos [N, 2] (x, y): [N, C]. Outside: border value."""
    _, h, w = image.shape
    grid = torch.empty_like(pos)
    grid[:, 0] = pos[:, 0] * (2.0 / max(w - 1, 1)) - 1.0
    grid[:, 1] = pos[:, 1] * (2.0 / max(h - 1, 1)) - 1.0
    out = F.grid_sample(image[None], grid[None, None], mode=mode, padding_mode="border", align_corners=True)
    return out[0, :, 0].T


def pixel_grid(h: int, w: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys], dim=-1)


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Backward warp: out(p) = image(p + flow(p)) for image [C, H, W], flow [H, W, 2]."""
    _, h, w = image.shape
    pos = pixel_grid(h, w) + flow
    grid = torch.stack([pos[..., 0] * (2.0 / max(w - 1, 1)) - 1.0, pos[..., 1] * (2.0 / max(h - 1, 1)) - 1.0], -1)
    return F.grid_sample(image[None], grid[None], mode=mode, padding_mode="border", align_corners=True)[0]


def inside(pos: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return (pos[..., 0] >= 0) & (pos[..., 0] <= w - 1) & (pos[..., 1] >= 0) & (pos[..., 1] <= h - 1)


def fb_error(fwd: torch.Tensor, bwd: torch.Tensor) -> torch.Tensor:
    """|fwd(p) + bwd(p + fwd(p))| relative to the usual tolerance (Sundaram et al. 2010):
    a value above 1 means the two flows disagree at p (occlusion or a wrong match)."""
    h, w = fwd.shape[:2]
    back = warp(bwd.permute(2, 0, 1), fwd).permute(1, 2, 0)
    mismatch = ((fwd + back) ** 2).sum(-1)
    tolerance = 0.01 * ((fwd ** 2).sum(-1) + (back ** 2).sum(-1)) + 0.5
    err = mismatch / tolerance
    err[~inside(pixel_grid(h, w) + fwd, h, w)] = float("inf")
    return err


def complete(flow: torch.Tensor, hole: torch.Tensor, max_unknowns: int = 12_000) -> torch.Tensor:
    """Replace flow inside hole with the harmonic (membrane) interpolation of the flow around
    it: the smoothest field that meets the measured flow at the hole's border. Camera motion
    is smooth across a rig or an object, the object's own motion is what must not leak in.
    Large holes are solved on a coarser grid (the field is smooth) to keep the cost flat."""
    hole = hole.numpy() if isinstance(hole, torch.Tensor) else hole
    if not hole.any():
        return flow
    if hole.all():
        return torch.zeros_like(flow)
    factor = int(np.ceil(np.sqrt(hole.sum() / max_unknowns)))
    if factor > 1:
        h, w = hole.shape
        pad_h, pad_w = (-h) % factor, (-w) % factor
        f = F.pad(flow.permute(2, 0, 1)[None], (0, pad_w, 0, pad_h), mode="replicate")
        m = F.pad(torch.from_numpy(hole).float()[None, None], (0, pad_w, 0, pad_h), mode="replicate")
        coarse_hole = F.max_pool2d(m, factor)[0, 0] > 0
        coarse = F.avg_pool2d(f, factor)[0].permute(1, 2, 0) / factor
        solved = _harmonic(coarse.contiguous(), coarse_hole.numpy()) * factor
        up = F.interpolate(solved.permute(2, 0, 1)[None], scale_factor=factor, mode="bilinear",
                           align_corners=False)[0, :, :h, :w].permute(1, 2, 0)
        out = flow.clone()
        out[torch.from_numpy(hole)] = up[torch.from_numpy(hole)]
        return out
    return _harmonic(flow, hole)


def _harmonic(flow: torch.Tensor, hole: np.ndarray) -> torch.Tensor:
    if hole.all():
        return torch.zeros_like(flow)
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    h, w = hole.shape
    values = flow.numpy().reshape(-1, 2).astype(np.float64)
    index = -np.ones(h * w, dtype=np.int64)
    where = np.flatnonzero(hole)
    index[where] = np.arange(len(where))
    ys, xs = np.divmod(where, w)
    rows, cols, data = [np.arange(len(where))], [np.arange(len(where))], []
    diagonal = np.zeros(len(where))
    rhs = np.zeros((len(where), 2))
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        neighbour = ny[ok] * w + nx[ok]
        me = np.flatnonzero(ok)
        diagonal[me] += 1
        unknown = index[neighbour] >= 0
        rows.append(me[unknown])
        cols.append(index[neighbour[unknown]])
        np.add.at(rhs, me[~unknown], values[neighbour[~unknown]])
    data = [diagonal] + [-np.ones(len(r)) for r in rows[1:]]
    matrix = coo_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(len(where), len(where))).tocsc()
    # A hole part that touches no measured pixel would make the system singular: tie it to 0.
    matrix = matrix + 1e-6 * coo_matrix((np.ones(len(where)), (np.arange(len(where)),) * 2)).tocsc()
    solved = splu(matrix).solve(rhs)
    out = values.copy()
    out[where] = solved
    return torch.from_numpy(out.reshape(h, w, 2).astype(np.float32))

