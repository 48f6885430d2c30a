"""Face work in worker processes: a frame costs about a tenth of a second of CPU, a
challenge a second, so none of it may run on the server's event loop.

The workers run below the server (session_server/workers.py, background.py), handed
their work by the event loop itself, with no helper threads: on cores they share,
the sockets' events go first and a burst of face checks waits instead. A bounded
number of checks may wait for a worker; past that a check is refused as `face_busy`
rather than queued for longer than anyone would stand in front of a tablet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import structlog

from biometrics import checks, faces
from biometrics.checks import FaceCheck, FaceError, Sample
from biometrics.liveness import Action
from session_server.workers import WorkerError, WorkerPool

log = structlog.get_logger(__name__)

T = TypeVar("T")


class FaceBusy(Exception):
    """Every worker is busy and the queue is full: try again in a moment."""


class FacePool:
    def __init__(
        self, workers: int, queue: int, threshold: float, landmarks_model: Path | None = None
    ) -> None:
        self.threshold = threshold
        self._queue = queue
        landmarks = None if landmarks_model is None else str(landmarks_model)
        self._pool = WorkerPool(
            workers, initializer=_start_worker, initargs=(landmarks,), name="face"
        )
        self._waiting = 0

    async def start(self) -> None:
        """Start the workers and load the models in each (a second or two): at the first
        face check, or at the server's start in production."""
        await self._pool.start()

    async def stop(self) -> None:
        await self._pool.stop()

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
            return await self._pool.run(fn, *args)
        except WorkerError as exc:
            # Its worker died (replaced meanwhile) or the server is stopping: the deputy
            # tries again, as when the workers are busy.
            log.error("face_worker_failed", error=str(exc))
            raise FaceBusy("the face check could not be made") from exc
        finally:
            self._waiting -= 1


def _plain(samples: Sequence[Sequence[float]]) -> list[list[float]]:
    return [[float(x) for x in s] for s in samples]


# -- in a worker process -------------------------------------------------------------------


def _start_worker(landmarks_model: str | None) -> None:
    faces.configure(landmarks_model)
    faces.models().warm()


# ("ok", samples) or ("refused", code, message, index): FaceError's own constructor does
# not survive the way back between processes.
_Enrolled = tuple[Any, ...]


def _enrol(images: list[bytes]) -> _Enrolled:
    try:
        return ("ok", checks.enrol(images))
    except FaceError as exc:
        return ("refused", exc.code, exc.message, exc.index)
