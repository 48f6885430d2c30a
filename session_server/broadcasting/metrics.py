"""The broadcast's metrics, kept by the media process (session_server/broadcasting/media.py)
in a registry of their own: the server's /metrics adds them to its own, so each family
appears once, counted where the work is done."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

MEDIA = CollectorRegistry()


class OffLoopCpu(Collector):
    """`kengash_broadcast_encoding_cpu_seconds_total`: the media process's CPU outside its
    event loop thread: decoding the publisher, scaling, x264 and its own threads, AAC and
    Opus, remuxing into segments. What the broadcast costs whatever its audience (the
    viewers' packets go out on the loop)."""

    def __init__(self) -> None:
        self._loop_thread = threading.get_native_id()  # made on the loop's thread
        self._tick = os.sysconf("SC_CLK_TCK")

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            fields = Path(f"/proc/self/task/{self._loop_thread}/stat").read_text()
            utime, stime = fields.rsplit(")", 1)[1].split()[11:13]
            on_loop = (int(utime) + int(stime)) / self._tick
        except (OSError, ValueError):
            return  # not Linux: not counted
        yield CounterMetricFamily(
            "kengash_broadcast_encoding_cpu_seconds",
            "CPU of the media process off its event loop (decoding, encoding, segmenting)",
            value=max(0.0, time.process_time() - on_loop),
        )
