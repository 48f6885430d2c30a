"""The server's side of the media process (session_server/broadcasting/media.py): starts
it, asks it to publish, watch and stop, and turns what it tells into the sitting's log.

Every call is a frame on the process's input and an answer on its output; nothing here
waits for media work on the server's loop. If the process dies, its calls fail with 503
`broadcast_unavailable`, its sittings go off air in the log, and a new one is started:
the server itself goes on."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from broadcast.hls import DateRange
from broadcast.resources import ResourceError
from session_server.broadcasting.media import frame, read_frame
from session_server.broadcasting.recording import Recordings
from session_server.eventlog import LoggedEvent
from session_server.settings import Settings

log = structlog.get_logger(__name__)

# (session, live) -> logs broadcast.report
Report = Callable[[int, bool], Awaitable[None]]
# A call the media process has not answered in this time has failed (it never should).
CALL_SECONDS = 30.0
RESTART_SECONDS = 1.0
# Segments kept in memory for the players: a few seconds of a few sittings (~120 kB each).
SEGMENTS_KEPT = 32


class MediaProcess:
    def __init__(self, settings: Settings, report: Report) -> None:
        self._settings = settings
        self._report = report
        self._process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._last_id = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        # What the process told, for the audience count and the chapter marks.
        self.live: set[int] = set()
        self.viewers: dict[int, int] = {}
        self.recording: set[int] = set()

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "session_server.broadcasting.media",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdin is not None
        # The settings go over the pipe, not the environment: the server may have been
        # given them otherwise, and the TURN secret stays out of /proc/*/environ.
        self._process.stdin.write(frame(self._settings))
        self._reading = asyncio.create_task(self._read(self._process))

    async def call(self, operation: str, *args: Any) -> Any:
        """The operation's value; ResourceError with the status and code it refused."""
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise ResourceError(503, "broadcast_unavailable", "the broadcast is restarting")
        self._last_id += 1
        request_id = self._last_id
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[request_id] = answer
        process.stdin.write(frame((request_id, operation, args)))
        try:
            async with asyncio.timeout(CALL_SECONDS):
                return await answer
        except TimeoutError as exc:
            raise ResourceError(
                503, "broadcast_unavailable", "the broadcast did not answer"
            ) from exc
        finally:
            self._calls.pop(request_id, None)

    def send(self, operation: str, *args: Any) -> None:
        """A call whose answer nobody waits for (frames stay in order: marks before the
        sitting's end)."""
        self._spawn(self._quietly(operation, *args))

    async def _quietly(self, operation: str, *args: Any) -> None:
        try:
            await self.call(operation, *args)
        except ResourceError as exc:
            log.warning("media_call_failed", operation=operation, code=exc.code)

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while (message := await read_frame(process.stdout)) is not None:
            request_id, kind, *rest = message
            if request_id == 0:
                self._told(kind, *rest)
                continue
            answer = self._calls.get(request_id)
            if answer is None or answer.done():
                continue
            if kind == "ok":
                answer.set_result(rest[0])
            else:
                answer.set_exception(ResourceError(*rest))
        await process.wait()
        if not self._closing:
            self._spawn(self._died(process.returncode))

    def _told(self, kind: str, session_id: int, value: Any) -> None:
        if kind == "report":
            (self.live.add if value else self.live.discard)(session_id)
            self._spawn(self._report(session_id, bool(value)))
        elif kind == "viewers":
            if value:
                self.viewers[session_id] = int(value)
            else:
                self.viewers.pop(session_id, None)
        elif kind == "recording":
            (self.recording.add if value else self.recording.discard)(session_id)

    async def _died(self, status: int | None) -> None:
        log.error("media_process_died", status=status)
        for answer in self._calls.values():
            if not answer.done():
                answer.set_exception(
                    ResourceError(503, "broadcast_unavailable", "the broadcast is restarting")
                )
        for session_id in sorted(self.live):
            await self._report(session_id, False)
        self.live.clear()
        self.viewers.clear()
        self.recording.clear()
        await asyncio.sleep(RESTART_SECONDS)
        if not self._closing:
            await self.start()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self._closing = True
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ResourceError):
            await self.call("close")
        if process.stdin is not None:
            process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
        if self._reading is not None:
            await self._reading


class _Charted:
    """A recording being made in the media process, as the chapter marks reach it."""

    def __init__(self, media: MediaProcess, session_id: int) -> None:
        self._media = media
        self._session_id = session_id

    def chart(self, marks: list[DateRange]) -> None:
        self._media.send("chart", self._session_id, marks)


class MediaRecordings:
    """The recordings as the server sees them: made in the media process, their
    folders read here (the HLS routes, the chapters, a recording left over)."""

    def __init__(self, folder: Path, media: MediaProcess) -> None:
        self._files = Recordings(folder)  # opens none: only its file work is used
        self._media = media
        self.folder = folder
        self._segments: OrderedDict[tuple[int, str], bytes] = OrderedDict()

    def segment(self, session_id: int, name: str) -> bytes | None:
        """A segment's bytes (None: there is none): the newest are kept in memory, since
        every player of a sitting fetches the same few, each once, within a second or two."""
        key = (session_id, name)
        data = self._segments.get(key)
        if data is None:
            try:
                # From the page cache: the segmenter has just written it. Quicker on the
                # loop than a thread's round trip, which also takes the interpreter.
                data = (self.folder / str(session_id) / name).read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                return None
            self._segments[key] = data
            if len(self._segments) > SEGMENTS_KEPT:
                self._segments.popitem(last=False)
        else:
            self._segments.move_to_end(key)
        return data

    def get(self, session_id: int) -> _Charted | None:
        if session_id not in self._media.recording:
            return None
        return _Charted(self._media, session_id)

    async def reaction(self, session_id: int, events: list[LoggedEvent]) -> None:
        """The sitting closed: its broadcast ends and its recording gets its ENDLIST
        (after the marks sent before, the frames keeping their order)."""
        if any(event["kind"] == "session.closed" for _, event in events):
            with contextlib.suppress(ResourceError):
                await self._media.call("session_closed", session_id)

    def unfinished(self) -> list[int]:
        return [s for s in self._files.unfinished() if s not in self._media.recording]

    def end_left_over(self, session_id: int, marks: list[DateRange]) -> bool:
        if session_id in self._media.recording:
            return False
        return self._files.end_left_over(session_id, marks)
