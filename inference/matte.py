"""Background replacement: a matte, then the foreground over a replacement plate.

Two ways to the matte:

- "chroma": the screen colour is found from the shot (the most saturated dominant colour), a
  smooth model of the screen is fitted per frame from the pixels that are clearly screen (so an
  unevenly lit, creased screen keys as well as an even one), a local foreground colour is
  spread from the pixels that are clearly not, and alpha is where each pixel lies between its
  local screen colour and its local foreground colour (the compositing equation solved along
  that line, rather than a fixed threshold on "greenness").
- "keyframes": masks drawn on a few frames are carried to the others along the flow (from the
  nearest keyframe each way, blended), then a small per-shot CNN trained on the keyframes alone
  -- input the frame and a mask carried from the other keyframes, target the drawn mask --
  corrects them with the shot's own look of foreground and background.

Either way the matte is made edge-aware with a guided filter (its edges follow the image's),
the foreground colour is un-mixed from the local background colour on soft edges, and the
result is composited over the plate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .device import autocast, warm_cosine
from .errors import MaskError, ParameterError
from .flow import pair_flows, warp
from .params import Params

METHOD = "matte"
VERSION = "1.0"


@dataclass
class MatteParams(Params):
    matte: str = "auto"  # "chroma", "keyframes" or "auto" (keyframes when masks are given)
    screen: str = "auto"  # "green", "blue" or "auto"
    sure_screen: float = 0.55  # share of the local screen's key signal above which a pixel is screen
    sure_foreground: float = 0.15  # below which it is foreground
    screen_scale: float = 0.08  # size of the screen model's smoothing, in frame heights
    foreground_scale: float = 0.03  # reach of the local foreground colour, in frame heights
    guided_radius: int = 2  # pixels
    guided_eps: float = 1e-4
    flow_preset: str = "medium"
    iterations: int = 200  # training steps of the keyframe network
    channels: int = 16
    crop: int = 64
    batch: int = 6
    learning_rate: float = 3e-3
    despill: bool = True

    def check(self):
        self.choice("matte", ("auto", "chroma", "keyframes"))
        self.choice("screen", ("auto", "green", "blue"))
        self.choice("flow_preset", ("ultrafast", "fast", "medium"))


# --- helpers -------------------------------------------------------------------------------------

def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of [N, C, H, W] (separable, reflected edges)."""
    if sigma <= 0:
        return x
    radius = max(1, int(round(3 * sigma)))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def spread(values: torch.Tensor, weight: torch.Tensor, sigma: float) -> torch.Tensor:
    """Normalised convolution, coarse to fine: the weighted local mean of values [C, H, W] where
    weight [H, W] > 0, filled in everywhere else from wider and wider surroundings. Worked out on
    a grid a third of sigma apart (the result is smooth at that scale) and scaled back up."""
    h, w = weight.shape
    factor = max(1, int(sigma / 3))
    v = (values * weight[None])[None]
    wt = weight[None, None]
    if factor > 1:
        v, wt = F.avg_pool2d(v, factor, ceil_mode=True), F.avg_pool2d(wt, factor, ceil_mode=True)
        sigma = sigma / factor
    num, den = _blur(v, sigma), _blur(wt, sigma)
    out = num / den.clamp(min=1e-6)
    missing = den < 1e-3
    scale = sigma
    while missing.any() and scale < 4 * max(v.shape[-2:]):
        scale *= 3
        num2, den2 = _blur(v, scale), _blur(wt, scale)
        out = torch.where(missing, num2 / den2.clamp(min=1e-8), out)
        missing = missing & (den2 < 1e-6)
    if factor > 1:
        out = F.interpolate(out, scale_factor=factor, mode="bilinear", align_corners=False)[..., :h, :w]
    return out[0]


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter with a colour guide: guide [3, H, W], src [H, W] -> [H, W].
    The output is locally a linear function of the guide's colours, so alpha edges snap to
    the image's edges and noise inside flat areas goes. Frames over 540 lines work out the
    linear coefficients on a reduced copy and apply them at full size (the "fast" variant)."""
    if radius <= 0:
        return src
    h, w = src.shape
    step = max(1, min(h, w) // 540 + (1 if min(h, w) > 540 else 0))
    i_full = guide
    if step > 1:
        guide = F.avg_pool2d(guide[None], step, ceil_mode=True)[0]
        src = F.avg_pool2d(src[None, None], step, ceil_mode=True)[0, 0]
        radius = max(1, round(radius / step))
    i = guide[None]
    p = src[None, None]
    mean_i = _box(i, radius)[0]  # [3, h, w]
    mean_p = _box(p, radius)[0, 0]
    cov_ip = _box(i * p, radius)[0] - mean_i * mean_p
    ii = torch.einsum("chw,dhw->cdhw", guide, guide)
    var = _box(ii.reshape(1, 9, *guide.shape[1:]), radius)[0].reshape(3, 3, *guide.shape[1:])
    var = var - torch.einsum("chw,dhw->cdhw", mean_i, mean_i) + eps * torch.eye(3)[..., None, None]
    a = torch.linalg.solve(var.permute(2, 3, 0, 1), cov_ip.permute(1, 2, 0)[..., None])[..., 0]  # [h, w, 3]
    b = mean_p - (a * mean_i.permute(1, 2, 0)).sum(-1)
    mean_a = _box(a.permute(2, 0, 1)[None], radius)
    mean_b = _box(b[None, None], radius)
    if step > 1:
        mean_a = F.interpolate(mean_a, size=(h, w), mode="bilinear", align_corners=False)
        mean_b = F.interpolate(mean_b, size=(h, w), mode="bilinear", align_corners=False)
    return (mean_a[0] * i_full).sum(0) + mean_b[0, 0]


def key_signal(rgb: torch.Tensor, screen: str) -> torch.Tensor:
    """How much more of the screen's channel a pixel has than of the other two: [..., 3] -> [...]."""
    r, g, b = rgb.unbind(-1)
    return g - torch.maximum(r, b) if screen == "green" else b - torch.maximum(r, g)


def detect_screen(frames: torch.Tensor) -> str:
    flat = frames.reshape(-1, 3)[:: max(1, frames[..., 0].numel() // 200_000)]
    green = (flat[:, 1] - torch.maximum(flat[:, 0], flat[:, 2])).clamp(min=0).mean()
    blue = (flat[:, 2] - torch.maximum(flat[:, 0], flat[:, 1])).clamp(min=0).mean()
    return "green" if green >= blue else "blue"


def unmix(frame: torch.Tensor, alpha: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Foreground colour from the compositing equation I = a F + (1 - a) B on soft pixels."""
    a = alpha[..., None]
    fg = (frame - (1 - a) * background) / a.clamp(min=0.05)
    return torch.where(a > 0.995, frame, fg.clamp(0, 1))


def composite(frame: torch.Tensor, alpha: torch.Tensor, plate: torch.Tensor | None,
              background: torch.Tensor | None, screen: str | None = None, despill: bool = True) -> torch.Tensor:
    if plate is None:
        return frame
    if plate.shape[:2] != frame.shape[:2]:
        plate = F.interpolate(plate.permute(2, 0, 1)[None], size=frame.shape[:2], mode="bilinear",
                              align_corners=False)[0].permute(1, 2, 0)
    fg = unmix(frame, alpha, background) if background is not None else frame
    if despill and screen:
        # bounced screen light on the subject: hold the screen channel at most at the mean of
        # the other two, only near the edge of the matte where the spill lands
        near_edge = _blur((alpha < 0.98).float()[None, None], 4.0)[0, 0] > 0.05
        r, g, b = fg.unbind(-1)
        if screen == "green":
            g = torch.where(near_edge, torch.minimum(g, (r + b) / 2 + 0.02), g)
        else:
            b = torch.where(near_edge, torch.minimum(b, (r + g) / 2 + 0.02), b)
        fg = torch.stack([r, g, b], -1)
    a = alpha[..., None]
    return (a * fg + (1 - a) * plate).clamp(0, 1)


# --- chroma key ----------------------------------------------------------------------------------

class ChromaModel:
    """Keys each frame as it comes (apply works at any size): needs only the screen colour."""

    def __init__(self, params: MatteParams, screen: str, plate, info: dict):
        self.params, self.screen, self.plate, self.info = params, screen, plate, info

    def matte(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha [H, W], local screen colour [H, W, 3]) for one frame [H, W, 3]."""
        p = self.params
        h = frame.shape[0]
        signal = key_signal(frame, self.screen)
        first = signal / signal.flatten().quantile(0.9).clamp(min=1e-3)
        sure_bg = first > p.sure_screen
        screen = spread(frame.permute(2, 0, 1), sure_bg.float(), p.screen_scale * h).permute(1, 2, 0)
        local = key_signal(screen, self.screen).clamp(min=1e-3)
        ratio = signal / local
        sure_bg = ratio > p.sure_screen
        sure_fg = ratio < p.sure_foreground
        screen = spread(frame.permute(2, 0, 1), sure_bg.float(), p.screen_scale * h).permute(1, 2, 0)
        fg = spread(frame.permute(2, 0, 1), sure_fg.float(), p.foreground_scale * h).permute(1, 2, 0)
        d = fg - screen
        alpha = ((frame - screen) * d).sum(-1) / (d * d).sum(-1).clamp(min=1e-4)
        alpha = torch.where(sure_fg, torch.ones(()), torch.where(sure_bg & (alpha < 0.5), torch.zeros(()), alpha))
        alpha = alpha.clamp(0, 1)
        alpha = guided_filter(frame.permute(2, 0, 1), alpha, p.guided_radius, p.guided_eps).clamp(0, 1)
        alpha = torch.where(alpha < 0.02, torch.zeros(()), torch.where(alpha > 0.98, torch.ones(()), alpha))
        return alpha, screen

    def apply(self, index: int, frame: torch.Tensor, plate=None):
        alpha, screen = self.matte(frame)
        plate = plate if plate is not None else (self.plate[index] if self.plate is not None else None)
        return composite(frame, alpha, plate, screen, self.screen, self.params.despill), alpha


# --- keyframe masks ------------------------------------------------------------------------------

def _carry_step(mask: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The mask of the previous frame moved onto this one. flow maps this frame's pixels to the
    previous frame's. The foreground's own motion is taken as one affine map fitted (RANSAC)
    to the flow inside the mask: the flow is noisy on a subject's smooth parts and along its
    edge, a whole-subject motion is not; the per-shot network then corrects the outline."""
    import cv2

    h, w = mask.shape
    ys, xs = np.mgrid[0:h:3, 0:w:3]
    # where this frame's pixels land in the previous frame, and whether they land on the subject
    landing = flow.numpy()[ys, xs] + np.stack([xs, ys], -1)
    inside = mask.numpy()[np.clip(landing[..., 1].round().astype(int), 0, h - 1),
                          np.clip(landing[..., 0].round().astype(int), 0, w - 1)] > 0.5
    if inside.sum() < 12:
        return warp(mask[None], flow)[0]
    src = np.stack([xs[inside], ys[inside]], -1).astype(np.float32)
    dst = landing[inside].astype(np.float32)
    matrix, _ = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5)
    if matrix is None:
        return warp(mask[None], flow)[0]
    moved = cv2.warpAffine(mask.numpy().astype(np.float32), matrix, (w, h),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return torch.from_numpy(moved)


def carry(masks: torch.Tensor, keyframes: list[int], fwd: torch.Tensor, bwd: torch.Tensor,
          exclude: int | None = None) -> torch.Tensor:
    """Soft masks [T, H, W] for every frame, carried along the flow from the nearest keyframe
    on each side (skipping `exclude`) and blended by distance."""
    t_count = masks.shape[0]
    keys = [k for k in keyframes if k != exclude]
    out = torch.zeros(masks.shape)
    forward = [None] * t_count  # carried from the nearest keyframe before
    backward = [None] * t_count
    for t in range(t_count):
        if t in keys:
            forward[t] = (masks[t].float(), 0)
        elif t > 0 and forward[t - 1] is not None:
            prev, dist = forward[t - 1]
            forward[t] = (_carry_step(prev, bwd[t - 1]), dist + 1)
    for t in reversed(range(t_count)):
        if t in keys:
            backward[t] = (masks[t].float(), 0)
        elif t + 1 < t_count and backward[t + 1] is not None:
            nxt, dist = backward[t + 1]
            backward[t] = (_carry_step(nxt, fwd[t]), dist + 1)
    for t in range(t_count):
        a, b = forward[t], backward[t]
        if a and b:
            wa, wb = 1.0 / (a[1] + 1e-3), 1.0 / (b[1] + 1e-3)
            out[t] = (a[0] * wa + b[0] * wb) / (wa + wb)
        elif a or b:
            out[t] = (a or b)[0]
    return out


class MaskNet(nn.Module):
    """Frame + carried mask -> a corrected mask (logit added to the carried one's)."""

    def __init__(self, channels: int = 16):
        super().__init__()
        c = channels
        self.down = nn.Sequential(nn.Conv2d(4, c, 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.LeakyReLU(0.2),
                                  nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.LeakyReLU(0.2),
                                  nn.Conv2d(c, c, 3, padding=8, dilation=8), nn.LeakyReLU(0.2),
                                  nn.Conv2d(c, c, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Conv2d(c, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        carried = x[:, 3:4].clamp(1e-3, 1 - 1e-3)
        return torch.logit(carried) + self.out(self.down(x))


def _perturb(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A drawn mask shifted, grown or shrunk a little: the kind of error carrying makes."""
    import cv2

    m = mask.astype(np.float32)
    dy, dx = rng.integers(-3, 4, 2)
    m = np.roll(m, (int(dy), int(dx)), (0, 1))
    r = int(rng.integers(0, 4))
    if r:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m = cv2.dilate(m, kernel) if rng.random() < 0.5 else cv2.erode(m, kernel)
    return cv2.GaussianBlur(m, (0, 0), 1.0)


class KeyframeModel:
    def __init__(self, alpha: torch.Tensor, background: torch.Tensor, params: MatteParams, plate, info: dict):
        self.alpha, self.background, self.params, self.plate, self.info = alpha, background, params, plate, info

    def apply(self, index: int, frame: torch.Tensor, plate=None):
        alpha, background = self.alpha[index], self.background[index]
        if frame.shape[:2] != alpha.shape:
            size = frame.shape[:2]
            alpha = F.interpolate(alpha[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
            alpha = guided_filter(frame.permute(2, 0, 1), alpha, self.params.guided_radius * 2,
                                  self.params.guided_eps).clamp(0, 1)
            background = F.interpolate(background.permute(2, 0, 1)[None], size=size, mode="bilinear",
                                       align_corners=False)[0].permute(1, 2, 0)
        plate = plate if plate is not None else (self.plate[index] if self.plate is not None else None)
        return composite(frame, alpha, plate, background, None, False), alpha


def keyframe_masks(mask, frames: torch.Tensor, keyframes) -> tuple[torch.Tensor, list[int]]:
    if mask is None:
        raise MaskError("keyframe matting needs masks drawn on at least one frame")
    mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    if mask.dtype.is_floating_point:
        if not torch.isfinite(mask).all():
            raise MaskError("the masks have NaN or infinite values")
        mask = mask >= 0.5
    mask = mask.bool()
    t, h, w = frames.shape[:3]
    if mask.ndim == 2:
        mask = mask[None]
    if mask.shape[1:] != (h, w):
        raise MaskError(f"the masks are {tuple(mask.shape[1:])} but the clip's frames are {h}x{w} (height x width)")
    if mask.shape[0] == 1 and t > 1:
        mask = torch.cat([mask, torch.zeros((t - 1, h, w), dtype=torch.bool)])
    if mask.shape[0] != t:
        raise MaskError(f"the masks have {mask.shape[0]} frames but the clip has {t}")
    keys = sorted(int(k) for k in keyframes) if keyframes else [i for i in range(t) if mask[i].any()]
    if not keys:
        raise MaskError("the keyframe masks are all empty: draw the foreground on at least one frame")
    if any(k < 0 or k >= t for k in keys):
        raise MaskError(f"keyframes {keys} fall outside the clip's {t} frames")
    return mask, keys


def fit_keyframes(frames: torch.Tensor, mask, params: MatteParams, keyframes, device, rng, plate, report):
    masks, keys = keyframe_masks(mask, frames, keyframes)
    report(0.0, "flow")
    fwd, bwd = pair_flows(frames, params.flow_preset)
    carried = carry(masks, keys, fwd, bwd)
    net = MaskNet(params.channels).to(device)
    t_count, h, w = masks.shape
    if params.iterations and len(keys):
        # training pairs: each keyframe with the mask carried to it from the other keyframes,
        # or with its own mask disturbed when it is the only one
        pool = []
        for k in keys:
            if len(keys) > 1:
                pool.append((k, carry(masks, keys, fwd, bwd, exclude=k)[k].numpy()))
        crop = min(params.crop, h, w)
        optimiser = torch.optim.Adam(net.parameters(), params.learning_rate)
        schedule = warm_cosine(optimiser, params.iterations)
        carried_from_others = dict(pool)
        truths = {k: masks[k].numpy() for k in keys}
        edges = {k: np.argwhere(np.abs(np.diff(truths[k].astype(np.int8), axis=0)) > 0) for k in keys}
        pad = 8  # room for the disturbance to shift the mask in from outside the crop
        for step in range(params.iterations):
            xs, ys = [], []
            for _ in range(params.batch):
                k = keys[int(rng.integers(len(keys)))]
                truth, edge = truths[k], edges[k]
                if len(edge) and rng.random() < 0.8:
                    cy, cx = edge[int(rng.integers(len(edge)))]
                else:
                    cy, cx = rng.integers(h), rng.integers(w)
                y0 = int(np.clip(cy - crop // 2, 0, h - crop))
                x0 = int(np.clip(cx - crop // 2, 0, w - crop))
                window = (slice(y0, y0 + crop), slice(x0, x0 + crop))
                if k in carried_from_others and rng.random() < 0.5:
                    given = carried_from_others[k][window]
                else:
                    ya, xa = max(0, y0 - pad), max(0, x0 - pad)
                    wide = _perturb(truth[ya:y0 + crop + pad, xa:x0 + crop + pad], rng)
                    given = wide[y0 - ya:y0 - ya + crop, x0 - xa:x0 - xa + crop]
                xs.append(np.concatenate([frames[k].numpy()[window], given[..., None]], -1))
                ys.append(truth[window])
            x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().to(device)
            y = torch.from_numpy(np.stack(ys)).float()[:, None].to(device)
            with autocast(device):
                logit = net(x)
            loss = F.binary_cross_entropy_with_logits(logit.float(), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            if step % 20 == 0:
                report(0.2 + 0.6 * step / params.iterations, "training")
    net.eval()
    alphas, backgrounds = torch.zeros(masks.shape), torch.zeros(frames.shape)
    with torch.no_grad():
        for t in range(t_count):
            if t in keys:
                hard = masks[t].float()
            else:
                x = torch.cat([frames[t].permute(2, 0, 1), carried[t][None]])[None].to(device)
                with autocast(device):
                    hard = (net(x).float()[0, 0].cpu() >= 0).float()
            alpha = guided_filter(frames[t].permute(2, 0, 1), hard, params.guided_radius, params.guided_eps)
            alpha = alpha.clamp(0, 1)
            alpha = torch.where(alpha < 0.02, torch.zeros(()), torch.where(alpha > 0.98, torch.ones(()), alpha))
            alphas[t] = alpha
            sure_bg = alpha < 0.02
            backgrounds[t] = spread(frames[t].permute(2, 0, 1), sure_bg.float(),
                                    params.foreground_scale * h).permute(1, 2, 0)
    report(1.0, "done")
    return KeyframeModel(alphas, backgrounds, params, plate, {"matte": "keyframes", "keyframes": keys})


def fit(clip, params: MatteParams, *, mask=None, plate=None, device=None, rng=None, progress=None,
        keyframes=None, **_):
    frames = clip.frames
    report = progress or (lambda *_: None)
    mode = params.matte
    if mode == "auto":
        mode = "keyframes" if mask is not None else "chroma"
    plate_frames = _check_plate(plate, frames)
    if mode == "keyframes":
        return fit_keyframes(frames, mask, params, keyframes, device, rng, plate_frames, report)
    screen = params.screen if params.screen != "auto" else detect_screen(frames)
    report(1.0, "done")
    return ChromaModel(params, screen, plate_frames, {"matte": "chroma", "screen": screen})


def _check_plate(plate, frames):
    if plate is None:
        return None
    plate = plate.frames if hasattr(plate, "frames") else torch.as_tensor(plate)
    if plate.ndim == 3:
        plate = plate[None].expand(len(frames), -1, -1, -1)
    if plate.ndim != 4 or plate.shape[-1] != 3:
        raise ParameterError(f"the plate must be [T, H, W, 3] or one [H, W, 3] frame; got {tuple(plate.shape)}")
    if len(plate) < len(frames):  # a shorter plate holds its last frame
        plate = torch.cat([plate, plate[-1:].expand(len(frames) - len(plate), -1, -1, -1)])
    if not torch.isfinite(plate).all():
        raise ParameterError("the plate has NaN or infinite values")
    return plate.float()
