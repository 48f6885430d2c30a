"""Signing in with One ID, against a stand-in for One ID (tests/oneid_standin.py) that
answers as One ID documents: the whole flow, and every way it is refused, each written
to the audit trail and signing nobody in. On SQLite and PostgreSQL. The test plays the
browser: it follows the redirects to One ID and back by hand, keeping its cookies."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from session_server import demo
from session_server.auth import oneid
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.settings import Settings
from tests.conftest import Server, database_in, free_port, seed_demo, server_env, start_server
from tests.oneid_standin import OneIdStandIn, person

CLIENT_ID = "kengash-live"
# Recognisable, so that the test can look for it in the server's log.
SECRET = f"oneid-secret-{uuid.uuid4().hex}"
DEPUTY05 = demo.roster()[4]  # seat 5: the user deputy05
CHAIR = demo.roster()[0]  # seat 1: the user chair
NOBODY = "59999999999999"  # a PINFL of nobody here


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the pure parts --------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key="x" * 32, **values)


def test_no_client_id_is_one_id_off_and_half_a_set_up_does_not_start() -> None:
    assert oneid.config_from(settings()) is None
    assert oneid.config_from(settings(oneid_client_id="  ")) is None
    callback = "https://live.example.uz/api/auth/oneid/callback"
    whole: dict[str, Any] = {
        "oneid_client_id": CLIENT_ID,
        "oneid_client_secret": SecretStr(SECRET),
        "oneid_redirect_uri": callback,
    }
    config = oneid.config_from(settings(**whole))
    assert config is not None and config.scope == CLIENT_ID
    assert config.url == "https://sso.egov.uz/sso/oauth/Authorization.do"
    # The secret is never shown: not by the settings, not by the client's settings.
    assert SECRET not in repr(config) and SECRET not in repr(settings(**whole))
    wrongs: list[tuple[dict[str, Any], str]] = [
        ({"oneid_client_secret": None}, "KENGASH_ONEID_CLIENT_SECRET"),
        ({"oneid_redirect_uri": None}, "KENGASH_ONEID_REDIRECT_URI"),
        ({"oneid_redirect_uri": "https://live.example.uz/elsewhere"}, "must end with"),
        ({"oneid_redirect_uri": "live.example.uz/api/auth/oneid/callback"}, "must be an http"),
        ({"oneid_url": "ftp://sso.egov.uz/x"}, "KENGASH_ONEID_URL"),
    ]
    for wrong, says in wrongs:
        with pytest.raises(ValueError, match=says):
            oneid.config_from(settings(**(whole | wrong)))
    production = whole | {"environment": "production"}
    with pytest.raises(ValueError, match="https://"):
        oneid.config_from(
            settings(**(production | {"oneid_redirect_uri": callback[:4] + callback[5:]}))
        )
    assert oneid.config_from(settings(**production)) is not None


def test_the_authorisation_address_and_the_forms() -> None:
    config = oneid.OneIdConfig(
        url="https://sso.egov.uz/sso/oauth/Authorization.do",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        redirect_uri="https://live.example.uz/api/auth/oneid/callback",
        scope="kengash",
        timeout=5,
    )
    state = oneid.new_state("/chair")
    parts = urlsplit(oneid.authorization_url(config, state))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == config.url
    assert parse_qs(parts.query) == {
        "response_type": ["one_code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": [config.redirect_uri],
        "scope": ["kengash"],
        "state": [state],
    }
    assert SECRET not in oneid.authorization_url(config, state)
    assert oneid.token_form(config, "c0de") == {
        "grant_type": "one_authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "redirect_uri": config.redirect_uri,
        "code": "c0de",
    }
    assert oneid.identify_form(config, "t0ken") == {
        "grant_type": "one_access_token_identify",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "access_token": "t0ken",
        "scope": "kengash",
    }


def test_the_state_names_its_page_and_carries_128_random_bits() -> None:
    states = {oneid.new_state(page) for page in oneid.PAGES for _ in range(50)}
    assert len(states) == 50 * len(oneid.PAGES)
    for page in oneid.PAGES:
        state = oneid.new_state(page)
        assert oneid.page_of(state) == page and len(state) <= 64
        assert len(state.split(".")[1]) == 32  # hexadecimal: 128 bits
        assert oneid.cookie_name(state) != oneid.cookie_name(oneid.new_state(page))
    for junk in ("", "deputy", "evil." + "0" * 32, "deputy." + "0" * 31, "deputy.x" * 5):
        assert oneid.page_of(junk) is None and oneid.cookie_name(junk) is None
    code = oneid.new_handover_code("ab" * 16)
    assert oneid.sign_in_of(code) == "ab" * 16 and len(oneid.digest(code)) == 64
    assert oneid.sign_in_of("nodot") is None and oneid.sign_in_of(".x") is None


def answer(data: Any) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, answer({"access_token": "t"}), None),
        (400, answer({"error": "invalid_grant", "error_description": "used"}), "oneid_refused"),
        (200, answer({"error": "invalid_token"}), "oneid_refused"),
        (401, b"<html>Unauthorized</html>", "oneid_bad_answer"),
        (404, answer({"message": "no"}), "oneid_bad_answer"),
        (200, b"<html>OneID</html>", "oneid_bad_answer"),
        (200, answer([1, 2]), "oneid_bad_answer"),
        (200, b'{"access_token": NaN}', "oneid_bad_answer"),
        (200, b"\xff\xfe", "oneid_bad_answer"),
        (200, b"[" * 100_000, "oneid_bad_answer"),
        (500, answer({"error": "server_error"}), "unavailable"),
        (503, b"", "unavailable"),
    ],
)
def test_reading_one_ids_answers(status: int, body: bytes, outcome: str | None) -> None:
    if outcome is None:
        assert oneid.read_answer(status, body, "code") == {"access_token": "t"}
    elif outcome == "unavailable":
        with pytest.raises(oneid.OneIdUnavailable):
            oneid.read_answer(status, body, "code")
    else:
        with pytest.raises(oneid.OneIdRefused) as refused:
            oneid.read_answer(status, body, "code")
        assert refused.value.code == outcome


def test_the_access_token_and_the_person() -> None:
    for bad in ({}, {"access_token": ""}, {"access_token": 7}, {"access_token": "t" * 5000}):
        with pytest.raises(oneid.OneIdRefused, match="access token"):
            oneid.access_token_of(bad)
    assert oneid.identity_of(person(DEPUTY05.pinfl)).pinfl == DEPUTY05.pinfl
    assert oneid.identity_of({"pin": int(DEPUTY05.pinfl), "valid": True}).pinfl == DEPUTY05.pinfl
    for pin in (None, "", "1234", "3010165260017x", "301016526001712", True, ["30101652600171"]):
        with pytest.raises(oneid.OneIdRefused) as refused:
            oneid.identity_of({"valid": "true"} if pin is None else {"pin": pin})
        assert refused.value.code == "no_pinfl", pin
    for valid in (False, "false", "FALSE"):
        with pytest.raises(oneid.OneIdRefused) as refused:
            oneid.identity_of({"pin": DEPUTY05.pinfl, "valid": valid})
        assert refused.value.code == "oneid_refused"


# -- a server with One ID, and the stand-in ---------------------------------------------------


@pytest.fixture(scope="module")
def standin() -> Iterator[OneIdStandIn]:
    one_id = OneIdStandIn(client_id=CLIENT_ID, client_secret=SECRET)
    try:
        yield one_id
    finally:
        one_id.stop()


def oneid_env(one_id_url: str, port: int) -> dict[str, str]:
    return {
        "KENGASH_ONEID_URL": one_id_url,
        "KENGASH_ONEID_CLIENT_ID": CLIENT_ID,
        "KENGASH_ONEID_CLIENT_SECRET": SECRET,
        "KENGASH_ONEID_REDIRECT_URI": f"http://127.0.0.1:{port}/api/auth/oneid/callback",
        # Short, for the hanging One ID; the stand-in answers in milliseconds.
        "KENGASH_ONEID_TIMEOUT_SECONDS": "1",
        # INFO: the access log too, which must not show the secret either.
        "KENGASH_LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    standin: OneIdStandIn,
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("oneid")
    with ExitStack() as stack:
        url = database_in(stack, tmp, request.param)
        seed_demo(url)
        port = free_port()
        env = server_env(url, tmp, **oneid_env(standin.url, port))
        standin.redirect_uri = env["KENGASH_ONEID_REDIRECT_URI"]
        running = start_server(env, tmp / "server.log", port=port)
        stack.callback(running.kill)
        yield running


@pytest.fixture
def one_id(standin: OneIdStandIn) -> OneIdStandIn:
    """The stand-in, behaving, with deputy05 signing in."""
    standin.reset(person(DEPUTY05.pinfl, DEPUTY05.full_name))
    return standin


@pytest.fixture(scope="module")
def admin(server: Server) -> str:
    return server.token("admin")


# -- playing the browser -----------------------------------------------------------------------


def browser(server: Server) -> httpx.AsyncClient:
    """A browser of its own: its own cookies, following no redirect by itself."""
    return httpx.AsyncClient(base_url=server.url, timeout=15)


async def start(http: httpx.AsyncClient, page: str = "/deputy") -> tuple[str, str]:
    """GET /api/auth/oneid/start: One ID's address the browser is sent to, and the state."""
    answer = await http.get("/api/auth/oneid/start", params={"page": page})
    assert answer.status_code == 302, answer.text
    assert answer.headers["cache-control"] == "no-store"
    location = answer.headers["location"]
    return location, parse_qs(urlsplit(location).query)["state"][0]


async def at_one_id(http: httpx.AsyncClient, location: str) -> str:
    """The person signs in at One ID: the address One ID sends the browser back to."""
    answer = await http.get(location)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


async def back(http: httpx.AsyncClient, callback: str) -> tuple[str, dict[str, str]]:
    """The callback: the page it sends the browser to, and what the fragment says."""
    answer = await http.get(callback)
    assert answer.status_code == 302, answer.text
    assert answer.headers["cache-control"] == "no-store"
    page, _, fragment = answer.headers["location"].partition("#")
    return page, dict(parse_qsl(fragment))


async def through_one_id(http: httpx.AsyncClient, page: str = "/deputy") -> dict[str, str]:
    location, _ = await start(http, page)
    returned_to, fragment = await back(http, await at_one_id(http, location))
    assert returned_to == page
    return fragment


async def handover(http: httpx.AsyncClient, code: str) -> httpx.Response:
    return await http.post("/api/auth/oneid/handover", json={"code": code})


async def trail(http: httpx.AsyncClient, admin: str, **filters: Any) -> list[dict[str, Any]]:
    answer = await http.get(
        "/api/audit", params={"method": "oneid", **filters}, headers=bearer(admin)
    )
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


async def in_the_database(server: Server, work: Any) -> Any:
    database = Database(server.env["KENGASH_DATABASE_URL"])
    try:
        return await database.transact(work)
    finally:
        await database.dispose()


# -- the whole flow ------------------------------------------------------------------------------


async def test_methods_say_one_id_is_on(server: Server) -> None:
    async with browser(server) as http:
        answer = await http.get("/api/auth/methods")
    assert answer.json() == {"demo": True, "eimzo": False, "oneid": True}


async def test_a_deputy_signs_in_with_one_id(
    server: Server, one_id: OneIdStandIn, admin: str
) -> None:
    async with browser(server) as http:
        location, state = await start(http, "/deputy")
        # To One ID, with what it documents; the state tied to this browser by a cookie.
        assert location.startswith(f"{one_id.url}?")
        query = parse_qs(urlsplit(location).query)
        assert query == {
            "response_type": ["one_code"],
            "client_id": [CLIENT_ID],
            "redirect_uri": [server.env["KENGASH_ONEID_REDIRECT_URI"]],
            "scope": [CLIENT_ID],
            "state": [state],
        }
        assert oneid.page_of(state) == "/deputy"
        [cookie] = [c for c in http.cookies.jar if c.value == state]
        assert cookie.path == "/api/auth/oneid/callback" and cookie.has_nonstandard_attr("HttpOnly")
        callback = await at_one_id(http, location)
        assert callback.startswith(server.env["KENGASH_ONEID_REDIRECT_URI"] + "?")
        page, fragment = await back(http, callback)
        assert page == "/deputy" and set(fragment) == {"oneid"}
        code = fragment["oneid"]
        # The database holds neither the hand-over code nor a token: only the code's digest.
        rows = await in_the_database(
            server,
            lambda db: [
                (c.challenge, c.purpose, c.used_at)
                for c in db.scalars(select(models.AuthChallenge))
            ],
        )
        assert (state, "oneid") in {(c, p) for c, p, used in rows if used is not None}
        assert (hashlib.sha256(code.encode()).hexdigest(), "oneid_handover", None) in rows
        assert not any(code in c for c, _, _ in rows)
        # What the server asked One ID: the code, then the person; form-encoded, the
        # secret in the body and never in an address.
        posts = [s for s in one_id.seen if s.method == "POST"]
        assert [s.form["grant_type"] for s in posts] == [
            "one_authorization_code",
            "one_access_token_identify",
        ]
        assert all(s.query == {} for s in posts)
        assert all(s.content_type.startswith("application/x-www-form-urlencoded") for s in posts)
        exchange, identify = posts[0].form, posts[1].form
        assert exchange["client_secret"] == SECRET == identify["client_secret"]
        assert exchange["code"] == parse_qs(urlsplit(callback).query)["code"][0]
        assert exchange["redirect_uri"] == server.env["KENGASH_ONEID_REDIRECT_URI"]
        assert identify["scope"] == CLIENT_ID and identify["access_token"]

        signed_in = await handover(http, code)
        assert signed_in.status_code == 200, signed_in.text
        body = signed_in.json()
        assert set(body) == {"token", "user", "method", "face_verified", "expires_at"}
        assert body["method"] == "oneid" and body["user"]["login"] == "deputy05"
        assert body["user"]["role"] == "deputy" and body["expires_at"].endswith("Z")
        me = (await http.get("/api/me", headers=bearer(body["token"]))).json()
        assert me["login"] == "deputy05" and me["method"] == "oneid"
        assert me["expires_at"] == body["expires_at"]

        # Each code counts once: the hand-over, and the state (the callback again).
        again = await handover(http, code)
        assert again.status_code == 400
        assert again.json()["error"]["code"] == "handover_invalid"
        assert await back(http, callback) == ("/deputy", {"oneid_error": "state_invalid"})
        rows_now = await trail(http, admin, limit=3)
    assert [(r["outcome"], r["reason"]) for r in rows_now] == [
        ("refused", "state_invalid"),
        ("refused", "handover_invalid"),
        ("ok", ""),
    ]
    assert rows_now[2]["user"]["login"] == "deputy05" and rows_now[2]["kind"] == "sign_in"
    assert rows_now[0]["user"] is None and rows_now[0]["address"] == "127.0.0.1"


async def test_the_chair_returns_to_the_chair_console(server: Server, one_id: OneIdStandIn) -> None:
    one_id.reset(person(CHAIR.pinfl, CHAIR.full_name))
    async with browser(server) as http:
        fragment = await through_one_id(http, "/chair")
        body = (await handover(http, fragment["oneid"])).json()
    assert body["user"]["login"] == "chair" and body["user"]["role"] == "chair"


async def test_start_takes_only_the_member_pages(server: Server) -> None:
    async with browser(server) as http:
        for page in ("", "/", "/watch/1", "https://evil.example/deputy", "/deputy/../x", "deputy"):
            answer = await http.get("/api/auth/oneid/start", params={"page": page})
            assert answer.status_code == 400, page
            assert answer.json()["error"]["code"] == "bad_query"
        assert (await http.get("/api/auth/oneid/start")).status_code == 400


# -- every refusal ------------------------------------------------------------------------------


async def refused_with(
    http: httpx.AsyncClient, admin: str, callback: str, reason: str, page: str = "/deputy"
) -> None:
    """The callback sends the browser back to the page with the reason, signs nobody in,
    and the trail has the refusal as its newest One ID row."""
    before = await trail(http, admin, outcome="ok", limit=1)
    assert await back(http, callback) == (page, {"oneid_error": reason})
    [row] = await trail(http, admin, limit=1)
    assert (row["kind"], row["outcome"], row["reason"]) == ("sign_in", "refused", reason)
    assert await trail(http, admin, outcome="ok", limit=1) == before


def callback_for(server: Server, state: str, code: str = "c0de", **extra: str) -> str:
    query = urlencode({"code": code, "state": state, **extra})
    return f"{server.env['KENGASH_ONEID_REDIRECT_URI']}?{query}"


async def test_a_state_not_ours_or_not_this_browsers_is_refused(
    server: Server, one_id: OneIdStandIn, admin: str
) -> None:
    async with browser(server) as http:
        await start(http)  # this browser has a live state, but not this one
        unknown = oneid.new_state("/chair")
        await refused_with(http, admin, callback_for(server, unknown), "state_invalid", "/chair")
        await refused_with(http, admin, callback_for(server, ""), "state_invalid")
        await refused_with(http, admin, callback_for(server, "junk"), "state_invalid")
        # Started in one browser, brought back in another (login CSRF).
        location, _ = await start(http)
        callback = await at_one_id(http, location)
        async with browser(server) as other:
            await refused_with(other, admin, callback, "state_invalid")
        # ...which also used the state up.
        await refused_with(http, admin, callback, "state_invalid")


async def test_an_expired_state_is_refused(
    server: Server, one_id: OneIdStandIn, admin: str
) -> None:
    async with browser(server) as http:
        location, state = await start(http)
        callback = await at_one_id(http, location)

        def expire(db: DbSession) -> None:
            db.execute(
                update(models.AuthChallenge)
                .where(models.AuthChallenge.challenge == state)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

        await in_the_database(server, expire)
        await refused_with(http, admin, callback, "state_invalid")
        # One ID was not asked: the state was refused before the code was used.
        assert not [s for s in one_id.seen if s.method == "POST"]


SCRIPTED: list[tuple[str, list[tuple[int, bytes]], str]] = [
    (
        "One ID refuses the code",
        [(400, answer({"error": "invalid_grant", "error_description": "code used"}))],
        "oneid_refused",
    ),
    (
        "One ID refuses the access token",
        [
            (200, answer({"access_token": "t", "token_type": "Bearer"})),
            (400, answer({"error": "invalid_token", "error_description": "expired"})),
        ],
        "oneid_refused",
    ),
    ("junk for the code", [(200, b"<html><body>OneID</body></html>")], "oneid_bad_answer"),
    (
        "junk for the person",
        [(200, answer({"access_token": "t"})), (200, b'{"pin": "3010')],
        "oneid_bad_answer",
    ),
    ("no access token", [(200, answer({"token_type": "Bearer"}))], "oneid_bad_answer"),
    ("a 404", [(404, b"<html>Not Found</html>")], "oneid_bad_answer"),
    ("a 302", [(302, b"")], "oneid_bad_answer"),
    ("a 502", [(502, b"<html>Bad Gateway</html>")], "oneid_unavailable"),
    (
        "identification not valid",
        [(200, answer({"access_token": "t"})), (200, answer({"valid": "false", "pin": NOBODY}))],
        "oneid_refused",
    ),
]


@pytest.mark.parametrize(("case", "script", "reason"), SCRIPTED, ids=[c[0] for c in SCRIPTED])
async def test_one_ids_errors_and_junk_are_refused(
    server: Server,
    one_id: OneIdStandIn,
    admin: str,
    case: str,
    script: list[tuple[int, bytes]],
    reason: str,
) -> None:
    one_id.script.extend(script)
    async with browser(server) as http:
        location, _ = await start(http)
        await refused_with(http, admin, await at_one_id(http, location), reason)
    assert not one_id.script, f"{case}: the server did not ask what it should have"


@pytest.mark.parametrize(
    ("who", "reason"),
    [(person(None), "no_pinfl"), (person(NOBODY), "unknown_person")],
    ids=["no pin", "a PINFL of nobody here"],
)
async def test_a_person_who_may_not_sign_in_is_refused(
    server: Server, one_id: OneIdStandIn, admin: str, who: dict[str, Any], reason: str
) -> None:
    one_id.reset(who)
    users = await in_the_database(server, lambda db: len(list(db.scalars(select(models.User)))))
    async with browser(server) as http:
        location, _ = await start(http)
        await refused_with(http, admin, await at_one_id(http, location), reason)
    # Nobody was made an account.
    assert (
        await in_the_database(server, lambda db: len(list(db.scalars(select(models.User)))))
        == users
    )


async def test_a_declined_sign_in_is_refused(
    server: Server, one_id: OneIdStandIn, admin: str
) -> None:
    async with browser(server) as http:
        _, state = await start(http)
        declined = f"{server.env['KENGASH_ONEID_REDIRECT_URI']}?" + urlencode(
            {"error": "access_denied", "state": state}
        )
        await refused_with(http, admin, declined, "oneid_refused")
        _, state = await start(http)
        await refused_with(http, admin, callback_for(server, state, code=""), "oneid_bad_answer")


async def test_a_hanging_one_id_is_unavailable_after_the_timeout(
    server: Server, one_id: OneIdStandIn, admin: str
) -> None:
    async with browser(server) as http:
        location, _ = await start(http)
        callback = await at_one_id(http, location)
        one_id.hang = True
        began = time.monotonic()
        await refused_with(http, admin, callback, "oneid_unavailable")
        assert time.monotonic() - began < 5  # KENGASH_ONEID_TIMEOUT_SECONDS=1


async def test_a_hand_over_code_counts_once_and_only_while_its_sign_in_does(
    server: Server, one_id: OneIdStandIn, admin: str
) -> None:
    async with browser(server) as http:
        # Expired.
        code = (await through_one_id(http))["oneid"]

        def expire(db: DbSession) -> None:
            db.execute(
                update(models.AuthChallenge)
                .where(models.AuthChallenge.challenge == oneid.digest(code))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

        await in_the_database(server, expire)
        answer = await handover(http, code)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "handover_invalid"
        # Its sign-in ended by the secretariat before the page redeemed it.
        code = (await through_one_id(http))["oneid"]
        user = (await trail(http, admin, outcome="ok", limit=1))[0]["user"]["id"]
        ended = await http.post(f"/api/users/{user}/sign-ins/end", headers=bearer(admin))
        assert ended.json()["ended"] >= 1
        answer = await handover(http, code)
        assert answer.status_code == 400
        # Made up, or another sign-in's id with a guessed secret half.
        sign_in = oneid.sign_in_of(code)
        for made_up in ("x", f"{sign_in}.{'0' * 32}", code + "0", code.upper()):
            answer = await handover(http, made_up)
            assert answer.status_code == 400, made_up
            assert answer.json()["error"]["code"] == "handover_invalid"
        rows = await trail(http, admin, outcome="refused", limit=6)
    assert [r["reason"] for r in rows] == ["handover_invalid"] * 6
    bad_bodies: list[Any] = [{}, {"code": ""}, {"code": 5}, {"code": "x", "more": 1}, [1]]
    async with browser(server) as http:
        for body in bad_bodies:
            answer = await http.post("/api/auth/oneid/handover", json=body)
            assert answer.status_code == 422, body


def read_log(server: Server) -> str:
    return Path(server.log).read_text(encoding="utf-8", errors="replace")


async def test_the_secret_tokens_and_pinfls_stay_out_of_the_log(
    server: Server, one_id: OneIdStandIn
) -> None:
    async with browser(server) as http:
        # Refusals, which are logged with what One ID said...
        one_id.script.append((400, answer({"error": "invalid_client"})))
        assert "oneid_error" in await through_one_id(http)
        cut_off = f'{{"pin": "{DEPUTY05.pinfl[:6]}'
        one_id.script.extend([(200, answer({"access_token": "t"})), (200, cut_off.encode())])
        assert "oneid_error" in await through_one_id(http)
        # ...and a sign-in.
        code = (await through_one_id(http))["oneid"]
        token = (await handover(http, code)).json()["token"]
    log = read_log(server)
    assert "error=invalid_client" in log and "oneid_bad_answer" in log
    assert SECRET not in log and code not in log and token not in log
    # Never a PINFL, not even the start of one in junk.
    assert DEPUTY05.pinfl not in log and '"pin"' not in log


# -- One ID unreachable ---------------------------------------------------------------------------


@pytest.fixture
def unreachable(demo_db: Database, database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server whose One ID address has nobody listening: connections are refused."""
    port = free_port()
    nobody = f"http://127.0.0.1:{free_port()}/sso/oauth/Authorization.do"
    env = server_env(database_url, tmp_path, **oneid_env(nobody, port))
    running = start_server(env, tmp_path / "server.log", port=port)
    try:
        yield running
    finally:
        running.kill()


async def test_one_id_down_is_unavailable(unreachable: Server) -> None:
    admin = unreachable.token("admin")
    async with browser(unreachable) as http:
        _, state = await start(http)
        # The browser could not reach One ID either; the callback as if it had come back.
        await refused_with(http, admin, callback_for(unreachable, state), "oneid_unavailable")
