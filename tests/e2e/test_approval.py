"""The approval view in a real browser: frame numbers read from the pictures' pixels, the fix page's
locked compare, the brush the browser draws against the matte the server renders, the request form
from a drawing, and the signature dialog."""
import base64
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyotp
import pytest
from PIL import Image

from answerprint.fixes.masks import render_mask_png
from answerprint.media.demo_footage import read_burned_frame_number
from answerprint.media.timecode import frames_to_timecode

pytestmark = pytest.mark.e2e

STROKES = json.loads((Path(__file__).parents[1] / "fixes" / "brush_strokes.json").read_text())
FIX_SETTLED = ("() => { const c = document.querySelector('ap-fix-compare'); return c && c.player.ready"
               " && c.player.idle && c.compare.locked && c.compare.b.readyState >= 2; }")


def pixels_of(locator):
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))


def number_in(locator):
    return read_burned_frame_number(pixels_of(locator))


def settle_fix(page, timeout=10000):
    page.wait_for_function(FIX_SETTLED, timeout=timeout)
    page.wait_for_timeout(200)  # one more composited frame before a screenshot


def open_fix(reviewer, fix_id):
    page = reviewer.page
    page.goto(f"/p/{reviewer.world['production']}/fixes/{fix_id}/")
    settle_fix(page, timeout=30000)  # two videos to load on a busy machine
    return page


def test_a_proposal_for_part_of_a_shot_shows_its_own_frame_numbers_and_timecode(reviewers, world):
    # given the producer on the proposal for frames 1012-1030 of a take that starts at 11:09:03:05
    producer = reviewers("producer")
    page = producer.open_shot(v=world["partial_version_number"])
    page.wait_for_function("() => document.querySelector('ap-player').idle", timeout=10000)
    page.wait_for_timeout(200)

    # then the counter, the timecode and the burned-in number all say 1012
    assert page.locator("output[data-frame]").inner_text() == "1012"
    assert page.locator("output[data-tc]").inner_text() == "11:09:03:16"
    assert number_in(page.locator("ap-player video").first) == 1012

    # and eight frames on, all three still agree
    page.locator("ap-player").focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('ap-player').idle", timeout=10000)
    page.wait_for_timeout(200)
    assert page.locator("output[data-frame]").inner_text() == "1020"
    assert page.locator("output[data-tc]").inner_text() == "11:09:04:00"
    assert number_in(page.locator("ap-player video").first) == 1020
    assert producer.errors == []


def test_the_fix_page_shows_proposal_and_source_at_the_same_frame_number_with_one_transport(reviewers, world):
    # given the producer on the fix page of the partial proposal, side by side
    producer = reviewers("producer")
    page = open_fix(producer, world["partial_fix"])
    proposal, source = page.locator("ap-fix-compare video").first, page.locator("ap-fix-compare .compare-b")

    # then both pictures show frame 1012
    assert number_in(proposal) == 1012 and number_in(source) == 1012

    # when the one transport steps eight frames
    page.locator("ap-fix-compare ap-player").focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    settle_fix(page)

    # then both moved together, to 1020
    assert number_in(proposal) == 1020 and number_in(source) == 1020
    assert page.locator("ap-fix-compare output[data-frame]").inner_text() == "1020"
    producer.screenshot("fix-page-compare")
    assert producer.errors == []


def test_side_by_side_draws_each_picture_at_its_own_aspect(reviewers, world):
    producer = reviewers("producer")
    page = open_fix(producer, world["partial_fix"])
    for selector in ("ap-fix-compare video >> nth=0", "ap-fix-compare .compare-b"):
        box = page.locator(selector).bounding_box()
        assert box["width"] / box["height"] == pytest.approx(640 / 360, rel=0.02), (selector, box)


def test_wipe_difference_with_gain_and_flip_work_on_the_fix_page(reviewers, world):
    # given the fix page in difference mode
    producer = reviewers("producer")
    page = open_fix(producer, world["partial_fix"])
    page.select_option("ap-fix-compare [data-mode]", "difference")
    settle_fix(page)

    def difference_mean():
        return page.evaluate("""() => {
            const c = document.querySelector('ap-fix-compare').compare;
            c.draw();
            const d = c.canvas.getContext('2d').getImageData(0, 0, c.canvas.width, c.canvas.height).data;
            let sum = 0;
            for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
            return sum / (d.length / 4 * 3);
        }""")

    # when the gain goes from 1 to 8, the difference reads brighter
    plain = difference_mean()
    page.select_option("ap-fix-compare [data-gain]", "8")
    amplified = difference_mean()
    assert plain > 0 and amplified > 3 * plain

    # and \ flips to the source, wipe shows a slider
    page.locator("ap-fix-compare ap-player").focus()
    page.keyboard.press("\\")
    assert page.locator("ap-fix-compare .compare-b.shown").count() == 1
    page.select_option("ap-fix-compare [data-mode]", "wipe")
    assert page.locator("ap-fix-compare .wipe-slider").is_visible()
    assert producer.errors == []


def test_the_drawn_mask_lies_over_the_frames_the_fix_covers_and_m_hides_it(reviewers, world):
    producer = reviewers("producer")
    page = open_fix(producer, world["partial_fix"])
    overlay = page.locator("ap-fix-compare .mask-overlay")
    assert overlay.get_attribute("data-shown") == "true" and overlay.locator(".shape-rectangle").count() == 1
    page.locator("ap-fix-compare ap-player").focus()
    page.keyboard.press("m")
    assert overlay.get_attribute("data-shown") == "false"


def test_the_browser_brush_and_the_server_matte_cover_the_same_pixels(reviewers, world):
    # given the shared strokes, rendered by the browser's own drawing code
    page = reviewers("supervisor").page
    width, height = STROKES["size"]
    rendered = page.evaluate("""async ({strokes, width, height}) => {
        const { shapeNode } = await import('/static/js/draw.js');
        const out = [];
        for (const stroke of strokes) {
            const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
            svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
            svg.setAttribute('viewBox', `0 0 ${width / height} 1`);
            svg.setAttribute('width', width); svg.setAttribute('height', height);
            svg.setAttribute('preserveAspectRatio', 'none');
            svg.append(shapeNode({ ...stroke, color: '#ffffff' }, width / height));
            const image = new Image();
            image.src = 'data:image/svg+xml;base64,' + btoa(new XMLSerializer().serializeToString(svg));
            await image.decode();
            const canvas = document.createElement('canvas');
            canvas.width = width; canvas.height = height;
            const ctx = canvas.getContext('2d');
            ctx.fillStyle = '#000'; ctx.fillRect(0, 0, width, height);
            ctx.drawImage(image, 0, 0);
            out.push(canvas.toDataURL('image/png'));
        }
        return out;
    }""", {"strokes": STROKES["strokes"], "width": width, "height": height})

    # then each matte the server renders from the same stroke overlaps it with IoU >= 0.98
    for stroke, data_url in zip(STROKES["strokes"], rendered, strict=True):
        browser = np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("L")) > 127
        server = np.asarray(Image.open(io.BytesIO(render_mask_png(stroke, width, height)))) > 127
        iou = (browser & server).sum() / (browser | server).sum()
        assert iou >= 0.98, f"{stroke['name']}: IoU {iou:.3f}"


@pytest.mark.parametrize("rate, drop_frame", [
    ((24, 1), False), ((24000, 1001), False), ((25, 1), False), ((30000, 1001), True), ((30000, 1001), False),
    ((60000, 1001), True),
])
def test_timecode_js_counts_as_the_server_does(reviewers, world, rate, drop_frame):
    # given frame counts around minute and ten-minute boundaries and late in the day
    page = reviewers("producer").page
    frames = [0, 1, 1799, 1800, 1801, 17981, 17982, 17983, 107892, 1000000, 2073599]

    # when timecode.js turns them into timecode and back
    got = page.evaluate("""async ({frames, num, den, drop}) => {
        const tc = await import('/static/js/timecode.js');
        return frames.map((f) => { const t = tc.framesToTimecode(f, num, den, drop); return [t, tc.timecodeToFrames(t, num, den)]; });
    }""", {"frames": frames, "num": rate[0], "den": rate[1], "drop": drop_frame})

    # then it writes what the server writes and reads back the same frame
    for frame, (timecode, back) in zip(frames, got, strict=True):
        assert timecode == frames_to_timecode(frame, Fraction(*rate), drop_frame=drop_frame), frame
        if frame < 24 * 3600 * rate[0] // rate[1]:
            assert back == frame, (frame, timecode)


def test_a_drawing_s_link_opens_the_request_form_with_its_frame_range(reviewers, world):
    # given a supervisor who selected the boom mask on the plate (held on every frame)
    supervisor = reviewers("supervisor")
    page = supervisor.open_shot(v=world["version_number"])
    page.wait_for_function("() => document.querySelector('ap-review').drawing.shapes.size > 0", timeout=10000)
    page.evaluate("""(id) => { const r = document.querySelector('ap-review');
                             r.selectionChanged(r.drawing.shapes.get(id)); }""", world["mask_annotation"])

    # when they follow "Request a fix for this mask"
    page.locator("[data-mask-fix]").click()
    page.wait_for_url("**/fixes/new/**")

    # then the form shows the drawing and its range in the player's numbers
    first, last = world["first_frame"], world["first_frame"] + world["frames"] - 1
    assert page.locator("input[name=frame_in]").input_value() == str(first)
    assert page.locator("input[name=frame_out]").input_value() == str(last)
    assert page.locator("#fix-mask").input_value() == world["mask_annotation"]

    # and submitting a part of it asks for exactly that part
    page.fill("input[name=frame_in]", "1012")
    page.fill("input[name=frame_out]", "1020")
    page.fill("#fix-reason", "Boom, second half")
    page.locator("form button.primary", has_text="Queue the fix").click()
    page.wait_for_url("**/fixes/*/")
    assert "1012–1020 (9 frames)" in page.locator("main").inner_text()
    assert supervisor.errors == []


def test_a_wrong_password_keeps_the_dialog_open_with_the_note(reviewers, world):
    # given the producer signing the partial proposal with a note
    producer = reviewers("producer")
    page = open_fix(producer, world["partial_fix"])
    page.locator("[data-open-dialog^=sign-]").click()
    dialog = page.locator("dialog.sign[open]")
    assert "1012–1030" in dialog.inner_text() and "allows delivery" in dialog.inner_text()
    # and choosing a meaning shows its own attestation, the choices keep their names
    dialog.locator("select[name=meaning]").select_option("responsibility")
    assert "I take responsibility" in dialog.locator("[data-attestation-shown]").inner_text()
    assert dialog.locator("select[name=meaning] option[value=approval]").inner_text().startswith("Approval")
    dialog.locator("select[name=meaning]").select_option("approval")
    producer.screenshot("signature-dialog")
    dialog.locator("input[name=reason]").fill("Clean plate matches at 1020")
    dialog.locator("input[name=password]").fill("not-my-password")
    dialog.locator("input[name=second_factor]").fill(pyotp.TOTP(world["totp"]["producer"]).now())

    # when they sign
    dialog.locator("button.primary").click()

    # then the dialog is open again with the error, the note is still there
    page.wait_for_selector("dialog.sign[open] [data-dialog-error]", timeout=10000)
    dialog = page.locator("dialog.sign[open]")
    assert "password is not correct" in dialog.inner_text()
    assert dialog.locator("input[name=reason]").input_value() == "Clean plate matches at 1020"


def test_the_requester_has_no_sign_button_and_sees_why(reviewers, world):
    lead = reviewers("lead")
    page = lead.page
    page.goto(f"/p/{world['production']}/fixes/{world['partial_fix']}/")
    assert page.locator("[data-open-dialog^=sign-]").count() == 0
    assert "someone else must sign it" in page.locator("[data-cannot-sign]").get_attribute("title")


def test_enter_in_the_text_tool_places_the_text_once_without_an_error(reviewers, world):
    # given a supervisor typing a label with the text tool on the plate
    supervisor = reviewers("supervisor")
    page = supervisor.open_shot(v=world["version_number"])
    page.wait_for_function("() => document.querySelector('ap-review')?.dataset.connected === 'true'", timeout=10000)
    before = page.evaluate("() => document.querySelector('ap-review').drawing.shapes.size")
    page.locator("ap-player").focus()
    page.keyboard.press("t")
    box = page.locator(".draw-layer").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.7)
    page.locator(".text-entry").fill("Boom shadow")

    # when they press Enter
    page.keyboard.press("Enter")

    # then one text shape is made, and the page threw nothing
    page.wait_for_function(f"() => document.querySelector('ap-review').drawing.shapes.size === {before + 1}",
                           timeout=10000)
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelector('ap-review').drawing.shapes.size") == before + 1
    assert page.locator(".text-entry").count() == 0
    assert supervisor.errors == []


def test_a_mention_reaches_the_other_person_s_bell_live_and_their_inbox(reviewers, world):
    # given the producer and the supervisor on the plate's review page
    supervisor, producer = reviewers("supervisor", "producer")
    sup, prod = supervisor.open_shot(v=world["version_number"]), producer.open_shot(v=world["version_number"])
    for page in (sup, prod):
        page.wait_for_function("() => document.querySelector('ap-review')?.dataset.connected === 'true'",
                               timeout=10000)
    before = int(prod.locator("[data-bell-count]").inner_text() or 0)

    # when the supervisor writes a note that mentions the producer
    note = "@producer is the boom shadow acceptable here?"
    sup.locator("#composer-body").fill(note)
    sup.keyboard.press("Enter")

    # then the producer's bell counts it without a reload, with a notice linking to the frame
    prod.wait_for_function(f"() => Number(document.querySelector('[data-bell-count]').textContent) === {before + 1}",
                           timeout=10000)
    toast = prod.locator(".toast")
    assert "Sam Okafor mentioned you" in toast.inner_text()
    # and the inbox lists it, opening the review page on the note's frame
    prod.goto("/inbox/")
    assert "is the boom shadow acceptable here?" in prod.locator("[data-inbox]").inner_text()
    producer.screenshot("inbox")
    prod.locator("[data-inbox] a").first.click()
    prod.wait_for_function("() => document.querySelector('ap-player')?.ready === true", timeout=15000)
    assert f"v={world['version_number']}&frame={world['first_frame']}" in prod.url
    assert producer.errors == [] and supervisor.errors == []


def test_a_presenter_takes_playlist_followers_from_item_to_item(reviewers, world):
    # given a playlist of the plate and the partial proposal, the producer presenting its first item
    producer, supervisor = reviewers("producer", "supervisor")
    prod = producer.page
    prod.goto(f"/p/{world['production']}/playlists/")
    prod.fill("#playlist-title", "Boom fixes")
    prod.check(f"input[name=versions][value='{world['version']}']")
    prod.check(f"input[name=versions][value='{world['partial_version']}']")
    prod.locator("form button.primary", has_text="Open the playlist").click()
    prod.wait_for_url("**/playlists/*/")
    playlist_url = prod.url
    connected_js = "() => document.querySelector('ap-review')?.dataset.connected === 'true'"
    prod.wait_for_function(connected_js, timeout=10000)
    prod.locator("[data-act=present]").click()
    prod.wait_for_function("() => document.querySelector('ap-review').dataset.presenting === 'true'", timeout=10000)

    # and the supervisor following in the same playlist
    sup = supervisor.page
    sup.goto(playlist_url)
    sup.wait_for_function(connected_js, timeout=10000)
    sup.wait_for_function("() => !document.querySelector('[data-act=follow]').disabled", timeout=10000)
    sup.locator("[data-act=follow]").click()

    # when the presenter moves to the other item
    other = prod.locator("[data-playlist] li:not(.current)")
    target = other.get_attribute("data-item")
    other.locator("a").click()
    prod.wait_for_function(connected_js, timeout=10000)

    # then the follower's page goes there too, still following, with its status shown
    sup.wait_for_url(f"**item={target}**", timeout=15000)
    sup.wait_for_function(connected_js, timeout=10000)
    assert sup.locator(f"[data-item='{target}']").get_attribute("aria-current") == "true"
    assert "Awaiting decision" in sup.locator(f"[data-item='{world['partial_version']}']").inner_text()
    assert sup.locator("[data-act=follow]").get_attribute("aria-pressed") == "true"
    supervisor.screenshot("playlist-follow")
    prod.locator("[data-act=present]").click()  # hand the room back
    assert producer.errors == [] and supervisor.errors == []


def test_an_audit_filter_that_does_not_validate_shows_no_events_and_names_work(reviewers, world):
    # given the producer on the audit trail
    producer = reviewers("producer")
    page = producer.page

    # when they filter by someone who is not there
    page.goto(f"/p/{world['production']}/audit/?actor=Nobody+Here")

    # then the error is shown and no event is listed
    assert "Nobody named" in page.locator("main").inner_text()
    assert page.locator("[id^=event-]").count() == 0 and page.locator("[data-filter-refused]").is_visible()

    # and the name the list shows filters by that person
    page.goto(f"/p/{world['production']}/audit/?actor=Lena+Brandt")
    assert page.locator("[id^=event-]").count() >= 1
    names = page.locator("[id^=event-] td:nth-child(3)").all_inner_texts()
    assert all(name.startswith("Lena Brandt") for name in names)


def test_a_failed_upload_never_opens_by_default_and_its_uploader_deletes_it(reviewers, world):
    # given a shot whose newest version is an upload that failed ingest
    editor = reviewers("editor")
    page = editor.open_shot()

    # then the shot opens on its latest ready version, with the failed one still listed
    current = page.locator(".versions li.current").first
    assert current.get_attribute("data-version") != str(world["failed_version_number"])
    assert "Ready" in current.text_content()
    failed = page.locator(f".versions li[data-version='{world['failed_version_number']}']").first
    assert "Failed" in failed.text_content()

    # when its uploader deletes it from its own page
    page.goto(editor.shot_url(v=world["failed_version_number"]))
    page.locator("button", has_text="Delete this upload").click()
    page.wait_for_load_state()

    # then it is gone from the stack, and the page says its original is kept
    assert "its original is kept with the audit trail" in page.locator(".messages").inner_text()
    assert page.locator(f".versions li[data-version='{world['failed_version_number']}']").count() == 0
    assert editor.errors == []
