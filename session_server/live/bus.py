"""The bus tells every server process that a session's log has grown.

It is a wake-up signal, not a carrier: a process that missed a signal catches up from
the log at the next one. In-process by default; Redis when KENGASH_REDIS_URL is set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Listener = Callable[[int, int], Awaitable[None]]  # (session id, newest seq)
Resync = Callable[[], Awaitable[None]]  # signals may have been missed: read the log


class Bus(Protocol):
    # True when other processes write to the same log.
    shared: bool

    async def start(self, listener: Listener, resync: Resync) -> None: ...

    async def publish(self, session_id: int, seq: int) -> None: ...

    async def stop(self) -> None: ...


class InProcessBus:
    """Hubs in one process (one per app; tests may run several) wake each other directly."""

    shared = False

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    async def start(self, listener: Listener, resync: Resync) -> None:
        self._listeners.append(listener)

    async def publish(self, session_id: int, seq: int) -> None:
        for listener in list(self._listeners):
            await listener(session_id, seq)

    async def stop(self) -> None:
        self._listeners.clear()
