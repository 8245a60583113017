"""The fast PostgreSQL path that verification takes: same bytes, same findings, in parallel too."""
import pytest
from django.db import connection, transaction

from answerprint.audit import protection, selectors
from answerprint.audit.chain import event_hash
from answerprint.audit.scan import scan
from answerprint.audit.selectors import chain_records, verify_log
from answerprint.audit.services import create_checkpoint, record_event, seal_pending

AWKWARD_TEXT = ['tab\there', 'new\nline', 'back\\slash', '"quoted"', "carriage\rreturn", "naïve café ✓ 日本",
                "\\N", "bell\x07", ""]
AWKWARD_JSON = [None, {}, {"b": 1, "a": [1, 2.5, None, True], "ü": "x\ty"}, {"n": 10 ** 18, "f": 1e-7},
                {"nested": {"z": {"y": "\\"}}}, ["list", 0]]


def write_awkward_events():
    for i, text in enumerate(AWKWARD_TEXT):
        record_event(f"test.awkward{i}", reason=text, actor_name=text, before=AWKWARD_JSON[i % len(AWKWARD_JSON)],
                     after=AWKWARD_JSON[(i + 1) % len(AWKWARD_JSON)])
    seal_pending()


@pytest.mark.django_db
def test_the_scan_hashes_exactly_the_bytes_the_writer_hashed(postgres_only):
    # given events whose text and JSON need every kind of escaping
    write_awkward_events()

    # when the fast path reads them back, then each recomputed hash is the stored one and the
    # one the portable path computes
    connection.ensure_connection()
    scanned = list(scan(connection.connection, 1, len(AWKWARD_TEXT)))
    portable = {record["sequence"]: event_hash(record) for record in chain_records()}
    assert len(scanned) == len(AWKWARD_TEXT)
    for sequence, _prev, stored, recomputed in scanned:
        assert recomputed == stored == portable[sequence]


def tamper(sql):
    protection.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        protection.install(connection)


@pytest.mark.django_db(transaction=True)  # worker processes read only what is committed
@pytest.mark.parametrize("broken", [None, 7, 21, 30])
def test_verifying_in_several_processes_finds_what_one_process_finds(postgres_only, monkeypatch, broken):
    # given 40 committed events under one checkpoint and 5 after it, perhaps one altered
    monkeypatch.setattr(selectors, "WINDOW_EVENTS", 16)  # several windows, and ranges that split
    for i in range(40):
        record_event(f"test.parallel{i}", after={"i": i})
    create_checkpoint()
    for i in range(5):
        record_event("test.after", after={"i": i})
    seal_pending()
    if broken:
        with transaction.atomic():
            tamper(f"UPDATE audit_auditevent SET reason = 'rewritten' WHERE sequence = {broken}")

    # when the log is verified by one process and by three
    alone, shared = verify_log(), verify_log(workers=3)

    # then both say the same, naming the same event
    assert alone == shared
    assert alone.ok is (broken is None)
    if broken:
        assert alone.broken_sequence == broken and "altered" in alone.problem
    else:
        assert (alone.events_checked, alone.checkpoints_checked, alone.uncovered_from) == (45, 1, 41)
