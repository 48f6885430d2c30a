"""WHIP ingest: one publisher per sitting, its peer connection, its tracks read.

aiortc decodes what it receives (in its own threads); every received track is read
here as fast as it comes, so nothing queues without bound, and each frame is handed to
the sitting's sink. When the publisher's connection comes up or ends, the server logs
`broadcast.report`, so every screen sees live / not live."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from broadcast.resources import Resource, ResourceError, Resources
from session_server.auth.tokens import SYSTEM
from session_server.commands.dispatcher import Dispatcher

log = structlog.get_logger(__name__)

# (session, live) -> logs broadcast.report
Report = Callable[[int, bool], Awaitable[None]]


def reporting_broadcast(dispatcher: Dispatcher) -> Report:
    """Log `broadcast.report` as the server."""

    async def report(session_id: int, live: bool) -> None:
        answer = await dispatcher.execute(
            SYSTEM,
            f"broadcast:{session_id}:{uuid.uuid4().hex}",
            "broadcast.report",
            {"session": session_id, "live": live, "source": "whip" if live else None},
        )
        if answer["type"] != "ack":
            log.warning("broadcast_not_reported", session=session_id, error=answer["error"])

    return report


class Sink(Protocol):
    """Where a sitting's decoded frames go (the encoder, later the recording)."""

    def frame(self, kind: str, frame: Any) -> None: ...

    def close(self) -> None: ...


@dataclass
class Publisher:
    resource: Resource
    session_id: int
    pc: RTCPeerConnection
    sink: Sink
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    live: bool = False


class Ingest:
    def __init__(
        self,
        resources: Resources,
        report: Report,
        make_sink: Callable[[int], Sink],
        viewers_ended: Callable[[list[Resource]], Awaitable[None]] | None = None,
        *,
        ice_servers: Callable[[], list[RTCIceServer]] = list,
    ) -> None:
        self.resources = resources
        # KENGASH_ICE_SERVERS for each new connection (TURN passwords expire: made anew).
        self._ice_servers = ice_servers
        self._report = report
        self._make_sink = make_sink
        # The publisher stopping ends its viewers (WHEP) too: they are closed there.
        self._viewers_ended = viewers_ended
        self._publishers: dict[str, Publisher] = {}  # by resource id

    async def publish(self, session_id: int, owner: str, offer: str) -> tuple[Resource, str]:
        """Take the publisher's offer; (its resource, the answer). ResourceError (409
        busy) when the sitting has a publisher; ValueError when aiortc refuses the
        offer."""
        resource = self.resources.publish(str(session_id), owner)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice_servers()))
        publisher = Publisher(resource, session_id, pc, self._make_sink(session_id))
        self._publishers[resource.id] = publisher

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            publisher.readers.append(asyncio.create_task(self._read(publisher, track)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and not publisher.live:
                publisher.live = True
                await self._report(session_id, True)
            elif state in ("failed", "closed"):
                # Only a DELETE (or the sitting's end) stops the broadcast: a connection
                # that ends otherwise dropped, and its viewers wait for the publisher.
                await self._gone(publisher, dropped=True)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc's own refusal of an offer that passed our checks
            await self._gone(publisher, dropped=False)
            raise ValueError(str(exc)) from exc
        return resource, pc.localDescription.sdp

    async def _read(self, publisher: Publisher, track: MediaStreamTrack) -> None:
        kind = track.kind
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            try:
                publisher.sink.frame(kind, frame)
            except Exception:  # the sink's bug must not stop reading (nothing may queue)
                log.exception("broadcast_sink_failed", session=publisher.session_id)

    async def stop(self, resource_id: str) -> None:
        """The publisher's DELETE: end the connection (the caller checked who asks)."""
        publisher = self._publishers.get(resource_id)
        if publisher is not None:
            await self._gone(publisher, dropped=False)

    async def _gone(self, publisher: Publisher, dropped: bool) -> None:
        if self._publishers.pop(publisher.resource.id, None) is None:
            return
        loop = asyncio.get_running_loop()
        if dropped:
            self.resources.dropped(publisher.resource.id, now=loop.time())
        else:
            ended: list[Resource] = []
            with contextlib.suppress(ResourceError):
                ended = self.resources.delete(
                    "whip",
                    publisher.resource.session,
                    publisher.resource.id,
                    publisher.resource.owner,
                )
            if self._viewers_ended is not None:
                await self._viewers_ended(ended[1:])
        for reader in publisher.readers:
            reader.cancel()
        publisher.sink.close()
        await publisher.pc.close()
        if publisher.live:
            await self._report(publisher.session_id, False)

    async def end_session(self, session_id: int) -> None:
        """The sitting closed: it is off air (its publisher's connection ends)."""
        for publisher in list(self._publishers.values()):
            if publisher.session_id == session_id:
                await self._gone(publisher, dropped=False)

    async def close(self) -> None:
        for publisher in list(self._publishers.values()):
            await self._gone(publisher, dropped=False)
