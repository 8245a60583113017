from inference import qc
from inference.api import propose
from inference.removal_qc import removal_estimate
from tests.inference.conftest import FAST

STEADY = {"warp_error": 0.010, "source_warp_error": 0.010}


def test_a_fill_closer_than_telea_and_than_the_source_is_recommended():
    # given fill errors measured on copies of the hole
    estimate = removal_estimate({"chosen": 1e-4, "telea": 1e-3, "source": 4e-2})
    # when
    block = qc.assess("removal", estimate, STEADY)
    # then
    assert block["verdict"] == "recommended" and block["checked"] is True
    fill = block["metrics"][0]
    assert abs(fill["value"] - 0.01) < 1e-9 and abs(fill["source_value"] - 0.2) < 1e-9 and fill["lower_is_better"]
    assert any(m["name"].startswith("Telea") for m in block["metrics"])


def test_a_fill_no_closer_than_telea_asks_for_a_close_review():
    block = qc.assess("removal", removal_estimate({"chosen": 2e-3, "telea": 1e-3, "source": 4e-2}), STEADY)
    assert block["verdict"] == "review" and "Telea" in block["summary"]


def test_a_fill_further_from_the_truth_than_the_object_left_in_place_is_not_recommended():
    block = qc.assess("removal", removal_estimate({"chosen": 5e-2, "telea": 1e-3, "source": 4e-2}), STEADY)
    assert block["verdict"] == "not_recommended"


def test_without_copies_of_the_hole_there_is_no_estimate_of_its_own():
    assert removal_estimate({}) is None and removal_estimate(None) is None


def test_the_removal_card_carries_its_qc_verdict_built_on_the_fill_estimate(removal_case):
    # given / when
    result = propose("removal", removal_case.clip, FAST["removal"], mask=removal_case.mask)
    # then
    block = result.card["qc"]
    assert block["verdict"] in qc.VERDICTS and block["checked"] is True
    assert block["metrics"][0]["name"].startswith("fill error on copies of the hole")


def test_the_card_counts_the_pixels_the_grow_band_adds_outside_the_given_mask(removal_case):
    result = propose("removal", removal_case.clip, {**FAST["removal"], "grow": 2}, mask=removal_case.mask,
                     metrics=False)
    details = result.card["details"]
    assert details["grow_band_pixels"] > 0
    assert details["hole_pixels"] == int(removal_case.mask.sum()) + details["grow_band_pixels"]
