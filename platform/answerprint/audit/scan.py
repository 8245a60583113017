"""Reading and checking the chain fast on PostgreSQL, optionally in several processes.

Verification recomputes every event's content hash and chain hash from its stored fields. Through
the ORM that cost about 25 µs an event, most of it building Python values that are only turned
back into text. Here PostgreSQL streams the fields as text (COPY), the time already formatted as
it was hashed, and the canonical JSON is assembled straight from that text: strings are escaped
with the json module's own C encoder and placed in a template whose keys are already in sorted
order, so the bytes are exactly `chain.canonical_bytes` (a test holds the two equal). Only the
`before`/`after` JSON is parsed and re-encoded, because jsonb prints it its own way.

Nothing here needs Django: `check_range` runs in worker processes that open their own
connection with the parameters they are given.
"""
import hashlib
import json
import re
from dataclasses import dataclass
from json.encoder import encode_basestring

import psycopg

from .chain import CONTENT_FIELDS, GENESIS_HASH, _dumps
from .protection import TABLE

_SORTED = sorted(CONTENT_FIELDS)  # canonical JSON sorts its keys
_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in _SORTED) + "}"
_INTEGERS = [i for i, name in enumerate(_SORTED) if name in ("actor_id", "production_id")]
_JSON = [i for i, name in enumerate(_SORTED) if name in ("before", "after")]
# The text services.chain_record_with_time makes: ISO 8601 with microseconds, UTC as "+00:00".
_TIME = """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
_COLUMNS = ", ".join(["sequence", "prev_hash", "hash"] + [_TIME if name == "occurred_at" else name
                                                          for name in _SORTED])
_COPY_ESCAPE = re.compile(r"\\(.)")
_COPY_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(field):
    return _COPY_ESCAPE.sub(lambda match: _COPY_ESCAPES.get(match.group(1), match.group(1)), field)


def scan(database, first, last):
    """(sequence, prev_hash, hash, recomputed hash) for the sealed events first..last, in order.

    `database` is an open psycopg connection (the caller's, inside its transaction) or the
    parameters to open one (a worker process)."""
    # NULL as the empty string: only ids and JSON can be NULL, and neither can be empty, so rows
    # without awkward characters carry no backslash at all.
    sql = (f"COPY (SELECT {_COLUMNS} FROM {TABLE} WHERE sequence BETWEEN {int(first)} AND {int(last)} "
           f"ORDER BY sequence) TO STDOUT (NULL '')")
    if isinstance(database, dict):
        with psycopg.connect(**database) as connection:
            yield from _scan(connection, sql)
    else:
        yield from _scan(database, sql)


def _scan(connection, sql):
    sha256, encode, dumps = hashlib.sha256, encode_basestring, _dumps
    parse = json.JSONDecoder().raw_decode  # json.loads without its wrappers
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for block in copy:  # one row per block in text COPY
            row = bytes(block)
            fields = row[:-1].decode("utf-8").split("\t")
            if b"\\" in row:  # a backslash, newline or tab inside a value
                fields = [_unescape(field) if "\\" in field else field for field in fields]
            sequence, prev_hash, stored_hash = fields[0], fields[1], fields[2]
            content = fields[3:]
            values = list(map(encode, content))
            for i in _INTEGERS:
                values[i] = content[i] or "null"
            for i in _JSON:
                values[i] = dumps(parse(content[i])[0]) if content[i] else "null"
            content_hash = sha256((_TEMPLATE % tuple(values)).encode("utf-8")).hexdigest()
            recomputed = sha256(f"{sequence}:{prev_hash}:{content_hash}".encode("ascii")).hexdigest()
            yield int(sequence), prev_hash, stored_hash, recomputed


@dataclass
class RangeCheck:
    """What one range of the chain showed; `hashes` are the events' hashes, 32 raw bytes each."""
    first: int
    first_prev_hash: str
    checked: int
    last_sequence: int | None
    last_hash: str
    hashes: bytes
    broken_sequence: int | None = None
    problem: str = ""


def check_range(args):
    """Check the links and hashes inside first..last; the link into `first` is the caller's."""
    database, first, last = args
    hashes = bytearray()
    expected, prev, first_prev = first, None, ""
    for sequence, prev_hash, stored_hash, recomputed in scan(database, first, last):
        problem = ""
        if sequence != expected:
            problem = f"event #{expected} is missing (found #{sequence} in its place)"
        elif prev is None:
            first_prev = prev_hash  # checked against the range before, by check_span
        elif prev_hash != prev:
            problem = f"event #{sequence} does not link to the event before it"
        if not problem and recomputed != stored_hash:
            problem = f"event #{sequence} was altered: its content does not match its hash"
        if problem:
            return RangeCheck(first, first_prev, expected - first, expected - 1 if expected > first else None,
                              prev or "", bytes(hashes), sequence, problem)
        hashes += bytes.fromhex(stored_hash)
        prev, expected = stored_hash, sequence + 1
    problem = f"event #{expected} is missing" if expected <= last else ""
    return RangeCheck(first, first_prev, expected - first, expected - 1 if expected > first else None,
                      prev or "", bytes(hashes), expected if problem else None, problem)


def check_span(database, first, last, expected_prev_hash=GENESIS_HASH, pool=None, parts=1):
    """Check first..last, split into `parts` ranges run on `pool` (a multiprocessing pool, and
    `database` the connection parameters) when given, and stitch them: each range must link to
    where the one before it ended. Reports the first problem in sequence order, as
    `chain.verify_records` does."""
    size = last - first + 1
    jobs = [(database, first + size * i // parts, first + size * (i + 1) // parts - 1) for i in range(parts)]
    jobs = [job for job in jobs if job[1] <= job[2]]
    results = pool.map(check_range, jobs) if pool is not None and len(jobs) > 1 else map(check_range, jobs)
    span = RangeCheck(first, expected_prev_hash, 0, None, expected_prev_hash, b"")
    hashes = []
    for result in results:
        if result.first_prev_hash and result.first_prev_hash != span.last_hash:
            span.broken_sequence = result.first
            span.problem = f"event #{result.first} does not link to the event before it"
            break
        hashes.append(result.hashes)
        span.checked += result.checked
        if result.checked:
            span.last_sequence, span.last_hash = result.last_sequence, result.last_hash
        if result.problem:
            span.broken_sequence, span.problem = result.broken_sequence, result.problem
            break
    span.hashes = b"".join(hashes)
    return span
