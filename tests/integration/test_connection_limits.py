"""One client address against the connection limits: the per-address cap on sockets, the
request-header deadline, and the process's connection cap below its open-files limit,
with `/healthz` answering throughout. A real server process (SQLite) with small limits."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.conftest import Server, seed_demo, server_env, start_server
from tests.wsclient import LiveClient

PER_ADDRESS = 20
# The server runs with this many descriptors, hard limit too, so it cannot raise it: its
# connection cap is derived from it (192 here), and 400 idle connections would, without
# the cap, leave it no descriptor to accept /healthz with.
OPEN_FILES = 256
IDLE = 400
SLOW = 20
ALLOWED = "https://kengash.example.uz"


def _few_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    env = server_env(
        url,
        tmp_path,
        KENGASH_WS_MAX_PER_ADDRESS=str(PER_ADDRESS),
        KENGASH_HTTP_HEADER_TIMEOUT_SECONDS="1",
        KENGASH_ALLOWED_ORIGINS=f"{ALLOWED}, https://second.example.uz/",
    )
    server = start_server(env, tmp_path / "server.log", preexec_fn=_few_open_files)
    try:
        yield server
    finally:
        server.kill()


async def still_answers(client: LiveClient) -> None:
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"


async def healthz(server: Server) -> None:
    """On a new connection each time: that is what must find room."""
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"{server.url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def closed_by_server(reader: asyncio.StreamReader) -> None:
    """Reads until the server closes the connection (EOF or reset)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


async def test_one_address_gets_at_most_its_cap_of_sockets(limited_server: Server) -> None:
    clients = [await LiveClient.open(limited_server.ws_url) for _ in range(PER_ADDRESS)]
    for client in clients:
        await still_answers(client)
    for _ in range(3):
        extra = await LiveClient.open(limited_server.ws_url)
        with pytest.raises(ConnectionClosed) as closed:
            await extra.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        assert closed.value.rcvd.reason == "too many sockets from this address"
    # The sockets it has are untouched, and a closed one frees its slot.
    for client in clients:
        await still_answers(client)
    await clients.pop().close()
    async with asyncio.timeout(10):
        while True:  # the server frees the slot once it has seen the close
            again = await LiveClient.open(limited_server.ws_url)
            try:
                await still_answers(again)
                break
            except ConnectionClosed:
                await asyncio.sleep(0.05)
    for client in [*clients, again]:
        await client.close()


async def test_allowed_origins_are_let_through(limited_server: Server) -> None:
    for origin in (ALLOWED, "https://second.example.uz", limited_server.url):
        async with connect(limited_server.ws_url, origin=Origin(origin)) as ws:
            await ws.send('{"type":"ping"}')
            assert "pong" in str(await ws.recv())
    with pytest.raises(InvalidStatus) as refused:
        async with connect(limited_server.ws_url, origin=Origin("https://kengash.example.com")):
            pass
    assert refused.value.response.status_code == 403


async def test_idle_and_slow_connections_do_not_starve_healthz(limited_server: Server) -> None:
    host, port = "127.0.0.1", int(limited_server.url.rsplit(":", 1)[1])
    sockets = [await LiveClient.open(limited_server.ws_url) for _ in range(PER_ADDRESS)]
    for client in sockets:
        await client.subscribe(1)

    # Idle connections that never send a byte, well past the connection cap.
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(IDLE // 50):
        idle += [await asyncio.open_connection(host, port) for _ in range(50)]
        await healthz(limited_server)

    # Slowloris: a header line now and then, never the blank line that ends them. A few
    # do it on a kept-alive connection, after one honest request.
    slow = [await asyncio.open_connection(host, port) for _ in range(SLOW)]
    for reader, writer in slow[:5]:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: kengash\r\n\r\n")
        async with asyncio.timeout(5):
            answer = b""
            while b'{"status":"ok"}' not in answer:
                answer += await reader.read(4096)
    for _, writer in slow:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: kengash\r\n")

    async def trickle() -> None:
        for n in range(1000):
            for _, writer in slow:
                if not writer.is_closing():
                    with contextlib.suppress(ConnectionError):
                        writer.write(b"X-Slow-%d: yes\r\n" % n)
            await asyncio.sleep(0.1)

    trickling = asyncio.create_task(trickle())
    try:
        closing = asyncio.gather(*(closed_by_server(reader) for reader, _ in [*idle, *slow]))
        # The header deadline is 1 s: all of them are gone well within the 15 s allowed,
        # and /healthz answers all along.
        async with asyncio.timeout(15):
            while not closing.done():
                await healthz(limited_server)
                await asyncio.sleep(0.05)
            await closing
    finally:
        trickling.cancel()
        for _, writer in [*idle, *slow]:
            writer.close()

    # Shedding never touches a WebSocket: every socket is still there.
    for client in sockets:
        await still_answers(client)
        await client.close()
    # A kept-alive HTTP connection still serves request after request.
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(3):
            assert (await http.get(f"{limited_server.url}/healthz")).status_code == 200
    assert limited_server.process.poll() is None
    assert "Too many open files" not in limited_server.log.read_text()
