"""Benchmark of the audit log on PostgreSQL: appends, verification, checkpoints and exports.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb PYTHONPATH=platform:. \
        .venv/bin/python bench/audit.py [--events 1000000] [--appends 2000]

Works in a scratch database next to DATABASE_URL's (`<name>_auditbench`, dropped and made
afresh), so it never touches real data. Prints one table:

- append rate with 1 and 8 concurrent writers (processes): `record_event` as its own transaction
  and inside `transaction.atomic()`, next to a plain INSERT baseline measured in the same run;
- verification rate of `verify_chain()` and of the full `verify_log()` over the big log;
- signing a checkpoint over the big log;
- JSON Lines, CSV and PDF (the audit report) exports of it: time and the exporting process's peak
  memory, CSV and PDF against the JSON Lines time of the same run.

The big log is inserted directly (COPY of precomputed chained rows: the triggers allow INSERT).
"""
import argparse
import io
import json
import multiprocessing
import os
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]


def scratch_url():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL database: this benchmark measures PostgreSQL.")
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    return url, f"{base}/{name}_auditbench", f"{name}_auditbench"


def setup_django(url, signing_key):
    os.environ["DATABASE_URL"] = url
    os.environ["AUDIT_SIGNING_KEY_FILE"] = str(signing_key)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "answerprint.settings")
    import django

    django.setup()


def recreate_database(admin_url, name):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- Appends -------------------------------------------------------------------------------------
# Three ways of writing, each with the same writers, in the same run: the machine's own ceiling
# (a plain INSERT of a small row into an unaudited table), `record_event` as its own transaction,
# and `record_event` inside `transaction.atomic()` as a service calls it (BEGIN and COMMIT are
# two more round trips). Shared machines drift; the ratio to the baseline is what carries over.

APPEND_MODES = ("plain insert (baseline)", "record_event", "record_event in atomic()")
_BASELINE_TABLE = "bench_plain_insert"


def _append_worker(args):
    url, key, count, mode = args
    setup_django(url, key)
    from django.db import connection, transaction
    from django.utils import timezone

    from answerprint.audit.services import record_event

    def append(i):
        if mode == "plain insert (baseline)":
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {_BASELINE_TABLE} (occurred_at, action, after) VALUES (%s, %s, %s)",
                               [timezone.now(), "bench.append", json.dumps({"i": i})])
        elif mode == "record_event":
            record_event("bench.append", after={"i": i}, reason="benchmark")
        else:
            with transaction.atomic():
                record_event("bench.append", after={"i": i}, reason="benchmark")

    started = time.perf_counter()
    for i in range(count):
        append(i)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def measure_appends(url, key, writers, total, mode):
    per_writer = total // writers
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no shared DB connections
    with context.Pool(writers) as pool:
        pool.map(_append_worker, [(url, key, 3, mode)] * writers)  # warm up imports and connections
        started = time.perf_counter()
        pool.map(_append_worker, [(url, key, per_writer, mode)] * writers)
        elapsed = time.perf_counter() - started
    return per_writer * writers, elapsed


# --- The big log ---------------------------------------------------------------------------------

def insert_chained_events(count, batch=50_000):
    """Append `count` well-formed chained events with COPY, continuing the existing chain."""
    from django.db import connection

    from answerprint.audit.chain import GENESIS_HASH, content_hash, link_hash
    from answerprint.audit.models import AuditEvent

    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    sequence, prev_hash = (last["sequence"], last["hash"]) if last else (0, GENESIS_HASH)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    columns = ("sequence", "occurred_at", "actor_id", "actor_name", "actor_role", "action", "production_id",
               "target_type", "target_id", "target_repr", "before", "after", "reason", "request_id", "ip",
               "user_agent", "prev_hash", "content_hash", "hash")
    copy_sql = f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        done = 0
        while done < count:
            n = min(batch, count - done)
            buffer = io.StringIO()
            for _ in range(n):
                sequence += 1
                record = {
                    "sequence": sequence,
                    "occurred_at": (start + timedelta(milliseconds=sequence)).isoformat(timespec="microseconds"),
                    "actor_id": None, "actor_name": "Bench Writer", "actor_role": "producer",
                    "action": f"bench.action{sequence % 7}", "production_id": None,
                    "target_type": "media.shot", "target_id": str(sequence % 500),
                    "target_repr": f"SC{sequence % 500:03d}_SH010", "before": {"status": "in_review"},
                    "after": {"status": "approved", "n": sequence}, "reason": "bulk benchmark row",
                    "request_id": "", "ip": "127.0.0.1", "user_agent": "bench", "prev_hash": prev_hash,
                }
                record["content_hash"] = content_hash(record)
                record["hash"] = link_hash(sequence, prev_hash, record["content_hash"])
                prev_hash = record["hash"]
                row = [str(record[c]) if not isinstance(record[c], dict) else json.dumps(record[c], sort_keys=True)
                       for c in columns]
                row[2] = row[6] = "\\N"
                buffer.write("\t".join(v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                                       if v != "\\N" else v for v in row) + "\n")
            with raw.copy(copy_sql) as copy:
                copy.write(buffer.getvalue())
            done += n


def peak_memory_kib():
    """This process's peak resident memory. VmHWM, where Linux has it: ru_maxrss survives exec, so
    a spawned child would report its parent's peak from before the fork."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _export_child(args):
    """Runs in its own process so that its peak memory is the export's alone."""
    url, key, fmt, path = args
    setup_django(url, key)
    from answerprint.audit.exports import ExportRequest, WRITERS
    from answerprint.audit.models import AuditEvent

    baseline = peak_memory_kib()
    up_to = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    started = time.perf_counter()
    size = 0
    with open(path, "wb") as handle:
        for chunk in WRITERS[fmt](ExportRequest(AuditEvent.objects.all(), {}, False), up_to, "bench"):
            handle.write(chunk)
            size += len(chunk)
    elapsed = time.perf_counter() - started
    peak = peak_memory_kib()
    return elapsed, baseline / 1024, peak / 1024, size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the big log (default 1,000,000)")
    parser.add_argument("--appends", type=int, default=2000, help="events appended per append measurement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    admin_url, url, name = scratch_url()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "answerprint-auditbench"
    workdir.mkdir(exist_ok=True)
    key = workdir / "signing-key.pem"
    recreate_database(admin_url, name)
    setup_django(url, key)
    from django.core.management import call_command
    from django.db import connection

    from answerprint.audit.selectors import verify_chain, verify_log
    from answerprint.audit.services import create_checkpoint
    from answerprint.audit.signing import ensure_signing_key

    ensure_signing_key(key)
    call_command("migrate", verbosity=0)
    rows = []

    def row(what, count, seconds, extra=""):
        rows.append((what, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}" if seconds else "-", extra))
        print(f"  {what}: {count:,} in {seconds:.2f} s {extra}", file=sys.stderr, flush=True)

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {_BASELINE_TABLE} (id bigserial PRIMARY KEY, occurred_at timestamptz, "
                       f"action text, after jsonb)")
    connection.close()
    for writers in (1, 8):
        baseline = None
        for mode in APPEND_MODES:
            count, seconds = measure_appends(url, key, writers, args.appends, mode)
            rate = count / seconds
            baseline = baseline or rate
            row(f"append, {writers} writer{'s' if writers > 1 else ''}: {mode}", count, seconds,
                "" if mode == APPEND_MODES[0] else f"{rate / baseline:.2f}x the plain insert")
    from answerprint.audit.models import AuditEvent

    report = verify_chain()  # seals what the writers left to it first
    intact = report.ok and report.checked == AuditEvent.objects.count()
    rows.append(("chain intact after concurrent appends", f"{report.checked:,}", "-", "-",
                 "yes" if intact else f"NO: {report.problem}"))

    started = time.perf_counter()
    insert_chained_events(args.events)
    row("bulk insert (COPY, precomputed chain)", args.events, time.perf_counter() - started)
    connection.close()

    started = time.perf_counter()
    report = verify_chain()
    row("verify_chain()", report.checked, time.perf_counter() - started, "ok" if report.ok else report.problem)

    started = time.perf_counter()
    checkpoint = create_checkpoint()
    row("sign checkpoint (re-verify + Merkle root)", checkpoint.leaf_count, time.perf_counter() - started)

    for workers in (1, 2):
        started = time.perf_counter()
        report = verify_log(workers=workers)
        row(f"verify_log(workers={workers}) (chain + checkpoints)", report.events_checked,
            time.perf_counter() - started, "ok" if report.ok else report.problem)
    connection.close()

    context = multiprocessing.get_context("spawn")
    jsonl_seconds = None
    for fmt in ("jsonl", "csv", "pdf"):
        path = workdir / f"export.{fmt}"
        with context.Pool(1) as pool:
            seconds, baseline, peak, size = pool.apply(_export_child, ((url, key, fmt, str(path)),))
        jsonl_seconds = jsonl_seconds or seconds
        ratio = f", {seconds / jsonl_seconds:.2f}x the JSON Lines time" if fmt != "jsonl" else ""
        row(f"export {fmt}", report.events_checked, seconds,
            f"peak RSS {peak:.0f} MB (process at start {baseline:.0f} MB), file {size / 1e6:.0f} MB{ratio}")
        path.unlink()

    if not args.keep:
        connection.close()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    widths = [max(len(str(r[i])) for r in rows + [("what", "events", "seconds", "events/s", "notes")])
              for i in range(5)]
    header = ("what", "events", "seconds", "events/s", "notes")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(v).ljust(w) if i in (0, 4) else str(v).rjust(w) for i, (v, w) in
                         enumerate(zip(r, widths))))


if __name__ == "__main__":
    main()
