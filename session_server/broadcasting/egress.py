"""WHEP egress: each viewer's peer connection sends the sitting's encoded packets as
they are.

A sitting is encoded once (broadcast/pipeline.py, on its recording's thread). The first
WHEP viewer of a sitting subscribes this process to that pipeline's H.264 and Opus
packets, once for all of its viewers; each packet crosses to the event loop once and is
offered to every viewer's track there. aiortc's senders take encoded packets and only
packetize them into RTP: a viewer costs no encoder. A viewer's video starts at a keyframe
(at most one segment away, the GOP being fixed). A viewer whose queue fills (its
connection stalled, or the loop starved of it) is dropped, never waited for; a viewer
that has not connected within CONNECT_SECONDS is dropped, so an offer that never
completes leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from prometheus_client import Counter, Gauge

from broadcast.pipeline import Packet
from broadcast.resources import Resource, ResourceError, Resources
from session_server.broadcasting.metrics import MEDIA
from session_server.broadcasting.recording import Recording, Recordings

log = structlog.get_logger(__name__)

VIEWERS = Gauge("kengash_whep_viewers", "WHEP viewers connected", registry=MEDIA)
PLAYERS = Gauge("kengash_whep_players", "WHEP players, connected or not", registry=MEDIA)
STALLED = Counter(
    "kengash_whep_viewers_dropped_total", "WHEP viewers dropped", ["reason"], registry=MEDIA
)

# Packets a viewer may have waiting: about a second of video (30) and of audio (50).
QUEUE_PACKETS = 80
# An offer answered but never connected (ICE failing, a client gone) ends after this.
CONNECT_SECONDS = 20.0
# How often viewers of a publisher gone longer than its grace are ended.
EXPIRE_SECONDS = 5.0


class PacketTrack(MediaStreamTrack):
    """A track whose `recv` hands aiortc's sender encoded packets, fed by `offer`."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._packets: asyncio.Queue[Packet] = asyncio.Queue(QUEUE_PACKETS)
        # Video before the first keyframe cannot be decoded: not sent.
        self._before_keyframe = kind == "video"

    def offer(self, packet: Packet) -> bool:
        """Queue a packet; False when the queue is full (the viewer has stalled)."""
        if self._before_keyframe:
            if not packet.is_keyframe:
                return True
            self._before_keyframe = False
        try:
            self._packets.put_nowait(packet)
        except asyncio.QueueFull:
            return False
        return True

    async def recv(self) -> Any:  # aiortc's sender accepts an av.Packet as it is
        if self.readyState != "live":
            raise MediaStreamError
        return await self._packets.get()


@dataclass(eq=False)
class Viewer:
    resource: Resource
    pc: RTCPeerConnection
    video: PacketTrack
    audio: PacketTrack | None  # None: the viewer takes no sound
    connected: bool = False
    deadline: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Feed:
    """One sitting's packets on the event loop, offered to each of its viewers."""

    viewers: set[Viewer] = field(default_factory=set)
    unsubscribe: Callable[[], None] | None = None


def _codec(kind: str, mime: str, profile: str | None = None) -> list[RTCRtpCodecCapability]:
    """What the answer may carry: the codec we forward (and its retransmissions)."""
    chosen = []
    for codec in RTCRtpSender.getCapabilities(kind).codecs:
        if codec.mimeType.lower() == mime and (
            profile is None or codec.parameters.get("profile-level-id") == profile
        ):
            chosen.append(codec)
    rtx = [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.endswith("/rtx")]
    return chosen + rtx


class Egress:
    """The WHEP viewers of every sitting broadcast by this process."""

    def __init__(
        self,
        resources: Resources,
        recordings: Recordings,
        ice_servers: Callable[[], list[RTCIceServer]] = list,
        on_change: Callable[[int], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.resources = resources
        self._recordings = recordings
        self._ice_servers = ice_servers
        self._on_change = on_change
        self._feeds: dict[int, _Feed] = {}
        self._viewers: dict[str, Viewer] = {}  # by resource id
        self._expiry: asyncio.Task[None] | None = None
        PLAYERS.set_function(lambda: len(self._viewers))
        self._tasks: set[asyncio.Task[None]] = set()  # kept until done (the loop keeps weak refs)

    def start(self) -> None:
        self._expiry = asyncio.create_task(self._expire_now_and_then())

    def viewers(self, session_id: int) -> int:
        feed = self._feeds.get(session_id)
        return len(feed.viewers) if feed else 0

    async def watch(
        self, session_id: int, address: str, offer: str, *, audio: bool
    ) -> tuple[Resource, str]:
        """A viewer's offer (already inspected; `audio`: whether it receives sound): its
        resource and the answer.
        ResourceError: 404 not_live, 429 too_many. ValueError: aiortc refused the offer."""
        recording = self._recordings.get(session_id)
        if recording is None:
            raise ResourceError(404, "not_live", "this sitting is not being broadcast")
        resource = self.resources.viewer(str(session_id), address)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice_servers()))
        viewer = Viewer(resource, pc, PacketTrack("video"), PacketTrack("audio") if audio else None)
        self._viewers[resource.id] = viewer

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected" and not viewer.connected:
                viewer.connected = True
                if viewer.deadline is not None:
                    viewer.deadline.cancel()
                VIEWERS.inc()
            elif pc.connectionState in ("failed", "closed"):
                await self._end(viewer, "failed" if pc.connectionState == "failed" else None)

        try:
            # The senders first, their codecs narrowed to what we forward: the offer's
            # sections then find them, and the answer carries nothing else.
            video = pc.addTransceiver(viewer.video, direction="sendonly")
            video.setCodecPreferences(_codec("video", "video/h264", "42e01f"))
            if viewer.audio is not None:
                sound = pc.addTransceiver(viewer.audio, direction="sendonly")
                sound.setCodecPreferences(_codec("audio", "audio/opus"))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc's own refusal of an offer that passed our checks
            await self._end(viewer, None)
            raise ValueError(str(exc)) from exc
        if resource.id not in self._viewers:  # its connection ended while answering
            raise ResourceError(404, "not_live", "the broadcast ended")
        loop = asyncio.get_running_loop()
        viewer.deadline = loop.call_later(
            CONNECT_SECONDS, lambda: self._spawn(self._end(viewer, "never_connected"))
        )
        self._join(session_id, viewer, recording)
        return resource, pc.localDescription.sdp

    def _join(self, session_id: int, viewer: Viewer, recording: Recording) -> None:
        feed = self._feeds.get(session_id)
        if feed is None:
            feed = self._feeds[session_id] = _Feed()
            loop = asyncio.get_running_loop()

            # On the recording thread: one hop to the loop per packet, for all viewers.
            def on_video(packet: Packet) -> None:
                loop.call_soon_threadsafe(self._fan_out, feed, "video", packet)

            def on_audio(packet: Packet) -> None:
                loop.call_soon_threadsafe(self._fan_out, feed, "audio", packet)

            feed.unsubscribe = recording.subscribe(on_video, on_audio, audio="opus")
        feed.viewers.add(viewer)
        self._changed(session_id)

    def _fan_out(self, feed: _Feed, kind: str, packet: Packet) -> None:
        for viewer in list(feed.viewers):
            if not viewer.connected:
                continue  # its sender is not sending yet: packets would only pile up
            track = viewer.video if kind == "video" else viewer.audio
            if track is not None and not track.offer(packet):
                self._spawn(self._end(viewer, "stalled"))

    async def stop(self, resource_id: str) -> None:
        """A viewer's DELETE (the caller checked the resource)."""
        viewer = self._viewers.get(resource_id)
        if viewer is not None:
            with contextlib.suppress(ResourceError):
                self.resources.delete(
                    "whep", viewer.resource.session, resource_id, viewer.resource.owner
                )
            await self._end(viewer, None)

    async def end_all(self, resources: list[Resource]) -> None:
        """Viewers the registry has already ended (the publisher stopped, the grace ran
        out, the sitting closed): close their connections."""
        for resource in resources:
            viewer = self._viewers.get(resource.id)
            if viewer is not None:
                await self._end(viewer, None)

    async def end_session(self, session_id: int) -> None:
        feed = self._feeds.get(session_id)
        for viewer in list(feed.viewers if feed else ()):
            with contextlib.suppress(ResourceError):
                self.resources.delete("whep", str(session_id), viewer.resource.id, None)
            await self._end(viewer, None)

    async def _end(self, viewer: Viewer, reason: str | None) -> None:
        if self._viewers.pop(viewer.resource.id, None) is None:
            return
        if reason is not None:
            STALLED.labels(reason).inc()
            log.info("whep_viewer_dropped", reason=reason, session=viewer.resource.session)
        if self.resources.get(viewer.resource.id) is not None:
            self.resources.dropped(viewer.resource.id, now=asyncio.get_running_loop().time())
        if viewer.deadline is not None:
            viewer.deadline.cancel()
        if viewer.connected:
            VIEWERS.dec()
        session_id = int(viewer.resource.session)
        feed = self._feeds.get(session_id)
        if feed is not None:
            feed.viewers.discard(viewer)
            if not feed.viewers:
                del self._feeds[session_id]
                if feed.unsubscribe is not None:
                    feed.unsubscribe()
        viewer.video.stop()
        if viewer.audio is not None:
            viewer.audio.stop()
        await viewer.pc.close()
        self._changed(session_id)

    def _changed(self, session_id: int) -> None:
        if self._on_change is not None:
            self._spawn(self._on_change(session_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire_now_and_then(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(EXPIRE_SECONDS)
            await self.end_all(self.resources.expire(now=loop.time()))

    async def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for viewer in list(self._viewers.values()):
            await self._end(viewer, None)
