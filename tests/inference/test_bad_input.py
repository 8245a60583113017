"""Bad input gets a clear error, before any fitting starts."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from inference import (Clip, EmptyClipError, FrameRateMismatchError, InferenceError, MaskError, NonFiniteError,
                       ParameterError, UnknownKindError, propose)


def _clip(frames=3, height=16, width=24, fps=24):
    return Clip(torch.rand(frames, height, width, 3), fps)


def test_it_refuses_a_mask_of_the_wrong_size():
    with pytest.raises(MaskError, match="16x24"):
        propose("removal", _clip(), mask=torch.ones(3, 8, 8, dtype=torch.bool))


def test_it_refuses_an_empty_mask():
    with pytest.raises(MaskError, match="empty"):
        propose("removal", _clip(), mask=torch.zeros(3, 16, 24, dtype=torch.bool))


def test_it_refuses_a_missing_mask_and_one_with_too_few_frames():
    with pytest.raises(MaskError, match="needs a mask"):
        propose("removal", _clip())
    with pytest.raises(MaskError, match="2 frames but the clip has 3"):
        propose("removal", _clip(), mask=torch.ones(2, 16, 24, dtype=torch.bool))


def test_it_refuses_a_clip_with_no_frames():
    with pytest.raises(EmptyClipError, match="no frames"):
        propose("colour_match", Clip(torch.zeros(0, 16, 24, 3)), reference=_clip())


def test_it_refuses_nan_pixels_and_says_which_frame():
    frames = torch.rand(3, 16, 24, 3)
    frames[2, 5, 5, 1] = float("nan")
    with pytest.raises(NonFiniteError, match="frame 2"):
        propose("exposure", Clip(frames))


def test_it_refuses_a_plate_at_another_frame_rate():
    shot = _clip(fps=Fraction(24000, 1001))
    with pytest.raises(FrameRateMismatchError, match="25"):
        propose("background", shot, {"matte": "chroma"}, plate=_clip(fps=25))


def test_it_refuses_a_float_frame_rate():
    with pytest.raises(ParameterError, match="24000/1001"):
        Clip(torch.rand(2, 8, 8, 3), 23.976)


def test_it_refuses_an_unknown_kind_and_names_the_known_ones():
    with pytest.raises(UnknownKindError, match="removal, colour_match, exposure, deflicker, background"):
        propose("face_swap", _clip())


def test_it_refuses_unknown_or_wrongly_typed_parameters():
    mask = torch.ones(3, 16, 24, dtype=torch.bool)
    mask[:, :4] = False
    with pytest.raises(ParameterError, match="unknown parameter"):
        propose("removal", _clip(), {"iterationz": 3}, mask=mask)
    with pytest.raises(ParameterError, match="non-negative"):
        propose("removal", _clip(), {"iterations": -1}, mask=mask)
    with pytest.raises(ParameterError, match="one of"):
        propose("removal", _clip(), {"flow_preset": "slow"}, mask=mask)
    with pytest.raises(ParameterError, match="target"):
        propose("deflicker", _clip(), {"target": "reference"})


def test_colour_match_needs_a_reference_and_every_error_is_a_value_error():
    with pytest.raises(InferenceError, match="reference"):
        propose("colour_match", _clip())
    assert issubclass(InferenceError, ValueError)


def test_a_mask_from_numpy_floats_works_like_a_bool_mask():
    frames = torch.rand(3, 16, 24, 3)
    mask = np.zeros((16, 24), np.float32)
    mask[4:10, 6:12] = 1.0
    result = propose("removal", Clip(frames), {"iterations": 0}, mask=mask, metrics=False)
    assert result.frames.shape == frames.shape
    assert torch.equal(result.frames[:, :2], frames[:, :2])
