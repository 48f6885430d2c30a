"""Several server processes on one database learn of each other's events over Redis."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, Server, seed_demo, server_env, skip_or_fail, start_server
from tests.wsclient import LiveClient, fresh_state


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Two processes on one PostgreSQL database (SQLite is for a single process)."""
    if not _redis_up():
        skip_or_fail("Redis is not reachable on 127.0.0.1:6379")
    seed_demo(pg_url)
    env = server_env(pg_url, tmp_path, KENGASH_REDIS_URL=REDIS_URL)
    # A channel of its own, so parallel runs on one Redis do not wake each other.
    env["KENGASH_BUS_CHANNEL"] = f"kengash-test-{uuid.uuid4().hex[:8]}"
    servers = [start_server(env, tmp_path / f"server{i}.log") for i in range(2)]
    try:
        yield servers
    finally:
        for s in servers:
            s.kill()


async def test_a_viewer_on_one_process_sees_the_chair_on_another(two_servers: list[Server]) -> None:
    a, b = two_servers
    viewer = await LiveClient.open(b.ws_url)
    await viewer.subscribe(1)
    chair = await LiveClient.open(a.ws_url, a.token("chair"))
    await chair.subscribe(1)
    assert (await chair.command("session.open", {"session": 1}))["type"] == "ack"
    last = await chair.command("agenda.start_item", {"session": 1, "item": 2})
    await viewer.until_seq(last["result"]["seq"])
    assert viewer.state is not None and viewer.state["agenda"]["current"] == 2
    assert viewer.state == await fresh_state(a.ws_url, 1) == await fresh_state(b.ws_url, 1)
    # Commands for one session from both processes interleave into one dense log.
    deputy = await LiveClient.open(b.ws_url, b.token("deputy04"))
    await deputy.subscribe(1)
    for _ in range(3):
        for client, args in ((deputy, {"present": True}), (deputy, {"present": False})):
            assert (await client.command("attendance.register", {"session": 1, **args}))[
                "type"
            ] == "ack"
        assert (await chair.command("speaker.grant", {"session": 1, "deputy": 9}))["type"] == "ack"
    await viewer.until_seq(chair.seq if chair.seq > deputy.seq else deputy.seq)
    await chair.until_seq(viewer.seq)
    assert viewer.seq == 3 + 9
    assert chair.state is not None and viewer.state["attendance"] == chair.state["attendance"]
    for c in (viewer, chair, deputy):
        await c.close()
