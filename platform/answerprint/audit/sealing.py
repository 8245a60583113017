"""Sealing: giving committed events their place in the hash chain.

A writer inserts its event with the change, carrying the content hash, and leaves `sequence`,
`prev_hash` and `hash` empty: it takes no shared lock, so writers never queue behind each other
while their transactions run, and their commits share WAL flushes. Right after commit the writer
calls `seal_after_commit()`, which, under the chain's lock, numbers every committed pending event
in the order they were written and links each to the one before it (`chain.link_hash`).

Sealing after commit is what makes it cheap under load: one sealer sees every event committed
so far and seals them all in one transaction, and writers that find a sealer at work leave it
their events instead of queueing (`seal_after_commit`). Sealing inside each commit, under the
lock, would serialise every commit's WAL flush again: half the rate of plain inserts.

On PostgreSQL sealing is one SQL function, `answerprint_audit_seal()`: one round trip, the lock
held for that statement only. It relies on READ COMMITTED (Django's default): after waiting for
the lock, it must see the head the previous sealer committed. On SQLite transactions are
serialised anyway (they begin IMMEDIATE) and Python seals.

Until it is sealed an event is already append-only (`protection`). Readers that need the whole
chain call `seal_pending()` first, and Celery beat sweeps up after a writer that died between its
commit and its seal.
"""
import time

from django.db import connection, transaction

from .chain import GENESIS_HASH, link_hash
from .protection import TABLE

# Any 64-bit constant: the key of the PostgreSQL advisory lock that serialises sealing.
CHAIN_LOCK_KEY = 0x4155444954  # "AUDIT"
# Rows per transaction when SQLite seals a backlog.
SQLITE_SEAL_BATCH = 2000

_POSTGRES_SEAL = f"""
    CREATE OR REPLACE FUNCTION answerprint_audit_seal(wait boolean) RETURNS integer AS $$
    DECLARE
        head_sequence bigint;
        head_hash text;
        ids bigint[];
        contents text[];
        sequences bigint[];
        prev_hashes text[];
        hashes text[];
        sealed integer := 0;
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM {TABLE} WHERE hash IS NULL) THEN
            RETURN 0;
        END IF;
        IF wait THEN
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
        ELSIF NOT pg_try_advisory_xact_lock({CHAIN_LOCK_KEY}) THEN
            RETURN 0;  -- someone is sealing now and takes what has committed (see seal_after_commit)
        END IF;
        -- Each statement below takes a fresh snapshot: it sees what the last sealer committed,
        -- and each pass sees the events committed while the one before it ran.
        SELECT sequence, hash INTO head_sequence, head_hash FROM {TABLE}
            WHERE sequence IS NOT NULL ORDER BY sequence DESC LIMIT 1;
        IF head_sequence IS NULL THEN
            head_sequence := 0;
            head_hash := '{GENESIS_HASH}';
        END IF;
        LOOP
            SELECT array_agg(id ORDER BY id), array_agg(content_hash ORDER BY id) INTO ids, contents
                FROM {TABLE} WHERE hash IS NULL;
            EXIT WHEN ids IS NULL;
            sequences := '{{}}';
            prev_hashes := '{{}}';
            hashes := '{{}}';
            FOR i IN 1 .. array_length(ids, 1) LOOP
                head_sequence := head_sequence + 1;
                prev_hashes := prev_hashes || head_hash;
                head_hash := encode(sha256(convert_to(
                    head_sequence::text || ':' || head_hash || ':' || contents[i], 'UTF8')), 'hex');
                sequences := sequences || head_sequence;
                hashes := hashes || head_hash;
            END LOOP;
            -- One statement for the batch: per-row UPDATEs cost more than the inserts they seal.
            UPDATE {TABLE} AS event SET sequence = batch.sequence, prev_hash = batch.prev_hash, hash = batch.hash
                FROM unnest(ids, sequences, prev_hashes, hashes) AS batch(id, sequence, prev_hash, hash)
                WHERE event.id = batch.id;
            sealed := sealed + array_length(ids, 1);
        END LOOP;
        RETURN sealed;
    END;
    $$ LANGUAGE plpgsql
    """


def install(connection):
    """Create the sealing function (PostgreSQL); idempotent."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_POSTGRES_SEAL)


def missing(connection):
    """What is absent from sealing, as `protection.missing_protections` words it."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regproc('answerprint_audit_seal')")
        present = cursor.fetchone()[0] is not None
    return [] if present else ["function answerprint_audit_seal() is missing: events would stay unsealed"]


def seal_pending():
    """Seal every event that is committed (or written by this transaction) but not sealed yet,
    waiting for a sealer already at work; returns how many this call sealed."""
    return _seal(wait=True)


# A process seals after its commits at most this often; a burst of writes shares one seal.
SEAL_INTERVAL_SECONDS = 0.05
_last_seal_after_commit = -SEAL_INTERVAL_SECONDS


def seal_after_commit():
    """A writer's seal, right after its commit; returns how many it sealed.

    It never queues: if another sealer holds the lock, that sealer keeps sealing until it finds
    nothing pending, so it takes this event along (unless the event committed in the instant
    between its last look and its end). And a process that sealed less than
    SEAL_INTERVAL_SECONDS ago leaves its event to the next seal. Either way the event waits,
    unsealed but already append-only, for the next writer's seal, a reader's seal (readers seal
    first) or the sweep. Each seal is a round trip and a WAL flush; sharing them is what keeps
    audited writes close to the speed of plain ones.
    """
    global _last_seal_after_commit
    now = time.monotonic()
    if now - _last_seal_after_commit < SEAL_INTERVAL_SECONDS:
        return 0
    _last_seal_after_commit = now
    return _seal(wait=False)


def _seal(*, wait):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # one statement: atomic on its own
            cursor.execute("SELECT answerprint_audit_seal(%s)", [wait])
            return cursor.fetchone()[0]
    return _seal_in_python()


def _seal_in_python():
    from .models import AuditEvent

    if not AuditEvent.objects.filter(hash__isnull=True).exists():
        return 0  # what readers nearly always find: one indexed query, no transaction
    sealed = 0
    while True:
        with transaction.atomic():
            pending = list(AuditEvent.objects.filter(hash__isnull=True).order_by("pk")
                           .values_list("pk", "content_hash")[:SQLITE_SEAL_BATCH])
            if not pending:
                return sealed
            head = AuditEvent.objects.filter(sequence__isnull=False).order_by("-sequence") \
                .values_list("sequence", "hash").first()
            sequence, prev_hash = head if head else (0, GENESIS_HASH)
            events = []
            for pk, content in pending:
                sequence += 1
                next_hash = link_hash(sequence, prev_hash, content)
                events.append(AuditEvent(pk=pk, sequence=sequence, prev_hash=prev_hash, hash=next_hash))
                prev_hash = next_hash
            AuditEvent.objects.bulk_update(events, ["sequence", "prev_hash", "hash"])
            sealed += len(events)
        if len(pending) < SQLITE_SEAL_BATCH:
            return sealed
