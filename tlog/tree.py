"""Sans-I/O Merkle tree over stored nodes (RFC 9162 §2.1).

The tree lives in storage as every complete, aligned subtree: the key ``(level, index)``
names the subtree of ``2**level`` leaves starting at leaf ``index * 2**level``; level 0
holds the leaf hashes. Each operation comes in two halves so that a caller does exactly
one batched read: ``*_keys`` says which nodes are needed, and the computing function takes
a mapping holding (at least) those nodes. Every operation needs O(log n) nodes: a subtree
that is not complete is folded from its aligned decomposition instead of being stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeAlias

from tlog.hashes import EMPTY_ROOT, HASH_SIZE, node_hash

NodeKey: TypeAlias = tuple[int, int]
"""``(level, index)``: the aligned subtree of ``2**level`` leaves from ``index * 2**level``."""

Nodes: TypeAlias = Mapping[NodeKey, bytes]

_Range: TypeAlias = tuple[int, int]  # leaves [start, end)


class RangeError(ValueError):
    """A leaf index or tree size outside the tree (or an older tree larger than the newer)."""


class MissingNodeError(LookupError):
    """The mapping handed in lacks a node that the matching ``*_keys`` call asked for."""


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): MTH's split point."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_keys(start: int, end: int) -> list[NodeKey]:
    """Aligned decomposition of leaves [start, end), largest subtree first.

    Only called for subtrees MTH's recursion visits, whose start is a multiple of a power
    of two at least as large as their width; then the binary digits of the width, high to
    low, are exactly the complete subtrees from left to right.
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        assert start % (1 << level) == 0, "subtree is not aligned"
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _get(nodes: Nodes, key: NodeKey) -> bytes:
    try:
        return nodes[key]
    except KeyError:
        raise MissingNodeError(f"node (level={key[0]}, index={key[1]}) was not supplied") from None


def _subtree_hash(start: int, end: int, nodes: Nodes) -> bytes:
    """MTH of leaves [start, end): a right fold of its aligned decomposition."""
    hashes = [_get(nodes, key) for key in _subtree_keys(start, end)]
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def _keys_of(ranges: Iterable[_Range]) -> list[NodeKey]:
    return [key for start, end in ranges for key in _subtree_keys(start, end)]


def _check_size(size: int) -> None:
    if size < 0:
        raise RangeError(f"tree size {size} is negative")


# Append ------------------------------------------------------------------------------


def append_keys(size: int) -> list[NodeKey]:
    """Nodes on the right edge of a tree of ``size`` leaves, which new leaves hash against."""
    _check_size(size)
    return _subtree_keys(0, size)


def append(size: int, leaf_hashes: Iterable[bytes], nodes: Nodes) -> dict[NodeKey, bytes]:
    """Every complete node created by appending ``leaf_hashes`` to a tree of ``size`` leaves.

    The result includes the new leaves (level 0) and is exactly what storage must add;
    ``nodes`` needs the keys from ``append_keys(size)``.
    """
    _check_size(size)
    created: dict[NodeKey, bytes] = {}
    for index, value in enumerate(leaf_hashes, start=size):
        if len(value) != HASH_SIZE:
            raise ValueError(f"leaf hash {index} is {len(value)} bytes, not {HASH_SIZE}")
        level = 0
        created[(level, index)] = value
        # An odd index completes its parent with the left sibling, and so on upwards.
        while index & 1:
            sibling = (level, index - 1)
            left = created[sibling] if sibling in created else _get(nodes, sibling)
            value = node_hash(left, value)
            level, index = level + 1, index >> 1
            created[(level, index)] = value
    return created


# Root ------------------------------------------------------------------------------


def root_keys(size: int) -> list[NodeKey]:
    """Nodes needed for the root of the tree of the first ``size`` leaves."""
    _check_size(size)
    return _subtree_keys(0, size)


def root(size: int, nodes: Nodes) -> bytes:
    """MTH of the first ``size`` leaves (``EMPTY_ROOT`` for an empty tree)."""
    _check_size(size)
    return EMPTY_ROOT if size == 0 else _subtree_hash(0, size, nodes)


# Inclusion (RFC 9162 §2.1.3.1) -------------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    if size < 0 or index < 0:
        raise RangeError(f"negative leaf index {index} or tree size {size}")
    if index >= size:
        raise RangeError(f"leaf index {index} is not in a tree of size {size}")
    # Walk PATH(m, D[n]) from the root down; the proof lists siblings from the leaf up.
    ranges: list[_Range] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
    ranges.reverse()
    return ranges


def inclusion_keys(index: int, size: int) -> list[NodeKey]:
    """Nodes needed to prove leaf ``index`` is in the tree of ``size`` leaves."""
    return _keys_of(_inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, nodes: Nodes) -> list[bytes]:
    """PATH(index, D[size]): the audit path, leaf's sibling first."""
    return [_subtree_hash(s, e, nodes) for s, e in _inclusion_ranges(index, size)]


# Consistency (RFC 9162 §2.1.4.1) -----------------------------------------------------


def _consistency_ranges(old: int, new: int) -> list[_Range]:
    if old < 0 or new < 0:
        raise RangeError(f"negative tree size {old} or {new}")
    if old > new:
        raise RangeError(f"old tree size {old} is larger than new tree size {new}")
    if old == 0 or old == new:
        return []
    # SUBPROOF(m, D[n], b) walked from the root down, in absolute leaf positions.
    ranges: list[_Range] = []
    start, end = 0, new
    old_is_whole_subtree = True  # b: the old tree is exactly the subtree being visited
    while old != end:
        mid = start + _split(end - start)
        if old <= mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
            old_is_whole_subtree = False
    if not old_is_whole_subtree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def consistency_keys(old: int, new: int) -> list[NodeKey]:
    """Nodes needed to prove the tree of ``old`` leaves is a prefix of the one of ``new``."""
    return _keys_of(_consistency_ranges(old, new))


def consistency_proof(old: int, new: int, nodes: Nodes) -> list[bytes]:
    """PROOF(old, D[new]); empty when ``old`` is 0 or equals ``new``."""
    return [_subtree_hash(s, e, nodes) for s, e in _consistency_ranges(old, new)]
