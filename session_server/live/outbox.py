"""Sending one event to thousands of sockets without a task per socket.

Waking a writer task per socket per event costs CPU and, worse, leaves short-lived
objects behind in every connection until a full garbage collection stalls the loop
(docs/performance.md). Instead, each socket's frames wait in its `Outbox`, and one
`Pump` callback per loop turn sends for every outbox that has something: uvicorn's send
completes without suspending while the socket can take data, so this is a plain loop.
A send that must wait (a slow client) is finished by a task of that socket's own, so a
slow viewer still holds up nobody else."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

Send = Callable[[str], Coroutine[Any, Any, None]]
Close = Callable[[int], Awaitable[None]]


class Pump:
    """Sends for the outboxes that asked, in turns of at most `slice_seconds`.

    One event for 2,000 screens is 40 ms of sends; in one piece that would hold up every
    ballot arriving meanwhile. In slices, the loop reads sockets and answers commands
    between them, and the screens still get their frames in the order they were asked.
    Answers to a socket's own messages (`urgent`) go first, each turn: a deputy's ack
    does not wait behind a progress report to 2,000 screens."""

    CHECK_EVERY = 16  # outboxes between looks at the clock

    def __init__(self, slice_seconds: float = 0.0015) -> None:
        self._waiting: deque[Outbox] = deque()
        self._urgent: deque[Outbox] = deque()
        self._scheduled = False
        self._slice = slice_seconds

    def want(self, outbox: Outbox, urgent: bool = False) -> None:
        (self._urgent if urgent else self._waiting).append(outbox)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        urgent, waiting = self._urgent, self._waiting
        while urgent:
            urgent.popleft().send_now()
        deadline = time.perf_counter() + self._slice
        sent = 0
        while waiting:
            waiting.popleft().send_now()
            sent += 1
            if sent % self.CHECK_EVERY == 0 and time.perf_counter() > deadline:
                break
        if waiting or urgent:
            asyncio.get_running_loop().call_soon(self._run)
        else:
            self._scheduled = False


class _Rest:
    """Awaits the rest of a coroutine that was stepped by hand and is now waiting."""

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coro, self._waiting_on = coro, waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        step = self._waiting_on
        while True:
            try:
                sent = yield step
            except BaseException as exc:  # cancellation goes into the send, as usual
                try:
                    step = self._coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                step = self._coro.send(sent)
            except StopIteration:
                return


class Outbox:
    # Thousands of these live as long as their sockets: no __dict__, nothing made early.
    __slots__ = (
        "_asked",
        "_busy",
        "_close",
        "_close_code",
        "_finished",
        "_frames",
        "_limit",
        "_pump",
        "_send",
        "_tasks",
    )

    def __init__(self, send: Send, close: Close, pump: Pump, limit: int) -> None:
        self._send = send
        self._close = close
        self._pump = pump
        self._frames: deque[str] = deque()
        self._limit = limit
        self._busy = False  # a task of ours is finishing a send that had to wait
        self._asked = False  # already in the pump's list
        self._close_code: int | None = None
        self._tasks: set[asyncio.Task[None]] | None = None
        self._finished: asyncio.Event | None = None

    @property
    def finished(self) -> asyncio.Event:
        """Set once the close frame is sent (or sending failed)."""
        if self._finished is None:
            self._finished = asyncio.Event()
        return self._finished

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    def put(self, frame: str, urgent: bool = False) -> bool:
        """Queue a frame; False when the socket is too far behind to take it. An urgent
        frame (an answer) moves the socket to the front of the pump's queue, with what
        it already had queued, so the order on the socket stays the same."""
        if self._close_code is not None:
            return True
        if len(self._frames) >= self._limit:
            return False
        self._frames.append(frame)
        if urgent and not self._busy:
            self._asked = True
            self._pump.want(self, urgent=True)
        else:
            self._ask()
        return True

    def close(self, code: int, flush: bool) -> None:
        """Close after the queued frames (`flush`), or at once, dropping them."""
        if self._close_code is not None:
            return
        self._close_code = code
        if not flush:
            self._frames.clear()
        self._ask()

    def _ask(self) -> None:
        if not self._busy and not self._asked:
            self._asked = True
            self._pump.want(self)

    def send_now(self) -> None:
        self._asked = False
        while self._frames:
            coro = self._send(self._frames.popleft())
            try:
                waiting_on = coro.send(None)
            except StopIteration:
                continue
            except Exception:  # the peer is gone; the reader sees the disconnect
                self._frames.clear()
                self.finished.set()
                return
            self._busy = True
            self._spawn(self._finish(coro, waiting_on))
            return
        if self._close_code is not None and not self.finished.is_set():
            self._busy = True
            self._spawn(self._send_close(self._close_code))

    async def _finish(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        try:
            await _Rest(coro, waiting_on)
            while self._frames:
                await self._send(self._frames.popleft())
        except Exception:
            self._frames.clear()
            self.finished.set()
            return
        finally:
            self._busy = False
        if self._close_code is not None:
            self._ask()

    async def _send_close(self, code: int) -> None:
        try:
            await self._close(code)
        except Exception:  # already gone
            pass
        finally:
            self.finished.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._tasks is None:
            self._tasks = set()
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in list(self._tasks or ()):
            task.cancel()
