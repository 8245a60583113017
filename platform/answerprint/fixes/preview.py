"""The difference/mask preview of a proposal: one frame of the source, the same frame of the
proposal, and what changed between them (amplified), with the request's mask outlined.

Made by the worker when it ingests a result, from the files on media storage; no torch here.
"""
import subprocess

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from answerprint.media.ffmpeg import ffmpeg_binary

PANEL_WIDTH = 480
GAIN = 4  # a change of 1/64 of full scale shows at 1/16


def read_frame(path, index, *, fps, width, height, sequence_start=None):
    """Frame `index` (0 = the file's first) as uint8 RGB [height, width, 3]."""
    command = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin"]
    if sequence_start is not None:
        command += ["-f", "image2", "-start_number", str(sequence_start + index), "-i", str(path)]
    else:
        # The middle of the frame's interval: ffmpeg decodes from the keyframe before and drops
        # every earlier frame, and no rounding of 1001/24000 steps lands on the wrong side.
        command += ["-ss", f"{(index + 0.5) / fps:.6f}", "-i", str(path)]
    command += ["-frames:v", "1", "-vf", f"scale={width}:{height}:flags=area", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "pipe:1"]
    done = subprocess.run(command, capture_output=True, timeout=120)
    expected = width * height * 3
    if done.returncode != 0 or len(done.stdout) < expected:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no frame"]
        raise ValueError(f"could not read frame {index} of {path}: {message[0]}")
    return np.frombuffer(done.stdout[:expected], dtype=np.uint8).reshape(height, width, 3)


def panel_size(width, height):
    scale = min(1.0, PANEL_WIDTH / width)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def compose(source, result, mask=None):
    """PIL image: source | proposal | amplified difference with the mask's outline."""
    height, width = source.shape[:2]
    difference = np.abs(result.astype(np.int16) - source.astype(np.int16)).max(axis=2)
    heat = np.clip(difference * GAIN, 0, 255).astype(np.uint8)
    diff_rgb = np.stack([heat, heat, heat], axis=2)
    if mask is not None:
        matte = Image.fromarray(mask).convert("L").resize((width, height), Image.NEAREST)
        edge = np.asarray(ImageChops.subtract(matte.filter(ImageFilter.MaxFilter(3)), matte)) > 0
        diff_rgb[edge] = (242, 181, 68)
    canvas = Image.new("RGB", (width * 3 + 8, height), (17, 19, 22))
    for offset, picture in enumerate((source, result, diff_rgb)):
        canvas.paste(Image.fromarray(picture), (offset * (width + 4), 0))
    return canvas


def make_preview(*, source_path, source_index, result_path, result_index, fps, width, height, out_path,
                 source_sequence_start=None, mask_path=None):
    size = panel_size(width, height)
    source = read_frame(source_path, source_index, fps=fps, width=size[0], height=size[1],
                        sequence_start=source_sequence_start)
    result = read_frame(result_path, result_index, fps=fps, width=size[0], height=size[1])
    mask = np.asarray(Image.open(mask_path).convert("L")) if mask_path else None
    compose(source, result, mask).save(out_path, format="PNG")
    return out_path
