"""tlog.note against golang.org/x/mod/sumdb/note and the C2SP signed-note spec.

Keys, texts and signatures below are data from golang.org/x/mod sumdb/note/note_test.go
(TestNewVerifier, TestNewSigner, TestSign, TestOpen) unless a comment says otherwise.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlog.note import (
    MAX_SIGNATURES,
    NoteError,
    Signer,
    UnverifiedNoteError,
    Verifier,
    key_id,
    make_key,
    open_note,
    sign,
)

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"

TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox"
    "33WWd1RvMc+QQ=\n"
)

PETER = Verifier.from_vkey(PETER_VKEY)
ENOCH = Verifier.from_vkey(ENOCH_VKEY)


def _note(*sigs: str) -> bytes:
    return (TEXT + "\n" + "".join(sigs)).encode()


def test_go_keys_parse_and_agree() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert (signer.name, signer.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert (PETER.name, PETER.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert signer.verifier().vkey() == PETER_VKEY
    assert signer.skey() == PETER_SKEY
    assert PETER.vkey() == PETER_VKEY
    assert (ENOCH.name, ENOCH.key_id) == ("EnochRoot", 0xAF0CFE78)


def _manglings(key: str) -> set[str]:
    # Every proper substring and every single-byte increment, as TestNewVerifier does.
    subs = {key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)}
    bumps = {key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))}
    return (subs | bumps) - {key}


def test_mangled_verifier_keys_are_rejected() -> None:
    for bad in sorted(_manglings(PETER_VKEY)):
        with pytest.raises(NoteError):
            Verifier.from_vkey(bad)
    # Wrong key length and unknown algorithm, each with an adjusted key hash.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(NoteError):
            Verifier.from_vkey(bad)


def test_mangled_signer_keys_are_rejected() -> None:
    for bad in sorted(_manglings(PETER_SKEY)):
        with pytest.raises(NoteError):
            Signer.from_skey(bad)


def test_sign_matches_go_byte_for_byte() -> None:
    # Ed25519 is deterministic, so x/mod's expected output must come out exactly.
    assert sign(TEXT, Signer.from_skey(PETER_SKEY)) == _note(PETER_SIG)


@pytest.mark.parametrize("text", ["abc", "", "no newline", "tab\tinside\n", "x\x00\n"])
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(NoteError):
        sign(text, Signer.from_skey(PETER_SKEY))


def test_open_one_known_one_unknown() -> None:
    assert open_note(_note(PETER_SIG, ENOCH_SIG), [PETER]) == (TEXT, ["PeterNeumann"])
    assert open_note(_note(PETER_SIG, ENOCH_SIG), [PETER, ENOCH]) == (
        TEXT,
        ["PeterNeumann", "EnochRoot"],
    )


def test_open_with_no_known_key() -> None:
    with pytest.raises(UnverifiedNoteError, match="no verifiable signatures"):
        open_note(_note(PETER_SIG, ENOCH_SIG), [])


def test_open_ambiguous_key_only_when_used() -> None:
    other = Signer.generate("EnochRoot").verifier()
    twin = Verifier("EnochRoot", ENOCH.key_id, other.public_key)  # same name and ID
    with pytest.raises(NoteError, match="ambiguous key EnochRoot\\+af0cfe78"):
        open_note(_note(ENOCH_SIG), [ENOCH, PETER, twin])
    assert open_note(_note(PETER_SIG), [ENOCH, PETER, twin])[1] == ["PeterNeumann"]
    # The very same key listed twice is not ambiguous.
    assert open_note(_note(ENOCH_SIG), [ENOCH, ENOCH])[1] == ["EnochRoot"]


def test_open_too_many_signatures() -> None:
    for verifiers in ([PETER], []):
        with pytest.raises(NoteError, match="more than 100"):
            open_note(_note(PETER_SIG * (MAX_SIGNATURES + 1)), verifiers)
    assert open_note(_note(PETER_SIG * MAX_SIGNATURES), [PETER])[1] == ["PeterNeumann"]


def test_open_bad_signature_by_known_key() -> None:
    tampered = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(_note(tampered), [PETER])


def test_open_duplicates_and_bad_unknown_signature() -> None:
    # A bad signature by a key the caller does not know is skipped, not judged.
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = _note(PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, enoch_abcd)
    assert open_note(note, [PETER]) == (TEXT, ["PeterNeumann"])


@pytest.mark.parametrize(
    "message",
    [
        TEXT.encode(),
        (TEXT + "\n").encode(),
        (TEXT + "\n" + PETER_SIG[:-1]).encode(),
        b"\x01" + _note(PETER_SIG),
        b"\xff" + _note(PETER_SIG),
        (
            TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
            "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ).encode(),
        _note(PETER_SIG, "Unexpected line.\n"),
        # Not from x/mod: a name with '+', a hyphen for the em dash, a short signature.
        _note(PETER_SIG.replace("PeterNeumann", "Peter+Neumann")),
        _note(PETER_SIG.replace("—", "-")),
        _note("— PeterNeumann AAAA\n"),
        _note(PETER_SIG, "\n"),
    ],
)
def test_open_malformed(message: bytes) -> None:
    with pytest.raises(NoteError):
        open_note(message, [PETER])


def test_unknown_name_or_id_is_skipped() -> None:
    # The spec: ignore signatures from unknown keys even if they share a name or an ID.
    renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(UnverifiedNoteError):
        open_note(_note(renamed), [PETER])
    rekeyed = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(UnverifiedNoteError):
        open_note(_note(rekeyed), [PETER])


def test_c2sp_spec_example_is_well_formed() -> None:
    # The example note in the C2SP signed-note spec (c2sp.org/signed-note); its public key
    # is not published, so it can only be well-formed but unverified.
    note = (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
        "\n"
        "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONr"
        "MouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    ).encode()
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [PETER, ENOCH])


def test_round_trip_with_blank_lines_in_text() -> None:
    skey, vkey = make_key("council.example/ledger")
    signer, verifier = Signer.from_skey(skey), Verifier.from_vkey(vkey)
    assert skey.startswith("PRIVATE+KEY+council.example/ledger+")
    raw = verifier.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert verifier.key_id == key_id("council.example/ledger", raw)
    text = "first\n\nsecond paragraph, Oʻzbekiston\n"
    assert open_note(sign(text, signer), [verifier]) == (text, ["council.example/ledger"])


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(NoteError):
        make_key(name)
