"""Exports of the audit log: JSON Lines, CSV and a PDF report, streamed in constant memory.

Every export ends with a signed verification manifest, so that `offline_verifier.py` can check it
with nothing but the file and the public key:

- each event carries every chained field and its hash, so any change to an event is named;
- the checkpoints covering the exported events follow the last event of their range, with their
  signed payloads. When a filter leaves events out, an event row carries `merkle_gaps`: the few
  perfect Merkle subtrees ([start, size, hash]) that stand in for the left-out events before it,
  and a checkpoint row the ones after the last exported event. That is at most two subtree
  hashes per tree level per run of left-out events, not one hash per left-out event: a filtered
  export of a production's 1,000 events out of a million costs kilobytes, not 64 MB of hashes;
- the manifest (last line) holds the range, counts, a digest of the exported events' hashes, the
  SHA-256 of every byte before it, and an Ed25519 signature over all of it.

Exports are audit events themselves: `start_export` records one before the first byte goes out.
"""
import base64
import csv
import hashlib
import io
import json
from dataclasses import dataclass, replace
from datetime import timezone as dt_timezone

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from .chain import CHAINED_FIELDS, GapCover, canonical_payload
from .models import AuditEvent, Checkpoint
from .report import audit_report_chunks
from .services import ChainBroken, chain_record_with_time, create_checkpoint, record_event, seal_pending

FORMAT_NAME = "answerprint-audit-export"
FORMAT_VERSION = 2  # the offline verifier reads this version only
FORMATS = {
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "pdf": ("application/pdf", "pdf"),
}
CSV_COLUMNS = ("record",) + CHAINED_FIELDS + ("hash", "signature", "data")
_EVENT_COLUMNS = CHAINED_FIELDS + ("hash",)
_CHECKPOINT_COLUMNS = ("number", "first_sequence", "last_sequence", "payload", "signature", "public_key", "key_id",
                       "timestamp_token")
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection). Such a cell
# gets a leading apostrophe, and so does one that starts with an apostrophe already, so the
# verifier undoes it unambiguously by dropping one leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _as_dict(value):
    return value if isinstance(value, dict) else {}


def _one_signature(signature):
    name = signature.get("printed_name") or signature.get("signer_name")
    meaning = signature.get("meaning")
    if not name or not meaning:
        return ""
    signed_at = signature.get("signed_at") or ""
    signed_hash = signature.get("signed_hash") or signature.get("record_hash") or signature.get("content_hash") or ""
    text = f"Signed by {name}"
    if signed_at:
        text += f" at {str(signed_at).replace('T', ' ').replace('+00:00', '').replace('Z', '')} UTC"
    text += f" — meaning: {meaning}"
    if signed_hash:
        text += f" — sha256 {signed_hash}"
    return text


def signature_text(after):
    """The signatures an event carries, as one printable line, or "".

    A signing service puts the manifestation in the event's `after`: at the top level, under
    "signature", or a list under "signatures" — printed_name, signed_at, meaning and the hash of
    what was signed (21 CFR 11.50: name, date and time, meaning).
    """
    after = _as_dict(after)
    if isinstance(after.get("signatures"), list):
        candidates = [_as_dict(s) for s in after["signatures"]]
    else:
        candidates = [_as_dict(after.get("signature")) or after]
    return "; ".join(text for text in map(_one_signature, candidates) if text)


@dataclass(frozen=True)
class ExportRequest:
    """What was asked for: the filters as shown in the manifest, the queryset they make, and the
    scope and reason the PDF report prints (its sections other than the log read them)."""

    events: object  # QuerySet of AuditEvent
    filters: dict
    filtered: bool
    production: object = None
    shot: object = None
    since: object = None
    until: object = None
    reason: str = ""


# --- The record stream ---------------------------------------------------------------------------

def _events(queryset, up_to, chunk_size):
    rows = queryset.filter(sequence__lte=up_to).order_by("sequence").values(*_EVENT_COLUMNS)
    for row in rows.iterator(chunk_size=chunk_size):
        yield chain_record_with_time(row)


def _hashes(first, last, chunk_size):
    rows = (AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last)
            .order_by("sequence").values_list("sequence", "hash"))
    yield from rows.iterator(chunk_size=chunk_size)


def export_records(request, up_to, chunk_size=2000):
    """("event", record, gaps) and ("checkpoint", checkpoint, gaps) in file order."""
    selected = _events(request.events, up_to, chunk_size)
    current = next(selected, None)
    checkpoints = Checkpoint.objects.filter(last_sequence__lte=up_to).order_by("number").values(*_CHECKPOINT_COLUMNS)
    for checkpoint in checkpoints.iterator(chunk_size=500):
        if current is None:
            return
        if current["sequence"] > checkpoint["last_sequence"]:
            continue  # none of this checkpoint's events is exported: leave it out
        if not request.filtered:
            while current is not None and current["sequence"] <= checkpoint["last_sequence"]:
                yield "event", current, None
                current = next(selected, None)
            yield "checkpoint", checkpoint, None
            continue
        cover = GapCover()
        for sequence, event_hash in _hashes(checkpoint["first_sequence"], checkpoint["last_sequence"], chunk_size):
            if current is not None and sequence == current["sequence"]:
                yield "event", current, cover.take()
                current = next(selected, None)
            else:
                cover.add_leaf(sequence - checkpoint["first_sequence"], event_hash)
        yield "checkpoint", checkpoint, cover.take()
    while current is not None:  # after the newest checkpoint: exported, but no checkpoint vouches yet
        yield "event", current, None
        current = next(selected, None)


class Manifest:
    """Collects what the manifest states while the records stream past."""

    def __init__(self, request, up_to, actor_name):
        self.request, self.up_to, self.actor_name = request, up_to, actor_name
        self.events_digest = hashlib.sha256()
        self.content_digest = hashlib.sha256()
        self.event_count = self.checkpoint_count = 0
        self.first = self.last = None
        self.covered_to = 0
        self.public_keys = set()

    def saw(self, kind, record):
        if kind == "event":
            self.event_count += 1
            self.first = record["sequence"] if self.first is None else self.first
            self.last = record["sequence"]
            self.events_digest.update(record["hash"].encode("ascii") + b"\n")
        else:
            self.checkpoint_count += 1
            self.covered_to = record["last_sequence"]
            self.public_keys.add(record["public_key"])

    def signed(self, with_content_digest=True):
        from .signing import key_id, sign

        body = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "generated_at": timezone.now().astimezone(dt_timezone.utc).isoformat(timespec="seconds"),
            "generated_by": self.actor_name,
            "filters": self.request.filters,
            "filtered": self.request.filtered,
            "up_to_sequence": self.up_to,
            "event_count": self.event_count,
            "first_sequence": self.first,
            "last_sequence": self.last,
            "checkpoint_count": self.checkpoint_count,
            "uncovered_from": (self.covered_to + 1) if self.last is not None and self.last > self.covered_to else None,
            "events_sha256": self.events_digest.hexdigest(),
            "content_sha256": self.content_digest.hexdigest() if with_content_digest else None,
            "checkpoint_keys": sorted(self.public_keys),
        }
        signature, public_key = sign(canonical_payload(body))
        return {**body, "public_key": public_key, "key_id": key_id(public_key), "signature": signature}


def _checkpoint_view(checkpoint, gaps):
    view = {"payload": json.loads(checkpoint["payload"]), "signature": checkpoint["signature"],
            "public_key": checkpoint["public_key"], "key_id": checkpoint["key_id"]}
    if checkpoint["timestamp_token"]:
        # RFC 3161, DER, over the signature's bytes: `openssl ts -verify` checks it (the offline
        # verifier writes the files it needs).
        view["timestamp_token"] = base64.b64encode(bytes(checkpoint["timestamp_token"])).decode("ascii")
    if gaps:
        view["merkle_gaps"] = gaps
    return view


# --- Writers -------------------------------------------------------------------------------------

def _json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def jsonl_chunks(request, up_to, actor_name, batch_bytes=64 * 1024):
    manifest = Manifest(request, up_to, actor_name)
    buffer, size = [], 0
    for kind, record, gaps in export_records(request, up_to):
        manifest.saw(kind, record)
        if kind == "event":
            line = {"record": "event", **record, "signature": signature_text(record["after"]) or None}
            if gaps:
                line["merkle_gaps"] = gaps
        else:
            line = {"record": "checkpoint", **_checkpoint_view(record, gaps)}
        data = (_json(line) + "\n").encode("utf-8")
        manifest.content_digest.update(data)
        buffer.append(data)
        size += len(data)
        if size >= batch_bytes:
            yield b"".join(buffer)
            buffer, size = [], 0
    buffer.append((_json({"record": "manifest", **manifest.signed()}) + "\n").encode("utf-8"))
    yield b"".join(buffer)


def csv_cell(value):
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_event_row(record, gaps):
    row = ["event"]
    for name in CHAINED_FIELDS:
        value = record[name]
        row.append(csv_cell(_json(value) if name in ("before", "after") and value is not None else value))
    row += [record["hash"], csv_cell(signature_text(record["after"])), csv_cell(_json({"merkle_gaps": gaps}) if gaps else "")]
    return row


def _csv_other_row(kind, data):
    return [kind] + [""] * (len(CSV_COLUMNS) - 2) + [csv_cell(_json(data))]


def csv_chunks(request, up_to, actor_name, batch_bytes=64 * 1024):
    manifest = Manifest(request, up_to, actor_name)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")

    def drain():
        data = text.getvalue().encode("utf-8")
        text.seek(0)
        text.truncate()
        return data

    writer.writerow(CSV_COLUMNS)
    for kind, record, gaps in export_records(request, up_to):
        manifest.saw(kind, record)
        if kind == "event":
            writer.writerow(_csv_event_row(record, gaps))
        else:
            writer.writerow(_csv_other_row("checkpoint", _checkpoint_view(record, gaps)))
        if text.tell() >= batch_bytes:
            data = drain()
            manifest.content_digest.update(data)
            yield data
    data = drain()
    manifest.content_digest.update(data)
    writer.writerow(_csv_other_row("manifest", manifest.signed()))
    yield data + drain()


WRITERS = {"jsonl": jsonl_chunks, "csv": csv_chunks, "pdf": audit_report_chunks}


# --- The export as an action ---------------------------------------------------------------------

def start_export(*, actor, fmt, request, production=None, reason=""):
    """Record the export, sign a checkpoint over everything up to it, and return the byte stream.

    The export's own event is written first, so it is inside the range the export covers; the
    checkpoint makes every exported event provable. If the chain does not verify, the export still
    goes out (it is evidence), its tail marked as covered by no checkpoint.
    """
    if fmt not in WRITERS:
        raise ValueError(f"Unknown export format {fmt!r}; choose one of {', '.join(WRITERS)}.")
    request = replace(request, production=production or request.production, reason=reason or request.reason)
    with transaction.atomic():
        event = record_event("audit.exported", actor=actor, production=production, reason=reason,
                             after={"format": fmt, "filters": request.filters})
    try:
        create_checkpoint()
    except ChainBroken:
        seal_pending()
    event.refresh_from_db(fields=["sequence"])
    actor_name = actor.printed_name if actor is not None else "system"
    return WRITERS[fmt](request, event.sequence, actor_name)


def export_filename(fmt, production=None):
    stamp = timezone.now().astimezone(dt_timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"audit-{production.code if production is not None else 'all'}-{stamp}.{FORMATS[fmt][1]}"


async def aiter_chunks(chunks):
    """Serve a sync generator from an async server without buffering it: under ASGI Django would
    otherwise collect a sync iterator into a list first. One thread keeps the DB cursor's thread."""
    sentinel = object()
    step = sync_to_async(next, thread_sensitive=True)
    while True:
        chunk = await step(chunks, sentinel)
        if chunk is sentinel:
            return
        yield chunk
