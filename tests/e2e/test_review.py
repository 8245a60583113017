"""The review page in a real browser against a live ASGI server with its review rooms."""
import io
import uuid

import numpy as np
import pyotp
import pytest
from PIL import Image

from answerprint.media.demo_footage import read_burned_frame_number

pytestmark = pytest.mark.e2e

SETTLED = "() => { const p = document.querySelector('ap-player'); return p.idle && p.dataset.seeking === 'false'; }"


def shown_frame_number(page):
    """The frame number burned into the picture the player shows, read from a screenshot."""
    png = page.locator("ap-player video").first.screenshot()
    return read_burned_frame_number(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))


def wait_settled(page):
    page.wait_for_function(SETTLED, timeout=10000)
    page.wait_for_timeout(150)  # one more composited frame before the screenshot


def connected(page):
    page.wait_for_function("() => document.querySelector('ap-review')?.dataset.connected === 'true'", timeout=10000)


def difference_mean(page):
    """Mean of the difference canvas over the whole picture, in 0..255."""
    page.wait_for_function("() => { const r = document.querySelector('ap-review');"
                           " return r.compare.locked && r.player.idle; }", timeout=10000)
    page.wait_for_timeout(200)
    return page.evaluate("""() => {
        const review = document.querySelector('ap-review');
        review.compare.draw();
        const c = review.compare.canvas;
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let sum = 0;
        for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
        return sum / (data.length / 4);
    }""")


def test_five_fast_right_arrows_land_exactly_five_frames_on_by_the_burned_in_number(reviewers, world):
    # given a supervisor on the shot, two frames in, as the burned-in strip says
    supervisor = reviewers("supervisor")
    page = supervisor.open_shot()
    player = page.locator("ap-player")
    player.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    before = shown_frame_number(page)
    assert before == world["first_frame"] + 2

    # when five → presses arrive faster than the player can seek
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_settled(page)

    # then the picture shows exactly five frames on, and the counter agrees with the pixels
    assert shown_frame_number(page) == before + 5
    assert page.locator("output[data-frame]").inner_text() == str(before + 5)
    supervisor.screenshot("shot-review")
    assert supervisor.errors == []


def test_shortcuts_are_ignored_while_typing_a_note(reviewers, world):
    # given a producer writing a note on frame 0
    producer = reviewers("producer")
    page = producer.open_shot()
    wait_settled(page)
    page.locator("#composer-body").fill("")
    page.locator("#composer-body").type("look left ")

    # when arrows are pressed in the text field
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)

    # then the player has not moved
    assert page.locator("output[data-frame]").inner_text() == str(world["first_frame"])
    assert page.evaluate("() => document.querySelector('ap-player video').paused")


def test_a_drawing_and_a_note_from_one_reviewer_appear_live_for_the_other(reviewers, world):
    # given a supervisor and a producer in the same room, on frame 3
    supervisor, producer = reviewers("supervisor", "producer")
    sup, prod = supervisor.open_shot(), producer.open_shot()
    connected(sup)
    connected(prod)
    sup.wait_for_selector("[data-presence-list] li[data-user='producer']", timeout=10000)
    for page in (sup, prod):
        page.locator("ap-player").focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        wait_settled(page)
    shapes_before = int(prod.locator(".draw-layer").get_attribute("data-count"))

    # when the supervisor draws an arrow and writes a note mentioning the producer
    sup.keyboard.press("a")
    box = sup.locator(".draw-layer").bounding_box()
    sup.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    sup.mouse.down()
    sup.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.45, steps=6)
    sup.mouse.up()
    note = f"Boom shadow on the wall here @producer {uuid.uuid4().hex[:6]}"
    sup.locator("#composer-body").fill(note)
    sup.keyboard.press("Enter")

    # then the producer sees both on the same frame, without reloading
    prod.wait_for_function(f"() => Number(document.querySelector('.draw-layer').dataset.count) > {shapes_before}",
                           timeout=10000)
    assert prod.locator(".draw-layer .shape-arrow").count() >= 1
    comment = prod.locator(".comment", has_text=note)
    comment.wait_for(timeout=10000)
    assert comment.locator(".mention").inner_text() == "@producer"
    assert comment.locator(".tc").inner_text().endswith(str(world["first_frame"] + 3))
    # and the note jumps to its frame when its timecode is clicked, from anywhere
    prod.locator("ap-player").focus()
    prod.keyboard.press("Home")
    wait_settled(prod)
    comment.locator(".tc").click()
    wait_settled(prod)
    assert shown_frame_number(prod) == world["first_frame"] + 3
    # and the drawing is only on its frame
    prod.locator("ap-player").focus()
    prod.keyboard.press("ArrowRight")
    wait_settled(prod)
    assert prod.locator(".draw-layer .shapes .shape-arrow").count() == 0
    producer.screenshot("live-review-producer")
    supervisor.screenshot("live-review-supervisor")
    assert supervisor.errors == [] and producer.errors == []


def test_follow_mode_moves_the_follower_to_the_presenters_frame(reviewers, world):
    # given a producer presenting and a supervisor following
    producer, supervisor = reviewers("producer", "supervisor")
    prod, sup = producer.open_shot(), supervisor.open_shot()
    connected(prod)
    connected(sup)
    prod.locator("[data-act=present]").click()
    prod.wait_for_function("() => document.querySelector('ap-review').dataset.presenting === 'true'", timeout=10000)
    follow = sup.locator("[data-act=follow]")
    sup.wait_for_function("() => !document.querySelector('[data-act=follow]').disabled", timeout=10000)
    follow.click()
    assert follow.get_attribute("aria-pressed") == "true"

    # when the presenter steps a second and three frames on
    prod.locator("ap-player").focus()
    prod.keyboard.press("Shift+ArrowRight")
    for _ in range(3):
        prod.keyboard.press("ArrowRight")
    wait_settled(prod)
    target = shown_frame_number(prod)
    assert target == world["first_frame"] + 24 + 3

    # then the follower's picture lands on the same frame
    sup.wait_for_function(f"() => document.querySelector('output[data-frame]').textContent === '{target}'", timeout=10000)
    wait_settled(sup)
    assert shown_frame_number(sup) == target
    # and the presenter sees where the follower is
    prod.wait_for_function(
        f"() => document.querySelector(\"[data-presence-list] li[data-user='supervisor'] [data-presence-frame]\")"
        f"?.textContent.trim() === '{target}'", timeout=10000)
    supervisor.screenshot("follow-mode")
    prod.locator("[data-act=present]").click()  # hand the room back for the next test


def test_difference_of_a_frame_with_itself_is_near_zero_and_with_the_fix_is_not(reviewers, world):
    # given the plate on frame 8, where the boom is in shot
    supervisor = reviewers("supervisor")
    page = supervisor.open_shot(v=world["version_number"])
    page.locator("ap-player").focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    wait_settled(page)

    # when it is compared with itself in the difference view
    page.select_option("[data-compare-version]", str(world["version"]))
    page.select_option("[data-compare-mode]", "difference")
    same = difference_mean(page)

    # and then with the proposal that removed the boom
    page.select_option("[data-compare-version]", str(world["proposal_version"]))
    page.wait_for_function("() => document.querySelector('.compare-b').readyState >= 2", timeout=10000)
    page.locator("ap-player").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    fixed = difference_mean(page)

    # then the first is black to within the encode's noise and the second shows the change
    assert same < 1.5
    assert fixed > same + 1.0
    supervisor.screenshot("compare-difference")
    # and the wipe keeps both sides on the same frame while stepping
    page.select_option("[data-compare-mode]", "wipe")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('ap-review').compare.locked", timeout=10000)
    assert page.evaluate("() => document.querySelector('ap-review').compare.bFrame") == 9
    supervisor.screenshot("compare-wipe")
    assert supervisor.errors == []


def _sign(page, world, signer, *, meaning="approval"):
    page.goto(f"/p/{world['production']}/fixes/{world['fix']}/")
    page.locator(f"[data-open-dialog='sign-{world['proposal']}']").click()
    dialog = page.locator(f"#sign-{world['proposal']}")
    assert dialog.is_visible()
    dialog.locator("select[name=meaning]").select_option(meaning)
    dialog.locator("input[name=password]").fill(world["password"])
    dialog.locator("input[name=second_factor]").fill(pyotp.TOTP(world["totp"][signer]).now())
    return dialog


def test_a_producer_approves_with_the_signature_dialog_and_a_supervisor_cannot(reviewers, world):
    # given the proposal awaiting a decision, opened from the review page of its version
    supervisor, producer = reviewers("supervisor", "producer")
    sup = supervisor.open_shot(v=world["proposal_version_number"])
    assert sup.locator(".proposal-card").is_visible()
    supervisor.screenshot("proposal-on-review-page")

    # when the supervisor opens the fix to approve it
    sup.goto(f"/p/{world['production']}/fixes/{world['fix']}/")

    # then the policy leaves them no Sign button, says why on hover, and the proposal still waits
    assert sup.locator(f"[data-open-dialog='sign-{world['proposal']}']").count() == 0
    assert "may not approve" in sup.locator("[data-cannot-sign]").get_attribute("title")
    assert "Awaiting decision" in sup.locator(f"#proposal-{world['proposal']}").inner_text()

    # when the producer, who finds it waiting in the approvals queue, signs it
    prod = producer.page
    prod.goto(f"/p/{world['production']}/approvals/")
    assert prod.locator(f"a[href*='/fixes/{world['fix']}/']").count() >= 1
    producer.screenshot("approvals-queue")
    dialog = _sign(prod, world, "producer")
    dialog.locator("button.primary").click()
    prod.wait_for_load_state()

    # then it is approved with the producer's printed name on the signature
    panel = prod.locator(f"#proposal-{world['proposal']}")
    assert "Approved" in panel.locator(".fix-state").first.inner_text()
    assert "Priya Raman" in panel.locator(".signatures").inner_text()
    producer.screenshot("proposal-approved")
    # and the consent registry and audit trail render for the producer
    for name, path in (("consent-registry", "consents/"), ("audit-trail", "audit/")):
        response = prod.goto(f"/p/{world['production']}/{path}")
        assert response.ok, (path, response.status)
        producer.screenshot(name)


def test_a_drawn_mask_becomes_a_fix_request_in_two_clicks(reviewers, world):
    # given a supervisor on the plate with the rectangle tool
    supervisor = reviewers("supervisor")
    page = supervisor.open_shot(v=world["version_number"])
    connected(page)
    page.locator("[data-tool=rectangle]").click()

    # when they drag a rectangle over the boom and press the button that appears
    box = page.locator(".draw-layer").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.05)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3, steps=5)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('ap-review').room.pending.size === 0", timeout=10000)
    mask_id = page.evaluate("() => document.querySelector('ap-review').drawing.selected")
    page.locator("[data-mask-fix]").click()

    # then the fix request form opens with that drawing chosen as the mask on this plate
    page.wait_for_url(lambda url: "/fixes/new/" in url)
    assert page.locator("select[name=mask_annotation]").input_value() == mask_id
    assert page.locator("select[name=kind]").input_value() == "object_removal"
    supervisor.screenshot("fix-request-from-mask")


def test_a_short_drop_of_the_room_connection_shows_no_warning_and_no_second_chip(reviewers):
    # given a supervisor in the shot's room
    supervisor = reviewers("supervisor")
    page = supervisor.open_shot()
    connected(page)
    page.wait_for_function("() => document.querySelectorAll('[data-presence-list] li').length === 1", timeout=10000)

    page.evaluate("""() => {
        const banner = document.querySelector('[data-banner]');
        window.bannerShown = [];
        new MutationObserver(() => { if (!banner.hidden) window.bannerShown.push(banner.textContent); })
            .observe(banner, {attributes: true, childList: true, characterData: true, subtree: true});
    }""")

    # when the connection drops (a server restart, a proxy moving it) and comes back within a second
    page.evaluate("() => document.querySelector('ap-review').room.socket.close()")
    page.wait_for_function("() => document.querySelector('ap-review').dataset.connected === 'false'", timeout=5000)
    connected(page)
    page.wait_for_timeout(2500)  # past the moment a warning would show

    # then nothing was said about it, and the supervisor is in the room once
    assert page.evaluate("() => window.bannerShown") == []
    assert page.locator("[data-presence-list] li").count() == 1
    assert supervisor.errors == []
