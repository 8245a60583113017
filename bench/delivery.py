"""Delivery packaging against a bare ffmpeg encode of the same frames, in the same run.

    python bench/delivery.py             # one run of each case (about 5 minutes on 2 busy cores)
    python bench/delivery.py --runs 3    # steadier medians

Two camera originals are generated once: a 1080p, 10-second ProRes 422 HQ clip (240 frames at
24000/1001, with timecode and reel) and a 2K (2048x1080) 16-bit half-float EXR sequence of 48
frames. An approved result (ProRes 4444, as the fix worker writes it) replaces 48 frames of each.

Timed, alternating so that background load hits both alike:
- bare: one ffmpeg command encoding every frame of the shot in the delivery codec (ProRes 422 HQ
  into a .mov; half-float EXR files), with nothing around it: what rendering the deliverable costs
  when nothing is reused;
- replaced only: the same command for just the replaced frames, the least any render can do;
- package: what the media worker does for a delivery, minus storage and the database: the
  conform render (conform.py), the signed still and C2PA credentials (provenance.py), the JSON
  and OTIO sidecars, and the ASC MHL manifest (mhl.py), each stage timed.

Printed: per-stage medians and the package/bare ratio (target: at most 1.3).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_django(folder: Path) -> None:
    os.environ["ANSWERPRINT_VAR_DIR"] = str(folder)
    os.environ["C2PA_DEVELOPMENT_DIR"] = str(folder / "c2pa")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "answerprint.settings")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()


def _ffmpeg(binary: str, *args: str) -> None:
    subprocess.run([binary, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


CASES = {
    # name: (size, rate, frames, first replaced, last replaced)
    "ProRes 422 HQ 1080p, 10 s": ("1920x1080", Fraction(24000, 1001), 240, 96, 143),
    "EXR half 2K, 48 frames": ("2048x1080", Fraction(24), 48, 12, 47),
}


def _make_sources(folder: Path, binary: str) -> dict:
    made = {}
    for name, (size, rate, frames, first, last) in CASES.items():
        if name.startswith("ProRes"):
            source = folder / "A001C003.mov"
            _ffmpeg(binary, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-frames:v", str(frames),
                    "-vf", "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
                    "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-timecode", "01:00:10:00",
                    "-metadata:s:v:0", "reel_name=A001C003", str(source))
            sequence_start = None
        else:
            (folder / "exr").mkdir()
            source = folder / "exr" / "A002C001.%04d.exr"
            _ffmpeg(binary, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-frames:v", str(frames),
                    "-vf", "format=gbrpf32le", "-c:v", "exr", "-format", "half", "-compression", "2",
                    "-start_number", "1001", str(source))
            sequence_start = 1001
        result = folder / f"result-{len(made)}.mov"
        count = last - first + 1
        _ffmpeg(binary, "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", "-frames:v", str(count),
                "-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuv444p10le", str(result))
        made[name] = (str(source), sequence_start, str(result))
    return made


def _bare(binary: str, source: str, sequence_start, rate: Fraction, out: Path) -> float:
    """Every frame of the shot encoded once in the delivery codec."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    start = time.perf_counter()
    if sequence_start is None:
        _ffmpeg(binary, "-i", source, "-map", "0:v:0", "-c:v", "prores_ks", "-profile:v", "3",
                "-pix_fmt", "yuv422p10le", "-timecode", "01:00:10:00", str(out / "bare.mov"))
    else:
        _ffmpeg(binary, "-framerate", str(rate), "-start_number", str(sequence_start), "-i", source,
                "-vf", "format=gbrpf32le", "-c:v", "exr", "-format", "half", "-compression", "2",
                "-start_number", str(sequence_start), str(out / Path(source).name))
    return time.perf_counter() - start


def _bare_range(binary: str, result: str, sequence_start, rate: Fraction, out: Path) -> float:
    """Only the approved frames encoded in the delivery codec: the floor under any conform."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    start = time.perf_counter()
    if sequence_start is None:
        _ffmpeg(binary, "-i", result, "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le",
                str(out / "range.mov"))
    else:
        _ffmpeg(binary, "-i", result, "-vf", "format=gbrpf32le", "-c:v", "exr", "-format", "half",
                "-compression", "2", str(out / "range.%04d.exr"))
    return time.perf_counter() - start


def _package(source: str, sequence_start, result: str, rate: Fraction, first: int, last: int, out: Path) -> dict:
    """The media worker's build, stage by stage, on local files."""
    from answerprint.delivery import conform, mhl, provenance, services, sidecar

    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    times = {}
    start = time.perf_counter()
    origin = conform.Source(source, rate, sequence_start)
    name = Path(source).name if sequence_start is not None else "SC010_SH030_v004.mov"
    made = conform.conform(origin, result, first=first, last=last, output_folder=str(out), name=name,
                           timecode="01:00:10:00")
    times["conform render"] = time.perf_counter() - start
    start = time.perf_counter()
    credentials = provenance.Credentials(
        title=made.media, fix_kind="Rig / object removal", model="flow-propagation 1.0", model_card_sha256="0" * 64,
        source_name=Path(source).name, source_sha256="1" * 64,
        approvals=[{"printed_name": "Pat Producer", "meaning": "approval", "signed_at": "2026-12-02T14:00:00+00:00"}],
        delivery={"shot": "SC010_SH030", "frame_in": first, "frame_out": last})
    services._add_credentials(out, made, origin, services.ApprovedRange(first, last, rate, made.timecode),
                              credentials, "SC010_SH030_v004")
    times["C2PA credentials"] = time.perf_counter() - start
    start = time.perf_counter()
    data = sidecar.record(production="bench", shot="SC010_SH030", source={}, proposal={}, delivery={},
                          replaced=sidecar.replaced_range(first, last, rate, made.timecode), media={},
                          signatures=[{"printed_name": "Pat Producer"}], model_card_sha256="0" * 64,
                          fix={"id": 1, "kind_label": "Rig / object removal"})
    sidecar.write(out, "SC010_SH030_v004", data, sidecar.otio_clip(
        data, media_name=made.media, is_sequence=sequence_start is not None, sequence_start=sequence_start,
        frame_count=made.frame_count, rate=rate, timecode=made.timecode))
    times["sidecars"] = time.perf_counter() - start
    start = time.perf_counter()
    mhl.write_manifest(out)
    times["ASC MHL"] = time.perf_counter() - start
    times["package (all)"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="answerprint-bench-delivery-") as scratch:
        folder = Path(scratch)
        _setup_django(folder)
        from answerprint.delivery import provenance
        from answerprint.media.ffmpeg import ffmpeg_binary

        binary = ffmpeg_binary()
        provenance.signing_material()  # the development CA is made once, outside the timings
        print("Generating sources ...", flush=True)
        sources = _make_sources(folder, binary)
        rows = []
        for name, (size, rate, frames, first, last) in CASES.items():
            source, sequence_start, result = sources[name]
            bare, only_range, stages = [], [], {}
            for _ in range(runs):
                bare.append(_bare(binary, source, sequence_start, rate, folder / "bare"))
                only_range.append(_bare_range(binary, result, sequence_start, rate, folder / "range"))
                for stage, seconds in _package(source, sequence_start, result, rate, first, last,
                                               folder / "package").items():
                    stages.setdefault(stage, []).append(seconds)
            baseline = statistics.median(bare)
            rows.append((name, f"bare ffmpeg encode, {frames} frames", baseline, 1.0))
            floor = statistics.median(only_range)
            rows.append((name, f"bare encode of the {last - first + 1} replaced frames", floor, floor / baseline))
            for stage, values in stages.items():
                median = statistics.median(values)
                rows.append((name, stage, median, median / baseline))
            rows.append((name, f"({last - first + 1} of {frames} frames replaced; {runs} runs)", None, None))
        print()
        print(f"{'case':<28} {'step':<44} {'median s':>9} {'vs bare':>8}")
        print("-" * 92)
        for case, step, seconds, ratio in rows:
            timing = f"{seconds:9.2f} {ratio:7.2f}x" if seconds is not None else ""
            print(f"{case:<28} {step:<44} {timing}")
        print("\nTarget: package (all) at most 1.30x the bare encode.")


if __name__ == "__main__":
    main()
