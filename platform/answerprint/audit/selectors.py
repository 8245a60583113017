import itertools
import json
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q

from .chain import CHAINED_FIELDS, GENESIS_HASH, MerkleTree, verify_records
from .models import AuditEvent, Checkpoint
from .services import chain_record_with_time

_COLUMNS = tuple(CHAINED_FIELDS) + ("hash",)


def chain_records(queryset=None, chunk_size=5000, *, first=None, last=None):
    """Events as the dicts that were hashed, in sequence order, streamed in chunks.

    `first`/`last` bound the sequence numbers. The whole-log path on PostgreSQL reads plain rows
    through one server-side cursor with the time already formatted by the database: building
    model dicts and datetimes was most of the cost of verifying a large log.
    """
    if queryset is None and connection.vendor == "postgresql":
        yield from _postgres_chain_records(first, last, chunk_size)
        return
    queryset = AuditEvent.objects.all() if queryset is None else queryset
    if first is not None:
        queryset = queryset.filter(sequence__gte=first)
    if last is not None:
        queryset = queryset.filter(sequence__lte=last)
    for row in queryset.order_by("sequence").values(*_COLUMNS).iterator(chunk_size=chunk_size):
        yield chain_record_with_time(row)


_cursor_numbers = itertools.count()
# The exact text chain_record_with_time makes: ISO 8601, microseconds, UTC as "+00:00".
_POSTGRES_TIME = """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def _postgres_chain_records(first, last, chunk_size):
    columns = ", ".join(_POSTGRES_TIME if name == "occurred_at" else name for name in _COLUMNS)
    conditions, params = [], []
    if first is not None:
        conditions.append("sequence >= %s")
        params.append(first)
    if last is not None:
        conditions.append("sequence <= %s")
        params.append(last)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    sql = f"SELECT {columns} FROM {AuditEvent._meta.db_table} {where} ORDER BY sequence"
    before_at, after_at = _COLUMNS.index("before"), _COLUMNS.index("after")
    # Inside a transaction the cursor streams from one snapshot instead of being materialised.
    with transaction.atomic():
        connection.ensure_connection()
        cursor = connection.connection.cursor(name=f"audit_chain_{next(_cursor_numbers)}")
        cursor.itersize = chunk_size
        try:
            cursor.execute(sql, params)
            for row in cursor:
                record = dict(zip(_COLUMNS, row))
                for index, name in ((before_at, "before"), (after_at, "after")):
                    if isinstance(row[index], str):
                        record[name] = json.loads(row[index])
                yield record
        finally:
            cursor.close()


def verify_chain():
    """Recompute the whole chain from the first event; the report names the first broken link."""
    from .services import seal_pending

    seal_pending()
    return verify_records(chain_records(), expected_prev_hash=GENESIS_HASH, expected_sequence=1)


def events_for_target(target):
    meta = target._meta
    return AuditEvent.objects.filter(target_type=f"{meta.app_label}.{meta.model_name}", target_id=str(target.pk))


# --- Filters ------------------------------------------------------------------------------------

def _paths_to_shot(max_depth=3):
    """Every model that hangs off a shot, with the lookup from it to the shot (e.g. Comment:
    "version__shot"), found from the foreign keys so new apps' objects are covered as they land."""
    from django.apps import apps

    shot_model = apps.get_model("media", "Shot")
    paths = {shot_model: "pk"}
    frontier = {shot_model: ""}
    for _ in range(max_depth):
        found = {}
        for model in apps.get_models():
            if model in paths or model._meta.app_label in {"audit", "accounts", "auth", "contenttypes"}:
                continue
            for field in model._meta.get_fields():
                if field.concrete and field.is_relation and (field.many_to_one or field.one_to_one):
                    if field.related_model in frontier:
                        rest = frontier[field.related_model]
                        found[model] = f"{field.name}__{rest}" if rest else field.name
                        break
        paths.update(found)
        frontier = found
    return paths


def shot_condition(shot):
    """Events about the shot or about anything that belongs to it (versions, notes, fixes...)."""
    condition = Q(target_type="media.shot", target_id=str(shot.pk))
    for model, path in _paths_to_shot().items():
        if path == "pk":
            continue
        ids = [str(pk) for pk in model._default_manager.filter(**{path: shot}).values_list("pk", flat=True)]
        if ids:
            condition |= Q(target_type=f"{model._meta.app_label}.{model._meta.model_name}", target_id__in=ids)
    return condition


def filtered_events(*, production=None, shot=None, actor=None, action="", since=None, until=None):
    """Events matching every given filter, in sequence order. `action` ending in "." or "*" is a prefix."""
    events = AuditEvent.objects.all()
    if production is not None:
        events = events.filter(production=production)
    if shot is not None:
        events = events.filter(shot_condition(shot))
    if actor is not None:
        events = events.filter(actor=actor)
    if action:
        prefix = action.rstrip("*")
        events = events.filter(action__startswith=prefix) if prefix != action or action.endswith(".") \
            else events.filter(action=action)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events  # in the model's order: the chain's, then any event not sealed yet


# --- Verification of the whole log ---------------------------------------------------------------

@dataclass
class LogReport:
    ok: bool
    events_checked: int = 0
    checkpoints_checked: int = 0
    last_sequence: int | None = None
    broken_sequence: int | None = None
    broken_checkpoint: int | None = None
    problems: list = field(default_factory=list)
    uncovered_from: int | None = None  # first event no checkpoint covers yet

    @property
    def problem(self):
        return self.problems[0] if self.problems else ""


def _checkpoint_problem(checkpoint, tree, last_hash, previous, trusted_keys):
    """What is wrong with one checkpoint given the leaves that were fed to `tree`, or ""."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name = f"checkpoint {checkpoint.number}"
    try:
        payload = json.loads(checkpoint.payload)
    except ValueError:
        return f"{name}: its signed payload is not JSON"
    columns = {"number": checkpoint.number, "first_sequence": checkpoint.first_sequence,
               "last_sequence": checkpoint.last_sequence, "leaf_count": checkpoint.leaf_count,
               "root": checkpoint.root, "previous_root": checkpoint.previous_root,
               "last_event_hash": checkpoint.last_event_hash}
    for key, value in columns.items():
        if payload.get(key) != value:
            return f"{name}: its {key} differs from what was signed"
    if checkpoint.public_key not in trusted_keys:
        return f"{name} is signed by an untrusted key ({checkpoint.key_id})"
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key)).verify(
            bytes.fromhex(checkpoint.signature), checkpoint.payload.encode("utf-8"))
    except (InvalidSignature, ValueError):
        return f"{name}: the signature does not verify"
    expected_first = previous.last_sequence + 1 if previous else 1
    if checkpoint.first_sequence != expected_first:
        return f"{name} starts at #{checkpoint.first_sequence}, not #{expected_first}"
    if checkpoint.previous_root != (previous.root if previous else ""):
        return f"{name} does not link to checkpoint {previous.number if previous else 0}"
    if tree.size != checkpoint.leaf_count or tree.root() != checkpoint.root:
        return (f"{name}: the events #{checkpoint.first_sequence}–#{checkpoint.last_sequence} do not "
                f"hash to its signed root")
    if last_hash != checkpoint.last_event_hash:
        return f"{name}: the chain head at #{checkpoint.last_sequence} differs from what was signed"
    return ""


def verify_log(chunk_size=5000):
    """One pass over the log: every event's hash and link, and every checkpoint's root, signature,
    range and link to the checkpoint before it. Stops at the first broken link."""
    from .services import seal_pending
    from .signing import trusted_public_keys

    seal_pending()
    checkpoints = list(Checkpoint.objects.order_by("number"))
    trusted = trusted_public_keys()
    report = LogReport(ok=True)
    state = {"index": 0, "tree": MerkleTree(), "previous": None}

    def feed(records):
        for record in records:
            index = state["index"]
            if index < len(checkpoints) and not report.problems:
                checkpoint = checkpoints[index]
                state["tree"].add_leaf(record["hash"])
                if record["sequence"] == checkpoint.last_sequence:
                    problem = _checkpoint_problem(checkpoint, state["tree"], record["hash"], state["previous"],
                                                  trusted)
                    if problem:
                        report.problems.append(problem)
                        report.broken_checkpoint = checkpoint.number
                    else:
                        report.checkpoints_checked += 1
                    state.update(index=index + 1, tree=MerkleTree(), previous=checkpoint)
            yield record

    chain = verify_records(feed(chain_records(chunk_size=chunk_size)), GENESIS_HASH, expected_sequence=1)
    report.events_checked, report.last_sequence = chain.checked, chain.last_sequence
    if not chain.ok:
        report.problems.insert(0, chain.problem)
        report.broken_sequence = chain.broken_sequence
    elif state["index"] < len(checkpoints) and not report.problems:
        checkpoint = checkpoints[state["index"]]
        report.problems.append(f"checkpoint {checkpoint.number} covers events up to #{checkpoint.last_sequence}, "
                               f"but the log ends at #{chain.last_sequence or 0}")
        report.broken_checkpoint = checkpoint.number
    covered = checkpoints[-1].last_sequence if checkpoints else 0
    if chain.ok and (chain.last_sequence or 0) > covered:
        report.uncovered_from = covered + 1
    report.ok = not report.problems
    return report


def latest_checkpoint():
    return Checkpoint.objects.order_by("-number").first()
