#!/usr/bin/env python3
"""Check an Answerprint audit export offline, without trusting Answerprint.

    python offline_verifier.py EXPORT.jsonl [--public-key HEX]...
    python offline_verifier.py EXPORT.csv

Needs Python 3.9+ and the `cryptography` package; nothing else, no network, no database. This one
file is all an auditor needs: copy it anywhere. It checks that

1. the manifest at the end of the file is signed (Ed25519) by a trusted key, and that every byte
   before it is the one that was exported (SHA-256);
2. every event's hash matches its content (an altered event is named by its sequence number);
3. consecutive events link by prev_hash, and no event is missing where the export says the
   whole log is present (a removed event is named);
4. every checkpoint's signature is valid and its Merkle root (RFC 6962) recomputes from the
   exported events and, for a filtered export, from the subtree hashes that stand in for the
   events the filter left out; consecutive checkpoints link by their roots.

Pass the auditor's copy of the public key with --public-key: without it, the key named inside
the export is used, which shows the file is intact but not who made it. Exit status: 0 when the
export verifies, 1 when it does not, 2 when the file cannot be read as an export.
"""
import argparse
import base64
import csv
import hashlib
import json
import os
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("offline_verifier.py needs the `cryptography` package: pip install cryptography")

FORMAT_NAME = "answerprint-audit-export"
FORMAT_VERSION = 2  # 2: chain hash over sequence, prev_hash and a content hash
GENESIS_HASH = "0" * 64
# The event fields the chain hashes, in this order (answerprint/audit/chain.py: CHAINED_FIELDS).
CHAINED_FIELDS = (
    "sequence", "occurred_at", "actor_id", "actor_name", "actor_role", "action", "production_id",
    "target_type", "target_id", "target_repr", "before", "after", "reason", "request_id", "ip",
    "user_agent", "prev_hash",
)
CONTENT_FIELDS = tuple(name for name in CHAINED_FIELDS if name not in ("sequence", "prev_hash"))
CSV_COLUMNS = ("record",) + CHAINED_FIELDS + ("hash", "signature", "data")
MAX_PROBLEMS = 50


# --- Hashing: the same bytes answerprint/audit/chain.py hashes ----------------------------------

def canonical_payload(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(record):
    """SHA-256 of "sequence:prev_hash:content hash", the content hash being the SHA-256 of the
    canonical JSON of everything else the event records."""
    content = hashlib.sha256(canonical_payload({name: record[name] for name in CONTENT_FIELDS})).hexdigest()
    return hashlib.sha256(f"{record['sequence']}:{record['prev_hash']}:{content}".encode("ascii")).hexdigest()


def leaf_hash(event_hash_hex):
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash_hex)).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """RFC 6962 Merkle Tree Hash of a stream of leaves and perfect, aligned subtrees."""

    def __init__(self):
        self.stack = []
        self.size = 0

    def add_subtree(self, size, digest):
        if size < 1 or size & (size - 1) or self.size % size:
            raise ValueError(f"a subtree of {size} leaves cannot start at leaf {self.size}")
        self.stack.append((size, digest))
        self.size += size
        while len(self.stack) > 1 and self.stack[-1][0] == self.stack[-2][0]:
            (size_r, right), (size_l, left) = self.stack.pop(), self.stack.pop()
            self.stack.append((size_l + size_r, node_hash(left, right)))

    def root(self):
        if not self.stack:
            return hashlib.sha256(b"").hexdigest()
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node_hash(left, digest)
        return digest.hex()


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
    """How the export prints an event's signatures (answerprint/audit/exports.py: signature_text).

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


def signature_valid(public_key_hex, signature_hex, data):
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def load_public_key(text):
    """A raw Ed25519 public key in hex, or the path of a PEM file holding one (public or private)."""
    if os.path.exists(text):
        data = open(text, "rb").read()
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    bytes.fromhex(text)
    return text.lower()


# --- Reading an export ---------------------------------------------------------------------------

class Unreadable(Exception):
    pass


def _last_line(path):
    """The manifest: the file's last line, found from the end so the file is never read whole."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        position, tail = end, b""
        while position > 0:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
            newline = tail.rstrip(b"\r\n").rfind(b"\n")
            if newline >= 0:
                return position + newline + 1, tail[newline + 1:]
        return 0, tail


def _unescape(cell):
    return cell[1:] if cell.startswith("'") else cell


def _number(cell):
    if cell == "":
        return None
    return int(cell) if cell.lstrip("-").isdigit() else cell


def _csv_event(row):
    record = dict(zip(CSV_COLUMNS, row))
    event = {}
    for name in CHAINED_FIELDS:
        value = _unescape(record[name])
        if name in ("sequence", "actor_id", "production_id"):
            value = _number(value)
        elif name in ("before", "after"):
            value = json.loads(value) if value != "" else None
        event[name] = value
    event["hash"] = record["hash"]
    event["signature"] = _unescape(record["signature"]) or None
    data = _unescape(record["data"])
    event["merkle_gaps"] = json.loads(data)["merkle_gaps"] if data else None
    return event


def _records(path, manifest_at, kind, digest):
    """(record kind, dict) for every line before the manifest, hashing the bytes as they pass."""
    with open(path, "rb") as handle:
        def lines():
            remaining = manifest_at
            for raw in handle:
                if remaining <= 0:
                    return
                raw = raw[:remaining]
                remaining -= len(raw)
                digest.update(raw)
                yield raw.decode("utf-8")

        if kind == "jsonl":
            for number, line in enumerate(lines(), start=1):
                try:
                    item = json.loads(line)
                except ValueError:
                    raise Unreadable(f"line {number} is not JSON") from None
                yield item.pop("record", None), item
            return
        reader = csv.reader(lines())
        header = next(reader, None)
        if tuple(header or ()) != CSV_COLUMNS:
            raise Unreadable("the CSV header is not that of an Answerprint audit export")
        for row in reader:
            if len(row) != len(CSV_COLUMNS):
                raise Unreadable(f"CSV row {reader.line_num} has {len(row)} cells, not {len(CSV_COLUMNS)}")
            if row[0] == "event":
                yield "event", _csv_event(row)
            else:
                yield row[0], json.loads(_unescape(row[-1]))


def _read_manifest(path):
    with open(path, "rb") as head:
        start = head.read(5)
    if start.startswith(b"%PDF"):
        raise Unreadable("a PDF report is for people: verify the JSON Lines or CSV export with the same "
                         "filters; its events_sha256 must equal the one printed in the report")
    manifest_at, line = _last_line(path)
    text = line.decode("utf-8").strip()
    kind = "jsonl" if start.startswith(b"{") else "csv"
    try:
        if kind == "jsonl":
            manifest = json.loads(text)
        else:
            row = next(csv.reader([text]))
            manifest = json.loads(_unescape(row[-1])) if row and row[0] == "manifest" else None
    except (ValueError, StopIteration):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise Unreadable("no verification manifest at the end of the file: this is not a complete export")
    if manifest.get("version") != FORMAT_VERSION:
        raise Unreadable(f"this is an export of format version {manifest.get('version')}; "
                         f"this verifier reads version {FORMAT_VERSION}")
    manifest.pop("record", None)
    return kind, manifest_at, manifest


# --- Verification --------------------------------------------------------------------------------

class Result:
    def __init__(self):
        self.problems, self.notes = [], []
        self.events = self.checkpoints = 0
        self.timestamps = []  # (checkpoint number, RFC 3161 token, signature bytes)

    @property
    def ok(self):
        return not self.problems

    def problem(self, text):
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


class _Run:
    """The leaves read since the last checkpoint, on their way to the next checkpoint's root."""

    def __init__(self):
        self.tree = MerkleTree()
        self.base = None  # the sequence number of leaf 0

    def account_for(self, position, where, result):
        """Leaves up to `position` should be present by now; name the events that are not."""
        if position > self.tree.size:
            if self.base is not None:
                first, last = self.base + self.tree.size, self.base + position - 1
                span = f"#{first}" if first == last else f"#{first}–#{last}"
                result.problem(f"{where}: nothing in the export accounts for {span} (an exported event there "
                               f"was removed, with the hashes that stood for the events left out beside it)")
            else:
                result.problem(f"{where}: {position - self.tree.size} event(s) before it are missing")
            while self.tree.size < position:  # go on, so that later events are still judged on their own
                self.tree.add_subtree(1, b"\x00" * 32)
            return True
        if position < self.tree.size:
            result.problem(f"{where} is out of place in its checkpoint (leaf {position}, expected {self.tree.size})")
            return False
        return True

    def add_gaps(self, gaps, where, result):
        for block in gaps:
            start, size, digest = block
            if not self.account_for(start, where, result):
                return False
            try:
                self.tree.add_subtree(size, bytes.fromhex(digest))
            except ValueError as exc:
                result.problem(f"{where}: a Merkle gap entry is malformed ({exc})")
                return False
        return True


def _gaps(item, where, result):
    gaps = item.get("merkle_gaps") or []
    if all(isinstance(g, list) and len(g) == 3 and isinstance(g[0], int) and isinstance(g[1], int)
           and isinstance(g[2], str) for g in gaps):
        return gaps
    result.problem(f"{where}: its Merkle gap entries are malformed")
    return []


def verify_export(path, trusted_keys=()):
    result = Result()
    kind, manifest_at, manifest = _read_manifest(path)
    body = {k: v for k, v in manifest.items() if k not in ("signature", "public_key", "key_id")}
    key = manifest.get("public_key", "")
    if trusted_keys and key not in trusted_keys:
        result.problem(f"the manifest is signed by key {manifest.get('key_id')}, which you do not trust")
    elif not signature_valid(key, manifest.get("signature", ""), canonical_payload(body)):
        result.problem("the manifest's signature does not verify: the manifest was altered")
    if not trusted_keys:
        result.notes.append(f"trusting the key named in the export (id {manifest.get('key_id')}); pass "
                            f"--public-key to check it against the one you were given")
    # Keys used before a rotation are listed in the manifest, which the trusted key signed.
    checkpoint_keys = set(trusted_keys or [key]) | set(manifest.get("checkpoint_keys") or [])

    content = hashlib.sha256()
    events_digest = hashlib.sha256()
    filtered = bool(manifest.get("filtered"))
    previous = None  # (sequence, hash) of the last event read
    last_checkpoint = None  # (number, root)
    run = _Run()
    for record_kind, item in _records(path, manifest_at, kind, content):
        if record_kind == "event":
            _check_event(item, previous, filtered, run, result)
            events_digest.update(str(item.get("hash", "")).encode("ascii", "replace") + b"\n")
            previous = (item.get("sequence"), item.get("hash"))
            result.events += 1
        elif record_kind == "checkpoint":
            last_checkpoint = _check_checkpoint(item, run, previous, last_checkpoint, checkpoint_keys, result)
            run = _Run()
        else:
            result.problem(f"unexpected {record_kind!r} record before the manifest")
    if run.tree.size:
        result.notes.append(f"{run.tree.size} event(s) from #{run.base} on are newer than the last checkpoint: "
                            f"the signed manifest covers them, no checkpoint does yet")

    if result.events != manifest.get("event_count"):
        result.problem(f"the export holds {result.events} events; the manifest says {manifest.get('event_count')}")
    if events_digest.hexdigest() != manifest.get("events_sha256"):
        result.problem("the exported events' hashes differ from the manifest's (an event was removed, added, "
                       "reordered or altered)")
    if content.hexdigest() != manifest.get("content_sha256"):
        result.problem("the file was changed after it was exported: its SHA-256 does not match the manifest")
    if not filtered and previous is not None and previous[0] != manifest.get("last_sequence"):
        result.problem(f"the export ends at #{previous[0]}, the manifest says #{manifest.get('last_sequence')}")
    result.manifest = manifest
    return result


def _check_event(event, previous, filtered, run, result):
    sequence = event.get("sequence")
    name = f"event #{sequence}"
    try:
        recomputed = event_hash(event)
    except (KeyError, TypeError):
        result.problem(f"{name} lacks some of the chained fields")
        return
    if recomputed != event.get("hash"):
        result.problem(f"{name} was altered: its content does not match its hash")
    if event.get("signature") != (signature_text(event.get("after")) or None):
        result.problem(f"{name}: the printed signature differs from the signature the event records")
    if not isinstance(sequence, int):
        result.problem(f"{name}: the sequence is not a number")
        return
    if previous is not None and isinstance(previous[0], int):
        prev_sequence, prev_hash = previous
        if sequence <= prev_sequence:
            result.problem(f"{name} comes after #{prev_sequence}: events are out of order")
            return
        if sequence == prev_sequence + 1 and event.get("prev_hash") != prev_hash:
            result.problem(f"{name} does not link to event #{prev_sequence} before it")
        elif sequence > prev_sequence + 1 and not filtered:
            result.problem(_missing(prev_sequence + 1, sequence - 1) + " from this export of the whole log")
    elif not filtered and sequence > 1:
        result.problem(_missing(1, sequence - 1) + " from the start of this export of the whole log")
    elif not filtered and event.get("prev_hash") != GENESIS_HASH:
        result.problem(f"{name} does not start the chain")

    gaps = _gaps(event, name, result)
    if run.base is None:
        run.base = sequence - ((gaps[-1][0] + gaps[-1][1]) if gaps else run.tree.size)
    if not run.add_gaps(gaps, name, result):
        return
    # In an export of the whole log the link check above has named a missing event already.
    if filtered:
        if not run.account_for(sequence - run.base, name, result):
            return
    elif sequence - run.base != run.tree.size and not run.account_for(sequence - run.base, name, _Quiet()):
        return
    try:
        run.tree.add_subtree(1, leaf_hash(event.get("hash", "")))
    except (ValueError, TypeError):
        result.problem(f"{name}: its hash is not 64 hex digits")


class _Quiet:
    def problem(self, text):
        pass


def _missing(first, last):
    return f"event #{first} is missing" if first == last else f"events #{first}–#{last} are missing"


def _check_checkpoint(item, run, previous_event, last_checkpoint, trusted, result):
    payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
    number = payload.get("number")
    name = f"checkpoint {number}"
    if item.get("public_key") not in trusted:
        result.problem(f"{name} is signed by an untrusted key ({item.get('key_id')})")
    elif not signature_valid(item.get("public_key", ""), item.get("signature", ""), canonical_payload(payload)):
        result.problem(f"{name}: its signature does not verify (the checkpoint was altered)")
    first, last, leaf_count = payload.get("first_sequence"), payload.get("last_sequence"), payload.get("leaf_count")
    if isinstance(first, int) and run.base is not None and run.base != first:
        result.problem(f"{name} starts at #{first}, but its events start at #{run.base}"
                       + (f": {_missing(first, run.base - 1)}" if run.base > first else ""))
    elif isinstance(first, int):
        run.base = first
        if run.add_gaps(_gaps(item, name, result), name, result) and isinstance(leaf_count, int):
            run.account_for(leaf_count, name, result)
    if run.tree.size != leaf_count or run.tree.root() != payload.get("root"):
        result.problem(f"{name}: the exported events do not hash to its signed Merkle root "
                       f"(events #{first}–#{last} were altered, removed or added)")
    if previous_event is not None and previous_event[0] == last and previous_event[1] != payload.get("last_event_hash"):
        result.problem(f"{name}: event #{last} is not the event it signed")
    if last_checkpoint is not None and number == last_checkpoint[0] + 1 \
            and payload.get("previous_root") != last_checkpoint[1]:
        result.problem(f"{name} does not link to checkpoint {last_checkpoint[0]}")
    if item.get("timestamp_token"):
        try:
            token = base64.b64decode(item["timestamp_token"], validate=True)
            result.timestamps.append((number, token, bytes.fromhex(item.get("signature", ""))))
        except (ValueError, TypeError):
            result.problem(f"{name}: its timestamp token is not base64")
    result.checkpoints += 1
    return number, payload.get("root")


def write_timestamps(result, folder):
    """Write each checkpoint's RFC 3161 token and the signature it stamps, for OpenSSL to check:
    this file checks signatures and hashes, not the ASN.1 of timestamp tokens."""
    os.makedirs(folder, exist_ok=True)
    commands = []
    for number, token, signature in result.timestamps:
        stem = os.path.join(folder, f"checkpoint-{number}")
        with open(f"{stem}.tsr", "wb") as handle:
            handle.write(token)
        with open(f"{stem}.sig", "wb") as handle:
            handle.write(signature)
        commands.append(f"openssl ts -verify -token_in -in {stem}.tsr -data {stem}.sig -CAfile TSA-CERTIFICATE.pem")
    return commands


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify an Answerprint audit export offline.")
    parser.add_argument("export", help="a .jsonl or .csv audit export")
    parser.add_argument("--public-key", action="append", default=[],
                        help="a trusted Ed25519 public key: 64 hex digits, or a PEM file (repeatable)")
    parser.add_argument("--timestamps", metavar="FOLDER",
                        help="write each checkpoint's RFC 3161 timestamp token and signature here, "
                             "with the OpenSSL command that checks it against the TSA's certificate")
    args = parser.parse_args(argv)
    try:
        trusted = {load_public_key(k) for k in args.public_key}
    except ValueError as exc:
        print(f"cannot read the public key: {exc}", file=sys.stderr)
        return 2
    try:
        result = verify_export(args.export, trusted)
    except (Unreadable, OSError, UnicodeDecodeError) as exc:
        print(f"UNREADABLE: {exc}", file=sys.stderr)
        return 2
    if result.timestamps and args.timestamps:
        for command in write_timestamps(result, args.timestamps):
            print(f"timestamp: {command}")
    elif result.timestamps:
        result.notes.append(f"{len(result.timestamps)} checkpoint(s) carry an RFC 3161 timestamp token over their "
                            f"signature; --timestamps FOLDER writes them out for `openssl ts -verify`")
    for note in result.notes:
        print(f"note: {note}")
    manifest = result.manifest
    if result.ok:
        span = (f"#{manifest.get('first_sequence')}–#{manifest.get('last_sequence')}"
                if result.events else "no events")
        print(f"OK: {result.events} events ({span}) and {result.checkpoints} signed checkpoints verify; "
              f"manifest signed by key {manifest.get('key_id')}")
        return 0
    print(f"FAILED: {result.problems[0]}")
    for problem in result.problems[1:]:
        print(f"  also: {problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
