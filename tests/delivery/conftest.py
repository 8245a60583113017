"""Real media for delivery tests: small generated camera originals (ProRes, DNxHR, EXR) and a
proposal made of different pictures, approved by a producer."""
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from answerprint.fixes import services as fix_services
from answerprint.media.ffmpeg import ffmpeg_binary, probe
from answerprint.media.models import AssetStatus, MediaAsset
from tests.fixes.conftest import MODEL_CARD, World


def make(*args):
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def packets(path, *extra):
    """The md5 of every video packet, in order: equal packets are bit-exact frames."""
    out = subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", *extra, "-i", str(path),
                          "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"], check=True, capture_output=True,
                         text=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


TAGS = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
SOURCES = {
    # name: (ffmpeg output arguments, rate, frames)
    "prores": (["-vf", TAGS, "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le",
                "-timecode", "01:00:10:00", "-metadata:s:v:0", "reel_name=A001C003"], Fraction(24000, 1001), 24),
    "dnxhr": (["-vf", TAGS, "-c:v", "dnxhd", "-profile:v", "dnxhr_hqx", "-pix_fmt", "yuv422p10le",
               "-timecode", "10:00:00:00"], Fraction(25), 20),
    # DNxHR in MXF with a sound track, as Avid writes it
    "mxf": (["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "0.8", "-c:v", "dnxhd",
             "-profile:v", "dnxhr_hq", "-pix_fmt", "yuv422p", "-c:a", "pcm_s24le", "-timecode", "10:00:00:00"],
            Fraction(25), 20),
    "h264": (["-vf", TAGS, "-c:v", "libx264", "-g", "12", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
              "-timecode", "02:00:00:00"], Fraction(24), 24),
}


SEQUENCES = {
    "exr": ["-vf", "format=gbrpf32le", "-c:v", "exr", "-format", "half", "-compression", "1"],  # 16-bit float
    "dpx": ["-c:v", "dpx", "-pix_fmt", "gbrp10le"],  # 10-bit log-style DPX, as scanners write them
}


class DeliveryWorld(World):
    """The fixes World, with a real camera original as its plate."""

    def __init__(self, tmp_path, kind="prores", *, first=5, last=10):
        super().__init__()
        self.tmp = tmp_path
        self.first, self.last = first, last
        folder = Path(default_storage.path("plates"))
        folder.mkdir(parents=True, exist_ok=True)
        if kind in SEQUENCES:
            self.rate, frames = Fraction(24), 16
            (folder / kind).mkdir()
            make("-f", "lavfi", "-i", "testsrc2=size=256x144:rate=24", "-frames:v", str(frames),
                 *SEQUENCES[kind], "-start_number", "1001", str(folder / kind / f"A001_C002.%04d.{kind}"))
            original, sequence_start = f"plates/{kind}/A001_C002.%04d.{kind}", 1001
            info = probe(default_storage.path(original), sequence_start=1001, sequence_rate=self.rate)
        else:
            arguments, self.rate, frames = SOURCES[kind]
            suffix = ".mxf" if kind == "mxf" else ".mov"
            original, sequence_start = f"plates/A001_C002_{kind}{suffix}", None
            # extra inputs (a sound track) come before the output options
            inputs = arguments[:4] if arguments[:2] == ["-f", "lavfi"] else []
            make("-f", "lavfi", "-i", f"testsrc2=size=256x144:rate={self.rate}", *inputs, "-frames:v", str(frames),
                 *arguments[len(inputs):], default_storage.path(original))
            info = probe(default_storage.path(original))
        self.plate.asset.delete()  # the plate's picture becomes a real camera original
        self.source_asset = MediaAsset.objects.create(
            version=self.plate, original=original, original_name=Path(original).name, sha256="5" * 64,
            is_sequence=sequence_start is not None, sequence_start=sequence_start, status=AssetStatus.READY,
            fps_num=self.rate.numerator, fps_den=self.rate.denominator, frame_count=frames, width=info.width,
            height=info.height, codec=info.codec, pixel_format=info.pixel_format, start_timecode=info.timecode)
        self.source_path = default_storage.path(original)
        self.frames = frames

    def approved_proposal(self, result_frames=None):
        """A removal over first..last whose result (ProRes 4444, other pictures) a producer approved."""
        fix = fix_services.request_fix(actor=self.supervisor, source_version=self.plate, kind="object_removal",
                                       reason="Boom dips into frame", params={"iterations": 0},
                                       mask_annotation=self.boom, frame_in=self.first,
                                       frame_out=self.last)
        job = fix.jobs.get()
        spec = fix_services.start_job(job.pk, worker="test-worker", device="cpu")
        result = self.tmp / f"result-{job.pk}.mov"
        count = result_frames or self.last - self.first + 1
        make("-f", "lavfi", "-i", f"testsrc=size=256x144:rate={self.rate}",
             "-frames:v", str(count), "-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuv444p10le", str(result))
        proposal = fix_services.ingest_job_result(spec.job_id, output_path=str(result), model_card=dict(MODEL_CARD),
                                                  metrics={}, first_frame=self.first, preview_path=str(result))
        MediaAsset.objects.filter(version=proposal.version).update(status=AssetStatus.READY)
        proposal.refresh_from_db()
        self.sign(proposal, self.producer)
        proposal.refresh_from_db()
        return proposal

    def delivered(self, result_frames=None):
        """Approve, promote and build the package (what the media worker does after commit)."""
        from answerprint.delivery import services

        proposal = self.approved_proposal(result_frames)
        delivery = fix_services.promote_to_delivery(actor=self.editor, version=proposal.version, reason="Conform")
        services.build_package(delivery.delivery_package.pk)
        package = delivery.delivery_package
        package.refresh_from_db()
        return package


@pytest.fixture
def world(db):
    return World()


@pytest.fixture(autouse=True)
def _development_c2pa_keys(settings, tmp_path_factory):
    # One development CA for the whole run: making keys is not what is tested.
    settings.C2PA_DEVELOPMENT_DIR = tmp_path_factory.getbasetemp() / "c2pa"
    settings.C2PA_SIGNING_KEY_FILE = settings.C2PA_CERTIFICATE_CHAIN_FILE = ""


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
