"""The producer sees a proposal's own quality verdict and brightness plot on the fix page, and a
proposal estimated worse than its source is signed only with the warning acknowledged."""
import pyotp
import pytest

pytestmark = pytest.mark.e2e


def test_a_producer_sees_the_warning_and_plot_and_must_acknowledge_it_to_sign(reviewers, world):
    producer = reviewers("producer")
    page = producer.page

    # when the producer opens the exposure fix whose model estimated it worse than the source
    page.goto(f"/p/{world['production']}/fixes/{world['warned_fix']}/")

    # then the verdict, its reason with the numbers and the brightness plot are on the page
    check = page.locator(f"#proposal-{world['warned_proposal']} .qc")
    assert check.get_attribute("data-qc-verdict") == "not_recommended"
    assert "Not recommended" in check.locator(".qc-label").inner_text()
    assert "14.5 against 11.6" in check.locator(".qc-summary").inner_text()
    assert "the source scores 11.6" in check.locator(".qc-metrics").inner_text()
    plot = check.locator(".qc-plot svg")
    assert plot.is_visible() and plot.bounding_box()["width"] > 100
    assert check.locator("polyline[data-series='before']").count() == 1
    assert check.locator("polyline[data-series='after']").count() == 1
    producer.screenshot("quality-check-not-recommended")

    # when they open the signature dialog and sign without ticking the acknowledgement
    page.locator(f"[data-open-dialog='sign-{world['warned_proposal']}']").click()
    dialog = page.locator(f"#sign-{world['warned_proposal']}")
    dialog.locator("input[name=password]").fill(world["password"])
    dialog.locator("input[name=second_factor]").fill(pyotp.TOTP(world["totp"]["producer"]).now())
    box = dialog.locator("input[name=acknowledge_warning]")
    assert box.is_visible() and not box.is_checked()
    dialog.locator("button.primary").click()

    # then the browser holds the form back, and nothing is signed
    assert dialog.is_visible()
    assert "Awaiting decision" in page.locator(f"#proposal-{world['warned_proposal']} .fix-state").first.inner_text()

    # when they tick it and sign
    box.check()
    dialog.locator("button.primary").click()
    page.wait_for_load_state()

    # then the proposal is approved with their signature
    panel = page.locator(f"#proposal-{world['warned_proposal']}")
    assert "Approved" in panel.locator(".fix-state").first.inner_text()
    assert "Priya Raman" in panel.locator(".signatures").inner_text()
    producer.screenshot("quality-check-acknowledged")
