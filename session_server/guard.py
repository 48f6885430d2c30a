"""Connections before they are requests: a deadline for the request headers, a cap on the
process's open connections, and an open-files limit high enough for the cap.

uvicorn closes an idle keep-alive connection, but not one that trickles its request
headers a line at a time (slowloris), and a flood of idle connections used up the
process's file descriptors until even `/healthz` could not be accepted. So:

- a connection must send complete request headers within
  `KENGASH_HTTP_HEADER_TIMEOUT_SECONDS` of opening (or of starting its next request on a
  kept-alive connection), or it is closed;
- at most `max_open` connections are open per process. A connection arriving over the
  cap closes the oldest connections still waiting for their headers (the new one itself
  if every other is busy), so a quick request always finds room. WebSockets and requests
  being answered are never shed;
- `kengash serve` raises the soft RLIMIT_NOFILE to the hard limit, and the cap stays
  below it by a reserve for the database pool, Redis, logs and static files.

`ConnectionGuard` is the bookkeeping, pure. The protocol classes below are uvicorn's
httptools and websockets-sansio protocols with the guard wired in; `kengash serve`
passes them to uvicorn (each worker process builds its guard from the settings)."""

from __future__ import annotations

import asyncio
import resource
from typing import Any, Generic, TypeVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from session_server.metrics import CONNECTIONS_REFUSED
from session_server.settings import Settings

K = TypeVar("K")

# Descriptors kept free of connections: at least this many, or a tenth of the limit.
FD_RESERVE = 64
# What to raise the soft limit to when the hard limit is unlimited (Linux's nr_open).
UNLIMITED_TARGET = 1 << 20


class ConnectionGuard(Generic[K]):
    """The process's open connections, and which of them wait for request headers."""

    __slots__ = ("_open", "_waiting", "header_timeout", "max_open")

    def __init__(self, max_open: int, header_timeout: float) -> None:
        self.max_open = max_open
        self.header_timeout = header_timeout
        self._open: set[K] = set()
        # Insertion order is age: the first key has waited longest.
        self._waiting: dict[K, None] = {}

    def opened(self, conn: K) -> list[K]:
        """Count a new connection, waiting for its headers. Returns the connections to
        close so that at most `max_open` stay open: the oldest waiting first, `conn`
        itself last (when every other connection is busy)."""
        self._open.add(conn)
        self._waiting[conn] = None
        shed: list[K] = []
        while len(self._open) > self.max_open:
            victim = next(iter(self._waiting))  # never empty: `conn` is in it, or shed
            self.closed(victim)
            shed.append(victim)
        return shed

    def busy(self, conn: K) -> None:
        """Its request headers are complete: a request (or a WebSocket) is under way."""
        self._waiting.pop(conn, None)

    def idle(self, conn: K) -> None:
        """Its response is sent and it is kept alive: waiting again, as the youngest."""
        if conn in self._open:
            self._waiting.pop(conn, None)
            self._waiting[conn] = None

    def closed(self, conn: K) -> None:
        self._open.discard(conn)
        self._waiting.pop(conn, None)

    @property
    def open(self) -> int:
        return len(self._open)

    @property
    def waiting(self) -> int:
        return len(self._waiting)


def connection_cap(open_files: int, configured: int | None = None) -> int:
    """The most connections a process may hold with `open_files` descriptors: the
    setting, but never more than the limit less the reserve."""
    most = max(1, open_files - max(FD_RESERVE, open_files // 10))
    return most if configured is None else min(configured, most)


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (a process may, unprivileged);
    returns the soft limit now in force. Child processes (workers) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return UNLIMITED_TARGET
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # refused (a container's cap): keep what we have
            pass
    return soft


Guard = ConnectionGuard[asyncio.BaseTransport]
_guard: Guard | None = None


def process_guard() -> Guard:
    """This process's guard, built from the settings on first use (in each worker)."""
    global _guard
    if _guard is None:
        settings = Settings()
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        open_files = UNLIMITED_TARGET if soft == resource.RLIM_INFINITY else soft
        _guard = ConnectionGuard(
            connection_cap(open_files, settings.max_connections),
            settings.http_header_timeout_seconds,
        )
    return _guard


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, counted by the guard and timed until its headers."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._guard = process_guard()
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        for victim in self._guard.opened(transport):
            CONNECTIONS_REFUSED.labels("shed").inc()
            victim.close()
        if not transport.is_closing():
            self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        self._guard.closed(self.transport)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The next request on a kept-alive connection gets its own deadline; the first
        # keeps the one from connection_made.
        if self._header_timer is None:
            self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        self._guard.busy(self.transport)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Kept alive with nothing pipelined: sheddable again until its next headers.
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._guard.idle(self.transport)

    def _start_header_clock(self) -> None:
        self._header_timer = self.loop.call_later(self._guard.header_timeout, self._headers_overdue)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            CONNECTIONS_REFUSED.labels("header_timeout").inc()
            self.transport.close()


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol: an upgraded connection stays counted by the
    guard (it holds a descriptor) until it closes. It is busy, never shed."""

    def connection_lost(self, exc: Exception | None) -> None:
        process_guard().closed(self.transport)
        super().connection_lost(exc)
