"""WHEP on the real server: while an aiortc publisher sends the test clip over WHIP, aiortc
viewers POST recvonly offers and receive decodable video (H.264, the server's one
encoding) and sound (Opus); refusals come with their status and code and leave nothing
behind; a viewer's DELETE, the publisher's stop and the sitting's close end viewers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import av
import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from session_server.broadcasting.ice import offer_host_addresses
from tests.broadcasting import CLIP, offer_of, until_live
from tests.conftest import Server, seed_demo, server_env, skip_or_fail, start_server
from tests.wsclient import LiveClient

SDP = {"Content-Type": "application/sdp"}


@pytest.fixture(scope="module")
def whep_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    offer_host_addresses(["127.0.0.1"])
    tmp = tmp_path_factory.mktemp("whep")
    url = f"sqlite+aiosqlite:///{tmp / 'kengash.db'}"
    seed_demo(url)
    server = start_server(
        server_env(url, tmp, KENGASH_ICE_HOSTS="127.0.0.1", KENGASH_AUDIENCE_SECONDS="0.3"),
        tmp / "server.log",
    )
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def on_air(whep_server: Server) -> AsyncIterator[str]:
    """Sitting 1 on air from the test clip; yields the publisher's resource URL."""
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    operator = {"Authorization": f"Bearer {whep_server.token('operator')}"}
    pc, offer = await offer_of(CLIP)
    async with httpx.AsyncClient(base_url=whep_server.url) as http:
        answer = await http.post("/whip/1", content=offer, headers={**operator, **SDP})
        assert answer.status_code == 201, answer.text
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        location = answer.headers["location"]
        try:
            yield location
        finally:
            await http.delete(location, headers=operator)
            await pc.close()


async def viewer_offer(video: bool = True, audio: bool = True) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if video:
        pc.addTransceiver("video", direction="recvonly")
    if audio:
        pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def players(http: httpx.AsyncClient) -> float:
    metrics = (await http.get("/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("kengash_whep_players ")
    )


async def frames_of(track: MediaStreamTrack, count: int) -> list[Any]:
    frames: list[Any] = []
    async with asyncio.timeout(20):
        while len(frames) < count:
            frames.append(await track.recv())
    return frames


async def test_a_viewer_receives_the_broadcast(whep_server: Server, on_air: str) -> None:
    pc = await viewer_offer()
    tracks: dict[str, MediaStreamTrack] = {}
    both = asyncio.Event()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        tracks[track.kind] = track
        if set(tracks) == {"audio", "video"}:
            both.set()

    async with httpx.AsyncClient(base_url=whep_server.url) as http:
        answer = await http.post("/whep/1", content=pc.localDescription.sdp, headers=SDP)
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"].startswith("application/sdp")
        location = answer.headers["location"]
        assert location.startswith("/whep/1/")
        # Only what is sent as it is: H.264 (Constrained Baseline) and Opus.
        assert "H264/90000" in answer.text and "VP8" not in answer.text
        assert "profile-level-id=42e01f" in answer.text
        assert "opus/48000" in answer.text
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        async with asyncio.timeout(15):
            await both.wait()
        video = await frames_of(tracks["video"], 30)
        assert all(isinstance(f, av.VideoFrame) for f in video)
        assert (video[-1].width, video[-1].height) == (640, 360)
        assert video[-1].pts is not None and video[0].pts is not None
        assert video[-1].pts > video[0].pts
        sound = await frames_of(tracks["audio"], 20)
        assert all(isinstance(f, av.AudioFrame) for f in sound)
        assert await players(http) == 1
        # The media process counts its encoding work (off its loop: x264's threads too).
        encoding = [
            float(line.split()[-1])
            for line in (await http.get("/metrics")).text.splitlines()
            if line.startswith("kengash_broadcast_encoding_cpu_seconds_total ")
        ]
        assert encoding and encoding[0] > 0
        # The consoles are told how many watch: this viewer, and an HLS player.
        follower = await LiveClient.open(whep_server.ws_url)
        await follower.subscribe(1)
        for _ in range(50):
            live = await http.get("/hls/1/index.m3u8", headers={"User-Agent": "test-player"})
            if live.status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert live.status_code == 200
        counted = await audience(follower, lambda a: a["webrtc"] == 1 and a["hls"] >= 1)
        assert counted["watching"] == counted["webrtc"] + counted["hls"]
        # The viewer leaves: its resource is gone, a second DELETE finds nothing.
        assert (await http.delete(location)).status_code == 200
        assert (await http.delete(location)).status_code == 404
        assert await players(http) == 0
        await audience(follower, lambda a: a["webrtc"] == 0)
        await follower.close()
    await pc.close()


async def audience(
    follower: LiveClient, wanted: Callable[[dict[str, int]], bool]
) -> dict[str, int]:
    """The first broadcast.audience event whose figures are as `wanted`."""
    async with asyncio.timeout(15):
        seen = 0
        while True:
            for frame in follower.events[seen:]:
                event = frame["event"]
                if event["kind"] == "broadcast.audience" and wanted(event["audience"]):
                    return event["audience"]  # type: ignore[no-any-return]
            seen = len(follower.events)
            await follower.recv()


async def test_stopping_the_publisher_ends_its_viewers(whep_server: Server) -> None:
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    operator = {"Authorization": f"Bearer {whep_server.token('operator')}"}
    publisher, offer = await offer_of(CLIP)
    async with httpx.AsyncClient(base_url=whep_server.url) as http:
        answer = await http.post("/whip/1", content=offer, headers={**operator, **SDP})
        assert answer.status_code == 201, answer.text
        await publisher.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        pc = await viewer_offer()
        watching = await http.post("/whep/1", content=pc.localDescription.sdp, headers=SDP)
        assert watching.status_code == 201, watching.text
        await pc.setRemoteDescription(RTCSessionDescription(watching.text, "answer"))
        assert await players(http) == 1
        assert (await http.delete(answer.headers["location"], headers=operator)).status_code == 200
        assert await players(http) == 0
        assert (await http.delete(watching.headers["location"])).status_code == 404
        # Off air: a new viewer is told so.
        late = await viewer_offer()
        refused = await http.post("/whep/1", content=late.localDescription.sdp, headers=SDP)
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_live")
        await late.close()
        await pc.close()
    await publisher.close()


async def test_refusals_leave_nothing_behind(whep_server: Server, on_air: str) -> None:
    async with httpx.AsyncClient(base_url=whep_server.url) as http:
        good = await viewer_offer()
        offer = good.localDescription.sdp
        audio_only = await viewer_offer(video=False)
        vp8_only = without_h264(offer)
        for body, kind, status, code in [
            (offer, "text/plain", 415, "unsupported_media_type"),
            ("v=0\r\nnot sdp at all\r\n", "application/sdp", 400, "bad_sdp"),
            (audio_only.localDescription.sdp, "application/sdp", 422, "no_video"),
            (vp8_only, "application/sdp", 406, "no_usable_codec"),
        ]:
            answer = await http.post("/whep/1", content=body, headers={"Content-Type": kind})
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (
                answer.text
            )
        # Too big: refused as it comes.
        huge = await http.post("/whep/1", content="v=0\r\n" + "a=x\r\n" * 20_000, headers=SDP)
        assert huge.status_code == 413
        # Another sitting's, or an unknown player.
        missing = await http.post("/whep/2", content=offer, headers=SDP)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_live")
        assert (await http.delete("/whep/1/nosuchresource")).status_code == 404
        assert await players(http) == 0
        # Many offers from one address: the cap answers 429, the rest is untouched.
        made = []
        refused = 0
        for _ in range(1000):
            answer = await http.post("/whep/1", content=offer, headers=SDP)
            if answer.status_code == 201:
                made.append(answer.headers["location"])
            else:
                assert (answer.status_code, answer.json()["error"]["code"]) == (429, "too_many")
                refused += 1
        assert (len(made), refused) == (20, 980)
        assert await players(http) == 20
        # A player's id is no use on another sitting's URL.
        other = made[0].replace("/whep/1/", "/whep/2/")
        assert (await http.delete(other)).status_code == 404
        for location in made:
            assert (await http.delete(location)).status_code == 200
        assert await players(http) == 0
        options = await http.options("/whep/1")
        assert options.status_code == 204 and options.headers["accept-post"] == "application/sdp"
        await good.close()
        await audio_only.close()


def without_h264(offer: str) -> str:
    """The offer with its H.264 payload types taken out (VP8 left)."""
    h264 = {
        line.split(":", 1)[1].split()[0]
        for line in offer.split("\r\n")
        if line.startswith("a=rtpmap:") and "H264/90000" in line
    }
    assert h264
    kept = []
    for line in offer.split("\r\n"):
        if line.startswith("m=video"):
            words = line.split()
            line = " ".join(words[:3] + [pt for pt in words[3:] if pt not in h264])
        elif line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")):
            pt = line.split(":", 1)[1].split()[0]
            if pt in h264 or any(f"apt={p}" == rest for p in h264 for rest in line.split()[1:]):
                continue
        kept.append(line)
    return "\r\n".join(kept)


async def test_viewers_stay_while_the_publisher_reconnects(whep_server: Server) -> None:
    """The publisher's connection drops (no DELETE): viewers keep their connection, and
    the picture comes back on it when the publisher reconnects."""
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    operator = {"Authorization": f"Bearer {whep_server.token('operator')}"}
    follower = await LiveClient.open(whep_server.ws_url)
    await follower.subscribe(1)
    async with httpx.AsyncClient(base_url=whep_server.url) as http:

        async def publish() -> tuple[RTCPeerConnection, str]:
            publisher, offer = await offer_of(CLIP)
            answer = await http.post("/whip/1", content=offer, headers={**operator, **SDP})
            assert answer.status_code == 201, answer.text
            await publisher.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
            return publisher, answer.headers["location"]

        first, _ = await publish()
        pc = await viewer_offer(audio=False)
        got_video = asyncio.Event()
        tracks: list[MediaStreamTrack] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tracks.append(track)
            got_video.set()

        watching = await http.post("/whep/1", content=pc.localDescription.sdp, headers=SDP)
        assert watching.status_code == 201, watching.text
        await pc.setRemoteDescription(RTCSessionDescription(watching.text, "answer"))
        await got_video.wait()
        before = await frames_of(tracks[0], 10)
        # The publisher's connection ends without a DELETE: off air, the viewer stays.
        await first.close()
        await until_live(follower, False)
        assert await players(http) == 1
        second, location = await publish()
        after = await frames_of(tracks[0], 45)  # what was queued, then the new picture
        assert after[-1].pts is not None and before[-1].pts is not None
        assert after[-1].pts > before[-1].pts
        assert await players(http) == 1
        assert (await http.delete(location, headers=operator)).status_code == 200
        await second.close()
        await pc.close()
    await follower.close()
