"""One frame numbering: a proposal for part of a shot carries the frame numbers and timecode of the
source frames it replaces, and the request form counts frames as the player does."""
import pytest

from answerprint.fixes import services
from answerprint.fixes.models import FixRequest
from answerprint.media.models import AssetStatus, MediaAsset

from .conftest import polygon, ready_version

pytestmark = pytest.mark.django_db


def _page(world, path):
    return f"/p/{world.production.code}/{path}"


@pytest.mark.parametrize("fps, source_timecode, expected_timecode", [
    ((24, 1), "19:41:27:08", "19:41:27:19"),
    ((24000, 1001), "19:41:27:08", "19:41:27:19"),
    ((25, 1), "10:00:00:20", "10:00:01:06"),
    # 29.97 drop frame skips ;00 and ;01 at the minute: eleven frames after 59;28 is 01:00;11.
    ((30000, 1001), "00:00:59;28", "00:01:00;11"),
    ((30000, 1001), "00:00:59:28", "00:01:00:09"),
])
def test_a_proposal_for_part_of_a_shot_starts_at_the_number_and_timecode_of_its_first_frame(
        world, tmp_path, fps, source_timecode, expected_timecode):
    # given a 40-frame plate starting at 1001 with its camera timecode, at this rate
    plate = ready_version(world.shot, frames=40, fps=fps, start_timecode=source_timecode)
    fix = world.removal(source_version=plate, frame_in=11, frame_out=29, mask_annotation=_mask(world, plate))

    # when the job hands in its 19 frames
    proposal = world.propose(fix, tmp_path)

    # then the proposal's first frame is 1012 with the source's timecode at 1012
    assert proposal.version.first_frame == 1012
    assert proposal.version.start_timecode == expected_timecode


def _mask(world, version):
    return polygon(version, world.supervisor)


def test_a_delivery_keeps_the_numbering_of_the_proposal_it_delivers(world, tmp_path):
    # given an approved proposal for frames 1005-1008 of a plate at 01:00:00:00
    plate = ready_version(world.shot, frames=12, start_timecode="01:00:00:00")
    fix = world.removal(source_version=plate, frame_in=4, frame_out=7, mask_annotation=_mask(world, plate))
    proposal = world.propose(fix, tmp_path)
    world.sign(proposal, world.producer)

    # when it is promoted to delivery
    delivery = services.promote_to_delivery(actor=world.editor, version=proposal.version, reason="Conform")

    # then the delivery starts where the proposal does
    assert (delivery.first_frame, delivery.start_timecode) == (1005, "01:00:00:04")


def test_the_form_takes_frame_numbers_as_the_player_shows_them(client, world):
    # given a supervisor on the request form of a plate whose frames are 1001-1012
    client.force_login(world.supervisor)

    # when they ask for frames 1004 to 1009
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "mask_annotation": str(world.boom.pk),
        "frame_in": "1004", "frame_out": "1009", "params": "", "reason": "Boom"})

    # then the request covers the plate's 4th to 9th frames
    assert response.status_code == 302
    fix = FixRequest.objects.get()
    assert (fix.frame_in, fix.frame_out) == (3, 8)


def test_a_frame_outside_the_source_is_refused_naming_the_source_s_frames(client, world):
    client.force_login(world.supervisor)
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "mask_annotation": str(world.boom.pk),
        "frame_in": "12", "frame_out": "1009", "params": "", "reason": "Boom"})
    page = response.content.decode()
    assert response.status_code == 400 and not FixRequest.objects.exists()
    assert "Frame 12 is outside" in page and "1001–1012" in page and "Boom" in page


def test_a_link_from_a_drawing_fills_in_its_mask_and_frame_range(client, world):
    # given the link the review page makes from a drawing held on frames 1020-1038
    plate = ready_version(world.shot, frames=40)
    mask = _mask(world, plate)
    client.force_login(world.supervisor)

    # when the supervisor follows it
    page = client.get(_page(world, f"fixes/new/?source_version={plate.pk}&kind=object_removal"
                                   f"&mask_annotation={mask.pk}&frame_in=1020&frame_out=1038")).content.decode()

    # then the form shows that drawing and that range, in the same numbers
    assert f'<option value="{mask.pk}" selected' in page
    assert 'name="frame_in" inputmode="numeric" pattern="\\d*" value="1020"' in page
    assert 'name="frame_out" inputmode="numeric" pattern="\\d*" value="1038"' in page


def test_the_shot_page_numbers_a_partial_proposal_from_its_own_first_frame(client, world, tmp_path):
    # given a proposal for frames 1012-1030 of a plate at 19:41:27:08
    plate = ready_version(world.shot, frames=40, start_timecode="19:41:27:08")
    fix = world.removal(source_version=plate, frame_in=11, frame_out=29, mask_annotation=_mask(world, plate))
    proposal = world.propose(fix, tmp_path)
    MediaAsset.objects.filter(version=proposal.version).update(proxy="tests/proxy.mp4", fps_num=24, fps_den=1,
                                                               frame_count=19, status=AssetStatus.READY)
    MediaAsset.objects.filter(version=plate).update(proxy="tests/plate-proxy.mp4")
    client.force_login(world.producer)

    # when the producer opens it
    page = client.get(_page(world, f"shots/{world.shot.name}/?v={proposal.version.number}")).content.decode()

    # then its player counts from 1012 at 19:41:27:19, and compare knows where the source starts
    assert 'first-frame="1012" start-timecode="19:41:27:19"' in page
    assert "<dt>Start TC</dt><dd>19:41:27:19</dd>" in page
    assert '"first_frame": 1001' in page
