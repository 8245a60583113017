"""The classical tools a compositor would otherwise reach for, run on the same cases."""
from __future__ import annotations

import numpy as np
import torch

from .colour import mkl_affine
from .flow import pair_flows
from .matte import carry, detect_screen, key_signal
from .removal import (Motion, RemovalParams, check_mask, dilate, fill_telea, propagation_only, stabilised_all,
                      telea)

# --- removal -------------------------------------------------------------------------------------


def telea_per_frame(frames: torch.Tensor, mask, grow: int = 2) -> torch.Tensor:
    hole = dilate(check_mask(mask, frames), grow)
    return torch.stack([torch.from_numpy(telea(frames[t].numpy(), hole[t].numpy())) for t in range(len(frames))])


def flow_propagation(frames: torch.Tensor, mask, grow: int = 2) -> torch.Tensor:
    return propagation_only(frames, mask, {"grow": grow})


def temporal_median(frames: torch.Tensor, mask, grow: int = 2) -> torch.Tensor:
    """The clean-plate trick: stabilise every frame onto the one being fixed (homographies
    fitted to the flow away from the hole, chained between neighbours) and take the median of
    the frames that see each hole pixel; Telea where none does."""
    hole = dilate(check_mask(mask, frames), grow)
    params = RemovalParams(grow=grow)
    median, found = stabilised_all(frames, hole, Motion.estimate(frames, hole, params))
    return fill_telea(median, hole & ~found)


# --- colour ----------------------------------------------------------------------------------------

def _flat(frames: torch.Tensor, limit: int = 300_000) -> np.ndarray:
    flat = frames.reshape(-1, 3).numpy()
    return flat[:: max(1, len(flat) // limit)]


def reinhard(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Reinhard et al. 2001: match mean and spread per channel in CIELAB."""
    from skimage.color import lab2rgb, rgb2lab

    src, ref = rgb2lab(_flat(frames)[None])[0], rgb2lab(_flat(reference)[None])[0]
    scale = ref.std(0) / np.maximum(src.std(0), 1e-6)
    lab = rgb2lab(frames.numpy())
    out = (lab - src.mean(0)) * scale + ref.mean(0)
    return torch.from_numpy(lab2rgb(out).astype(np.float32))


def mkl(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Pitie & Kokaram 2007, the Monge-Kantorovich linear transfer on its own."""
    matrix, offset = mkl_affine(_flat(frames), _flat(reference))
    out = frames.numpy().reshape(-1, 3) @ matrix.T + offset
    return torch.from_numpy(np.clip(out, 0, 1).reshape(frames.shape).astype(np.float32))


def histogram_match(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-channel histogram matching of the whole shot to the whole reference."""
    src, ref = frames.numpy().reshape(-1, 3), _flat(reference)
    out = np.empty_like(src)
    for c in range(3):
        values, inverse, counts = np.unique(src[:, c], return_inverse=True, return_counts=True)
        src_q = np.cumsum(counts) / len(src)
        ref_sorted = np.sort(ref[:, c])
        out[:, c] = np.interp(src_q, np.linspace(0, 1, len(ref_sorted)), ref_sorted)[inverse]
    return torch.from_numpy(out.reshape(frames.shape))


# --- exposure and flicker ------------------------------------------------------------------------

def gain_match(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """One gain per channel for the whole shot: its mean onto the reference's (the white
    balance and exposure sliders)."""
    gain = torch.from_numpy(_flat(reference).mean(0) / np.maximum(_flat(frames).mean(0), 1e-6))
    return (frames * gain.float()).clamp(0, 1)


def mean_deflicker(frames: torch.Tensor, window: int = 5) -> torch.Tensor:
    """Classic deflicker: scale each frame so its per-channel mean follows a running median
    of the frame means."""
    means = frames.mean((1, 2))
    padded = torch.cat([means[:1].expand(window // 2, -1), means, means[-1:].expand(window // 2, -1)])
    target = padded.unfold(0, window, 1).median(-1).values
    return (frames * (target / means.clamp(min=1e-6))[:, None, None]).clamp(0, 1)


# --- background ----------------------------------------------------------------------------------

def plain_key(frames: torch.Tensor, low: float = 0.15, high: float = 0.85) -> torch.Tensor:
    """A plain colour-difference key: the screen's key signal (its channel over the larger of
    the other two) relative to the screen colour's, with clip black / clip white."""
    screen = detect_screen(frames)
    signal = key_signal(frames, screen)
    reference = signal.flatten()[:: max(1, signal.numel() // 500_000)].quantile(0.9)
    strength = signal / reference.clamp(min=1e-3)
    return (1 - ((strength - low) / (high - low))).clamp(0, 1)


def keyframe_hold(frames: torch.Tensor, mask, keyframes) -> torch.Tensor:
    """The nearest keyframe's mask, held."""
    keys = list(keyframes)
    return torch.stack([mask[min(keys, key=lambda k: abs(k - t))].float() for t in range(len(frames))])


def keyframe_flow(frames: torch.Tensor, mask, keyframes) -> torch.Tensor:
    """Keyframe masks carried along the flow alone, thresholded."""
    fwd, bwd = pair_flows(frames)
    return (carry(mask, list(keyframes), fwd, bwd) >= 0.5).float()


def composite(frames: torch.Tensor, alpha: torch.Tensor, plate: torch.Tensor) -> torch.Tensor:
    a = alpha[..., None]
    return a * frames + (1 - a) * plate


__all__ = ["telea_per_frame", "flow_propagation", "temporal_median", "reinhard", "mkl", "histogram_match",
           "gain_match", "mean_deflicker", "plain_key", "keyframe_hold", "keyframe_flow", "composite"]
