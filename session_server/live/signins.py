"""Sockets end with their sign-in: when it is ended (sign-out, the secretariat ending a
user's sign-ins) in any server process, or when its token expires, each socket opened
with it closes with 4401 within a few seconds.

Each process asks the database every `interval` seconds which sign-ins have ended
since it last asked, and looks at the expiry times it holds; a sign-in ended in this
process closes its sockets at once. Asking the database rather than listening on the
bus means nothing is missed while Redis is away: one indexed query every few seconds
per process, however many sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow

log = structlog.get_logger(__name__)

Close = Callable[[], None]

# How far back each look reaches beyond the previous one: commits of other processes
# that took their `ended_at` a little before we looked are not missed.
OVERLAP = timedelta(seconds=30)


class SignInWatch:
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        # sign-in -> (its expiry, the close callbacks of its sockets)
        self._open: dict[str, tuple[datetime, set[Close]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._since = utcnow()

    def add(self, sign_in: str, expires_at: datetime, close: Close) -> None:
        entry = self._open.setdefault(sign_in, (expires_at, set()))
        entry[1].add(close)

    def discard(self, sign_in: str, close: Close) -> None:
        entry = self._open.get(sign_in)
        if entry is not None:
            entry[1].discard(close)
            if not entry[1]:
                del self._open[sign_in]

    def ended(self, sign_ins: list[str]) -> None:
        """These sign-ins are over: close their sockets now."""
        for sign_in in sign_ins:
            entry = self._open.pop(sign_in, None)
            if entry is not None:
                for close in list(entry[1]):
                    close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def look(self) -> None:
        """One look: expired tokens, and sign-ins ended by any process since the last."""
        now = utcnow()
        self.ended([s for s, (expires_at, _) in self._open.items() if expires_at <= now])
        if not self._open:
            self._since = now
            return
        since, self._since = self._since - OVERLAP, now
        async with self.db.read() as db:
            ended = await db.scalars(
                select(models.SignIn.id).where(models.SignIn.ended_at >= since)
            )
            self.ended([s for s in ended if s in self._open])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.look()
            except Exception:  # the database is away: look again next time
                log.warning("sign_in_watch_failed", exc_info=True)
