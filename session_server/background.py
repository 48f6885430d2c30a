"""Processes that work for the server in the background (signature checks, face work):
each runs below the server, and leaves with it.

Linux's SCHED_IDLE gives such a process a core only when nothing else wants it: on cores
it shares with the server, the server's sockets come first (measured with
bench/signin.py and bench/face_load.py, docs/performance.md). Where that policy is not
to be had, the lowest nice value comes closest. A worker whose server died (killed, or
crashed) would otherwise live on holding its memory: it watches for that and exits."""

from __future__ import annotations

import contextlib
import os
import threading
import time

# How often a worker looks whether its server is still there.
PARENT_CHECK_SECONDS = 1.0


def as_background_worker() -> None:
    """The initializer of every worker process of the server's pools."""
    _below_the_server()
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent").start()


def _below_the_server() -> None:
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
    with contextlib.suppress(OSError):
        os.nice(19)


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)  # the server is gone: nobody will ask this process for anything again
