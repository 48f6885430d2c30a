"""Transparency log primitives for the public ledger of council decisions.

RFC 9162 Merkle tree hashing and proofs over stored nodes (``tree``) and their
verification (``proofs``); C2SP signed notes (``note``) and checkpoints (``checkpoint``).
Pure: no I/O, no database; callers bring the nodes.
"""

from tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint
from tlog.checkpoint import parse as parse_checkpoint
from tlog.hashes import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from tlog.note import NoteError, Signer, UnverifiedNoteError, Verifier, make_key, open_note, sign
from tlog.proofs import ProofError, root_from_inclusion, verify_consistency, verify_inclusion
from tlog.tree import MissingNodeError, NodeKey, RangeError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "CheckpointError",
    "MissingNodeError",
    "NodeKey",
    "NoteError",
    "ProofError",
    "RangeError",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "leaf_hash",
    "make_key",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "root_from_inclusion",
    "sign",
    "sign_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
