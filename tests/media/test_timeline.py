"""Timeline import: every event a shot or a listed skip, source ranges as OpenTimelineIO reads
them (speed effects, transitions), reels, names, CDLs and locators kept, all or nothing."""
import math
from fractions import Fraction

import opentimelineio as otio
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.media.cdl import saturation_matrix, sop, viewing_filter
from answerprint.media.models import Shot, ShotLocator, TimelineImport
from answerprint.media.services import ingest_upload
from answerprint.media.timecode import frames_to_timecode
from answerprint.media.timeline import parse_timeline
from answerprint.media.timeline_import import import_timeline
from answerprint.review.models import Comment
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

from .conftest import actions, upload

EDL = b"""TITLE: REEL_1_VFX
FCM: NON-DROP FRAME

001  A001C003 V     C        01:00:10:00 01:00:12:00 01:00:00:00 01:00:02:00
* FROM CLIP NAME: A001C003_220101.mov
* LOC: 00:00:01:00 RED SC012_SH030
002  A002C007 V     C        02:10:00:12 02:10:01:12 01:00:02:00 01:00:03:00
* FROM CLIP NAME: A002C007_220101.mov
* COMMENT: SC012_SH040
003  BL       V     C        00:00:00:00 00:00:01:00 01:00:03:00 01:00:04:00
004  A003C001 V     C        03:00:00:00 03:00:00:12 01:00:04:00 01:00:04:12
* FROM CLIP NAME: SC013_SH010
005  A003C002 V     C        03:00:05:00 03:00:05:06 01:00:04:12 01:00:04:18
* FROM CLIP NAME: A003C002.mov
* COMMENT: SC012_SH030
"""

# Speed effects and transitions at 24 fps, one of each, every shot named by FROM CLIP NAME.
EDITORIAL = b"""TITLE: EDITORIAL
FCM: NON-DROP FRAME

001  A001C003 V     C        01:00:10:00 01:00:13:00 01:00:00:00 01:00:01:12
M2   A001C003       048.0                01:00:10:00
* FROM CLIP NAME: SC010_SH010
002  A002C001 V     C        02:00:00:00 02:00:00:01 01:00:01:12 01:00:02:12
M2   A002C001       000.0                02:00:00:00
* FROM CLIP NAME: SC010_SH020
003  A003C001 V     C        03:00:01:00 03:00:00:00 01:00:02:12 01:00:03:12
M2   A003C001       -24.0                03:00:01:00
* FROM CLIP NAME: SC010_SH030
004  A004C001 V     C        04:00:00:00 04:00:02:00 01:00:03:12 01:00:05:12
* FROM CLIP NAME: SC010_SH040
005  A004C001 V     C        04:00:02:00 04:00:02:00 01:00:05:12 01:00:05:12
005  A005C001 V     D    026 05:00:00:00 05:00:02:00 01:00:05:12 01:00:07:12
* FROM CLIP NAME: SC010_SH050
006  A005C001 V     C        05:00:02:00 05:00:02:00 01:00:07:12 01:00:07:12
006  A006C001 V     W001 012 06:00:00:00 06:00:01:00 01:00:07:12 01:00:08:12
* FROM CLIP NAME: SC010_SH060
007  A007C001 V     C        07:00:00:00 07:00:01:16 01:00:08:12 01:00:10:00
M2   A007C001       026.4                07:00:00:00
* FROM CLIP NAME: SC010_SH070
008  Z686_5A. V     C        08:00:00:00 08:00:02:22 01:00:10:00 01:00:11:12
M2   Z686_5A.       046.7                08:00:00:00
* FROM CLIP NAME: SC010_SH080
"""

# The source frames each shot must cover, worked out by hand (24 fps, no handles).
EDITORIAL_RANGES = {
    "SC010_SH010": ("01:00:10:00", "01:00:13:00"),  # 36 frames at 48 fps: 72 source frames
    "SC010_SH020": ("02:00:00:00", "02:00:00:01"),  # a freeze holds one frame
    "SC010_SH030": ("03:00:00:01", "03:00:01:01"),  # reverse from 03:00:01:00 down, 24 frames
    "SC010_SH040": ("04:00:00:00", "04:00:03:02"),  # 48 cut + 26 under the dissolve into SH050
    "SC010_SH050": ("05:00:00:00", "05:00:02:12"),  # 48 cut + 12 under the wipe into SH060
    "SC010_SH060": ("06:00:00:00", "06:00:01:00"),
    "SC010_SH070": ("07:00:00:00", "07:00:01:16"),  # 36 frames at 26.4 fps: 39.6, rounded 40
    "SC010_SH080": ("08:00:00:00", "08:00:02:22"),  # 36 at 46.7 fps: 70.05, the 70 Avid wrote
}

REPEATS = b"""TITLE: REPEATS
001  A001C001 V     C        01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00
* FROM CLIP NAME: SC020_SH010
002  B001C001 V     C        02:00:00:00 02:00:00:02 01:00:01:00 01:00:01:02
* FROM CLIP NAME: SC020_SH020
003  A001C001 V     C        01:00:05:00 01:00:14:12 01:00:01:02 01:00:10:14
* FROM CLIP NAME: SC020_SH010
004  A001C001 V     C        01:00:00:12 01:00:00:14 01:00:10:14 01:00:10:16
* FROM CLIP NAME: SC020_SH010
"""

KEPT = b"""TITLE: KEPT
001  A005C001 V     C        05:00:00:00 05:00:02:00 01:00:00:00 01:00:02:00
* FROM CLIP NAME: SC030_SH010
* LOC: 05:00:01:00 RED     ANIM FIX NEEDED
*ASC_SOP (1.1 1.0 0.9)(0.01 0.0 -0.01)(1.0 1.0 1.2)
*ASC_SAT 0.8
* SOURCE FILE: S:\\PROJ\\plates\\A005C001.####.exr
* SPEED RAMP REVIEWED BY DI
002  A006C001 V     C        06:00:00:00 06:00:01:00 01:00:02:00 01:00:03:00
FROM CLIP NAME: SC030_SH020
* FROM CLIP: C:\\media\\day2\\A006C001.mov
003  A006C001 AA    C        06:00:00:00 06:00:01:00 01:00:02:00 01:00:03:00
"""


def _file(data, name):
    return SimpleUploadedFile(name, data)


def _world(**production):
    production = ProductionFactory(**production)
    return production, member(production, Role.EDITOR)


def _import(production, editor, data, name, **options):
    options.setdefault("fps", 24)
    return import_timeline(actor=editor, production=production, uploaded_file=_file(data, name), **options)


def _shot(production, name):
    return Shot.objects.get(production=production, name=name)


def _entries(timeline):
    return {entry["event"]: entry for entry in timeline.report["events"]}


def _otio_source_ranges(edl, rate):
    """Per clip name, the source frames OpenTimelineIO's own reading implies: the visible range
    (transitions included) with the clip's time warp applied."""
    timeline = otio.adapters.read_from_string(edl.decode(), "cmx_3600", rate=rate)
    ranges = {}
    for clip in timeline.video_tracks()[0].find_clips():
        start = clip.trimmed_range().start_time.to_frames()
        visible = clip.visible_range()
        first, count = visible.start_time.to_frames(), visible.duration.to_frames()
        warps = [e.time_scalar for e in clip.effects if isinstance(e, otio.schema.LinearTimeWarp)]
        if not warps:
            ranges[clip.name] = (first, first + count)
        elif warps[0] == 0:
            ranges[clip.name] = (start, start + 1)
        elif warps[0] > 0:
            ranges[clip.name] = (start, start + math.floor(count * warps[0] + 0.5))
        else:
            ranges[clip.name] = (start - math.floor(count * -warps[0] + 0.5) + 1, start + 1)
    return ranges


# ---------------------------------------------------------------------------------------------
# Editorial truth


@pytest.mark.django_db
def test_source_ranges_honour_speed_effects_freezes_reverses_dissolves_and_wipes():
    # given an EDL with an M2 at 48 fps, a freeze, a reverse, a dissolve, a wipe and 26.4 fps
    production, editor = _world()

    # when it is imported without handles
    timeline = _import(production, editor, EDITORIAL, "editorial.edl", handles=0)

    # then every shot covers the source frames the cut shows, worked out by hand
    shots = {name: _shot(production, name) for name in EDITORIAL_RANGES}
    assert {name: (s.source_timecode_in, s.source_timecode_out) for name, s in shots.items()} == EDITORIAL_RANGES
    # and OpenTimelineIO's own reading agrees, shot by shot
    for name, (first, last) in _otio_source_ranges(EDITORIAL, 24).items():
        assert (shots[name].source_timecode_in, shots[name].source_timecode_out) == (
            frames_to_timecode(first, 24), frames_to_timecode(last, 24)), name
    # and the frame ranges are as long as the source used, not the record duration
    assert shots["SC010_SH010"].frame_count == 72 and shots["SC010_SH040"].frame_count == 74
    assert shots["SC010_SH020"].frame_count == 1 and shots["SC010_SH070"].frame_count == 40
    assert shots["SC010_SH080"].frame_count == 70
    assert (shots["SC010_SH010"].time_scalar, shots["SC010_SH020"].time_scalar,
            shots["SC010_SH030"].time_scalar, shots["SC010_SH040"].time_scalar) == (2.0, 0.0, -1.0, None)
    assert shots["SC010_SH040"].record_timecode_out == "01:00:05:12"
    # and the report says what each effect did
    entries = _entries(timeline)
    assert "a speed effect (48 fps, 200 %) over 36 frames on screen" in entries["001"]["message"]
    assert "a freeze frame" in entries["002"]["message"]
    assert "reverse at 24 fps" in entries["003"]["message"]
    assert "26 after the cut visible under a transition" in entries["004"]["message"]


@pytest.mark.django_db
def test_handles_are_added_each_side_with_the_cut_starting_at_1001():
    # given the editorial EDL
    production, editor = _world()

    # when it is imported with the default handles
    timeline = _import(production, editor, EDITORIAL, "editorial.edl")

    # then each shot has 8 frames each side of the 72 its speed effect uses: 993..1080
    shot = _shot(production, "SC010_SH010")
    assert timeline.handles == 8 and shot.handles == 8
    assert (shot.first_frame, shot.cut_in_frame, shot.last_frame) == (993, 1001, 993 + 72 + 16 - 1)


@pytest.mark.django_db
def test_a_clip_used_three_times_is_one_shot_covering_every_use():
    # given an EDL that uses SC020_SH010 three times: 24 frames, then 228, then 2
    production, editor = _world()

    # when it is imported
    timeline = _import(production, editor, REPEATS, "repeats.edl", handles=0)

    # then one shot covers the span of the three uses, and nothing is dropped
    shot = _shot(production, "SC020_SH010")
    assert (shot.source_timecode_in, shot.source_timecode_out) == ("01:00:00:00", "01:00:14:12")
    assert shot.frame_count == 14 * 24 + 12
    entries = _entries(timeline)
    assert {entries[e]["outcome"] for e in ("001", "003", "004")} == {"created"}
    assert entries["003"]["shot"] == "SC020_SH010" and "One of 3 uses" in entries["003"]["message"]
    assert timeline.report["repeats"] == [{
        "shot": "SC020_SH010", "events": ["001", "003", "004"],
        "message": "SC020_SH010 is used 3 times (events 001, 003, 004): one shot covers source "
                   "01:00:00:00–01:00:14:12 (348 frames), the span of every use."}]
    assert (timeline.created, timeline.skipped) == (2, 0)


@pytest.mark.django_db
def test_a_second_reel_named_by_event_numbers_makes_its_own_shots():
    # given two reels whose events have no clip names, imported with names from event numbers
    production, editor = _world()
    reel = b"TITLE: %s\n001  %s V C 01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\n" \
           b"002  %s V C 01:00:02:00 01:00:02:12 01:00:01:00 01:00:01:12\n"
    _import(production, editor, reel % (b"REEL_1", b"TAPE_A", b"TAPE_A"), "r1.edl", name_rule="event")

    # when the second reel is imported
    second = _import(production, editor, reel % (b"REEL_2", b"TAPE_B", b"TAPE_B"), "r2.edl", name_rule="event")

    # then its shots are new, and the first reel's keep their reel and timecodes
    assert second.created == 2 and second.updated == 0
    assert sorted(Shot.objects.filter(production=production).values_list("name", "reel")) == [
        ("REEL_1_001", "TAPE_A"), ("REEL_1_002", "TAPE_A"), ("REEL_2_001", "TAPE_B"), ("REEL_2_002", "TAPE_B")]


@pytest.mark.django_db
def test_premiere_edls_whose_reels_are_all_ax_are_told_apart_by_clip_name():
    # given a Premiere EDL (every reel AX: an unknown source) named from event numbers
    production, editor = _world()
    reel = b"TITLE: CUT\n001  AX V C 01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\n* FROM CLIP NAME: %s\n"
    _import(production, editor, reel % b"A001C001.mov", "a.edl", name_rule="event")

    # when another with the same title but another clip is imported
    refused = _import(production, editor, reel % b"B002C007.mov", "b.edl", name_rule="event")

    # then the first shot is not taken over: the clip names differ
    assert _entries(refused)["001"]["outcome"] == "skipped"
    assert "already comes from clip A001C001.mov; this event comes from clip B002C007.mov" in _entries(
        refused)["001"]["message"]
    assert _shot(production, "CUT_001").clip_name == "A001C001.mov"


@pytest.mark.django_db
def test_a_name_held_by_a_shot_from_another_reel_is_refused_and_never_overwritten():
    # given shots from reel TAPE_A, named from event numbers under the title VFX
    production, editor = _world()
    reel = b"TITLE: VFX\n001  %s V C 01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\n"
    _import(production, editor, reel % b"TAPE_A", "a.edl", name_rule="event")

    # when another EDL with the same title, from TAPE_B, is imported
    refused = _import(production, editor, reel % b"TAPE_B", "b.edl", name_rule="event")

    # then the event is skipped, with the reason, and the shot is untouched
    entry = _entries(refused)["001"]
    assert entry["outcome"] == "skipped" and refused.skipped == 1
    assert entry["message"] == (
        "Event 001 (line 2): a shot named VFX_001 already comes from reel TAPE_A; this event comes from reel "
        "TAPE_B, so it was not imported (choose “rename” to import it as a new shot).")
    assert _shot(production, "VFX_001").reel == "TAPE_A"

    # and when the editor chooses to rename instead, it becomes a new shot
    renamed = _import(production, editor, reel % b"TAPE_B", "b.edl", name_rule="event", on_collision="rename")
    assert _entries(renamed)["001"]["shot"] == "VFX_001_2" and _shot(production, "VFX_001_2").reel == "TAPE_B"
    assert _shot(production, "VFX_001").reel == "TAPE_A"

    # and renaming again finds the shot it renamed before instead of making a third
    again = _import(production, editor, reel % b"TAPE_B", "b.edl", name_rule="event", on_collision="rename")
    assert (again.created, again.unchanged, _entries(again)["001"]["shot"]) == (0, 1, "VFX_001_2")


@pytest.mark.django_db
def test_reels_files_clip_names_cdl_and_comments_are_kept():
    # given an EDL with a CDL, a locator, a Windows source path, an unstarred FROM CLIP NAME and a note
    production, editor = _world()

    # when it is imported
    timeline = _import(production, editor, KEPT, "kept.edl")

    # then reel, file (basename from a Windows path), clip name, CDL and notes are on the shot
    first = _shot(production, "SC030_SH010")
    assert (first.reel, first.source_name, first.clip_name) == ("A005C001", "A005C001.####.exr", "SC030_SH010")
    assert first.cdl == {"slope": [1.1, 1.0, 0.9], "offset": [0.01, 0.0, -0.01], "power": [1.0, 1.0, 1.2],
                         "saturation": 0.8}
    assert first.editorial_notes == "SPEED RAMP REVIEWED BY DI"
    assert first.timeline == timeline
    second = _shot(production, "SC030_SH020")
    assert (second.reel, second.source_name, second.clip_name, second.cdl) == (
        "A006C001", "A006C001.mov", "SC030_SH020", None)
    # and the sound-only event is listed as a skip with its EDL event number and line
    assert _entries(timeline)["003"] == {
        "event": "003", "line": 12, "clip": "", "reel": "A006C001", "source_file": "", "outcome": "skipped",
        "shot": "", "message": "Event 003 (line 12) is sound only (channel AA), not picture."}


@pytest.mark.django_db
def test_a_locator_lands_on_its_frame_and_reaches_the_plate_as_a_comment_once():
    # given a shot imported with a locator at source 05:00:01:00, 24 frames after its cut in
    production, editor = _world()
    _import(production, editor, KEPT, "kept.edl")
    shot = _shot(production, "SC030_SH010")

    # then the locator is on the shot's frame 1001 + 24, with no plate to comment on yet
    locator = ShotLocator.objects.get(shot=shot)
    assert (locator.frame, locator.timecode, locator.color, locator.text) == (1025, "05:00:01:00", "red",
                                                                             "ANIM FIX NEEDED")
    assert locator.comment is None

    # when the shot has a plate and the timeline is imported again
    version = VersionFactory(shot=shot)
    again = _import(production, editor, KEPT, "kept.edl")

    # then the locator became a comment on that frame of the plate, and nothing was duplicated
    comment = Comment.objects.get(version=version)
    assert (comment.frame, comment.body) == (1025 - shot.first_frame,
                                             "Editor's locator (red) at 05:00:01:00: ANIM FIX NEEDED")
    _import(production, editor, KEPT, "kept.edl")
    assert ShotLocator.objects.filter(shot=shot).count() == 1 and Comment.objects.count() == 1
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


@pytest.mark.django_db
def test_a_locator_written_at_the_record_timecode_lands_on_the_same_frame_of_the_shot():
    # given an Avid screening EDL whose locator is at record 01:00:01:14, 86 frames into event 004
    production, editor = _world()
    data = (b"TITLE: Example_Screening.01\nFCM: NON-DROP FRAME\n"
            b"004  ZZ100_50 V     C        01:00:10:01 01:00:14:20 00:59:58:00 01:00:02:19\n"
            b"* FROM CLIP NAME:  ZZ100_504C (LAY1)\n* LOC: 01:00:01:14 RED     ANIM FIX NEEDED\n"
            b"* SOURCE FILE: ZZ100_504C.LAY1.02\n")

    # when it is imported with 8 handles
    _import(production, editor, data, "screening.edl", name_rule="clip")

    # then the locator is on the shot's frame 1001 + 86, at source 01:00:10:01 + 86 frames
    locator = ShotLocator.objects.get(shot__name="ZZ100_504C_LAY1")
    assert (locator.frame, locator.timecode, locator.text) == (1087, "01:00:13:15", "ANIM FIX NEEDED")
    assert _shot(production, "ZZ100_504C_LAY1").source_name == "ZZ100_504C.LAY1.02"


@pytest.mark.django_db
def test_a_plate_uploaded_after_the_import_gets_the_locators_as_comments_by_the_importer():
    # given a shot imported with a locator and no plate yet
    production, editor = _world()
    _import(production, editor, KEPT, "kept.edl")
    shot = _shot(production, "SC030_SH010")
    supervisor = member(production, Role.SUPERVISOR)

    # when a supervisor uploads its plate
    version = ingest_upload(actor=supervisor, shot=shot, uploaded_file=upload(b"plate bytes", "plate.mov"))

    # then the locator is a comment on that plate, at its frame, in the editor's name
    comment = Comment.objects.get(version=version)
    assert (comment.frame, comment.author) == (1025 - shot.first_frame, editor)
    assert ShotLocator.objects.get(shot=shot).comment == comment


@pytest.mark.django_db
def test_an_edl_makes_shots_named_from_locators_comments_and_clips():
    # given a production and an EDL cut at 23.976 (EDLs carry no rate: it is given)
    production, editor = _world()

    # when it is imported without handles
    timeline = _import(production, editor, EDL, "reel1.edl", fps=Fraction(24000, 1001), handles=0)

    # then each event became a shot named from its locator, comment or clip name
    assert (timeline.created, timeline.updated, timeline.skipped) == (3, 0, 2)
    assert timeline.report["rate"] == "24000/1001" and timeline.format == "edl"
    entries = _entries(timeline)
    assert [(e, entries[e]["shot"]) for e in ("001", "002", "004")] == [
        ("001", "SC012_SH030"), ("002", "SC012_SH040"), ("004", "SC013_SH010")]
    # and black and the same name from another camera file were skipped, each with its reason
    assert entries["003"]["message"] == "Event 003 (line 10) is black (a generator), not picture from a camera."
    assert entries["005"]["message"].startswith(
        "Event 005 (line 13): a shot named SC012_SH030 already comes from reel A001C003 / clip "
        "A001C003_220101.mov; this event comes from reel A003C002 / clip A003C002.mov")
    # and the locator outside its clip is kept in the editorial notes
    first = _shot(production, "SC012_SH030")
    assert first.editorial_notes == "Locator at 00:00:01:00 (red), outside the clip: SC012_SH030"
    assert (first.first_frame, first.last_frame) == (1001, 1001 + 48 - 1)
    assert (first.reel, first.clip_name, first.source_timecode_in, first.source_timecode_out,
            first.record_timecode_in) == ("A001C003", "A001C003_220101.mov", "01:00:10:00", "01:00:12:00",
                                          "01:00:00:00")
    assert _shot(production, "SC013_SH010").last_frame == 1012

    # and it is all in the log: one event per shot and one for the import with every event's fate
    assert actions(production) == ["shot.created"] * 3 + ["timeline.imported"]
    event = AuditEvent.objects.get(action="timeline.imported")
    assert event.actor == editor and event.target_id == str(timeline.pk)
    assert (event.after["created"], event.after["skipped"], event.after["file"]) == (3, 2, "reel1.edl")
    assert event.after["events"][2] == ["003", 10, "skipped", ""]
    assert event.after["skips"] == [entries["003"]["message"], entries["005"]["message"]]


@pytest.mark.django_db
def test_no_message_shows_python_values():
    # given every kind of event in one import
    production, editor = _world()
    timelines = [_import(production, editor, data, name) for data, name in
                 [(EDL, "a.edl"), (EDITORIAL, "b.edl"), (REPEATS, "c.edl"), (KEPT, "d.edl")]]

    # then the messages read as sentences
    for timeline in timelines:
        for entry in timeline.report["events"]:
            assert entry["message"] and not any(word in entry["message"] for word in (
                "Fraction(", "RationalTime(", "None", "TimeRange("))


@pytest.mark.django_db
def test_an_edl_without_a_given_rate_uses_the_productions():
    # given a production at 25 fps
    production, editor = _world(fps_num=25, fps_den=1)

    # when an EDL is imported without a rate
    import_timeline(actor=editor, production=production, uploaded_file=_file(EDL, "reel1.edl"), handles=0)

    # then 01:00:10:00 to 01:00:12:00 is 50 frames at 25
    assert _shot(production, "SC012_SH030").last_frame == 1001 + 50 - 1


@pytest.mark.django_db
@pytest.mark.parametrize("fps", ["23.976", "23.98", "24000/1001"])
def test_23_976_is_the_ntsc_ratio_however_it_is_written(fps):
    production, editor = _world()
    timeline = _import(production, editor, EDL, "reel1.edl", fps=fps)
    assert (timeline.fps_num, timeline.fps_den) == (24000, 1001) and timeline.created == 3


@pytest.mark.django_db
def test_a_drop_frame_edl_keeps_its_drop_frame_timecodes():
    production, editor = _world()
    data = b"TITLE: DF\nFCM: DROP FRAME\n\n001  TAPE1 V     C        00:00:59;28 00:01:00;04 00:01:00;02 00:01:00;06\n" \
           b"* FROM CLIP NAME: SC020_SH010\n"
    _import(production, editor, data, "df.edl", fps="29.97", handles=0)
    shot = _shot(production, "SC020_SH010")
    # 00:00:59;28 to 00:01:00;04 spans a minute where ;00 and ;01 do not exist: 4 frames
    assert (shot.last_frame, shot.source_timecode_in, shot.source_timecode_out, shot.record_timecode_in) == (
        1004, "00:00:59;28", "00:01:00;04", "00:01:00;02")


@pytest.mark.django_db
def test_crlf_and_tabs_read_the_same_as_unix_lines_and_spaces():
    # given the editorial EDL with Windows line ends and tabs between fields
    production, editor = _world()
    windows = EDITORIAL.replace(b"\n", b"\r\n").replace(b"     ", b"\t")

    # when it is imported
    timeline = _import(production, editor, windows, "windows.edl", handles=0)

    # then it makes the same shots
    assert timeline.created == len(EDITORIAL_RANGES) and timeline.skipped == 0
    assert _shot(production, "SC010_SH040").source_timecode_out == "04:00:03:02"


@pytest.mark.django_db
def test_importing_again_updates_what_changed_and_leaves_the_rest():
    # given shots from a first import, one of them since given a different first frame
    production, editor = _world()
    _import(production, editor, EDL, "v1.edl", handles=0)
    Shot.objects.filter(production=production, name="SC013_SH010").update(first_frame=993)

    # when a recut trims SC012_SH040 by 6 frames and the rest is unchanged
    recut = EDL.replace(b"02:10:01:12 01:00:02:00 01:00:03:00", b"02:10:01:06 01:00:02:00 01:00:02:18")
    timeline = _import(production, editor, recut, "v2.edl", handles=0)

    # then only those shots changed, first frames kept, and the change is on record with before/after
    assert (timeline.created, timeline.updated, timeline.unchanged) == (0, 2, 1)
    entries = _entries(timeline)
    assert (entries["001"]["outcome"], entries["002"]["outcome"], entries["004"]["outcome"]) == (
        "unchanged", "updated", "updated")
    assert _shot(production, "SC012_SH040").last_frame == 1001 + 18 - 1
    assert _shot(production, "SC013_SH010").last_frame == 993 + 12 - 1
    update = AuditEvent.objects.filter(action="shot.updated", target_repr="SC012_SH040").get()
    assert update.before == {"last_frame": 1024, "record_timecode_out": "01:00:03:00",
                             "source_timecode_out": "02:10:01:12", "timeline_id": update.before["timeline_id"]}
    assert update.after == {"last_frame": 1018, "record_timecode_out": "01:00:02:18",
                            "source_timecode_out": "02:10:01:06", "timeline_id": timeline.pk}
    assert update.reason == "Timeline import of v2.edl"


@pytest.mark.django_db
def test_importing_the_same_file_again_changes_nothing():
    production, editor = _world()
    _import(production, editor, EDITORIAL, "editorial.edl")
    before = list(Shot.objects.filter(production=production).values())
    again = _import(production, editor, EDITORIAL, "editorial.edl")
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(EDITORIAL_RANGES))
    assert list(Shot.objects.filter(production=production).values()) == before


# ---------------------------------------------------------------------------------------------
# Other formats


def _otio_timeline(rate=24000 / 1001):
    timeline = otio.schema.Timeline(name="VFX pull")
    timeline.global_start_time = otio.opentime.RationalTime(86400, rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)

    def clip(name, start, duration, url=None):
        reference = otio.schema.ExternalReference(target_url=url, available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start - 100, rate), otio.opentime.RationalTime(duration + 200, rate))
        ) if url else otio.schema.MissingReference()
        return otio.schema.Clip(name=name, media_reference=reference, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(duration, rate)))

    track.append(clip("SC030_SH010", 86400 + 240, 36, "file:///plates/A010C002_230401_R1AB.mov"))
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(12, rate))))
    track.append(clip("SC030_SH020", 90000, 24, "file:///plates/A011C001.mov"))
    track[-1].markers.append(otio.schema.Marker(name="ANIM FIX NEEDED", color=otio.schema.MarkerColor.GREEN,
                                                marked_range=otio.opentime.TimeRange(
                                                    otio.opentime.RationalTime(90006, rate),
                                                    otio.opentime.RationalTime(1, rate))))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("SC030_SH010_sound", 200, 60, "file:///sound/A010C002.wav"))
    timeline.tracks.append(audio)
    return timeline


@pytest.mark.django_db
def test_an_otio_timeline_makes_shots_from_its_video_clips_at_its_own_rate():
    # given a production at 24 fps, and an OTIO timeline at 23.976 starting at 01:00:00:00
    production, editor = _world(fps_num=24, fps_den=1)
    data = otio.adapters.write_to_string(_otio_timeline(), "otio_json").encode()

    # when it is imported
    timeline = import_timeline(actor=editor, production=production, uploaded_file=_file(data, "pull.otio"),
                               handles=0)

    # then the video clips became shots; the gap and the audio clip did not
    assert timeline.created == 2 and timeline.report["rate"] == "24000/1001"
    first = _shot(production, "SC030_SH010")
    assert (first.last_frame, first.source_name, first.source_timecode_in, first.record_timecode_in) == (
        1001 + 36 - 1, "A010C002_230401_R1AB.mov", "01:00:10:00", "01:00:00:00")
    second = _shot(production, "SC030_SH020")
    # record in: 36 frames of clip and 12 of gap after 01:00:00:00
    assert (second.last_frame, second.record_timecode_in, second.source_timecode_in) == (1024, "01:00:02:00",
                                                                                         "01:02:30:00")
    assert not Shot.objects.filter(name__contains="sound").exists()
    assert [entry["event"] for entry in timeline.report["events"]] == ["V1/1", "V1/2"]
    assert list(ShotLocator.objects.filter(shot=second).values_list("frame", "color", "text")) == [
        (1007, "green", "ANIM FIX NEEDED")]


@pytest.mark.django_db
def test_an_otio_timeline_honours_time_warps_and_transitions_like_an_edl():
    # given an OTIO cut at 24 fps: a clip at double speed, then a 10-frame dissolve into the next
    production, editor = _world()
    timeline = otio.schema.Timeline(name="warps")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for name, start in (("SC050_SH010", 1000), ("SC050_SH020", 5000)):
        track.append(otio.schema.Clip(name=name, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, 24), otio.opentime.RationalTime(24, 24))))
    track[0].effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    track.insert(1, otio.schema.Transition(in_offset=otio.opentime.RationalTime(5, 24),
                                           out_offset=otio.opentime.RationalTime(5, 24)))
    data = otio.adapters.write_to_string(timeline, "otio_json").encode()

    # when it is imported
    _import(production, editor, data, "warps.otio", handles=0)

    # then the first shot uses (24 + 5 under the dissolve) × 2 source frames, the second 5 more at its head
    first, second = _shot(production, "SC050_SH010"), _shot(production, "SC050_SH020")
    assert (first.source_timecode_in, first.frame_count, first.time_scalar) == ("00:00:41:16", 58, 2.0)
    assert (second.source_timecode_in, second.source_timecode_out) == ("00:03:28:03", "00:03:29:08")
    visible = track[2].visible_range()
    assert (second.source_timecode_in, second.frame_count) == (
        frames_to_timecode(visible.start_time.to_frames(), 24), visible.duration.to_frames())


@pytest.mark.django_db
@pytest.mark.parametrize("adapter, extension, options", [("AAF", "aaf", {"use_empty_mob_ids": True}),
                                                         ("fcpx_xml", "fcpxml", {})])
def test_aaf_and_fcpxml_written_by_opentimelineio_round_trip(tmp_path, adapter, extension, options):
    # given a cut at 24 fps written as AAF (Avid) or FCPXML (Final Cut, Resolve, Premiere)
    production, editor = _world()
    path = tmp_path / f"cut.{extension}"
    otio.adapters.write_to_file(_otio_timeline(rate=24), str(path), adapter_name=adapter, **options)

    # when it is imported
    timeline = import_timeline(actor=editor, production=production,
                               uploaded_file=_file(path.read_bytes(), path.name), handles=0)

    # then it made the same shots, source ranges and files as the cut
    assert timeline.format == extension and timeline.created == 2 and timeline.skipped == 0
    first, second = _shot(production, "SC030_SH010"), _shot(production, "SC030_SH020")
    assert (first.source_name, first.source_timecode_in, first.source_timecode_out, first.frame_count) == (
        "A010C002_230401_R1AB.mov", "01:00:10:00", "01:00:11:12", 36)
    assert (second.source_name, second.source_timecode_in, second.frame_count) == ("A011C001.mov", "01:02:30:00", 24)
    # and FCPXML keeps the marker as a locator on frame 1001 + 6 (OTIO's AAF writer writes none)
    locators = list(ShotLocator.objects.filter(shot=second).values_list("frame", "text"))
    assert locators == ([(1007, "ANIM FIX NEEDED")] if adapter == "fcpx_xml" else [])


def test_the_parser_keeps_rates_rational():
    data = otio.adapters.write_to_string(_otio_timeline(rate=25.0), "otio_json").encode()
    parsed = parse_timeline(data, "pull.otio", Fraction(24))
    assert parsed.rate == Fraction(25) and {clip.rate for clip in parsed.clips} == {Fraction(25)}
    assert [clip.record_duration for clip in parsed.clips] == [36, 24]


# ---------------------------------------------------------------------------------------------
# Refusals: all or nothing, with the line

GOOD_EVENT = b"001  A V C 01:00:00:00 01:00:01:00 00:00:00:00 00:00:01:00\n* COMMENT: SC099_SH010\n"


@pytest.mark.django_db
@pytest.mark.parametrize("data, name, message", [
    (b"TITLE: x\n" + GOOD_EVENT + b"002  A V C 01:00:00:00 01:00:01:00 00:00:01:00 00:00:03:00\n", "bad.edl",
     r"could not be read \(line 4\): Source and record duration don't match"),
    (b"TITLE: x\n" + GOOD_EVENT + b"this is not an event line\n", "bad.edl",
     r"could not be read \(line 4\): 'this is not an event line' is not an EDL line"),
    (b"TITLE: x\n" + GOOD_EVENT + b"002  A V C 01:00:00:00 01:00:01:00\n", "bad.edl",
     r"\(line 4\): an event needs source in/out and record in/out timecodes"),
    (b"", "empty.edl", "is empty"),
    (b"TITLE: nothing\nFCM: NON-DROP FRAME\n", "blank.edl", "holds no clips"),
    (b"{not json", "broken.otio", "not a readable OpenTimelineIO file"),
    (b'{"OTIO_SCHEMA": "Clip.2", "name": "x"}', "clip.otio", "not a readable OpenTimelineIO file"),
    (b"<fcpxml version='1.8'><nothing/>", "broken.fcpxml", "not a readable FCPXML file"),
    (b"not a compound file", "broken.aaf", "not a readable AAF file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "picture.png", "Import a CMX3600 EDL"),
])
def test_a_malformed_timeline_is_refused_with_a_reason_and_creates_nothing(data, name, message):
    # given a production with one shot already
    production, editor = _world()
    ShotFactory(production=production, name="SC001_SH010")

    # when a malformed file is imported (the bad EDLs start with a good event)
    with pytest.raises(ValidationError, match=message):
        _import(production, editor, data, name)

    # then nothing was created or logged
    assert list(Shot.objects.filter(production=production).values_list("name", flat=True)) == ["SC001_SH010"]
    assert actions(production) == [] and not TimelineImport.objects.exists()


@pytest.mark.django_db
def test_an_edl_read_at_the_wrong_rate_is_refused_in_frames_not_python_values():
    # given an EDL cut at 24 fps whose event 001 lasts 126 frames there
    production, editor = _world()
    data = b"TITLE: x\n001  Z677_4C. V     C        01:00:01:21 01:00:07:03 01:00:00:00 01:00:05:06\n"

    # when it is imported at 25 fps
    with pytest.raises(ValidationError) as refused:
        _import(production, editor, data, "cut.edl", fps=25)

    # then the message counts frames and asks about the rate
    assert refused.value.message_dict["file"] == [
        "cut.edl could not be read (line 2): Source and record duration don't match: the source lasts 132 frames "
        "and the record 131 at 25 fps (clip 001). Is 25 fps the rate this EDL was cut at?"]


@pytest.mark.django_db
@pytest.mark.parametrize("fps, message", [
    ("fast", "'fast' is not a frame rate like 24, 23.976 or 24000/1001."),
    ("24/0", "'24/0' has a zero denominator; write a rate like 24 or 24000/1001."),
    ("24/-1", "'24/-1' has a negative denominator; write a rate like 24 or 24000/1001."),
    ("0", "0 is not a frame rate: it must be more than 0 and at most 1000."),
])
def test_a_nonsense_rate_is_refused_with_a_sentence(fps, message):
    production, editor = _world()
    with pytest.raises(ValidationError) as refused:
        _import(production, editor, EDL, "a.edl", fps=fps)
    assert refused.value.message_dict == {"fps": [message]}


@pytest.mark.django_db
@pytest.mark.parametrize("options, field", [({"handles": -1}, "handles"), ({"handles": 500}, "handles"),
                                            ({"name_rule": "colour"}, "name_rule"),
                                            ({"on_collision": "overwrite"}, "on_collision")])
def test_unknown_import_options_are_refused(options, field):
    production, editor = _world()
    with pytest.raises(ValidationError) as refused:
        _import(production, editor, EDL, "a.edl", **options)
    assert list(refused.value.message_dict) == [field]


# ---------------------------------------------------------------------------------------------
# API and page


@pytest.mark.django_db
@pytest.mark.parametrize("fps", ["24/0", "-24/1"])
def test_the_api_answers_a_bad_rate_with_400_and_a_sentence(client, fps):
    production, editor = _world()
    client.force_login(editor)
    response = client.post(f"/api/productions/{production.code}/timelines/",
                           {"file": _file(EDL, "a.edl"), "fps": fps})
    assert response.status_code == 400
    assert "denominator" in response.json()["fps"][0] or "more than 0" in response.json()["fps"][0]
    assert not Shot.objects.exists()


@pytest.mark.django_db
def test_the_api_imports_at_23_976_and_returns_the_stored_report(client):
    # given an editor
    production, editor = _world()
    client.force_login(editor)

    # when they import an EDL at "23.976" through the API
    response = client.post(f"/api/productions/{production.code}/timelines/",
                           {"file": _file(EDL, "a.edl"), "fps": "23.976", "handles": "0"})

    # then the reply is the stored import with every event, and it can be read again
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rate"], body["created"], body["skipped"]) == ("24000/1001", 3, 2)
    assert [e["event"] for e in body["report"]["events"]] == ["001", "002", "003", "004", "005"]
    again = client.get(f"/api/productions/{production.code}/timelines/{body['id']}/")
    assert again.json()["report"] == body["report"]
    listed = client.get(f"/api/productions/{production.code}/timelines/")
    assert [t["id"] for t in listed.json()] == [body["id"]]
    shot = client.get(f"/api/productions/{production.code}/shots/SC012_SH030/").json()
    assert (shot["reel"], shot["handles"], shot["timeline"]) == ("A001C003", 0, body["id"])


@pytest.mark.django_db
def test_the_import_form_shows_every_skipped_event_with_its_reason(client):
    # given an editor on the production page
    production, editor = _world()
    client.force_login(editor)

    # when they import an EDL with a black event and a name collision
    response = client.post(f"/p/{production.code}/timeline/", {"file": _file(EDL, "reel1.edl"), "fps": "24",
                                                                 "handles": "8", "name_rule": "auto",
                                                                 "on_collision": "refuse"}, follow=True)

    # then the page says how many were skipped and lists each one with its event number and reason
    page = response.content.decode()
    timeline = TimelineImport.objects.get()
    assert response.redirect_chain[-1][0] == f"/p/{production.code}/timelines/{timeline.pk}/"
    assert "reel1.edl imported: 3 shots created, 0 updated, 0 unchanged, 2 events skipped." in page
    assert "Event 003 (line 10) is black (a generator), not picture from a camera." in page
    assert "a shot named SC012_SH030 already comes from reel A001C003 / clip A001C003_220101.mov" in page


@pytest.mark.django_db
def test_the_import_form_refuses_a_bad_rate_with_a_message(client):
    production, editor = _world()
    client.force_login(editor)
    response = client.post(f"/p/{production.code}/timeline/", {"file": _file(EDL, "reel1.edl"), "fps": "24/0"},
                           follow=True)
    assert "has a zero denominator" in response.content.decode() and not Shot.objects.exists()


# ---------------------------------------------------------------------------------------------
# The CDL as a viewing grade


def test_the_cdl_follows_the_asc_formula_clamped():
    # slope 2 doubles, offset adds, power bends, and the result stays within 0..1
    assert sop(0.25, 2.0, 0.0, 1.0) == 0.5
    assert sop(0.25, 1.0, 0.05, 1.0) == pytest.approx(0.3)
    assert sop(0.25, 1.0, 0.0, 0.5) == pytest.approx(0.5)
    assert (sop(0.9, 2.0, 0.0, 1.0), sop(0.1, 1.0, -0.2, 1.0)) == (1.0, 0.0)


def test_the_saturation_matrix_keeps_rec709_luma_and_scales_colour_around_it():
    # given a saturated red, through saturation 0 and 1
    values = [float(v) for v in saturation_matrix(0.0).split()]
    rows = [values[i * 5:i * 5 + 5] for i in range(4)]
    grey = [sum(w * c for w, c in zip(row[:3], (1.0, 0.0, 0.0))) for row in rows[:3]]
    # then saturation 0 leaves the red's Rec. 709 luma on every channel, and 1 changes nothing
    assert grey == pytest.approx([0.2126] * 3)
    identity = [float(v) for v in saturation_matrix(1.0).split()]
    assert identity == pytest.approx([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0])


@pytest.mark.django_db
def test_the_shot_page_offers_the_editors_cdl_as_a_viewing_grade(client):
    # given a shot imported with a CDL (slope 1.1 on red) and one without
    production, editor = _world()
    _import(production, editor, KEPT, "kept.edl")
    client.force_login(editor)

    # when each shot's page is shown
    graded = client.get(f"/p/{production.code}/shots/SC030_SH010/").content.decode()
    plain = client.get(f"/p/{production.code}/shots/SC030_SH020/").content.decode()

    # then the graded one has the toggle and a filter whose red table is the CDL's
    assert graded.count("data-cdl-toggle") == 1 and 'id="shot-cdl"' in graded
    red = viewing_filter(_shot(production, "SC030_SH010").cdl)["red"].split()
    assert red[0] == "0.01000" and float(red[128]) == pytest.approx(min((128 / 255 * 1.1 + 0.01), 1.0), abs=1e-5)
    assert f'tableValues="{" ".join(red)}"' in graded
    assert "data-cdl-toggle" not in plain
