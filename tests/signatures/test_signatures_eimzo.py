"""EimzoServerVerifier against the E-IMZO-SERVER stand-in: the sign-in flow, each
documented status, and a server that is down, hangs, fails or answers nonsense."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from session_server.signatures.base import (
    ChallengeIssuer,
    SignatureError,
    Verified,
    VerifierUnavailable,
)
from session_server.signatures.cms import describe_signer, parse
from session_server.signatures.eimzo_server import EimzoServerVerifier
from tests.conftest import free_port
from tests.pki import DEPUTY_PINFL, Identity, TestPKI, tamper_signing_time
from tests.signatures.eimzo_standin import EimzoStandIn

DECISION = b"Qaror 12: byudjet tasdiqlansin."


@pytest.fixture
def verifier(eimzo: EimzoStandIn) -> EimzoServerVerifier:
    return EimzoServerVerifier(eimzo.url + "/", timeout=2)


async def code_of(call: Awaitable[Verified]) -> str:
    with pytest.raises(SignatureError) as caught:
        await call
    return caught.value.code


async def sign_in(verifier: EimzoServerVerifier, pki: TestPKI, identity: Identity) -> Verified:
    """The sign-in flow: E-IMZO-SERVER's challenge, signed, sent to /backend/auth."""
    challenge = await verifier.challenge()
    der = pki.sign(identity, challenge.value.encode())
    return await verifier.verify_attached(der, client_address="203.0.113.7", host="kengash.uz")


def answer(**fields: object) -> tuple[int, bytes]:
    return 200, json.dumps(fields).encode()


# -- sign-in -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["deputy_rsa", "deputy_ec", "staff_ec"])
async def test_sign_in(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI, who: str
) -> None:
    identity: Identity = getattr(pki, who)
    verified = await sign_in(verifier, pki, identity)
    challenge, auth = eimzo.seen
    assert (challenge.method, challenge.path) == ("GET", "/frontend/challenge")
    assert (auth.method, auth.path) == ("POST", "/backend/auth")
    assert verified.content.decode() not in eimzo.challenges  # used up
    assert verified.signer.pinfl == identity.pinfl
    assert verified.signer.serial == identity.serial
    assert verified.signed_at is not None
    # As E-IMZO-SERVER documents: the base64 PKCS#7 as the body, the user's address
    # and the site's name in X-Real-IP and Host.
    assert parse(base64.b64decode(auth.body, validate=True)).content == verified.content
    assert auth.headers["X-Real-IP"] == "203.0.113.7"
    assert auth.headers["Host"] == "kengash.uz"


async def test_the_signer_is_described_as_the_local_verifier_does(
    verifier: EimzoServerVerifier, pki: TestPKI
) -> None:
    challenge = await verifier.challenge()
    der = pki.sign(pki.deputy_rsa, challenge.value.encode(), stream=True)
    verified = await verifier.verify_attached(der)
    assert verified.signer == describe_signer(parse(der).signer_certificate)
    assert verified.signer.pinfl == DEPUTY_PINFL


async def test_the_verifier_issues_challenges(verifier: EimzoServerVerifier) -> None:
    assert isinstance(verifier, ChallengeIssuer)
    first, second = await verifier.challenge(), await verifier.challenge()
    assert first.value != second.value
    assert first.ttl_seconds == 120


async def test_a_challenge_it_did_not_issue(verifier: EimzoServerVerifier, pki: TestPKI) -> None:
    der = pki.sign(pki.deputy_ec, b"a challenge of our own making")
    assert await code_of(verifier.verify_attached(der)) == "unknown_challenge"


async def test_a_challenge_used_twice(verifier: EimzoServerVerifier, pki: TestPKI) -> None:
    challenge = await verifier.challenge()
    der = pki.sign(pki.deputy_ec, challenge.value.encode())
    await verifier.verify_attached(der)
    assert await code_of(verifier.verify_attached(der)) == "unknown_challenge"


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("untrusted", "untrusted_certificate"),  # -11
        ("expired", "certificate_expired"),  # -12, after the validity
        ("not_yet_valid", "certificate_not_yet_valid"),  # -12, before it
    ],
)
async def test_sign_in_with_a_bad_certificate(
    verifier: EimzoServerVerifier, pki: TestPKI, who: str, code: str
) -> None:
    assert await code_of(sign_in(verifier, pki, getattr(pki, who))) == code


async def test_a_ca_certificate_is_refused_without_asking(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    assert await code_of(sign_in(verifier, pki, pki.ca_signer)) == "not_signing_certificate"
    assert [seen.path for seen in eimzo.seen] == ["/frontend/challenge"]


async def test_a_tampered_sign_in(verifier: EimzoServerVerifier, pki: TestPKI) -> None:
    challenge = await verifier.challenge()
    der = tamper_signing_time(pki.sign(pki.deputy_ec, challenge.value.encode()))
    assert await code_of(verifier.verify_attached(der)) == "bad_signature"  # -10


async def test_a_signing_time_off_the_servers_clock(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    eimzo.clock_offset = timedelta(minutes=30)
    assert await code_of(sign_in(verifier, pki, pki.deputy_ec)) == "bad_signing_time"  # -5


async def test_the_certificate_status_unknown_is_unavailable(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    eimzo.status_source_down = True
    with pytest.raises(VerifierUnavailable):
        await sign_in(verifier, pki, pki.deputy_ec)  # -1


async def test_junk_is_refused_without_asking(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    assert await code_of(verifier.verify_attached(b"\x30\x03abc")) == "bad_pkcs7"
    detached = pki.sign(pki.deputy_ec, b"x", detached=True)
    assert await code_of(verifier.verify_attached(detached)) == "bad_pkcs7"
    assert await code_of(verifier.verify_detached(b"junk", DECISION)) == "bad_pkcs7"
    assert eimzo.seen == []


async def test_the_servers_message_is_logged_not_returned(
    verifier: EimzoServerVerifier, pki: TestPKI
) -> None:
    with capture_logs() as logs, pytest.raises(SignatureError) as caught:
        await verifier.verify_attached(pki.sign(pki.deputy_ec, b"not its challenge"))
    assert "internal details" not in caught.value.message
    refused = [entry for entry in logs if entry["event"] == "eimzo_server_refused"]
    assert refused and refused[0]["status"] == -20
    assert "internal details" in refused[0]["message"]


# -- detached ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["deputy_rsa", "deputy_ec"])
async def test_detached(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI, who: str
) -> None:
    identity: Identity = getattr(pki, who)
    der = pki.sign(identity, DECISION, detached=True)
    verified = await verifier.verify_detached(der, DECISION)
    assert verified.content == DECISION
    assert verified.signer.serial == identity.serial
    (seen,) = eimzo.seen
    assert seen.path == "/backend/pkcs7/verify/detached"
    # The content and the PKCS#7, each base64, joined by `|`.
    assert seen.body == base64.b64encode(DECISION) + b"|" + base64.b64encode(der)


async def test_detached_over_other_content(verifier: EimzoServerVerifier, pki: TestPKI) -> None:
    der = pki.sign(pki.deputy_ec, DECISION, detached=True)
    assert await code_of(verifier.verify_detached(der, b"another decision")) == "bad_signature"


async def test_an_attached_signature_over_other_content(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    der = pki.sign(pki.deputy_ec, DECISION)
    assert await code_of(verifier.verify_detached(der, b"another")) == "wrong_content"
    assert eimzo.seen == []


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("untrusted", "untrusted_certificate"),
        ("expired", "certificate_expired"),
        ("not_yet_valid", "certificate_not_yet_valid"),
    ],
)
async def test_detached_with_a_bad_certificate(
    verifier: EimzoServerVerifier, pki: TestPKI, who: str, code: str
) -> None:
    der = pki.sign(getattr(pki, who), DECISION, detached=True)
    assert await code_of(verifier.verify_detached(der, DECISION)) == code


async def test_detached_with_a_revoked_certificate(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    der = pki.sign(pki.staff_ec, DECISION, detached=True)
    eimzo.revoked.add(parse(der).signer_certificate.serial_number)
    assert await code_of(verifier.verify_detached(der, DECISION)) == "certificate_revoked"


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        ({"verified": False}, "bad_signature"),
        ({"certificateVerified": False}, "untrusted_certificate"),
        ({"certificateValidAtSigningTime": False}, "certificate_expired"),
    ],
)
async def test_detached_status_1_with_a_failed_check(
    verifier: EimzoServerVerifier,
    eimzo: EimzoStandIn,
    pki: TestPKI,
    flags: dict[str, bool],
    code: str,
) -> None:
    der = pki.sign(pki.deputy_ec, DECISION, detached=True)
    signer = {
        "certificate": [{"serialNumber": pki.deputy_ec.serial}],
        "verified": True,
        "certificateVerified": True,
        "certificateValidAtSigningTime": True,
        **flags,
    }
    eimzo.script.append(answer(status=1, message="", pkcs7Info={"signers": [signer]}))
    assert await code_of(verifier.verify_detached(der, DECISION)) == code


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (-10, "bad_signature"),
        (-11, "untrusted_certificate"),
        (-21, "bad_signature"),
        (-22, "untrusted_certificate"),
        (-23, "untrusted_certificate"),
        (-99, "bad_signature"),
    ],
)
async def test_detached_statuses(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI, status: int, code: str
) -> None:
    eimzo.script.append(answer(status=status, message="details"))
    der = pki.sign(pki.deputy_ec, DECISION, detached=True)
    assert await code_of(verifier.verify_detached(der, DECISION)) == code


@pytest.mark.parametrize("status", [-1, -20])
async def test_detached_status_sources_down(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI, status: int
) -> None:
    eimzo.script.append(answer(status=status, message="status service down"))
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_detached(pki.sign(pki.deputy_ec, DECISION, detached=True), DECISION)


# -- a server that fails ---------------------------------------------------------------------


async def test_an_undocumented_sign_in_status_is_a_refusal(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    eimzo.script += [
        answer(challenge="c-1", ttl=120, status=1, message=""),
        answer(status=-7, message="?"),
    ]
    assert await code_of(sign_in(verifier, pki, pki.deputy_ec)) == "bad_signature"


async def test_a_success_about_another_certificate_is_no_success(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    other = {"serialNumber": pki.staff_ec.serial, "subjectName": {"CN": "Someone Else"}}
    eimzo.script += [
        answer(challenge="c-2", ttl=120, status=1, message=""),
        answer(status=1, message="", subjectCertificateInfo=other),
    ]
    with pytest.raises(VerifierUnavailable):
        await sign_in(verifier, pki, pki.deputy_ec)


@pytest.mark.parametrize(
    "reply",
    [
        (503, b"Service Unavailable"),
        (500, b"oops"),
        (404, b"no such path"),
        (200, b"<html>not json</html>"),
        (200, b'{"message": "no status"}'),
        (200, b"[1, 2]"),
    ],
    ids=["503", "500", "404", "not-json", "no-status", "not-an-object"],
)
async def test_answers_that_are_no_answer(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI, reply: tuple[int, bytes]
) -> None:
    eimzo.script.append(reply)
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_detached(pki.sign(pki.deputy_ec, DECISION, detached=True), DECISION)


async def test_http_400_is_an_unreadable_signature(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn, pki: TestPKI
) -> None:
    eimzo.script.append((400, b"Bad Request"))
    der = pki.sign(pki.deputy_ec, DECISION, detached=True)
    assert await code_of(verifier.verify_detached(der, DECISION)) == "bad_pkcs7"


async def test_no_challenge_is_unavailable(
    verifier: EimzoServerVerifier, eimzo: EimzoStandIn
) -> None:
    eimzo.script.append(answer(status=-1, message="cache down"))
    with pytest.raises(VerifierUnavailable):
        await verifier.challenge()


async def test_a_server_that_hangs(eimzo: EimzoStandIn, pki: TestPKI) -> None:
    verifier = EimzoServerVerifier(eimzo.url, timeout=0.5)
    der = pki.sign(pki.deputy_ec, DECISION, detached=True)
    eimzo.hang = True
    started = time.monotonic()
    for call in (
        verifier.challenge(),
        verifier.verify_detached(der, DECISION),
        verifier.verify_attached(pki.sign(pki.deputy_ec, b"c")),
    ):
        with pytest.raises(VerifierUnavailable):
            await call
    assert time.monotonic() - started < 3


async def test_a_server_that_is_down(pki: TestPKI) -> None:
    verifier = EimzoServerVerifier(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(VerifierUnavailable):
        await verifier.challenge()
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_attached(pki.sign(pki.deputy_ec, b"c"))
    with pytest.raises(VerifierUnavailable):
        await verifier.verify_detached(pki.sign(pki.deputy_ec, b"d", detached=True), b"d")
