import torch

from inference import footage
from tests.inference.test_tracking import moving_square_clip


def test_every_hole_kind_lies_on_the_background_inside_the_frame():
    # given
    frames, objects = moving_square_clip(frames=6)
    # when
    cases = footage.removal_cases(frames, objects, "squares")
    # then
    assert [c.name.split(": ")[1] for c in cases] == list(footage.HOLE_KINDS)
    for case in cases:
        hole = case.mask
        assert hole.any(dim=(1, 2)).all()
        assert float((hole & objects).sum()) <= 0.05 * float(hole.sum())
        assert torch.equal(case.truth, frames)
        assert (case.clip.frames[hole] == 0.5).all() and torch.equal(case.clip.frames[~hole], frames[~hole])


def test_the_shifted_masks_keep_the_objects_shape_and_the_rectangle_is_still_and_a_sixteenth():
    # given
    frames, objects = moving_square_clip(frames=6)
    # when
    shifted = footage.shifted_hole(objects)
    rectangle = footage.rectangle_hole(objects)
    # then
    assert torch.equal(shifted.sum((1, 2)), objects.sum((1, 2)))
    assert all(torch.equal(rectangle[0], r) for r in rectangle)
    assert int(rectangle[0].sum()) == (64 // 4) * (96 // 4)


def test_the_foreign_hole_moves_differently_from_the_objects():
    frames, objects = moving_square_clip(frames=6)
    foreign = footage.foreign_hole(objects)
    ys = [float(torch.nonzero(m)[:, 0].float().mean()) for m in foreign]
    assert ys[0] > ys[-1]  # the objects move down; the clip played backwards moves up


def test_iou_is_one_for_identical_masks_and_for_two_empty_ones():
    a = torch.zeros(2, 4, 4, dtype=torch.bool)
    a[0, :2] = True
    assert footage.iou(a, a).tolist() == [1.0, 1.0]
    assert footage.iou(a, ~a)[0] == 0.0
