"""Face templates (a deputy's enrolled descriptors) sealed with AES-GCM under a key the
caller holds; the deputy id is authenticated data, so a blob copied onto another deputy's
row does not open."""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
_NONCE = 12
_HEADER = struct.Struct("<HH")  # number of descriptors, values in each
_MAX_DESCRIPTORS = 64


class TemplateError(ValueError):
    """A template that cannot be sealed or opened (wrong key or deputy, altered, unknown)."""


def _aad(deputy_id: int) -> bytes:
    return b"e-kengash face template\x00" + struct.pack("<Bq", VERSION, deputy_id)


def _cipher(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise TemplateError("the template key must be 32 bytes")
    return AESGCM(key)


def seal(key: bytes, deputy_id: int, descriptors: Sequence[Sequence[float]]) -> bytes:
    """Version byte, a fresh 12-byte nonce, then the encrypted descriptors (float64)."""
    if not 1 <= len(descriptors) <= _MAX_DESCRIPTORS:
        raise TemplateError(f"a template holds 1 to {_MAX_DESCRIPTORS} descriptors")
    width = len(descriptors[0])
    if width == 0 or any(len(d) != width for d in descriptors):
        raise TemplateError("descriptors must be non-empty and of one length")
    values = [float(v) for d in descriptors for v in d]
    if not all(math.isfinite(v) for v in values):
        raise TemplateError("descriptors must be finite numbers")
    plain = _HEADER.pack(len(descriptors), width) + struct.pack(f"<{len(values)}d", *values)
    nonce = os.urandom(_NONCE)
    return bytes([VERSION]) + nonce + _cipher(key).encrypt(nonce, plain, _aad(deputy_id))


def unseal(key: bytes, deputy_id: int, blob: bytes) -> list[list[float]]:
    """The descriptors sealed for `deputy_id`; TemplateError if the blob does not open."""
    if not blob or blob[0] != VERSION:
        raise TemplateError("unknown template version")
    nonce, sealed = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
    if len(nonce) != _NONCE:
        raise TemplateError("the template is truncated")
    try:
        plain = _cipher(key).decrypt(nonce, sealed, _aad(deputy_id))
    except InvalidTag as e:
        raise TemplateError("the template does not open with this key for this deputy") from e
    count, width = _HEADER.unpack_from(plain)
    values = struct.unpack_from(f"<{count * width}d", plain, _HEADER.size)
    return [list(values[i * width : (i + 1) * width]) for i in range(count)]
