"""Every proposal carries the model's own quality check; each verdict comes from a case built to
trigger it."""
import numpy as np
import pytest
import torch

from inference import metrics, propose, qc, synthetic
from inference.clip import Clip
from tests.inference.conftest import FAST, SIZE


def test_a_reference_that_cannot_be_aligned_falls_back_to_statistics_and_asks_for_review():
    # given a graded shot and a reference of the mirrored scene: the same colours, nothing in place
    case = synthetic.colour_case(**SIZE, overlap=False)

    # when the colour match is proposed
    result = propose("colour_match", case.clip, FAST["colour_match"], reference=case.reference)

    # then it matched by statistics, still closer than the input, and says it could not check itself
    assert result.card["details"]["fitted_on"] == "colour statistics"
    assert metrics.delta_e(result.frames, case.truth) < metrics.delta_e(case.clip.frames, case.truth) / 2
    check = result.card["qc"]
    assert check["verdict"] == "review" and not check["checked"]
    assert "could not be checked" in check["summary"] and "colour statistics" in check["summary"]


def test_a_matching_reference_is_aligned_checked_on_held_out_pixels_and_recommended(colour_case):
    # when a graded shot is matched to an overlapping reference
    result = propose("colour_match", colour_case.clip, FAST["colour_match"], reference=colour_case.reference)

    # then the alignment passed its checks and the held-out pixels beat the statistics match
    details = result.card["details"]
    assert details["fitted_on"] == "corresponding pixels"
    held = details["held_out_delta_e"]
    assert held["fit"] < held["statistics"] < held["source"]
    check = result.card["qc"]
    assert check["verdict"] == "recommended" and check["checked"], check["summary"]
    headline = check["metrics"][0]
    assert headline["value"] < headline["source_value"] and headline["lower_is_better"]


def test_a_grade_no_single_table_can_express_is_marked_review_closely(colour_case):
    # given a shot graded warm on its left half and cool on its right half
    truth = colour_case.truth.numpy()
    half = truth.shape[2] // 2
    graded = synthetic.PrimaryGrade((0, 0, 0), (1, 1, 1), (1.3, 1.0, 0.7), 1.0, 0).apply(truth)
    graded[:, :, half:] = synthetic.PrimaryGrade((0, 0, 0), (1, 1, 1), (0.7, 1.0, 1.3), 1.0, 0).apply(truth[:, :, half:])
    clip = Clip(torch.from_numpy(graded), colour_case.clip.fps)

    # when it is matched to the reference
    result = propose("colour_match", clip, FAST["colour_match"], reference=colour_case.reference)

    # then the error left on held-out pixels is too large to recommend it
    check = result.card["qc"]
    assert check["verdict"] == "review", check["summary"]
    assert "above 3" in check["summary"]


def test_an_estimate_worse_than_the_source_is_not_recommended_and_says_why():
    # given a model that measured its result further from the reference than the source
    estimate = qc.Estimate(qc.Metric("colour error", 6.2, 4.0, True, "lower is closer"), checked=True,
                           review_above=3.0)

    # when the verdict is drawn
    block = qc.assess("colour_match", estimate, {})

    # then it is not recommended, with the numbers behind it
    assert block["verdict"] == "not_recommended"
    assert block["summary"].startswith("Not recommended: the result is probably worse than the source")
    assert "6.2 against 4" in block["summary"]


def test_an_unchecked_estimate_is_never_recommended():
    estimate = qc.Estimate(qc.Metric("colour error", 0.5, 9.0, True, "lower is closer"), checked=False)
    assert qc.assess("colour_match", estimate, {})["verdict"] == "review"


def test_deflicker_is_judged_on_the_flicker_left_and_carries_its_brightness_curve(deflicker_case):
    # when a flickering shot is deflickered
    result = propose("deflicker", deflicker_case.clip, FAST["deflicker"])

    # then the verdict rests on the flicker left against the source's
    check = result.card["qc"]
    assert check["verdict"] == "recommended", check["summary"]
    assert check["metrics"][0]["name"] == "flicker"
    assert check["metrics"][0]["value"] < 0.5 * check["metrics"][0]["source_value"]
    # and the curve is the mean brightness of every frame before and after: steadier after
    curve = check["curve"]
    assert len(curve["before"]) == len(curve["after"]) == deflicker_case.clip.T
    assert np.std(np.diff(curve["after"])) < np.std(np.diff(curve["before"])) / 2


def test_removal_is_judged_on_its_own_fill_estimate_and_its_steadiness(removal_case):
    result = propose("removal", removal_case.clip, FAST["removal"], mask=removal_case.mask)
    check = result.card["qc"]
    assert check["checked"] and check["metrics"][0]["name"].startswith("fill error on copies of the hole")
    steadiness = next(m for m in check["metrics"] if m["name"] == "warp error")
    assert steadiness["source_value"] == pytest.approx(result.metrics["source_warp_error"], rel=1e-3)


def test_a_relight_in_a_drawn_region_changes_only_that_region_and_checks_itself(exposure_case):
    # given an exposure error and a region drawn over the left half of the frame
    region = torch.zeros(exposure_case.clip.frames.shape[1:3], dtype=torch.bool)
    width = region.shape[1]
    region[:, : width // 2] = True

    # when it is relit against the reference, one gain field for the shot
    result = propose("relight", exposure_case.clip, {**FAST["exposure"], "field": "per_shot", "feather": 0.05},
                     reference=exposure_case.reference, mask=region)

    # then the region moved towards the truth, the far side did not move at all
    left, far_right = slice(0, width // 3), slice(width - width // 4, width)
    before = metrics.delta_e(exposure_case.clip.frames[:, :, left], exposure_case.truth[:, :, left])
    after = metrics.delta_e(result.frames[:, :, left], exposure_case.truth[:, :, left])
    assert after < before / 2, (after, before)
    assert torch.equal(result.frames[:, :, far_right], exposure_case.clip.frames[:, :, far_right].clamp(0, 1))
    # and it carries its verdict, the numbers behind it and the brightness curve
    check = result.card["qc"]
    assert check["verdict"] in {"recommended", "review"} and check["metrics"][0]["source_value"] is not None
    assert len(check["curve"]["after"]) == exposure_case.clip.T
