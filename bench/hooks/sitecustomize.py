"""Experiments for bench/fanout.py --experiment NAME: loaded into the real server's process
only (bench/hooks is put on its PYTHONPATH), so the server's files stay untouched.

  gcstats     time every garbage collection per generation; JSON to $FANOUT_GCSTATS at exit

(The experiments that led to the outbox pump, deflate off and the collector settings are
now the server's own code; docs/performance.md tells what each one measured.)
"""

from __future__ import annotations

import os
from typing import Any

EXPERIMENTS = {e for e in os.environ.get("FANOUT_EXPERIMENT", "").split(",") if e}


def _gcstats() -> None:
    import atexit
    import gc
    import json
    import signal
    import time

    stats = {g: {"count": 0, "seconds": 0.0, "max": 0.0, "collected": 0} for g in (0, 1, 2)}
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
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


if "gcstats" in EXPERIMENTS:
    _gcstats()
