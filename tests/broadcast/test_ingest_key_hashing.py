"""broadcast.ingest_keys: making, identifying and checking the sitting's ingest keys."""

from __future__ import annotations

import hmac

import pytest

from broadcast.ingest_keys import check, key_id, new_key, well_formed


def test_round_trip() -> None:
    plain, stored = new_key()
    assert plain.startswith("kgl_") and len(plain) == 4 + 43
    assert well_formed(plain)
    assert check(plain, stored)
    # The record is found by the id, and holds no part of the key.
    assert key_id(plain) in stored and plain[4:] not in stored
    assert len(key_id(plain)) == 16 and key_id(plain) == key_id(plain)


def test_wrong_key() -> None:
    plain, stored = new_key()
    other, _ = new_key()
    assert not check(other, stored)
    assert not check(plain[:-1], stored)
    assert not check(plain + "x", stored)
    assert not check("", stored)
    assert not check(plain.upper(), stored)
    assert not check("kgl_\ud800", stored)  # not encodable: refused, not raised


def test_tampered_record() -> None:
    plain, stored = new_key()
    scheme, kid, digest = stored.split("$")
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    other_plain, other_stored = new_key()
    for bad in (
        f"{scheme}${kid}${flipped}",
        f"{scheme}${key_id(other_plain)}${digest}",  # the hash moved to another id
        f"md5${kid}${digest}",
        f"{scheme}${kid}",
        f"{scheme}${kid}${digest}$",
        "",
        other_stored,
    ):
        assert not check(plain, bad), bad


def test_constant_time_compare_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    # check() calls it through the module `hmac`, so patching the module attribute sees it.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    plain, stored = new_key()
    assert check(plain, stored)
    assert len(calls) == 2
    calls.clear()
    # A wrong key: both comparisons still run (no early exit on the id).
    assert not check(new_key()[0], stored)
    assert len(calls) == 2


def test_ids_and_keys_are_unique() -> None:
    keys = [new_key() for _ in range(500)]
    assert len({p for p, _ in keys}) == 500
    assert len({key_id(p) for p, _ in keys}) == 500
    assert len({s for _, s in keys}) == 500


@pytest.mark.parametrize(
    "token",
    ["", "kgl_", "kgl_short", "KGL_" + "a" * 43, "kgl_" + "a" * 42, "kgl_" + "a" * 43 + "=", "x"],
)
def test_not_well_formed(token: str) -> None:
    assert not well_formed(token)
