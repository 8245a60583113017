"""Importing an editor's timeline: every event becomes a shot or a listed skip, in one transaction.

How events become shots:
- A shot is named by the import's rule (ShotNameRule). Events that get the same name from the
  same source (reel or file) are uses of one clip: they make ONE shot whose source range is the
  span of all their ranges, so one pull covers every use; the report lists each use.
- A name already held by a shot from a different source, or by another source in the same
  file, is never overwritten: the event is skipped with the reason (NameCollision.REFUSE) or the
  shot gets the next free name, NAME_2, NAME_3 (NameCollision.RENAME).
- The source range is the frames the cut shows — the visible range under a dissolve or wipe,
  speed effects applied — and the shot's frames add `handles` frames each side. A new shot's
  cut starts at frame 1001, its head handle before it; an existing shot keeps its first frame.
- Locators become ShotLocator rows on the shot's frame numbering, and comments on its latest
  version when it has one; other comments go to its editorial notes; the ASC CDL is kept.

The whole report — one entry per event, with the EDL's event number and line — is stored on the
TimelineImport and in its audit event. Re-importing the same file changes nothing.
"""
import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from fractions import Fraction

from django.core.exceptions import ValidationError
from django.db import transaction

from answerprint.audit.services import record_event

from .models import NameCollision, Shot, ShotLocator, ShotNameRule, TimelineImport, Version
from .services import create_shot, post_locator_comments, update_shot
from .timecode import frames_to_timecode, parse_rate
from .timeline import MAX_TIMELINE_BYTES, TimelineEvent, parse_timeline, sanitised_name, shot_like
from .uploads import human_size

DEFAULT_HANDLES = 8  # frames each side, as VFX pulls ask for
MAX_HANDLES = 240
CUT_IN_FRAME = 1001


def timeline_rate(production, fps) -> Fraction:
    """The rate an EDL is read at: `fps` as given ("24", "23.976", "24000/1001"), else the production's."""
    if fps is None or fps == "":
        return parse_rate((production.fps_num, production.fps_den))
    try:
        return parse_rate(fps)
    except (ValueError, ZeroDivisionError, TypeError) as error:
        raise ValidationError({"fps": f"{error}."}) from None


@dataclass
class _Shot:
    """The uses of one clip that make one shot, and what the import decided for it."""

    name: str
    uses: list = field(default_factory=list)
    renamed_from: str = ""

    @property
    def first(self) -> TimelineEvent:
        return self.uses[0]

    @property
    def source_in(self) -> int:
        return min(use.source_in for use in self.uses)

    @property
    def source_out(self) -> int:
        return max(use.source_out for use in self.uses)


# A reel named AX is an editor's "auxiliary / unknown source" (Premiere writes it for every clip).
_UNKNOWN_REELS = {"ax", ""}


def _source_identity(item: "TimelineEvent | Shot") -> dict:
    """What tells two sources apart, most specific first: the file name, the reel, the clip name."""
    source_file = item.source_name if isinstance(item, Shot) else item.source_file
    reel = item.reel or ""
    return {"file": source_file or "", "reel": "" if reel.lower() in _UNKNOWN_REELS else reel,
            "clip": item.clip_name or ""}


def _same_source(a: dict, b: dict) -> bool:
    """Compared on the most specific thing both sides know; a side that knows nothing is no other source."""
    for key in ("file", "reel", "clip"):
        if a[key] and b[key]:
            return a[key].lower() == b[key].lower()
    return True


def _describe_source(identity: dict) -> str:
    parts = [f"{key} {identity[key]}" for key in ("reel", "file", "clip") if identity[key]]
    return " / ".join(parts[:2]) or "no named source"


def _name_for(event: TimelineEvent, rule: str, timeline_prefix: str, prefer_clip: bool) -> str:
    """The shot name the rule gives the event, or "" with no usable name."""
    if rule == ShotNameRule.CLIP:
        return sanitised_name(event.clip_name)
    if rule == ShotNameRule.REEL:
        return sanitised_name(event.reel)
    if rule == ShotNameRule.LOCATOR:
        return sanitised_name(event.locators[0].text) if event.locators else ""
    if rule == ShotNameRule.EVENT:
        return sanitised_name(f"{timeline_prefix}_{event.event}")
    # auto: in an EDL the clip is the camera file and the assistant editor puts the shot name in
    # a locator or comment; in an OTIO/AAF/XML cut for VFX the clip is the shot.
    clip = [shot_like(event.clip_name)] if prefer_clip else []
    for name in clip + [shot_like(loc.text) for loc in event.locators] + [shot_like(c) for c in event.name_comments]:
        if name:
            return name
    return sanitised_name(event.clip_name) or sanitised_name(f"{timeline_prefix}_{event.event}")


def _renamed(group: "_Shot", existing: dict, taken: set[str]) -> tuple[str, "Shot | None"]:
    """NAME_2, NAME_3, ...: the first that this source already holds (an earlier import renamed
    it so), else the first free one."""
    ours = _source_identity(group.first)
    for number in range(2, 1000):
        candidate = f"{group.name[:76]}_{number}"
        shot = existing.get(candidate.lower())
        if shot is not None and _same_source(_source_identity(shot), ours):
            return candidate, shot
        if candidate.lower() not in taken:
            return candidate, None
    raise ValidationError({"file": f"No free name is left for {group.name}."})  # pragma: no cover


def _range_words(event: TimelineEvent, source_in: int, source_out: int) -> str:
    return (f"source {event.source_timecode(source_in)}–{event.source_timecode(source_out)} "
            f"({source_out - source_in} frames)")


def _event_words(event: TimelineEvent) -> str:
    """What the event does to its source, in words: speed effect, frames under transitions."""
    words = []
    if event.time_scalar is not None:
        words.append(f"{event.speed_words} over {event.record_duration} frames on screen")
    if event.transition_head or event.transition_tail:
        extra = [f"{event.transition_head} before" if event.transition_head else "",
                 f"{event.transition_tail} after" if event.transition_tail else ""]
        words.append(f"{' and '.join(e for e in extra if e)} the cut visible under a transition")
    return "; ".join(words)


def _editorial(group: _Shot, handles: int, timeline: TimelineImport) -> dict:
    first = group.first
    notes = []
    for use in group.uses:
        for note in use.notes:
            if note not in notes:
                notes.append(note)
        for locator in use.locators:
            if locator.source_frame is None:
                line = f"Locator at {locator.written} ({locator.color or 'no colour'}), outside the clip: {locator.text}"
                if line not in notes:
                    notes.append(line)
    scalars = {use.time_scalar for use in group.uses}
    return {
        "source_name": first.source_file, "reel": first.reel[:120], "clip_name": first.clip_name[:300],
        "source_timecode_in": first.source_timecode(group.source_in),
        "source_timecode_out": first.source_timecode(group.source_out),
        "record_timecode_in": first.record_timecode(first.record_in),
        "record_timecode_out": first.record_timecode(first.record_out),
        "handles": handles,
        "time_scalar": float(scalars.pop()) if len(scalars) == 1 and None not in scalars else None,
        "cdl": next((use.cdl for use in group.uses if use.cdl), None),
        "editorial_notes": "\n".join(notes),
        "timeline_id": timeline.pk,
    }


def _check_options(handles, name_rule: str, on_collision: str) -> int:
    try:
        handles = int(handles)
    except (TypeError, ValueError):
        raise ValidationError({"handles": f"{handles!r} is not a number of frames."}) from None
    if not 0 <= handles <= MAX_HANDLES:
        raise ValidationError({"handles": f"Handles are 0 to {MAX_HANDLES} frames each side, not {handles}."})
    if name_rule not in ShotNameRule.values:
        raise ValidationError({"name_rule": f"Shot names come from one of {', '.join(ShotNameRule.values)}."})
    if on_collision not in NameCollision.values:
        raise ValidationError({"on_collision": f"A name collision is one of {', '.join(NameCollision.values)}."})
    return handles


@transaction.atomic
def import_timeline(*, actor, production, uploaded_file, fps=None, handles=DEFAULT_HANDLES,
                    name_rule=ShotNameRule.AUTO, on_collision=NameCollision.REFUSE) -> TimelineImport:
    """Create or update the production's shots from a timeline file; returns the TimelineImport.

    All or nothing: a file that cannot be read raises ValidationError and changes nothing. A
    file that is read makes a report entry for every event (see the module's docstring).
    """
    rate = timeline_rate(production, fps)
    handles = _check_options(handles, name_rule, on_collision)
    if (getattr(uploaded_file, "size", 0) or 0) > MAX_TIMELINE_BYTES:
        raise ValidationError({"file": f"A timeline may be at most {human_size(MAX_TIMELINE_BYTES)}."})
    data = uploaded_file.read()
    file_name = posixpath.basename((getattr(uploaded_file, "name", "") or "").replace("\\", "/"))
    parsed = parse_timeline(data, file_name, rate)
    if not parsed.clips:
        reasons = " ".join(event.skip for event in parsed.events[:3])
        raise ValidationError({"file": f"{file_name or 'The timeline'} holds no clips that could be shots. {reasons}"
                                       .strip()})
    timeline = TimelineImport.objects.create(
        production=production, name=parsed.name[:300], file_name=file_name[:300], format=parsed.format,
        sha256=hashlib.sha256(data).hexdigest(), fps_num=parsed.rate.numerator, fps_den=parsed.rate.denominator,
        handles=handles, name_rule=name_rule, on_collision=on_collision, imported_by=actor)
    prefix = parsed.name or re.sub(r"\.[^.]*$", "", file_name) or "timeline"
    entries = {id(event): {"event": event.event, "line": event.line, "clip": event.clip_name, "reel": event.reel,
                           "source_file": event.source_file} for event in parsed.events}

    def skip(event: TimelineEvent, message: str) -> None:
        entries[id(event)].update(outcome="skipped", shot="", message=message)

    groups = _group_by_shot(parsed, name_rule, prefix, skip)
    existing = {shot.name.lower(): shot for shot in Shot.objects.select_for_update().filter(production=production)}
    taken = set(existing) | {g.name.lower() for key, g in groups.items() if isinstance(key, str)}
    reason = f"Timeline import of {file_name or 'a timeline'}"
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    locators = _Locators(production)
    repeats = []
    for key, group in groups.items():
        shot = existing.get(group.name.lower()) if isinstance(key, str) else None
        held_by = None
        if not isinstance(key, str):
            held_by = _describe_source(_source_identity(groups[group.name.lower()].first))
        elif shot is not None and not _same_source(_source_identity(shot), _source_identity(group.first)):
            held_by = _describe_source(_source_identity(shot))
        if held_by is not None:
            ours = _describe_source(_source_identity(group.first))
            if on_collision == NameCollision.REFUSE:
                for use in group.uses:
                    skip(use, f"{use.label}: a shot named {group.name} already comes from {held_by}; this event "
                              f"comes from {ours}, so it was not imported (choose “rename” to import it as a new "
                              f"shot).")
                continue
            renamed, shot = _renamed(group, existing, taken)
            group.renamed_from, group.name = group.name, renamed
            taken.add(renamed.lower())
        shot, outcome = _write_shot(actor, production, shot, group, handles, timeline, reason)
        counts[outcome] += 1
        locators.write(actor, shot, group, timeline)
        for use in group.uses:
            entries[id(use)].update(_use_entry(use, shot, group, outcome))
        if len(group.uses) > 1:
            first = group.first
            repeats.append({
                "shot": shot.name, "events": [use.event for use in group.uses],
                "message": f"{shot.name} is used {len(group.uses)} times (events "
                           f"{', '.join(use.event for use in group.uses)}): one shot covers "
                           f"{_range_words(first, group.source_in, group.source_out)}, the span of every use."})
    events = [entries[id(event)] for event in parsed.events]
    skipped = sum(1 for entry in events if entry["outcome"] == "skipped")
    timeline.report = {"events": events, "repeats": repeats, "repeated_clips": "merged into one shot",
                       "rate": f"{parsed.rate.numerator}/{parsed.rate.denominator}", "format": parsed.format}
    timeline.created, timeline.updated, timeline.unchanged = counts["created"], counts["updated"], counts["unchanged"]
    timeline.skipped = skipped
    timeline.save(update_fields=["report", "created", "updated", "unchanged", "skipped"])
    record_event("timeline.imported", actor=actor, production=production, target=timeline, reason=reason, after={
        "file": file_name, "format": parsed.format, "timeline": parsed.name, "rate": timeline.report["rate"],
        "sha256": timeline.sha256, "handles": handles, "name_rule": name_rule, "on_collision": on_collision,
        **counts, "skipped": skipped,
        "events": [[e["event"], e["line"], e["outcome"], e["shot"]] for e in events],
        "skips": [e["message"] for e in events if e["outcome"] == "skipped"],
    })
    return timeline


def _group_by_shot(parsed, name_rule: str, prefix: str, skip) -> dict:
    """The clips by the shot they make: uses of one clip from one source together (keyed by
    name); the same name from another source in the file under a key of its own (a collision)."""
    groups = {}
    for event in parsed.events:
        if event.skip:
            skip(event, event.skip)
            continue
        name = _name_for(event, name_rule, prefix, prefer_clip=parsed.format != "edl")
        if not name:
            skip(event, f"{event.label} ({event.clip_name or event.reel or 'no clip name'}) gives no usable shot "
                        f"name by the rule “{ShotNameRule(name_rule).label}”.")
            continue
        group = groups.get(name.lower())
        if group is None:
            groups[name.lower()] = _Shot(name=name, uses=[event])
        elif _same_source(_source_identity(group.first), _source_identity(event)):
            group.uses.append(event)
        else:
            other = ("other", name.lower(), *_source_identity(event).values())
            groups.setdefault(other, _Shot(name=name)).uses.append(event)
    return groups


def _use_entry(use: TimelineEvent, shot: Shot, group: _Shot, outcome: str) -> dict:
    """The report's entry for one event that made (or updated) a shot."""
    message = f"{use.label} → {shot.name} {outcome}: {_range_words(use, use.source_in, use.source_out)}"
    details = _event_words(use)
    message += f"; {details}" if details else ""
    if group.renamed_from:
        message += f". {group.renamed_from} already comes from another source, so this is {shot.name}"
    if len(group.uses) > 1:
        message += f". One of {len(group.uses)} uses of this clip, merged into one shot"
    return {"outcome": outcome, "shot": shot.name, "message": message + ".",
            "source_in": use.source_timecode(use.source_in), "source_out": use.source_timecode(use.source_out),
            "record_in": use.record_timecode(use.record_in), "record_out": use.record_timecode(use.record_out),
            "time_scalar": None if use.time_scalar is None else str(use.time_scalar),
            "transition_frames": [use.transition_head, use.transition_tail]}


def _write_shot(actor, production, shot: Shot | None, group: _Shot, handles: int, timeline: TimelineImport,
                reason: str) -> tuple[Shot, str]:
    """Create the shot or bring it up to date; returns it with 'created', 'updated' or 'unchanged'."""
    editorial = _editorial(group, handles, timeline)
    frames = group.source_out - group.source_in + 2 * handles
    if shot is None:
        first_frame = CUT_IN_FRAME - handles
        shot = create_shot(actor=actor, production=production, name=group.name, first_frame=first_frame,
                           last_frame=first_frame + frames - 1, reason=reason, **editorial)
        return shot, "created"
    changes = {**editorial, "last_frame": shot.first_frame + frames - 1}
    changed = {k: v for k, v in changes.items() if k != "timeline_id" and getattr(shot, k) != v}
    if not changed:
        return shot, "unchanged"
    changed["timeline_id"] = timeline.pk
    return update_shot(actor=actor, shot=shot, reason=reason, **changed), "updated"


class _Locators:
    """The production's locators, read once: which exist, and which shots still owe a comment."""

    def __init__(self, production):
        rows = ShotLocator.objects.filter(shot__production=production).values_list("shot_id", "frame", "text",
                                                                                   "comment_id")
        self.placed = {(shot_id, frame, text) for shot_id, frame, text, _ in rows}
        self.uncommented = {shot_id for shot_id, _, _, comment_id in rows if comment_id is None}
        self.with_versions = set(Version.objects.filter(shot__production=production).values_list("shot_id", flat=True))

    def write(self, actor, shot: Shot, group: _Shot, timeline: TimelineImport) -> None:
        """Each placed locator once on the shot (re-imports add nothing), and as a comment on its plate."""
        for use in group.uses:
            for locator in use.locators:
                if locator.source_frame is None:
                    continue
                frame = shot.cut_in_frame + locator.source_frame - group.source_in
                if (shot.pk, frame, locator.text) in self.placed:
                    continue
                row = ShotLocator.objects.create(shot=shot, timeline=timeline, frame=frame, color=locator.color,
                                                 text=locator.text, timecode=frames_to_timecode(
                                                     locator.source_frame, use.rate, use.drop_frame))
                self.placed.add((shot.pk, frame, locator.text))
                self.uncommented.add(shot.pk)
                record_event("shot.locator_added", actor=actor, production=shot.production, target=shot, after={
                    "frame": frame, "timecode": row.timecode, "color": row.color, "text": row.text,
                    "timeline": timeline.pk})
        if shot.pk in self.uncommented and shot.pk in self.with_versions:
            post_locator_comments(actor=actor, shot=shot)
