"""Reading an editor's timeline — CMX3600 EDL, OpenTimelineIO, AAF or FCPXML — into events.

Parsing only: `services.import_timeline` turns the events into shots. OpenTimelineIO's adapters
read every format; this module adds what an import needs on top and loses nothing on the way:

- every event comes out, as a clip or as a skip with a sentence saying why (an EDL's own event
  number and line, not the clip's position);
- the source frames a clip really uses: the visible range under a dissolve or wipe, and speed
  effects (M2, reverse, freeze) applied through the clip's time warp;
- reel/tape name, source file (basename, any OS's separators), clip name, ASC CDL, locators
  placed on a source frame, and the comments nothing else reads.

Everything is integer frame counts at a rational rate; timecodes are written from those counts.
"""
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NoReturn

from django.core.exceptions import ValidationError

from .models import shot_name_validator
from .timecode import frames_to_timecode, snap_rate, timecode_to_frames

MAX_TIMELINE_BYTES = 50 * 1024 * 1024

# File name extension -> (format, the OpenTimelineIO adapter that reads it).
FORMATS = {
    ".edl": ("edl", "cmx_3600"),
    ".otio": ("otio", "otio_json"),
    ".aaf": ("aaf", "AAF"),
    ".fcpxml": ("fcpxml", "fcpx_xml"),
}
ACCEPTED_EXTENSIONS = ", ".join(sorted(FORMATS))

# A locator or comment is taken as the shot's name only when it reads like one: no spaces,
# at least one digit and one separator (SC012_SH030, 010_0040, ep101.sc12.sh3).
_SHOT_LIKE = re.compile(r"^(?=.*\d)(?=.*[_.-])[A-Za-z0-9][A-Za-z0-9_.-]{2,79}$")
_COMMENT_PREFIX = re.compile(r"^\s*(COMMENTS?|NOTE|SHOT|LOC)\s*:\s*", re.IGNORECASE)
_MEDIA_EXTENSION = re.compile(r"\.[A-Za-z0-9]{2,5}$")


@dataclass
class Locator:
    source_frame: int | None  # on the source's frame count; None when it is outside the clip
    color: str
    text: str
    written: str  # the timecode as the file wrote it, for the report


@dataclass
class TimelineEvent:
    """One event of the file: a clip that can make a shot, or a skip with its reason."""

    event: str  # "005" as an EDL numbers it; "V1/3" for the third clip of an OTIO/AAF/XML track
    line: int | None  # the EDL line of the event, None for other formats
    skip: str = ""  # why this event makes no shot; empty for a clip
    clip_name: str = ""
    reel: str = ""
    source_file: str = ""
    rate: Fraction = Fraction(24)  # the source's
    record_rate: Fraction = Fraction(24)  # the timeline's
    drop_frame: bool = False
    record_in: int = 0  # frames since 00:00:00:00 of the record timecode
    record_duration: int = 0  # on screen between the cuts
    # Source frames the clip uses, [source_in, source_out): the visible range (under transitions)
    # with its speed effect applied. `cut_in`/`cut_out` are the same without the transitions.
    source_in: int = 0
    source_out: int = 0
    cut_in: int = 0
    cut_out: int = 0
    time_scalar: Fraction | None = None  # None: plays at speed; 0: freeze; negative: reverse
    transition_head: int = 0  # frames visible under a transition before the cut
    transition_tail: int = 0  # and after it
    cdl: dict | None = None
    locators: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # comments nothing else reads, as written
    name_comments: list = field(default_factory=list)  # comments that may carry a shot name

    @property
    def record_out(self) -> int:
        return self.record_in + self.record_duration

    def source_timecode(self, frames: int) -> str:
        return frames_to_timecode(frames, self.rate, self.drop_frame)

    def record_timecode(self, frames: int) -> str:
        return frames_to_timecode(frames, self.record_rate, self.drop_frame)

    @property
    def label(self) -> str:
        """How a person finds the event in the file: 'Event 005 (line 12)'."""
        where = f" (line {self.line})" if self.line else ""
        return f"Event {self.event}{where}"

    @property
    def speed_words(self) -> str:
        if self.time_scalar is None:
            return ""
        if self.time_scalar == 0:
            return "a freeze frame"
        fps = self.time_scalar * self.record_rate
        direction = "reverse at " if fps < 0 else ""
        return f"a speed effect ({direction}{_decimal(abs(fps))} fps, {_decimal(abs(self.time_scalar) * 100)} %)"


@dataclass
class ParsedTimeline:
    format: str  # "edl", "otio", "aaf" or "fcpxml"
    name: str
    rate: Fraction
    events: list

    @property
    def clips(self) -> list[TimelineEvent]:
        return [event for event in self.events if not event.skip]


def _decimal(value) -> str:
    return f"{float(value):.3f}".rstrip("0").rstrip(".")


def _fail(message: str) -> NoReturn:
    raise ValidationError({"file": message})


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    _fail("The timeline is not text.")  # pragma: no cover - latin-1 decodes any bytes


def detect_format(filename: str, data: bytes) -> str:
    extension = os.path.splitext(filename or "")[1].lower()
    if extension in FORMATS:
        return FORMATS[extension][0]
    if extension == ".xml" or data.lstrip()[:200].startswith(b"<?xml") and b"<fcpxml" in data[:2000]:
        return "fcpxml"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # a compound file: what AAF is stored in
        return "aaf"
    text = data[:4096].decode("latin-1")
    if text.lstrip().startswith("{"):
        return "otio"
    if re.search(r"^\s*(TITLE:|FCM:|\d{1,6}\s+\S+\s+\S+\s+[CDWK])", text, re.MULTILINE):
        return "edl"
    _fail(f"Import a CMX3600 EDL, an OpenTimelineIO, AAF or FCPXML file ({ACCEPTED_EXTENSIONS}).")


def source_basename(path: str) -> str:
    """The file name of a path or URL written on any OS: 'S:\\a\\b.####.exr' -> 'b.####.exr'."""
    path = (path or "").strip().rstrip("/\\")
    path = re.sub(r"^file:/*", "/", path) if path.lower().startswith("file:") else path
    return re.split(r"[/\\]", path)[-1]


def sanitised_name(name: str) -> str:
    """Text as a valid shot name: extension dropped, other characters to '_'; "" if none is left."""
    name = _MEDIA_EXTENSION.sub("", (name or "").strip())
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-")[:80]
    try:
        shot_name_validator(name)
    except ValidationError:
        return ""
    return name


def shot_like(text: str) -> str:
    text = _COMMENT_PREFIX.sub("", (text or "").strip()).strip()
    return text if _SHOT_LIKE.match(text) else ""


def _frames(rational_time, rate: Fraction) -> int:
    return int(round(rational_time.value_rescaled_to(float(rate))))


# ---------------------------------------------------------------------------------------------
# CMX3600: checked and indexed here, read by the adapter

# Lines an EDL may hold besides events and "*" comments. Anything else is refused: the adapter
# would skip it without a word, so a garbled file would import half its events. Avid and
# Premiere also write the well-known comments without their "*".
_EDL_OTHER_LINE = re.compile(
    r"^(TITLE:|FCM:|\*|M2\s|SPLIT:|>>>|AUD\s|SWM\s|EFFECTS? NAME|FROM CLIP( NAME)?:|TO CLIP NAME:|FROM FILE:|"
    r"SOURCE FILE:|LOC:|ASC_S(OP|AT)|COMMENTS?:|REM\b|NOTE:|CLIP NAME:)", re.IGNORECASE)
_EDL_EVENT_LINE = re.compile(r"^\d{1,6}\s")
_EDL_TIMECODES = re.compile(r"(\s\d{2}[:;.,]\d{2}[:;.,]\d{2}[:;.,]\d{2}){4}\s*$")
_EDL_EVENT_FIELDS = re.compile(
    r"^(?P<number>\d{1,6})\s+(?P<reel>\S+)\s+(?P<channel>\S+)\s+(?P<edit>C|D|W\d{3}|K[BO]?)\s+(?P<frames>\d+\s+)?"
    r"(?P<src_in>\S+)\s+(?P<src_out>\S+)\s+(?P<rec_in>\S+)\s+(?P<rec_out>\S+)\s*$", re.IGNORECASE)
_EDL_NAME_COMMENTS = re.compile(r"^\s*(COMMENTS?|NOTE|SHOT)\s*:", re.IGNORECASE)
# Comments the adapter reads into the clip; the rest are kept as the shot's editorial notes.
_EDL_READ_COMMENTS = re.compile(r"^\s*(FROM CLIP NAME|TO CLIP NAME|FROM CLIP|FROM FILE|LOC|ASC_SOP|ASC_SAT|"
                                r"SOURCE FILE|\* FREEZE FRAME)\b", re.IGNORECASE)


@dataclass
class EdlEvent:
    number: str
    line: int
    reel: str
    channel: str
    edit: str  # C, D, W001, ...
    record_in: str  # as written on the event's last line (the transition's, when there is one)
    comments: list = field(default_factory=list)  # without their leading "*"
    speed_line: str = ""

    @property
    def track(self) -> str | None:
        """The OpenTimelineIO track the adapter puts this channel's picture on (None: sound only)."""
        channel = self.channel.upper()
        if channel in ("V", "B", "A2/V", "AA/V"):
            return "V"
        return self.channel if channel.startswith("V") else None


def _check_edl_lines(text: str, filename: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or _EDL_OTHER_LINE.match(stripped):
            continue
        if not _EDL_EVENT_LINE.match(stripped):
            _fail(f"{filename or 'The EDL'} could not be read (line {number}): {stripped[:80]!r} is not an EDL line.")
        if not _EDL_TIMECODES.search(" " + stripped):
            _fail(f"{filename or 'The EDL'} could not be read (line {number}): an event needs source in/out and "
                  f"record in/out timecodes like 01:00:00:00.")


def _scan_edl(text: str) -> list[EdlEvent]:
    """The events as written, with line numbers and comments, in file order."""
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        match = _EDL_EVENT_FIELDS.match(stripped)
        if match:
            if events and events[-1].number == match["number"]:  # a transition's second line
                events[-1].reel, events[-1].channel = match["reel"], match["channel"]
                events[-1].edit, events[-1].record_in = match["edit"].upper(), match["rec_in"]
            else:
                events.append(EdlEvent(number=match["number"], line=number, reel=match["reel"],
                                       channel=match["channel"], edit=match["edit"].upper(),
                                       record_in=match["rec_in"]))
        elif events and stripped and not stripped.upper().startswith(("TITLE:", "FCM:", "SPLIT:")):
            if stripped.upper().startswith("M2 "):
                events[-1].speed_line = stripped
            else:
                events[-1].comments.append(stripped.lstrip("*").strip())
    return events


def _edl_line_of(error: Exception, text: str) -> str:
    """Point at the offending event when the adapter names its clip."""
    match = re.search(r"for clip (\S+)", str(error))
    if not match:
        return ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(match.group(1) + " ") or f" {match.group(1)}" in line:
            return f" (line {number})"
    return ""


def _read_edl(text: str, filename: str, rate: Fraction):
    import opentimelineio as otio

    if not text.strip():
        _fail(f"{filename or 'The EDL'} is empty.")
    _check_edl_lines(text, filename)
    try:
        return otio.adapters.read_from_string(text, "cmx_3600", rate=float(rate))
    except Exception as error:
        line = _edl_line_of(error, text)
        _fail(f"{filename or 'The EDL'} could not be read{line}: {_in_words(error, rate)}")


_RATIONAL_TIME = re.compile(r"RationalTime\((-?[\d.]+), ([\d.]+)\)")
_DURATION_MISMATCH = re.compile(r"Source and record duration don't match: (.+?) != (.+?) for clip (.+)$")


def _in_words(error: Exception, rate: Fraction) -> str:
    """The adapter's message without Python values: 'RationalTime(32, 25)' is '32 frames'."""
    message = str(error)
    mismatch = _DURATION_MISMATCH.search(message)
    if mismatch:
        source, record = (_RATIONAL_TIME.sub(r"\1", group) for group in mismatch.groups()[:2])
        return (f"Source and record duration don't match: the source lasts {_decimal(source)} frames and the record "
                f"{_decimal(record)} at {_decimal(rate)} fps (clip {mismatch.group(3)}). Is {_decimal(rate)} fps the "
                f"rate this EDL was cut at?")
    return _RATIONAL_TIME.sub(lambda m: f"{_decimal(m.group(1))} frames", message)


# ---------------------------------------------------------------------------------------------
# OpenTimelineIO, AAF, FCPXML

def _read_with_adapter(data: bytes, filename: str, kind: str):
    import opentimelineio as otio

    adapter = FORMATS[f".{kind}"][1]
    label = {"otio": "OpenTimelineIO", "aaf": "AAF", "fcpxml": "FCPXML"}[kind]
    try:
        if kind == "aaf":  # the AAF reader wants a file
            with tempfile.NamedTemporaryFile(suffix=".aaf") as handle:
                handle.write(data)
                handle.flush()
                result = otio.adapters.read_from_file(handle.name, adapter)
        else:
            result = otio.adapters.read_from_string(_decode(data), adapter)
    except Exception as error:  # adapters raise ValueError, KeyError, OTIOError, XML errors, ...
        _fail(f"{filename or 'The file'} is not a readable {label} file: {error}")
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        result = timelines[0] if timelines else result
    if not isinstance(result, otio.schema.Timeline):
        _fail(f"{filename or 'The file'} holds an OpenTimelineIO {type(result).__name__}, not a timeline.")
    return result


def parse_timeline(data: bytes, filename: str, rate: Fraction) -> ParsedTimeline:
    """Parse the bytes of a timeline file. `rate` is used for an EDL (EDLs carry none)."""
    if len(data) > MAX_TIMELINE_BYTES:
        _fail(f"The timeline is larger than {MAX_TIMELINE_BYTES // (1024 * 1024)} MiB.")
    kind = detect_format(filename, data)
    if kind != "edl":
        return _events_of(_read_with_adapter(data, filename, kind), kind, rate, drop_frame=False, edl_events=None)
    text = _decode(data)
    drop_frame = bool(re.search(r"^\s*FCM:\s*DROP FRAME", text, re.MULTILINE | re.IGNORECASE))
    timeline = _read_edl(text, filename, rate)
    return _events_of(timeline, kind, rate, drop_frame, edl_events=_scan_edl(text))


# ---------------------------------------------------------------------------------------------
# From OpenTimelineIO's reading to events

def speed_of(clip) -> Fraction | None:
    """The clip's time scalar (None when it plays at speed); several warps multiply."""
    import opentimelineio as otio

    scalar = None
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):  # FreezeFrame is one, with 0
            scalar = (scalar or Fraction(1)) * Fraction(effect.time_scalar).limit_denominator(100000)
    return None if scalar == 1 else scalar


def source_frames_used(start: int, visible_start: int, visible_duration: int,
                       scalar: Fraction | None) -> tuple[int, int]:
    """[first, last) source frames a clip shows, from its range as OpenTimelineIO holds it.

    The range is in the clip's own frames; a time warp reads media at start + (t - start) ×
    scalar. `visible_duration` frames on screen use duration × |scalar| source frames, rounded
    as editors count them (36 frames at 46.7 fps on a 24 fps cut: 70), and never fewer than the
    frames actually sampled (floor((duration - 1) × |scalar|) + 1, which slow motion needs);
    counted down from the first one when the scalar is negative; one frame for a freeze.
    """
    if scalar is None:
        return visible_start, visible_start + visible_duration
    first = start + math.floor((visible_start - start) * scalar)
    if scalar == 0:
        return first, first + 1
    speed = abs(scalar)
    span = max(math.floor((visible_duration - 1) * speed) + 1, math.floor(visible_duration * speed + Fraction(1, 2)))
    return (first, first + span) if scalar > 0 else (first - span + 1, first + 1)


def _reel_of(item) -> str:
    """The reel an EDL gave the clip; OTIO files may carry it the same way. AAF and FCPXML name none."""
    return str(item.metadata.get("cmx_3600", {}).get("reel") or "")


def _source_file_of(item, notes: list[str]) -> str:
    import opentimelineio as otio

    for note in notes:
        match = re.match(r"^\s*SOURCE FILE\s*:\s*(.+)$", note, re.IGNORECASE)
        if match:
            return source_basename(match.group(1))
    reference = item.media_reference
    if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
        return source_basename(reference.target_url)
    if isinstance(reference, otio.schema.ImageSequenceReference) and reference.name_prefix:
        padding = "#" * max(reference.frame_zero_padding, 1)
        return f"{reference.name_prefix}{padding}{reference.name_suffix}"
    return ""


def _locators_of(item, clip_rate: Fraction, start: int, duration: int, record_in: int,
                 scalar: Fraction | None) -> list[Locator]:
    """The clip's markers on source frames. OpenTimelineIO places a marker in the clip's own
    (source) frames; some editors write an EDL locator at the record timecode instead, so one that
    falls in the event's record range is placed there. One outside both is kept, unplaced."""
    locators = []
    for marker in item.markers:
        written_frame = _frames(marker.marked_range.start_time, clip_rate)
        if start <= written_frame < start + duration:
            offset = written_frame - start
        elif record_in <= written_frame < record_in + duration:
            offset = written_frame - record_in
        else:
            offset = None
        if offset is not None and scalar is not None:
            offset = math.floor(offset * scalar)
        locators.append(Locator(
            source_frame=None if offset is None else start + offset, color=str(marker.color or "").lower(),
            text=(marker.name or "").strip(), written=frames_to_timecode(written_frame, clip_rate)))
    return locators


def _edl_index(edl_events: list[EdlEvent], rate: Fraction) -> dict:
    """Picture events by (track, record in frames): where the adapter puts their clips."""
    index = {}
    for event in edl_events:
        if event.track:
            try:
                index[(event.track, timecode_to_frames(event.record_in.replace(".", ":"), rate))] = event
            except ValueError:
                continue  # the adapter reads frame counts too; such an event is matched by position
    return index


def _events_of(timeline, kind: str, rate: Fraction, drop_frame: bool,
               edl_events: list[EdlEvent] | None) -> ParsedTimeline:
    import opentimelineio as otio

    events = []
    timeline_rate = rate
    global_start = timeline.global_start_time
    if kind != "edl" and global_start is not None and global_start.rate > 0:
        timeline_rate = snap_rate(global_start.rate)
    start_frames = _frames(global_start, timeline_rate) if global_start is not None else 0
    by_record = _edl_index(edl_events, rate) if edl_events is not None else {}
    matched = set()
    video_tracks = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    for track_number, track in enumerate(video_tracks, start=1):
        if kind != "edl" and track.source_range is not None and track.source_range.start_time.rate > 0 \
                and global_start is None:
            timeline_rate = snap_rate(track.source_range.start_time.rate)
        offset = _frames(track.source_range.start_time, timeline_rate) if track.source_range else 0
        track_name = track.name if track.name and not track.name.isdigit() else f"V{track_number}"
        clip_number = 0
        for index, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip):
                continue  # gaps and transitions make no shot; a clip next to a transition shows its frames
            clip_number += 1
            record_in = start_frames + _frames(track.range_of_child_at_index(index).start_time, timeline_rate) - offset
            edl_event = by_record.get((track_name, record_in))
            if edl_event is not None:
                matched.add(id(edl_event))
                event = TimelineEvent(event=edl_event.number, line=edl_event.line, reel=edl_event.reel)
            else:
                event = TimelineEvent(event=str(clip_number) if kind == "edl" else f"{track_name}/{clip_number}",
                                      line=None, reel=_reel_of(item))
            _fill_clip(event, item, kind, timeline_rate, record_in, drop_frame, edl_event)
            events.append(event)
    for edl_event in edl_events or []:
        if id(edl_event) in matched:
            continue
        reason = ("is sound only (channel {}), not picture.".format(edl_event.channel) if not edl_event.track
                  else "was not read as a clip.")
        events.append(TimelineEvent(event=edl_event.number, line=edl_event.line, reel=edl_event.reel,
                                    skip=f"Event {edl_event.number} (line {edl_event.line}) {reason}"))
    events.sort(key=lambda e: (e.line or 0))
    return ParsedTimeline(format=kind, name=timeline.name or "", rate=timeline_rate, events=events)


def _fill_clip(event: TimelineEvent, item, kind: str, timeline_rate: Fraction, record_in: int, drop_frame: bool,
               edl_event: EdlEvent | None) -> None:
    import opentimelineio as otio

    meta = item.metadata.get("cmx_3600", {})
    comments = [str(c) for c in meta.get("comments", [])]
    if edl_event is not None:
        # The adapter names a clip without FROM CLIP NAME after its event number; that is no clip name.
        named = [c for c in edl_event.comments if re.match(r"^\s*FROM CLIP NAME\s*:", c, re.IGNORECASE)]
        event.clip_name = re.sub(r"^\s*FROM CLIP NAME\s*:\s*", "", named[-1], flags=re.IGNORECASE).strip() \
            if named else ""
        if any(isinstance(effect, otio.schema.FreezeFrame) for effect in item.effects) or any(
                "FREEZE FRAME" in comment.upper() for comment in edl_event.comments):
            event.clip_name = re.sub(r"\s+FF$", "", event.clip_name)  # Avid marks a freeze's clip name
        event.notes = [c for c in edl_event.comments if not _EDL_READ_COMMENTS.match(c)]
        event.name_comments = [c for c in event.notes if _EDL_NAME_COMMENTS.match(c)] + [
            c for c in event.notes if not _EDL_NAME_COMMENTS.match(c)]
        if not event.clip_name and isinstance(item.media_reference, otio.schema.ExternalReference):
            event.clip_name = os.path.splitext(source_basename(item.media_reference.target_url))[0]
    else:
        event.clip_name = item.name or ""
        event.notes = comments
        event.name_comments = comments
    event.source_file = _source_file_of(item, comments + (edl_event.comments if edl_event else []))[:300]
    event.record_rate, event.drop_frame, event.record_in = timeline_rate, drop_frame, record_in
    if isinstance(item.media_reference, otio.schema.GeneratorReference):
        kind_words = item.media_reference.generator_kind or "a generator"
        event.skip = f"{event.label} is {kind_words} (a generator), not picture from a camera."
        return
    trimmed = item.trimmed_range()
    clip_rate = snap_rate(trimmed.duration.rate) if kind != "edl" and trimmed.duration.rate > 0 else timeline_rate
    event.rate = clip_rate
    event.record_duration = _frames(trimmed.duration, timeline_rate)
    if event.record_duration <= 0:
        event.skip = f"{event.label} ({event.clip_name or event.reel}) has no duration on the timeline."
        return
    visible = item.visible_range()
    start = _frames(trimmed.start_time, clip_rate)
    visible_start = _frames(visible.start_time, clip_rate)
    visible_duration = _frames(visible.duration, clip_rate)
    duration = _frames(trimmed.duration, clip_rate)
    event.time_scalar = speed_of(item)
    event.cut_in, event.cut_out = source_frames_used(start, start, duration, event.time_scalar)
    event.source_in, event.source_out = source_frames_used(start, visible_start, visible_duration,
                                                           event.time_scalar)
    event.transition_head = start - visible_start
    event.transition_tail = visible_start + visible_duration - start - duration
    cdl = item.metadata.get("cdl")
    if isinstance(cdl, Mapping) and isinstance(cdl.get("asc_sop"), Mapping):
        sop = cdl["asc_sop"]
        event.cdl = {"slope": [float(v) for v in sop.get("slope", (1, 1, 1))],
                     "offset": [float(v) for v in sop.get("offset", (0, 0, 0))],
                     "power": [float(v) for v in sop.get("power", (1, 1, 1))],
                     "saturation": float(cdl.get("asc_sat", 1.0))}
    event.locators = _locators_of(item, clip_rate, start, duration, record_in, event.time_scalar)
