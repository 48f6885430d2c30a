"""Vote timers: when a vote's time is up, the server itself sends `vote.close`.

Every process keeps the timers of the votes it knows; the command id is the same in all
of them (`timer:<vote>`), so the first to fire closes the vote and the others get that
stored answer instead of acting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select

from session_server.auth.tokens import SYSTEM
from session_server.commands.dispatcher import Dispatcher
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent

log = structlog.get_logger(__name__)

Close = Callable[[int, int], Awaitable[None]]  # (session, vote)
# Loads a session's live feed, whose state then comes to `watch_state`.
Load = Callable[[int], Awaitable[object]]


def closing_votes(dispatcher: Dispatcher) -> Close:
    """Close a vote as the server; the same command id in every process."""

    async def close(session_id: int, vote_id: int) -> None:
        await dispatcher.execute(
            SYSTEM, f"timer:{vote_id}", "vote.close", {"session": session_id, "vote": vote_id}
        )

    return close


class VoteTimers:
    def __init__(self, close: Close, load: Load) -> None:
        self._close = close
        self._load = load
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def resume(self, db: Database) -> None:
        """Votes left running by a restart still close on time."""
        async with db.read() as session:
            sessions = await session.scalars(
                select(models.Vote.session_id).where(
                    models.Vote.state == "open", models.Vote.closes_at.is_not(None)
                )
            )
            for session_id in set(sessions):
                await self._load(session_id)

    async def opened(self, session_id: int, events: list[LoggedEvent]) -> None:
        """A reaction: a vote opened in a session nobody here watches still needs its
        timer, so load the session's feed (its state then comes to watch_state)."""
        if any(event["kind"] == "vote.opened" for _, event in events):
            await self._load(session_id)

    def watch_state(self, session_id: int, state: dict[str, Any]) -> None:
        self.watch(session_id, state.get("vote"))

    def watch(self, session_id: int, vote: dict[str, object] | None) -> None:
        """Called with a session's vote section whenever it changes."""
        vote_id = vote.get("id") if vote else None
        if vote is None or not isinstance(vote_id, int):
            return
        closes_at = vote.get("closes_at")
        if vote.get("state") != "open" or not isinstance(closes_at, str):
            self._forget(vote_id)
            return
        if vote_id not in self._tasks:
            when = datetime.fromisoformat(closes_at.replace("Z", "+00:00"))
            self._tasks[vote_id] = asyncio.create_task(self._fire(session_id, vote_id, when))

    async def _fire(self, session_id: int, vote_id: int, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - utcnow()).total_seconds()))
        try:
            await self._close(session_id, vote_id)
        except Exception:  # a timer must never take the process down
            log.exception("vote_timer_failed", session=session_id, vote=vote_id)
        finally:
            self._tasks.pop(vote_id, None)

    def _forget(self, vote_id: int) -> None:
        task = self._tasks.pop(vote_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
