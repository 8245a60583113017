"""The package's sidecars: a JSON record of what was delivered and why, and an OTIO clip an
editorial tool can open, with the approved range marked on it."""
import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from answerprint.media.timecode import frames_to_timecode, is_drop_frame_rate, timecode_to_frames

SIDECAR_VERSION = 1


def start_frames(timecode: str, rate: Fraction) -> int:
    """The frame count a start timecode stands for (0 without one)."""
    return timecode_to_frames(timecode, rate) if timecode else 0


def record(*, production: str, shot: str, source: dict, proposal: dict, delivery: dict, replaced: dict,
           media: dict, signatures: list, model_card_sha256: str, fix: dict) -> dict:
    """The JSON sidecar's content; every value is plain JSON."""
    return {"answerprint_delivery": SIDECAR_VERSION, "production": production, "shot": shot, "source": source,
            "proposal": proposal, "delivery": delivery, "replaced": replaced, "media": media, "fix": fix,
            "model_card_sha256": model_card_sha256, "signatures": signatures}


def replaced_range(first: int, last: int, rate: Fraction, timecode: str) -> dict:
    start = start_frames(timecode, rate)
    drop = ";" in timecode
    return {"frame_in": first, "frame_out": last, "frames": last - first + 1,
            "timecode_in": frames_to_timecode(start + first, rate, drop),
            "timecode_out": frames_to_timecode(start + last + 1, rate, drop)}  # exclusive, as EDLs count


def otio_clip(data: dict, *, media_name: str, is_sequence: bool, sequence_start: int | None, frame_count: int,
              rate: Fraction, timecode: str) -> otio.schema.Clip:
    """A clip over the whole delivered media at its timecode, the approved range as a marker."""
    start = start_frames(timecode, rate)
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(start, float(rate)),
                                        otio.opentime.RationalTime(frame_count, float(rate)))
    if is_sequence:
        prefix, _, rest = media_name.partition("%")
        digits = int(rest[:rest.index("d")] or 0)
        reference = otio.schema.ImageSequenceReference(
            target_url_base="./", name_prefix=prefix, name_suffix=rest[rest.index("d") + 1:],
            start_frame=sequence_start, frame_zero_padding=digits, rate=float(rate), available_range=available)
    else:
        reference = otio.schema.ExternalReference(target_url=media_name, available_range=available)
    clip = otio.schema.Clip(name=Path(media_name).stem.split("%")[0].rstrip("._") or data["shot"],
                            media_reference=reference, source_range=available)
    replaced = data["replaced"]
    approvers = ", ".join(s["printed_name"] for s in data["signatures"])
    clip.markers.append(otio.schema.Marker(
        name=f"{data['fix']['kind_label']} approved by {approvers}",
        marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start + replaced["frame_in"], float(rate)),
                                             otio.opentime.RationalTime(replaced["frames"], float(rate))),
        color=otio.schema.MarkerColor.GREEN, metadata={"answerprint": {"fix": data["fix"]["id"]}}))
    clip.metadata["answerprint"] = json.loads(json.dumps(data))
    if is_drop_frame_rate(rate) and ";" in timecode:
        clip.metadata["answerprint"]["drop_frame"] = True
    return clip


def write(folder: Path, base_name: str, data: dict, clip: otio.schema.Clip) -> list[str]:
    """Write `<base>.delivery.json` and `<base>.otio` into folder; returns their names."""
    json_name, otio_name = f"{base_name}.delivery.json", f"{base_name}.otio"
    (folder / json_name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    otio.adapters.write_to_file(clip, str(folder / otio_name))
    return [json_name, otio_name]
