"""Nothing acknowledged is lost: kill the server right after the acks, start it again."""

from __future__ import annotations

import asyncio
import os
import signal

from sqlalchemy import text

from session_server.db.engine import Database
from tests.conftest import Server, start_server
from tests.wsclient import LiveClient, fresh_state

S = 1


async def test_acknowledged_commands_survive_kill_9(live_server: Server) -> None:
    chair = await LiveClient.open(live_server.ws_url, live_server.token("chair"))
    deputy_tokens = [live_server.token(f"deputy{n:02d}") for n in range(2, 12)]
    assert (await chair.command("session.open", {"session": S}))["type"] == "ack"
    deputies = [await LiveClient.open(live_server.ws_url, t) for t in deputy_tokens]
    # Fire the registrations at once and kill the server the moment the last ack lands.
    answers = await asyncio.gather(
        *(d.command("attendance.register", {"session": S}) for d in deputies)
    )
    os.kill(live_server.process.pid, signal.SIGKILL)
    live_server.process.wait(10)
    assert all(a["type"] == "ack" for a in answers)
    acked = {a["result"]["deputy"] for a in answers}

    again = start_server(live_server.env, live_server.log)
    try:
        state = await fresh_state(again.ws_url, S)
        assert state["session"]["state"] == "open"
        assert acked <= set(state["attendance"]["present"])
        assert state["attendance"]["count"] == len(acked)
        # The seqs are dense: one per acknowledged change, none lost, none doubled.
        assert state["seq"] == 2 + len(acked)
        # A retry of an acknowledged command after the crash does not act again.
        chair2 = await LiveClient.open(again.ws_url, again.token("chair"))
        retry = await chair2.command(
            "attendance.register", {"session": S}, command_id="after-crash"
        )
        assert retry["type"] == "ack"
        assert (
            await chair2.command("attendance.register", {"session": S}, command_id="after-crash")
            == retry
        )
        assert (await fresh_state(again.ws_url, S))["seq"] == 3 + len(acked)
        await chair2.close()
    finally:
        again.kill()


async def test_sqlite_syncs_the_log_at_every_commit(sqlite_url: str) -> None:
    """An ack promises durability through a power cut, not only a crash: WAL needs FULL."""
    db = Database(sqlite_url)
    try:
        level = await db.transact(lambda s: s.execute(text("PRAGMA synchronous")).scalar())
        assert level == 2  # FULL
        async with db.read() as reader:
            assert (await reader.execute(text("PRAGMA synchronous"))).scalar() == 2
    finally:
        await db.dispose()
