"""C2SP tlog checkpoints (https://c2sp.org/tlog-checkpoint): the signed tree head's text.

Parsing is strict so that one tree head has exactly one textual form; otherwise two
different notes could claim the same (origin, size, root).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tlog.hashes import HASH_SIZE
from tlog.note import Signer, Verifier, open_note, sign

_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE = 2**64 - 1  # tree sizes are uint64 in every implementation we interoperate with


class CheckpointError(ValueError):
    """Checkpoint text that does not follow the format."""


def _check_line(value: str, what: str) -> None:
    if not value:
        raise CheckpointError(f"{what} must be non-empty")
    if "\n" in value:
        raise CheckpointError(f"{what} must be a single line")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and the root hash at that size."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= _MAX_SIZE:
            raise CheckpointError(f"tree size {self.size} is out of range")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash is {len(self.root)} bytes, not {HASH_SIZE}")
        for extension in self.extensions:
            _check_line(extension, "extension line")

    def body(self) -> str:
        """The note text: origin, decimal size, base64 root, extensions; each line ends in \\n."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(line + "\n" for line in [*lines, *self.extensions])


def parse(text: str) -> Checkpoint:
    """Parse checkpoint note text (already verified), rejecting any non-canonical form."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE.fullmatch(size_text):
        raise CheckpointError(f"malformed tree size {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("root hash is not base64") from None
    if base64.b64encode(root).decode() != root_text:
        raise CheckpointError("root hash is not canonical base64")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, *signers: Signer) -> bytes:
    """The checkpoint as a signed note."""
    return sign(checkpoint.body(), *signers)


def open_checkpoint(note: bytes, verifiers: Iterable[Verifier]) -> tuple[Checkpoint, list[str]]:
    """Verify a checkpoint note, then parse it; returns the checkpoint and its signers."""
    text, signers = open_note(note, verifiers)
    return parse(text), signers
