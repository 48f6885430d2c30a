"""The event log and the rows it describes commit together, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from session_server import eventlog
from session_server.auth.tokens import Actor
from session_server.commands.base import (
    REGISTRY,
    CommandContext,
    CommandError,
    SessionArgs,
    command,
)
from session_server.commands.dispatcher import Dispatcher
from session_server.db import models
from session_server.db.engine import Database
from session_server.eventlog import LoggedEvent
from session_server.live.state import fold

CHAIR = Actor(role="chair", user_id=1, login="chair", council_id=1, deputy_id=1)


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[int, list[LoggedEvent]]] = []

    async def __call__(self, session_id: int, events: list[LoggedEvent]) -> None:
        self.published.append((session_id, events))


async def event_count(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(models.SessionEvent)) or 0)


def half_done(ctx: CommandContext, args: SessionArgs) -> dict[str, Any]:
    """Changes a row and emits an event, then refuses: neither may be kept."""
    ctx.session.title = "changed"
    ctx.emit("session.opened", {"session": {"id": ctx.session.id}})
    raise CommandError("wrong_state", "refused after the change")


@pytest.fixture
def half_done_command() -> Iterator[None]:
    command("test.half_done", roles={"chair"}, args=SessionArgs)(half_done)
    yield
    del REGISTRY["test.half_done"]


@pytest.mark.usefixtures("half_done_command")
async def test_a_refused_command_keeps_neither_change_nor_event(demo_db: Database) -> None:
    recorder = Recorder()
    before = await event_count(demo_db)
    answer = await Dispatcher(demo_db, recorder).execute(
        CHAIR, "h1", "test.half_done", {"session": 1}
    )
    assert answer["error"]["code"] == "wrong_state"
    assert await event_count(demo_db) == before
    async with demo_db.read() as s:
        row = await s.get(models.Session, 1)
        assert row is not None and row.title != "changed" and row.last_seq == before
        # The refusal itself is remembered for retries.
        stored = await s.get(models.CommandResult, (CHAIR.key, "h1"))
        assert stored is not None and stored.response == answer
    assert recorder.published == []


async def test_commands_append_dense_seqs_and_the_fold_matches_the_rows(demo_db: Database) -> None:
    recorder = Recorder()
    dispatcher = Dispatcher(demo_db, recorder)
    for i, (name, args) in enumerate(
        [
            ("session.open", {}),
            ("attendance.register", {}),
            ("agenda.start_item", {"item": 3}),
            ("speaker.grant", {"deputy": 2, "seconds": 30}),
            ("speaker.end", {}),
        ]
    ):
        answer = await dispatcher.execute(CHAIR, f"c{i}", name, {"session": 1, **args})
        assert answer["type"] == "ack", answer
        assert answer["result"]["seq"] == i + 2
    assert [events[0][0] for _, events in recorder.published] == [2, 3, 4, 5, 6]
    async with demo_db.read() as s:
        log = await eventlog.read_since(s, 1)
        row = await s.get(models.Session, 1)
        assert row is not None
    assert [seq for seq, _ in log] == list(range(1, 7))
    state = fold(log)
    assert state["session"]["state"] == row.state == "open"
    assert state["agenda"]["current"] == row.current_item_id == 3
    assert state["attendance"]["present"] == [1]
    assert state["speakers"] == {"current": None, "queue": []}


async def test_the_database_refuses_a_second_event_with_the_same_seq(demo_db: Database) -> None:
    def write(s: DbSession) -> None:
        s.add(models.SessionEvent(session_id=1, seq=1, kind="x", payload={}))

    with pytest.raises(IntegrityError):
        await demo_db.transact(write)


async def test_the_database_refuses_a_deputy_twice_on_a_roster(demo_db: Database) -> None:
    def write(s: DbSession) -> None:
        deputy = s.get(models.Deputy, 1)
        assert deputy is not None
        s.add(models.Deputy(council_id=1, full_name="X Y", pinfl=deputy.pinfl, seat_no=35))

    with pytest.raises(IntegrityError):
        await demo_db.transact(write)
