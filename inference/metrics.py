"""Quality metrics that need no downloaded network: PSNR, SSIM (over the frame or inside a
hole), CIEDE2000, temporal warp error, a flicker index, and alpha SAD / MSE."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .flow import fb_error, pair_flows, warp


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


def psnr(output, truth, mask=None) -> float:
    """Over the whole clip (one MSE over every pixel, or every pixel inside mask [T, H, W])."""
    output, truth = _as_tensor(output).float(), _as_tensor(truth).float()
    err = ((output.clamp(0, 1) - truth.clamp(0, 1)) ** 2).mean(-1)
    if mask is not None:
        mask = _as_tensor(mask).bool()
        if not mask.any():
            return float("nan")
        err = err[mask]
    mse = float(err.mean())
    return 99.0 if mse <= 1e-10 else 10.0 * math.log10(1.0 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim_map(output, truth) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004: 11-tap Gaussian, sigma 1.5, K1 0.01, K2 0.03),
    averaged over channels: [T, H, W]. Border pixels use reflected neighbours."""
    x = _as_tensor(output).float().clamp(0, 1).permute(0, 3, 1, 2)
    y = _as_tensor(truth).float().clamp(0, 1).permute(0, 3, 1, 2)
    g = _gaussian_window()
    channels = x.shape[1]
    kx = g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(z):
        z = F.pad(z, (5, 5, 5, 5), mode="reflect")
        return F.conv2d(F.conv2d(z, kx, groups=channels), ky, groups=channels)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.mean(1)


def ssim(output, truth, mask=None) -> float:
    s = ssim_map(output, truth)
    if mask is not None:
        mask = _as_tensor(mask).bool()
        return float(s[mask].mean()) if mask.any() else float("nan")
    return float(s.mean())


def delta_e(output, truth, mask=None, max_pixels: int = 400_000) -> float:
    """Mean CIEDE2000 between two sRGB clips (skimage's implementation), on an evenly spaced
    subset of at most max_pixels pixels (the mean barely moves and large clips stay quick)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    a = _as_tensor(output).float().clamp(0, 1).reshape(-1, 3)
    b = _as_tensor(truth).float().clamp(0, 1).reshape(-1, 3)
    if mask is not None:
        keep = _as_tensor(mask).bool().reshape(-1)
        a, b = a[keep], b[keep]
    step = max(1, len(a) // max_pixels)
    a, b = a[::step].numpy()[None], b[::step].numpy()[None]
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def clip_flows(frames, preset: str = "medium"):
    """Flows and their consistency masks for a clip, to share between several metrics."""
    fwd, bwd = pair_flows(_as_tensor(frames).float(), preset)
    valid = torch.stack([fb_error(fwd[t], bwd[t]) <= 1.0 for t in range(len(fwd))]) if len(fwd) else None
    return fwd, valid


def warp_error(frames, flows=None) -> float:
    """Mean absolute difference (0..1 scale) between each frame and the next frame warped onto
    it, where the flow is consistent. flows: (fwd, valid) from clip_flows, ideally of the clean
    clip so every method is judged against the same motion; else the clip's own."""
    frames = _as_tensor(frames).float()
    if len(frames) < 2:
        return 0.0
    fwd, valid = flows if flows is not None else clip_flows(frames)
    total, count = 0.0, 0
    for t in range(len(frames) - 1):
        warped = warp(frames[t + 1].permute(2, 0, 1), fwd[t]).permute(1, 2, 0)
        diff = (frames[t] - warped).abs().mean(-1)[valid[t]]
        total += float(diff.sum())
        count += diff.numel()
    return total / max(count, 1)


def brightness_steps(frames, flows=None) -> np.ndarray:
    """How much brighter each frame is than the one before on the same scene points:
    the median over flow-matched pixels of the luma difference (0..1 scale), [T-1]."""
    frames = _as_tensor(frames).float()
    fwd, valid = flows if flows is not None else clip_flows(frames)
    weights = torch.tensor([0.2126, 0.7152, 0.0722])
    luma = (frames.clamp(0, 1) * weights).sum(-1)
    steps = []
    for t in range(len(frames) - 1):
        nxt = warp(luma[t + 1][None], fwd[t])[0]
        diff = (nxt - luma[t])[valid[t]]
        steps.append(float(diff.median()) if diff.numel() else 0.0)
    return np.asarray(steps)


def flicker_index(frames, flows=None) -> float:
    """Frame-to-frame brightness jitter in percent of full scale: the RMS of the brightness
    steps between neighbouring frames after removing their local average over five steps,
    so a deliberate, slow change of light (a fade, a dimmer) does not count as flicker."""
    steps = brightness_steps(frames, flows)
    if len(steps) < 2:
        return 0.0
    padded = np.pad(steps, 2, mode="edge")
    local = np.convolve(padded, np.ones(5) / 5, mode="valid")
    return float(np.sqrt(np.mean((steps - local) ** 2)) * 100.0)


def alpha_sad(alpha, truth) -> float:
    """Sum of absolute alpha differences per frame, in thousands (the matting convention)."""
    a, b = _as_tensor(alpha).float(), _as_tensor(truth).float()
    return float((a - b).abs().flatten(1).sum(1).mean() / 1000.0)


def alpha_mse(alpha, truth) -> float:
    a, b = _as_tensor(alpha).float(), _as_tensor(truth).float()
    return float(((a - b) ** 2).mean())


def self_metrics(output, source=None, flows=None) -> dict:
    """What can be said about an output with no ground truth: its warp error (and relative to
    the source's when given) and flicker index, with the flow taken from the source."""
    flows = flows if flows is not None else clip_flows(source if source is not None else output)
    out = {"warp_error": warp_error(output, flows), "flicker_index": flicker_index(output, flows)}
    if source is not None:
        source_warp = warp_error(source, flows)
        out["source_warp_error"] = source_warp
        out["warp_error_vs_source"] = out["warp_error"] / source_warp if source_warp > 0 else float("nan")
        out["source_flicker_index"] = flicker_index(source, flows)
    return out


__all__ = ["psnr", "ssim", "ssim_map", "delta_e", "warp_error", "flicker_index", "alpha_sad", "alpha_mse",
           "clip_flows", "self_metrics", "brightness_steps"]
