"""A sitting's broadcast encoded once and recorded as HLS, off the event loop.

Frames from the publisher's tracks go into a bounded queue; one thread per sitting
takes them to the pipeline (one H.264 and one AAC encoder) and its packets to the HLS
segmenter (broadcast/). A full queue drops frames rather than grow: the encoder falling
behind must never hold up the event loop or fill the memory. The recording outlives a
publisher that drops and reconnects (the pipeline re-anchors the new timestamps); it
ends, with ENDLIST, when the sitting closes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import Counter

from broadcast.pipeline import Encoder, Pipeline
from broadcast.segmenter import Segmenter
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent

log = structlog.get_logger(__name__)

DROPPED = Counter(
    "kengash_broadcast_frames_dropped_total", "Frames dropped: the encoder fell behind", ["kind"]
)
FRAMES = Counter("kengash_broadcast_frames_total", "Frames received from publishers", ["kind"])
# About two seconds of 30 fps video and 50-a-second audio frames.
QUEUE_FRAMES = 160
_FINISH = object()


class Recording:
    """One sitting's encoder and HLS folder; `frame` is called on the event loop."""

    def __init__(
        self, folder: Path, settings: Encoder | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._frames: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        settings = settings or Encoder()
        self._pipeline = Pipeline(settings)
        self._segmenter = Segmenter(folder, settings, clock)
        self._pipeline.subscribe(
            self._segmenter.video, self._segmenter.audio, self._segmenter.discontinuity
        )
        self._thread = threading.Thread(target=self._run, name=f"recording:{folder.name}")
        self._thread.start()

    def frame(self, kind: str, frame: Any) -> None:
        FRAMES.labels(kind).inc()
        try:
            self._frames.put_nowait((kind, frame))
        except queue.Full:
            DROPPED.labels(kind).inc()

    def close(self) -> None:
        """The publisher has gone: the recording waits for the next one."""

    def finish(self) -> None:
        """The sitting is over: encode what is queued, then write ENDLIST."""
        self._frames.put(_FINISH)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._frames.get()
            if item is _FINISH:
                break
            kind, frame = item
            try:
                if kind == "video":
                    self._pipeline.push_video(frame)
                elif kind == "audio":
                    self._pipeline.push_audio(frame)
            except Exception:  # one bad frame must not end the recording
                log.exception("recording_frame_failed", folder=str(self.folder))
        try:
            self._pipeline.close()
            self._segmenter.finish()
        except Exception:
            log.exception("recording_finish_failed", folder=str(self.folder))


class Recordings:
    """The recordings of this process's sittings, one folder each under `folder`."""

    def __init__(self, folder: Path, settings: Encoder | None = None) -> None:
        self.folder = folder
        self._settings = settings
        self._open: dict[int, Recording] = {}

    def sink(self, session_id: int) -> Recording:
        """The sitting's recording, started with its first publisher."""
        recording = self._open.get(session_id)
        if recording is None:
            recording = Recording(self.folder / str(session_id), self._settings)
            self._open[session_id] = recording
        return recording

    async def reaction(self, session_id: int, events: list[LoggedEvent]) -> None:
        """A reaction: the sitting closed, so its recording ends."""
        if any(event["kind"] == "session.closed" for _, event in events):
            self.finish(session_id)

    def finish(self, session_id: int) -> None:
        recording = self._open.pop(session_id, None)
        if recording is not None:
            recording.finish()

    def stop(self) -> None:
        for session_id in list(self._open):
            self.finish(session_id)
