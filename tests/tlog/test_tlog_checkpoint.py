"""tlog.checkpoint: the C2SP tlog-checkpoint text format, signed as a note."""

from __future__ import annotations

import base64

import pytest

from tests.tlog.memtree import MemoryStore
from tlog import (
    Checkpoint,
    CheckpointError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    Verifier,
    leaf_hash,
    make_key,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
)

# The example in the C2SP tlog-checkpoint spec (c2sp.org/tlog-checkpoint).
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_NOTE = (
    SPEC_BODY + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4"
    "URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
).encode()
ORIGIN = "council.example/ledger"


def test_spec_example_round_trips() -> None:
    cp = parse_checkpoint(SPEC_BODY)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.body() == SPEC_BODY
    # Its key is not published: well-formed, but no signature we can check.
    _, vkey = make_key("example.com/behind-the-sofa")
    with pytest.raises(UnverifiedNoteError):
        open_note(SPEC_NOTE, [Verifier.from_vkey(vkey)])


def test_extensions_round_trip() -> None:
    cp = Checkpoint(ORIGIN, 0, bytes(32), ("ext one", "ext two"))
    assert cp.body().splitlines()[3:] == ["ext one", "ext two"]
    assert parse_checkpoint(cp.body()) == cp


@pytest.mark.parametrize(
    "text",
    [
        "",
        SPEC_BODY[:-1],  # no final newline
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",  # empty origin
        "o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",  # leading zero
        "o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n+1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n1 \n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n١\n" + base64.b64encode(bytes(32)).decode() + "\n",  # a non-ASCII digit
        "o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",  # short root
        "o\n1\n" + base64.b64encode(bytes(32)).decode().rstrip("=") + "\n",  # unpadded
        "o\n1\nnot base64!\n",
        "o\n1\n",  # no root line
        "o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n",  # empty extension
        "o\n18446744073709551616\n" + base64.b64encode(bytes(32)).decode() + "\n",  # > uint64
    ],
)
def test_parse_is_strict(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_constructor_validates() -> None:
    with pytest.raises(CheckpointError):
        Checkpoint("", 1, bytes(32))
    with pytest.raises(CheckpointError):
        Checkpoint("a\nb", 1, bytes(32))
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, -1, bytes(32))
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, bytes(33))
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, bytes(32), ("",))


def test_signed_checkpoint_round_trip_and_tamper() -> None:
    store = MemoryStore()
    store.append([leaf_hash(f"decision {i}".encode()) for i in range(11)])
    skey, vkey = make_key(ORIGIN)
    signer, verifier = Signer.from_skey(skey), Verifier.from_vkey(vkey)
    cp = Checkpoint(ORIGIN, store.size, store.root(store.size))
    note = sign_checkpoint(cp, signer)
    assert open_checkpoint(note, [verifier]) == (cp, [ORIGIN])

    # Claiming a different size, or a different root, breaks the signature.
    tampered = note.replace(b"\n11\n", b"\n12\n", 1)
    assert tampered != note
    with pytest.raises(NoteError, match="invalid signature"):
        open_checkpoint(tampered, [verifier])
    other_root = base64.b64encode(store.root(10)).decode().encode()
    tampered = note.replace(base64.b64encode(cp.root), other_root, 1)
    with pytest.raises(NoteError, match="invalid signature"):
        open_checkpoint(tampered, [verifier])
    # Another key with the same name is simply not the log's key.
    _, stranger = make_key(ORIGIN)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, [Verifier.from_vkey(stranger)])
