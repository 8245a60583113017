"""The reader and writer: frame-accurate, streaming, rational rates, deep sources as floats."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from inference import Clip, EmptyClipError, MaskError, iter_frames, probe, read_clip, read_masks, write_clip, write_frames
from inference.clip import ClipWriter, bit_depth_of


def _numbered(frames, height=32, width=48):
    """Frame t is a flat grey of level (t + 1) / (frames + 2): its number can be read back."""
    levels = (torch.arange(frames, dtype=torch.float32) + 1) / (frames + 2)
    return levels[:, None, None, None].expand(frames, height, width, 3).contiguous()


def _number(frame, frames):
    return round(float(frame.mean()) * (frames + 2)) - 1


def test_long_gop_h264_at_24000_1001_seeks_to_the_exact_frame(tmp_path):
    # given a 60-frame H.264 clip at 24000/1001 with frames numbered by their grey level
    path = write_clip(tmp_path / "numbered.mp4", _numbered(60), Fraction(24000, 1001))

    # when frames are read from various starts
    info = probe(path)
    got = {start: _number(read_clip(path, start, 1).frames[0], 60) for start in (0, 1, 23, 24, 47, 59)}

    # then each read lands on the frame asked for, and the rate stays a ratio
    assert got == {0: 0, 1: 1, 23: 23, 24: 24, 47: 47, 59: 59}
    assert info.fps == Fraction(24000, 1001) and info.frame_count == 60


def test_a_16_bit_round_trip_is_lossless_through_ffv1(tmp_path):
    frames = torch.rand(4, 20, 30, 3)
    path = write_clip(tmp_path / "deep.mkv", frames, 25)
    back = read_clip(path)
    assert back.bit_depth == 16 and back.fps == 25
    assert float((back.frames - frames).abs().max()) < 1 / 65535 + 1e-7


def test_a_10_bit_prores_reads_as_deep_floats_streamed_one_frame_at_a_time(tmp_path):
    gradient = torch.linspace(0, 1, 200)[None, None, :, None].expand(3, 8, 200, 3).contiguous()
    path = write_clip(tmp_path / "deep.mov", gradient, 24)
    info = probe(path)
    stream = iter_frames(path, info=info)
    first = next(stream)
    assert info.bit_depth >= 10 and first.dtype == np.float32 and first.shape == (8, 200, 3)
    # more distinct levels than 8 bits could hold along the ramp
    assert len(np.unique(np.round(first[4, :, 1] * 65535))) > 180
    assert len(list(stream)) == 2


def test_a_folder_of_16_bit_pngs_is_a_clip_and_max_side_shrinks_it(tmp_path):
    frames = torch.rand(3, 40, 60, 3)
    write_frames(tmp_path / "seq", frames)
    clip = read_clip(tmp_path / "seq", fps="30000/1001")
    small = read_clip(tmp_path / "seq", max_side=30, fps=24)
    assert clip.fps == Fraction(30000, 1001) and clip.bit_depth == 16
    assert float((clip.frames - frames).abs().max()) < 1e-4
    assert small.size == (20, 30)


def test_masks_are_read_from_a_folder_and_resized_to_the_plate(tmp_path):
    masks = torch.zeros(2, 10, 20)
    masks[:, 2:6, 4:9] = 1
    write_frames(tmp_path / "masks", masks, grey=True)
    read = read_masks(tmp_path / "masks", size=(20, 40))
    assert read.shape == (2, 20, 40) and read.dtype == torch.bool
    assert int(read[0].sum()) == 4 * 5 * 4


def test_an_empty_folder_and_a_missing_file_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyClipError, match="no image files"):
        read_clip(tmp_path / "empty")
    with pytest.raises(ValueError, match="does not exist"):
        read_clip(tmp_path / "missing.mov")
    with pytest.raises(MaskError.__mro__[1]):
        read_masks(tmp_path / "empty")


def test_the_writer_refuses_a_frame_of_another_size_and_alpha_in_mp4(tmp_path):
    with pytest.raises(ValueError, match="alpha"):
        ClipWriter(tmp_path / "a.mp4", 24, 8, 8, alpha=True)
    with ClipWriter(tmp_path / "b.mkv", 24, 8, 8) as writer, pytest.raises(ValueError, match="8x8"):
        writer.write(np.zeros((4, 4, 3), np.float32))


def test_bit_depths_are_read_from_pixel_format_names():
    assert [bit_depth_of(f) for f in ("yuv420p", "yuv422p10le", "yuv444p12le", "rgb48le", "gbrp16le", "gray")] == \
        [8, 10, 12, 16, 16, 8]


def test_a_clip_keeps_uint8_frames_as_floats():
    clip = Clip(np.full((2, 4, 4, 3), 255, np.uint8), "24000/1001")
    assert clip.frames.dtype == torch.float32 and float(clip.frames.max()) == 1.0
    assert clip.fps == Fraction(24000, 1001)
