"""Vote progress, reported a few times a second rather than once per ballot.

A ballot is acknowledged without an event of its own; this process then asks, at most
once every `interval` seconds per vote, for a `vote.report`, which logs a `vote.progress`
event only when the count has changed. With 2,000 screens and 2,000 ballots that is a
few frames per second per screen instead of 2,000. A ballot after a quiet spell is
reported at once: in a council of 30, the deputy who has just voted sees the count go up
with the confirmation, not half a second after it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from session_server.auth.tokens import SYSTEM
from session_server.commands.dispatcher import Dispatcher

log = structlog.get_logger(__name__)

Report = Callable[[int, int, str], Awaitable[None]]  # (session, vote, command id)


def reporting_progress(dispatcher: Dispatcher) -> Report:
    async def report(session_id: int, vote_id: int, command_id: str) -> None:
        await dispatcher.execute(
            SYSTEM, command_id, "vote.report", {"session": session_id, "vote": vote_id}
        )

    return report


# How often, at most, a vote's progress goes out while ballots come in.
PROGRESS_SECONDS = 0.5


class ProgressReporter:
    def __init__(self, report: Report, interval: float) -> None:
        self._report = report
        self._interval = interval
        self._due: dict[int, asyncio.TimerHandle] = {}
        self._last: dict[int, float] = {}  # vote -> when it was last reported (loop time)
        self._tasks: set[asyncio.Task[None]] = set()

    def ballot_followed(self, args: Any, result: dict[str, Any]) -> None:
        """Follows every acknowledged `vote.cast` (Dispatcher.after)."""
        self.ballot_counted(args.session, args.vote)

    def ballot_counted(self, session_id: int, vote_id: int) -> None:
        if vote_id in self._due:
            return
        loop = asyncio.get_running_loop()
        last = self._last.get(vote_id)
        wait = 0.0 if last is None else max(0.0, last + self._interval - loop.time())
        self._due[vote_id] = loop.call_later(wait, self._fire, session_id, vote_id)

    def _fire(self, session_id: int, vote_id: int) -> None:
        del self._due[vote_id]
        self._last[vote_id] = asyncio.get_running_loop().time()
        task = asyncio.create_task(self._run(session_id, vote_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, session_id: int, vote_id: int) -> None:
        try:
            await self._report(session_id, vote_id, f"report:{vote_id}:{uuid.uuid4().hex}")
        except Exception:  # progress is a courtesy; the result comes with vote.closed
            log.exception("vote_report_failed", session=session_id, vote=vote_id)

    async def stop(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
        self._last.clear()
        for task in list(self._tasks):
            task.cancel()
