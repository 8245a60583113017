"""Footage for the demo production, generated so that it looks and behaves like real plates.

Each shot is a camera move (pan, push-in, handheld shake) over one of the photographs that
scikit-image ships in its wheel, with film grain and the problems that Answerprint's fixes
solve: a boom dipping into frame, exposure flicker, a shot graded unlike its neighbour and a
green-screen shot. Sources vary the way a production's do: H.264 .mp4, ProRes .mov and a PNG
image sequence; 24 and 24000/1001 frames per second; camera start timecodes.

Every frame carries its frame number twice in the bottom-left corner: as digits for people and
as a strip of black and white blocks for machines, so that a test can read from the pixels
exactly which frame a player shows (`read_burned_frame_number`).

Everything is deterministic: fixed seeds, and ffmpeg in bit-exact mode, so two generations give
byte-identical files (and the same sha256 at ingest).

No Django here: the generator runs from the management command, the tests and the benchmarks.
"""
import hashlib
import json
import math
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FIRST_FRAME = 1001


@dataclass(frozen=True)
class FootageSize:
    width: int
    height: int
    # Frames of each shot are scaled by this factor (tests use short shots), never below 8.
    frames_scale: float = 1.0

    def __post_init__(self):
        # 4:2:0 video and the grain's 2×2 dye clumps both need even dimensions.
        if self.width % 2 or self.height % 2 or self.width < 64 or self.height < 36:
            raise ValueError(f"Footage must be at least 64×36 with even sides, not {self.width}×{self.height}.")

    @property
    def key(self):
        return f"{self.width}x{self.height}" + ("" if self.frames_scale == 1.0 else f"-f{self.frames_scale:g}")


STANDARD = FootageSize(960, 540)
SMALL = FootageSize(160, 90, frames_scale=0.2)


@dataclass(frozen=True)
class CameraMove:
    """Where the camera looks at the start and at the end of the shot, in the source picture.

    Centres are fractions of the source's width and height; `view` is the fraction of the
    source's height that fills the frame (smaller is closer). `shake` scales a handheld wobble.
    """

    start: tuple  # (centre x, centre y, view)
    end: tuple
    shake: float = 0.0


@dataclass(frozen=True)
class ShotSpec:
    name: str
    sequence: str
    source: str  # a skimage.data photograph
    frames: int  # at the standard size
    fps_num: int
    fps_den: int
    container: str  # "mp4" (H.264), "mov" (ProRes 422 HQ) or "png" (image sequence)
    timecode: str
    move: CameraMove
    seed: int
    summary: str
    problems: tuple = ()  # "boom", "flicker", "grade", "greenscreen"
    roles: tuple = ()  # what the shot is for in the demo: "clean", "performer", "reference:<shot>"
    grain: float = 1.0


SHOTS = (
    ShotSpec(
        name="SC010_SH010", sequence="SC010", source="coffee", frames=60, fps_num=24, fps_den=1,
        container="mp4", timecode="11:02:14:00",
        move=CameraMove(start=(0.44, 0.52, 0.70), end=(0.56, 0.48, 0.70)), seed=1010,
        summary="Café, slow pan across the espresso. Clean; the colour reference for SC010_SH020.",
        roles=("clean",),
    ),
    ShotSpec(
        name="SC010_SH020", sequence="SC010", source="coffee", frames=48, fps_num=24, fps_den=1,
        container="mp4", timecode="11:04:51:12",
        move=CameraMove(start=(0.45, 0.45, 0.80), end=(0.43, 0.40, 0.52)), seed=1020,
        summary="Café, push-in on the cup. Graded warm unlike its neighbours: match colour to SC010_SH010.",
        problems=("grade",), roles=("reference:SC010_SH010",),
    ),
    ShotSpec(
        name="SC010_SH030", sequence="SC010", source="chelsea", frames=72, fps_num=24, fps_den=1,
        container="mov", timecode="11:09:03:05",
        move=CameraMove(start=(0.52, 0.50, 0.82), end=(0.50, 0.44, 0.70), shake=0.4), seed=1030,
        summary="Café, the cat looks up (A camera, ProRes).",
        problems=("boom",),
    ),
    ShotSpec(
        name="SC020_SH010", sequence="SC020", source="rocket", frames=60, fps_num=24000, fps_den=1001,
        container="mp4", timecode="19:41:27:08",
        move=CameraMove(start=(0.42, 0.62, 0.62), end=(0.50, 0.46, 0.58)), seed=2010,
        summary="Launch pad at dusk, tilt up to the rocket (B camera, 23.976).",
        problems=("flicker",),
    ),
    ShotSpec(
        name="SC020_SH020", sequence="SC020", source="hubble_deep_field", frames=48, fps_num=24, fps_den=1,
        container="mp4", timecode="19:58:40:00",
        move=CameraMove(start=(0.50, 0.50, 0.50), end=(0.55, 0.47, 0.34)), seed=2020,
        summary="Deep-field insert, slow push. Clean.",
        roles=("clean",),
    ),
    ShotSpec(
        name="SC030_SH010", sequence="SC030", source="astronaut", frames=60, fps_num=24, fps_den=1,
        container="mp4", timecode="14:20:05:16",
        move=CameraMove(start=(0.44, 0.30, 0.58), end=(0.44, 0.21, 0.38), shake=1.0), seed=3010,
        summary="The commander's close-up, handheld push-in.",
        roles=("performer",),
    ),
    ShotSpec(
        name="SC030_SH020", sequence="SC030", source="astronaut", frames=48, fps_num=24, fps_den=1,
        # Image files carry no timecode; on a locked-off camera the move is the performer's sway
        # (her centre as a fraction of the frame width).
        container="png", timecode="",
        move=CameraMove(start=(0.47, 0.5, 0.0), end=(0.53, 0.5, 0.0)), seed=3020,
        summary="The commander on green screen, locked off (VFX plate, PNG sequence).",
        problems=("greenscreen",), roles=("performer",), grain=0.45,
    ),
)

# What each problem asks of the fix, for the shot's description.
_NEEDS = {
    "grade": "",  # said in the summary, which names the reference shot
    "flicker": "Exposure flickers frame to frame: deflicker.",
    "greenscreen": "Uneven screen with green spill on the edges: replace the background.",
}


# ---------------------------------------------------------------------------------------------
# The burned-in frame number


_STRIP_BLOCKS = 19  # white, black (levels for the reader), 16 bits of the number, even parity
_STRIP_DATA_BITS = 16


def _strip_layout(width, height):
    """Block rectangles (x0, y0, x1, y1) of the strip, the backing plate and the digits' box.

    Everything scales with the frame width, so the reader finds the strip at any resolution
    the footage is shown at (a 640-wide proxy, a 960-wide original, a 160-wide test clip).
    """
    unit = width / 48.0
    x_origin = 1.0 * unit
    y0 = height - 2.0 * unit
    blocks = []
    for k in range(_STRIP_BLOCKS):
        x0 = x_origin + k * unit
        blocks.append((round(x0), round(y0), round(x0 + unit), round(y0 + unit)))
    plate = (round(0.5 * unit), round(height - 3.6 * unit), round(x_origin + (_STRIP_BLOCKS + 6.5) * unit),
             round(height - 0.5 * unit))
    digits = (round(x_origin + (_STRIP_BLOCKS + 0.6) * unit), round(height - 3.3 * unit))
    return unit, blocks, plate, digits


def _strip_bits(number):
    if not 0 <= number < 2 ** _STRIP_DATA_BITS:
        raise ValueError(f"A burned frame number must be 0..{2 ** _STRIP_DATA_BITS - 1}, not {number}.")
    data = [(number >> (_STRIP_DATA_BITS - 1 - i)) & 1 for i in range(_STRIP_DATA_BITS)]
    return [1, 0] + data + [sum(data) % 2]


@lru_cache(maxsize=8)
def _font(size):
    return ImageFont.load_default(size=max(6, size))


def burn_frame_number(rgb, number):
    """Return a copy of `rgb` (H×W×3 uint8) with `number` burned into the bottom-left corner."""
    out = np.array(rgb, dtype=np.uint8, copy=True)
    height, width = out.shape[:2]
    unit, blocks, plate, digits = _strip_layout(width, height)
    px0, py0, px1, py1 = plate
    out[py0:py1, px0:px1] = 96
    # Human-readable digits: drawn on a crop of the plate only, so the frame is not round-tripped.
    patch = Image.fromarray(out[py0:py1, px0:px1])
    ImageDraw.Draw(patch).text((digits[0] - px0, digits[1] - py0), f"{number}", fill=(255, 255, 255),
                               font=_font(round(2.6 * unit)))
    out[py0:py1, px0:px1] = np.asarray(patch)
    for bit, (x0, y0, x1, y1) in zip(_strip_bits(number), blocks):
        out[y0:y1, x0:x1] = 255 if bit else 0
    return out


def read_burned_frame_number(rgb_array):
    """The frame number burned into a frame by this module, read back from its pixels.

    Takes H×W×3 (RGB) or H×W×4 (RGBA, as a canvas gives) uint8 pixels, or H×W grey, at any size
    the whole frame is shown at. Each block is read from its middle half, which survives H.264
    and scaling; the two level blocks set the threshold, so a graded or deflickered frame still
    reads. Raises ValueError when the strip is missing or damaged (no contrast, bad parity)
    rather than guess a number.
    """
    pixels = np.asarray(rgb_array)
    if pixels.ndim == 3:
        channels = pixels[..., :3].astype(np.float32)
        luma = channels @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    elif pixels.ndim == 2:
        luma = pixels.astype(np.float32)
    else:
        raise ValueError(f"Expected an H×W×3, H×W×4 or H×W image, got shape {pixels.shape}.")
    if pixels.dtype != np.uint8:
        raise ValueError(f"Expected uint8 pixels, got {pixels.dtype}.")
    height, width = luma.shape
    _unit, blocks, _plate, _digits = _strip_layout(width, height)
    levels = []
    for x0, y0, x1, y1 in blocks:
        qx, qy = (x1 - x0) / 4.0, (y1 - y0) / 4.0
        sx0, sx1 = int(math.floor(x0 + qx)), int(math.ceil(x1 - qx))
        sy0, sy1 = int(math.floor(y0 + qy)), int(math.ceil(y1 - qy))
        region = luma[max(sy0, 0):max(sy1, sy0 + 1), max(sx0, 0):max(sx1, sx0 + 1)]
        if region.size == 0:
            raise ValueError("The frame is too small to hold a frame-number strip.")
        levels.append(float(region.mean()))
    white, black = levels[0], levels[1]
    if white - black < 64:
        raise ValueError("No frame-number strip found (its level blocks have no contrast).")
    threshold = (white + black) / 2
    # A block is plainly black or white; one in between means this is not a strip (or a torn one).
    if any(abs(level - threshold) < 0.25 * (white - black) for level in levels[2:]):
        raise ValueError("No frame-number strip found (some blocks are neither black nor white).")
    bits = [1 if level > threshold else 0 for level in levels[2:]]
    data, parity = bits[:_STRIP_DATA_BITS], bits[_STRIP_DATA_BITS]
    if sum(data) % 2 != parity:
        raise ValueError("The frame-number strip is damaged (parity does not match).")
    return int("".join(map(str, data)), 2)


# ---------------------------------------------------------------------------------------------
# Rendering


@lru_cache(maxsize=8)
def _source(name):
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def frame_count(spec, size):
    return max(8, round(spec.frames * size.frames_scale))


def _ease(t):
    return t * t * (3 - 2 * t)


def _shake(seed, index, fps):
    """A handheld wobble: a few incommensurate sines, so it never visibly repeats."""
    rng = np.random.default_rng(seed)
    t = index / fps
    freqs = rng.uniform(0.4, 2.6, size=(3, 3))
    phases = rng.uniform(0, 2 * math.pi, size=(3, 3))
    weights = np.array([1.0, 0.5, 0.25])
    dx, dy, rot = (float((weights * np.sin(2 * math.pi * freqs[k] * t + phases[k])).sum()) for k in range(3))
    return dx, dy, rot


def _camera_affine(spec, index, n_frames, size, src_w, src_h):
    """Pillow AFFINE data mapping an output pixel to the source pixel it shows."""
    t = _ease(index / max(1, n_frames - 1))
    (cx0, cy0, v0), (cx1, cy1, v1) = spec.move.start, spec.move.end
    cx = (cx0 + (cx1 - cx0) * t) * src_w
    cy = (cy0 + (cy1 - cy0) * t) * src_h
    view_h = (v0 + (v1 - v0) * t) * src_h
    rotation = 0.0
    if spec.move.shake:
        dx, dy, rot = _shake(spec.seed, index, spec.fps_num / spec.fps_den)
        cx += spec.move.shake * 0.006 * view_h * dx
        cy += spec.move.shake * 0.006 * view_h * dy
        rotation = spec.move.shake * math.radians(0.25) * rot
    aspect = size.width / size.height
    # Keep the (slightly rotated) view inside the photograph: no black corners in a real plate.
    margin = 1.0 + 2.0 * abs(rotation)
    view_h = min(view_h, src_h / margin, src_w / (aspect * margin))
    half_w, half_h = view_h * aspect * margin / 2, view_h * margin / 2
    cx = min(max(cx, half_w), src_w - half_w)
    cy = min(max(cy, half_h), src_h - half_h)
    scale = view_h / size.height
    a, b = scale * math.cos(rotation), -scale * math.sin(rotation)
    d, e = scale * math.sin(rotation), scale * math.cos(rotation)
    c = cx - a * size.width / 2 - b * size.height / 2
    f = cy - d * size.width / 2 - e * size.height / 2
    return (a, b, c, d, e, f)


@lru_cache(maxsize=8)
def _source_enlarged(name, factor):
    # Enlarged once with Lanczos, so that each frame's warp can be a cheap bilinear one.
    source = _source(name)
    if factor == 1:
        return source
    return source.resize((source.width * factor, source.height * factor), Image.Resampling.LANCZOS)


def _enlargement(spec, size):
    source = _source(spec.source)
    closest = min(spec.move.start[2], spec.move.end[2]) * source.height
    return max(1, min(3, round(size.height / closest)))


def _camera_frame(spec, index, n_frames, size):
    source = _source(spec.source)
    factor = _enlargement(spec, size)
    a, b, c, d, e, f = _camera_affine(spec, index, n_frames, size, source.width, source.height)
    data = (a * factor, b * factor, c * factor, d * factor, e * factor, f * factor)
    frame = _source_enlarged(spec.source, factor).transform(
        (size.width, size.height), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    return np.asarray(frame, dtype=np.float32) * np.float32(1 / 255)


# The commander's head and shoulders in astronaut.png (512×512), drawn generously by hand; the
# studio wall and the flag's white stripes inside it are then taken out by colour.
_SUBJECT_HEAD = (140, 4, 314, 200)  # ellipse boxes
_SUBJECT_COLLAR = (106, 143, 312, 300)
_SUBJECT_COLLAR_INSIDE = (130, 160, 290, 288)  # pale fabric that looks like wall but is suit
_SUBJECT_BODY = [(18, 512), (22, 360), (40, 300), (80, 272), (125, 250), (300, 250), (345, 272), (362, 320),
                 (372, 345), (400, 346), (440, 345), (475, 356), (500, 385), (512, 420), (512, 512)]


@lru_cache(maxsize=1)
def _subject_matte():
    import skimage.color
    from scipy import ndimage

    source = np.asarray(_source("astronaut"))
    drawn = Image.new("L", (source.shape[1], source.shape[0]), 0)
    draw = ImageDraw.Draw(drawn)
    draw.ellipse(_SUBJECT_HEAD, fill=255)
    draw.ellipse(_SUBJECT_COLLAR, fill=255)
    draw.polygon(_SUBJECT_BODY, fill=255)
    inside = Image.new("L", drawn.size, 0)
    ImageDraw.Draw(inside).ellipse(_SUBJECT_COLLAR_INSIDE, fill=255)
    hsv = skimage.color.rgb2hsv(source)
    wall = (hsv[..., 1] < 0.22) & (hsv[..., 2] > 0.5)
    wall &= ~(np.asarray(inside) > 0) & (np.arange(source.shape[0])[:, None] < 338)
    mask = ndimage.binary_opening((np.asarray(drawn) > 0) & ~wall, iterations=2)
    labels, count = ndimage.label(mask)
    largest = 1 + int(np.argmax(ndimage.sum(mask, labels, range(1, count + 1))))
    # Teeth and eye whites read as wall too: they are holes inside the subject, so fill them.
    mask = ndimage.binary_fill_holes(labels == largest)
    return Image.fromarray((mask * 255).astype(np.uint8))


@lru_cache(maxsize=2)
def _subject_rgba(height):
    """The commander cut out of her portrait, scaled to stand 0.95 of a frame `height` tall."""
    subject = _source("astronaut").copy()
    # A soft edge, as a lens and a little motion leave it; the key will have to work for it.
    subject.putalpha(_subject_matte().filter(ImageFilter.GaussianBlur(1.5)))
    side = max(2, round(0.95 * height))
    return subject.resize((side, side), Image.Resampling.LANCZOS)


@lru_cache(maxsize=4)
def _green_screen(width, height, seed):
    """An unevenly lit chroma-green backdrop: falloff, a hot spot and the seams between panels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x /= width
    y /= height
    light = 1.0 - 0.55 * ((x - 0.42) ** 2 + 0.8 * (y - 0.35) ** 2)
    light += 0.18 * np.exp(-(((x - 0.72) ** 2) / 0.02 + ((y - 0.22) ** 2) / 0.03))
    coarse = rng.normal(0, 1, size=(9, 16)).astype(np.float32)
    wrinkles = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
    light += 0.035 * wrinkles
    for seam in (0.31, 0.64, 0.93):
        light -= 0.05 * np.exp(-((x - seam) ** 2) / (2 * (0.0025 ** 2)))
    green = np.array([0.10, 0.66, 0.22], dtype=np.float32)
    return np.clip(light[..., None] * green, 0, 1)


def _subject_offset(spec, index, n_frames, size):
    """Where the subject's top-left corner sits in frame `index`: the performer sways a little."""
    t = _ease(index / max(1, n_frames - 1))
    sway = spec.move.start[0] + (spec.move.end[0] - spec.move.start[0]) * t
    sway += 0.006 * math.sin(2 * math.pi * index / 37.0)
    left = sway * size.width - _subject_rgba(size.height).width / 2
    top = 0.10 * size.height + 0.004 * size.height * math.sin(2 * math.pi * index / 23.0)
    return left, top


def _green_screen_frame(spec, index, n_frames, size):
    left, top = _subject_offset(spec, index, n_frames, size)
    layer = _subject_rgba(size.height).transform(
        (size.width, size.height), Image.Transform.AFFINE, (1, 0, -left, 0, 1, -top),
        resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0, 0))
    layer = np.asarray(layer, dtype=np.float32) * np.float32(1 / 255)
    rgb, alpha = layer[..., :3], layer[..., 3:4]
    screen = _green_screen(size.width, size.height, spec.seed)

    radius = max(1.0, size.height / 60)
    alpha_img = Image.fromarray(np.asarray(layer[..., 3] * 255, dtype=np.uint8))
    # The subject's soft shadow on the screen, down and to the right of the key light.
    blurred = np.asarray(alpha_img.filter(ImageFilter.GaussianBlur(radius * 3)), dtype=np.float32) / 255
    dx, dy = round(0.03 * size.width), round(0.01 * size.height)
    shadow = np.zeros_like(blurred)
    shadow[dy:, dx:] = blurred[:size.height - dy, :size.width - dx]
    screen = screen * (1 - 0.35 * shadow[..., None])
    # Spill: light bounced off the screen tints the subject's edges green.
    around = 1 - np.asarray(alpha_img.filter(ImageFilter.GaussianBlur(radius * 2)), dtype=np.float32) / 255
    spill = (0.55 * around + 0.04)[..., None]
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    rgb = rgb * (1 - spill) + spill * (0.4 * lum[..., None] + 0.9 * screen)
    rgb[..., 1] = np.maximum(rgb[..., 1], rgb[..., 1] * (1 + 0.5 * spill[..., 0]))
    return np.clip(alpha * rgb + (1 - alpha) * screen, 0, 1)


def green_screen_matte(spec, index, size):
    """The subject's true alpha (H×W float32) in a green-screen shot: the truth for a key."""
    if "greenscreen" not in spec.problems:
        raise ValueError(f"{spec.name} is not a green-screen shot.")
    left, top = _subject_offset(spec, index, frame_count(spec, size), size)
    alpha = _subject_rgba(size.height).getchannel("A").transform((size.width, size.height), Image.Transform.AFFINE,
                                              (1, 0, -left, 0, 1, -top), resample=Image.Resampling.BILINEAR)
    return np.asarray(alpha, dtype=np.float32) / 255


def boom_window(spec, size):
    """(first, last) frame index at which the boom is in frame, or None for a shot without it."""
    if "boom" not in spec.problems:
        return None
    n = frame_count(spec, size)
    return round(0.155 * (n - 1)), round(0.408 * (n - 1))


def _boom_layers(spec, index, size):
    """(pole, windshield) coverage of frame `index`, or None when the boom is out of frame."""
    height, width = size.height, size.width
    window = boom_window(spec, size)
    if window is None or not window[0] <= index <= window[1]:
        return None
    first, last = window
    u = (index - first + 0.5) / (last - first + 1)
    dip = math.sin(math.pi * u) ** 0.6  # drifts in, hangs, lifts out
    mic_len, mic_thick = 0.30 * height, 0.11 * height
    mic_x = (0.74 - 0.30 * u) * width
    mic_y = -0.5 * mic_thick + dip * 0.30 * height
    angle = math.radians(-14 + 8 * u)  # the pole runs up and to the right, out of frame
    cos, sin = math.cos(angle), math.sin(angle)
    scale = 2  # drawn at twice the size and reduced: anti-aliased edges

    def placed(points):
        return [((mic_x + px * cos - py * sin) * scale, (mic_y + px * sin + py * cos) * scale) for px, py in points]

    pole = Image.new("L", (width * scale, height * scale), 0)
    pole_w = max(1.5, 0.018 * height)
    reach = 2.0 * width
    ImageDraw.Draw(pole).polygon(
        placed([(0, -pole_w / 2), (reach, -pole_w / 2), (reach, pole_w / 2), (0, pole_w / 2)]), fill=255)

    # The windshield's fur: a ragged ellipse with hairs standing out of it, new in every frame.
    rng = np.random.default_rng(spec.seed * 1000 + index)
    mic = Image.new("L", pole.size, 0)
    draw = ImageDraw.Draw(mic)
    theta = np.linspace(0, 2 * math.pi, 96, endpoint=False)
    ragged = 1 + 0.05 * rng.uniform(-1, 1, theta.size)
    draw.polygon(placed([(-0.5 * mic_len * math.cos(th) * r, 0.5 * mic_thick * math.sin(th) * r)
                         for th, r in zip(theta, ragged)]), fill=255)
    hair_width = max(1, round(scale * height / 540))
    for th, length in zip(rng.uniform(0, 2 * math.pi, 240), rng.uniform(1.08, 1.45, 240)):
        draw.line(placed([(-0.5 * mic_len * math.cos(th) * r, 0.5 * mic_thick * math.sin(th) * r)
                          for r in (0.9, length)]), fill=255, width=hair_width)
    blur = max(0.5, height / 540 * 1.2)  # it moves: a little motion blur
    return tuple(np.asarray(layer.resize((width, height), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(blur)),
                            dtype=np.float32) / 255.0 for layer in (pole, mic))


def boom_matte(spec, index, size):
    """How much of each pixel the boom covers (H×W float32, 0..1): the truth for rig removal."""
    layers = _boom_layers(spec, index, size)
    if layers is None:
        return np.zeros((size.height, size.width), dtype=np.float32)
    return np.maximum(*layers)


def _apply_boom(rgb, spec, index, size):
    layers = _boom_layers(spec, index, size)
    if layers is None:
        return rgb
    pole, mic = layers
    rng = np.random.default_rng(spec.seed * 7 + index)
    fur = 0.13 + 0.12 * rng.random(mic.shape, dtype=np.float32)  # grey synthetic fur
    rows = np.flatnonzero(mic.max(axis=1) > 0.02)
    if rows.size:  # lit from above: brighter on top, falling into shadow underneath
        y = (np.arange(mic.shape[0], dtype=np.float32) - rows[0]) / max(1, rows[-1] - rows[0])
        fur *= np.clip(1.5 - 1.0 * y, 0.4, 1.5)[:, None]
    rgb = rgb * (1 - pole[..., None]) + np.float32(0.06) * pole[..., None]
    fur_rgb = np.stack([fur * 1.04, fur, fur * 0.95], axis=-1)
    return rgb * (1 - mic[..., None]) + fur_rgb * mic[..., None]


def flicker_gains(spec, size):
    """Per-frame exposure gain (linear light) of a flickering shot; ones for the others."""
    n = frame_count(spec, size)
    if "flicker" not in spec.problems:
        return np.ones(n, dtype=np.float64)
    rng = np.random.default_rng(spec.seed)
    # Lights on a bad ballast: a fast random jitter over a slow drift.
    drift = 0.05 * np.sin(np.linspace(0, 2.3 * math.pi, n))
    return 1.0 + drift + rng.uniform(-0.16, 0.16, n)


# The lab's mistake on the graded shot: warm and crunchy. Lift, gamma, gain per channel, then saturation.
GRADE = {"lift": (0.03, 0.0, -0.02), "gamma": (0.92, 1.0, 1.12), "gain": (1.10, 1.0, 0.82), "saturation": 1.2}


def _apply_grade(rgb, grade=GRADE):
    lift, gamma, gain = (np.array(grade[k], dtype=np.float32) for k in ("lift", "gamma", "gain"))
    rgb = np.clip(rgb * gain + lift * (1 - rgb), 0, 1) ** (1 / gamma)
    lum = (rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32))[..., None]
    return np.clip(lum + grade["saturation"] * (rgb - lum), 0, 1)


def _to_linear(rgb):
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _from_linear(lin):
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(np.maximum(lin, 0), 1 / 2.4) - 0.055)


@lru_cache(maxsize=1)
def _srgb_levels():
    levels = np.arange(256, dtype=np.float64) / 255.0
    return _to_linear(levels)


def _apply_flicker(rgb, gain):
    # Exposure is a gain on light, not on code values: scale in linear light through a table.
    codes = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    lut = np.clip(_from_linear(np.clip(_srgb_levels() * gain, 0, 1)), 0, 1).astype(np.float32)
    return lut[codes]


def _noise(rng, shape):
    # Uniform bytes are many times cheaper to draw than normals; the clumping below sums a few of
    # them per pixel, which is close enough to Gaussian for grain. Scaled to unit variance.
    count = math.prod(shape)
    return np.frombuffer(rng.bytes(count), dtype=np.int8).reshape(shape).astype(np.float32) * np.float32(1 / 73.9)


def _apply_grain(rgb, spec, index):
    """Film grain: strongest in the mid-tones, mostly in luminance, a new pattern every frame."""
    rng = np.random.default_rng([spec.seed, index])
    height, width = rgb.shape[:2]
    mono = _noise(rng, (height, width))
    # Grains clump: soften the white noise a little along both axes.
    mono[:, 1:] += 0.6 * mono[:, :-1]
    mono[1:, :] += 0.6 * mono[:-1, :]
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    amount = spec.grain * (0.0075 + 0.044 * lum * (1 - lum))
    mono *= amount
    rgb = rgb + mono[..., None]
    # The dye layers' own grain: coarser and weaker, different in each channel.
    chroma = _noise(rng, (height // 2, 1, width // 2, 1, 3))
    chroma *= np.float32(0.005 * spec.grain)
    rgb.reshape(height // 2, 2, width // 2, 2, 3)[...] += chroma
    return np.clip(rgb, 0, 1, out=rgb)


def render_frame(spec, index, size=STANDARD, *, problems=True, burn_in=True):
    """Frame `index` (0-based) of a shot as H×W×3 uint8. `problems=False` gives the clean truth."""
    n = frame_count(spec, size)
    if not 0 <= index < n:
        raise IndexError(f"{spec.name} has frames 0..{n - 1}, not {index}.")
    if "greenscreen" in spec.problems:
        rgb = _green_screen_frame(spec, index, n, size)
    else:
        rgb = _camera_frame(spec, index, n, size)
    if problems and "boom" in spec.problems:
        rgb = _apply_boom(rgb, spec, index, size)
    if problems and "flicker" in spec.problems:
        rgb = _apply_flicker(rgb, float(flicker_gains(spec, size)[index]))
    rgb = _apply_grain(rgb, spec, index)
    if problems and "grade" in spec.problems:
        rgb = _apply_grade(rgb)
    frame = (rgb * 255 + 0.5).astype(np.uint8)
    if burn_in:
        frame = burn_frame_number(frame, FIRST_FRAME + index)
    return frame


# ---------------------------------------------------------------------------------------------
# Encoding and the cached set


@dataclass
class GeneratedShot:
    name: str
    sequence: str
    description: str
    path: str  # relative to the footage folder; a printf pattern for an image sequence
    container: str
    first_frame: int
    last_frame: int
    fps_num: int
    fps_den: int
    timecode: str
    width: int
    height: int
    source: str
    problems: list
    roles: list
    # The truth behind each problem, for evaluating fixes: frame numbers, gains, the grade.
    truth: dict = field(default_factory=dict)

    @property
    def frame_count(self):
        return self.last_frame - self.first_frame + 1

    @property
    def fps(self):
        return Fraction(self.fps_num, self.fps_den)

    @property
    def is_sequence(self):
        return self.container == "png"


def ffmpeg_exe():
    import imageio_ffmpeg

    return os.environ.get("FFMPEG_BINARY") or imageio_ffmpeg.get_ffmpeg_exe()


def _encoder_args(spec):
    # Bit-exact, without dates or tool versions in the headers: the same pixels give the same bytes.
    exact = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
    # Rec. 709 in the stream's tags as well as in its pixels (the scale filter's own tags are partial).
    rec709 = ["-vf", "scale=out_color_matrix=bt709:out_range=tv,"
                   "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"]
    if spec.container == "mp4":
        return [*rec709, "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
                "-timecode", spec.timecode, "-movflags", "+faststart", *exact]
    if spec.container == "mov":
        return [*rec709, "-c:v", "prores_ks", "-profile:v", "3", "-vendor", "apl0", "-pix_fmt", "yuv422p10le",
                "-timecode", spec.timecode, *exact]
    if spec.container == "png":
        # A VFX plate as a camera-original numbered image sequence: no container, no timecode.
        return ["-c:v", "png", "-pix_fmt", "rgb24", "-compression_level", "3", "-f", "image2",
                "-start_number", str(FIRST_FRAME), *exact]
    raise ValueError(f"No encoder for {spec.container!r}.")


def _encode(spec, size, path):
    n = frame_count(spec, size)
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size.width}x{size.height}",
               "-framerate", f"{spec.fps_num}/{spec.fps_den}", "-i", "-",
               *_encoder_args(spec), str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for index in range(n):
            process.stdin.write(render_frame(spec, index, size).tobytes())
        process.stdin.close()
    except BrokenPipeError:
        pass
    errors = process.stderr.read().decode(errors="replace")
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg could not encode {spec.name}: {errors.strip()}")


def decode_frames(path, width, height, *, sequence_start=None):
    """Every frame of a movie or an image sequence (printf pattern) as N×H×W×3 uint8 RGB.

    Frames are scaled to `width`×`height` on the way when the file's size differs, as a
    browser shows a proxy.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin"]
    if sequence_start is not None:
        command += ["-start_number", str(sequence_start)]
    command += ["-i", str(path), "-vf", f"scale={width}:{height}:flags=bicubic",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not decode {path}: {result.stderr.decode(errors='replace').strip()}")
    frame_bytes = width * height * 3
    count = len(result.stdout) // frame_bytes
    return np.frombuffer(result.stdout, dtype=np.uint8)[:count * frame_bytes].reshape(count, height, width, 3)


def _describe(spec, size):
    n = frame_count(spec, size)
    parts = [spec.summary]
    window = boom_window(spec, size)
    if window:
        parts.append(f"Boom dips into frame at {FIRST_FRAME + window[0]}–{FIRST_FRAME + window[1]}: remove the rig.")
    for problem in spec.problems:
        if _NEEDS.get(problem):
            parts.append(_NEEDS[problem])
    if "performer" in spec.roles and "greenscreen" not in spec.problems:
        parts.append("Performer likeness: nothing that alters her performance without her consent.")
    parts.append(f"{n} frames, {FIRST_FRAME}–{FIRST_FRAME + n - 1}.")
    return " ".join(parts)


def _truth(spec, size):
    truth = {}
    window = boom_window(spec, size)
    if window:
        truth["boom_frames"] = [FIRST_FRAME + window[0], FIRST_FRAME + window[1]]
    if "flicker" in spec.problems:
        truth["flicker_gains"] = [round(float(g), 6) for g in flicker_gains(spec, size)]
    if "grade" in spec.problems:
        truth["grade"] = GRADE
    for role in spec.roles:
        if role.startswith("reference:"):
            truth["colour_reference"] = role.split(":", 1)[1]
    return truth


def _generated(spec, size):
    n = frame_count(spec, size)
    path = f"{spec.name}/{spec.name}.%04d.png" if spec.container == "png" else f"{spec.name}.{spec.container}"
    return GeneratedShot(
        name=spec.name, sequence=spec.sequence, description=_describe(spec, size), path=path,
        container=spec.container, first_frame=FIRST_FRAME, last_frame=FIRST_FRAME + n - 1,
        fps_num=spec.fps_num, fps_den=spec.fps_den, timecode=spec.timecode, width=size.width,
        height=size.height, source=spec.source, problems=list(spec.problems), roles=list(spec.roles),
        truth=_truth(spec, size),
    )


def _files_of(shot, folder):
    if shot.is_sequence:
        return [folder / (shot.path % number) for number in range(shot.first_frame, shot.last_frame + 1)]
    return [folder / shot.path]


def _cached(folder, fingerprint):
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("fingerprint") != fingerprint:
        return None
    shots = [GeneratedShot(**entry) for entry in manifest["shots"]]
    if not all(path.is_file() for shot in shots for path in _files_of(shot, folder)):
        return None
    return shots


def footage_folder(root, size=STANDARD):
    return Path(root) / size.key


def generate_demo_footage(root, size=STANDARD, *, specs=SHOTS, force=False):
    """Make (or find, when already made) the demo footage under `root`/<size>; return its shots.

    The folder is filled under a temporary name and renamed when complete, so an interrupted run
    leaves nothing that a later run would take for finished footage.
    """
    folder = footage_folder(root, size)
    # Any change to this module or to the specs may change the pixels: then the cache is remade.
    fingerprint = {"generator": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), "size": asdict(size),
                   "specs": hashlib.sha256(repr(tuple(specs)).encode()).hexdigest()}
    if not force:
        cached = _cached(folder, fingerprint)
        if cached is not None:
            return cached
    building = folder.with_name(f".{folder.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    shots = []
    try:
        for spec in specs:
            shot = _generated(spec, size)
            (building / shot.path).parent.mkdir(parents=True, exist_ok=True)
            _encode(spec, size, building / shot.path)
            shots.append(shot)
        (building / "manifest.json").write_text(json.dumps(
            {"fingerprint": fingerprint, "shots": [asdict(shot) for shot in shots]}, indent=2, ensure_ascii=False))
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(building, folder)
        except OSError:
            # Another process finished the same footage first: theirs is as good as ours.
            cached = _cached(folder, fingerprint)
            if cached is None:
                raise
            return cached
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return shots


def spec_named(name):
    for spec in SHOTS:
        if spec.name == name:
            return spec
    raise KeyError(name)
