"""A frame that fails inside the server fails alone: the socket answers `unavailable`
(the database is down) or `internal` (a bug) and stays, in a Connection driven by hand
(no server, no database)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from session_server.auth.tokens import VIEWER
from session_server.live.connection import Connection
from session_server.live.hub import Hub
from session_server.live.outbox import Pump
from session_server.settings import Settings


class FakeSocket:
    def __init__(self) -> None:
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send_text(self, text: str) -> None:
        self.sent.put_nowait(json.loads(text))

    async def close(self, code: int) -> None:
        raise AssertionError(f"the socket was closed with {code}")


class BrokenHub:
    """Loading a feed raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.pump = Pump()
        self.error = error

    async def feed(self, session_id: int) -> None:
        raise self.error


async def test_a_frame_that_fails_is_answered_alone_and_the_socket_stays() -> None:
    for error, code in (
        (ConnectionRefusedError("the database is down"), "unavailable"),
        (RuntimeError("a bug"), "internal"),
    ):
        ws = FakeSocket()
        hub = cast(Hub, BrokenHub(error))
        connection = Connection(cast(Any, ws), VIEWER, hub, Settings())
        for text in ('{"type":"subscribe","session":1}', '{"type":"ping"}'):
            await connection._receive({"type": "websocket.receive", "text": text})
        async with asyncio.timeout(5):
            failed, pong = await ws.sent.get(), await ws.sent.get()
        assert failed["type"] == "nack" and failed["id"] is None
        assert failed["error"]["code"] == code and failed["session"] == 1
        assert pong["type"] == "pong"
