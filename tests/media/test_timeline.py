"""Timeline import: shots from an editor's OTIO or CMX3600 EDL, rational rates, all or nothing."""
from fractions import Fraction

import opentimelineio as otio
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.media.models import Shot
from answerprint.media.services import import_timeline
from answerprint.media.timeline import parse_timeline
from tests.factories import ProductionFactory, ShotFactory, member

from .conftest import actions

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

DROP_FRAME_EDL = b"""TITLE: DF
FCM: DROP FRAME

001  TAPE1 V     C        00:00:59;28 00:01:00;04 00:01:00;02 00:01:00;06
* FROM CLIP NAME: SC020_SH010
"""


def _file(data, name):
    return SimpleUploadedFile(name, data)


def _world(**production):
    production = ProductionFactory(**production)
    return production, member(production, Role.EDITOR)


@pytest.mark.django_db
def test_an_edl_makes_shots_named_from_locators_comments_and_clips():
    # given a production and an EDL cut at 23.976 (EDLs carry no rate: it is given)
    production, editor = _world()

    # when it is imported
    summary = import_timeline(actor=editor, production=production, uploaded_file=_file(EDL, "reel1.edl"),
                              fps=Fraction(24000, 1001))

    # then each event became a shot named from its locator, comment or clip name; black and the
    # repeated name were skipped with a message
    assert (summary["created"], summary["updated"], summary["skipped"]) == (3, 0, 2)
    assert summary["rate"] == "24000/1001" and summary["format"] == "edl"
    assert [(s["name"], s["named_from"]) for s in summary["shots"]] == [
        ("SC012_SH030", "locator"), ("SC012_SH040", "comment"), ("SC013_SH010", "clip")]
    assert any("generator" in message for message in summary["messages"])
    assert any("SC012_SH030 appears again at event 5" in message for message in summary["messages"])

    # and each shot has its frame range from 1001 and its editorial timecodes
    first = Shot.objects.get(production=production, name="SC012_SH030")
    assert (first.first_frame, first.last_frame) == (1001, 1001 + 48 - 1)
    assert (first.source_name, first.source_timecode_in, first.source_timecode_out, first.record_timecode_in) == (
        "A001C003_220101.mov", "01:00:10:00", "01:00:12:00", "01:00:00:00")
    second = Shot.objects.get(production=production, name="SC012_SH040")
    assert (second.last_frame, second.source_timecode_in, second.record_timecode_in) == (1024, "02:10:00:12",
                                                                                         "01:00:02:00")
    assert Shot.objects.get(production=production, name="SC013_SH010").last_frame == 1012

    # and it is all in the log: one event per shot and one for the import
    assert actions(production) == ["shot.created"] * 3 + ["timeline.imported"]
    event = AuditEvent.objects.get(action="timeline.imported")
    assert event.actor == editor and (event.after["created"], event.after["file"]) == (3, "reel1.edl")
    assert len(event.after["sha256"]) == 64


@pytest.mark.django_db
def test_an_edl_without_a_given_rate_uses_the_productions():
    # given a production at 25 fps
    production, editor = _world(fps_num=25, fps_den=1)

    # when an EDL is imported without a rate
    import_timeline(actor=editor, production=production, uploaded_file=_file(EDL, "reel1.edl"))

    # then 01:00:10:00 to 01:00:12:00 is 50 frames at 25
    assert Shot.objects.get(production=production, name="SC012_SH030").last_frame == 1001 + 50 - 1


@pytest.mark.django_db
def test_a_drop_frame_edl_keeps_its_drop_frame_timecodes():
    production, editor = _world()
    import_timeline(actor=editor, production=production, uploaded_file=_file(DROP_FRAME_EDL, "df.edl"),
                    fps="30000/1001")
    shot = Shot.objects.get(production=production, name="SC020_SH010")
    # 00:00:59;28 to 00:01:00;04 spans a minute where ;00 and ;01 do not exist: 4 frames
    assert (shot.last_frame, shot.source_timecode_in, shot.source_timecode_out, shot.record_timecode_in) == (
        1004, "00:00:59;28", "00:01:00;04", "00:01:00;02")


@pytest.mark.django_db
def test_importing_again_updates_what_changed_and_leaves_the_rest():
    # given shots from a first import, one of them since given handles (first frame 993)
    production, editor = _world()
    import_timeline(actor=editor, production=production, uploaded_file=_file(EDL, "v1.edl"), fps=24)
    Shot.objects.filter(production=production, name="SC013_SH010").update(first_frame=993)

    # when a recut trims SC012_SH040 by 6 frames and the rest is unchanged
    recut = EDL.replace(b"02:10:01:12 01:00:02:00 01:00:03:00", b"02:10:01:06 01:00:02:00 01:00:02:18")
    summary = import_timeline(actor=editor, production=production, uploaded_file=_file(recut, "v2.edl"), fps=24)

    # then only that shot changed, its first frame kept, and the change is on record with before/after
    assert (summary["created"], summary["updated"]) == (0, 2)
    changed = {s["name"]: s for s in summary["shots"] if s["action"] == "updated"}
    assert set(changed) == {"SC012_SH040", "SC013_SH010"}
    assert Shot.objects.get(production=production, name="SC012_SH040").last_frame == 1001 + 18 - 1
    assert Shot.objects.get(production=production, name="SC013_SH010").last_frame == 993 + 12 - 1
    assert "SC012_SH030 is unchanged." in summary["messages"]
    update = AuditEvent.objects.filter(action="shot.updated", target_repr="SC012_SH040").get()
    assert update.before == {"last_frame": 1024, "source_timecode_out": "02:10:01:12"}
    assert update.after == {"last_frame": 1018, "source_timecode_out": "02:10:01:06"}
    assert update.reason == "Timeline import of v2.edl"


def _otio_timeline(rate=24000 / 1001):
    timeline = otio.schema.Timeline(name="VFX pull")
    timeline.global_start_time = otio.opentime.RationalTime(86400, rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)

    def clip(name, start, duration, url=None):
        reference = otio.schema.ExternalReference(target_url=url) if url else otio.schema.MissingReference()
        return otio.schema.Clip(name=name, media_reference=reference, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(duration, rate)))

    track.append(clip("SC030_SH010", 86400 + 240, 36, "file:///plates/A010C002_230401_R1AB.mov"))
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(12, rate))))
    track.append(clip("SC030_SH020", 90000, 24))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("SC030_SH010_sound", 0, 60))
    timeline.tracks.append(audio)
    return timeline


@pytest.mark.django_db
def test_an_otio_timeline_makes_shots_from_its_video_clips_at_its_own_rate():
    # given a production at 24 fps, and an OTIO timeline at 23.976 starting at 01:00:00:00
    production, editor = _world(fps_num=24, fps_den=1)
    data = otio.adapters.write_to_string(_otio_timeline(), "otio_json").encode()

    # when it is imported
    summary = import_timeline(actor=editor, production=production, uploaded_file=_file(data, "pull.otio"))

    # then the video clips became shots; the gap and the audio clip did not
    assert summary["created"] == 2 and summary["rate"] == "24000/1001"
    first = Shot.objects.get(production=production, name="SC030_SH010")
    assert (first.last_frame, first.source_name, first.source_timecode_in, first.record_timecode_in) == (
        1001 + 36 - 1, "A010C002_230401_R1AB.mov", "01:00:10:00", "01:00:00:00")
    second = Shot.objects.get(production=production, name="SC030_SH020")
    # record in: 36 frames of clip and 12 of gap after 01:00:00:00
    assert (second.last_frame, second.record_timecode_in, second.source_timecode_in) == (1024, "01:00:02:00",
                                                                                         "01:02:30:00")
    assert not Shot.objects.filter(name__contains="sound").exists()


def test_the_parser_keeps_rates_rational():
    data = otio.adapters.write_to_string(_otio_timeline(rate=25.0), "otio_json").encode()
    parsed = parse_timeline(data, "pull.otio", Fraction(24))
    assert parsed.rate == Fraction(25) and {clip.rate for clip in parsed.clips} == {Fraction(25)}
    assert [clip.duration for clip in parsed.clips] == [36, 24]


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
    (b"\x89PNG\r\n\x1a\n\x00\x00", "picture.png", "Import an OpenTimelineIO"),
])
def test_a_malformed_timeline_is_refused_with_a_reason_and_creates_nothing(data, name, message):
    # given a production with one shot already
    production, editor = _world()
    ShotFactory(production=production, name="SC001_SH010")

    # when a malformed file is imported (the bad EDLs start with a good event)
    with pytest.raises(ValidationError, match=message):
        import_timeline(actor=editor, production=production, uploaded_file=_file(data, name), fps=24)

    # then nothing was created or logged
    assert list(Shot.objects.filter(production=production).values_list("name", flat=True)) == ["SC001_SH010"]
    assert actions(production) == []


@pytest.mark.django_db
def test_a_nonsense_rate_is_refused():
    production, editor = _world()
    with pytest.raises(ValidationError, match="not a frame rate"):
        import_timeline(actor=editor, production=production, uploaded_file=_file(EDL, "a.edl"), fps="fast")
