"""The hub: this process's live feeds, wired to the command dispatcher and the bus.

The hub knows no command or event by name. What follows from a committed event (a vote
timer, progress reports, a decision, a ledger entry) is a reaction that the composition
root registers here: `watch` for every change of a session's state, in every process;
`react` for the events this process has committed, after they went out to the screens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from session_server import eventlog
from session_server.commands.dispatcher import Dispatcher
from session_server.db.engine import Database
from session_server.eventlog import LoggedEvent
from session_server.live.bus import Bus
from session_server.live.feed import Feed
from session_server.live.outbox import Pump

log = structlog.get_logger(__name__)

# (session, its state as the feed folds it): after every change, in every process.
StateWatcher = Callable[[int, dict[str, Any]], None]
# (session, the events just committed here): run after the fan-out, off the write path.
Reaction = Callable[[int, list[LoggedEvent]], Awaitable[None]]


class Hub:
    def __init__(self, db: Database, bus: Bus, replay_buffer: int) -> None:
        self.db = db
        self.bus = bus
        self.replay_buffer = replay_buffer
        self.feeds: dict[int, Feed] = {}
        self._loading = asyncio.Lock()
        self.dispatcher = Dispatcher(db, self._committed)
        self.pump = Pump()  # sends every socket's frames; see live/outbox.py
        self._watchers: list[StateWatcher] = []
        self._reactions: list[Reaction] = []
        self._running: set[asyncio.Task[None]] = set()

    def watch(self, watcher: StateWatcher) -> None:
        self._watchers.append(watcher)

    def react(self, reaction: Reaction) -> None:
        self._reactions.append(reaction)

    async def start(self) -> None:
        await self.bus.start(self._signalled, self._resync)

    async def stop(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
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
                self._changed(session_id, feed)
        return feed

    async def _read_since(self, session_id: int, since: int) -> list[LoggedEvent]:
        async with self.db.read() as db:
            return await eventlog.read_since(db, session_id, since)

    def _changed(self, session_id: int, feed: Feed) -> None:
        for watcher in self._watchers:
            watcher(session_id, feed.state)

    async def _committed(self, session_id: int, events: list[LoggedEvent]) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            await feed.offer(events)
            self._changed(session_id, feed)
        await self.bus.publish(session_id, events[-1][0])
        for reaction in self._reactions:
            task = asyncio.create_task(self._run(reaction, session_id, events))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @staticmethod
    async def _run(reaction: Reaction, session_id: int, events: list[LoggedEvent]) -> None:
        try:
            await reaction(session_id, events)
        except Exception:  # one reaction's bug must not stop the others or the session
            log.exception("reaction_failed", reaction=getattr(reaction, "__qualname__", "?"))

    async def _signalled(self, session_id: int, seq: int) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            await feed.wake(seq)
            self._changed(session_id, feed)

    async def _resync(self) -> None:
        for session_id, feed in list(self.feeds.items()):
            await feed.load()
            self._changed(session_id, feed)
