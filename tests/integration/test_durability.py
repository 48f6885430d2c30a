"""Nothing acknowledged is lost: kill the server right after the acks, start it again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from sqlalchemy import text

from session_server.db.engine import Database
from tests.conftest import Server, seed_demo, server_env, start_server
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


async def test_the_ledger_catches_up_after_kill_9_between_commit_and_entry(
    pg_url: str, tmp_path: Path
) -> None:
    """The vote and its decision are committed, their ledger entries are not yet (the
    test holds the ledger's head locked, so the appender waits), and the server is
    killed. Started again, it appends both: nothing the session committed is missing
    from the ledger, and the ledger verifies from outside."""
    from tests.integration.test_decisions import _kengash, adopt_draft

    await asyncio.to_thread(seed_demo, pg_url)
    server = start_server(server_env(pg_url, tmp_path), tmp_path / "server.log")
    holder = Database(pg_url)
    try:
        async with holder.engine.connect() as lock:
            await lock.execute(text("LOCK TABLE ledger_head IN EXCLUSIVE MODE"))
            vote_id, adopted = await adopt_draft(server)
            await asyncio.sleep(0.5)  # the appender is now waiting on the lock
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(10)
            await lock.rollback()
        async with holder.read() as db:
            assert (await db.execute(text("SELECT count(*) FROM ledger_entries"))).scalar() == 0
        again = start_server(server.env, server.log)
        try:
            deadline = time.monotonic() + 10
            while True:
                async with holder.read() as db:
                    rows = (await db.execute(text("SELECT kind, ref FROM ledger_entries"))).all()
                if len(rows) == 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert sorted(rows) == [("decision", adopted["decision"]["id"]), ("vote", vote_id)]
            checked = await asyncio.to_thread(_kengash, "ledger", "verify", again.url)
            assert checked.returncode == 0, checked.stdout + checked.stderr
        finally:
            again.kill()
    finally:
        await holder.dispose()
        server.kill()
