"""A sitting's broadcast encoded once and recorded as HLS, off the event loop.

Frames from the publisher's tracks go into a bounded queue; one thread per sitting
takes them to the pipeline (one H.264 and one AAC encoder) and its packets to the HLS
segmenter (broadcast/). A full queue drops frames rather than grow: the encoder falling
behind must never hold up the event loop or fill the memory. The recording outlives a
publisher that drops and reconnects (the pipeline re-anchors the new timestamps) and a
server restart (the segmenter carries the recording on disk on); it ends, with ENDLIST,
when the sitting closes. The chapter marks come from the event loop (chapter_marks.py)
and are handed to the thread, which alone touches the segmenter."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import Counter

from broadcast.hls import DateRange
from broadcast.pipeline import AudioCodec, Encoder, PacketCallback, Pipeline
from broadcast.segmenter import RECORDING_PLAYLIST, Segmenter, end_recording
from session_server.broadcasting.metrics import MEDIA
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent

log = structlog.get_logger(__name__)

DROPPED = Counter(
    "kengash_broadcast_frames_dropped_total",
    "Frames dropped: the encoder fell behind",
    ["kind"],
    registry=MEDIA,
)
FRAMES = Counter(
    "kengash_broadcast_frames_total", "Frames received from publishers", ["kind"], registry=MEDIA
)
# About two seconds of 30 fps video and 50-a-second audio frames.
QUEUE_FRAMES = 160
_FINISH = object()
_WAKE = object()  # something other than a frame is waiting (chapter marks)


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
        # Subscriptions asked for from the event loop, made by the thread between frames:
        # the pipeline is the thread's alone.
        self._changes: deque[Callable[[Pipeline], None]] = deque()
        # The chapter marks handed over from the event loop, waiting for the thread.
        self._marks_lock = threading.Lock()
        self._marks: list[DateRange] | None = None
        self._thread = threading.Thread(target=self._run, name=f"recording:{folder.name}")
        self._thread.start()

    def subscribe(
        self, on_video: PacketCallback, on_audio: PacketCallback, *, audio: AudioCodec = "opus"
    ) -> Callable[[], None]:
        """The encoded packets from the next frame on, as Pipeline.subscribe gives them
        (the callbacks run on the recording thread). Safe to call from any thread, as is
        the unsubscribe function it returns."""
        unsubscribe: list[Callable[[], None]] = []

        def add(pipeline: Pipeline) -> None:
            unsubscribe.append(pipeline.subscribe(on_video, on_audio, audio=audio))

        def remove(pipeline: Pipeline) -> None:
            for done in unsubscribe:
                done()

        self._changes.append(add)
        return lambda: self._changes.append(remove)

    def frame(self, kind: str, frame: Any) -> None:
        FRAMES.labels(kind).inc()
        try:
            self._frames.put_nowait((kind, frame))
        except queue.Full:
            DROPPED.labels(kind).inc()

    def chart(self, marks: list[DateRange]) -> None:
        """The sitting's chapter marks as its log now tells them, from the event loop:
        the recording thread brings the playlists up to them (Segmenter.chart), even
        while no frame comes. Only the newest list matters, so a newer one replaces one
        still waiting."""
        with self._marks_lock:
            self._marks = marks
        try:
            self._frames.put_nowait(_WAKE)
        except queue.Full:
            pass  # the thread has frames to take: it sees the marks with the next one

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
            while self._changes:
                self._changes.popleft()(self._pipeline)
            self._chart()
            if item is _FINISH:
                break
            if item is _WAKE:
                continue
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

    def _chart(self) -> None:
        with self._marks_lock:
            marks, self._marks = self._marks, None
        if marks is not None:
            try:
                self._segmenter.chart(marks)
            except Exception:  # a bad mark must not end the recording
                log.exception("recording_marks_failed", folder=str(self.folder))


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

    def get(self, session_id: int) -> Recording | None:
        """The sitting's recording while it is being made, if it is."""
        return self._open.get(session_id)

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

    def unfinished(self) -> list[int]:
        """The sittings whose recording on disk has no ENDLIST and that no recording
        of this process carries on: left so by a server that went down mid-broadcast."""
        left = []
        for playlist in self.folder.glob(f"*/{RECORDING_PLAYLIST}"):
            name = playlist.parent.name
            if not name.isdigit() or int(name) in self._open:
                continue
            if not playlist.read_text(encoding="utf-8").rstrip().endswith("#EXT-X-ENDLIST"):
                left.append(int(name))
        return sorted(left)

    def end_left_over(self, session_id: int, marks: list[DateRange]) -> bool:
        """The sitting closed with its recording left over (no publisher since the
        restart): its final marks and ENDLIST, from here. Whether there was one."""
        if session_id in self._open:
            return False
        try:
            return end_recording(self.folder / str(session_id), marks)
        except ValueError:
            log.exception("recording_not_ended", session=session_id)
            return False
