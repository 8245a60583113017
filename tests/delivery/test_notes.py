import csv
import io
from fractions import Fraction

import opentimelineio as otio
import pytest

from answerprint.audit.models import AuditEvent
from answerprint.delivery import notes
from answerprint.delivery.selectors import notes_cut
from answerprint.review import services as review
from tests.factories import ShotFactory
from tests.fixes.conftest import ready_version

RATE = 24


@pytest.fixture
def cut_world(world, tmp_path):
    """Two shots from an imported timeline (record 01:00:00:00 and 01:00:02:00), notes and a decision."""
    shot = world.shot
    shot.reel, shot.source_name = "A001C003", "A001C003.mov"
    shot.source_timecode_in, shot.record_timecode_in = "14:02:03:04", "01:00:02:00"
    shot.first_frame, shot.last_frame = 0, 11
    shot.save()
    other = ShotFactory(production=world.production, name="SC010_SH020", source_name="A001C001",
                        source_timecode_in="10:00:00:00", record_timecode_in="01:00:00:00", first_frame=0,
                        last_frame=47)
    other_plate = ready_version(other, frames=48)
    review.create_comment(actor=world.supervisor, version=world.plate, body="Boom dips in, top left", frame=3)
    resolved = review.create_comment(actor=world.editor, version=other_plate, body="Soft focus", frame=10,
                                     duration=4)
    review.resolve_comment(actor=world.supervisor, comment=resolved.obj)
    fix = world.removal(frame_in=6, frame_out=9)
    proposal = world.propose(fix, tmp_path)
    world.sign(proposal, world.producer)
    review.create_comment(actor=world.producer, version=proposal.version, body="Clean now", frame=1)
    world.other_plate = other_plate
    return world


def _expected(world):
    """(record timecode, text fragment, colour) of every marker the cut must carry."""
    return [
        ("01:00:00:10", "Resolved note: Soft focus", "WHITE"),
        ("01:00:02:03", "Open note: Boom dips in, top left", "BLUE"),
        ("01:00:02:06", "Approved: Rig / object removal", "GREEN"),
        ("01:00:02:07", "Open note: Clean now", "BLUE"),  # frame 1 of a proposal that starts at shot frame 6
    ]


def test_the_cut_places_imported_shots_at_record_timecode_and_notes_at_their_shot_frames(cut_world):
    # when the production's notes are gathered
    cut = notes_cut(cut_world.production)

    # then the shots are in record order and each note is on its frame of the cut
    assert [s.name for s in cut.shots] == ["SC010_SH020", "SC010_SH030"]
    placed = [(cut.tc(frame), note.status) for _, note, frame in cut.markers()]
    assert placed == [("01:00:00:10", "resolved"), ("01:00:02:03", "open"), ("01:00:02:06", "approved"),
                      ("01:00:02:07", "open")]


def test_the_edl_locators_read_back_through_opentimelineio_on_the_same_frames_with_the_same_text(cut_world):
    # given the notes as a CMX3600 EDL with locators
    edl = notes.cmx3600(notes_cut(cut_world.production))

    # when OpenTimelineIO's CMX3600 adapter reads it
    timeline = otio.adapters.read_from_string(edl, "cmx_3600", rate=RATE)

    # then each shot is an event at its source timecode and each note a locator at its record frame, in its colour
    clips = list(timeline.find_clips())
    assert [otio.opentime.to_timecode(c.source_range.start_time, RATE) for c in clips] == ["10:00:00:00", "14:02:03:04"]
    read = [(otio.opentime.to_timecode(m.marked_range.start_time, RATE), m.name, m.color)
            for c in clips for m in c.markers]
    assert [(tc, colour) for tc, _, colour in read] == [(tc, colour) for tc, _, colour in _expected(cut_world)]
    for (_, text, _), (_, fragment, _) in zip(read, _expected(cut_world)):
        assert text.startswith(fragment)


def test_the_otio_export_round_trips_with_markers_on_their_source_frames(cut_world):
    # given the notes as OTIO
    written = notes.FORMATS["otio"][0](notes_cut(cut_world.production))

    # when OpenTimelineIO reads it back
    timeline = otio.adapters.read_from_string(written, "otio_json")

    # then every marker is on the same frame of the cut, with the same text and colour
    found = []
    for clip in timeline.find_clips():
        record_in = clip.range_in_parent().start_time + timeline.global_start_time
        for marker in clip.markers:
            offset = marker.marked_range.start_time - clip.source_range.start_time
            found.append((otio.opentime.to_timecode(record_in + offset, RATE), marker.name, marker.color))
    assert [(tc, colour) for tc, _, colour in found] == [(tc, c) for tc, _, c in _expected(cut_world)]
    assert all(text.startswith(fragment) for (_, text, _), (_, fragment, _) in zip(found, _expected(cut_world)))


def test_the_fcpxml_is_version_1_10_and_reads_back_through_the_fcpx_adapter_with_the_same_markers(cut_world):
    # given the notes as Final Cut Pro XML
    written = notes.fcpxml(notes_cut(cut_world.production))
    assert '<fcpxml version="1.10">' in written

    # when OpenTimelineIO's FCP X adapter reads it
    timeline = otio.adapters.read_from_string(written, "fcpx_xml")

    # then the markers are on the same source frames with the same text
    read = sorted((m.marked_range.start_time.to_frames(), m.name) for c in timeline.find_clips() for m in c.markers)
    source_starts = {"SC010_SH020": 10 * 3600 * RATE, "SC010_SH030": ((14 * 60 + 2) * 60 + 3) * RATE + 4}
    cut = notes_cut(cut_world.production)
    expected = sorted((source_starts[shot.name] + note.frame, notes._marker_text(note)) for shot, note, _ in cut.markers())
    assert read == expected


def test_avid_marker_text_and_resolve_csv_carry_each_note_at_record_timecode_with_its_colour(cut_world):
    # when the notes are written for Media Composer and for Resolve
    cut = notes_cut(cut_world.production)
    avid = [line.split("\t") for line in notes.avid_markers(cut).splitlines()]
    rows = list(csv.DictReader(io.StringIO(notes.resolve_csv(cut))))

    # then both list every marker at its record timecode, coloured by status
    assert [(r[1], r[2], r[3]) for r in avid] == [("01:00:00:10", "V1", "white"), ("01:00:02:03", "V1", "blue"),
                                                  ("01:00:02:06", "V1", "green"), ("01:00:02:07", "V1", "blue")]
    assert [(r["Record In"], r["Color"], r["Notes"]) for r in rows][:2] == [
        ("01:00:00:10", "Cream", "Soft focus"), ("01:00:02:03", "Blue", "Boom dips in, top left")]
    assert rows[2]["Record Out"] == "01:00:02:10" and rows[2]["Status"] == "Approved"


def test_the_resolve_marker_edl_reads_back_as_one_event_per_marker(cut_world):
    # when the Resolve marker EDL is read by OpenTimelineIO
    edl = notes.resolve_edl(notes_cut(cut_world.production))
    clips = list(otio.adapters.read_from_string(edl, "cmx_3600", rate=RATE).find_clips())

    # then each event starts on its marker's record frame and carries the colour and note
    assert [otio.opentime.to_timecode(c.source_range.start_time, RATE) for c in clips] == [
        tc for tc, _, _ in _expected(cut_world)]
    comments = [" ".join(c.metadata["cmx_3600"]["comments"]) for c in clips]
    assert "|C:ResolveColorGreen" in comments[2] and "|M:Approved: Rig / object removal" in comments[2]


def test_a_shot_imported_with_handles_cuts_in_after_them_and_its_notes_keep_their_frames(world):
    # given a shot imported with 8 handles: its cut in (frame 8) is source 14:02:03:04, record 01:00:02:00
    shot = world.shot
    shot.reel, shot.source_name, shot.handles = "A001C003", "A001C003.mov", 8
    shot.source_timecode_in, shot.source_timecode_out = "14:02:03:04", "14:02:03:12"
    shot.record_timecode_in, shot.record_timecode_out = "01:00:02:00", "01:00:02:08"
    shot.first_frame, shot.last_frame = 1001, 1024
    shot.save()
    review.create_comment(actor=world.supervisor, version=world.plate, body="First frame of the cut", frame=8)

    # when the notes are written as an EDL and read back by OpenTimelineIO
    cut = notes_cut(world.production)
    clip, = otio.adapters.read_from_string(notes.cmx3600(cut), "cmx_3600", rate=RATE).find_clips()

    # then the event is the cut (8 frames from 14:02:03:04) and the note is on its first record frame
    assert otio.opentime.to_timecode(clip.source_range.start_time, RATE) == "14:02:03:04"
    assert clip.source_range.duration.value == 8
    assert otio.opentime.to_timecode(clip.markers[0].marked_range.start_time, RATE) == "01:00:02:00"


def test_shots_without_an_imported_timeline_follow_each_other_from_one_hour(world, tmp_path):
    # given two shots that came from no timeline
    second = ShotFactory(production=world.production, name="SC020_SH010", first_frame=0, last_frame=23)
    ready_version(second, frames=24)
    world.shot.first_frame, world.shot.last_frame = 0, 11
    world.shot.save()

    # when the cut is made, then they sit end to end from 01:00:00:00
    cut = notes_cut(world.production)
    assert [(s.name, cut.tc(s.record_in)) for s in cut.shots] == [("SC010_SH030", "01:00:00:00"),
                                                                  ("SC020_SH010", "01:00:00:12")]


def test_the_conform_timeline_takes_the_delivered_range_from_the_delivery(cut_world):
    # given a shot whose approved fix of frames 6..9 was delivered
    cut = notes_cut(cut_world.production)
    shot = next(s for s in cut.shots if s.name == "SC010_SH030")
    shot.delivery = {"media": "SC010_SH030_v004/SC010_SH030_v004.mov", "frame_in": 6, "frame_out": 9,
                     "version": 4, "manifest_sha256": "e" * 64}

    # when the conform timeline is written and read back
    timeline = otio.adapters.read_from_string(notes.FORMATS["conform-otio"][0](cut), "otio_json")

    # then the shot is source 0..5, delivery 6..9, source 10..11, on the same record frames
    clips = [c for c in timeline.find_clips() if c.name.startswith("SC010_SH030")]
    assert [(c.media_reference.target_url, c.source_range.duration.to_frames()) for c in clips] == [
        ("A001C003.mov", 6), ("SC010_SH030_v004/SC010_SH030_v004.mov", 4), ("A001C003.mov", 2)]
    assert otio.opentime.to_timecode(clips[1].source_range.start_time, RATE) == "14:02:03:10"


def test_the_export_endpoint_is_scoped_audited_and_refuses_other_productions(client, cut_world):
    from tests.factories import ProductionFactory

    client.force_login(cut_world.editor)
    base = f"/api/productions/{cut_world.production.code}/notes/export"

    # when an editor exports one shot's notes as an Avid EDL
    response = client.get(f"{base}.edl", {"shot": "SC010_SH030"})

    # then it is a file with that shot's locators only, and the export is in the audit log
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    body = response.content.decode()
    assert "* LOC: 01:00:02:03 BLUE" in body and "Soft focus" not in body
    event = AuditEvent.objects.get(action="notes.exported")
    assert event.after == {"format": "edl", "scope": "shot SC010_SH030", "markers": 3}
    # and another production's code, an unknown shot or format is a 404
    other = ProductionFactory(code="elsewhere")
    assert client.get(f"/api/productions/{other.code}/notes/export.edl").status_code == 404
    assert client.get(f"{base}.edl", {"shot": "NOPE"}).status_code == 404
    assert client.get(f"{base}.doc").status_code == 404


def test_a_playlist_export_holds_only_the_playlists_versions(client, cut_world):
    # given a playlist of the other shot's plate only
    session = review.create_review_session(actor=cut_world.producer, production=cut_world.production,
                                           title="Dailies", version_ids=[cut_world.other_plate.pk])
    client.force_login(cut_world.viewer)

    # when its notes are exported as CSV
    response = client.get(f"/api/productions/{cut_world.production.code}/notes/export.resolve-csv",
                          {"session": str(session.pk)})

    # then only that plate's note is there
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["Shot"], r["Notes"]) for r in rows] == [("SC010_SH020", "Soft focus")]
