"""Conform-ready media: the camera original with only the approved frames replaced.

An editor relinks a delivery in place of the original, so it must look like the original to the
editing system: the same codec family and profile, size, rate, pixel format, colour tags, start
timecode and reel name. ProRes and DNxHR are intra-frame codecs, so the frames outside the
approved range are copied packet for packet (bit for bit) and only the range is encoded; an
image sequence keeps its untouched frames as the original files. A source in any other codec
(a long-GOP camera file) cannot be copied frame by frame: it is delivered as ProRes 4444, every
frame decoded and encoded once.

Nothing here touches the database or storage: callers pass local paths.
"""
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from answerprint.media import ffmpeg
from answerprint.media.ffmpeg import MediaError


class ConformError(Exception):
    """The delivery cannot be made as asked: a reason a person can act on."""


# ffmpeg's name for a ProRes profile (as `ffmpeg -i` prints it) -> prores_ks's profile number.
PRORES_PROFILES = {"proxy": 0, "lt": 1, "standard": 2, "hq": 3, "4444": 4, "4444 xq": 5, "4444xq": 5}
# ffmpeg's name for a DNxHR profile -> the dnxhd encoder's profile.
DNXHR_PROFILES = {"dnxhr lb": "dnxhr_lb", "dnxhr sq": "dnxhr_sq", "dnxhr hq": "dnxhr_hq",
                  "dnxhr hqx": "dnxhr_hqx", "dnxhr 444": "dnxhr_444"}
# What a long-GOP source is delivered as: ProRes 4444, 10-bit 4:4:4.
FALLBACK = ("prores", "4444")


@dataclass(frozen=True)
class Source:
    """The camera original as ffmpeg opens it: a file, or an image sequence's printf pattern."""

    path: str
    rate: Fraction
    sequence_start: int | None = None

    @property
    def is_sequence(self) -> bool:
        return self.sequence_start is not None

    def input_args(self) -> list[str]:
        return ffmpeg.input_args(self.path, sequence_start=self.sequence_start, sequence_rate=self.rate)

    def frame_file(self, index: int) -> str:
        return self.path % (self.sequence_start + index)


@dataclass(frozen=True)
class Conformed:
    """What was written: the media (a file, or a pattern for a sequence) and how it was made."""

    media: str
    files: list[str]
    codec: str
    profile: str
    pixel_format: str
    width: int
    height: int
    frame_count: int
    timecode: str
    reel_name: str
    copied_frames: int
    encoded_frames: int


def _encoder_args(probe) -> tuple[list[str], str, str]:
    """(ffmpeg codec arguments, codec family, profile) that write frames like the source's."""
    codec, profile = probe.codec, (probe.profile or "").lower()
    if codec == "prores":
        number = PRORES_PROFILES.get(profile, 3)
        return ["-c:v", "prores_ks", "-profile:v", str(number), "-vendor", "apl0"], "prores", profile or "hq"
    if codec == "dnxhd":
        if profile not in DNXHR_PROFILES:
            raise ConformError(f"The source is DNxHD ({probe.profile or 'no profile'}), whose bit rates are tied to "
                               f"frame sizes and rates; only DNxHR sources are delivered in their own codec.")
        return ["-c:v", "dnxhd", "-profile:v", DNXHR_PROFILES[profile]], "dnxhd", profile
    if codec == "exr":
        half = "f16" in probe.pixel_format
        return ["-c:v", "exr", "-format", "half" if half else "float", "-compression", "zip1"], "exr", (
            "half" if half else "float")
    if codec == "dpx":
        return ["-c:v", "dpx"], "dpx", ""
    return ["-c:v", "prores_ks", "-profile:v", "4", "-vendor", "apl0"], FALLBACK[0], FALLBACK[1]


def _target_pixel_format(probe, family: str) -> str:
    if family == "exr":  # the encoder takes 32-bit float and writes half or float as asked
        return "gbrapf32le" if probe.pixel_format.startswith("gbrap") else "gbrpf32le"
    if family == probe.codec:
        return probe.pixel_format
    return "yuv444p10le"


def _colour_filter(probe, pixel_format: str) -> str:
    """Convert to the source's pixel format with its matrix and range, and tag the frames as the
    source is tagged (the encoders take the tags from the frames)."""
    steps = []
    is_rgb = pixel_format.startswith(("gbr", "rgb", "bgr", "gray"))
    if not is_rgb:
        matrix = probe.color_space if probe.color_space in ("bt709", "bt601", "bt2020", "smpte240m", "fcc") else "bt709"
        steps.append(f"scale=out_color_matrix={matrix}:out_range={probe.color_range or 'tv'}")
    steps.append(f"format={pixel_format}")
    tags = {"color_primaries": probe.color_primaries, "color_trc": probe.color_transfer,
            "colorspace": "" if is_rgb else probe.color_space, "range": probe.color_range}
    set_tags = ":".join(f"{key}={value}" for key, value in tags.items() if value)
    if set_tags:
        steps.append(f"setparams={set_tags}")
    return ",".join(steps)


def _reel_name(path: str) -> str:
    """The reel (tape) name a QuickTime source carries on its timecode track, if any."""
    header = ffmpeg.parse_header(ffmpeg.run(["-i", path]).stderr)
    for stream in [*header.streams]:
        if stream.metadata.get("reel_name"):
            return stream.metadata["reel_name"]
    return header.metadata.get("reel_name", "")


def _microseconds(frames: int, rate: Fraction) -> Fraction:
    return Fraction(frames) / rate * 1_000_000


def _check(result, what: str) -> None:
    if result.returncode != 0:
        raise ConformError(f"ffmpeg could not {what}: {ffmpeg.classify_failure(result.stderr).reason}")


def _encode_replacement(replacement: str, count: int, probe, codec_args: list[str], pixel_format: str,
                        output: str, *, sequence_start: int | None = None) -> None:
    """The approved frames, encoded like the source (a movie, or numbered frames of a sequence)."""
    rate = probe.rate
    args = ["-y", "-i", replacement, "-map", "0:v:0", "-frames:v", str(count),
            "-vf", _colour_filter(probe, pixel_format), *codec_args]
    if sequence_start is not None:
        args += ["-fps_mode", "passthrough", "-start_number", str(sequence_start), "-f", "image2"]
    else:
        args += ["-r", f"{rate.numerator}/{rate.denominator}", "-an"]
    _check(ffmpeg.run([*args, output]), "encode the approved frames")


def replacement_frame_count(replacement: str) -> int:
    try:
        return ffmpeg.probe(replacement).packet_count
    except MediaError as error:
        raise ConformError(f"The approved result cannot be read: {error.reason}") from error


def conform(source: Source, replacement: str, *, first: int, last: int, output_folder: str, name: str,
            timecode: str = "", reel_name: str = "") -> Conformed:
    """Write the source with its frames first..last (0-based, inclusive) taken from `replacement`
    (whose frame 0 is `first`) into output_folder, as `name` (a file name, or for a sequence the
    source's printf file name). timecode/reel_name: what the delivery carries when the source has
    none of its own."""
    try:
        probe = ffmpeg.probe(source.path, sequence_start=source.sequence_start,
                             sequence_rate=source.rate if source.is_sequence else None)
    except MediaError as error:
        raise ConformError(f"The source cannot be read: {error.reason}") from error
    total = probe.packet_count
    if not 0 <= first <= last < total:
        raise ConformError(f"The approved range {first}..{last} is outside the source's frames 0..{total - 1}.")
    count = last - first + 1
    available = replacement_frame_count(replacement)
    if available < count:
        raise ConformError(f"The approved result has {available} frames; the range {first}..{last} needs {count}.")
    codec_args, family, profile = _encoder_args(probe)
    pixel_format = _target_pixel_format(probe, family)
    os.makedirs(output_folder, exist_ok=True)
    if source.is_sequence:
        return _conform_sequence(source, replacement, probe, codec_args, family, profile, pixel_format,
                                 first=first, last=last, total=total, output_folder=output_folder, name=name,
                                 timecode=timecode, reel_name=reel_name)
    timecode = probe.timecode or timecode
    reel_name = _reel_name(source.path) or reel_name
    output = str(Path(output_folder) / name)
    with tempfile.TemporaryDirectory(prefix="answerprint-conform-") as scratch:
        middle = str(Path(scratch) / f"replaced{Path(name).suffix or '.mov'}")
        _encode_replacement(replacement, count, probe, codec_args, pixel_format, middle)
        same_family = family == probe.codec
        if same_family:
            _join_copying(source, probe, middle, first=first, last=last, total=total, output=output,
                          timecode=timecode, reel_name=reel_name, scratch=scratch)
            copied, encoded = total - count, count
        else:
            _join_encoding(source, probe, middle, codec_args, pixel_format, first=first, last=last, output=output,
                           timecode=timecode, reel_name=reel_name)
            copied, encoded = 0, total
    return Conformed(media=name, files=[name], codec=family, profile=profile, pixel_format=pixel_format,
                     width=probe.width, height=probe.height, frame_count=total, timecode=timecode,
                     reel_name=reel_name, copied_frames=copied, encoded_frames=encoded)


def _tag_args(timecode: str, reel_name: str) -> list[str]:
    args = ["-timecode", timecode] if timecode else []
    return args + (["-metadata:s:v:0", f"reel_name={reel_name}"] if reel_name else [])


def _join_copying(source, probe, middle, *, first, last, total, output, timecode, reel_name, scratch) -> None:
    """Source packets before and after the range, the encoded range between, without decoding.

    The concat demuxer cuts the source by time: an in/out point a hair (under a microsecond)
    before a frame's start keeps that frame on the right side at any rate, and each part's
    duration, given exactly, places the next part's first frame on its own tick."""
    rate = probe.rate
    lines = ["ffconcat version 1.0"]
    quoted = source.path.replace("'", "'\\''")
    if first > 0:
        lines += [f"file '{quoted}'", f"outpoint {math.floor(_microseconds(first, rate))}us",
                  f"duration {round(_microseconds(first, rate))}us"]
    lines += [f"file '{middle}'", f"duration {round(_microseconds(last - first + 1, rate))}us"]
    if last + 1 < total:
        lines += [f"file '{quoted}'", f"inpoint {math.floor(_microseconds(last + 1, rate))}us",
                  f"duration {round(_microseconds(total - last - 1, rate))}us"]
    listing = Path(scratch) / "parts.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    args = ["-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-i", source.path,
            "-map", "0:v:0", "-map", "1:a?", "-c", "copy", *_tag_args(timecode, reel_name), output]
    _check(ffmpeg.run(args), "join the untouched frames and the approved ones")


def _join_encoding(source, probe, middle, codec_args, pixel_format, *, first, last, output, timecode,
                   reel_name) -> None:
    """For a source whose frames cannot be copied one by one: decode it, swap the range, encode."""
    colour = _colour_filter(probe, pixel_format)
    graph = (f"[0:v:0]split=2[a][c];[a]trim=end_frame={first},setpts=PTS-STARTPTS[before];"
             f"[c]trim=start_frame={last + 1},setpts=PTS-STARTPTS[after];"
             f"[1:v:0]trim=end_frame={last - first + 1},setpts=PTS-STARTPTS[range];"
             f"[before][range][after]concat=n=3:v=1:a=0,{colour}[out]")
    rate = probe.rate
    args = ["-y", *source.input_args(), "-i", middle, "-filter_complex", graph, "-map", "[out]", "-map", "0:a?",
            "-c:a", "copy", "-r", f"{rate.numerator}/{rate.denominator}", *codec_args,
            *_tag_args(timecode, reel_name), output]
    _check(ffmpeg.run(args), "encode the delivery")


def _conform_sequence(source, replacement, probe, codec_args, family, profile, pixel_format, *, first, last, total,
                      output_folder, name, timecode, reel_name) -> Conformed:
    """Untouched frames are the original files, copied; the approved ones are encoded in their place."""
    if family not in ("exr", "dpx"):
        raise ConformError(f"An image sequence of {probe.codec} frames cannot be delivered as a sequence; "
                           f"deliver DPX or EXR.")
    pattern = str(Path(output_folder) / name)
    files = []
    for index in range(total):
        if first <= index <= last:
            continue
        target = pattern % (source.sequence_start + index)
        shutil.copyfile(source.frame_file(index), target)
    _encode_replacement(replacement, last - first + 1, probe, codec_args, pixel_format, pattern,
                        sequence_start=source.sequence_start + first)
    files = [os.path.basename(pattern % (source.sequence_start + index)) for index in range(total)]
    missing = [f for f in files if not os.path.isfile(os.path.join(output_folder, f))]
    if missing:
        raise ConformError(f"{len(missing)} frames were not written, first {missing[0]}.")
    return Conformed(media=name, files=files, codec=family, profile=profile, pixel_format=pixel_format,
                     width=probe.width, height=probe.height, frame_count=total, timecode=timecode,
                     reel_name=reel_name, copied_frames=total - (last - first + 1),
                     encoded_frames=last - first + 1)
