"""A sitting's ingest keys: the bearer token OBS's "WHIP" service sends (RFC 9725 section 4.5).

`new_key()` makes a key: the plain text, shown to the operator once, and the record to
store. `key_id(plain)` gives the short public id the record is stored under, so a request
finds its record with one lookup; `check(plain, stored)` verifies. Revoking is the caller's
(a flag on the stored row). Pure: no I/O.

Why plain SHA-256 and no scrypt or PBKDF2: those slow a guesser down on low-entropy
secrets (passwords). A key here is 256 random bits; nobody can enumerate those whatever the
hash costs, so a slow hash would only slow every WHIP POST. Salting is not needed either:
keys never repeat, and no precomputed table covers 2**256 inputs. The key id is bound into
the hash (domain separation), so a record cannot be moved onto another id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "kgl_"
_SCHEME = "sha256"
# kgl_ + 32 random bytes in url-safe base64 (43 characters, no padding).
_PLAIN = re.compile(r"kgl_[A-Za-z0-9_-]{43}")
_ID_BYTES = 8  # 64 bits: unique among a server's keys, short enough to show in a list


def new_key() -> tuple[str, str]:
    """A new key: (plain, stored). Show `plain` once; keep `stored` (and `key_id(plain)`)."""
    plain = PREFIX + secrets.token_urlsafe(32)
    return plain, _record(key_id(plain), plain)


def key_id(plain: str) -> str:
    """The public id of a key: a truncated hash, so it gives nothing of the key away."""
    digest = hashlib.sha256(b"kengash-ingest-key-id\x00" + _bytes(plain)).digest()
    return digest[:_ID_BYTES].hex()


def well_formed(plain: str) -> bool:
    """Whether a bearer token looks like one of our keys (before any lookup)."""
    return _PLAIN.fullmatch(plain) is not None


def check(plain: str, stored: str) -> bool:
    """Whether `plain` is the key of the record `stored`; comparisons in constant time."""
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != _SCHEME:
        return False
    _, stored_id, stored_hash = parts
    try:
        kid = key_id(plain)
        expected = _record(stored_id, plain).split("$")[2]
        # Both compared, whatever the first gives: the time tells nothing of which failed.
        same_id = hmac.compare_digest(kid.encode(), stored_id.encode())
        same_hash = hmac.compare_digest(expected.encode(), stored_hash.encode())
    except UnicodeEncodeError:
        return False
    return same_id and same_hash


def _record(kid: str, plain: str) -> str:
    digest = hashlib.sha256(b"kengash-ingest-key\x00" + kid.encode() + b"\x00" + _bytes(plain))
    return f"{_SCHEME}${kid}${digest.hexdigest()}"


def _bytes(plain: str) -> bytes:
    # Strict: a token with lone surrogates raises UnicodeEncodeError, which check() refuses.
    return plain.encode("utf-8")
