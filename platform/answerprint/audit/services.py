"""The one way anything is written to the audit log."""
import json
from datetime import timezone as dt_timezone

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .chain import CHAINED_FIELDS, GENESIS_HASH, MerkleTree, canonical_payload, event_hash, verify_records
from .context import current_request
from .models import AuditEvent, Checkpoint

# Any 64-bit constant: the key of the PostgreSQL advisory lock that serialises appends.
_CHAIN_LOCK_KEY = 0x4155444954  # "AUDIT"
# Checkpoints take their own lock: a long root computation must never hold up appends.
_CHECKPOINT_LOCK_KEY = 0x41554449544350  # "AUDITCP"

CHECKPOINT_VERSION = 1
# What a writer stores; sealing adds the rest of the chained fields.
_CONTENT_FIELDS = tuple(name for name in CHAINED_FIELDS if name not in ("sequence", "prev_hash"))


def _plain_json(value):
    """What the database will give back for `value`, so the hash covers exactly that."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def _describe(target):
    if target is None:
        return "", "", ""
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}", str(target.pk), str(target)[:300]


def _role_of(actor, production):
    if actor is None or production is None:
        return ""
    from answerprint.accounts.models import Membership

    role = Membership.objects.filter(user=actor, production=production).values_list("role", flat=True).first()
    if role:
        return role
    return "admin" if actor.is_superuser else ""


def lock_chain():
    """Serialise sealing, so two sealers can never both extend the same last event."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so only one writer holds the database.


def record_event(action, *, actor=None, production=None, target=None, before=None, after=None,
                 reason="", actor_role=None, actor_name=None):
    """Write one event inside the caller's transaction; it is sealed into the chain after commit.

    Call it from the service that makes the change, in the same `transaction.atomic()` block:
    the change and its event commit together or not at all. Writers take no shared lock: chaining
    needs the previous committed event, and holding one lock through every writer's commit capped
    the whole platform at one commit (one WAL flush) at a time. Instead `seal_pending` gives
    committed events their sequence, previous hash and hash, many per transaction, right after
    the writer commits. Until then the row is already append-only: the database lets its three
    chain columns be filled once and refuses every other change.
    """
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    target_type, target_id, target_repr = _describe(target)
    context = current_request.get()
    event = AuditEvent.objects.create(
        occurred_at=timezone.now(),
        actor_id=actor.pk if actor else None,
        actor_name=actor_name if actor_name is not None else (actor.printed_name if actor else "system"),
        actor_role=actor_role if actor_role is not None else _role_of(actor, production),
        action=action,
        production_id=production.pk if production is not None else None,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        before=_plain_json(before),
        after=_plain_json(after),
        reason=reason or "",
        request_id=context.request_id,
        ip=context.ip,
        user_agent=context.user_agent,
    )
    transaction.on_commit(lambda: _seal_after_commit(event.pk), robust=True)
    return event


def _seal_after_commit(event_id):
    # Another writer's sealer may have taken this event along with its own already.
    if AuditEvent.objects.filter(pk=event_id, hash__isnull=True).exists():
        seal_pending()


# Rows per sealing transaction: bounds the lock hold and the UPDATE when a backlog is sealed.
SEAL_BATCH = 2000


def seal_pending():
    """Chain every committed, unsealed event, in the order they were written; returns how many.

    Reads the events back from the database, so each hash covers exactly what is stored. Safe to
    call from anywhere at any time: each writer calls it after commit, readers that need the
    whole chain (verification, checkpoints, exports, the compliance pages) call it first, and
    Celery beat sweeps up after a process that died between its commit and its seal.
    """
    if not AuditEvent.objects.filter(hash__isnull=True).exists():
        return 0  # the common case for readers: one indexed query, no lock
    sealed = 0
    while True:
        with transaction.atomic():
            lock_chain()
            pending = list(AuditEvent.objects.filter(hash__isnull=True).order_by("pk")
                           .values("pk", *_CONTENT_FIELDS)[:SEAL_BATCH])
            if not pending:
                return sealed
            head = AuditEvent.objects.filter(hash__isnull=False).order_by("-sequence") \
                .values("sequence", "hash").first()
            sequence, prev_hash = (head["sequence"], head["hash"]) if head else (0, GENESIS_HASH)
            events = []
            for row in pending:
                sequence += 1
                record = chain_record_with_time({**row, "sequence": sequence, "prev_hash": prev_hash})
                prev_hash = event_hash(record)
                events.append(AuditEvent(pk=row["pk"], sequence=sequence, prev_hash=record["prev_hash"],
                                         hash=prev_hash))
            AuditEvent.objects.bulk_update(events, ["sequence", "prev_hash", "hash"])
            sealed += len(events)
        if len(pending) < SEAL_BATCH:
            return sealed


def chain_record_with_time(record):
    """The record as hashed: the time as an ISO-8601 string with microseconds, in UTC."""
    occurred_at = record["occurred_at"]
    if not isinstance(occurred_at, str):
        occurred_at = occurred_at.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")
    return {**record, "occurred_at": occurred_at}


class ChainBroken(Exception):
    """The chain does not verify; nothing is signed over a broken chain."""


def _lock_checkpoints():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHECKPOINT_LOCK_KEY])


def create_checkpoint(*, actor=None, reason=""):
    """Sign a Merkle root over every event since the last checkpoint; None when there is none.

    The events in range are re-verified first (hash and link), so a checkpoint never vouches for
    an altered event. Scheduled checkpoints record no event of their own: the checkpoint row is
    itself signed evidence, and an event per run would leave every later run something to sign.
    A person's request is an action, and is recorded.
    """
    from .selectors import chain_records
    from .signing import key_id, sign

    seal_pending()
    with transaction.atomic():
        _lock_checkpoints()
        previous = Checkpoint.objects.order_by("-number").first()
        first = previous.last_sequence + 1 if previous else 1
        head = AuditEvent.objects.filter(hash__isnull=False).order_by("-sequence").values("sequence", "hash").first()
        if head is None or head["sequence"] < first:
            return None
        tree = MerkleTree()

        def leaves(records):
            for record in records:
                tree.add_leaf(record["hash"])
                yield record

        report = verify_records(leaves(chain_records(first=first, last=head["sequence"])),
                                expected_prev_hash=previous.last_event_hash if previous else GENESIS_HASH,
                                expected_sequence=first)
        if not report.ok:
            raise ChainBroken(report.problem)
        if report.last_sequence != head["sequence"]:
            raise ChainBroken(f"events #{(report.last_sequence or first - 1) + 1}–#{head['sequence']} are missing")
        created_at = timezone.now()
        payload = {
            "version": CHECKPOINT_VERSION,
            "number": previous.number + 1 if previous else 1,
            "first_sequence": first,
            "last_sequence": head["sequence"],
            "leaf_count": tree.size,
            "root": tree.root(),
            "previous_root": previous.root if previous else "",
            "last_event_hash": head["hash"],
            "created_at": created_at.astimezone(dt_timezone.utc).isoformat(timespec="microseconds"),
        }
        payload_bytes = canonical_payload(payload)
        signature, public_key = sign(payload_bytes)
        checkpoint = Checkpoint.objects.create(
            number=payload["number"], first_sequence=first, last_sequence=payload["last_sequence"],
            leaf_count=tree.size, root=payload["root"], previous_root=payload["previous_root"],
            last_event_hash=head["hash"], created_at=created_at, payload=payload_bytes.decode("utf-8"),
            signature=signature, public_key=public_key, key_id=key_id(public_key),
        )
        if actor is not None:
            record_event("audit.checkpoint_created", actor=actor, target=checkpoint, reason=reason,
                         after={"number": checkpoint.number, "first_sequence": first,
                                "last_sequence": checkpoint.last_sequence, "root": checkpoint.root})
        return checkpoint


def verify_audit_log(*, actor, production=None):
    """Verify the whole log and its protections on a person's request, and record that they did."""
    from .protection import missing_protections
    from .selectors import verify_log

    report = verify_log()
    missing = missing_protections(connection)
    with transaction.atomic():
        record_event("audit.verified", actor=actor, production=production, after={
            "ok": report.ok and not missing, "events_checked": report.events_checked,
            "checkpoints_checked": report.checkpoints_checked, "problem": report.problem,
            "missing_protections": missing,
        })
    return report, missing
