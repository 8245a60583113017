"""Fixtures for ingest tests: tiny clips made with the ffmpeg binary, uploads through the real
upload handler, and the ingest task run eagerly."""
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.test import RequestFactory

from answerprint.audit.models import AuditEvent
from answerprint.media.ffmpeg import ffmpeg_binary
from answerprint.media.storage import production_root


@dataclass(frozen=True)
class SourceKind:
    """How to make one kind of test source: 12 frames of testsrc2, unless said otherwise."""

    name: str
    codec_args: tuple
    extension: str
    rate: str = "25"
    size: str = "64x48"
    timecode: str | None = None
    sequence: bool = False
    frames: int = 12

    @property
    def fraction(self):
        return Fraction(self.rate)


KINDS = {
    kind.name: kind
    for kind in [
        SourceKind("h264", ("-c:v", "libx264", "-pix_fmt", "yuv420p"), "mp4", rate="24000/1001",
                   timecode="01:00:00:00"),
        SourceKind("hevc", ("-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"), "mp4"),
        SourceKind("prores", ("-c:v", "prores_ks", "-profile:v", "3"), "mov", rate="24000/1001",
                   timecode="01:00:00:00"),
        # DNxHR: any size from 256×120 up; DNxHD proper only knows broadcast sizes and bit rates.
        SourceKind("dnxhr", ("-c:v", "dnxhd", "-profile:v", "dnxhr_sq", "-pix_fmt", "yuv422p"), "mxf",
                   size="256x144", timecode="10:00:00:00"),
        SourceKind("png", ("-c:v", "png"), "png", sequence=True),
        SourceKind("tiff", ("-c:v", "tiff", "-pix_fmt", "rgb24"), "tif", rate="24000/1001", sequence=True),
        SourceKind("dpx", ("-c:v", "dpx", "-pix_fmt", "gbrp10le"), "dpx", sequence=True),
        SourceKind("exr", ("-c:v", "exr", "-pix_fmt", "gbrpf32le"), "exr", rate="24000/1001", sequence=True),
    ]
}
SEQUENCE_START = 1001


def run_ffmpeg(*args):
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True)


class Sources:
    """Makes each test source once per session, in a folder outside media storage."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.made = {}

    def get(self, name):
        if name not in self.made:
            kind = KINDS[name]
            target = self.folder / name
            target.mkdir(parents=True, exist_ok=True)
            output = target / (f"frame.%04d.{kind.extension}" if kind.sequence else f"clip.{kind.extension}")
            args = ["-f", "lavfi", "-i", f"testsrc2=size={kind.size}:rate={kind.rate}", "-frames:v", str(kind.frames),
                    *kind.codec_args]
            if kind.timecode:
                args += ["-timecode", kind.timecode]
            if kind.sequence:
                args += ["-start_number", str(SEQUENCE_START)]
            run_ffmpeg(*args, str(output))
            self.made[name] = output
        return self.made[name]

    def ramp(self, name):
        """The kind's source with every frame a different grey (frame n: luma 16 + 18·n)."""
        kind = KINDS[name]
        target = self.folder / f"ramp-{name}"
        if not target.exists():
            target.mkdir(parents=True)
            output = target / (f"frame.%04d.{kind.extension}" if kind.sequence else f"clip.{kind.extension}")
            run_ffmpeg("-f", "lavfi", "-i", f"color=black:size={kind.size}:rate={kind.rate}", "-frames:v",
                       str(kind.frames), "-vf", "format=yuv444p,geq=lum='16+18*N':cb=128:cr=128",
                       *kind.codec_args, *(["-start_number", str(SEQUENCE_START)] if kind.sequence else []),
                       str(output))
        return next(target.iterdir()).parent / (f"frame.%04d.{kind.extension}" if kind.sequence
                                                 else f"clip.{kind.extension}")

    def clip(self, name, *args, extension="mp4"):
        """A one-off file made by `ffmpeg ARGS output`."""
        output = self.folder / f"{name}.{extension}"
        if not output.exists():
            run_ffmpeg(*args, str(output))
        return output


@pytest.fixture(scope="session")
def sources(tmp_path_factory):
    return Sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture
def eager(settings):
    """The media task runs in this process, when the transaction that queued it commits."""
    from answerprint.celery import tasks_run_here

    settings.CELERY_TASK_ALWAYS_EAGER = True
    with tasks_run_here():
        yield


def upload(content, name, *, field="file"):
    """An UploadedFile made by the project's upload handler, from bytes or a local file."""
    data = Path(content).read_bytes() if isinstance(content, Path) else content
    from django.core.files.uploadedfile import SimpleUploadedFile

    request = RequestFactory().post("/upload/", {field: SimpleUploadedFile(name, data)})
    return request.FILES[field]


def put_in_storage(local_path, name, *, production):
    """Copy a local file into the production's media folder as `name`; return `name`, as a client gives it."""
    stored = f"{production_root(production)}/{name}"
    with open(local_path, "rb") as handle:
        default_storage.save(stored, File(handle, name=Path(name).name))
    return name


def put_sequence_in_storage(pattern_path, folder, *, production, frames=12, start=SEQUENCE_START):
    """Copy the frames of a local sequence into the production's media under `folder`; return the pattern."""
    pattern_path = Path(pattern_path)
    for number in range(start, start + frames):
        local = pattern_path.parent / (pattern_path.name % number)
        put_in_storage(local, f"{folder}/{local.name}", production=production)
    return f"{folder}/{pattern_path.name}"


def actions(production):
    return list(AuditEvent.objects.filter(production=production).values_list("action", flat=True))


class NoLocalPathStorage(Storage):
    """Storage that, like S3, has no local path: ingest must go through open() and save()."""

    def __init__(self, location):
        self._files = FileSystemStorage(location=location)

    def _open(self, name, mode="rb"):
        return self._files._open(name, mode)

    def _save(self, name, content):
        return self._files._save(name, content)

    def delete(self, name):
        self._files.delete(name)

    def exists(self, name):
        return self._files.exists(name)

    def listdir(self, path):
        return self._files.listdir(path)

    def size(self, name):
        return self._files.size(name)


@pytest.fixture
def storage_without_paths(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "tests.media.conftest.NoLocalPathStorage",
        "OPTIONS": {"location": str(tmp_path / "remote-media")},
    }}
    return default_storage


def run_probe_of(path):
    """ffmpeg's own account of a produced file: stderr dump and per-packet lines."""
    result = subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c",
                             "copy", "-f", "framecrc", "-"], capture_output=True, text=True)
    packets = [line for line in result.stdout.splitlines() if line.startswith("0,")]
    return result.stderr, packets


def decode_frames(path, width, height, *, input_args=()):
    """Every frame of a file as RGB bytes, in order."""
    result = subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", *input_args, "-i",
                             str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt",
                             "rgb24", "-s", f"{width}x{height}", "-"], capture_output=True, check=True)
    size = width * height * 3
    return [result.stdout[i:i + size] for i in range(0, len(result.stdout), size)]
