"""One live session in one process: its current state, the recent events for resuming
clients, and the sockets subscribed to it.

Each event is projected and serialised once per audience, and the same text goes to
every socket of that audience."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from session_server.eventlog import LoggedEvent
from session_server.live import state as session_state
from session_server.live.projection import Audience, project
from session_server.metrics import EVENTS_DELIVERED, FANOUT_SECONDS

ReadSince = Callable[[int, int], Awaitable[list[LoggedEvent]]]


class Subscriber(Protocol):
    def deliver(self, frame: str) -> None:
        """Queue a frame without waiting; a subscriber that falls behind closes itself."""


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class Feed:
    def __init__(self, session_id: int, read_since: ReadSince, replay_buffer: int) -> None:
        self.session_id = session_id
        self._read_since = read_since
        self.state = session_state.initial_state()
        self._recent: deque[LoggedEvent] = deque(maxlen=replay_buffer)
        # Each subscriber with the audience it sees this session as.
        self.subscribers: dict[Subscriber, Audience] = {}
        self._snapshots: dict[tuple[int, Audience], str] = {}
        # Held while the feed changes or a subscriber joins, so nobody joins between the
        # events they were replayed and the live ones.
        self.lock = asyncio.Lock()

    @property
    def seq(self) -> int:
        return int(self.state["seq"])

    @property
    def council_id(self) -> int | None:
        """The council whose sitting this is (known once the feed has loaded)."""
        session = self.state.get("session") or {}
        council = session.get("council_id")
        return council if isinstance(council, int) else None

    async def load(self) -> None:
        """Apply whatever the log holds beyond what this feed has seen."""
        async with self.lock:
            await self._catch_up()

    async def offer(self, events: list[LoggedEvent]) -> None:
        """Events just committed by this process: apply in order, reading any gap."""
        async with self.lock:
            for seq, event in events:
                if seq <= self.seq:
                    continue
                if seq != self.seq + 1:
                    await self._catch_up()
                    continue
                self._apply(seq, event)

    async def wake(self, seq: int) -> None:
        """The bus says the log reached `seq`."""
        if seq <= self.seq:
            return
        async with self.lock:
            await self._catch_up()

    async def _catch_up(self) -> None:
        for seq, event in await self._read_since(self.session_id, self.seq):
            if seq == self.seq + 1:
                self._apply(seq, event)

    def _apply(self, seq: int, event: dict[str, Any]) -> None:
        started = time.perf_counter()
        self.state = session_state.apply(self.state, seq, event)
        self._recent.append((seq, event))
        frames: dict[Audience, str] = {}
        for sub, audience in self.subscribers.items():
            frame = frames.get(audience)
            if frame is None:
                frame = frames[audience] = self.event_frame(seq, event, audience)
            sub.deliver(frame)
        EVENTS_DELIVERED.inc(len(self.subscribers))
        FANOUT_SECONDS.observe(time.perf_counter() - started)

    def event_frame(self, seq: int, event: dict[str, Any], audience: Audience) -> str:
        return dumps(
            {
                "type": "event",
                "session": self.session_id,
                "seq": seq,
                "event": project(event, audience),
            }
        )

    def snapshot_frame(self, audience: Audience, server_time: str) -> str:
        # A reconnect storm asks for the same snapshot thousands of times: serialise it
        # once per seq and audience, and add only the clock.
        key = (self.seq, audience)
        body = self._snapshots.get(key)
        if body is None:
            self._snapshots = {k: v for k, v in self._snapshots.items() if k[0] == self.seq}
            body = self._snapshots[key] = dumps(
                {
                    "type": "snapshot",
                    "session": self.session_id,
                    "seq": self.seq,
                    "state": project(self.state, audience),
                }
            )[:-1]
        return f'{body},"server_time":{json.dumps(server_time)}}}'

    def replay(self, since: int) -> list[LoggedEvent] | None:
        """The events after `since`, or None when they are no longer all in memory (or
        `since` is from a log this one is not: then the client needs a snapshot)."""
        if since > self.seq:
            return None
        if since == self.seq:
            return []
        if not self._recent or self._recent[0][0] > since + 1:
            return None
        return [(seq, event) for seq, event in self._recent if seq > since]
