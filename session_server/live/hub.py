"""The hub: this process's live feeds, wired to the command dispatcher and the bus."""

from __future__ import annotations

import asyncio

from session_server import eventlog
from session_server.commands.dispatcher import Dispatcher
from session_server.db.engine import Database
from session_server.eventlog import LoggedEvent
from session_server.live.bus import Bus
from session_server.live.feed import Feed


class Hub:
    def __init__(self, db: Database, bus: Bus, replay_buffer: int) -> None:
        self.db = db
        self.bus = bus
        self.replay_buffer = replay_buffer
        self.feeds: dict[int, Feed] = {}
        self._loading = asyncio.Lock()
        self.dispatcher = Dispatcher(db, self._committed)

    async def start(self) -> None:
        await self.bus.start(self._signalled)

    async def stop(self) -> None:
        await self.bus.stop()

    async def feed(self, session_id: int) -> Feed | None:
        """The live feed of a session, loaded from its log on first use; None if there
        is no such session."""
        feed = self.feeds.get(session_id)
        if feed is not None:
            return feed
        async with self._loading:
            feed = self.feeds.get(session_id)
            if feed is None:
                feed = Feed(session_id, self._read_since, self.replay_buffer)
                await feed.load()
                if feed.seq == 0:  # every session's log starts with session.scheduled
                    return None
                self.feeds[session_id] = feed
        return feed

    async def _read_since(self, session_id: int, since: int) -> list[LoggedEvent]:
        async with self.db.read() as db:
            return await eventlog.read_since(db, session_id, since)

    async def _committed(self, session_id: int, events: list[LoggedEvent]) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            await feed.offer(events)
        await self.bus.publish(session_id, events[-1][0])

    async def _signalled(self, session_id: int, seq: int) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            await feed.wake(seq)
