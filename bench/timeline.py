"""Timeline import cost: the platform's EDL reading and full import against OpenTimelineIO's own read.

    python bench/timeline.py                  # 100 and 1000 events, 3 runs each (well under a minute)
    python bench/timeline.py --events 3000 --runs 5

An EDL is generated with every kind of event the importer handles: cuts with FROM CLIP NAME and
SOURCE FILE, M2 speed effects and freezes, dissolves, CDLs, locators, a clip used twice, and
sound-only events. Timed, as medians:

- `otio read`: `opentimelineio.adapters.read_from_string(..., "cmx_3600")`, the baseline;
- `parse`: `answerprint.media.timeline.parse_timeline` (OTIO's read plus the line check, the
  event scan, visible ranges, time warps, CDL, locators);
- `import`: `timeline_import.import_timeline` into a fresh production in a throw-away SQLite
  database: every shot created with its audit event, locators, the stored report;
- `re-import`: the same file again (everything unchanged).

Ratios are against `otio read` in the same run.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_django(folder: Path) -> None:
    os.environ["ANSWERPRINT_VAR_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "answerprint.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_edl(events: int) -> bytes:
    """An EDL at 24 fps with `events` events of every kind, in record order."""
    from answerprint.media.timecode import frames_to_timecode

    def tc(frames: int) -> str:
        return frames_to_timecode(frames, 24)

    lines = ["TITLE: BENCH", "FCM: NON-DROP FRAME", ""]
    record = 86400
    for number in range(1, events + 1):
        source = 86400 * 2 + number * 500
        event = f"{number:04d}"
        kind = number % 7
        if kind == 3:  # a speed effect: 24 frames on screen at 48 fps
            lines += [f"{event}  R{number:05d} V     C        {tc(source)} {tc(source + 48)} {tc(record)} {tc(record + 24)}",
                      f"M2   R{number:05d}       048.0                {tc(source)}"]
            record += 24
        elif kind == 4:  # a freeze
            lines += [f"{event}  R{number:05d} V     C        {tc(source)} {tc(source + 1)} {tc(record)} {tc(record + 12)}",
                      f"M2   R{number:05d}       000.0                {tc(source)}"]
            record += 12
        elif kind == 5:  # a dissolve into this event
            lines += [f"{event}  R{number - 1:05d} V     C        {tc(source)} {tc(source)} {tc(record)} {tc(record)}",
                      f"{event}  R{number:05d} V     D    012 {tc(source)} {tc(source + 36)} {tc(record)} {tc(record + 36)}"]
            record += 36
        elif kind == 6:  # sound only
            lines.append(f"{event}  R{number:05d} AA    C        {tc(source)} {tc(source + 24)} {tc(record)} {tc(record + 24)}")
            record += 24
            continue
        else:
            lines.append(f"{event}  R{number:05d} V     C        {tc(source)} {tc(source + 48)} {tc(record)} {tc(record + 48)}")
            record += 48
        reused = number % 11 == 0  # every eleventh event uses the same clip again
        clip, reel = ("SC999_SH990", "R00000") if reused else (f"SC{number // 10:03d}_SH{number % 10:02d}0",
                                                                f"R{number:05d}")
        lines += [f"* FROM CLIP NAME: {clip}", f"* SOURCE FILE: S:\\plates\\{reel}.####.exr"]
        if number % 4 == 0:
            lines += ["*ASC_SOP (1.1 1.0 0.9)(0.01 0.0 -0.01)(1.0 1.0 1.2)", "*ASC_SAT 0.9"]
        if number % 5 == 0:
            lines.append(f"* LOC: {tc(source + 6)} RED     CHECK EDGE")
    return ("\n".join(lines) + "\n").encode()


def timed(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="100,1000", help="comma-separated event counts")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _setup_django(Path(folder))
        from fractions import Fraction

        import opentimelineio as otio
        from django.core.files.uploadedfile import SimpleUploadedFile

        from answerprint.accounts.models import Production, User
        from answerprint.media.timeline import parse_timeline
        from answerprint.media.timeline_import import import_timeline

        editor = User.objects.create_user(username="bench", password="bench-password-1", full_name="Bench Editor")
        rows = []
        for count in (int(n) for n in args.events.split(",")):
            data = make_edl(count)
            text = data.decode()
            read = timed(lambda: otio.adapters.read_from_string(text, "cmx_3600", rate=24), args.runs)
            parse = timed(lambda: parse_timeline(data, "bench.edl", Fraction(24)), args.runs)
            imports, reimports = [], []
            for run in range(args.runs):
                production = Production.objects.create(code=f"bench-{count}-{run}", title="Bench")
                for times in (imports, reimports):
                    start = time.perf_counter()
                    timeline = import_timeline(actor=editor, production=production,
                                               uploaded_file=SimpleUploadedFile("bench.edl", data), fps="24")
                    times.append(time.perf_counter() - start)
            rows.append((count, read, parse, statistics.median(imports), statistics.median(reimports), timeline))
        print(f"{'events':>7} {'otio read':>10} {'parse':>10} {'× read':>7} {'import':>10} {'× read':>7} "
              f"{'re-import':>10} {'× read':>7}  report (last run)")
        for count, read, parse, imported, reimported, timeline in rows:
            print(f"{count:>7} {read * 1000:>8.1f}ms {parse * 1000:>8.1f}ms {parse / read:>7.2f} "
                  f"{imported * 1000:>8.0f}ms {imported / read:>7.1f} {reimported * 1000:>8.0f}ms "
                  f"{reimported / read:>7.1f}  {timeline.unchanged} unchanged, {timeline.skipped} skipped")


if __name__ == "__main__":
    main()
