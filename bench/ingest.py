"""Ingest overhead: the platform's media task against the same ffmpeg command run bare.

    python bench/ingest.py            # 3 runs each (about 1-2 minutes on 2 cores)
    python bench/ingest.py --runs 7   # steadier numbers

A 1080p, 10-second H.264 clip (240 frames at 24 fps, with sound) is generated once. Each run
registers it as a new version in a throw-away SQLite database (migrated at start) and times
`answerprint.media.tasks.process_asset` exactly as a worker executes it (Celery's tracer, via
`apply`): claim, probe, the one ffmpeg pass that writes proxy + poster + filmstrip with progress
saved and published, storing the outputs, and the final bookkeeping and audit event. Against it
runs the bare command: the identical ffmpeg arguments, output to /dev/null-ish temp files, no
Python around it. Bare and task runs alternate, so background load hits both alike.

Printed: per-run wall times and CPU times (ffmpeg's, plus this process's own for the task),
medians, the task/bare ratios (target: at most 1.10), and the probe pass timed on its own.
On a busy machine wall times swing by tens of per cent between runs; CPU time barely moves,
so the CPU ratio is the steadier measure of what the task adds. Steadier still: inside each task
run, the time spent outside its proxy-making ffmpeg pass, compared with that pass in the same run.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent


def _setup_django(folder):
    os.environ["ANSWERPRINT_VAR_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ.pop("REDIS_URL", None)  # in-memory channel layer; no broker is used (apply runs here)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "answerprint.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _make_source(folder, seconds, binary):
    source = folder / "source_1080p.mp4"
    subprocess.run([binary, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=24:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-timecode", "01:00:00:00", str(source)], check=True)
    return source


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--seconds", type=int, default=10, help="length of the generated clip (default 10)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="answerprint-bench-") as tmp:
        folder = Path(tmp)
        _setup_django(folder)

        from django.core.files import File
        from django.core.files.storage import default_storage

        from answerprint.accounts.models import Production
        from answerprint.media import ffmpeg, services, tasks
        from answerprint.media.models import AssetStatus, MediaAsset

        binary = ffmpeg.ffmpeg_binary()
        source = _make_source(folder, options.seconds, binary)
        with source.open("rb") as handle:
            stored = default_storage.save("incoming/source_1080p.mp4", File(handle, name=source.name))
        production = Production.objects.create(code="bench", title="Bench", fps_num=24, fps_den=1)
        shot = services.create_shot(actor=None, production=production, name="BENCH_0010")

        # The bare command: exactly what the task runs, with its own temp outputs.
        probe = ffmpeg.probe(str(source))
        bare_dir = folder / "bare"
        bare_dir.mkdir()
        outputs = ffmpeg.DeriveOutputs(proxy=str(bare_dir / "proxy.mp4"), poster=str(bare_dir / "poster.jpg"),
                                       filmstrip=str(bare_dir / "filmstrip.jpg"))
        args, _ = ffmpeg.derive_command(ffmpeg.input_args(str(source)), probe, outputs,
                                        expected_frames=probe.packet_count)
        bare_command = [binary, "-hide_banner", "-nostdin", *args]

        def cpu(who):
            usage = resource.getrusage(who)
            return usage.ru_utime + usage.ru_stime

        def run_bare():
            started, children = time.perf_counter(), cpu(resource.RUSAGE_CHILDREN)
            subprocess.run(bare_command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.perf_counter() - started, cpu(resource.RUSAGE_CHILDREN) - children

        real_run = ffmpeg.run

        def run_task():
            with mock.patch.object(tasks.process_asset, "delay"):  # no broker: the task is applied below
                version = services.register_media(actor=None, shot=shot, path=stored)  # hashing: not timed
            in_ffmpeg = []

            def timed_run(*args, **kwargs):  # the task's ffmpeg runs: the probe, then the proxy pass
                begun = time.perf_counter()
                try:
                    return real_run(*args, **kwargs)
                finally:
                    in_ffmpeg.append(time.perf_counter() - begun)

            started, children, own = time.perf_counter(), cpu(resource.RUSAGE_CHILDREN), cpu(resource.RUSAGE_SELF)
            with mock.patch.object(ffmpeg, "run", timed_run):
                result = tasks.process_asset.apply(args=[version.asset.pk])
            elapsed = time.perf_counter() - started
            task_times.append((in_ffmpeg[-1], elapsed - in_ffmpeg[-1]))
            used = cpu(resource.RUSAGE_CHILDREN) - children + cpu(resource.RUSAGE_SELF) - own
            asset = MediaAsset.objects.get(pk=version.asset.pk)
            if not result.successful() or asset.status != AssetStatus.READY:
                raise SystemExit(f"ingest did not finish: {asset.status} {asset.status_reason}")
            return elapsed, used, asset.frame_count

        def run_probe():
            started = time.perf_counter()
            ffmpeg.probe(str(source))
            return time.perf_counter() - started

        print(f"ffmpeg: {binary}")
        print(f"source: 1920x1080 H.264 + AAC, {probe.packet_count} frames at {probe.rate}, "
              f"{source.stat().st_size / 1e6:.1f} MB; proxy preset {ffmpeg.PROXY_PRESET}, crf {ffmpeg.PROXY_CRF}; "
              f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
        run_bare()  # warm the page cache and the binary

        rows, task_times = [], []
        for number in range(1, options.runs + 1):
            bare, bare_cpu = run_bare()
            task, task_cpu, frames = run_task()
            rows.append((number, bare, task, bare_cpu, task_cpu, run_probe(), frames))

        def median(column):
            return statistics.median(row[column] for row in rows)

        print()
        print(f"{'run':>3}  {'bare wall s':>11}  {'task wall s':>11}  {'ratio':>6}  {'bare CPU s':>10}  "
              f"{'task CPU s':>10}  {'ratio':>6}  {'probe s':>7}")
        for number, bare, task, bare_cpu, task_cpu, probe_time, _ in rows:
            print(f"{number:>3}  {bare:>11.2f}  {task:>11.2f}  {task / bare:>6.3f}  {bare_cpu:>10.2f}  "
                  f"{task_cpu:>10.2f}  {task_cpu / bare_cpu:>6.3f}  {probe_time:>7.2f}")
        def fastest(column):
            return min(row[column] for row in rows)

        for label, pick in (("med", median), ("min", fastest)):
            print(f"{label:>3}  {pick(1):>11.2f}  {pick(2):>11.2f}  {pick(2) / pick(1):>6.3f}  {pick(3):>10.2f}  "
                  f"{pick(4):>10.2f}  {pick(4) / pick(3):>6.3f}  {pick(5):>7.2f}")
        print()
        for label, ratio in (("wall, medians", median(2) / median(1)), ("wall, fastest runs", fastest(2) / fastest(1)),
                             ("CPU, medians", median(4) / median(3))):
            print(f"task over bare command ({label}): {100 * (ratio - 1):+.1f}% "
                  f"(target at most +10%: {'met' if ratio <= 1.10 else 'NOT met'})")
        proxy_pass = statistics.median(t[0] for t in task_times)
        outside = statistics.median(t[1] for t in task_times)
        print(f"inside the task (medians): the proxy pass {proxy_pass:.2f} s; everything else (claim, probe pass, "
              f"progress, storing outputs, bookkeeping) {outside:.2f} s = {100 * outside / proxy_pass:.1f}% of the "
              f"proxy pass timed in the same run — the overhead, measured without other runs' noise")
        print(f"frames counted by the task: {rows[-1][6]} (packets: {probe.packet_count})")


if __name__ == "__main__":
    main()
