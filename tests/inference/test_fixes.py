"""Each fix beats the classical tool on a tiny synthetic shot, by margins an unchanged
(identity) output would fail."""
import torch

from inference import baselines, metrics, propose
from inference.removal import dilate
from tests.inference.conftest import FAST


def test_removal_fills_the_hole_better_than_telea_and_holds_still(removal_case):
    # given a shot with a moving object and its mask
    case = removal_case
    hole = dilate(case.mask, 2)

    # when the object is removed
    result = propose("removal", case.clip, FAST["removal"], mask=case.mask, seed=0)

    # then the hole is much closer to the clean plate than per-frame Telea, and than the input
    ours = metrics.psnr(result.frames, case.truth, hole)
    telea = metrics.psnr(baselines.telea_per_frame(case.clip.frames, case.mask), case.truth, hole)
    unchanged = metrics.psnr(case.clip.frames, case.truth, hole)
    assert ours > telea + 3.0 and ours > unchanged + 6.0, (ours, telea, unchanged)
    # and nothing outside the hole moved
    assert torch.equal(result.frames[~hole], case.clip.frames[~hole])
    # and the card says what was fitted on what
    card = result.card
    assert card["kind"] == "removal" and card["seed"] == 0 and len(card["fitted_on"]["sha256"]) == case.clip.T
    assert card["parameters"]["iterations"] == 40 and card["timing"]["fit_seconds"] > 0
    assert {"warp_error", "flicker_index"} <= set(card["metrics"])


def test_colour_match_lands_within_two_delta_e_where_mkl_does_not(colour_case):
    case = colour_case
    result = propose("colour_match", case.clip, FAST["colour_match"], reference=case.reference)
    ours = metrics.delta_e(result.frames, case.truth)
    mkl = metrics.delta_e(baselines.mkl(case.clip.frames, case.reference.frames), case.truth)
    unchanged = metrics.delta_e(case.clip.frames, case.truth)
    assert ours < 2.5 and ours < mkl / 1.5 and unchanged > 5, (ours, mkl, unchanged)
    assert result.lut.shape == (3, 17, 17, 17)


def test_exposure_matches_the_reference_frame(exposure_case):
    case = exposure_case
    result = propose("exposure", case.clip, FAST["exposure"], reference=case.reference)
    ours = metrics.delta_e(result.frames, case.truth)
    gain = metrics.delta_e(baselines.gain_match(case.clip.frames, case.reference.frames), case.truth)
    unchanged = metrics.delta_e(case.clip.frames, case.truth)
    assert ours < 2.0 and ours < gain / 1.5 and unchanged > 5, (ours, gain, unchanged)


def test_deflicker_takes_out_flicker_but_keeps_the_slow_change_of_light(deflicker_case):
    case = deflicker_case
    flows = metrics.clip_flows(case.clean)
    result = propose("deflicker", case.clip, FAST["deflicker"])
    before = metrics.flicker_index(case.clip.frames, flows)
    after = metrics.flicker_index(result.frames, flows)
    classic = metrics.flicker_index(baselines.mean_deflicker(case.clip.frames), flows)
    assert after < 0.1 * before and after < classic / 2, (after, before, classic)
    # the deliberate brightening over the shot survives: no pumping back to a flat level
    trend, truth = _trend(result.frames), _trend(case.truth)
    assert truth > 0.04 and abs(trend - truth) < 0.25 * truth, (trend, truth)


def _trend(frames):
    """Change of mean brightness over the shot, from a straight-line fit (flicker averages out)."""
    means = frames.mean((1, 2, 3))
    t = torch.arange(len(means), dtype=torch.float32)
    slope = ((t - t.mean()) * (means - means.mean())).sum() / ((t - t.mean()) ** 2).sum()
    return float(slope) * len(means)


def test_green_screen_matte_beats_a_plain_key_by_half(green_screen_case):
    case = green_screen_case
    result = propose("background", case.clip, {"matte": "chroma"}, plate=case.plate)
    ours = metrics.alpha_sad(result.alpha, case.alpha)
    key = metrics.alpha_sad(baselines.plain_key(case.clip.frames), case.alpha)
    assert ours < key / 2 and ours < metrics.alpha_sad(torch.ones_like(case.alpha), case.alpha) / 4, (ours, key)
    assert metrics.psnr(result.frames, case.truth) > 30


def test_keyframe_masks_are_carried_and_refined_better_than_holding_them(roto_case):
    case = roto_case
    keys = case.params["keyframes"]
    result = propose("background", case.clip, {"matte": "keyframes", **FAST["background"]}, mask=case.mask,
                     plate=case.plate, keyframes=keys)
    ours = metrics.alpha_sad(result.alpha, case.alpha)
    held = metrics.alpha_sad(baselines.keyframe_hold(case.clip.frames, case.mask, keys), case.alpha)
    assert ours < held / 2, (ours, held)


def test_the_same_seed_gives_the_same_result(removal_case):
    case = removal_case
    params = {**FAST["removal"], "iterations": 10}
    first = propose("removal", case.clip, params, mask=case.mask, seed=3, metrics=False)
    second = propose("removal", case.clip, params, mask=case.mask, seed=3, metrics=False)
    assert torch.equal(first.frames, second.frames)
    assert first.card["fitted_on"] == second.card["fitted_on"]
