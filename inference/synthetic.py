"""Synthetic shots with ground truth, built from scikit-image's photographs.

A "scene" is a photograph (with a fine texture multiplied in, so upscaled frames are not
unnaturally smooth) filmed by a moving camera: pan, zoom, a little roll and a smooth parallax
field (near parts of the scene move more than far ones, so no single homography explains the
motion, as in real footage). Grain is added to every frame. Each case then damages that clean
clip in a known way: a pasted moving object (removal), a known grade (colour match), an exposure
and white-balance error with a relight gradient (exposure), frame-to-frame flicker (deflicker)
or a foreground over an unevenly lit green screen (background replacement).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from .clip import Clip

PHOTOS = ("coffee", "rocket", "chelsea", "astronaut", "immunohistochemistry")


@dataclass
class Case:
    """A damaged clip, what a perfect fix would return, and what the fix is given."""

    name: str
    kind: str
    clip: Clip
    truth: torch.Tensor  # [T, H, W, 3]: the ideal output
    clean: torch.Tensor  # [T, H, W, 3]: the undamaged shot (its own warp error is the floor)
    params: dict = field(default_factory=dict)
    mask: torch.Tensor | None = None  # removal: hole per frame; matte: keyframe masks
    reference: Clip | None = None
    alpha: torch.Tensor | None = None  # matte: true alpha [T, H, W]
    plate: torch.Tensor | None = None  # matte: the replacement plate [T, H, W, 3]


def photo(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return image[..., :3].astype(np.float32) / 255.0


def _detail(shape: tuple[int, int]) -> np.ndarray:
    """Gravel texture tiled over shape, zero mean, for fine detail that survives upscaling."""
    import skimage.data

    texture = skimage.data.gravel().astype(np.float32) / 255.0
    reps = (shape[0] // texture.shape[0] + 1, shape[1] // texture.shape[1] + 1)
    tiled = np.tile(texture, reps)[: shape[0], : shape[1]]
    return tiled - tiled.mean()


def _smooth_field(rng: np.random.Generator, h: int, w: int, waves: int = 4) -> np.ndarray:
    """A smooth random field in -1..1 (a few low-frequency waves)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w), np.float32)
    for _ in range(waves):
        fx, fy = rng.uniform(0.3, 1.6, 2) * np.pi / max(h, w)
        phase = rng.uniform(0, 2 * np.pi)
        out += np.sin(fx * xs + fy * ys * rng.choice([-1, 1]) + phase)
    return out / (np.abs(out).max() + 1e-6)


def grain(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Film-like grain: mostly shared across channels, slightly soft, std sigma."""
    import cv2

    t, h, w = shape[:3]
    out = np.empty((t, h, w, 3), np.float32)
    for i in range(t):
        luma = rng.standard_normal((h, w)).astype(np.float32)
        chroma = rng.standard_normal((h, w, 3)).astype(np.float32)
        noise = 0.85 * luma[..., None] + 0.5 * chroma
        noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
        out[i] = noise
    return out * (sigma / (out.std() + 1e-8))


@dataclass
class Camera:
    pan: tuple[float, float] = (0.14, 0.05)  # over the clip, in frame widths / heights
    zoom: float = 0.06  # relative, over the clip
    roll: float = 0.02  # radians over the clip
    parallax: float = 0.025  # extra displacement of near parts, in frame widths
    offset: tuple[float, float] = (0.0, 0.0)  # where the clip starts, in frame widths / heights


def film(scene: np.ndarray, frames: int, height: int, width: int, camera: Camera, rng: np.random.Generator,
         start: float = 0.0, span: float = 1.0) -> np.ndarray:
    """Frames [T, H, W, 3] of a camera moving over scene (a large RGB float image).
    start/span place the clip on the camera's path (0..1), so two clips can overlap."""
    import cv2

    sh, sw = scene.shape[:2]
    depth = _smooth_field(np.random.default_rng(rng.integers(1 << 30)), height, width)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    scale = min(sh / (height * 1.45), sw / (width * 1.45))  # scene pixels per frame pixel
    out = np.empty((frames, height, width, 3), np.float32)
    for i in range(frames):
        s = start + span * (i / max(frames - 1, 1))
        zoom = 1.0 + camera.zoom * s
        angle = camera.roll * (s - 0.5)
        ca, sa = np.cos(angle), np.sin(angle)
        dx, dy = (xs - cx) / zoom, (ys - cy) / zoom
        px = ca * dx - sa * dy + (camera.pan[0] * s + camera.offset[0]) * width + camera.parallax * s * width * depth
        py = sa * dx + ca * dy + (camera.pan[1] * s + camera.offset[1]) * height
        map_x = (sw - 1) / 2 + (px - 0.5 * camera.pan[0] * width) * scale
        map_y = (sh - 1) / 2 + (py - 0.5 * camera.pan[1] * height) * scale
        out[i] = cv2.remap(scene, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0.0, 1.0)


def make_scene(name: str, height: int, width: int) -> np.ndarray:
    """The photograph resized to cover 1.6x the frame, with fine texture multiplied in."""
    import cv2

    image = photo(name)
    ih, iw = image.shape[:2]
    scale = max(1.6 * height / ih, 1.6 * width / iw, 1.0)
    image = cv2.resize(image, (round(iw * scale), round(ih * scale)), interpolation=cv2.INTER_CUBIC)
    image = image * (1.0 + 0.15 * _detail(image.shape[:2]))[..., None]
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _clip(frames: np.ndarray, fps=Fraction(24)) -> Clip:
    return Clip(torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)), fps)


# --- removal -------------------------------------------------------------------------------------

def removal_case(height: int = 240, width: int = 432, frames: int = 16, seed: int = 0, sigma: float = 0.01,
                 scene_name: str = "coffee", camera: Camera | None = None, travel: float = 0.0) -> Case:
    """A textured object (a rig, a stand-in) moving slowly across a panning shot. The hole is
    its outline grown by a few pixels, as a roto artist would draw it. The camera follows the
    object, so part of the background it covers is never seen and has to be synthesised."""
    import cv2

    rng = np.random.default_rng(seed)
    camera = camera or Camera(pan=(0.12, 0.04))
    clean = film(make_scene(scene_name, height, width), frames, height, width, camera, rng)
    noisy = np.clip(clean + grain(rng, clean.shape, sigma), 0, 1)
    texture = make_scene("astronaut", height, width)
    oh, ow = int(0.36 * height), int(0.14 * width)
    ys, xs = np.mgrid[0:oh, 0:ow].astype(np.float32)
    # a rounded bar with a head: the silhouette of a stand or a boom arm seen end-on
    shape = ((((xs - ow / 2) / (ow / 2)) ** 4 + ((ys - oh * 0.62) / (oh * 0.4)) ** 4) <= 1) | (
        ((xs - ow / 2) / (ow * 0.5)) ** 2 + ((ys - oh * 0.2) / (oh * 0.2)) ** 2 <= 1)
    soft = cv2.GaussianBlur(shape.astype(np.float32), (0, 0), 0.7)
    damaged = noisy.copy()
    hole = np.zeros(clean.shape[:3], bool)
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    tx0, ty0 = rng.uniform(0.3, 0.45) * width, rng.uniform(0.3, 0.45) * height
    for t in range(frames):
        s = t / max(frames - 1, 1)
        x0 = int(round(tx0 + travel * width * s))
        y0 = int(round(ty0 + 0.05 * height * np.sin(3.0 * s)))
        patch = texture[(y0 + 11 * t) % (texture.shape[0] - oh):][:oh, x0 % (texture.shape[1] - ow):][:, :ow]
        patch = patch * 0.8 + 0.1
        region = damaged[t, y0:y0 + oh, x0:x0 + ow]
        a = soft[: region.shape[0], : region.shape[1], None]
        damaged[t, y0:y0 + oh, x0:x0 + ow] = a * patch[: region.shape[0], : region.shape[1]] + (1 - a) * region
        support = np.zeros((height, width), np.uint8)
        support[y0:y0 + oh, x0:x0 + ow] = (soft[: region.shape[0], : region.shape[1]] > 0.01)
        hole[t] = cv2.dilate(support, grow) > 0
    damaged = np.clip(damaged + 0.0, 0, 1)
    return Case(f"removal {width}x{height}", "removal", _clip(damaged), torch.from_numpy(noisy),
                torch.from_numpy(noisy), mask=torch.from_numpy(hole))


# --- colour match --------------------------------------------------------------------------------

@dataclass
class Grade:
    """A strong, non-linear look: split toning (shadows and highlights pushed to different
    hues by luminance), an S-curve, per-channel power curves and a 3x3 channel mix."""

    gamma: tuple[float, float, float]
    mix: np.ndarray
    shadows: tuple[float, float, float]
    highlights: tuple[float, float, float]
    contrast: float

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).clamp(0, 1)
        luma = (x * torch.tensor([0.2126, 0.7152, 0.0722])).sum(-1, keepdim=True)
        x = x + (1 - luma) ** 2 * torch.tensor(self.shadows) + luma ** 2 * torch.tensor(self.highlights)
        x = x.clamp(0, 1)
        x = x + self.contrast * (x - 0.5) * x * (1 - x)
        x = x.clamp(0, 1) ** torch.tensor(self.gamma)
        return (x @ torch.from_numpy(self.mix).T).clamp(0, 1).numpy()


def teal_orange() -> Grade:
    mix = np.array([[0.80, 0.14, 0.06], [0.06, 0.86, 0.08], [0.04, 0.20, 0.76]], np.float32)
    return Grade(gamma=(0.65, 1.0, 1.5), mix=mix, shadows=(-0.14, 0.04, 0.16), highlights=(0.18, 0.05, -0.16),
                 contrast=1.5)


def colour_case(height: int = 240, width: int = 432, frames: int = 16, seed: int = 1, sigma: float = 0.01,
                scene_name: str = "astronaut", overlap: bool = True, grade: Grade | None = None) -> Case:
    """The shot to fix was graded with a strong look after it was shot (grain and all); the
    reference shot is the same scene from a camera further along the move, ungraded, so the
    ground truth is exactly the shot's pixels before the look. overlap=False films the
    reference on the mirrored scene instead: the same colours, nothing that registers."""
    rng = np.random.default_rng(seed)
    grade = grade or teal_orange()
    scene = make_scene(scene_name, height, width)
    camera = Camera(pan=(0.18, 0.06))
    clean = film(scene, frames, height, width, camera, rng, start=0.0, span=0.5)
    if overlap:
        ref_clean = film(scene, frames, height, width, camera, rng, start=0.6, span=0.4)
    else:
        ref_clean = film(np.ascontiguousarray(scene[:, ::-1]), frames, height, width, camera, rng, start=0.6, span=0.4)
    reference = np.clip(ref_clean + grain(rng, ref_clean.shape, sigma), 0, 1)
    truth = np.clip(clean + grain(rng, clean.shape, sigma), 0, 1)
    source = grade.apply(truth)
    name = "colour" if overlap else "colour (no overlap)"
    return Case(f"{name} {width}x{height}", "colour", _clip(source), torch.from_numpy(truth),
                torch.from_numpy(clean), reference=_clip(reference))


# --- exposure, white balance, relight, deflicker -------------------------------------------------

def exposure_case(height: int = 240, width: int = 432, frames: int = 16, seed: int = 2, sigma: float = 0.01,
                  scene_name: str = "coffee") -> Case:
    """Underexposed and too warm, with light falling off across the frame and the exposure
    drifting during the shot (auto exposure). The reference is one approved frame of the
    scene as it should look."""
    rng = np.random.default_rng(seed)
    scene = make_scene(scene_name, height, width)
    clean = film(scene, frames + 1, height, width, Camera(), rng)
    reference_frame, clean = clean[frames // 2], np.delete(clean, frames // 2, axis=0)
    noisy = np.clip(clean + grain(rng, clean.shape, sigma), 0, 1)
    gain = _exposure_gain(height, width, frames)
    damaged = np.clip(noisy * gain, 0, 1) ** 1.08
    truth = (damaged ** (1 / 1.08)) / gain
    reference = np.clip(reference_frame + grain(rng, reference_frame[None].shape, sigma), 0, 1)
    return Case(f"exposure {width}x{height}", "exposure", _clip(damaged), torch.from_numpy(truth),
                torch.from_numpy(noisy), reference=_clip(reference), params={"target": "reference"})


def _exposure_gain(height: int, width: int, frames: int) -> np.ndarray:
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :, None]
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None, None]
    relight = 1.0 - 0.22 * xs + 0.08 * ys  # light falling off to the right
    white = np.array([1.06, 0.98, 0.80], np.float32)
    drift = np.linspace(0.82, 0.70, frames, dtype=np.float32)[:, None, None, None]
    return (drift * relight * white).astype(np.float32)


def deflicker_case(height: int = 240, width: int = 432, frames: int = 16, seed: int = 3, sigma: float = 0.01,
                   scene_name: str = "chelsea", amplitude: float = 0.08) -> Case:
    """Frame-to-frame flicker, stronger on one side and slightly coloured (a practical on a bad
    dimmer), over a shot whose light also changes slowly on purpose: the flicker must go, the
    slow change must stay (no pumping)."""
    rng = np.random.default_rng(seed)
    scene = make_scene(scene_name, height, width)
    base = film(scene, frames, height, width, Camera(pan=(0.1, 0.03)), rng)
    slow = np.linspace(0.92, 1.04, frames, dtype=np.float32)[:, None, None, None]
    clean = np.clip(base * slow + grain(rng, base.shape, sigma), 0, 1)
    flicker = rng.uniform(-1, 1, frames).astype(np.float32)
    flicker -= flicker.mean()
    xs = np.linspace(0.6, 1.4, width, dtype=np.float32)[None, None, :, None]
    tint = np.array([1.1, 1.0, 0.85], np.float32)
    gain = 1.0 + amplitude * flicker[:, None, None, None] * xs * tint
    damaged = np.clip(clean * gain, 0, 1)
    truth = damaged / gain
    return Case(f"deflicker {width}x{height}", "exposure", _clip(damaged), torch.from_numpy(truth),
                torch.from_numpy(clean), params={"target": "median"})


# --- background replacement ----------------------------------------------------------------------

def _foreground(height: int, width: int, frames: int, rng: np.random.Generator, texture: np.ndarray):
    """A subject (body, head and a few half-transparent strands of hair) that moves and turns as
    one piece, its texture going with it: alpha [T, H, W] and colour [T, H, W, 3]."""
    import cv2

    k = 4  # drawn at 4x and reduced: anti-aliased edges
    cx, cy = width / 2, height * 0.58
    body = np.zeros((height * k, width * k), np.uint8)
    cv2.ellipse(body, (int(cx * k), int(cy * k)), (int(0.16 * width * k), int(0.3 * height * k)), 0, 0, 360, 255, -1)
    cv2.circle(body, (int(cx * k), int((cy - 0.36 * height) * k)), int(0.11 * height * k), 255, -1)
    solid = cv2.resize(body, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    solid = cv2.GaussianBlur(solid, (0, 0), 0.8)
    strands = [(rng.uniform(-0.6, 0.6), rng.uniform(0.25, 0.45)) for _ in range(5)]
    alpha = np.zeros((frames, height, width), np.float32)
    colour = np.zeros((frames, height, width, 3), np.float32)
    for t in range(frames):
        s = t / max(frames - 1, 1)
        angle = -25.0 * s
        shift = (0.12 * width * (s - 0.5) * 2 * 0.7, -0.05 * height * np.sin(2 * s))
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
        matrix[:, 2] += shift
        moved = cv2.warpAffine(solid, matrix, (width, height), flags=cv2.INTER_LINEAR)
        colour[t] = cv2.warpAffine(texture, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
        hair = np.zeros((height * k, width * k), np.uint8)
        for a0, length in strands:
            a = a0 + 0.2 * np.sin(3 * s)
            x0, y0 = cx * k, (cy - 0.4 * height) * k
            x1, y1 = x0 + np.sin(a) * length * height * k, y0 - np.cos(a) * length * height * k
            cv2.line(hair, (int(x0), int(y0)), (int(x1), int(y1)), 255, max(1, k // 2))
        hair = cv2.resize(hair, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        hair = cv2.warpAffine(hair, matrix, (width, height), flags=cv2.INTER_LINEAR)
        alpha[t] = np.maximum(moved, 0.6 * hair)
    return np.clip(alpha, 0, 1), colour


def green_screen_case(height: int = 240, width: int = 432, frames: int = 16, seed: int = 4,
                      sigma: float = 0.01) -> Case:
    """A foreground over an unevenly lit, creased green screen, with green spill on its edges."""
    import cv2

    rng = np.random.default_rng(seed)
    texture = make_scene("chelsea", height, width)[:height, :width]
    alpha, foreground = _foreground(height, width, frames, rng, 0.15 + 0.8 * texture)
    light = 0.78 + 0.22 * _smooth_field(rng, height, width, 3)
    creases = 0.05 * _smooth_field(rng, height, width, 12)
    screen_colour = np.array([0.20, 0.62, 0.26], np.float32)
    screen = (screen_colour * (light + creases)[..., None]).astype(np.float32)
    screen = np.repeat(screen[None], frames, axis=0)
    # spill: screen light bouncing onto the subject near its edges
    spill = np.stack([cv2.GaussianBlur(1 - a, (0, 0), 4) for a in alpha]) * alpha
    spilled = foreground + 0.25 * spill[..., None] * (screen_colour - foreground.mean(-1, keepdims=True) * 0.5)
    spilled = np.clip(spilled, 0, 1)
    shot = alpha[..., None] * spilled + (1 - alpha[..., None]) * screen
    shot = np.clip(shot + grain(rng, shot.shape, sigma), 0, 1)
    plate = film(make_scene("rocket", height, width), frames, height, width, Camera(pan=(0.05, 0.0)), rng)
    truth = alpha[..., None] * foreground + (1 - alpha[..., None]) * plate
    return Case(f"green screen {width}x{height}", "background", _clip(shot), torch.from_numpy(truth),
                torch.from_numpy(truth), alpha=torch.from_numpy(alpha), plate=torch.from_numpy(plate),
                params={"matte": "chroma"})


def roto_case(height: int = 240, width: int = 432, frames: int = 16, seed: int = 5, sigma: float = 0.01,
              keyframes: tuple[int, ...] | None = None) -> Case:
    """The same kind of foreground over a real (moving, textured) background: no key colour,
    only masks drawn on a few keyframes."""
    rng = np.random.default_rng(seed)
    texture = make_scene("chelsea", height, width)[:height, :width]
    alpha, foreground = _foreground(height, width, frames, rng, 0.1 + 0.85 * texture)
    background = film(make_scene("coffee", height, width), frames, height, width, Camera(pan=(0.1, 0.02)), rng)
    shot = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    shot = np.clip(shot + grain(rng, shot.shape, sigma), 0, 1)
    plate = film(make_scene("rocket", height, width), frames, height, width, Camera(pan=(0.05, 0.0)), rng)
    truth = alpha[..., None] * foreground + (1 - alpha[..., None]) * plate
    keyframes = keyframes or tuple(sorted({0, frames // 2, frames - 1}))
    drawn = torch.zeros(alpha.shape, dtype=torch.bool)
    for k in keyframes:
        drawn[k] = torch.from_numpy(alpha[k] >= 0.5)
    return Case(f"roto {width}x{height}", "background", _clip(shot), torch.from_numpy(truth),
                torch.from_numpy(truth), mask=drawn, alpha=torch.from_numpy(alpha),
                plate=torch.from_numpy(plate), params={"matte": "keyframes", "keyframes": list(keyframes)})


# --- cases from a real clip (the clip is taken as the clean truth) -------------------------------

def real_cases(clean: torch.Tensor, masks: torch.Tensor | None, name: str, seed: int = 0) -> list[Case]:
    """The same damages applied to a real clip: holes from a mask folder (drawn for another
    shot, as in DAVIS-style evaluation, so what is behind them is known), the known grade with
    the clip's second half as the reference, the exposure error, and flicker."""
    rng = np.random.default_rng(seed)
    frames = clean.numpy()
    t, h, w = frames.shape[:3]
    cases = []
    if masks is not None:
        hole = masks[:t].bool()
        if len(hole) < t:  # fewer masks than frames: cycle them
            hole = hole[torch.arange(t) % len(hole)]
        damaged = clean.clone()
        damaged[hole] = 0.5
        cases.append(Case(f"removal {name}", "removal", _clip(damaged.numpy()), clean, clean, mask=hole))
    half = max(1, t // 2)
    grade = teal_orange()
    source = np.clip(grade.apply(frames[:half + 1]), 0, 1)
    cases.append(Case(f"colour {name}", "colour", _clip(source), torch.from_numpy(frames[:half + 1]),
                      torch.from_numpy(frames[:half + 1]), reference=_clip(frames[half:])))
    gain = _exposure_gain(h, w, t)
    damaged = np.clip(frames * gain, 0, 1) ** 1.08
    cases.append(Case(f"exposure {name}", "exposure", _clip(damaged), torch.from_numpy((damaged ** (1 / 1.08)) / gain),
                      clean, reference=_clip(frames[t // 2]), params={"target": "reference"}))
    flicker = rng.uniform(-1, 1, t).astype(np.float32)
    flicker -= flicker.mean()
    gain = 1.0 + 0.08 * flicker[:, None, None, None] * np.array([1.1, 1.0, 0.85], np.float32)
    damaged = np.clip(frames * gain, 0, 1)
    cases.append(Case(f"deflicker {name}", "exposure", _clip(damaged), torch.from_numpy(damaged / gain), clean,
                      params={"target": "median"}))
    return cases


# --- cross-shot colour and exposure on real footage ----------------------------------------------

@dataclass
class PrimaryGrade:
    """What a colourist's primaries do: lift, gamma and gain per channel, then saturation and a
    hue rotation about the grey axis (luma kept)."""

    lift: tuple[float, float, float]
    gamma: tuple[float, float, float]
    gain: tuple[float, float, float]
    saturation: float
    hue_degrees: float

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        x = np.clip(rgb, 0, 1).astype(np.float32)
        lift, gamma, gain = (np.asarray(v, np.float32) for v in (self.lift, self.gamma, self.gain))
        x = np.clip(x * gain + lift * (1 - x), 0, 1) ** (1 / gamma)
        weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
        luma = (x * weights).sum(-1, keepdims=True)
        axis = np.ones(3, np.float32) / np.sqrt(3)
        cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]], np.float32)
        angle = np.deg2rad(self.hue_degrees)
        rotation = np.eye(3, dtype=np.float32) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross
        chroma = (x - luma) @ rotation.T
        chroma = chroma - (chroma * weights).sum(-1, keepdims=True)
        return np.clip(luma + self.saturation * chroma, 0, 1).astype(np.float32)


PRIMARY_GRADES = (
    PrimaryGrade((0.03, 0.0, -0.02), (1.1, 1.0, 0.9), (1.05, 0.98, 0.88), 1.25, 8.0),
    PrimaryGrade((-0.02, 0.01, 0.04), (0.9, 1.0, 1.15), (0.92, 1.0, 1.08), 0.75, -10.0),
    PrimaryGrade((0.05, 0.02, 0.0), (1.2, 1.1, 1.0), (1.1, 1.0, 0.85), 1.3, 5.0),
)


def _other_frame(t: int, offset: int, count: int) -> int:
    return t + offset if t + offset < count else t - offset


def cross_shot_colour_cases(clean: torch.Tensor, name: str, length: int = 3, offsets=(20, 30)) -> list[Case]:
    """A few frames graded with known primaries; the reference is another frame of the clip
    `offset` frames away, ungraded; the truth is the frames before the grade. Also, per start:
    a pan (the shot is the left 70% of the frame, the reference the right 70% of the other
    frame) and a reference that cannot align (the other frame mirrored: same colours, same
    foliage, nothing in place)."""
    frames = clean.numpy()
    count, width = len(frames), frames.shape[2]
    starts = np.linspace(5, max(5, count - length - 5), len(PRIMARY_GRADES)).round().astype(int)
    crop = int(width * 0.7)
    cases = []
    for grade, start in zip(PRIMARY_GRADES, starts):
        shot = frames[start:start + length]
        for offset in offsets:
            other = _other_frame(int(start), offset, count)
            variants = [("", shot, frames[other:other + 1])]
            if offset == offsets[0]:
                variants += [(" pan", shot[:, :, :crop], frames[other:other + 1, :, width - crop:]),
                             (" mirrored reference", shot, frames[other:other + 1, :, ::-1])]
            for label, truth, reference in variants:
                truth = np.ascontiguousarray(truth)
                cases.append(Case(f"colour {name} f{start}->f{other}{label}", "colour", _clip(grade.apply(truth)),
                                  torch.from_numpy(truth), torch.from_numpy(truth),
                                  reference=_clip(np.ascontiguousarray(reference))))
    return cases


def cross_shot_exposure_cases(clean: torch.Tensor, name: str, length: int = 4, offset: int = 25) -> list[Case]:
    """Exposure and white balance off (under, then over), and a light that brightens one side of
    the frame (a local relight: once fitted over the whole frame, once with the region a
    supervisor would draw around it); the reference is an untouched frame `offset` frames away."""
    frames = clean.numpy()
    count, h, w = frames.shape[:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    glow = 0.6 * np.exp(-(((xs / w - 0.8) ** 2) + ((ys / h - 0.35) ** 2)) / 0.04)
    lamp = 1.0 + glow[..., None] * np.array([1.08, 1.0, 0.9], np.float32)  # a warm practical
    damages = (("under and warm", 5, np.float32(0.75) * np.array([1.06, 0.98, 0.8], np.float32), 1.08),
               ("over and cool", count // 2, np.float32(1.25) * np.array([0.92, 1.0, 1.1], np.float32), 0.95),
               ("local light", 10, lamp, 1.0))
    region = torch.from_numpy(glow > 0.02)  # drawn generously around the light, as a supervisor would
    cases = []
    for label, start, gain, power in damages:
        start = min(start, count - length)
        truth = frames[start:start + length]
        other = _other_frame(start, offset, count)
        damaged = np.clip(truth * gain, 0, 1) ** power
        # where the damage clipped, the truth is what a perfect fix could give back
        reachable = np.clip(np.clip(damaged ** (1 / power) / gain, 0, 1), 0, 1).astype(np.float32)
        cases.append(Case(f"exposure {name} {label} f{start}->f{other}", "exposure", _clip(damaged.astype(np.float32)),
                          torch.from_numpy(reachable), torch.from_numpy(np.ascontiguousarray(truth)),
                          reference=_clip(frames[other:other + 1]), params={"target": "reference"}))
    last = cases[-1]
    cases.append(Case(last.name.replace("local light", "local light in a drawn region"), "exposure", last.clip,
                      last.truth, last.clean, reference=last.reference, mask=region,
                      params={"target": "reference", "field": "per_shot"}))
    return cases
