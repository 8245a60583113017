"""Review notes and decisions as markers in the editor's timeline.

What is gathered (`gather`): for each shot in scope, its place in the cut and its camera source,
the comments people wrote on any of its versions and the decisions on its proposals, each at a
frame of the shot. Where the shot came from an imported timeline, it sits at that timeline's
record timecode; otherwise the shots follow each other from 01:00:00:00. Every format below
writes from the same Timeline, so a marker lands on the same frame in all of them:

- CMX3600 EDL with `* LOC:` locators (Avid Media Composer; OpenTimelineIO reads them back);
- Avid marker text (Media Composer's Markers window, Import Markers);
- DaVinci Resolve marker EDL (`|C:ResolveColor… |M:… |D:…`) and a CSV;
- Final Cut Pro XML 1.10 (markers and to-do markers on the clips);
- OTIO: the cut with the markers, and a conform timeline where each delivered fix replaces the
  frames it approved.
"""
import csv
import io
from dataclasses import dataclass, field
from fractions import Fraction
from xml.etree import ElementTree as ET

import opentimelineio as otio

from answerprint.media.timecode import frames_to_timecode, timecode_to_frames

DEFAULT_RECORD_START = "01:00:00:00"


@dataclass(frozen=True)
class Status:
    name: str
    label: str
    otio: str  # OpenTimelineIO's MarkerColor, which is also the EDL locator colour
    avid: str
    resolve: str


STATUSES = {s.name: s for s in [
    Status("approved", "Approved", "GREEN", "green", "Green"),
    Status("rejected", "Rejected", "RED", "red", "Red"),
    Status("changes_requested", "Changes requested", "YELLOW", "yellow", "Yellow"),
    Status("pending", "Awaiting decision", "CYAN", "cyan", "Cyan"),
    Status("open", "Open note", "BLUE", "blue", "Blue"),
    Status("resolved", "Resolved note", "WHITE", "white", "Cream"),
]}


@dataclass(frozen=True)
class Note:
    frame: int  # of the shot, 0 = its first frame
    duration: int
    text: str
    author: str
    status: str


@dataclass
class ShotInCut:
    """One shot as the editor's timeline holds it. `source_in` and `record_in` are where the
    shot's frame 0 sits (source timecode, and record timecode had the cut started there); the
    cut itself uses frames cut_in .. cut_in + cut_length - 1 (an imported shot has handles)."""

    name: str
    reel: str
    source_file: str
    source_in: int  # frames since 00:00:00:00
    frames: int
    record_in: int | None  # from an imported timeline, else placed after the previous shot
    cut_in: int = 0
    cut_length: int | None = None
    notes: list = field(default_factory=list)
    delivery: dict | None = None  # {"media", "frame_in", "frame_out", ...} of an approved, delivered fix

    def __post_init__(self):
        if self.cut_length is None:
            self.cut_length = self.frames - self.cut_in

    @property
    def cut_out(self) -> int:
        return self.cut_in + self.cut_length

    @property
    def record_start(self) -> int:
        return self.record_in + self.cut_in

    @property
    def record_end(self) -> int:
        return self.record_in + self.cut_out


@dataclass
class Cut:
    title: str
    rate: Fraction
    shots: list  # [ShotInCut], in record order, record_in filled in

    @property
    def drop_frame(self) -> bool:
        return False  # markers are written non-drop; 29.97 DF cuts are placed by frame count alone

    def tc(self, frames: int) -> str:
        return frames_to_timecode(frames, self.rate, self.drop_frame)

    def markers(self):
        """(shot, note, record frame) for every note, in record order."""
        for shot in self.shots:
            for note in shot.notes:
                yield shot, note, shot.record_in + note.frame


def place(title: str, rate: Fraction, shots: list) -> Cut:
    """Order the shots by record timecode (imported ones), the rest one after another."""
    for shot in shots:
        shot.notes.sort(key=lambda n: (n.frame, n.status, n.text))
    placed = sorted((s for s in shots if s.record_in is not None), key=lambda s: s.record_start)
    cursor = max((s.record_end for s in placed), default=timecode_to_frames(DEFAULT_RECORD_START, rate))
    for shot in shots:
        if shot.record_in is None:
            shot.record_in = cursor - shot.cut_in
            cursor += shot.cut_length
            placed.append(shot)
    return Cut(title=title, rate=rate, shots=placed)


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def _marker_text(note: Note) -> str:
    return _one_line(f"{STATUSES[note.status].label}: {note.text} ({note.author})")


# ---------------------------------------------------------------------------------------------
# Formats


def cmx3600(cut: Cut) -> str:
    """One event per shot (camera reel and source timecode to record timecode), its notes as
    `* LOC:` lines at record timecode, coloured by status."""
    lines = [f"TITLE: {_one_line(cut.title, 60)}", "FCM: NON-DROP FRAME", ""]
    for number, shot in enumerate(cut.shots, start=1):
        reel = (shot.reel or "AX")[:8].replace(" ", "_")
        lines.append(f"{number:03d}  {reel:<8} V     C        {cut.tc(shot.source_in + shot.cut_in)} "
                     f"{cut.tc(shot.source_in + shot.cut_out)} {cut.tc(shot.record_start)} "
                     f"{cut.tc(shot.record_end)}")
        lines.append(f"* FROM CLIP NAME:  {shot.name}")
        for note in shot.notes:
            lines.append(f"* LOC: {cut.tc(shot.record_in + note.frame)} {STATUSES[note.status].otio:<7} "
                         f"{_marker_text(note)}")
        lines.append("")
    return "\r\n".join(lines)


def avid_markers(cut: Cut) -> str:
    """Media Composer's marker list: name, record timecode, track, colour, comment, duration."""
    rows = [f"{_one_line(note.author, 40)}\t{cut.tc(frame)}\tV1\t{STATUSES[note.status].avid}\t"
            f"{_marker_text(note)}\t{max(note.duration, 1)}\t\t{STATUSES[note.status].avid}"
            for _, note, frame in cut.markers()]
    return "\n".join(rows) + ("\n" if rows else "")


def resolve_edl(cut: Cut) -> str:
    """Resolve's marker EDL: one single-frame event per marker at record timecode, with the
    colour, the note and the marker's duration (`|D:`), as Resolve writes them."""
    lines = [f"TITLE: {_one_line(cut.title, 60)}", "FCM: NON-DROP FRAME", ""]
    for number, (_, note, frame) in enumerate(cut.markers(), start=1):
        end = frame + 1
        lines.append(f"{number:03d}  001      V     C        {cut.tc(frame)} {cut.tc(end)} {cut.tc(frame)} {cut.tc(end)}")
        lines.append(f" |C:ResolveColor{STATUSES[note.status].resolve} |M:{_marker_text(note)} "
                     f"|D:{max(note.duration, 1)}")
        lines.append("")
    return "\r\n".join(lines)


CSV_COLUMNS = ["Shot", "Frame", "Record In", "Record Out", "Duration", "Status", "Color", "Author", "Notes"]


def resolve_csv(cut: Cut) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for shot, note, frame in cut.markers():
        duration = max(note.duration, 1)
        writer.writerow([shot.name, note.frame, cut.tc(frame), cut.tc(frame + duration), duration,
                         STATUSES[note.status].label, STATUSES[note.status].resolve, note.author, note.text])
    return out.getvalue()


def _seconds(frames: int, rate: Fraction) -> str:
    """FCPXML time: a rational number of seconds, "1001/24000s"."""
    value = Fraction(frames) / rate
    return f"{value.numerator}s" if value.denominator == 1 else f"{value.numerator}/{value.denominator}s"


def fcpxml(cut: Cut) -> str:
    """Final Cut Pro XML 1.10: the shots on the spine at record time, each note a marker (a to-do
    marker for decisions, completed when approved)."""
    rate = cut.rate
    root = ET.Element("fcpxml", {"version": "1.10"})
    resources = ET.SubElement(root, "resources")
    width, height = 1920, 1080
    ET.SubElement(resources, "format", {"id": "r1", "frameDuration": _seconds(1, rate),
                                        "width": str(width), "height": str(height)})
    for index, shot in enumerate(cut.shots, start=2):
        asset = ET.SubElement(resources, "asset", {
            "id": f"r{index}", "name": shot.name, "start": _seconds(shot.source_in, rate),
            "duration": _seconds(shot.frames, rate), "hasVideo": "1", "format": "r1"})
        ET.SubElement(asset, "media-rep", {"kind": "original-media", "src": shot.source_file or f"{shot.name}.mov"})
    library = ET.SubElement(root, "library")
    event = ET.SubElement(library, "event", {"name": cut.title})
    project = ET.SubElement(event, "project", {"name": cut.title})
    start = cut.shots[0].record_start if cut.shots else 0
    end = max((s.record_end for s in cut.shots), default=start)
    sequence = ET.SubElement(project, "sequence", {"format": "r1", "tcStart": _seconds(start, rate),
                                                   "tcFormat": "NDF", "duration": _seconds(end - start, rate)})
    spine = ET.SubElement(sequence, "spine")
    cursor = start
    for index, shot in enumerate(cut.shots, start=2):
        if shot.record_start > cursor:
            ET.SubElement(spine, "gap", {"name": "Gap", "offset": _seconds(cursor, rate),
                                         "duration": _seconds(shot.record_start - cursor, rate)})
        clip = ET.SubElement(spine, "asset-clip", {
            "ref": f"r{index}", "name": shot.name, "offset": _seconds(shot.record_start, rate),
            "start": _seconds(shot.source_in + shot.cut_in, rate), "duration": _seconds(shot.cut_length, rate),
            "format": "r1"})
        for note in shot.notes:
            attributes = {"start": _seconds(shot.source_in + note.frame, rate),
                          "duration": _seconds(max(note.duration, 1), rate), "value": _marker_text(note)}
            if note.status in ("approved", "rejected", "changes_requested", "pending"):
                attributes["completed"] = "1" if note.status == "approved" else "0"
            ET.SubElement(clip, "marker", attributes)
        cursor = shot.record_end
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _source_clip(shot: ShotInCut, rate: Fraction, first: int, count: int, *, with_notes: bool) -> otio.schema.Clip:
    available = otio.opentime.TimeRange(_rt(shot.source_in, rate), _rt(shot.frames, rate))
    clip = otio.schema.Clip(name=shot.name, media_reference=otio.schema.ExternalReference(
        target_url=shot.source_file, available_range=available),
        source_range=otio.opentime.TimeRange(_rt(shot.source_in + first, rate), _rt(count, rate)))
    clip.metadata["cmx_3600"] = {"reel": shot.reel}
    if with_notes:
        for note in shot.notes:
            clip.markers.append(otio.schema.Marker(
                name=_marker_text(note), color=STATUSES[note.status].otio,
                marked_range=otio.opentime.TimeRange(_rt(shot.source_in + note.frame, rate),
                                                     _rt(max(note.duration, 1), rate)),
                metadata={"answerprint": {"status": note.status, "author": note.author, "text": note.text,
                                          "frame": note.frame}}))
    return clip


def _timeline(cut: Cut, name: str) -> tuple[otio.schema.Timeline, otio.schema.Track]:
    timeline = otio.schema.Timeline(name=name)
    start = cut.shots[0].record_start if cut.shots else timecode_to_frames(DEFAULT_RECORD_START, cut.rate)
    timeline.global_start_time = _rt(start, cut.rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    return timeline, track


def _add_gap_to(track, cursor: int, record_in: int, rate: Fraction) -> None:
    if record_in > cursor:
        track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(_rt(0, rate), _rt(record_in - cursor, rate))))


def otio_notes(cut: Cut) -> otio.schema.Timeline:
    """The cut with every note as a marker on its shot (in the clip's source time, as OTIO has it)."""
    timeline, track = _timeline(cut, cut.title)
    cursor = timeline.global_start_time.to_frames()
    for shot in cut.shots:
        _add_gap_to(track, cursor, shot.record_start, cut.rate)
        track.append(_source_clip(shot, cut.rate, shot.cut_in, shot.cut_length, with_notes=True))
        cursor = shot.record_end
    return timeline


def otio_conform(cut: Cut) -> otio.schema.Timeline:
    """The cut as it should now be conformed: where a fix was delivered, its frames come from the
    delivery and the rest of the shot from the camera source."""
    timeline, track = _timeline(cut, f"{cut.title} (conform)")
    cursor = timeline.global_start_time.to_frames()
    for shot in cut.shots:
        _add_gap_to(track, cursor, shot.record_start, cut.rate)
        fix = shot.delivery
        # The delivered frames inside the cut (a fix may reach into the handles, or lie there).
        first = max(fix["frame_in"], shot.cut_in) if fix else shot.cut_out
        last = min(fix["frame_out"], shot.cut_out - 1) if fix else shot.cut_out - 1
        if first > last:
            track.append(_source_clip(shot, cut.rate, shot.cut_in, shot.cut_length, with_notes=False))
        else:
            if first > shot.cut_in:
                track.append(_source_clip(shot, cut.rate, shot.cut_in, first - shot.cut_in, with_notes=False))
            delivered = otio.schema.Clip(
                name=f"{shot.name} delivery v{fix['version']:03d}",
                media_reference=otio.schema.ExternalReference(
                    target_url=fix["media"], available_range=otio.opentime.TimeRange(
                        _rt(shot.source_in, cut.rate), _rt(shot.frames, cut.rate))),
                source_range=otio.opentime.TimeRange(_rt(shot.source_in + first, cut.rate),
                                                     _rt(last - first + 1, cut.rate)))
            delivered.metadata["answerprint"] = {"delivery_version": fix["version"],
                                                 "manifest_sha256": fix["manifest_sha256"]}
            track.append(delivered)
            if last + 1 < shot.cut_out:
                track.append(_source_clip(shot, cut.rate, last + 1, shot.cut_out - last - 1, with_notes=False))
        cursor = shot.record_end
    return timeline


FORMATS = {
    # name: (writer, file extension, content type)
    "edl": (cmx3600, "edl", "text/plain; charset=utf-8"),
    "avid": (avid_markers, "txt", "text/plain; charset=utf-8"),
    "resolve-edl": (resolve_edl, "edl", "text/plain; charset=utf-8"),
    "resolve-csv": (resolve_csv, "csv", "text/csv; charset=utf-8"),
    "fcpxml": (fcpxml, "fcpxml", "application/xml"),
    "otio": (lambda cut: otio.adapters.write_to_string(otio_notes(cut), "otio_json"), "otio", "application/json"),
    "conform-otio": (lambda cut: otio.adapters.write_to_string(otio_conform(cut), "otio_json"), "otio",
                     "application/json"),
}
