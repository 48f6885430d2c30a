"""The worker pool (session_server/workers.py) with real worker processes: answers,
exceptions, many calls at once on few workers, a killed worker, stop, and no helper
threads in the server's process."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from session_server.workers import PoolStopped, WorkerDied, WorkerError, WorkerPool

# -- run in the workers (module level: they are called by name) --------------------------


class Refusal(Exception):
    """An exception whose constructor takes two arguments: it cannot be rebuilt from
    its args, so it must come back as a WorkerError naming it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def square(x: int) -> int:
    return x * x


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def fail(message: str) -> int:
    raise ValueError(message)


def refuse() -> None:
    raise Refusal("code", "refused")


def echo(data: bytes) -> bytes:
    return data[::-1]


def mark(path: str) -> None:
    """An initializer: leaves a file per worker started."""
    Path(path, str(os.getpid())).write_text("warm")


def broken_start() -> None:
    raise RuntimeError("no model here")


# -- the tests ------------------------------------------------------------------------------


async def test_answers_and_exceptions_come_back() -> None:
    pool = WorkerPool(1)
    try:
        assert await pool.run(square, 7) == 49
        with pytest.raises(ValueError, match="out of order") as raised:
            await pool.run(fail, "out of order")
        # The worker's traceback comes along as the cause.
        assert "fail" in str(raised.value.__cause__)
        with pytest.raises(WorkerError, match="Refusal: refused"):
            await pool.run(refuse)
        # A large request and answer (more than a socket's buffer) go through whole.
        data = os.urandom(8 * 1024 * 1024)
        assert await pool.run(echo, data) == data[::-1]
        assert await pool.run(square, 3) == 9  # the worker is still there
    finally:
        await pool.stop()


async def test_no_helper_threads_in_the_server() -> None:
    before = {t.ident for t in threading.enumerate()}
    pool = WorkerPool(2)
    try:
        await asyncio.gather(*(pool.run(square, n) for n in range(20)))
        assert {t.ident for t in threading.enumerate()} <= before
    finally:
        await pool.stop()


async def test_many_calls_share_the_workers() -> None:
    pool = WorkerPool(2)
    try:
        results = await asyncio.gather(*(pool.run(square, n) for n in range(200)))
        assert results == [n * n for n in range(200)]
        # Both workers take calls, never more than one at a time each: four calls of
        # 0.3 s take about 0.6 s on two workers.
        started = time.monotonic()
        pids = await asyncio.gather(*(pool.run(pid_after, 0.3) for _ in range(4)))
        took = time.monotonic() - started
        assert sorted(set(pids)) == sorted(pool.pids)
        assert 0.55 < took < 3.0
    finally:
        await pool.stop()


async def test_the_initializer_runs_in_every_worker_at_start(tmp_path: Path) -> None:
    pool = WorkerPool(2, initializer=mark, initargs=(str(tmp_path),))
    try:
        await pool.start()
        assert sorted(int(name) for name in os.listdir(tmp_path)) == sorted(pool.pids)
    finally:
        await pool.stop()
    failing = WorkerPool(1, initializer=broken_start)
    with pytest.raises(RuntimeError, match="no model here"):
        await failing.start()
    with pytest.raises(RuntimeError, match="no model here"):
        await failing.run(square, 2)  # tries again, fails the same way
    await failing.stop()


async def test_a_killed_worker_fails_its_call_and_is_replaced(tmp_path: Path) -> None:
    pool = WorkerPool(1, initializer=mark, initargs=(str(tmp_path),))
    try:
        await pool.start()
        [first] = pool.pids
        running = asyncio.ensure_future(pool.run(pid_after, 30))
        queued = asyncio.ensure_future(pool.run(square, 5))
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(WorkerDied, match=r"signal 9.*pid_after"):
            await asyncio.wait_for(running, 10)
        # The call that waited runs on the replacement, which was warmed first.
        assert await asyncio.wait_for(queued, 30) == 25
        [second] = pool.pids
        assert second != first
        assert str(second) in os.listdir(tmp_path)
        assert await pool.run(square, 6) == 36
    finally:
        await pool.stop()


async def test_a_cancelled_call_leaves_the_pool_working() -> None:
    pool = WorkerPool(1)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.run(pid_after, 0.5), 0.1)
        waiting = asyncio.ensure_future(pool.run(square, 2))
        await asyncio.sleep(0)
        waiting.cancel()
        assert await pool.run(square, 4) == 16
    finally:
        await pool.stop()


async def test_stop_ends_the_workers_and_fails_their_calls() -> None:
    pool = WorkerPool(2)
    await pool.start()
    pids = pool.pids
    running = [asyncio.ensure_future(pool.run(pid_after, 30)) for _ in range(3)]
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await pool.stop()
    assert time.monotonic() - started < 5
    for call in running:
        with pytest.raises(PoolStopped):
            await call
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # A stopped pool starts again when asked.
    try:
        assert await pool.run(square, 9) == 81
        assert not set(pool.pids) & set(pids)
    finally:
        await pool.stop()
