from inference.api import propose
from inference.removal_qc import removal_qc
from tests.inference.conftest import FAST


def test_a_fill_clearly_better_than_telea_and_steady_is_recommended():
    qc = removal_qc(fill_mse=1e-4, telea_mse=1e-3, warp_ratio=1.1)
    assert qc["verdict"] == "recommended" and "10.0 dB better than Telea" in qc["summary"]
    fill = qc["metrics"][0]
    assert fill["value"] == 40.0 and fill["source_value"] == 30.0 and fill["lower_is_better"] is False


def test_a_fill_worse_than_telea_or_a_boiling_one_is_not_recommended():
    assert removal_qc(fill_mse=2e-3, telea_mse=1e-3, warp_ratio=1.0)["verdict"] == "not_recommended"
    assert removal_qc(fill_mse=1e-4, telea_mse=1e-3, warp_ratio=3.0)["verdict"] == "not_recommended"


def test_a_fill_barely_better_than_telea_or_untested_asks_for_a_close_review():
    assert removal_qc(fill_mse=0.9e-3, telea_mse=1e-3, warp_ratio=1.0)["verdict"] == "review"
    untested = removal_qc(fill_mse=None, telea_mse=None, warp_ratio=1.0)
    assert untested["verdict"] == "review" and "nowhere to test" in untested["summary"]


def test_the_removal_card_carries_its_qc_estimate(removal_case):
    # given / when
    result = propose("removal", removal_case.clip, FAST["removal"], mask=removal_case.mask, metrics=False)
    # then
    qc = result.card["details"]["qc"]
    assert qc["verdict"] in {"recommended", "review", "not_recommended"}
    names = [m["name"] for m in qc["metrics"]]
    assert "warp error vs the source" in names and "fill PSNR on copies of the hole (dB)" in names
