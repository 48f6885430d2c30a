"""How many watch each sitting, logged as `broadcast.audience` when the figure changes.

HLS players are counted by their playlist fetches (broadcast/audience.py), WebRTC viewers
by the egress. Every AUDIENCE_SECONDS the figures of each sitting being watched or
broadcast are compared with those last logged; a change is logged by the server's own
command, so every console shows it (at most one event per sitting per interval)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterable

import structlog

from broadcast.audience import Count, HlsPlayers
from session_server.auth.tokens import SYSTEM
from session_server.commands.dispatcher import Dispatcher

log = structlog.get_logger(__name__)

AUDIENCE_SECONDS = 5.0

# (session, count) -> logs broadcast.audience
Report = Callable[[int, Count], Awaitable[None]]


def reporting_audience(dispatcher: Dispatcher) -> Report:
    async def report(session_id: int, count: Count) -> None:
        answer = await dispatcher.execute(
            SYSTEM,
            f"audience:{session_id}:{uuid.uuid4().hex}",
            "broadcast.audience",
            {"session": session_id, "webrtc": count.webrtc, "hls": count.hls},
        )
        if answer["type"] != "ack":
            log.warning("audience_not_reported", session=session_id, error=answer["error"])

    return report


class Audience:
    def __init__(
        self,
        broadcast: Callable[[], Iterable[int]],
        webrtc: Callable[[int], int],
        report: Report,
        every: float = AUDIENCE_SECONDS,
    ) -> None:
        self._broadcast = broadcast  # the sittings on air or with viewers
        self._webrtc = webrtc
        self._report = report
        self._every = every
        self._players = HlsPlayers()
        self._logged: dict[int, Count] = {}
        self._task: asyncio.Task[None] | None = None

    def playlist_fetched(self, session_id: int, address: str, user_agent: str) -> None:
        """An HLS player fetched the live playlist. The client is kept as a digest only."""
        client = hashlib.blake2b(f"{address}\0{user_agent}".encode(), digest_size=12).hexdigest()
        self._players.fetched(session_id, client, asyncio.get_running_loop().time())

    def start(self) -> None:
        self._task = asyncio.create_task(self._now_and_then())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def count_now(self) -> None:
        now = asyncio.get_running_loop().time()
        watched = {
            *self._logged,
            *self._players.sessions(),
            *self._broadcast(),
        }
        for session_id in sorted(watched):
            count = Count(self._webrtc(session_id), self._players.count(session_id, now))
            if count == self._logged.get(session_id, Count(0, 0)):
                continue
            await self._report(session_id, count)
            if count.watching:
                self._logged[session_id] = count
            else:
                self._logged.pop(session_id, None)

    async def _now_and_then(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.count_now()
            except Exception:  # counting must not stop for one failure
                log.exception("audience_count_failed")
