"""LocalVerifier against the test PKI: every good and bad case, attached and detached,
RSA and ECDSA, the clock, revocation through a CRL served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_server.signatures import cms
from session_server.signatures.base import SignatureError, Verified, VerifierUnavailable
from session_server.signatures.local import LocalVerifier, load_trust_anchors
from tests.pki import (
    DEPUTY_PINFL,
    STAFF_PINFL,
    Identity,
    TestPKI,
    not_signed_data,
    openssl,
    tamper_content,
    tamper_message_digest,
    tamper_signing_time,
)
from tests.signatures.conftest import CRLServer

CHALLENGE = b"3f6c1e0d9a7b4c2e8f1a0b9c8d7e6f50"
DECISION = "Qaror № 12: byudjet 2027-yil uchun tasdiqlansin.\n".encode()


@pytest.fixture
def verifier(pki: TestPKI) -> LocalVerifier:
    return LocalVerifier(pki.trust_dir, check_revocation=False)


async def code_of(call: Awaitable[Verified]) -> str:
    with pytest.raises(SignatureError) as caught:
        await call
    return caught.value.code


async def check(
    verifier: LocalVerifier,
    pki: TestPKI,
    identity: Identity,
    detached: bool,
    *,
    pss: bool = False,
    stream: bool = False,
) -> Verified:
    content = DECISION if detached else CHALLENGE
    der = pki.sign(identity, content, detached=detached, pss=pss, stream=stream)
    if detached:
        return await verifier.verify_detached(der, content)
    return await verifier.verify_attached(der, client_address="10.1.2.3", host="kengash.uz")


# -- good ------------------------------------------------------------------------------


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("who", ["deputy_rsa", "deputy_ec", "staff_ec"])
async def test_good_signatures(
    verifier: LocalVerifier, pki: TestPKI, who: str, detached: bool
) -> None:
    identity: Identity = getattr(pki, who)
    verified = await check(verifier, pki, identity, detached)
    assert verified.content == (DECISION if detached else CHALLENGE)
    assert verified.signer.pinfl == identity.pinfl
    assert verified.signer.name == identity.common_name
    assert verified.signer.serial == identity.serial
    assert verified.signed_at is not None
    assert abs(verified.signed_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_the_signer_fields(verifier: LocalVerifier, pki: TestPKI) -> None:
    signer = (await check(verifier, pki, pki.deputy_rsa, False)).signer
    assert signer.pinfl == DEPUTY_PINFL
    assert signer.subject.startswith(f"PINFL: {DEPUTY_PINFL}, Common Name: Aliyev Vali")
    assert signer.issuer.startswith("Common Name: Kengash Test CA")
    assert signer.valid_from < datetime.now(UTC) < signer.valid_until
    staff = (await check(verifier, pki, pki.staff_ec, True)).signer
    assert staff.pinfl == STAFF_PINFL


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
async def test_rsa_pss_and_ber_streams(
    verifier: LocalVerifier, pki: TestPKI, detached: bool
) -> None:
    await check(verifier, pki, pki.deputy_rsa, detached, pss=True)
    await check(verifier, pki, pki.deputy_ec, detached, stream=True)


async def test_a_certificate_without_pinfl_verifies_with_none(
    verifier: LocalVerifier, pki: TestPKI
) -> None:
    # Whether such a signer may sign in is the sign-in's decision, not the verifier's.
    assert (await check(verifier, pki, pki.no_pinfl, False)).signer.pinfl is None


async def test_an_attached_signature_checked_as_detached(
    verifier: LocalVerifier, pki: TestPKI
) -> None:
    der = pki.sign(pki.deputy_ec, DECISION)
    assert (await verifier.verify_detached(der, DECISION)).content == DECISION
    assert await code_of(verifier.verify_detached(der, b"other")) == "wrong_content"


# -- bad: each with its code ------------------------------------------------------------


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("untrusted", "untrusted_certificate"),
        ("expired", "certificate_expired"),
        ("not_yet_valid", "certificate_not_yet_valid"),
        ("ca_signer", "not_signing_certificate"),
        ("not_for_signing", "not_signing_certificate"),
    ],
)
async def test_bad_certificates(
    verifier: LocalVerifier, pki: TestPKI, who: str, code: str, detached: bool
) -> None:
    assert await code_of(check(verifier, pki, getattr(pki, who), detached)) == code


@pytest.mark.parametrize("who", ["deputy_rsa", "deputy_ec"])
async def test_tampered_signatures(verifier: LocalVerifier, pki: TestPKI, who: str) -> None:
    identity = getattr(pki, who)
    attached = pki.sign(identity, CHALLENGE)
    for spoiled in (
        tamper_message_digest(attached),
        tamper_signing_time(attached),
        tamper_content(attached, CHALLENGE),
    ):
        assert await code_of(verifier.verify_attached(spoiled)) == "bad_signature"
    detached = pki.sign(identity, DECISION, detached=True)
    assert await code_of(verifier.verify_detached(detached, DECISION + b" ")) == "bad_signature"
    spoiled = tamper_message_digest(detached)
    assert await code_of(verifier.verify_detached(spoiled, DECISION)) == "bad_signature"
    spoiled = tamper_signing_time(detached)
    assert await code_of(verifier.verify_detached(spoiled, DECISION)) == "bad_signature"


@pytest.mark.parametrize(
    "der", [b"", b"\x30\x03abc", not_signed_data(), b"MIAGCSqGSIb3DQEHAqCAMIACAQEx"]
)
async def test_junk_is_bad_pkcs7(verifier: LocalVerifier, der: bytes) -> None:
    assert await code_of(verifier.verify_attached(der)) == "bad_pkcs7"
    assert await code_of(verifier.verify_detached(der, DECISION)) == "bad_pkcs7"


async def test_a_detached_signature_is_no_sign_in(verifier: LocalVerifier, pki: TestPKI) -> None:
    der = pki.sign(pki.deputy_ec, CHALLENGE, detached=True)
    assert await code_of(verifier.verify_attached(der)) == "bad_pkcs7"


async def test_sha1_is_refused(verifier: LocalVerifier, pki: TestPKI) -> None:
    der = pki.sign(pki.deputy_ec, CHALLENGE, digest="sha1")
    assert await code_of(verifier.verify_attached(der)) == "unsupported_algorithm"


@given(data=st.data())
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_spoiled_signature_is_refused_or_says_the_same(
    verifier: LocalVerifier, pki: TestPKI, data: st.DataObject
) -> None:
    # Whatever byte is changed, the answer is a SignatureError, or (for bytes nobody
    # signed, such as the unused digest algorithm list) the very same content and signer.
    detached = data.draw(st.booleans())
    good = _spoilable(pki, detached)
    at = data.draw(st.integers(0, len(good) - 1))
    spoiled = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255))]) + good[at + 1 :]
    content = DECISION if detached else CHALLENGE

    async def verify(der: bytes) -> Verified:
        if detached:
            return await verifier.verify_detached(der, content)
        return await verifier.verify_attached(der)

    expected = asyncio.run(verify(good))
    try:
        verified = asyncio.run(verify(spoiled))
    except SignatureError:
        return
    assert (verified.content, verified.signer) == (expected.content, expected.signer)


_SPOILABLE: dict[bool, bytes] = {}


def _spoilable(pki: TestPKI, detached: bool) -> bytes:
    if detached not in _SPOILABLE:
        identity = pki.deputy_rsa if detached else pki.deputy_ec
        _SPOILABLE[detached] = pki.sign(
            identity, DECISION if detached else CHALLENGE, detached=detached
        )
    return _SPOILABLE[detached]


# -- the clock ---------------------------------------------------------------------------


def at(pki: TestPKI, offset: timedelta) -> LocalVerifier:
    """A verifier whose clock is `offset` from the real one."""
    return LocalVerifier(
        pki.trust_dir, check_revocation=False, clock=lambda: datetime.now(UTC) + offset
    )


async def test_a_sign_in_signed_outside_the_window(pki: TestPKI) -> None:
    der = pki.sign(pki.deputy_ec, CHALLENGE)
    assert (await at(pki, timedelta(minutes=4)).verify_attached(der)).content == CHALLENGE
    for offset in (timedelta(minutes=6), timedelta(minutes=-6), timedelta(days=1)):
        assert await code_of(at(pki, offset).verify_attached(der)) == "bad_signing_time"


async def test_a_document_signed_in_the_future(pki: TestPKI) -> None:
    der = pki.sign(pki.deputy_ec, DECISION, detached=True)
    assert await code_of(at(pki, -timedelta(hours=1)).verify_detached(der, DECISION)) == (
        "bad_signing_time"
    )


async def test_a_document_is_judged_at_its_signing_time(pki: TestPKI) -> None:
    # Signed while the certificate was valid; checked after it expired: still good, as a
    # decision signed last year stays signed. A sign-in at that time would not be.
    now = datetime.now(UTC)
    short = pki.issue("Short Lived", pinfl="51234567890120", not_after=now + timedelta(days=1))
    detached = pki.sign(short, DECISION, detached=True)
    later = at(pki, timedelta(days=2))
    assert (await later.verify_detached(detached, DECISION)).signer.valid_until < now + timedelta(
        days=2
    )
    assert await code_of(later.verify_attached(pki.sign(short, CHALLENGE))) == "bad_signing_time"


# -- the trust directory -----------------------------------------------------------------


def test_trust_anchors_in_pem_bundles_and_der(pki: TestPKI, tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(
        pki.root.certificate.read_bytes() + pki.other_root.certificate.read_bytes()
    )
    (tmp_path / "intermediate.cer").write_bytes(
        openssl("x509", "-in", pki.intermediate.certificate, "-outform", "DER")
    )
    (tmp_path / ".hidden").write_text("not read")
    assert len(load_trust_anchors(tmp_path)) == 3


async def test_the_trust_directory_decides(pki: TestPKI, tmp_path: Path) -> None:
    (tmp_path / "other.pem").write_bytes(pki.other_root.certificate.read_bytes())
    verifier = LocalVerifier(tmp_path, check_revocation=False)
    assert (await check(verifier, pki, pki.untrusted, False)).signer.name == "Untrusted Deputy"
    assert await code_of(check(verifier, pki, pki.deputy_ec, False)) == "untrusted_certificate"


@pytest.mark.parametrize("what", ["missing", "empty", "junk", "key"])
def test_a_bad_trust_directory_stops_the_start(pki: TestPKI, tmp_path: Path, what: str) -> None:
    trust = tmp_path / "trust"
    if what != "missing":
        trust.mkdir()
    if what == "junk":
        (trust / "ca.pem").write_text("not a certificate")
    if what == "key":
        (trust / "ca.pem").write_bytes(pki.deputy_ec.key.read_bytes())
    with pytest.raises(ValueError):
        LocalVerifier(trust, check_revocation=False)


# -- the event loop stays free -------------------------------------------------------------


async def test_parsing_and_the_math_run_off_the_event_loop(
    verifier: LocalVerifier, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    for name in ("parse", "check_content", "check_signature"):
        real = getattr(cms, name)

        def spy(*args: object, _real: Callable[..., object] = real) -> object:
            threads.append(threading.current_thread())
            return _real(*args)

        monkeypatch.setattr(cms, name, spy)
    await check(verifier, pki, pki.deputy_rsa, False)
    await check(verifier, pki, pki.deputy_ec, True)
    assert len(threads) == 6
    assert threading.main_thread() not in threads


# -- revocation ------------------------------------------------------------------------------


def next_second() -> None:
    """Sleep into the next second: a CRL dates revocations to the second, and a
    signature in the same second as its certificate's revocation is not after it."""
    time.sleep(1.05 - (time.time() % 1))


async def test_revocation_through_the_crl(pki: TestPKI, crl_server: CRLServer) -> None:
    good = pki.issue("Listed Good", pinfl="61234567890121", crl_url=crl_server.url)
    revoked = pki.issue("Listed Revoked", pinfl="61234567890122", crl_url=crl_server.url)
    pki.revoke(revoked)
    crl_server.crl = pki.crl()
    next_second()
    verifier = LocalVerifier(pki.trust_dir, check_revocation=True, timeout=2)
    assert (await check(verifier, pki, good, False)).signer.name == "Listed Good"
    assert (await check(verifier, pki, good, True)).signer.name == "Listed Good"
    assert await code_of(check(verifier, pki, revoked, False)) == "certificate_revoked"
    assert await code_of(check(verifier, pki, revoked, True)) == "certificate_revoked"
    # A certificate that names no CRL or OCSP responder is taken as it is.
    assert (await check(verifier, pki, pki.deputy_ec, False)).signer.pinfl is not None
    assert crl_server.requests >= 4  # asked every time: nothing cached between checks


async def test_a_crl_that_cannot_be_had_is_unavailable(pki: TestPKI, crl_server: CRLServer) -> None:
    listed = pki.issue("Listed Down", pinfl="61234567890123", crl_url=crl_server.url)
    crl_server.stop()
    der = pki.sign(listed, CHALLENGE)
    with pytest.raises(VerifierUnavailable):
        await LocalVerifier(pki.trust_dir, check_revocation=True, timeout=2).verify_attached(der)
    # Offline (revocation off), the same signature is taken.
    offline = LocalVerifier(pki.trust_dir, check_revocation=False)
    assert (await offline.verify_attached(der)).signer.name == "Listed Down"


async def test_a_crl_server_that_hangs_is_unavailable_in_time(
    pki: TestPKI, crl_server: CRLServer
) -> None:
    listed = pki.issue("Listed Hang", pinfl="61234567890124", crl_url=crl_server.url)
    crl_server.hang = True
    verifier = LocalVerifier(pki.trust_dir, check_revocation=True, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_attached(pki.sign(listed, CHALLENGE))
    assert time.monotonic() - started < 2.5


async def test_a_crl_that_is_not_the_cas_is_unavailable(
    pki: TestPKI, crl_server: CRLServer
) -> None:
    listed = pki.issue("Listed Wrong", pinfl="61234567890125", crl_url=crl_server.url)
    crl_server.crl = pki.root.crl()  # signed by another CA
    with pytest.raises(VerifierUnavailable):
        await LocalVerifier(pki.trust_dir, check_revocation=True, timeout=2).verify_attached(
            pki.sign(listed, CHALLENGE)
        )
