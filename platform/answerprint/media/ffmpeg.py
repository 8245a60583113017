"""ffmpeg for ingest: building the commands and reading what ffmpeg says back.

There is no ffprobe here (the bundled imageio-ffmpeg binary is ffmpeg alone), so probing reads
two things from one `ffmpeg -i SRC -c copy -f framecrc -` run: the stream dump that ffmpeg
prints on stderr (codec, pixel format, colour tags, size, timecode) and one line per packet on
stdout, whose time base and durations give the frame rate as an exact ratio. The frame count
is then counted by decoding every frame, in the same pass that makes the proxy, poster and
filmstrip, from the decoder statistics ffmpeg prints at the end ("N frames decoded").

Nothing here touches the database or storage: callers pass local paths.
"""
import math
import os
import re
import shutil
import subprocess
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from fractions import Fraction

from django.conf import settings

from .timecode import snap_rate

PROXY_MAX_WIDTH = 1920
FILMSTRIP_MAX_TILES = 40
FILMSTRIP_TILE_WIDTH = 160
PROXY_PRESET = "veryfast"
PROXY_CRF = 20

# Camera raw formats that arrive in QuickTime-style wrappers and that ffmpeg cannot decode.
RAW_FOURCCS = {
    "brxq": "Blackmagic RAW", "brst": "Blackmagic RAW", "brvn": "Blackmagic RAW", "brs2": "Blackmagic RAW",
    "brxh": "Blackmagic RAW", "brhq": "Blackmagic RAW", "r3d": "REDCODE RAW", "redc": "REDCODE RAW",
    "arri": "ARRIRAW", "cdng": "CinemaDNG",
}


class MediaError(Exception):
    """The media itself is unusable: a human-readable reason, and a short code for machines."""

    def __init__(self, code, reason, detail=""):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.detail = detail


class FFmpegCrashed(RuntimeError):
    """ffmpeg failed for a reason outside the media (killed, out of disk or memory): retry."""


def ffmpeg_binary():
    """settings.FFMPEG_BINARY, else `ffmpeg` on PATH, else the binary shipped with imageio-ffmpeg."""
    configured = getattr(settings, "FFMPEG_BINARY", "")
    if configured:
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------------------------------------
# Reading the stream dump (`ffmpeg -i` on stderr)

@dataclass
class StreamInfo:
    index: int
    kind: str  # "video", "audio", "data", "subtitle", "attachment"
    codec: str = ""
    profile: str = ""
    fourcc: str = ""
    pixel_format: str = ""
    color_range: str = ""
    color_space: str = ""
    color_primaries: str = ""
    color_transfer: str = ""
    field_order: str = ""
    width: int | None = None
    height: int | None = None
    sar: str = ""
    fps_text: str = ""
    tbr_text: str = ""
    tbn_text: str = ""
    attached_pic: bool = False
    metadata: dict = field(default_factory=dict)


@dataclass
class HeaderInfo:
    container: str = ""
    duration: str = ""
    metadata: dict = field(default_factory=dict)
    streams: list = field(default_factory=list)

    @property
    def video(self):
        """The picture: the first video stream that is not cover art (what `-map 0:V:0` takes)."""
        return next((s for s in self.streams if s.kind == "video" and not s.attached_pic), None)

    def of_kind(self, kind):
        return [s for s in self.streams if s.kind == kind and not s.attached_pic]

    @property
    def timecode(self):
        video = self.video
        for source in ([video.metadata] if video else []) + [self.metadata] + [s.metadata for s in self.streams]:
            if source.get("timecode"):
                return source["timecode"]
        return ""


_INPUT_RE = re.compile(r"^Input #0, (.+?), from '.*':\s*$")
_STREAM_RE = re.compile(r"^\s*Stream #0:(\d+)(?:\[0x[0-9a-fA-F]+\])?(?:\([^)]*\))?: (\w+): (.*)$")
_DURATION_RE = re.compile(r"^\s*Duration: ([^,]+)")
_META_RE = re.compile(r"^(\s+)(\S[^:]*?)\s*: ?(.*)$")
_SIZE_RE = re.compile(r"(?:^|\s)(\d+)x(\d+)(?:\s|$|\[)")
_SAR_RE = re.compile(r"SAR (\d+):(\d+)")
_RANGES = {"tv", "pc", "mpeg", "jpeg"}
_FIELD_ORDERS = {"progressive", "top first", "bottom first", "top coded first (swapped)",
                 "bottom coded first (swapped)"}


def split_top_level(text, sep=","):
    """Split on `sep` outside (), [] — "yuv420p(tv, bt709), 64x48" is two parts, not three."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if char == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _unknown_to_blank(name):
    return "" if name in ("unknown", "unspecified", "reserved", "") else name


def _parse_colour_group(group, stream):
    for token in (t.strip() for t in split_top_level(group)):
        if token in _RANGES:
            stream.color_range = {"mpeg": "tv", "jpeg": "pc"}.get(token, token)
        elif token in _FIELD_ORDERS:
            stream.field_order = token
        elif token.count("/") == 2:
            space, primaries, transfer = token.split("/")
            stream.color_space = _unknown_to_blank(space)
            stream.color_primaries = _unknown_to_blank(primaries)
            stream.color_transfer = _unknown_to_blank(transfer)
        elif re.fullmatch(r"[a-z0-9_-]+", token):
            # ffmpeg prints one name when space, primaries and transfer are all the same.
            stream.color_space = stream.color_primaries = stream.color_transfer = _unknown_to_blank(token)


def _parse_video(description, stream):
    parts = split_top_level(description)
    head = parts[0] if parts else ""
    stream.codec = head.split(" ", 1)[0]
    for group in re.findall(r"\(([^()]*)\)", head):
        if " / 0x" in group:
            stream.fourcc = group.split(" / ", 1)[0].strip()
        elif not stream.profile:
            stream.profile = group.strip()
    for position, part in enumerate(parts[1:], start=1):
        size = _SIZE_RE.search(part)
        if size and not stream.width:
            stream.width, stream.height = int(size.group(1)), int(size.group(2))
        sar = _SAR_RE.search(part)
        if sar:
            stream.sar = f"{sar.group(1)}:{sar.group(2)}"
        for suffix, attribute in ((" fps", "fps_text"), (" tbr", "tbr_text"), (" tbn", "tbn_text")):
            match = re.match(rf"^([\d.]+k?){suffix}\b", part)
            if match:
                setattr(stream, attribute, match.group(1))
        if "(attached pic)" in part:
            stream.attached_pic = True
        pixel = re.fullmatch(r"([a-z][a-z0-9_]*)(?:\((.*)\))?", part)
        if position == 1 and pixel and not size:
            stream.pixel_format = "" if pixel.group(1) == "none" else pixel.group(1)
            if pixel.group(2):
                _parse_colour_group(pixel.group(2), stream)
    if "(attached pic)" in description:
        stream.attached_pic = True


def parse_header(stderr):
    """Read the `Input #0` dump of `ffmpeg -i` (stderr text) into a HeaderInfo.

    Only the input section is read: the dump of any output that follows is ignored.
    """
    info = HeaderInfo()
    metadata_target, metadata_indent = None, None
    current = None
    for line in stderr.splitlines():
        if line.startswith(("Output #", "Stream mapping:")):
            break
        if metadata_target is not None:
            meta = _META_RE.match(line)
            if meta and len(meta.group(1)) > metadata_indent:
                metadata_target.setdefault(meta.group(2).strip(), meta.group(3).strip())
                continue
            metadata_target = None
        match = _INPUT_RE.match(line)
        if match:
            info.container = match.group(1)
            continue
        if line.strip() == "Metadata:":
            metadata_target = current.metadata if current is not None else info.metadata
            metadata_indent = len(line) - len(line.lstrip())
            continue
        match = _DURATION_RE.match(line)
        if match and current is None:
            info.duration = match.group(1).strip()
            continue
        match = _STREAM_RE.match(line)
        if match:
            current = StreamInfo(index=int(match.group(1)), kind=match.group(2).lower())
            if current.kind == "video":
                _parse_video(match.group(3), current)
            else:
                current.codec = match.group(3).split(" ", 1)[0].rstrip(",")
            info.streams.append(current)
    return info


def bit_depth(pixel_format):
    """Bits per component of an ffmpeg pixel format name: yuv422p10le -> 10, rgb48le -> 16."""
    name = (pixel_format or "").lower()
    if not name or name == "none":
        return None
    name = re.sub(r"(le|be)$", "", name)
    float_depth = re.search(r"f(16|32)$", name)
    if float_depth:
        return int(float_depth.group(1))
    packed = {"rgb48": 16, "bgr48": 16, "rgba64": 16, "bgra64": 16, "rgb24": 8, "bgr24": 8, "rgba": 8,
              "bgra": 8, "argb": 8, "abgr": 8, "rgb0": 8, "bgr0": 8, "0rgb": 8, "0bgr": 8, "pal8": 8,
              "gray": 8, "nv12": 8, "nv21": 8, "nv16": 8, "nv24": 8, "nv42": 8, "yuyv422": 8, "uyvy422": 8,
              "yvyu422": 8, "monow": 1, "monob": 1, "x2rgb10": 10, "x2bgr10": 10, "v30x": 10,
              "p010": 10, "p012": 12, "p016": 16, "p210": 10, "p212": 12, "p216": 16, "p410": 10,
              "p412": 12, "p416": 16, "y210": 10, "y212": 12, "xv30": 10, "xv36": 12, "ayuv64": 16,
              "rgb565": 6, "bgr565": 6, "rgb555": 5, "bgr555": 5, "rgb444": 4, "bgr444": 4,
              "rgb8": 3, "bgr8": 3, "xyz12": 12, "vuya": 8, "vuyx": 8, "rgbf32": 32, "rgbaf32": 32}
    if name in packed:
        return packed[name]
    suffixed = re.search(r"p(\d+)$", name)  # yuv420p10, gbrp12, yuva444p16
    if suffixed:
        return int(suffixed.group(1))
    if re.fullmatch(r"gray(\d+)", name):
        return int(name[4:])
    if re.search(r"p$", name):  # yuv420p, yuvj422p, gbrp, yuva420p: 8 bits
        return 8
    return None


# ---------------------------------------------------------------------------------------------
# Reading the packets (`-c copy -f framecrc -` on stdout)

@dataclass
class PacketScan:
    count: int = 0
    time_base: Fraction | None = None
    durations: Counter = field(default_factory=Counter)
    first_pts: int | None = None
    last_pts: int | None = None

    def feed(self, line):
        if line.startswith("#tb 0:"):
            num, _, den = line.split(":", 1)[1].strip().partition("/")
            self.time_base = Fraction(int(num), int(den or 1))
            return
        if not line.startswith("0,"):
            return
        fields = [f.strip() for f in line.split(",")]
        self.count += 1
        try:
            pts, duration = int(fields[2]), int(fields[3])
        except (IndexError, ValueError):
            return
        self.durations[duration] += 1
        self.first_pts = pts if self.first_pts is None else min(self.first_pts, pts)
        self.last_pts = pts if self.last_pts is None else max(self.last_pts, pts)


def _rate_text(text):
    if not text:
        return None
    multiplier = 1000 if text.endswith("k") else 1
    try:
        return Fraction(text.rstrip("k")) * multiplier
    except ValueError:
        return None


def frame_rate(scan, stream):
    """The exact rate from the packets' durations, checked against their time span.

    A time base fine enough for the rate (1/24000, 1/12800, 1001/24000) gives it exactly: one
    duration for every frame. A coarse one (Matroska's 1/1000) makes durations alternate
    (41, 42, 42, ...); then the span's average is snapped to the common rate it stands for.
    """
    if scan.time_base and scan.durations:
        duration, hits = scan.durations.most_common(1)[0]
        exact = 1 / (scan.time_base * duration) if duration > 0 else None
        if exact and scan.count >= 2 and scan.last_pts is not None and scan.last_pts > scan.first_pts:
            average = (scan.count - 1) / ((scan.last_pts - scan.first_pts) * scan.time_base)
            if abs(average - exact) / exact < Fraction(1, 1000):
                return exact
            return snap_rate(average)
        if exact and hits == scan.count:
            return exact
    for text in (stream.fps_text, stream.tbr_text):
        value = _rate_text(text)
        if value:
            return snap_rate(value)
    return None


# ---------------------------------------------------------------------------------------------
# Running ffmpeg

@dataclass
class RunResult:
    returncode: int
    stderr: str


# Lines kept from the middle of a long stderr: statistics and anything that reads as an error.
_IMPORTANT_RE = re.compile(r"frames decoded|frames encoded|decode errors|partial file|[Ee]rror|[Ii]nvalid|"
                           r"not found|[Dd]ecoder|truncated")


def run(args, *, on_stdout_line=None, head_lines=400, tail_lines=400):
    """Run ffmpeg with `args`; stdout lines go to `on_stdout_line` as they come.

    stderr is kept bounded for hours-long runs: its head (the stream dump), its tail (the
    closing statistics) and, from the middle, only the lines that look like errors.
    """
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", *args]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, errors="replace", bufsize=1)
    except OSError as exc:
        raise FFmpegCrashed(f"ffmpeg could not be started ({command[0]}): {exc}") from exc
    head, middle, tail = [], deque(maxlen=2000), deque(maxlen=tail_lines)

    def read_stderr():
        for line in process.stderr:
            line = line.rstrip("\n")
            if len(head) < head_lines:
                head.append(line)
                continue
            if len(tail) == tail.maxlen and _IMPORTANT_RE.search(tail[0]):
                middle.append(tail[0])
            tail.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        for line in process.stdout:
            if on_stdout_line is not None:
                on_stdout_line(line.rstrip("\n"))
    except BaseException:
        process.kill()
        raise
    finally:
        process.wait()
        reader.join()
    return RunResult(process.returncode, "\n".join([*head, *middle, *tail]))


# ---------------------------------------------------------------------------------------------
# Probing

@dataclass
class Probe:
    container: str
    duration: str
    codec: str
    profile: str
    fourcc: str
    pixel_format: str
    bit_depth: int | None
    color_range: str
    color_space: str
    color_primaries: str
    color_transfer: str
    field_order: str
    width: int
    height: int
    sar: str
    rate: Fraction | None
    packet_count: int
    timecode: str
    audio_streams: int
    stream_index: int

    def as_json(self):
        data = asdict(self)
        data["rate"] = f"{self.rate.numerator}/{self.rate.denominator}" if self.rate else None
        return data


def looks_like_text(head):
    """True when the first bytes read as text (a script, a note, an HTML error page)."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = head[:-3].decode("utf-8-sig")  # a multi-byte character cut at the end
        except UnicodeDecodeError:
            return False
    printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    return printable >= 0.95 * len(text)


def _looks_like_isobmff(head):
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def _last_error(stderr):
    for line in reversed(stderr.splitlines()):
        text = re.sub(r"^\[[^\]]*\]\s*", "", line).strip()
        if text and not text.startswith(("At least one output", "Exiting with")):
            return text
    return ""


def classify_failure(stderr, *, returncode=1, head=b"", header=None, file_name=""):
    """Turn a failed ffmpeg run into a MediaError (the media's fault) or FFmpegCrashed (not)."""
    detail = "\n".join(stderr.splitlines()[-30:])
    if returncode < 0:
        raise FFmpegCrashed(f"ffmpeg was killed by signal {-returncode}")
    lowered = stderr.lower()
    for marker in ("no space left on device", "cannot allocate memory", "permission denied", "resource temporarily"):
        if marker in lowered:
            raise FFmpegCrashed(f"ffmpeg failed: {_last_error(stderr)}")
    extension = os.path.splitext(file_name)[1].lower()
    if "no such file or directory" in lowered or "could find no file with path" in lowered:
        return MediaError("missing", "The original is missing from media storage.", detail)
    if looks_like_text(head):
        named = f" despite its {extension} name" if extension else ""
        return MediaError("not_media", f"The file holds text, not video: it is not a media file{named}.", detail)
    if "moov atom not found" in lowered and _looks_like_isobmff(head):
        return MediaError("truncated", "The file ends early: it looks truncated (its MP4/MOV index, the "
                                       "'moov' atom, is missing — was the copy or the recording interrupted?).",
                          detail)
    if "partial file" in lowered:
        return MediaError("truncated", "The file ends early: it looks truncated (the data stops before the "
                                       "end that its index promises).", detail)
    video = header.video if header is not None else None
    if header is not None and header.streams and video is None:
        kinds = sorted({s.kind for s in header.streams if not s.attached_pic})
        if kinds == ["audio"]:
            return MediaError("no_video", "No video stream: the file holds only audio.", detail)
        return MediaError("no_video", f"No video stream: the file holds only {', '.join(kinds) or 'cover art'}.",
                          detail)
    if video is not None and (video.codec == "none" or "no decoder found" in lowered
                              or re.search(r"decoder \(codec [^)]*\) not found", lowered)):
        name = video.fourcc or video.codec
        known = RAW_FOURCCS.get(name.lower())
        label = f"'{name}' ({known})" if known else f"'{name}'"
        return MediaError("unsupported_codec", f"Unsupported video codec {label}: ffmpeg here cannot decode it. "
                                               "Transcode it to ProRes, DNxHR or an image sequence first.", detail)
    if "invalid data found when processing input" in lowered and (header is None or not header.streams):
        return MediaError("not_media", "ffmpeg does not recognise this as video or images: it is in a format "
                                       "it cannot read, or damaged.", detail)
    if "decode error rate" in lowered or "error while decoding" in lowered or "decoding error" in lowered:
        return MediaError("damaged", "The picture is damaged: ffmpeg could not decode it.", detail)
    return MediaError("unreadable", f"ffmpeg could not read this file: {_last_error(stderr) or 'no reason given'}.",
                      detail)


def read_head(path, size=4096):
    try:
        with open(path, "rb") as stream:
            return stream.read(size)
    except OSError:
        return b""


def input_args(path, *, sequence_start=None, sequence_rate=None):
    """The arguments that open a source: a file, or an image sequence at a given rate."""
    if sequence_start is None:
        return ["-i", str(path)]
    rate = sequence_rate or Fraction(24)
    return ["-f", "image2", "-framerate", f"{rate.numerator}/{rate.denominator}",
            "-start_number", str(sequence_start), "-i", str(path)]


def probe(path, *, sequence_start=None, sequence_rate=None, file_name=""):
    """Probe a local file or sequence pattern; raise MediaError when it is not usable video."""
    is_sequence = sequence_start is not None
    if not is_sequence:
        try:
            size = os.path.getsize(path)
        except OSError:
            raise MediaError("missing", "The original is missing from media storage.") from None
        if size == 0:
            raise MediaError("empty", "The file is empty (0 bytes).")
    head = b"" if is_sequence else read_head(path)
    scan = PacketScan()
    result = run([*input_args(path, sequence_start=sequence_start, sequence_rate=sequence_rate),
                  "-map", "0:V:0?", "-c", "copy", "-f", "framecrc", "-nostats", "-"],
                 on_stdout_line=scan.feed)
    header = parse_header(result.stderr)
    video = header.video
    if result.returncode != 0 or video is None or scan.count == 0 or "partial file" in result.stderr:
        raise classify_failure(result.stderr, returncode=result.returncode, head=head, header=header,
                               file_name=file_name)
    if video.codec == "none" or not video.width or not video.height:
        raise classify_failure(result.stderr + "\nno decoder found", head=head, header=header, file_name=file_name)
    rate = sequence_rate if is_sequence and sequence_rate else frame_rate(scan, video)
    return Probe(
        container=header.container, duration=header.duration, codec=video.codec, profile=video.profile,
        fourcc=video.fourcc, pixel_format=video.pixel_format, bit_depth=bit_depth(video.pixel_format),
        color_range=video.color_range, color_space=video.color_space, color_primaries=video.color_primaries,
        color_transfer=video.color_transfer, field_order=video.field_order, width=video.width,
        height=video.height, sar=video.sar, rate=rate, packet_count=scan.count, timecode=header.timecode,
        audio_streams=len(header.of_kind("audio")), stream_index=video.index,
    )


# ---------------------------------------------------------------------------------------------
# The proxy, the poster and the filmstrip, in one decoding pass

def _even(value):
    return max(2, int(value) // 2 * 2)


def proxy_size(width, height, sar="1:1", max_width=PROXY_MAX_WIDTH):
    """Square-pixel, even-sided size for the proxy, at most `max_width` wide."""
    try:
        num, den = (int(x) for x in (sar or "1:1").split(":"))
        aspect = Fraction(num, den) if num and den else Fraction(1)
    except ValueError:
        aspect = Fraction(1)
    display_width = width * aspect
    target_width = _even(min(Fraction(max_width), display_width))
    target_height = _even(round(target_width * height / display_width / 2) * 2)
    return target_width, target_height


@dataclass
class FilmstripPlan:
    tiles: int
    step: int  # tile i shows frame i * step (counted from 0)
    tile_width: int
    tile_height: int


def filmstrip_plan(frame_count, proxy_width, proxy_height, max_tiles=FILMSTRIP_MAX_TILES,
                   tile_width=FILMSTRIP_TILE_WIDTH):
    frame_count = max(1, frame_count)
    step = math.ceil(frame_count / min(max_tiles, frame_count))
    tiles = math.ceil(frame_count / step)
    width = _even(min(tile_width, proxy_width))
    height = _even(round(width * proxy_height / proxy_width))
    return FilmstripPlan(tiles=tiles, step=step, tile_width=width, tile_height=height)


def _convert(width, height, source, *, matrix, full_range):
    """A filter that scales to width×height and converts to Y'CbCr with `matrix` and range.

    Scene-linear sources (OpenEXR) get the BT.709 transfer applied by zscale so the proxy is
    not shown as dark linear light; everything else goes through swscale.
    """
    if source.color_transfer == "linear":
        zmatrix = {"bt709": "709", "bt601": "470bg"}[matrix]
        return (f"zscale=w={width}:h={height}:filter=bicubic:tin=linear:t=709:m={zmatrix}"
                f":r={'full' if full_range else 'limited'}")
    options = [f"{width}:{height}", "flags=bicubic", f"out_color_matrix={matrix}",
               f"out_range={'full' if full_range else 'limited'}"]
    if source.color_space not in ("", "gbr", "rgb"):
        known = {"bt709": "bt709", "bt470bg": "bt601", "smpte170m": "smpte170m", "bt2020nc": "bt2020",
                 "fcc": "fcc", "smpte240m": "smpte240m"}
        if source.color_space in known:
            options.append(f"in_color_matrix={known[source.color_space]}")
    elif source.height >= 720 and not source.pixel_format.startswith(("rgb", "bgr", "gbr", "gray")):
        # Untagged HD is BT.709 by convention; swscale would otherwise assume BT.601.
        options.append("in_color_matrix=bt709")
    if source.color_range in ("tv", "pc"):
        options.append(f"in_range={'full' if source.color_range == 'pc' else 'limited'}")
    return "scale=" + ":".join(options)


# The frames say what they are, so the encoders write the same tags (encoder options alone lose
# to the properties the frames carry out of the filter graph).
_TAG_BT709 = "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"
_TAG_JPEG = "setparams=range=pc:colorspace=bt470bg"


@dataclass
class DeriveOutputs:
    proxy: str
    poster: str
    filmstrip: str


@dataclass
class DeriveResult:
    frames_decoded: int
    frames_encoded: int
    decode_errors: int
    dup_frames: int
    drop_frames: int
    proxy_width: int
    proxy_height: int
    filmstrip: FilmstripPlan
    poster_frame: int  # counted from 0


def derive_command(source_args, probe_result, outputs, *, expected_frames, preset=PROXY_PRESET, crf=PROXY_CRF):
    """The one ffmpeg command that makes proxy, poster and filmstrip; returns (args, geometry)."""
    width, height = proxy_size(probe_result.width, probe_result.height, probe_result.sar)
    plan = filmstrip_plan(expected_frames, width, height)
    middle = max(0, expected_frames // 2)
    rate = probe_result.rate or Fraction(24)
    proxy_filter = _convert(width, height, probe_result, matrix="bt709", full_range=False)
    # JPEG decoders read full-range BT.601, so the stills are converted to exactly that.
    tile_filter = _convert(plan.tile_width, plan.tile_height, probe_result, matrix="bt601", full_range=True)
    poster_filter = _convert(width, height, probe_result, matrix="bt601", full_range=True)
    graph = (
        f"[0:{probe_result.stream_index}]split=3[p][f][t];"
        f"[p]{proxy_filter},format=yuv420p,setsar=1,{_TAG_BT709}[proxy];"
        f"[f]select='not(mod(n\\,{plan.step}))',{tile_filter},format=yuvj420p,{_TAG_JPEG},"
        f"tile={plan.tiles}x1,setsar=1[strip];"
        f"[t]select='eq(n\\,{middle})',{poster_filter},format=yuvj420p,{_TAG_JPEG},setsar=1[poster]"
    )
    args = [
        "-loglevel", "verbose", "-nostats", "-progress", "pipe:1", "-y",
        *source_args,
        "-filter_complex", graph,
        # Proxy: H.264 4:2:0 for every browser; an intra frame every 2 frames so a seek lands on
        # the exact frame quickly; no B-frames, CFR at the source's rate, index at the front.
        "-map", "[proxy]", "-map", "0:a:0?", "-map_metadata", "-1", "-map_chapters", "-1",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-x264-params", "keyint=2:min-keyint=1:scenecut=0:bframes=0",
        "-r", f"{rate.numerator}/{rate.denominator}", "-fps_mode", "cfr",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2",
        "-movflags", "+faststart", "-f", "mp4", outputs.proxy,
        "-map", "[strip]", "-frames:v", "1", "-update", "1", "-q:v", "4", "-f", "image2", outputs.filmstrip,
        "-map", "[poster]", "-frames:v", "1", "-update", "1", "-q:v", "3", "-f", "image2", outputs.poster,
    ]
    return args, (width, height, plan, middle)


_DECODED_RE = re.compile(r"Input stream #0:(\d+) \(video\): (\d+) packets read .*?; (\d+) frames decoded; "
                         r"(\d+) decode errors")
_ENCODED_RE = re.compile(r"Output stream #0:0 \(video\): (\d+) frames encoded")


def parse_final_stats(stderr, stream_index):
    """(frames decoded, decode errors, frames encoded into the proxy) from ffmpeg's closing lines."""
    decoded = errors = encoded = None
    for line in stderr.splitlines():
        match = _DECODED_RE.search(line)
        if match and int(match.group(1)) == stream_index:
            decoded, errors = int(match.group(3)), int(match.group(4))
        match = _ENCODED_RE.search(line)
        if match and "out#0" in line:
            encoded = int(match.group(1))
    return decoded, errors, encoded


class _Progress:
    """Reads `-progress pipe:1` blocks ("frame=12", "dup_frames=0", "progress=continue")."""

    def __init__(self, on_frames):
        self.on_frames = on_frames
        self.values = {}

    def feed(self, line):
        key, _, value = line.partition("=")
        self.values[key.strip()] = value.strip()
        if key == "progress" and self.on_frames is not None:
            try:
                self.on_frames(int(self.values.get("frame", "0")))
            except ValueError:
                pass

    def number(self, key):
        try:
            return int(self.values.get(key, "0"))
        except ValueError:
            return 0


def derive(source_args, probe_result, outputs, *, expected_frames, on_frames=None, file_name="",
           preset=PROXY_PRESET):
    """Decode every frame once, writing proxy, poster and filmstrip; count what was decoded."""
    args, (width, height, plan, middle) = derive_command(source_args, probe_result, outputs,
                                                         expected_frames=expected_frames, preset=preset)
    progress = _Progress(on_frames)
    result = run(args, on_stdout_line=progress.feed)
    if result.returncode != 0:
        raise classify_failure(result.stderr, returncode=result.returncode, file_name=file_name,
                               header=parse_header(result.stderr))
    decoded, errors, encoded = parse_final_stats(result.stderr, probe_result.stream_index)
    if decoded is None:  # a build that prints no statistics: the proxy's count stands in
        decoded = encoded if encoded is not None else progress.number("frame")
    if encoded is None:
        encoded = progress.number("frame")
    if decoded < expected_frames or errors:
        lost = max(expected_frames - decoded, errors or 0)
        raise MediaError("damaged", f"The picture is damaged: {lost} of {expected_frames} frames could not "
                                    "be decoded.", "\n".join(result.stderr.splitlines()[-30:]))
    for path in (outputs.proxy, outputs.poster, outputs.filmstrip):
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            raise FFmpegCrashed(f"ffmpeg exited cleanly but wrote no {os.path.basename(path)}")
    return DeriveResult(frames_decoded=decoded, frames_encoded=encoded, decode_errors=errors or 0,
                        dup_frames=progress.number("dup_frames"), drop_frames=progress.number("drop_frames"),
                        proxy_width=width, proxy_height=height, filmstrip=plan, poster_frame=middle)
