"""Publishing the test clip to a real server with aiortc, for the broadcast tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.contrib.media import MediaPlayer

from tests.conftest import ROOT
from tests.wsclient import LiveClient

CLIP = ROOT.parent / "shared" / "media" / "short_hamilton_clip.mp4"


async def offer_of(clip: Path) -> tuple[RTCPeerConnection, str]:
    """A publisher's peer connection sending the clip's video and audio, and its offer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(str(clip))
    assert player.video is not None and player.audio is not None
    pc.addTransceiver(player.video, direction="sendonly")
    pc.addTransceiver(player.audio, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def until_live(viewer: LiveClient, live: bool) -> dict[str, object]:
    """The `broadcast.changed` event (already received or coming) saying `live`."""
    async with asyncio.timeout(15):
        while True:
            for frame in viewer.events:
                event = frame["event"]
                if event["kind"] == "broadcast.changed" and event["live"] is live:
                    return event  # type: ignore[no-any-return]
            await viewer.recv()
