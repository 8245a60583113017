"""Reading an editor's timeline — OpenTimelineIO (.otio) or CMX3600 EDL (.edl) — into shot rows.

Parsing only: `services.import_timeline` turns the rows into shots. Everything comes out as
integer frame counts at a rational rate; timecodes are written from those counts.
"""
import os
import re
from dataclasses import dataclass
from fractions import Fraction

from django.core.exceptions import ValidationError

from .models import shot_name_validator
from .timecode import frames_to_timecode, snap_rate

MAX_TIMELINE_BYTES = 50 * 1024 * 1024

# A locator or comment is taken as the shot's name only when it reads like one: no spaces,
# at least one digit and one separator (SC012_SH030, 010_0040, ep101.sc12.sh3).
_SHOT_LIKE = re.compile(r"^(?=.*\d)(?=.*[_.-])[A-Za-z0-9][A-Za-z0-9_.-]{2,79}$")
_COMMENT_PREFIX = re.compile(r"^\s*(COMMENTS?|NOTE|SHOT|LOC)\s*:\s*", re.IGNORECASE)
_MEDIA_EXTENSION = re.compile(r"\.[A-Za-z0-9]{2,5}$")


@dataclass
class TimelineClip:
    event: str  # "3" for the third event of an EDL, "V1/3" for the third clip of an OTIO track
    name: str  # the shot name it proposes ("" when none could be made)
    name_from: str  # "locator", "comment", "clip"
    clip_name: str
    source_name: str
    rate: Fraction  # the source's
    duration: int  # frames
    source_in: int  # frames since 00:00:00:00 of the source timecode
    record_rate: Fraction  # the timeline's
    record_in: int  # frames since 00:00:00:00 of the record timecode
    drop_frame: bool = False

    @property
    def source_timecode_in(self):
        return frames_to_timecode(self.source_in, self.rate, self.drop_frame)

    @property
    def source_timecode_out(self):
        """Exclusive, as an EDL writes it: source in + duration."""
        return frames_to_timecode(self.source_in + self.duration, self.rate, self.drop_frame)

    @property
    def record_timecode_in(self):
        return frames_to_timecode(self.record_in, self.record_rate, self.drop_frame)


@dataclass
class ParsedTimeline:
    format: str  # "otio" or "edl"
    name: str
    rate: Fraction
    clips: list
    skipped: list  # human-readable messages for events that make no shot


def _fail(message):
    raise ValidationError({"file": message})


def _decode(data):
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    _fail("The timeline is not text.")  # pragma: no cover - latin-1 decodes any bytes


def detect_format(filename, text):
    extension = os.path.splitext(filename or "")[1].lower()
    if extension in (".otio", ".edl"):
        return extension[1:]
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "otio"
    if re.search(r"^\s*(TITLE:|FCM:|\d{3,6}\s+\S+\s+\S+\s+[CDWK])", text, re.MULTILINE):
        return "edl"
    _fail("Import an OpenTimelineIO (.otio) or CMX3600 EDL (.edl) file.")


def _sanitised(name):
    """A clip name as a valid shot name: extension dropped, other characters to '_'."""
    name = _MEDIA_EXTENSION.sub("", (name or "").strip())
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-")[:80]
    try:
        shot_name_validator(name)
    except ValidationError:
        return ""
    return name


def _shot_like(text):
    text = _COMMENT_PREFIX.sub("", (text or "").strip()).strip()
    return text if _SHOT_LIKE.match(text) else ""


def _choose_name(clip_name, locators, comments, prefer_clip):
    """The clip name, or a locator/comment that reads like a shot name where that is better.

    In an EDL the clip name is the camera file (A001C003_220101.mov) and the assistant editor
    puts the shot name in a locator or comment; in an OTIO made for VFX the clip is the shot.
    """
    clip_choice = [("clip", _shot_like(clip_name) or "")] if prefer_clip else []
    candidates = clip_choice + [("locator", _shot_like(t)) for t in locators] + [
        ("comment", _shot_like(t)) for t in comments]
    for source, name in candidates:
        if name:
            return name, source
    return _sanitised(clip_name), "clip"


def _frames(rational_time, rate):
    return int(round(rational_time.value_rescaled_to(float(rate))))


def _rate_of(rational_time, fallback):
    return snap_rate(rational_time.rate) if rational_time.rate > 0 else fallback


def _read_otio(text, filename, rate):
    import opentimelineio as otio

    try:
        result = otio.adapters.read_from_string(text, "otio_json")
    except Exception as error:  # the adapter raises ValueError, KeyError, OTIOError, ...
        _fail(f"{filename or 'The file'} is not a readable OpenTimelineIO file: {error}")
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        result = timelines[0] if timelines else result
    if not isinstance(result, otio.schema.Timeline):
        _fail(f"{filename or 'The file'} holds an OpenTimelineIO {type(result).__name__}, not a timeline.")
    return result


# Lines an EDL may hold besides events; the OTIO adapter skips anything else without a word,
# so a garbled file would import half its events. Here it is refused instead.
_EDL_OTHER_LINE = re.compile(r"^(TITLE:|FCM:|\*|M2\s|SPLIT:|>>>|AUD\s|SWM\s|EFFECTS NAME)", re.IGNORECASE)
_EDL_EVENT_LINE = re.compile(r"^\d{1,6}\s")
_EDL_TIMECODES = re.compile(r"(\s\d{2}[:;.,]\d{2}[:;.,]\d{2}[:;.,]\d{2}){4}\s*$")


def _check_edl_lines(text, filename):
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or _EDL_OTHER_LINE.match(stripped):
            continue
        if not _EDL_EVENT_LINE.match(stripped):
            _fail(f"{filename or 'The EDL'} could not be read (line {number}): {stripped[:80]!r} is not an EDL line.")
        if not _EDL_TIMECODES.search(" " + stripped):
            _fail(f"{filename or 'The EDL'} could not be read (line {number}): an event needs source in/out and "
                  f"record in/out timecodes like 01:00:00:00.")


def _read_edl(text, filename, rate):
    import opentimelineio as otio

    if not text.strip():
        _fail(f"{filename or 'The EDL'} is empty.")
    _check_edl_lines(text, filename)
    try:
        return otio.adapters.read_from_string(text, "cmx_3600", rate=float(rate))
    except Exception as error:
        line = _edl_line_of(error, text)
        _fail(f"{filename or 'The EDL'} could not be read{line}: {error}")


def _edl_line_of(error, text):
    """Point at the offending event when the adapter names its clip."""
    match = re.search(r"for clip (\S+)", str(error))
    if not match:
        return ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(match.group(1) + " ") or f" {match.group(1)}" in line:
            return f" (line {number})"
    return ""


def parse_timeline(data, filename, rate):
    """Parse bytes of an .otio or .edl file. `rate` is used for an EDL (EDLs carry none)."""
    if len(data) > MAX_TIMELINE_BYTES:
        _fail(f"The timeline is larger than {MAX_TIMELINE_BYTES // (1024 * 1024)} MiB.")
    text = _decode(data)
    kind = detect_format(filename, text)
    drop_frame = bool(re.search(r"^\s*FCM:\s*DROP FRAME", text, re.MULTILINE | re.IGNORECASE))
    timeline = _read_edl(text, filename, rate) if kind == "edl" else _read_otio(text, filename, rate)
    return _clips_of(timeline, kind, rate, drop_frame)


def _clips_of(timeline, kind, rate, drop_frame):
    import opentimelineio as otio

    clips, skipped = [], []
    timeline_rate = rate
    global_start = timeline.global_start_time
    if kind == "otio" and global_start is not None and global_start.rate > 0:
        timeline_rate = snap_rate(global_start.rate)
    start_frames = _frames(global_start, timeline_rate) if global_start is not None else 0
    video_tracks = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    for track_number, track in enumerate(video_tracks, start=1):
        if kind == "otio" and track.source_range is not None and track.source_range.start_time.rate > 0 \
                and global_start is None:
            timeline_rate = snap_rate(track.source_range.start_time.rate)
        offset = _frames(track.source_range.start_time, timeline_rate) if track.source_range else 0
        clip_number = 0
        for index, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip):
                continue  # gaps and transitions make no shot
            clip_number += 1
            event = str(clip_number) if kind == "edl" else f"{track.name or f'V{track_number}'}/{clip_number}"
            meta = item.metadata.get("cmx_3600", {}) if kind == "edl" else {}
            if isinstance(item.media_reference, otio.schema.GeneratorReference):
                skipped.append(f"Event {event} ({item.name}) is a generator (black, bars), not a shot.")
                continue
            source_range = item.trimmed_range()
            clip_rate = _rate_of(source_range.duration, timeline_rate) if kind == "otio" else rate
            duration = _frames(source_range.duration, clip_rate)
            if duration <= 0:
                skipped.append(f"Event {event} ({item.name}) has no duration.")
                continue
            record = track.range_of_child_at_index(index).start_time
            record_in = start_frames + _frames(record, timeline_rate) - offset
            comments = [str(c) for c in meta.get("comments", [])]
            locators = [marker.name for marker in item.markers]
            name, name_from = _choose_name(item.name, locators, comments, prefer_clip=kind == "otio")
            source_name = item.name
            if isinstance(item.media_reference, otio.schema.ExternalReference) and item.media_reference.target_url:
                source_name = os.path.basename(item.media_reference.target_url.rstrip("/")) or source_name
            elif meta.get("reel") and not source_name:
                source_name = meta["reel"]
            clips.append(TimelineClip(
                event=event, name=name, name_from=name_from, clip_name=item.name, source_name=source_name[:300],
                rate=clip_rate, duration=duration, source_in=_frames(source_range.start_time, clip_rate),
                record_rate=timeline_rate, record_in=record_in, drop_frame=drop_frame,
            ))
    return ParsedTimeline(format=kind, name=timeline.name or "", rate=timeline_rate, clips=clips,
                          skipped=skipped)
