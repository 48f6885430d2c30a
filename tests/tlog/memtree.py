"""Test helpers: an in-memory node store driven through tlog.tree's two-step API, and a
naive recursive reading of RFC 9162 §2.1 to check it against."""

from __future__ import annotations

from collections.abc import Sequence

from tlog import tree
from tlog.hashes import EMPTY_ROOT, node_hash
from tlog.tree import NodeKey


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, straight from the recursive definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(naive_mth(leaves[:k]), naive_mth(leaves[k:]))


def naive_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from §2.1.3.1."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) from §2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def naive_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if m in (0, len(leaves)):
        return []
    return naive_subproof(m, leaves, True)


class MemoryStore:
    """Holds every complete node, as the SQL storage does; every read is one batch of keys,
    and only the keys asked for are handed to the computing step."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, bytes] = {}
        self.size = 0

    def read(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self.nodes[key] for key in keys}

    def append(self, leaf_hashes: Sequence[bytes]) -> dict[NodeKey, bytes]:
        created = tree.append(self.size, leaf_hashes, self.read(tree.append_keys(self.size)))
        assert not created.keys() & self.nodes.keys(), "append rewrote an existing node"
        self.nodes.update(created)
        self.size += len(leaf_hashes)
        return created

    def root(self, size: int) -> bytes:
        return tree.root(size, self.read(tree.root_keys(size)))

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return tree.inclusion_proof(index, size, self.read(tree.inclusion_keys(index, size)))

    def consistency(self, old: int, new: int) -> list[bytes]:
        return tree.consistency_proof(old, new, self.read(tree.consistency_keys(old, new)))
