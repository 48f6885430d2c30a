"""WHIP ingest on the real server: an aiortc publisher sends the test clip (real H.264
and AAC), the server takes it, every screen sees the broadcast go on and off air; the
refusals come with their status and code and leave nothing behind."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av.container import InputContainer

from broadcast import hls
from session_server.broadcasting.ice import offer_host_addresses
from tests.broadcasting import offer_of, until_live
from tests.conftest import ROOT, Server, seed_demo, server_env, skip_or_fail, start_server
from tests.wsclient import LiveClient

CLIP = ROOT.parent / "shared" / "media" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def whip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo server on SQLite offering 127.0.0.1 as its ICE host (aioice leaves
    loopback out otherwise); this test process's peers offer it too."""
    offer_host_addresses(["127.0.0.1"])
    tmp = tmp_path_factory.mktemp("whip")
    url = f"sqlite+aiosqlite:///{tmp / 'kengash.db'}"
    seed_demo(url)
    server = start_server(server_env(url, tmp, KENGASH_ICE_HOSTS="127.0.0.1"), tmp / "server.log")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def clip() -> Path:
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    return CLIP


async def frames_received(http: httpx.AsyncClient) -> float:
    metrics = (await http.get("/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('kengash_broadcast_frames_total{kind="video"}')
    )


async def test_a_publisher_goes_on_air_and_off(whip_server: Server, clip: Path) -> None:
    viewer = await LiveClient.open(whip_server.ws_url)
    await viewer.subscribe(1)
    operator = {"Authorization": f"Bearer {whip_server.token('operator')}"}
    async with httpx.AsyncClient(base_url=whip_server.url) as http:
        before = await frames_received(http)
        pc, offer = await offer_of(clip)
        answer = await http.post(
            "/whip/1", content=offer, headers={**operator, "Content-Type": "application/sdp"}
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"].startswith("application/sdp")
        location = answer.headers["location"]
        assert location.startswith("/whip/1/")
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        on_air = await until_live(viewer, True)
        assert on_air["broadcast"] == {"live": True, "source": "whip", "since": on_air["at"]}
        for _ in range(75):  # the clip's frames arrive, decoded, at the server
            if await frames_received(http) >= before + 30:
                break
            await asyncio.sleep(0.2)
        assert await frames_received(http) >= before + 30
        # Encoded once and recorded as HLS while it comes: segments a player can read.
        playlist = None
        for _ in range(75):
            live = await http.get("/hls/1/index.m3u8")
            if live.status_code == 200 and len(hls.parse(live.text).segments) >= 2:
                playlist = hls.parse(live.text)
                break
            await asyncio.sleep(0.2)
        assert playlist is not None, "no HLS segments within 15 s"
        assert live.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        first = await http.get(f"/hls/1/{playlist.segments[0].uri}")
        assert first.headers["content-type"] == "video/mp2t"
        with av.open(io.BytesIO(first.content), format="mpegts") as segment:
            assert isinstance(segment, InputContainer)
            kinds = sorted(stream.type for stream in segment.streams)
            assert kinds == ["audio", "video"]
            video = segment.streams.video[0]
            assert video.codec_context.name == "h264"
            frames = list(segment.decode(video=0))
            assert frames and frames[0].key_frame
        # A second publisher for the same sitting is refused while the first is live.
        pc2, offer2 = await offer_of(clip)
        chair = {"Authorization": f"Bearer {whip_server.token('chair')}"}
        busy = await http.post(
            "/whip/1", content=offer2, headers={**chair, "Content-Type": "application/sdp"}
        )
        assert (busy.status_code, busy.json()["error"]["code"]) == (409, "busy")
        await pc2.close()
        # Only its publisher ends it.
        refused = await http.delete(location, headers=chair)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert (await http.delete(location, headers=operator)).status_code == 200
        await until_live(viewer, False)
        assert (await http.delete(location, headers=operator)).status_code == 404
        await pc.close()
    await viewer.close()


@pytest.mark.parametrize(
    ("token", "kind", "body", "status", "code"),
    [
        (None, "application/sdp", "OFFER", 403, "forbidden"),
        ("deputy05", "application/sdp", "OFFER", 403, "forbidden"),
        ("operator", "application/json", "OFFER", 415, "unsupported_media_type"),
        ("operator", "application/sdp", "v=0\r\nthis is not sdp\r\n", 400, "bad_sdp"),
        ("operator", "application/sdp", "AUDIO", 422, "no_video"),
    ],
)
async def test_refusals(
    whip_server: Server, clip: Path, token: str | None, kind: str, body: str, status: int, code: str
) -> None:
    pc, offer = await offer_of(clip)
    if body == "OFFER":
        body = offer
    elif body == "AUDIO":
        audio_only = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        audio_only.addTransceiver("audio", direction="sendonly")
        await audio_only.setLocalDescription(await audio_only.createOffer())
        body = audio_only.localDescription.sdp
        await audio_only.close()
    headers = {"Content-Type": kind}
    if token:
        headers["Authorization"] = f"Bearer {whip_server.token(token)}"
    async with httpx.AsyncClient(base_url=whip_server.url) as http:
        answer = await http.post("/whip/1", content=body, headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
        # Nothing left behind: a good publisher is taken right after.
        good = await http.post(
            "/whip/1",
            content=offer,
            headers={
                "Authorization": f"Bearer {whip_server.token('operator')}",
                "Content-Type": "application/sdp",
            },
        )
        assert good.status_code == 201, good.text
        operator = {"Authorization": f"Bearer {whip_server.token('operator')}"}
        assert (await http.delete(good.headers["location"], headers=operator)).status_code == 200
    await pc.close()


async def test_hls_refusals(whip_server: Server) -> None:
    async with httpx.AsyncClient(base_url=whip_server.url) as http:
        missing = await http.get("/hls/999/index.m3u8")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_live")
        for name in ("seg-999999.ts", "..%2F..%2Fkengash.db", "index.m3u8.bak", "x.ts"):
            answer = await http.get(f"/hls/1/{name}")
            assert answer.status_code == 404, name


async def test_options_says_what_is_accepted(whip_server: Server) -> None:
    async with httpx.AsyncClient(base_url=whip_server.url) as http:
        answer = await http.options("/whip/1")
    assert answer.status_code == 204
    assert answer.headers["accept-post"] == "application/sdp"
    assert "POST" in answer.headers["access-control-allow-methods"]


async def test_the_recording_ends_when_the_sitting_closes(whip_server: Server, clip: Path) -> None:
    """Last in this module: it closes the sitting."""
    chair = await LiveClient.open(whip_server.ws_url, whip_server.token("chair"))
    await chair.subscribe(1)
    for name in ("session.open", "session.close"):
        answer = await chair.command(name, {"session": 1})
        assert answer["type"] == "ack", answer
    await chair.close()
    async with httpx.AsyncClient(base_url=whip_server.url) as http:
        for _ in range(50):
            recording = await http.get("/hls/1/recording.m3u8")
            if "#EXT-X-ENDLIST" in recording.text:
                break
            await asyncio.sleep(0.2)
        parsed = hls.parse(recording.text)
        assert parsed.ended and len(parsed.segments) >= 2
        total = sum(segment.duration for segment in parsed.segments)
        assert total > 2
        pc, offer = await offer_of(clip)
        operator = {"Authorization": f"Bearer {whip_server.token('operator')}"}
        closed = await http.post(
            "/whip/1", content=offer, headers={**operator, "Content-Type": "application/sdp"}
        )
        assert (closed.status_code, closed.json()["error"]["code"]) == (409, "session_closed")
        await pc.close()
