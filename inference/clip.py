"""Clips in and out: a frame-accurate, streaming reader and writer over ffmpeg.

Frames come out as float32 RGB in 0..1 whatever the source's bit depth (8-bit sources through
rgb24, deeper ones through rgb48), one at a time, so a 4K shot never has to sit in memory whole:
the fixes fit on a small working copy and are applied frame by frame at full size.
Frame rates stay rational (24000/1001, never 23.976) and frames are counted from 0.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from .errors import EmptyClipError, MediaError, NonFiniteError, ParameterError

IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}


@functools.cache
def ffmpeg_binary() -> str:
    """FFMPEG_BINARY when set, else the binary shipped in the imageio-ffmpeg wheel."""
    if os.environ.get("FFMPEG_BINARY"):
        return os.environ["FFMPEG_BINARY"]
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def as_fraction(fps) -> Fraction:
    """24, "24000/1001" or Fraction(24000, 1001). Floats are refused: 23.976 is not 24000/1001."""
    if isinstance(fps, float):
        raise ParameterError(f"frame rate {fps!r} is a float; give a ratio such as '24000/1001' or Fraction(24000, 1001)")
    try:
        value = Fraction(fps)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ParameterError(f"frame rate {fps!r} is not a number like 24 or 24000/1001") from None
    if value <= 0:
        raise ParameterError(f"frame rate {fps!r} must be positive")
    return value


@dataclass
class Clip:
    """A shot in memory for fitting: frames [T, H, W, 3] float32 0..1 on the CPU, rate as a ratio."""

    frames: torch.Tensor
    fps: Fraction = Fraction(24)
    bit_depth: int = 8
    source: str | None = None
    start: int = 0

    def __post_init__(self):
        frames = self.frames
        if isinstance(frames, np.ndarray):
            frames = torch.from_numpy(np.ascontiguousarray(frames))
        if not isinstance(frames, torch.Tensor):
            raise ParameterError("Clip frames must be a tensor or array [T, H, W, 3]")
        if frames.ndim == 3 and frames.shape[-1] == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ParameterError(f"Clip frames must be [T, H, W, 3]; got shape {tuple(frames.shape)}")
        if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
            raise EmptyClipError("the clip has no frames")
        if frames.dtype == torch.uint8:
            frames = frames.float() / 255.0
        elif frames.dtype == torch.uint16:
            frames = frames.to(torch.int32).float() / 65535.0
        frames = frames.to(torch.float32)
        if not torch.isfinite(frames).all():
            bad = int((~torch.isfinite(frames)).any(dim=-1).flatten(1).any(dim=1).nonzero()[0])
            raise NonFiniteError(f"the clip has NaN or infinite values (first in frame {bad})")
        self.frames = frames.contiguous()
        self.fps = as_fraction(self.fps)

    @property
    def T(self) -> int:  # noqa: N802 - the usual name for a frame count
        return self.frames.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)"""
        return self.frames.shape[1], self.frames.shape[2]

    def __len__(self) -> int:
        return self.T

    def resized(self, max_side: int | None) -> "Clip":
        h, w = self.size
        if not max_side or max(h, w) <= max_side:
            return self
        nh, nw = fit_size(h, w, max_side)
        frames = torch.nn.functional.interpolate(self.frames.permute(0, 3, 1, 2), size=(nh, nw), mode="area")
        return Clip(frames.permute(0, 2, 3, 1), self.fps, self.bit_depth, self.source, self.start)


def fit_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """The size with the long side at most max_side, aspect kept, even (most codecs want it)."""
    if not max_side or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(2, 2 * round(height * scale / 2)), max(2, 2 * round(width * scale / 2))


@dataclass(frozen=True)
class MediaInfo:
    path: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    pix_fmt: str
    bit_depth: int
    layout: str  # "video", "folder" (image files) or "pattern" (printf sequence)
    start_number: int = 0


def bit_depth_of(pix_fmt: str) -> int:
    """yuv420p -> 8, yuv422p10le -> 10, rgb48le -> 16, gray16be -> 16, gbrpf32le -> 32."""
    if pix_fmt in {"rgb48le", "rgb48be", "bgr48le", "bgr48be"}:
        return 16
    if pix_fmt in {"rgba64le", "rgba64be", "bgra64le", "bgra64be"}:
        return 16
    match = re.search(r"(?:p|gray|f)(\d{2})(?:le|be)?$", pix_fmt)
    if match:
        return int(match.group(1))
    return 8


def _run(args: list[str], what: str, path: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", *args], capture_output=True)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise MediaError(f"ffmpeg could not {what} {path}: {' / '.join(tail) or 'no message'}")
    return proc


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _pattern_files(pattern: str, start_number: int) -> int:
    count = 0
    while os.path.exists(pattern % (start_number + count)):
        count += 1
    return count


def _imread(path: Path) -> np.ndarray:
    """An image file as float32 RGB 0..1; 8- and 16-bit files, grey or colour, alpha dropped."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MediaError(f"could not read image {path}")
    scale = 65535.0 if image.dtype == np.uint16 else 255.0 if image.dtype == np.uint8 else 1.0
    image = image.astype(np.float32) / scale
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def probe(path, fps=None, start_number: int = 0) -> MediaInfo:
    """Size, rational rate, frame count and bit depth of a video file, a folder of images or a
    printf image pattern ("plate.%04d.png"; fps then comes from the caller, default 24)."""
    path = str(path)
    if os.path.isdir(path):
        files = _image_files(Path(path))
        if not files:
            raise EmptyClipError(f"{path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        first = _imread_raw_info(files[0])
        return MediaInfo(path, first[1], first[0], as_fraction(fps or 24), len(files), first[2], first[3], "folder")
    if "%" in path:
        count = _pattern_files(path, start_number)
        if not count:
            raise EmptyClipError(f"no file matches {path} from number {start_number}")
        first = _imread_raw_info(Path(path % start_number))
        return MediaInfo(path, first[1], first[0], as_fraction(fps or 24), count, first[2], first[3], "pattern",
                         start_number)
    if not os.path.exists(path):
        raise MediaError(f"{path} does not exist")
    proc = _run(["-i", path, "-map", "0:v:0", "-vf", "showinfo", "-frames:v", "1", "-f", "null", "-"], "probe", path)
    log = proc.stderr.decode(errors="replace")
    rate = re.search(r"config in time_base: \S+, frame_rate: (\d+)/(\d+)", log)
    frame = re.search(r"fmt:(\S+).*? s:(\d+)x(\d+)", log)
    if not frame:
        raise EmptyClipError(f"{path} has no decodable video frame")
    rate_value = Fraction(int(rate.group(1)), int(rate.group(2))) if rate and int(rate.group(2)) else None
    if fps is not None:
        rate_value = as_fraction(fps)
    if not rate_value:
        raise MediaError(f"{path} has no constant frame rate; pass fps explicitly")
    count_log = _run(["-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], "count frames of", path)
    counts = re.findall(r"frame=\s*(\d+)", count_log.stderr.decode(errors="replace"))
    frame_count = int(counts[-1]) if counts else 0
    pix_fmt = frame.group(1)
    return MediaInfo(path, int(frame.group(2)), int(frame.group(3)), rate_value, frame_count, pix_fmt,
                     bit_depth_of(pix_fmt), "video")


def _imread_raw_info(path: Path) -> tuple[int, int, str, int]:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MediaError(f"could not read image {path}")
    depth = 16 if image.dtype == np.uint16 else 32 if image.dtype == np.float32 else 8
    return image.shape[0], image.shape[1], str(image.dtype), depth


def iter_frames(path, start: int = 0, count: int | None = None, max_side: int | None = None,
                info: MediaInfo | None = None, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Frames start .. start+count-1 as float32 [H, W, 3] arrays, one at a time.

    Seeking is frame-accurate: ffmpeg is asked for the time half a frame before the wanted frame,
    so it decodes from the preceding keyframe and drops every frame whose timestamp is earlier,
    with no rounding of 1001/24000 steps able to land on the wrong side."""
    info = info or probe(path)
    if start < 0 or start >= max(info.frame_count, 1):
        raise ParameterError(f"start frame {start} is outside 0..{info.frame_count - 1}")
    available = info.frame_count - start
    count = available if count is None else min(count, available)
    height, width = size or fit_size(info.height, info.width, max_side)
    if info.layout in {"folder", "pattern"}:
        files = (_image_files(Path(info.path)) if info.layout == "folder"
                 else [Path(info.path % (info.start_number + i)) for i in range(info.frame_count)])
        for file in files[start:start + count]:
            image = _imread(file)
            if image.shape[:2] != (height, width):
                import cv2

                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)  # noqa: PLW2901
            yield image
        return
    deep = info.bit_depth > 8
    args = []
    if start:
        args += ["-ss", f"{float((start - Fraction(1, 2)) / info.fps):.6f}"]
    args += ["-i", info.path, "-map", "0:v:0", "-fps_mode", "passthrough", "-frames:v", str(count)]
    if (height, width) != (info.height, info.width):
        args += ["-vf", f"scale={width}:{height}:flags=area"]
    args += ["-f", "rawvideo", "-pix_fmt", "rgb48le" if deep else "rgb24", "pipe:1"]
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    frame_bytes = height * width * 3 * (2 if deep else 1)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    produced = 0
    try:
        while produced < count:
            buffer = proc.stdout.read(frame_bytes)
            if len(buffer) < frame_bytes:
                break
            array = np.frombuffer(buffer, dtype="<u2" if deep else np.uint8).reshape(height, width, 3)
            yield array.astype(np.float32) / (65535.0 if deep else 255.0)
            produced += 1
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        code = proc.wait()
    if produced < count and code != 0:
        raise MediaError(f"ffmpeg could not decode {info.path}: {stderr.strip()[-300:]}")
    if produced < count:
        raise MediaError(f"{info.path} ended after {produced} of {count} frames from frame {start}")


def read_clip(path, start: int = 0, count: int | None = None, max_side: int | None = None, fps=None,
              start_number: int = 0) -> Clip:
    """The frames start .. start+count-1 of a file, folder or pattern in memory, at most max_side."""
    info = probe(path, fps=fps, start_number=start_number)
    frames = list(iter_frames(path, start, count, max_side, info))
    if not frames:
        raise EmptyClipError(f"{path} gave no frames")
    return Clip(torch.from_numpy(np.stack(frames)), info.fps, info.bit_depth, str(path), start)


CODECS = {
    # ProRes 4444 (10-bit 4:4:4, alpha when given): what Resolve and Nuke take in without a fuss.
    ".mov": (["-c:v", "prores_ks", "-profile:v", "4", "-vendor", "apl0"], "yuv444p10le", "yuva444p10le"),
    # FFV1 in Matroska: lossless 16-bit RGB, for archive and exact round trips.
    ".mkv": (["-c:v", "ffv1", "-level", "3"], "gbrp16le", "gbrap16le"),
    # H.264 4:2:0 for a quick look in a browser; no alpha.
    ".mp4": (["-c:v", "libx264", "-crf", "12", "-preset", "medium", "-movflags", "+faststart"], "yuv420p", None),
}


class ClipWriter:
    """Streams float frames (and an optional alpha) into an encoder: .mov ProRes 4444,
    .mkv FFV1 16-bit, .mp4 H.264. Tagged Rec.709, frame rate kept as the ratio given."""

    def __init__(self, path, fps, width: int, height: int, alpha: bool = False):
        self.path = str(path)
        suffix = Path(self.path).suffix.lower()
        if suffix not in CODECS:
            raise ParameterError(f"cannot write {suffix or 'a file without suffix'}: use one of {', '.join(CODECS)}")
        codec, pix_fmt, alpha_fmt = CODECS[suffix]
        if alpha and not alpha_fmt:
            raise ParameterError(f"{suffix} cannot carry an alpha channel; use .mov or .mkv")
        self.width, self.height, self.alpha = width, height, alpha
        self.fps = as_fraction(fps)
        self.frames = 0
        channels = "rgba64le" if alpha else "rgb48le"
        out_fmt = alpha_fmt if alpha else pix_fmt
        colour = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
        matrix = [] if out_fmt.startswith(("gbr", "rgb")) else ["-vf", "scale=out_color_matrix=bt709:out_range=tv"]
        cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", channels, "-s", f"{width}x{height}",
               "-framerate", f"{self.fps.numerator}/{self.fps.denominator}", "-i", "pipe:0",
               *matrix, *codec, "-pix_fmt", out_fmt, *colour, self.path]
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, frame, alpha=None) -> None:
        frame = _as_numpy(frame)
        if frame.shape != (self.height, self.width, 3):
            raise ParameterError(f"frame of shape {frame.shape} given to a {self.width}x{self.height} writer")
        if self.alpha:
            if alpha is None:
                raise ParameterError("this writer carries alpha: give one with each frame")
            frame = np.concatenate([frame, _as_numpy(alpha).reshape(self.height, self.width, 1)], axis=2)
        data = np.round(np.clip(frame, 0.0, 1.0) * 65535.0).astype("<u2")
        try:
            self._proc.stdin.write(data.tobytes())
        except BrokenPipeError:
            self._fail()
        self.frames += 1

    def _fail(self):
        stderr = self._proc.stderr.read().decode(errors="replace")
        raise MediaError(f"ffmpeg could not write {self.path}: {stderr.strip()[-300:]}")

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        if self._proc.wait() != 0:
            self._fail()
        self._proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:  # leave no half-written process behind, and keep the original error
            self._proc.kill()
            self._proc.wait()
            self._proc.stderr.close()


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float32)


def write_clip(path, frames: Iterable, fps, alpha: Iterable | None = None) -> str:
    """Encode frames ([T, H, W, 3] or any iterable of [H, W, 3]) to path; returns the path."""
    if isinstance(frames, Clip):
        fps, frames = frames.fps, frames.frames
    frames = iter(frames)
    alphas = iter(alpha) if alpha is not None else None
    first = next(frames, None)
    if first is None:
        raise EmptyClipError("no frames to write")
    first = _as_numpy(first)
    with ClipWriter(path, fps, first.shape[1], first.shape[0], alpha=alphas is not None) as writer:
        writer.write(first, next(alphas) if alphas else None)
        for frame in frames:
            writer.write(frame, next(alphas) if alphas else None)
    return str(path)


def write_frames(folder, frames: Iterable, start_number: int = 0, grey: bool = False) -> list[str]:
    """16-bit PNG files 000000.png, 000001.png ... (grey for a matte)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames, start=start_number):
        array = np.round(np.clip(_as_numpy(frame), 0.0, 1.0) * 65535.0).astype(np.uint16)
        if not grey:
            array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
        path = folder / f"{index:06d}.png"
        cv2.imwrite(str(path), array)
        paths.append(str(path))
    return paths


def read_masks(path, size: tuple[int, int] | None = None, start: int = 0, count: int | None = None) -> torch.Tensor:
    """Masks as bool [T, H, W] from a folder of images, a video or a single image (T = 1).
    A pixel is in the mask when its first channel is at least half of full scale; size
    (height, width) resizes with nearest neighbour so a mask drawn on a proxy fits the plate."""
    import cv2

    path = str(path)
    if os.path.isfile(path) and Path(path).suffix.lower() in IMAGE_SUFFIXES:
        images = [_imread(Path(path))]
    else:
        info = probe(path)
        images = list(iter_frames(path, start, count, info=info))
    if not images:
        raise EmptyClipError(f"{path} holds no masks")
    masks = []
    for image in images:
        if size and image.shape[:2] != tuple(size):
            image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        masks.append(image[..., 0] >= 0.5)
    return torch.from_numpy(np.stack(masks))


__all__ = ["Clip", "ClipWriter", "MediaInfo", "probe", "iter_frames", "read_clip", "write_clip", "write_frames",
           "read_masks", "as_fraction", "fit_size", "ffmpeg_binary", "bit_depth_of"]
