import json
import multiprocessing
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q

from .chain import CHAINED_FIELDS, GENESIS_HASH, ChainReport, MerkleTree, verify_records
from .models import AuditEvent, Checkpoint
from .scan import RangeCheck, check_span
from .services import chain_record_with_time

_COLUMNS = tuple(CHAINED_FIELDS) + ("hash",)


def chain_records(queryset=None, chunk_size=5000, *, first=None, last=None):
    """Events as the dicts that were hashed, in sequence order, streamed in chunks.

    `first`/`last` bound the sequence numbers. Checking the chain on PostgreSQL reads through
    `scan` instead (see check_events); this is the portable way, and what exports build on."""
    queryset = AuditEvent.objects.filter(sequence__isnull=False) if queryset is None else queryset
    if first is not None:
        queryset = queryset.filter(sequence__gte=first)
    if last is not None:
        queryset = queryset.filter(sequence__lte=last)
    for row in queryset.order_by("sequence").values(*_COLUMNS).iterator(chunk_size=chunk_size):
        yield chain_record_with_time(row)


def _scan_params():
    """The connection parameters a scan worker needs (it opens its own connection)."""
    return {key: value for key, value in connection.get_connection_params().items()
            if isinstance(value, (str, int)) and key != "prepare_threshold"}


def check_events(first, last, expected_prev_hash=GENESIS_HASH, pool=None, parts=1):
    """Verify the sealed events first..last (hash and link, and the link into `first`); returns
    a scan.RangeCheck whose `hashes` feed the Merkle roots. PostgreSQL streams through `scan`,
    split over `pool` when one is given; elsewhere the events are read through the ORM."""
    if connection.vendor == "postgresql":
        if pool is None:  # in this connection, so inside the caller's transaction
            connection.ensure_connection()
            return check_span(connection.connection, first, last, expected_prev_hash)
        return check_span(_scan_params(), first, last, expected_prev_hash, pool=pool, parts=parts)
    hashes = bytearray()

    def collect(records):
        for record in records:
            hashes.extend(bytes.fromhex(record["hash"]))
            yield record

    report = verify_records(collect(chain_records(first=first, last=last)), expected_prev_hash, first)
    if report.ok and (report.last_sequence or first - 1) < last:
        missing = (report.last_sequence or first - 1) + 1
        report = ChainReport(False, report.checked, report.last_sequence, report.last_hash, missing,
                             f"event #{missing} is missing")
    checked = hashes[:32 * report.checked]
    return RangeCheck(first, "", report.checked, report.last_sequence, report.last_hash, bytes(checked),
                      report.broken_sequence, report.problem)


def chain_head():
    """(sequence, hash) of the last sealed event, or None."""
    head = AuditEvent.objects.filter(sequence__isnull=False).order_by("-sequence").values_list("sequence", "hash")
    return head.first()


def verify_chain():
    """Recompute the whole chain from the first event; the report names the first broken link."""
    from .services import seal_pending

    seal_pending()
    head = chain_head()
    if head is None:
        return ChainReport(True, 0, None, GENESIS_HASH)
    check = check_events(1, head[0])
    return ChainReport(not check.problem, check.checked, check.last_sequence, check.last_hash or GENESIS_HASH,
                       check.broken_sequence, check.problem)


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
            for relation in model._meta.get_fields():
                if relation.concrete and relation.is_relation and (relation.many_to_one or relation.one_to_one):
                    if relation.related_model in frontier:
                        rest = frontier[relation.related_model]
                        found[model] = f"{relation.name}__{rest}" if rest else relation.name
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
    timestamps_checked: int = 0
    last_sequence: int | None = None
    broken_sequence: int | None = None
    broken_checkpoint: int | None = None
    problems: list = field(default_factory=list)
    uncovered_from: int | None = None  # first event no checkpoint covers yet

    @property
    def problem(self):
        return self.problems[0] if self.problems else ""


def _timestamp_problem(checkpoint, timestamping):
    """What is wrong with a checkpoint's RFC 3161 token, or ""; a checkpoint without one is fine."""
    from .timestamping import TimestampError

    if not checkpoint.timestamp_token:
        return ""
    try:
        timestamping.verify(bytes(checkpoint.timestamp_token), bytes.fromhex(checkpoint.signature))
    except (TimestampError, ValueError) as error:
        return f"checkpoint {checkpoint.number}: its timestamp token does not verify: {error}"
    return ""


def timestamp_of(checkpoint):
    """(authority, time) a checkpoint's token vouches for, or None: for display, after verify_log."""
    from .timestamping import TimestampError, timestamping_config

    if not checkpoint or not checkpoint.timestamp_token:
        return None
    try:
        info = timestamping_config().verify(bytes(checkpoint.timestamp_token), bytes.fromhex(checkpoint.signature))
    except (TimestampError, ValueError):
        return None
    return info.tsa, info.gen_time


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


# Events checked in one go: bounds the memory their hashes take (32 bytes each) while keeping
# the per-query cost negligible.
WINDOW_EVENTS = 500_000


def _windows(checkpoints, head):
    """Consecutive (first, last, checkpoints ending inside) spans covering 1..head, cut at
    checkpoint ends so that every checkpoint's leaves lie in one span."""
    start, inside = 1, []
    for checkpoint in checkpoints:
        if checkpoint.last_sequence > head:
            break
        inside.append(checkpoint)
        if checkpoint.last_sequence - start + 1 >= WINDOW_EVENTS:
            yield start, checkpoint.last_sequence, inside
            start, inside = checkpoint.last_sequence + 1, []
    while start <= head:
        end = inside[-1].last_sequence if inside else min(head, start + WINDOW_EVENTS - 1)
        yield start, end, inside
        start, inside = end + 1, []


def verify_log(workers=1):
    """One pass over the log: every event's hash and link, and every checkpoint's root, signature,
    range and link to the checkpoint before it. Stops at the first broken link.

    `workers` > 1 splits the work over that many processes (PostgreSQL only; not from inside a
    Celery worker, whose processes cannot have children)."""
    from .services import seal_pending
    from .signing import trusted_public_keys
    from .timestamping import timestamping_config

    seal_pending()
    checkpoints = list(Checkpoint.objects.order_by("number"))
    trusted = trusted_public_keys()
    timestamping = timestamping_config()
    report = LogReport(ok=True)
    head = chain_head()
    head_sequence = head[0] if head else 0
    pool = None
    if workers > 1 and connection.vendor == "postgresql" and head_sequence > WINDOW_EVENTS // 10:
        pool = multiprocessing.get_context("spawn").Pool(workers)
    try:
        last_hash, previous = GENESIS_HASH, None
        for first, last, inside in _windows(checkpoints, head_sequence):
            check = check_events(first, last, last_hash, pool=pool, parts=workers if pool else 1)
            report.events_checked += check.checked
            report.last_sequence = check.last_sequence or report.last_sequence
            for checkpoint in inside:
                covered = checkpoint.last_sequence - first + 1
                if check.checked < covered:
                    break  # its events did not all verify: the chain problem is reported below
                tree = MerkleTree()
                tree.add_packed_leaves(check.hashes[32 * (checkpoint.first_sequence - first):32 * covered])
                leaf_hash = check.hashes[32 * (covered - 1):32 * covered].hex()
                problem = (_checkpoint_problem(checkpoint, tree, leaf_hash, previous, trusted)
                           or _timestamp_problem(checkpoint, timestamping))
                if problem:
                    report.problems.append(problem)
                    report.broken_checkpoint = checkpoint.number
                    break
                report.checkpoints_checked += 1
                report.timestamps_checked += bool(checkpoint.timestamp_token)
                previous = checkpoint
            if check.problem:
                report.problems.insert(0, check.problem)
                report.broken_sequence = check.broken_sequence
            if report.problems:
                break
            last_hash = check.last_hash
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if not report.problems and report.checkpoints_checked < len(checkpoints):
        checkpoint = checkpoints[report.checkpoints_checked]
        report.problems.append(f"checkpoint {checkpoint.number} covers events up to #{checkpoint.last_sequence}, "
                               f"but the log ends at #{head_sequence}")
        report.broken_checkpoint = checkpoint.number
    covered = checkpoints[-1].last_sequence if checkpoints else 0
    if not report.problems and head_sequence > covered:
        report.uncovered_from = covered + 1
    report.ok = not report.problems
    return report


def latest_checkpoint():
    return Checkpoint.objects.order_by("-number").first()
