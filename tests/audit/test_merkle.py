import hashlib
import random

import pytest

from answerprint.audit import chain, exports, offline_verifier


def reference_root(hashes):
    """RFC 6962 §2.1 as written: recursive, split at the largest power of two below n."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashlib.sha256(b"\x00" + bytes.fromhex(hashes[0])).digest()
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(hashes[:k]) + reference_root(hashes[k:])).digest()


def fake_hashes(n, seed=0):
    return [hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 100])
def test_the_streaming_root_is_the_rfc_6962_root(n):
    # given n event hashes
    hashes = fake_hashes(n)

    # when the root is computed leaf by leaf, then it equals the recursive definition
    assert chain.merkle_root(hashes) == reference_root(hashes).hex()


def test_a_known_two_leaf_root_matches_a_hand_computation():
    # given two leaves, hashed by hand with RFC 6962's prefixes
    a, b = "11" * 32, "22" * 32
    leaf_a = hashlib.sha256(b"\x00" + bytes.fromhex(a)).digest()
    leaf_b = hashlib.sha256(b"\x00" + bytes.fromhex(b)).digest()

    # then the root is H(0x01 || leaf_a || leaf_b)
    assert chain.merkle_root([a, b]) == hashlib.sha256(b"\x01" + leaf_a + leaf_b).hexdigest()


@pytest.mark.parametrize("seed", range(12))
def test_gap_subtrees_stand_in_for_left_out_leaves(seed):
    # given a checkpoint's leaves of which a random subset is exported
    rng = random.Random(seed)
    hashes = fake_hashes(rng.randint(1, 300), seed)
    exported = {i for i in range(len(hashes)) if rng.random() < 0.2}

    # when the left-out runs are replaced by their covering subtrees and the root is rebuilt
    cover, tree, blocks = chain.GapCover(), offline_verifier.MerkleTree(), 0
    for i, value in enumerate(hashes):
        if i in exported:
            for start, size, digest in cover.take():
                assert start == tree.size
                tree.add_subtree(size, bytes.fromhex(digest))
                blocks += 1
            tree.add_subtree(1, offline_verifier.leaf_hash(value))
        else:
            cover.add_leaf(i, value)
    for start, size, digest in cover.take():
        tree.add_subtree(size, bytes.fromhex(digest))
        blocks += 1

    # then the root is the checkpoint's, from far fewer hashes than leaves left out
    assert tree.root() == chain.merkle_root(hashes)
    left_out = len(hashes) - len(exported)
    assert blocks <= max(1, (len(exported) + 1) * 2 * max(1, left_out.bit_length()))


def test_a_misaligned_subtree_is_refused():
    # given a tree of three leaves, when a two-leaf subtree is added at leaf 3, then it is refused
    tree = chain.MerkleTree()
    for value in fake_hashes(3):
        tree.add_leaf(value)
    with pytest.raises(ValueError, match="cannot start at leaf 3"):
        tree.add_subtree(2, b"\x00" * 32)


def test_the_verifier_hashes_events_exactly_as_the_chain_does():
    # given an event record with unicode, nested JSON and nulls
    record = {name: "" for name in chain.CHAINED_FIELDS}
    record.update(sequence=7, actor_id=None, production_id=3, before=None,
                  after={"ü": ["ß", 1.5, {"b": None, "a": True}]}, prev_hash="ab" * 32,
                  occurred_at="2026-01-01T00:00:00.000001+00:00", reason="line\nbreak \u2028")

    # then the standalone verifier's copy of the canonical hash agrees with chain.py
    assert offline_verifier.event_hash(record) == chain.event_hash(record)
    assert offline_verifier.canonical_payload({"b": 1, "a": "é"}) == chain.canonical_payload({"b": 1, "a": "é"})


@pytest.mark.parametrize("after", [
    {"printed_name": "Ada Lovelace", "meaning": "approval", "signed_at": "2026-02-03T04:05:06+00:00",
     "record_hash": "cd" * 32},
    {"signature": {"printed_name": "Ada", "meaning": "review", "signed_hash": "ef" * 32}},
    {"signatures": [{"printed_name": "A", "meaning": "approval"}, {"printed_name": "B", "meaning": "responsibility"}]},
    {"state": "approved"},
    None,
])
def test_the_verifier_prints_signatures_exactly_as_the_export_does(after):
    assert offline_verifier.signature_text(after) == exports.signature_text(after)


def test_a_signature_shows_printed_name_time_meaning_and_signed_hash():
    # given a decision's manifestation
    after = {"printed_name": "Ada Lovelace", "meaning": "approval", "signed_at": "2026-02-03T04:05:06+00:00",
             "record_hash": "cd" * 32}

    # then the printed line carries all four
    assert exports.signature_text(after) == (
        f"Signed by Ada Lovelace at 2026-02-03 04:05:06 UTC — meaning: approval — sha256 {'cd' * 32}")


@pytest.mark.parametrize("before, count", [(0, 1), (0, 1000), (3, 17), (5, 4096 + 3), (1, 2 ** 15 + 5)])
def test_packed_leaves_give_the_same_root_as_one_by_one(before, count):
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(before + count)]
    one_by_one, packed = chain.MerkleTree(), chain.MerkleTree()
    for value in hashes:
        one_by_one.add_leaf(value)
    for value in hashes[:before]:
        packed.add_leaf(value)
    packed.add_packed_leaves(b"".join(bytes.fromhex(value) for value in hashes[before:]))
    assert (packed.size, packed.root()) == (one_by_one.size, one_by_one.root())
