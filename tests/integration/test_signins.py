"""Sign-in records: sign-out and the secretariat's ending of a user's sign-ins end the
token everywhere and close its sockets with 4401; an expired token's sockets close too;
every step is in the audit trail. On SQLite and PostgreSQL, and across two processes."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Server, pg_database, seed_demo, server_env, start_server
from tests.wsclient import LiveClient, token_subprotocols

S = 1


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(http: httpx.AsyncClient, login: str) -> str:
    answer = await http.post("/api/auth/demo", json={"login": login})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


async def closed_with(ws: ClientConnection, within: float = 10) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    return None


async def socket_for(server: Server, token: str) -> ClientConnection:
    """A socket that carries its token the way the pages do: in a subprotocol."""
    ws = await connect(server.ws_url, subprotocols=token_subprotocols(token))
    assert ws.subprotocol == "kengash"
    await ws.send('{"type":"subscribe","session":1}')
    return ws


async def test_who_am_i_says_how_and_until_when(live_server: Server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answer = (await http.post("/api/auth/demo", json={"login": "deputy05"})).json()
        assert answer["method"] == "demo" and answer["expires_at"].endswith("Z")
        me = (await http.get("/api/me", headers=bearer(answer["token"]))).json()
        assert me["method"] == "demo" and me["expires_at"] == answer["expires_at"]
        assert me["login"] == "deputy05" and me["role"] == "deputy"
        viewer = (await http.get("/api/me")).json()
        assert viewer["role"] == "viewer" and viewer["method"] is None


async def test_sign_out_ends_the_token_and_its_sockets(live_server: Server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        token = await sign_in(http, "deputy07")
        other = await sign_in(http, "deputy07")  # the same deputy on a second device
        ws = await socket_for(live_server, token)
        kept = await socket_for(live_server, other)
        assert (await http.post("/api/auth/sign-out", headers=bearer(token))).status_code == 204
        assert await closed_with(ws) == 4401
        refused = await http.get("/api/me", headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "signed_out"
        again = await http.post("/api/auth/sign-out", headers=bearer(token))
        assert again.status_code == 401
        # A new socket with the ended token is refused; the other device is still in.
        late = await connect(live_server.ws_url, subprotocols=token_subprotocols(token))
        assert await closed_with(late) == 4401
        assert (await http.get("/api/me", headers=bearer(other))).status_code == 200
        await kept.send('{"type":"ping"}')
        await kept.close()


async def test_the_secretariat_ends_all_sign_ins_of_a_user(live_server: Server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        tablet, laptop = await sign_in(http, "deputy09"), await sign_in(http, "deputy09")
        user_id = (await http.get("/api/me", headers=bearer(tablet))).json()["id"]
        sockets = [await socket_for(live_server, t) for t in (tablet, laptop)]
        end = f"/api/users/{user_id}/sign-ins/end"
        for login, status in (("deputy10", 403), ("chair", 403), ("operator", 403)):
            answer = await http.post(end, headers=bearer(await sign_in(http, login)))
            assert answer.status_code == status, login
        anonymous = await http.post(end)
        assert anonymous.status_code == 403
        secretary = await sign_in(http, "secretary")
        answer = await http.post(end, headers=bearer(secretary), json={"reason": "lost_tablet"})
        assert answer.status_code == 200 and answer.json() == {"user": user_id, "ended": 2}
        assert [await closed_with(ws) for ws in sockets] == [4401, 4401]
        for token in (tablet, laptop):
            assert (await http.get("/api/me", headers=bearer(token))).status_code == 401
        missing = await http.post("/api/users/999999/sign-ins/end", headers=bearer(secretary))
        assert missing.status_code == 404
        # In the trail: who ended whose sign-ins, and why.
        trail = (
            await http.get(
                "/api/audit", params={"kind": "sign_ins_ended"}, headers=bearer(secretary)
            )
        ).json()
        assert trail[0]["user"]["login"] == "deputy09" and trail[0]["reason"] == "lost_tablet"
        assert trail[0]["actor_user_id"] is not None


async def test_the_audit_trail_lists_attempts_and_is_for_the_secretariat(
    live_server: Server,
) -> None:
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"User-Agent": "=cmd|' /C calc'!A0"}
    ) as http:
        assert (await http.post("/api/auth/demo", json={"login": "nobody"})).status_code == 404
        deputy = await sign_in(http, "deputy11")
        await http.post("/api/auth/sign-out", headers=bearer(deputy))
        secretary, admin = await sign_in(http, "secretary"), await sign_in(http, "admin")
        rows: list[dict[str, Any]] = (
            await http.get("/api/audit", headers=bearer(secretary))
        ).json()
        kinds = [(r["kind"], r["outcome"], (r["user"] or {}).get("login")) for r in rows]
        assert ("sign_out", "ok", "deputy11") in kinds and ("sign_in", "ok", "deputy11") in kinds
        # An attempt that named nobody belongs to no council: only admins see it.
        assert not any(r["reason"] == "unknown_login" for r in rows)
        everything = (await http.get("/api/audit", headers=bearer(admin))).json()
        refused = [r for r in everything if r["reason"] == "unknown_login"]
        assert refused and refused[0]["outcome"] == "refused" and refused[0]["method"] == "demo"
        assert refused[0]["address"] == "127.0.0.1" and refused[0]["user_agent"].startswith("=")
        # Filters and paging.
        only = (
            await http.get(
                "/api/audit", params={"outcome": "refused", "limit": 1}, headers=bearer(admin)
            )
        ).json()
        assert len(only) == 1 and only[0]["outcome"] == "refused"
        older = (
            await http.get(
                "/api/audit", params={"before": everything[0]["id"]}, headers=bearer(admin)
            )
        ).json()
        assert [r["id"] for r in older] == [r["id"] for r in everything[1:]]
        for params in ({"kind": "x"}, {"from": "yesterday"}, {"from": "2026-01-01T00:00"}):
            bad = await http.get("/api/audit", params=params, headers=bearer(admin))
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_query"
        other = await http.get("/api/audit", params={"council": 2}, headers=bearer(secretary))
        assert other.status_code == 403
        for login in ("deputy12", "chair", "operator"):
            denied = await http.get("/api/audit", headers=bearer(await sign_in(http, login)))
            assert denied.status_code == 403, login
        assert (await http.get("/api/audit")).status_code == 403
        # The CSV: the same rows, a user agent that looks like a formula stays text.
        exported = await http.get("/api/audit.csv", headers=bearer(admin))
        assert exported.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(table) >= len(everything)
        assert all(r["user_agent"].startswith("'=") for r in table if r["user_agent"])


async def test_an_old_or_foreign_token_signs_nobody_in(live_server: Server) -> None:
    """A token of the format before sign-in records (no version, no sign-in) is refused."""
    from itsdangerous import URLSafeTimedSerializer

    old = URLSafeTimedSerializer(live_server.env["KENGASH_SECRET_KEY"], salt="kengash-token")
    token = old.dumps({"role": "chair", "user_id": 1, "council_id": 1, "deputy_id": 1})
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answer = await http.get("/api/me", headers=bearer(token))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_token"
    ws = await connect(live_server.ws_url, subprotocols=token_subprotocols(token))
    assert await closed_with(ws) == 4401


@pytest.fixture
def short_lived(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    env = server_env(
        url, tmp_path, KENGASH_TOKEN_TTL_SECONDS="3", KENGASH_SIGNIN_CHECK_SECONDS="0.5"
    )
    server = start_server(env, tmp_path / "server.log")
    try:
        yield server
    finally:
        server.kill()


async def test_a_socket_closes_when_its_token_expires(short_lived: Server) -> None:
    async with httpx.AsyncClient(base_url=short_lived.url) as http:
        token = await sign_in(http, "deputy13")
    ws = await socket_for(short_lived, token)
    assert await closed_with(ws, within=15) == 4401


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two server processes on one PostgreSQL database, no Redis between them."""
    with pg_database() as url:
        seed_demo(url)
        env = server_env(url, tmp_path, KENGASH_SIGNIN_CHECK_SECONDS="1")
        first = start_server(env, tmp_path / "first.log")
        try:
            second = start_server(env, tmp_path / "second.log")
            try:
                yield first, second
            finally:
                second.kill()
        finally:
            first.kill()


async def test_ending_sign_ins_reaches_every_process(two_processes: tuple[Server, Server]) -> None:
    first, second = two_processes
    async with httpx.AsyncClient(base_url=first.url) as http:
        token = await sign_in(http, "deputy14")
        deputy = (await http.get("/api/me", headers=bearer(token))).json()["id"]
        elsewhere = await socket_for(second, token)
        client = LiveClient(elsewhere)
        await client.recv()  # the snapshot: the socket is live on the second process
        admin = await sign_in(http, "admin")
        answer = await http.post(f"/api/users/{deputy}/sign-ins/end", headers=bearer(admin))
        assert answer.json()["ended"] == 1
    assert await closed_with(elsewhere, within=10) == 4401
    async with httpx.AsyncClient(base_url=second.url) as http:
        assert (await http.get("/api/me", headers=bearer(token))).status_code == 401
