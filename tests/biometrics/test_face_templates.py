"""biometrics.templates: sealed descriptors open only with their key, for their deputy."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biometrics.templates import TemplateError, seal, unseal

KEY = bytes(range(32))
DESCRIPTORS = [[0.1 * i + j for i in range(128)] for j in range(3)]


def test_round_trip() -> None:
    blob = seal(KEY, 7, DESCRIPTORS)
    assert blob[0] == 1 and len(blob) == 1 + 12 + 4 + 3 * 128 * 8 + 16
    assert unseal(KEY, 7, blob) == DESCRIPTORS
    assert seal(KEY, 7, DESCRIPTORS) != blob  # a fresh nonce every time


def test_wrong_key() -> None:
    with pytest.raises(TemplateError):
        unseal(os.urandom(32), 7, seal(KEY, 7, DESCRIPTORS))


def test_wrong_deputy() -> None:
    with pytest.raises(TemplateError):
        unseal(KEY, 8, seal(KEY, 7, DESCRIPTORS))


def test_tampered_byte() -> None:
    blob = bytearray(seal(KEY, 7, DESCRIPTORS))
    blob[40] ^= 0x01
    with pytest.raises(TemplateError):
        unseal(KEY, 7, bytes(blob))


def test_unknown_version_and_truncated() -> None:
    blob = seal(KEY, 7, DESCRIPTORS)
    for bad in (b"", b"\x02" + blob[1:], blob[:5], blob[:20]):
        with pytest.raises(TemplateError):
            unseal(KEY, 7, bad)


def test_bad_input_refused() -> None:
    for key, descriptors in (
        (b"short", DESCRIPTORS),
        (KEY, []),
        (KEY, [[1.0, 2.0], [1.0]]),
        (KEY, [[float("nan")]]),
    ):
        with pytest.raises(TemplateError):
            seal(key, 1, descriptors)


vectors = st.integers(1, 5).flatmap(
    lambda count: st.integers(1, 128).flatmap(
        lambda width: st.lists(
            st.lists(
                st.floats(allow_nan=False, allow_infinity=False), min_size=width, max_size=width
            ),
            min_size=count,
            max_size=count,
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), deputy=st.integers(1, 2**62), descriptors=vectors)
def test_round_trip_of_any_descriptors(
    key: bytes, deputy: int, descriptors: list[list[float]]
) -> None:
    assert unseal(key, deputy, seal(key, deputy, descriptors)) == descriptors


@settings(max_examples=100, deadline=None)
@given(descriptors=vectors, data=st.data())
def test_a_flipped_bit_anywhere_fails(descriptors: list[list[float]], data: st.DataObject) -> None:
    blob = bytearray(seal(KEY, 3, descriptors))
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(TemplateError):
        unseal(KEY, 3, bytes(blob))
