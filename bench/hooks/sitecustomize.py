"""Experiments for bench/fanout.py --experiment NAME: loaded into the real server's process
only (bench/hooks is put on its PYTHONPATH), so the server's files stay untouched.

  gcstats     time every garbage collection per generation; JSON to $FANOUT_GCSTATS at exit
  gcfreeze    gc.freeze() each time a viewer subscribes a multiple of 500 sockets, and
              gen0 threshold 50_000: long-lived connection objects leave the collector
  nodeflate   serve without permessage-deflate (uvicorn ws_per_message_deflate=False)
  pump        one sender per feed instead of one writer task woken per socket (see below)
"""

from __future__ import annotations

import os

EXPERIMENTS = {e for e in os.environ.get("FANOUT_EXPERIMENT", "").split(",") if e}


def _gcstats() -> None:
    import atexit
    import gc
    import json
    import signal
    import time

    stats = {g: {"count": 0, "seconds": 0.0, "max": 0.0, "collected": 0} for g in (0, 1, 2)}
    started: list[float] = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        s = stats[info["generation"]]
        s["count"] += 1
        s["seconds"] += took
        s["max"] = max(s["max"], took)
        s["collected"] += info["collected"]

    gc.callbacks.append(callback)

    def dump(*_: object) -> None:
        path = os.environ.get("FANOUT_GCSTATS")
        if path:
            with open(path, "w") as f:
                json.dump({"stats": stats, "objects": len(gc.get_objects())}, f)

    atexit.register(dump)
    signal.signal(signal.SIGUSR1, dump)


def _nodeflate() -> None:
    import uvicorn

    run = uvicorn.run

    def patched(*args: object, **kwargs: object) -> None:
        kwargs["ws_per_message_deflate"] = False
        run(*args, **kwargs)  # type: ignore[arg-type]

    uvicorn.run = patched  # type: ignore[assignment]


def _gcfreeze() -> None:
    import gc

    from session_server.live import connection

    gc.set_threshold(50_000, 20, 100)
    subscribe = connection.Connection._subscribe
    joined = [0]

    async def patched(self, frame):  # type: ignore[no-untyped-def]
        await subscribe(self, frame)
        joined[0] += 1
        if joined[0] % 500 == 0:
            gc.freeze()

    connection.Connection._subscribe = patched  # type: ignore[method-assign]


def _pump() -> None:
    """Feed._apply hands the frame to each socket's outbox as before, but instead of waking
    one writer task per socket, one task per fan-out walks the sockets whose writer is idle
    and awaits their send; the ASGI send of uvicorn's sans-I/O protocol completes without
    suspending while the transport is writable, so this is a plain loop. A socket that would
    block (its transport paused) is left to its own writer task, as today."""
    import asyncio

    from session_server.live import connection

    Conn = connection.Connection

    def init_patch(init):  # type: ignore[no-untyped-def]
        def __init__(self, *a, **k):  # type: ignore[no-untyped-def]
            init(self, *a, **k)
            self._busy = False

        return __init__

    Conn.__init__ = init_patch(Conn.__init__)  # type: ignore[method-assign]
    pending: list = []
    scheduled = [False]
    finishing: set = set()

    def deliver(self, frame: str) -> None:  # type: ignore[no-untyped-def]
        if self._close_code is not None:
            return
        if len(self._outbox) >= connection.MAX_OUTBOX:
            connection.SLOW_CLOSED.inc()
            self.close(connection.TRY_AGAIN_LATER)
            return
        self._outbox.append(frame)
        if self._busy:
            return
        pending.append(self)
        if not scheduled[0]:
            scheduled[0] = True
            asyncio.get_running_loop().call_soon(_run_pump)

    def _run_pump() -> None:
        scheduled[0] = False
        batch = pending[:]
        pending.clear()
        for conn in batch:
            if conn._busy or not conn._outbox:
                continue
            _drive(conn)

    def _drive(conn) -> None:  # type: ignore[no-untyped-def]
        # Send synchronously while each send completes without suspending.
        while conn._outbox:
            coro = conn.ws.send_text(conn._outbox.popleft())
            try:
                yielded = coro.send(None)
            except StopIteration:
                continue
            except Exception:
                conn.close(1011)
                conn._ready.set()
                return
            # It would block: let a task finish this send and the rest of the outbox.
            conn._busy = True
            task = asyncio.ensure_future(_finish(conn, coro, yielded))
            finishing.add(task)
            task.add_done_callback(finishing.discard)
            return

    async def _finish(conn, coro, yielded) -> None:  # type: ignore[no-untyped-def]
        try:
            await _Resume(coro, yielded)
            while conn._outbox:
                await conn.ws.send_text(conn._outbox.popleft())
        finally:
            conn._busy = False

    class _Resume:
        def __init__(self, coro, yielded) -> None:  # type: ignore[no-untyped-def]
            self.coro, self.yielded = coro, yielded

        def __await__(self):  # type: ignore[no-untyped-def]
            value = yield self.yielded
            while True:
                try:
                    y = self.coro.send(value)
                except StopIteration as stop:
                    return stop.value
                value = yield y

    Conn.deliver = deliver  # type: ignore[method-assign]


if "gcstats" in EXPERIMENTS:
    _gcstats()
if "nodeflate" in EXPERIMENTS:
    _nodeflate()
if "gcfreeze" in EXPERIMENTS:
    _gcfreeze()
if "pump" in EXPERIMENTS:
    _pump()
