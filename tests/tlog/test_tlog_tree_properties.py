"""Invariants of tlog.tree and tlog.proofs against the naive recursive definitions of
RFC 9162 §2.1 (tests/tlog/memtree.py)."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tlog.memtree import MemoryStore, naive_mth, naive_path, naive_proof
from tlog import tree
from tlog.hashes import leaf_hash
from tlog.proofs import ProofError, verify_consistency, verify_inclusion

BIG = 3000
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(BIG)]
SMALL = 70


@pytest.fixture(scope="module")
def big() -> MemoryStore:
    s = MemoryStore()
    s.append(LEAVES)
    return s


def _key_bound(n: int) -> int:
    return 2 * max(1, math.ceil(math.log2(max(n, 2)))) + 2


def test_small_trees_exhaustively(big: MemoryStore) -> None:
    # Every root, inclusion proof and consistency proof for sizes up to SMALL matches the
    # recursive definition and verifies.
    roots = [naive_mth(LEAVES[:n]) for n in range(SMALL + 1)]
    for n in range(SMALL + 1):
        assert big.root(n) == roots[n]
        for m in range(n):
            proof = big.inclusion(m, n)
            assert proof == naive_path(m, LEAVES[:n])
            verify_inclusion(m, n, LEAVES[m], proof, roots[n])
        for old in range(n + 1):
            proof = big.consistency(old, n)
            assert proof == naive_proof(old, LEAVES[:n])
            verify_consistency(old, n, roots[old], roots[n], proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, BIG))
def test_root_matches_naive_mth(big: MemoryStore, size: int) -> None:
    assert big.root(size) == naive_mth(LEAVES[:size])
    assert len(tree.root_keys(size)) == bin(size).count("1")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_inclusion_proofs_verify_and_bind(big: MemoryStore, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, BIG), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    keys = tree.inclusion_keys(index, size)
    assert len(keys) <= _key_bound(size)
    assert len(set(keys)) == len(keys)
    root = big.root(size)
    proof = big.inclusion(index, size)
    verify_inclusion(index, size, LEAVES[index], proof, root)

    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="flip proof item")
        bit = data.draw(st.integers(0, 255), label="flip bit")
        flipped = bytearray(proof[i])
        flipped[bit // 8] ^= 1 << bit % 8
        bad = [*proof[:i], bytes(flipped), *proof[i + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, LEAVES[index], bad, root)
    other = data.draw(st.integers(0, size - 1).filter(lambda j: j != index), label="other")
    with pytest.raises(ProofError):
        verify_inclusion(other, size, LEAVES[index], proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, LEAVES[other], proof, root)
    # A size is bound through its root (a checkpoint signs both): the proof must not pass
    # for another size's tree. Paired with the same root it may, when both sizes give
    # the path the same shape, so that is not a claim worth testing.
    wrong_size = data.draw(
        st.integers(index + 1, BIG).filter(lambda s: s != size), label="wrong size"
    )
    with pytest.raises(ProofError):
        verify_inclusion(index, wrong_size, LEAVES[index], proof, big.root(wrong_size))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, LEAVES[index], proof, hashlib.sha256(root).digest())


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_consistency_proofs_verify_and_bind(big: MemoryStore, data: st.DataObject) -> None:
    new = data.draw(st.integers(2, BIG), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")
    keys = tree.consistency_keys(old, new)
    assert len(keys) <= _key_bound(new)
    assert len(set(keys)) == len(keys)
    old_root, new_root = big.root(old), big.root(new)
    proof = big.consistency(old, new)
    verify_consistency(old, new, old_root, new_root, proof)

    i = data.draw(st.integers(0, len(proof) - 1), label="flip proof item")
    bad = list(proof)
    bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, bad)
    wrong_old = data.draw(st.integers(1, new - 1).filter(lambda s: s != old), label="wrong old")
    # As with inclusion, a wrong size is tested against that size's real root.
    with pytest.raises(ProofError):
        verify_consistency(wrong_old, new, big.root(wrong_old), new_root, proof)
    wrong_new = data.draw(st.integers(old + 1, BIG).filter(lambda s: s != new), label="wrong new")
    with pytest.raises(ProofError):
        verify_consistency(old, wrong_new, old_root, big.root(wrong_new), proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, new_root, old_root, proof)


def test_key_counts_stay_logarithmic() -> None:
    for n in [*range(1, 300), 2**20 - 1, 2**20, 2**20 + 1, 10**9 + 7, 2**63 - 1]:
        bound = _key_bound(n)
        for m in {0, 1, n // 3, n // 2, n - 2, n - 1}:
            if 0 <= m < n:
                assert len(tree.inclusion_keys(m, n)) <= bound, (m, n)
                assert len(tree.consistency_keys(m, n)) <= bound, (m, n)
        assert len(tree.append_keys(n)) <= bound


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=12))
def test_batched_appends_equal_single_appends(batches: list[int]) -> None:
    total = sum(batches)
    one_by_one = MemoryStore()
    for leaf in LEAVES[:total]:
        one_by_one.append([leaf])
    batched = MemoryStore()
    at = 0
    for count in batches:
        created = batched.append(LEAVES[at : at + count])
        at += count
        # Exactly the leaves just added, plus each new interior node.
        assert sum(1 for level, _ in created if level == 0) == count
    assert batched.nodes == one_by_one.nodes
    assert batched.root(total) == naive_mth(LEAVES[:total])


def test_append_of_nothing_and_bad_hash() -> None:
    assert tree.append(5, [], {}) == {}
    with pytest.raises(ValueError, match="32"):
        tree.append(0, [b"short"], {})
