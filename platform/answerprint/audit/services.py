"""The one way anything is written to the audit log."""
import json
import logging
from datetime import timezone as dt_timezone

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .chain import GENESIS_HASH, MerkleTree, canonical_payload, content_hash
from .context import current_request
from .models import AuditEvent, Checkpoint
from .sealing import seal_after_commit, seal_pending

logger = logging.getLogger(__name__)

# Checkpoints take their own lock: a long root computation must never hold up sealing.
_CHECKPOINT_LOCK_KEY = 0x41554449544350  # "AUDITCP"

CHECKPOINT_VERSION = 1


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


# Other apps follow some actions inside the writer's transaction (the delivery app's webhooks
# queue their outbox rows here, so a change and its notifications commit together).
_listeners: dict = {}


def listen(action, listener):
    """Call `listener(event)` for every event of `action`, right after it is written."""
    _listeners.setdefault(action, []).append(listener)


def record_event(action, *, actor=None, production=None, target=None, before=None, after=None,
                 reason="", actor_role=None, actor_name=None):
    """Write one event inside the caller's transaction; it is sealed into the chain after commit.

    Call it from the service that makes the change, in the same `transaction.atomic()` block:
    the change and its event commit together or not at all. The writer hashes the content; the
    chain position is given after commit (see `sealing`), so writers never wait on each other.
    """
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    target_type, target_id, target_repr = _describe(target)
    context = current_request.get()
    record = {
        "occurred_at": timezone.now(),
        "actor_id": actor.pk if actor else None,
        "actor_name": actor_name if actor_name is not None else (actor.printed_name if actor else "system"),
        "actor_role": actor_role if actor_role is not None else _role_of(actor, production),
        "action": action,
        "production_id": production.pk if production is not None else None,
        "target_type": target_type,
        "target_id": target_id,
        "target_repr": target_repr,
        "before": _plain_json(before),
        "after": _plain_json(after),
        "reason": reason or "",
        "request_id": context.request_id,
        "ip": context.ip,
        "user_agent": context.user_agent,
    }
    record["content_hash"] = content_hash(chain_record_with_time(record))
    event = AuditEvent(**record)
    event.pk = _insert(record)
    event._state.adding, event._state.db = False, connection.alias
    transaction.on_commit(seal_after_commit, robust=True)
    for listener in _listeners.get(action, ()):
        listener(event)
    return event


_INSERT_COLUMNS = ("occurred_at", "actor_id", "actor_name", "actor_role", "action", "production_id", "target_type",
                   "target_id", "target_repr", "before", "after", "reason", "request_id", "ip", "user_agent",
                   "content_hash")
_JSON_COLUMNS = {"before", "after"}
_INSERT = (f"INSERT INTO {AuditEvent._meta.db_table} ({', '.join(_INSERT_COLUMNS)}) "
           f"VALUES ({', '.join('%s' for _ in _INSERT_COLUMNS)})")


def _insert(record):
    """INSERT the event and return its id. This is every audited change's hot path, so it is one
    plain statement: the ORM's per-field preparation cost as much CPU as the insert itself."""
    params = [json.dumps(record[name], sort_keys=True) if name in _JSON_COLUMNS and record[name] is not None
              else record[name] for name in _INSERT_COLUMNS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{_INSERT} RETURNING id", params)
            return cursor.fetchone()[0]
        cursor.execute(_INSERT, params)
        return cursor.lastrowid


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
    from .selectors import chain_head, check_events
    from .signing import key_id, sign

    seal_pending()
    with transaction.atomic():
        _lock_checkpoints()
        previous = Checkpoint.objects.order_by("-number").first()
        first = previous.last_sequence + 1 if previous else 1
        head = chain_head()
        if head is None or head[0] < first:
            return None
        head_sequence, head_hash = head
        check = check_events(first, head_sequence, previous.last_event_hash if previous else GENESIS_HASH)
        if check.problem:
            raise ChainBroken(check.problem)
        tree = MerkleTree()
        tree.add_packed_leaves(check.hashes)
        created_at = timezone.now()
        payload = {
            "version": CHECKPOINT_VERSION,
            "number": previous.number + 1 if previous else 1,
            "first_sequence": first,
            "last_sequence": head_sequence,
            "leaf_count": tree.size,
            "root": tree.root(),
            "previous_root": previous.root if previous else "",
            "last_event_hash": head_hash,
            "created_at": created_at.astimezone(dt_timezone.utc).isoformat(timespec="microseconds"),
        }
        payload_bytes = canonical_payload(payload)
        signature, public_key = sign(payload_bytes)
        checkpoint = Checkpoint.objects.create(
            number=payload["number"], first_sequence=first, last_sequence=payload["last_sequence"],
            leaf_count=tree.size, root=payload["root"], previous_root=payload["previous_root"],
            last_event_hash=head_hash, created_at=created_at, payload=payload_bytes.decode("utf-8"),
            signature=signature, public_key=public_key, key_id=key_id(public_key),
            timestamp_token=_timestamp(payload["number"], bytes.fromhex(signature)),
        )
        if actor is not None:
            record_event("audit.checkpoint_created", actor=actor, target=checkpoint, reason=reason,
                         after={"number": checkpoint.number, "first_sequence": first,
                                "last_sequence": checkpoint.last_sequence, "root": checkpoint.root})
        return checkpoint


def _timestamp(number, signature):
    """An RFC 3161 token over the signature when a timestamp authority is configured, else None.

    An unreachable or failing authority must not stop the log being signed: the checkpoint goes
    without a token (the error is logged, and the compliance page shows which checkpoints have
    one). The next checkpoint's token covers this one too, through its previous_root link."""
    from .timestamping import TimestampError, timestamping_config

    config = timestamping_config()
    if not config.enabled:
        return None
    try:
        return config.request(signature)
    except TimestampError as error:
        logger.error("Audit checkpoint %s is signed without a timestamp: %s", number, error)
        return None


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
