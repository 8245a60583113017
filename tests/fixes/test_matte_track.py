"""The drawn region tracked through a removal's range before the fix is fitted, kept with the
request, served frame by frame, and named by hash in the proposal's model card."""
import io

import numpy as np
from django.core.files.storage import default_storage
from PIL import Image

from answerprint.audit.models import AuditEvent
from answerprint.fixes import job_tasks
from answerprint.fixes.models import JobState, Proposal
from tests.factories import ProductionFactory, member
from tests.fixes.test_runner import HEIGHT, WIDTH, real_world  # noqa: F401 (fixture)


def _matte_url(world, fix, frame):
    return f"/p/{world.production.code}/fixes/{fix.pk}/matte/{frame}.png"


def _png(response) -> np.ndarray:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return np.asarray(Image.open(io.BytesIO(body)))


def test_before_the_job_runs_the_matte_of_every_frame_is_the_region_as_drawn(client, real_world):
    # given a queued removal of frames 1..6
    world = real_world
    fix = world.removal(frame_in=1, frame_out=6)
    client.force_login(world.viewer)
    first = world.shot.first_frame
    # when the matte of a frame in the range is asked for
    response = client.get(_matte_url(world, fix, first + 3))
    # then it is the drawn region, and a frame outside the range is not found
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    with default_storage.open(fix.mask.name) as drawn:
        assert np.array_equal(_png(response), np.asarray(Image.open(drawn)))
    assert client.get(_matte_url(world, fix, first)).status_code == 404
    assert client.get(_matte_url(world, fix, first + 7)).status_code == 404


def test_the_job_tracks_the_region_and_the_model_card_names_the_tracked_matte(client, real_world):
    # given a queued removal of frames 1..6, the region drawn on frame 0 of the shot
    world = real_world
    fix = world.removal(frame_in=1, frame_out=6, params={"iterations": 0})
    job = fix.jobs.get()
    # when the gpu task runs it
    job_tasks.run_fix_job.apply(args=[job.pk], task_id=job.task_id)
    # then the request keeps a matte per frame of its range, and the proposal's card names its hash
    job.refresh_from_db()
    fix.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    assert fix.matte_track and len(fix.matte_track_sha256) == 64
    card = Proposal.objects.get(request=fix).model_card
    assert card["inputs"]["mask_sha256"] == fix.matte_track_sha256
    event = AuditEvent.objects.get(action="fix_request.matte_tracked")
    assert event.after["matte_track_sha256"] == fix.matte_track_sha256 and event.after["frames"] == 6
    # and each frame's matte is served by the shot's frame number, still over the (flat, hard to
    # track) dark bar it was drawn on and nowhere near the rest of the frame
    client.force_login(world.viewer)
    response = client.get(_matte_url(world, fix, world.shot.first_frame + 6))
    matte = _png(response) > 0
    assert response.status_code == 200 and matte.shape == (HEIGHT, WIDTH)
    assert matte[6:14, 8:28].mean() >= 0.8 and not matte[30:, 50:].any()


def test_a_member_of_another_production_cannot_read_a_matte(client, real_world):
    world = real_world
    fix = world.removal(frame_in=1, frame_out=6)
    outsider = member(ProductionFactory(code="elsewhere"), "supervisor")
    client.force_login(outsider)
    assert client.get(_matte_url(world, fix, world.shot.first_frame + 2)).status_code == 404


def test_the_request_page_shows_the_matte_across_the_range_and_says_it_will_be_tracked(client, world):
    # given a queued removal of frames 0..11
    fix = world.removal(frame_in=0, frame_out=11)
    client.force_login(world.supervisor)
    # when its page is opened
    page = client.get(f"/p/{world.production.code}/fixes/{fix.pk}/").content.decode()
    # then the matte is shown at the first and the last frame of the range, by shot frame number
    first = world.shot.first_frame
    assert _matte_url(world, fix, first) in page and _matte_url(world, fix, first + 11) in page
    assert "will be tracked through the range" in page
