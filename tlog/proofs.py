"""Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2).

Deliberately independent of ``tlog.tree``: a verifier must not share code with the
prover whose output it checks, so a bug in one cannot hide the same bug in the other.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from tlog.hashes import HASH_SIZE, node_hash


class ProofError(ValueError):
    """A proof does not verify; the message says why."""


def _check_hashes(proof: Sequence[bytes], **named: bytes) -> None:
    for name, value in named.items():
        if len(value) != HASH_SIZE:
            raise ProofError(f"{name} is {len(value)} bytes, not {HASH_SIZE}")
    for i, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise ProofError(f"proof[{i}] is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size``."""
    if index < 0 or size < 0:
        raise ProofError(f"negative leaf index {index} or tree size {size}")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hashes(proof, leaf_hash=leaf_hash)
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Skip levels where this node is the last one and has no right sibling.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ``ProofError`` unless ``proof`` shows ``leaf_hash`` at ``index`` under ``root``."""
    if len(root) != HASH_SIZE:
        raise ProofError(f"root is {len(root)} bytes, not {HASH_SIZE}")
    computed = root_from_inclusion(index, size, leaf_hash, proof)
    if not hmac.compare_digest(computed, root):
        raise ProofError("inclusion proof leads to a different root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ``ProofError`` unless ``proof`` shows the ``old`` tree is a prefix of ``new``."""
    if old < 0 or new < 0:
        raise ProofError(f"negative tree size {old} or {new}")
    if old > new:
        raise ProofError(f"old tree size {old} is larger than new tree size {new}")
    if old == new:
        if proof:
            raise ProofError("proof between equal tree sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError("equal tree sizes with different roots")
        return
    if old == 0:
        # Every tree extends the empty tree; there is nothing to prove.
        if proof:
            raise ProofError("proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    _check_hashes(proof, old_root=old_root, new_root=new_root)

    path = list(proof)
    if old & (old - 1) == 0:
        # The old tree is a complete subtree of the new one, so its root starts the path.
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError("consistency proof does not match the old root")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError("consistency proof does not match the new root")
