"""The hash chain, in plain Python (no Django), so that anyone can check a chain offline.

Each event has two hashes. Its content hash is the SHA-256 of the canonical JSON of what it
records (who, what, when, before and after...), computed by the writer. Its chain hash is the
SHA-256 of "sequence:prev_hash:content_hash", computed when the event is sealed into the chain;
prev_hash is the chain hash of the event before it. Changing, removing or reordering any event
breaks every link after it.

The split is what lets the database seal events itself after their writers commit: the link
needs only the sequence, the previous hash and the stored content hash, which SQL can hash
(see `sealing`); the canonical JSON is made once, in Python, by the writer.
"""
import hashlib
import json
from dataclasses import dataclass

GENESIS_HASH = "0" * 64

# The fields an event's hash covers, in this order. Adding a field is a new chain version.
CHAINED_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_role",
    "action",
    "production_id",
    "target_type",
    "target_id",
    "target_repr",
    "before",
    "after",
    "reason",
    "request_id",
    "ip",
    "user_agent",
    "prev_hash",
)
# What the writer records; sealing adds the position in the chain.
CONTENT_FIELDS = tuple(name for name in CHAINED_FIELDS if name not in ("sequence", "prev_hash"))


def _make_encoder():
    """json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False), minus the cost of
    building an encoder per call: verification hashes every event, and that setup was most of it.
    Falls back to json.dumps where the C encoder is absent; the output is the same either way."""
    try:
        from json.encoder import c_make_encoder, encode_basestring
    except ImportError:  # pragma: no cover - CPython always has it
        c_make_encoder = None
    if c_make_encoder is None:  # pragma: no cover
        return lambda body: json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    default = json.JSONEncoder().default  # raises TypeError for what JSON cannot hold, as json.dumps does
    # No circular-reference markers: a record is parsed JSON (from the database or an export),
    # which cannot contain a cycle.
    encode = c_make_encoder(None, default, encode_basestring, None, ":", ",", True, False, True)
    return lambda body: "".join(encode(body, 0))


_dumps = _make_encoder()


def canonical_bytes(record):
    """UTF-8 JSON of the content fields: sorted keys, no spaces, times as ISO-8601 strings."""
    return _dumps({name: record[name] for name in CONTENT_FIELDS}).encode("utf-8")


def content_hash(record):
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def link_hash(sequence, prev_hash, content_hash_hex):
    return hashlib.sha256(f"{sequence}:{prev_hash}:{content_hash_hex}".encode("ascii")).hexdigest()


def event_hash(record):
    """The chain hash of a whole record (its content, sequence and prev_hash)."""
    return link_hash(record["sequence"], record["prev_hash"], content_hash(record))


@dataclass
class ChainReport:
    ok: bool
    checked: int
    last_sequence: int | None
    last_hash: str
    broken_sequence: int | None = None
    problem: str = ""


def verify_records(records, expected_prev_hash=GENESIS_HASH, expected_sequence=None):
    """Check an ordered iterable of event dicts; stop at the first broken link."""
    prev_hash = expected_prev_hash
    checked = 0
    last_sequence = None
    for record in records:
        sequence = record["sequence"]
        if expected_sequence is not None and sequence != expected_sequence:
            return ChainReport(False, checked, last_sequence, prev_hash, sequence,
                               f"event #{expected_sequence} is missing (found #{sequence} in its place)")
        if record["prev_hash"] != prev_hash:
            return ChainReport(False, checked, last_sequence, prev_hash, sequence,
                               f"event #{sequence} does not link to the event before it")
        if event_hash(record) != record["hash"]:
            return ChainReport(False, checked, last_sequence, prev_hash, sequence,
                               f"event #{sequence} was altered: its content does not match its hash")
        prev_hash = record["hash"]
        last_sequence = sequence
        expected_sequence = sequence + 1
        checked += 1
    return ChainReport(True, checked, last_sequence, prev_hash)


# --- Merkle checkpoints (RFC 6962 §2.1 tree hashing) -------------------------------------------
# A checkpoint's root is the Merkle Tree Hash over the raw 32-byte hashes of the events it covers,
# in sequence order. Leaves and interior nodes are domain-separated (0x00 / 0x01), so a leaf can
# never be passed off as a node.

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(event_hash_hex):
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash_hex)).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """The RFC 6962 root of a stream of leaves, in O(log n) memory.

    The stack holds perfect subtrees of strictly decreasing size; two of equal size merge. At the
    end the remaining subtrees fold from the right, which is exactly RFC 6962's split at the
    largest power of two below n. `add_subtree` accepts a precomputed perfect, aligned subtree, so
    a verifier can stand in a subtree's hash for leaves it was not given.
    """

    def __init__(self):
        self._stack = []  # [(size, hash bytes)]
        self.size = 0

    def add_leaf(self, event_hash_hex):
        self.add_subtree(1, leaf_hash(event_hash_hex))

    def add_subtree(self, size, digest):
        if size < 1 or size & (size - 1) or self.size % size:
            raise ValueError(f"a subtree of {size} leaves cannot start at leaf {self.size}")
        if self._stack and self._stack[-1][0] < size:
            raise ValueError(f"a subtree of {size} leaves cannot follow one of {self._stack[-1][0]}")
        self._stack.append((size, digest))
        self.size += size
        while len(self._stack) > 1 and self._stack[-1][0] == self._stack[-2][0]:
            (size_r, right), (size_l, left) = self._stack.pop(), self._stack.pop()
            self._stack.append((size_l + size_r, node_hash(left, right)))

    def add_packed_leaves(self, packed, block=1 << 14):
        """Add leaves given as concatenated 32-byte event hashes, hashing whole aligned blocks
        level by level: the same root as add_leaf one by one, at a fraction of the calls."""
        sha256 = hashlib.sha256
        count = len(packed) // 32
        done = 0
        while done < count:
            size = block
            while size > 1 and (self.size % size or size > count - done):
                size //= 2
            level = [sha256(b"\x00" + packed[i:i + 32]).digest() for i in range(done * 32, (done + size) * 32, 32)]
            while len(level) > 1:
                level = [sha256(b"\x01" + left + right).digest() for left, right in zip(level[0::2], level[1::2])]
            self.add_subtree(size, level[0])
            done += size

    def root(self):
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest.hex()


def merkle_root(event_hashes):
    tree = MerkleTree()
    for value in event_hashes:
        tree.add_leaf(value)
    return tree.root()


class GapCover:
    """Replaces a run of leaves someone is not given by the few perfect, aligned subtrees that
    cover it (at most two per level), so a filtered export can still prove its checkpoint roots."""

    def __init__(self):
        self._stack = []  # [(start, size, hash bytes)], strictly aligned blocks

    def add_leaf(self, position, event_hash_hex):
        self._stack.append((position, 1, leaf_hash(event_hash_hex)))
        while len(self._stack) > 1:
            (start_r, size_r, right), (start_l, size_l, left) = self._stack[-1], self._stack[-2]
            if size_l != size_r or start_l % (2 * size_l) or start_l + size_l != start_r:
                break
            self._stack[-2:] = [(start_l, 2 * size_l, node_hash(left, right))]

    def take(self):
        """The covering blocks so far, as [start, size, hex], and start afresh."""
        blocks = [[start, size, digest.hex()] for start, size, digest in self._stack]
        self._stack = []
        return blocks


def canonical_payload(payload):
    """The exact bytes a checkpoint's or manifest's signature covers."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
