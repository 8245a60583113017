import numpy as np
import pytest
import torch

from inference import footage
from inference.errors import MaskError
from inference.tracking import flow_warp_only, track


def moving_square_clip(frames: int = 10, h: int = 64, w: int = 96, seed: int = 0):
    """A textured background panning left by 1 px a frame, and a differently textured square
    moving right by 2 px and down by 1 px a frame: frames [T, H, W, 3] and the square's masks."""
    import cv2

    rng = np.random.default_rng(seed)
    wide = cv2.GaussianBlur(rng.random((h, w + frames, 3)).astype(np.float32), (0, 0), 1.5) * 0.5
    patch = 0.5 + cv2.GaussianBlur(rng.random((16, 16, 3)).astype(np.float32), (0, 0), 1.0) * 0.5
    clip = np.zeros((frames, h, w, 3), np.float32)
    masks = np.zeros((frames, h, w), bool)
    for t in range(frames):
        clip[t] = wide[:, t:t + w]
        y, x = 20 + t, 20 + 2 * t
        clip[t, y:y + 16, x:x + 16] = patch
        masks[t, y:y + 16, x:x + 16] = True
    return torch.from_numpy(clip), torch.from_numpy(masks)


def test_a_mask_drawn_on_the_first_frame_follows_the_object_through_the_shot():
    # given
    frames, truth = moving_square_clip()
    # when
    matte = track(frames, {0: truth[0]})
    # then
    assert footage.iou(matte, truth).min() >= 0.85
    # a mask left where it was drawn would have lost most of the square by the last frame
    assert footage.iou(truth[:1].expand_as(truth), truth)[-1] < 0.3


def test_tracking_backwards_from_a_keyframe_at_the_end_works_as_well():
    # given
    frames, truth = moving_square_clip()
    # when
    matte = track(frames, {len(frames) - 1: truth[-1]})
    # then
    assert footage.iou(matte, truth).min() >= 0.85


def test_every_keyframe_is_exactly_what_was_drawn():
    # given: a keyframe drawn a little off, as a supervisor's correction would be
    frames, truth = moving_square_clip()
    corrected = torch.roll(truth[6], 1, 1)
    # when
    matte = track(frames, {0: truth[0], 6: corrected})
    # then
    assert torch.equal(matte[0], truth[0]) and torch.equal(matte[6], corrected)
    assert footage.iou(matte, truth).min() >= 0.85


def test_the_flow_warp_baseline_starts_from_the_first_mask():
    frames, truth = moving_square_clip()
    warped = flow_warp_only(frames, truth[0])
    assert torch.equal(warped[0], truth[0]) and footage.iou(warped, truth).mean() > 0.5


def test_a_keyframe_outside_the_clip_or_of_the_wrong_size_is_refused():
    frames, truth = moving_square_clip()
    with pytest.raises(MaskError, match="outside the clip"):
        track(frames, {12: truth[0]})
    with pytest.raises(MaskError, match="64x96"):
        track(frames, {0: truth[0, :32]})
    with pytest.raises(MaskError, match="at least one frame"):
        track(frames, {})
