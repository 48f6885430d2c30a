"""The hub: this process's live feeds, wired to the command dispatcher and the bus."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from session_server import eventlog
from session_server.auth.tokens import SYSTEM
from session_server.commands.dispatcher import Dispatcher
from session_server.db import models
from session_server.db.engine import Database
from session_server.eventlog import LoggedEvent
from session_server.live.bus import Bus
from session_server.live.feed import Feed
from session_server.live.outbox import Pump
from session_server.live.progress import ProgressReporter
from session_server.live.timers import VoteTimers


class Hub:
    def __init__(
        self, db: Database, bus: Bus, replay_buffer: int, progress_interval: float = 0.5
    ) -> None:
        self.db = db
        self.bus = bus
        self.replay_buffer = replay_buffer
        self.feeds: dict[int, Feed] = {}
        self._loading = asyncio.Lock()
        self.dispatcher = Dispatcher(db, self._committed, self._acked)
        self.timers = VoteTimers(self._timer_close)
        self.progress = ProgressReporter(self._report_progress, progress_interval)
        self.pump = Pump()  # sends every socket's frames; see live/outbox.py

    async def start(self) -> None:
        await self.bus.start(self._signalled, self._resync)
        # Votes left running by a restart still close on time.
        async with self.db.read() as db:
            sessions = await db.scalars(
                select(models.Vote.session_id).where(
                    models.Vote.state == "open", models.Vote.closes_at.is_not(None)
                )
            )
            for session_id in set(sessions):
                await self.feed(session_id)

    async def stop(self) -> None:
        await self.progress.stop()
        await self.timers.stop()
        await self.bus.stop()

    async def feed(self, session_id: int) -> Feed | None:
        """The live feed of a session, loaded from its log on first use; None if there
        is no such session."""
        feed = self.feeds.get(session_id)
        if feed is not None:
            if self.bus.shared:
                # Another process may have written since our last signal: read the log
                # rather than hand a subscriber an older state than it has seen.
                await feed.load()
            return feed
        async with self._loading:
            feed = self.feeds.get(session_id)
            if feed is None:
                feed = Feed(session_id, self._read_since, self.replay_buffer)
                await feed.load()
                if feed.seq == 0:  # every session's log starts with session.scheduled
                    return None
                self.feeds[session_id] = feed
                self.timers.watch(session_id, feed.state["vote"])
        return feed

    async def _read_since(self, session_id: int, since: int) -> list[LoggedEvent]:
        async with self.db.read() as db:
            return await eventlog.read_since(db, session_id, since)

    async def _committed(self, session_id: int, events: list[LoggedEvent]) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            await feed.offer(events)
            self.timers.watch(session_id, feed.state["vote"])
        elif any(event["kind"] == "vote.opened" for _, event in events):
            await self.feed(session_id)  # loads it, and with it the vote's timer
        await self.bus.publish(session_id, events[-1][0])

    async def _signalled(self, session_id: int, seq: int) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            await feed.wake(seq)
            self.timers.watch(session_id, feed.state["vote"])

    async def _resync(self) -> None:
        for session_id, feed in list(self.feeds.items()):
            await feed.load()
            self.timers.watch(session_id, feed.state["vote"])

    def _acked(self, name: str, args: Any, result: dict[str, Any]) -> None:
        if name == "vote.cast":
            self.progress.ballot_counted(args.session, args.vote)

    async def _report_progress(self, session_id: int, vote_id: int, command_id: str) -> None:
        await self.dispatcher.execute(
            SYSTEM, command_id, "vote.report", {"session": session_id, "vote": vote_id}
        )

    async def _timer_close(self, session_id: int, vote_id: int) -> None:
        await self.dispatcher.execute(
            SYSTEM, f"timer:{vote_id}", "vote.close", {"session": session_id, "vote": vote_id}
        )
