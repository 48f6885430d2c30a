"""The broadcast's media process beside the real server: if it dies, the server goes on,
the sitting goes off air in its log, a new media process takes the next publisher; if
the server dies, the media process goes with it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from session_server.broadcasting.ice import offer_host_addresses
from tests.broadcasting import CLIP, offer_of, until_live
from tests.conftest import Server, seed_demo, server_env, skip_or_fail, start_server
from tests.wsclient import LiveClient

SDP = {"Content-Type": "application/sdp"}


def media_pid(server: Server) -> int:
    """The server's child running session_server.broadcasting.media."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    for pid in children.read_text().split():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"session_server.broadcasting.media" in cmdline:
            return int(pid)
    raise AssertionError("no media process")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    offer_host_addresses(["127.0.0.1"])
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    started = start_server(
        server_env(url, tmp_path, KENGASH_ICE_HOSTS="127.0.0.1"), tmp_path / "server.log"
    )
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.kill()


PEERS: list[RTCPeerConnection] = []


async def publish(server: Server, http: httpx.AsyncClient) -> httpx.Response:
    operator = {"Authorization": f"Bearer {server.token('operator')}"}
    pc, offer = await offer_of(CLIP)
    PEERS.append(pc)
    answer = await http.post("/whip/1", content=offer, headers={**operator, **SDP})
    if answer.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
    return answer


async def test_the_server_outlives_its_media_process(server: Server) -> None:
    viewer = await LiveClient.open(server.ws_url)
    await viewer.subscribe(1)
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await publish(server, http)).status_code == 201
        await until_live(viewer, True)
        viewer.events.clear()
        first = media_pid(server)
        os.kill(first, signal.SIGKILL)
        # Off air in the log; the server answers throughout.
        await until_live(viewer, False)
        assert (await http.get("/healthz")).status_code == 200
        # A new media process takes the next publisher.
        answer = None
        async with asyncio.timeout(20):
            while True:
                answer = await publish(server, http)
                if answer.status_code == 201:
                    break
                assert answer.json()["error"]["code"] == "broadcast_unavailable", answer.text
                await asyncio.sleep(0.5)
        assert media_pid(server) != first
        viewer.events.clear()
        await until_live(viewer, True)
    await viewer.close()
    for pc in PEERS:
        await pc.close()


def test_the_media_process_goes_with_its_server(server: Server) -> None:
    pid = media_pid(server)
    assert alive(pid)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the media process outlived its server"
