"""A sitting's ingest keys on the real server: made by its council's operator, chair or an
admin (shown once, kept hashed), listed without the secret, revoked; OBS Studio's way of
publishing (`Authorization: Bearer <key>` on `POST /whip/{session}`) with an aiortc
publisher sending the test clip; the STUN and TURN servers in `Link: rel="ice-server"`
headers. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from broadcast import ingest_keys
from session_server import demo
from session_server.broadcasting.ice import offer_host_addresses
from session_server.broadcasting.keys import MAX_LIVE_KEYS
from session_server.council import get_or_create_council, schedule_session
from session_server.db import models
from session_server.db.engine import Database
from tests.broadcasting import CLIP, offer_of, until_live
from tests.conftest import (
    Server,
    database_in,
    free_port,
    seed_demo,
    server_env,
    skip_or_fail,
    start_server,
)
from tests.wsclient import LiveClient

TURN_SECRET = "test-turn-shared-secret"
OTHER_COUNCIL = "Samarqand shahri xalq deputatlari Kengashi"


@dataclass
class World:
    server: Server
    db_url: str
    other_sitting: int  # the demo council's second sitting
    foreign_sitting: int  # another council's
    stun: str
    turn: str

    def headers(self, login: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.token(login)}"}


@pytest.fixture(scope="module")
def clip() -> Path:
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    return CLIP


def _more_sittings(db: DbSession) -> tuple[int, int]:
    council = db.scalar(select(models.Council).where(models.Council.name == demo.COUNCIL))
    assert council is not None
    other = schedule_session(db, council, "Navbatdan tashqari sessiya", date.today(), [("A", "")])
    council2 = get_or_create_council(db, OTHER_COUNCIL, demo.RULES, demo.REGION)
    foreign = schedule_session(db, council2, "Boshqa kengash sessiyasi", date.today(), [("B", "")])
    db.add(
        models.User(login="c2-operator", role="operator", full_name="C2", council_id=council2.id)
    )
    db.flush()
    return other.id, foreign.id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    offer_host_addresses(["127.0.0.1"])  # this process's publishers offer loopback too
    tmp = tmp_path_factory.mktemp("ingest-keys")
    # Nothing listens on these: the server's own gathering gives up on them at once (TCP
    # refused) or after aioice's timeout (UDP), and the answers still announce them.
    stun = f"stun:127.0.0.1:{free_port()}"
    turn = f"turn:127.0.0.1:{free_port()}?transport=tcp"
    with ExitStack() as stack:
        url = database_in(stack, tmp, request.param)
        seed_demo(url)

        async def add() -> tuple[int, int]:
            database = Database(url)
            try:
                return await database.transact(_more_sittings)
            finally:
                await database.dispose()

        other, foreign = asyncio.run(add())
        env = server_env(
            url,
            tmp,
            KENGASH_ICE_HOSTS="127.0.0.1",
            KENGASH_ICE_SERVERS=f"{stun},{turn}",
            KENGASH_TURN_SECRET=TURN_SECRET,
            KENGASH_TURN_TTL_SECONDS="3600",
        )
        server = start_server(env, tmp / "server.log")
        stack.callback(server.kill)
        yield World(server, url, other, foreign, stun, turn)


async def _make(
    http: httpx.AsyncClient, world: World, login: str, session: int = 1
) -> dict[str, Any]:
    answer = await http.post(
        f"/api/sessions/{session}/ingest-keys", json={"label": login}, headers=world.headers(login)
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _revoke_all(http: httpx.AsyncClient, world: World, session: int = 1) -> None:
    admin = world.headers("admin")
    for key in (await http.get(f"/api/sessions/{session}/ingest-keys", headers=admin)).json():
        if not key["revoked"]:
            gone = await http.delete(
                f"/api/sessions/{session}/ingest-keys/{key['id']}", headers=admin
            )
            assert gone.status_code == 200, gone.text


async def test_keys_are_shown_once_kept_hashed_listed_and_revoked(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=10) as http:
        made = await http.post(
            "/api/sessions/1/ingest-keys",
            json={"label": "OBS in the chamber"},
            headers=world.headers("operator"),
        )
        assert made.status_code == 201, made.text
        assert made.headers["cache-control"] == "no-store"
        key = made.json()
        assert ingest_keys.well_formed(key["key"])
        assert key["id"] == ingest_keys.key_id(key["key"])
        assert key["whip_url"] == f"{world.server.url}/whip/1"
        assert key["label"] == "OBS in the chamber" and key["revoked"] is False
        assert key["created_by"]["name"] and key["last_used_at"] is None
        # The chair of the council and an admin may make keys too.
        chairs = await _make(http, world, "chair")
        listed = await http.get("/api/sessions/1/ingest-keys", headers=world.headers("operator"))
        assert listed.status_code == 200
        rows = {row["id"]: row for row in listed.json()}
        assert {key["id"], chairs["id"]} <= set(rows)
        assert key["key"] not in listed.text and chairs["key"] not in listed.text
        assert set(rows[key["id"]]) == {
            "id", "session", "label", "created_by", "created_at", "last_used_at", "revoked_at",
            "revoked",
        }  # fmt: skip
        # The database has the hash, never the key.
        database = Database(world.db_url)
        try:
            row = await database.look_up(lambda db: db.get(models.IngestKey, key["id"]))
        finally:
            await database.dispose()
        assert row is not None and key["key"] not in row.stored
        assert ingest_keys.check(key["key"], row.stored)

        # Revoked: marked in the list, a second revoke changes nothing.
        url = f"/api/sessions/1/ingest-keys/{key['id']}"
        revoked = await http.delete(url, headers=world.headers("operator"))
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        again = await http.delete(url, headers=world.headers("chair"))
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
        listed = await http.get("/api/sessions/1/ingest-keys", headers=world.headers("admin"))
        assert {r["id"]: r["revoked"] for r in listed.json()}[key["id"]] is True
        await _revoke_all(http, world)


@pytest.mark.parametrize(
    ("method", "path", "login", "body", "status", "code"),
    [
        ("POST", "/api/sessions/1/ingest-keys", None, {}, 403, "forbidden"),
        ("POST", "/api/sessions/1/ingest-keys", "deputy05", {}, 403, "forbidden"),
        ("POST", "/api/sessions/1/ingest-keys", "secretary", {}, 403, "forbidden"),
        ("GET", "/api/sessions/1/ingest-keys", "deputy05", None, 403, "forbidden"),
        ("DELETE", "/api/sessions/1/ingest-keys/0123456789abcdef", None, None, 403, "forbidden"),
        ("POST", "/api/sessions/1/ingest-keys", "c2-operator", {}, 403, "forbidden"),
        ("GET", "/api/sessions/1/ingest-keys", "c2-operator", None, 403, "forbidden"),
        ("POST", "/api/sessions/999/ingest-keys", "operator", {}, 404, "not_found"),
        (
            "POST",
            "/api/sessions/1/ingest-keys",
            "operator",
            {"label": "x" * 81},
            422,
            "invalid_body",
        ),
        ("POST", "/api/sessions/1/ingest-keys", "operator", {"colour": "red"}, 422, "invalid_body"),
        ("POST", "/api/sessions/1/ingest-keys", "operator", [], 422, "invalid_body"),
        (
            "DELETE",
            "/api/sessions/1/ingest-keys/0123456789abcdef",
            "operator",
            None,
            404,
            "not_found",
        ),
        ("DELETE", "/api/sessions/1/ingest-keys/not-a-key", "operator", None, 404, "not_found"),
        ("GET", "/api/sessions/1/ingest-keys", "BAD", None, 401, "bad_token"),
    ],
)
async def test_refusals_change_nothing(
    world: World, method: str, path: str, login: str | None, body: object, status: int, code: str
) -> None:
    headers = {}
    if login == "BAD":
        headers = {"Authorization": "Bearer not-a-token"}
    elif login is not None:
        headers = world.headers(login)
    async with httpx.AsyncClient(base_url=world.server.url, timeout=10) as http:
        before = (
            await http.get("/api/sessions/1/ingest-keys", headers=world.headers("admin"))
        ).json()
        answer = await http.request(method, path, json=body, headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
        after = (
            await http.get("/api/sessions/1/ingest-keys", headers=world.headers("admin"))
        ).json()
        assert after == before


async def test_a_sitting_has_a_few_live_keys_at_most(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=10) as http:
        await _revoke_all(http, world)
        made = [await _make(http, world, "operator") for _ in range(MAX_LIVE_KEYS)]
        refused = await http.post(
            "/api/sessions/1/ingest-keys", json={}, headers=world.headers("operator")
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "too_many_keys")
        # Another sitting's keys are counted apart; a revoked key frees its place.
        await _make(http, world, "operator", world.other_sitting)
        await http.delete(
            f"/api/sessions/1/ingest-keys/{made[0]['id']}", headers=world.headers("operator")
        )
        await _make(http, world, "operator")
        await _revoke_all(http, world)
        await _revoke_all(http, world, world.other_sitting)


def _ice_links(answer: httpx.Response) -> list[str]:
    return answer.headers.get_list("link")


def _check_ice_links(world: World, links: list[str]) -> None:
    assert links[0] == f'<{world.stun}>; rel="ice-server"'
    turn = re.fullmatch(
        r'<([^>]+)>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"'
        r'; credential-type="password"',
        links[1],
    )
    assert turn is not None, links
    url, username, credential = turn.groups()
    assert url == world.turn
    # coturn's REST scheme: `expiry:name`, base64(HMAC-SHA1(secret, username)).
    expiry = int(username.split(":")[0])
    assert time.time() + 3500 < expiry <= time.time() + 3601
    digest = hmac.new(TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(credential) == digest


async def test_options_announces_the_ice_servers(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=10) as http:
        answer = await http.options("/whip/1")
    assert answer.status_code == 204
    _check_ice_links(world, _ice_links(answer))
    assert "Link" in answer.headers["access-control-expose-headers"]


async def _publish(
    http: httpx.AsyncClient, media: Path, token: str, session: int = 1
) -> tuple[RTCPeerConnection, httpx.Response]:
    pc, offer = await offer_of(media)
    answer = await http.post(
        f"/whip/{session}",
        content=offer,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
    )
    return pc, answer


async def test_obs_publishes_with_a_key_and_only_that_key_ends_it(
    world: World,
    clip: Path,
) -> None:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=30) as http:
        key = await _make(http, world, "operator")
        spare = await _make(http, world, "operator")
        viewer = await LiveClient.open(world.server.ws_url)
        await viewer.subscribe(1)
        pc, answer = await _publish(http, clip, key["key"])
        assert answer.status_code == 201, answer.text
        _check_ice_links(world, _ice_links(answer))
        location = answer.headers["location"]
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        await until_live(viewer, True)
        listed = (
            await http.get("/api/sessions/1/ingest-keys", headers=world.headers("operator"))
        ).json()
        assert {r["id"]: r["last_used_at"] for r in listed}[key["id"]] is not None
        trail = await http.get(
            "/api/audit", params={"method": "ingest_key"}, headers=world.headers("secretary")
        )
        kinds = {(r["kind"], r["outcome"]) for r in trail.json() if key["id"] in r["subject"]}
        assert kinds == {("ingest_key_made", "ok"), ("ingest_key_used", "ok")}
        # The publication is the key's: neither a sign-in nor another key ends it.
        for token in (world.server.token("operator"), spare["key"]):
            refused = await http.delete(location, headers={"Authorization": f"Bearer {token}"})
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        ended = await http.delete(location, headers={"Authorization": f"Bearer {key['key']}"})
        assert ended.status_code == 200, ended.text
        await until_live(viewer, False)
        await pc.close()
        await viewer.close()
        await _revoke_all(http, world)


async def test_revoked_unknown_and_other_sittings_keys_are_refused(
    world: World,
    clip: Path,
) -> None:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=30) as http:
        revoked = await _make(http, world, "operator")
        await http.delete(
            f"/api/sessions/1/ingest-keys/{revoked['id']}", headers=world.headers("operator")
        )
        others = await _make(http, world, "operator", world.other_sitting)
        foreign = await _make(http, world, "c2-operator", world.foreign_sitting)
        unknown, _ = ingest_keys.new_key()
        for token in (revoked["key"], others["key"], foreign["key"], unknown):
            pc, answer = await _publish(http, clip, token)
            await pc.close()
            assert (answer.status_code, answer.json()["error"]["code"]) == (401, "bad_token")
            assert answer.headers["www-authenticate"].startswith("Bearer")
        # The trail has each refusal of one of our keys (a guessed one names no row).
        trail = await http.get(
            "/api/audit",
            params={"kind": "ingest_key_used", "outcome": "refused", "method": "ingest_key"},
            headers=world.headers("admin"),
        )
        assert trail.status_code == 200, trail.text
        refused = {r["subject"]: (r["reason"], r["council_id"]) for r in trail.json()}
        council1 = (await http.get("/api/sessions/1")).json()["council_id"]
        assert refused[f"session 1 key {revoked['id']}"] == ("revoked", council1)
        other_subject = f"session {world.other_sitting} key {others['id']}"
        assert refused[other_subject] == ("other_session", council1)
        foreign_row = refused[f"session {world.foreign_sitting} key {foreign['id']}"]
        assert foreign_row[0] == "other_session" and foreign_row[1] != council1
        assert not any(ingest_keys.key_id(unknown) in subject for subject in refused)
        # The other sitting's key publishes its own sitting; nothing was left behind on 1.
        good = await _make(http, world, "operator")
        pc, answer = await _publish(http, clip, good["key"])
        assert answer.status_code == 201, answer.text
        bearer = {"Authorization": f"Bearer {good['key']}"}
        assert (await http.delete(answer.headers["location"], headers=bearer)).status_code == 200
        await pc.close()
        # A key made for the other council's sitting is no use to this council's.
        listed = await http.get(
            f"/api/sessions/{world.foreign_sitting}/ingest-keys", headers=world.headers("operator")
        )
        assert listed.status_code == 403
        await _revoke_all(http, world)
        await _revoke_all(http, world, world.other_sitting)
        await _revoke_all(http, world, world.foreign_sitting)


async def test_revoking_a_key_ends_its_broadcast(
    world: World,
    clip: Path,
) -> None:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=30) as http:
        key = await _make(http, world, "operator")
        viewer = await LiveClient.open(world.server.ws_url)
        await viewer.subscribe(1)
        pc, answer = await _publish(http, clip, key["key"])
        assert answer.status_code == 201, answer.text
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        await until_live(viewer, True)
        viewer.events.clear()
        gone = await http.delete(
            f"/api/sessions/1/ingest-keys/{key['id']}", headers=world.headers("operator")
        )
        assert gone.status_code == 200
        await until_live(viewer, False)
        # The sitting is free for the next publisher (a sign-in here).
        pc2, again = await _publish(http, clip, world.server.token("operator"))
        assert again.status_code == 201, again.text
        operator = world.headers("operator")
        assert (await http.delete(again.headers["location"], headers=operator)).status_code == 200
        await pc.close()
        await pc2.close()
        await viewer.close()
