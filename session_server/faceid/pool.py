"""Face work in worker processes: a frame costs about a tenth of a second of CPU, a
challenge a second, so none of it may run on the server's event loop.

The workers run below the server (session_server/background.py): on cores they share,
the sockets' events go first and a burst of face checks waits instead. A bounded
number of checks may wait for a worker; past that a check is refused as `face_busy`
rather than queued for longer than anyone would stand in front of a tablet."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import structlog

from biometrics import checks, faces
from biometrics.checks import FaceCheck, FaceError, Sample
from biometrics.liveness import Action
from session_server.background import as_background_worker

log = structlog.get_logger(__name__)

T = TypeVar("T")


class FaceBusy(Exception):
    """Every worker is busy and the queue is full: try again in a moment."""


class FacePool:
    def __init__(
        self, workers: int, queue: int, threshold: float, landmarks_model: Path | None = None
    ) -> None:
        self.threshold = threshold
        self._workers = workers
        self._queue = queue
        self._landmarks = None if landmarks_model is None else str(landmarks_model)
        self._pool: ProcessPoolExecutor | None = None
        self._waiting = 0
        self._starting: asyncio.Lock | None = None

    async def start(self) -> None:
        """Start the workers and load the models in each (a second or two): at the first
        face check, or at the server's start in production."""
        if self._pool is not None:
            return
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._pool is not None:
                return
            # spawn, not fork: the server process has threads and a running loop.
            pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._landmarks,),
            )
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, _warm) for _ in range(self._workers)))
            self._pool = pool
            log.info("face_workers_started", workers=self._workers)

    async def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def enrol(self, images: Sequence[bytes]) -> list[Sample]:
        """One sample per image; FaceError naming the first image without exactly one
        face, or one that is not an image."""
        outcome = await self._run(_enrol, list(images))
        if outcome[0] == "refused":
            _, code, message, index = outcome
            raise FaceError(code, message, index)
        samples: list[Sample] = outcome[1]
        return samples

    async def match(self, frame: bytes, samples: Sequence[Sequence[float]]) -> FaceCheck:
        return await self._run(checks.match, frame, _plain(samples), self.threshold)

    async def challenge(
        self,
        frames: Sequence[bytes],
        actions: Sequence[Action],
        frames_per_action: int,
        samples: Sequence[Sequence[float]],
    ) -> FaceCheck:
        return await self._run(
            checks.challenge,
            list(frames),
            list(actions),
            frames_per_action,
            _plain(samples),
            self.threshold,
        )

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._waiting >= self._queue:
            raise FaceBusy("every face worker is busy")
        self._waiting += 1
        try:
            await self.start()
            assert self._pool is not None
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1


def _plain(samples: Sequence[Sequence[float]]) -> list[list[float]]:
    return [[float(x) for x in s] for s in samples]


# -- in a worker process -------------------------------------------------------------------


def _start_worker(landmarks_model: str | None) -> None:
    as_background_worker()
    faces.configure(landmarks_model)


def _warm() -> None:
    faces.models().warm()


# ("ok", samples) or ("refused", code, message, index): FaceError's own constructor does
# not survive the way back between processes.
_Enrolled = tuple[Any, ...]


def _enrol(images: list[bytes]) -> _Enrolled:
    try:
        return ("ok", checks.enrol(images))
    except FaceError as exc:
        return ("refused", exc.code, exc.message, exc.index)
