"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

Key strings follow golang.org/x/mod/sumdb/note, so operators can use keys made by the
Go tooling: a verifier key is ``name+hex8(keyid)+base64(0x01 || public key)`` and a signer
key is ``PRIVATE+KEY+name+hex8(keyid)+base64(0x01 || seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
"""Signature type byte for Ed25519 in the signed-note spec."""

MAX_SIGNATURES = 100
"""Cap on signature lines per note, as in x/mod (the spec requires accepting at least 16)."""

_SIG_PREFIX = "— "  # em dash U+2014, then a space
_SIGNER_PREFIX = "PRIVATE+KEY+"
_ED25519_SIZE = 64


class NoteError(ValueError):
    """A malformed note or key, or a note whose signatures do not check out."""


class UnverifiedNoteError(NoteError):
    """Well-formed, but no signature is by a key the caller trusts."""


def _is_valid_name(name: str) -> bool:
    # Non-empty, no Unicode space and no '+', which separates fields in key strings.
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> int:
    """First 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || 32-byte public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64decode_strict(text: str) -> bytes:
    """Standard base64 that must be canonical: re-encoding gives back the same text."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("invalid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError("non-canonical base64")
    return raw


def _parse_key_fields(name: str, hash_hex: str, key_b64: str) -> tuple[int, bytes]:
    """Check the name, the 8 hex digit key ID and an Ed25519 key field; return (id, key)."""
    if not _is_valid_name(name):
        raise NoteError(f"invalid key name {name!r}")
    if len(hash_hex) != 8 or not all(c in string.hexdigits for c in hash_hex):
        raise NoteError("key ID must be 8 hex digits")
    raw = _b64decode_strict(key_b64)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("key is not an Ed25519 key")
    return int(hash_hex, 16), raw[1:]


@dataclass(frozen=True)
class Verifier:
    """A trusted public key under a name."""

    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``name+hex8+base64(0x01 || public key)``; the key ID must match the key."""
        fields = vkey.split("+", 2)
        if len(fields) != 3:
            raise NoteError("verifier key must be name+keyid+key")
        kid, raw = _parse_key_fields(*fields)
        if key_id(fields[0], raw) != kid:
            raise NoteError("verifier key ID does not match the key")
        return cls(fields[0], kid, Ed25519PublicKey.from_public_bytes(raw))

    def vkey(self) -> str:
        """The verifier key string for this key."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + _raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIZE:
            return False
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private key under a name."""

    name: str
    key_id: int
    private_key: Ed25519PrivateKey

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+name+hex8+base64(0x01 || seed)``; the key ID must match."""
        if not skey.startswith(_SIGNER_PREFIX):
            raise NoteError("signer key must start with PRIVATE+KEY+")
        fields = skey[len(_SIGNER_PREFIX) :].split("+", 2)
        if len(fields) != 3:
            raise NoteError("signer key must be PRIVATE+KEY+name+keyid+key")
        kid, seed = _parse_key_fields(*fields)
        private = Ed25519PrivateKey.from_private_bytes(seed)
        if key_id(fields[0], _raw_public(private.public_key())) != kid:
            raise NoteError("signer key ID does not match the key")
        return cls(fields[0], kid, private)

    @classmethod
    def generate(cls, name: str) -> Signer:
        if not _is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}")
        private = Ed25519PrivateKey.generate()
        return cls(name, key_id(name, _raw_public(private.public_key())), private)

    def skey(self) -> str:
        """The signer key string (secret!) in the x/mod format."""
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"{_SIGNER_PREFIX}{self.name}+{self.key_id:08x}+{encoded}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def make_key(name: str) -> tuple[str, str]:
    """A fresh Ed25519 key pair as ``(signer key string, verifier key string)``."""
    signer = Signer.generate(name)
    return signer.skey(), signer.verifier().vkey()


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("note text contains a control character")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise NoteError("note text is not valid UTF-8") from None


def sign(text: str, *signers: Signer) -> bytes:
    """The signed note: ``text``, a blank line, then one signature line per signer."""
    if not signers:
        raise NoteError("at least one signer is needed")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    _check_text(text)
    message = text.encode()
    lines = []
    for signer in signers:
        if not _is_valid_name(signer.name):
            raise NoteError(f"invalid key name {signer.name!r}")
        payload = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        lines.append(f"{_SIG_PREFIX}{signer.name} {base64.b64encode(payload).decode()}\n")
    return (text + "\n" + "".join(lines)).encode()


def _parse_signature(line: str) -> tuple[str, int, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError("malformed signature line")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not _is_valid_name(name):
        raise NoteError("malformed signature line")
    raw = _b64decode_strict(encoded)
    if len(raw) < 5:
        raise NoteError("signature too short")
    return name, int.from_bytes(raw[:4], "big"), raw[4:]


def open_note(note: bytes, verifiers: Iterable[Verifier]) -> tuple[str, list[str]]:
    """Verify ``note``; return its text and the names of the known keys that signed it.

    Signatures by unknown keys are skipped, as the spec requires. A known key's bad
    signature rejects the whole note, and so does having no verified signature at all.
    """
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    if any(c < " " and c != "\n" for c in decoded):
        raise NoteError("note contains a control character")
    if not decoded.endswith("\n"):
        raise NoteError("note must end with a newline")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block:
        raise NoteError("note has no signatures")
    # Split on "\n" only; str.splitlines would also break at U+2028 and friends.
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = [_parse_signature(line) for line in lines]

    known: dict[tuple[str, int], list[Verifier]] = {}
    for verifier in verifiers:
        same = known.setdefault((verifier.name, verifier.key_id), [])
        if all(_raw_public(v.public_key) != _raw_public(verifier.public_key) for v in same):
            same.append(verifier)

    message = text.encode()
    signed_by: list[str] = []
    for name, kid, signature in signatures:
        candidates = known.get((name, kid), [])
        if not candidates:
            continue  # someone else's key: not ours to judge
        if len(candidates) > 1:
            raise NoteError(f"ambiguous key {name}+{kid:08x}")
        if not candidates[0].verify(message, signature):
            raise NoteError(f"invalid signature for key {name}+{kid:08x}")
        if name not in signed_by:
            signed_by.append(name)
    if not signed_by:
        raise UnverifiedNoteError("note has no verifiable signatures")
    return text, signed_by
