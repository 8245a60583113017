"""Importing an EDL in a real browser: the report lists every event, and the shot page offers the
editor's CDL as a viewing grade that really changes the picture."""
import io

import numpy as np
import pytest
from PIL import Image

from answerprint.media.timecode import frames_to_timecode

pytestmark = pytest.mark.e2e


def _edl(world):
    """The world's shot as event 001 (no handles needed: the range is its whole plate) with a
    CDL that doubles red and halves green and blue, then a black event that makes no shot."""
    start = 3600 * 24
    end = start + world["frames"]
    tc = lambda frames: frames_to_timecode(frames, 24)  # noqa: E731
    return (f"TITLE: E2E\r\nFCM: NON-DROP FRAME\r\n\r\n"
            f"001  TAPE01   V     C        {tc(start)} {tc(end)} {tc(start)} {tc(end)}\r\n"
            f"* FROM CLIP NAME: {world['shot']}\r\n"
            f"*ASC_SOP (2.0 0.5 0.5)(0.0 0.0 0.0)(1.0 1.0 1.0)\r\n*ASC_SAT 1.0\r\n"
            f"002  BL       V     C        00:00:00:00 00:00:01:00 {tc(end)} {tc(end + 24)}\r\n").encode()


def _mean_rgb(page):
    png = page.locator("ap-player video").first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).mean(axis=0)


def test_an_editor_imports_an_edl_sees_every_event_and_views_the_shot_through_its_cdl(reviewers, world):
    # given the editor on the production page
    editor = reviewers("editor")
    page = editor.page
    page.goto(f"/p/{world['production']}/")

    # when they import an EDL with the shot (and its CDL) and a black event, without handles
    page.click("summary:has-text('Import a timeline')")
    page.set_input_files("#timeline-file", files=[{"name": "e2e.edl", "mimeType": "text/plain",
                                                   "buffer": _edl(world)}])
    page.fill("#timeline-fps", "24")
    page.fill("#timeline-handles", "0")
    page.select_option("#timeline-name-rule", "clip")
    page.click("button:has-text('Import shots')")

    # then the report page lists both events: the shot updated, the black one skipped with its reason
    page.wait_for_url(lambda url: "/timelines/" in url)
    body = page.inner_text("body")
    assert "e2e.edl imported: 0 shots created, 1 updated, 0 unchanged, 1 event skipped." in body
    assert "Event 002 (line 8) is black (a generator), not picture from a camera." in body

    # and on the shot page, the CDL toggle changes the picture as the CDL says
    editor.open_shot()
    page.wait_for_timeout(300)
    plain = _mean_rgb(page)
    page.check("[data-cdl-toggle]")
    page.wait_for_timeout(300)
    graded = _mean_rgb(page)
    assert graded[0] > plain[0] * 1.3 and graded[1] < plain[1] * 0.7 and graded[2] < plain[2] * 0.7, (plain, graded)
    page.uncheck("[data-cdl-toggle]")
    page.wait_for_timeout(300)
    assert np.abs(_mean_rgb(page) - plain).max() < 2.0
    assert editor.errors == []
