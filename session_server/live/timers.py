"""Vote timers: when a vote's time is up, the server itself sends `vote.close`.

Every process keeps the timers of the votes it knows; the command id is the same in all
of them (`timer:<vote>`), so the first to fire closes the vote and the others get that
stored answer instead of acting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from session_server.db.models import utcnow

log = structlog.get_logger(__name__)

Close = Callable[[int, int], Awaitable[None]]  # (session, vote)


class VoteTimers:
    def __init__(self, close: Close) -> None:
        self._close = close
        self._tasks: dict[int, asyncio.Task[None]] = {}

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
