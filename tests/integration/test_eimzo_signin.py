"""E-IMZO sign-in end to end: the server's challenge, an attached PKCS#7 made by openssl
with the test PKI, the person found by the certificate's PINFL. Every bad case gets its
code, is in the audit trail, and signs nobody in. With local verification on SQLite and
PostgreSQL, and through the E-IMZO-SERVER stand-in."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import Server, database_in, seed_demo, server_env, start_server
from tests.pki import (
    DEPUTY_PINFL,
    STAFF_PINFL,
    Identity,
    TestPKI,
    not_signed_data,
    tamper_message_digest,
)
from tests.signatures.eimzo_standin import EimzoStandIn

# The PINFL of the test PKI's second deputy (an ECDSA key).
SECOND_DEPUTY_PINFL = "31234567890125"


async def _give_pinfls(url: str) -> None:
    """deputy05, deputy06 and the secretary carry the test PKI's PINFLs."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for login, pinfl in (("deputy05", DEPUTY_PINFL), ("deputy06", SECOND_DEPUTY_PINFL)):
            await conn.execute(
                text(
                    "UPDATE deputies SET pinfl = :pinfl WHERE id ="
                    " (SELECT deputy_id FROM users WHERE login = :login)"
                ),
                {"pinfl": pinfl, "login": login},
            )
        await conn.execute(
            text("UPDATE users SET pinfl = :pinfl WHERE login = 'secretary'"),
            {"pinfl": STAFF_PINFL},
        )
    await engine.dispose()


def _server(stack: ExitStack, tmp: Path, backend: str, **env: str) -> Server:
    url = database_in(stack, tmp, backend)
    seed_demo(url)
    asyncio.run(_give_pinfls(url))
    server = start_server(server_env(url, tmp, **env), tmp / "server.log")
    stack.callback(server.kill)
    return server


@pytest.fixture(params=["sqlite", "postgresql"])
def local(request: pytest.FixtureRequest, pki: TestPKI, tmp_path: Path) -> Iterator[Server]:
    """A server that checks signatures itself, against the test PKI's root."""
    with ExitStack() as stack:
        yield _server(
            stack,
            tmp_path,
            request.param,
            KENGASH_EIMZO_TRUST_DIR=str(pki.trust_dir),
            KENGASH_EIMZO_CHECK_REVOCATION="0",
        )


async def challenge(http: httpx.AsyncClient) -> str:
    answer = await http.post("/api/auth/eimzo/challenge")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ttl"] == 120 and len(body["challenge"]) >= 32
    return str(body["challenge"])


def signed(pki: TestPKI, who: Identity, content: str) -> str:
    return base64.b64encode(pki.sign(who, content.encode())).decode()


async def sign_in(http: httpx.AsyncClient, pkcs7: str) -> httpx.Response:
    return await http.post("/api/auth/eimzo", json={"pkcs7": pkcs7})


async def test_deputies_and_staff_sign_in_with_their_keys(local: Server, pki: TestPKI) -> None:
    async with httpx.AsyncClient(base_url=local.url) as http:
        for who, login, role in (
            (pki.deputy_rsa, "deputy05", "deputy"),
            (pki.deputy_ec, "deputy06", "deputy"),
            (pki.staff_ec, "secretary", "secretary"),
        ):
            answer = await sign_in(http, signed(pki, who, await challenge(http)))
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["method"] == "eimzo" and body["user"]["login"] == login
            me = await http.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
            assert me.json()["role"] == role and me.json()["method"] == "eimzo"
        admin = (await http.post("/api/auth/demo", json={"login": "admin"})).json()["token"]
        trail = await http.get(
            "/api/audit",
            params={"method": "eimzo", "outcome": "ok"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        serials = {row["certificate_serial"] for row in trail.json()}
        assert {pki.deputy_rsa.serial, pki.deputy_ec.serial, pki.staff_ec.serial} <= serials


async def test_every_bad_signature_gets_its_code_and_signs_nobody_in(
    local: Server, pki: TestPKI
) -> None:
    stranger = pki.issue("Begona Shaxs", pinfl="51234567890125", key="ec")
    async with httpx.AsyncClient(base_url=local.url) as http:

        async def refused(pkcs7: str, status: int, code: str) -> None:
            answer = await sign_in(http, pkcs7)
            assert answer.status_code == status, (code, answer.text)
            assert answer.json()["error"]["code"] == code, answer.text

        good = signed(pki, pki.deputy_ec, await challenge(http))
        cases: list[tuple[str, int, str]] = [
            ("bm90IGEgc2lnbmF0dXJl!!", 400, "bad_pkcs7"),  # not base64
            (base64.b64encode(not_signed_data()).decode(), 400, "bad_pkcs7"),
            (signed(pki, pki.untrusted, await challenge(http)), 403, "untrusted_certificate"),
            (signed(pki, pki.expired, await challenge(http)), 403, "certificate_expired"),
            (
                signed(pki, pki.not_yet_valid, await challenge(http)),
                403,
                "certificate_not_yet_valid",
            ),
            (signed(pki, pki.ca_signer, await challenge(http)), 403, "not_signing_certificate"),
            (signed(pki, pki.no_pinfl, await challenge(http)), 403, "no_pinfl"),
            (signed(pki, stranger, await challenge(http)), 403, "unknown_person"),
            # Signed, but over something the server never issued, or not any more.
            (
                signed(pki, pki.deputy_ec, "9f86d081884c7d659a2feaa0c55ad015"),
                400,
                "challenge_invalid",
            ),
        ]
        tampered = tamper_message_digest(base64.b64decode(good))
        cases.append((base64.b64encode(tampered).decode(), 400, "bad_signature"))
        detached = pki.sign(pki.deputy_ec, (await challenge(http)).encode(), detached=True)
        cases.append((base64.b64encode(detached).decode(), 400, "bad_pkcs7"))
        for pkcs7, status, code in cases:
            await refused(pkcs7, status, code)
        # The good one still works once, then never again (replay).
        assert (await sign_in(http, good)).status_code == 200
        await refused(good, 400, "challenge_invalid")
        admin = (await http.post("/api/auth/demo", json={"login": "admin"})).json()["token"]
        trail = (
            await http.get(
                "/api/audit",
                params={"method": "eimzo", "outcome": "refused", "limit": 100},
                headers={"Authorization": f"Bearer {admin}"},
            )
        ).json()
    reasons = [row["reason"] for row in trail]
    assert sorted(reasons) == sorted([code for _, _, code in cases] + ["challenge_invalid"])
    # A refused certificate that names nobody still leaves its serial in the trail.
    assert any(r["certificate_serial"] == stranger.serial for r in trail)
    assert all(r["user"] is None for r in trail if r["reason"] != "unknown_person")


async def test_an_expired_challenge_is_refused(local: Server, pki: TestPKI) -> None:
    async with httpx.AsyncClient(base_url=local.url) as http:
        value = await challenge(http)
        engine = create_async_engine(local.env["KENGASH_DATABASE_URL"])
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE auth_challenges SET expires_at = created_at WHERE challenge = :c"),
                {"c": value},
            )
        await engine.dispose()
        answer = await sign_in(http, signed(pki, pki.deputy_ec, value))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "challenge_invalid"


@pytest.fixture
def through_eimzo_server(pki: TestPKI, tmp_path: Path) -> Iterator[tuple[Server, EimzoStandIn]]:
    standin = EimzoStandIn(pki)
    try:
        with ExitStack() as stack:
            server = _server(
                stack,
                tmp_path,
                "sqlite",
                KENGASH_EIMZO_SERVER_URL=standin.url,
                KENGASH_EIMZO_TIMEOUT_SECONDS="2",
            )
            yield server, standin
    finally:
        standin.stop()


async def test_signing_in_through_eimzo_server(
    through_eimzo_server: tuple[Server, EimzoStandIn], pki: TestPKI
) -> None:
    server, standin = through_eimzo_server
    async with httpx.AsyncClient(base_url=server.url) as http:
        value = await challenge(http)
        assert value in standin.challenges  # the service's own challenge
        answer = await sign_in(http, signed(pki, pki.deputy_rsa, value))
        assert answer.status_code == 200, answer.text
        assert answer.json()["user"]["login"] == "deputy05"
        auth = [seen for seen in standin.seen if seen.path == "/backend/auth"]
        assert auth and auth[-1].headers.get("X-Real-IP") == "127.0.0.1"
        # The service refuses a challenge it did not issue: the same code as ours.
        forged = signed(pki, pki.deputy_rsa, "00000000-0000-4000-8000-000000000000")
        refused = await sign_in(http, forged)
        assert refused.json()["error"]["code"] == "challenge_invalid"
        # The service down or hanging: 503, never a sign-in.
        value = await challenge(http)
        standin.hang = True
        answer = await sign_in(http, signed(pki, pki.deputy_rsa, value))
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "verifier_unavailable"
        down = await http.post("/api/auth/eimzo/challenge")
        assert down.status_code == 503


async def test_eimzo_is_off_without_a_verifier(module_server: Server) -> None:
    async with httpx.AsyncClient(base_url=module_server.url) as http:
        for path, body in (
            ("/api/auth/eimzo/challenge", None),
            ("/api/auth/eimzo", {"pkcs7": "MA=="}),
        ):
            answer = await http.post(path, json=body)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "eimzo_off"
