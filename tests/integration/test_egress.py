"""The WHEP egress in this process: a player that never connects is dropped, one that
cannot keep up is dropped, and neither holds up the others or leaves anything behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from broadcast.resources import Resources
from session_server.broadcasting import egress as egress_module
from session_server.broadcasting.egress import QUEUE_PACKETS, Egress, PacketTrack
from session_server.broadcasting.recording import Recordings


async def recvonly_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


@pytest.fixture
def on_air(tmp_path: Path) -> tuple[Resources, Recordings]:
    resources = Resources(max_viewers_per_address=5, max_viewers=10)
    resources.publish("1", "operator")
    recordings = Recordings(tmp_path)
    recordings.sink(1)
    return resources, recordings


async def test_a_player_that_never_connects_is_dropped(
    on_air: tuple[Resources, Recordings], monkeypatch: pytest.MonkeyPatch
) -> None:
    resources, recordings = on_air
    monkeypatch.setattr(egress_module, "CONNECT_SECONDS", 0.3)
    egress = Egress(resources, recordings)
    pc, offer = await recvonly_offer()
    resource, answer = await egress.watch(1, "192.0.2.1", offer, audio=True)
    assert "m=video" in answer and egress.viewers(1) == 1
    assert resources.viewers("1") == 1
    # The answer is never applied: no ICE, no DTLS.
    await asyncio.sleep(1.0)
    assert egress.viewers(1) == 0 and resources.viewers("1") == 0
    assert resources.get(resource.id) is None
    await pc.close()
    await egress.close()
    recordings.stop()


async def test_a_player_that_cannot_keep_up_is_dropped_alone(
    on_air: tuple[Resources, Recordings],
) -> None:
    resources, recordings = on_air
    egress = Egress(resources, recordings)
    pcs = [await recvonly_offer() for _ in range(2)]
    slow, quick = [(await egress.watch(1, "192.0.2.1", offer, audio=True))[0] for _, offer in pcs]
    feed = egress._feeds[1]
    viewers = {viewer.resource.id: viewer for viewer in feed.viewers}
    # Not connected yet: offered nothing (a sender that has not started takes nothing).
    for _ in range(QUEUE_PACKETS + 5):
        egress._fan_out(feed, "audio", av.Packet(b"\xfc" * 20))
    assert egress.viewers(1) == 2
    for viewer in viewers.values():
        viewer.connected = True  # as its connection's state change would set it
    # The quick one's sender takes every packet; the slow one's takes none.
    drained = viewers[quick.id].audio
    assert drained is not None
    for n in range(QUEUE_PACKETS + 5):
        packet = av.Packet(b"\xfc" * 20)
        packet.pts = n * 960
        egress._fan_out(feed, "audio", packet)
        await drained.recv()
    await asyncio.sleep(0.1)
    assert egress.viewers(1) == 1
    assert resources.get(slow.id) is None and resources.get(quick.id) is not None
    await egress.close()
    for pc, _ in pcs:
        await pc.close()
    recordings.stop()


async def test_video_starts_at_a_keyframe() -> None:
    track = PacketTrack("video")
    delta = av.Packet(b"\x00\x00\x00\x01\x41")
    key = av.Packet(b"\x00\x00\x00\x01\x65")
    key.is_keyframe = True
    assert track.offer(delta)  # taken, and thrown away: nothing before a keyframe
    assert track.offer(key) and track.offer(delta)
    assert await track.recv() is key
    assert await track.recv() is delta
