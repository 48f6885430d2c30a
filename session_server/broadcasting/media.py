"""The broadcast's media in a process of its own: WHIP publishers, WHEP viewers, the
encoder and the HLS recording, beside the server and off its event loop.

Measured (bench/broadcast.py, docs/performance.md): on the server's loop the media
(SRTP, RTP packetizing for every viewer, the publisher's packets coming in) took a
quarter of a core and held the sockets' fan-out up many times over. Here it has its own
interpreter and loop; the server keeps only what it must do itself: HTTP, the checks of
who may publish, the sitting's log. The two talk over this process's standard input and
output, frames of pickled tuples (both sides are this program):

  server -> media  (request id, operation, arguments)   answered (id, "ok", value) or
                                                         (id, "error", status, code, message)
  media -> server  (0, "report", session, live)          on / off air, for the log
                   (0, "viewers", session, count)        WHEP viewers of a sitting
                   (0, "recording", session, recording)  a recording started / finished

The process ends when its input closes: when the server stops, or dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import generate_latest

from broadcast.hls import DateRange
from broadcast.resources import ResourceError, Resources
from session_server.broadcasting.egress import Egress
from session_server.broadcasting.ice import offer_host_addresses, rtc_ice_servers
from session_server.broadcasting.ingest import Ingest
from session_server.broadcasting.metrics import MEDIA, OffLoopCpu
from session_server.broadcasting.recording import Recording, Recordings
from session_server.logs import configure as configure_logs
from session_server.settings import Settings, hls_dir, ice_hosts

log = structlog.get_logger(__name__)

_LENGTH = struct.Struct(">I")
# A frame is an SDP offer or answer, a list of chapter marks, the metrics: well below.
MAX_FRAME = 16 * 1024 * 1024


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next frame, or None at the end of the stream."""
    try:
        size = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))[0]
        if size > MAX_FRAME:
            raise ValueError(f"a frame of {size} bytes")
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


def frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


Notify = Callable[..., None]


class MediaService:
    """What the media process does for the server: one method per operation."""

    def __init__(self, settings: Settings, notify: Notify) -> None:
        self._notify = notify
        self.resources = Resources(
            max_viewers_per_address=settings.whep_max_per_address,
            max_viewers=settings.whep_max_viewers,
        )
        self.recordings = Recordings(hls_dir(settings))
        self.egress = Egress(
            self.resources,
            self.recordings,
            ice_servers=lambda: rtc_ice_servers(settings),
            on_change=self._viewers_changed,
        )
        self.ingest = Ingest(
            self.resources,
            self._report,
            self._sink,
            self.egress.end_all,
            ice_servers=lambda: rtc_ice_servers(settings),
        )

    async def _report(self, session_id: int, live: bool) -> None:
        self._notify("report", session_id, live)

    async def _viewers_changed(self, session_id: int) -> None:
        self._notify("viewers", session_id, self.egress.viewers(session_id))

    def _sink(self, session_id: int) -> Recording:
        if self.recordings.get(session_id) is None:
            self._notify("recording", session_id, True)
        return self.recordings.sink(session_id)

    # -- operations ------------------------------------------------------------------

    async def publish(self, session_id: int, owner: str, offer: str) -> tuple[str, str]:
        resource, answer = await self.ingest.publish(session_id, owner, offer)
        return resource.location, answer

    async def stop_publisher(self, session_id: int, resource_id: str, owner: str) -> None:
        known = self.resources.get(resource_id)
        if known is None or known.kind != "whip" or known.session != str(session_id):
            raise ResourceError(404, "not_found", "there is no such publication")
        if known.owner != owner:
            raise ResourceError(403, "forbidden", "this publication is someone else's")
        await self.ingest.stop(resource_id)

    async def end_publisher_of(self, session_id: int, owner: str) -> bool:
        """A revoked ingest key: the publication made with it ends. Whether there was one."""
        publisher = self.resources.publisher(str(session_id))
        if publisher is None or publisher.owner != owner:
            return False
        await self.ingest.stop(publisher.id)
        return True

    async def watch(
        self, session_id: int, address: str, offer: str, audio: bool
    ) -> tuple[str, str]:
        resource, answer = await self.egress.watch(session_id, address, offer, audio=audio)
        return resource.location, answer

    async def leave(self, session_id: int, resource_id: str) -> None:
        known = self.resources.get(resource_id)
        if known is None or known.kind != "whep" or known.session != str(session_id):
            raise ResourceError(404, "not_found", "there is no such player")
        await self.egress.stop(resource_id)

    async def chart(self, session_id: int, marks: list[DateRange]) -> None:
        recording = self.recordings.get(session_id)
        if recording is not None:
            recording.chart(marks)

    async def session_closed(self, session_id: int) -> None:
        """Off air for good: the publisher's connection and the viewers' end, and the
        recording gets its ENDLIST after the marks sent before."""
        await self.ingest.end_session(session_id)
        await self.egress.end_session(session_id)
        if self.recordings.get(session_id) is not None:
            self.recordings.finish(session_id)
            self._notify("recording", session_id, False)

    async def metrics(self) -> bytes:
        return generate_latest(MEDIA)

    async def close(self) -> None:
        await self.ingest.close()
        await self.egress.close()
        self.recordings.stop()


OPERATIONS = frozenset(
    {
        "publish",
        "stop_publisher",
        "end_publisher_of",
        "watch",
        "leave",
        "chart",
        "session_closed",
        "metrics",
    }
)


async def serve(reader: asyncio.StreamReader, write: Callable[[bytes], None]) -> None:
    """Take the settings, then requests, until the input ends."""
    settings = await read_frame(reader)
    if not isinstance(settings, Settings):
        raise SystemExit("the media process expects the server's settings first")
    configure_logs(settings.log_format, settings.log_level)
    offer_host_addresses(ice_hosts(settings))

    def notify(*what: Any) -> None:
        write(frame((0, *what)))

    MEDIA.register(OffLoopCpu())
    service = MediaService(settings, notify)
    service.egress.start()
    tasks: set[asyncio.Task[None]] = set()

    async def run(request_id: int, operation: str, args: tuple[Any, ...]) -> None:
        try:
            method: Callable[..., Awaitable[Any]] = getattr(service, operation)
            value = await method(*args)
            write(frame((request_id, "ok", value)))
        except ResourceError as exc:
            write(frame((request_id, "error", exc.status, exc.code, exc.message)))
        except ValueError as exc:  # aiortc's own refusal of an offer that passed our checks
            write(frame((request_id, "error", 400, "bad_sdp", f"the offer was not taken: {exc}")))
        except Exception:
            log.exception("media_operation_failed", operation=operation)
            write(frame((request_id, "error", 500, "internal", "the media process failed")))

    while (request := await read_frame(reader)) is not None:
        request_id, operation, args = request
        if operation == "close":  # the server stops: as it did with the media inside it
            with contextlib.suppress(Exception):
                await service.close()
            write(frame((request_id, "ok", None)))
            return
        if operation not in OPERATIONS:
            write(frame((request_id, "error", 500, "internal", f"no operation {operation}")))
            continue
        task = asyncio.create_task(run(request_id, operation, args))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    # The input ended without a close: the server died. Go as it went, leaving the
    # recordings as they are for the next server to carry on (no ENDLIST).
    os._exit(0)


# Below the server (whose sockets' fan-out comes first on shared cores), above the
# background workers (session_server/background.py, SCHED_IDLE): where both want a
# core the server gets about nine tenths of it; the media's work is a third of a core
# and what is left over is plenty (bench/broadcast.py).
NICE = 10


async def _main() -> None:
    with contextlib.suppress(OSError):
        os.nice(NICE)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_FRAME)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, out)
    # Nothing else may write to the frames' stream: prints go to the log's stream.
    sys.stdout = sys.stderr
    await serve(reader, transport.write)


if __name__ == "__main__":
    asyncio.run(_main())
