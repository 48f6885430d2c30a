"""Rendering documents (documents/, Typst) away from the event loop: in one worker
process below the server's priority (session_server/background.py). Typst keeps a
cache that grows to most of a gigabyte over long minutes; a worker that has rendered
`RECYCLE_AFTER` documents is replaced, which gives that memory back."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from session_server.background import as_background_worker

RECYCLE_AFTER = 50
Render = Callable[[Mapping[str, Any], str], bytes]


class Renderer:
    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()

    async def render(self, render: Render, data: Mapping[str, Any], lang: str) -> bytes:
        async with self._lock:
            if self._pool is None:  # started at the first document, not with the server
                self._pool = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=as_background_worker,
                    max_tasks_per_child=RECYCLE_AFTER,
                )
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, render, dict(data), lang)

    async def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
