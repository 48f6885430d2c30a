"""The server's worker processes run below it and leave with it: a server killed
outright (SIGKILL, an OOM kill) must not leave its face or signature workers behind,
each holding a few hundred megabytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

# A server with one worker of the pool every background job runs in
# (session_server/workers.py, which runs as_background_worker in each).
SERVER = """
import asyncio, os
from session_server.workers import WorkerPool

async def main():
    pool = WorkerPool(1)
    print("worker", await pool.run(os.getpid), flush=True)
    await asyncio.sleep(600)

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
def test_a_worker_runs_idle_and_exits_when_its_server_is_killed() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = ""
        while not line.startswith("worker "):  # past the pool's log lines
            line = server.stdout.readline()
            assert line, "the server ended"
        worker = int(line.split()[1])
        assert os.sched_getscheduler(worker) == os.SCHED_IDLE
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(worker), "the worker outlived its server"
    finally:
        server.kill()
