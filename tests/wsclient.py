"""A small test client for /ws that keeps the session state the way a page does."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from session_server.live.state import apply


def token_subprotocols(token: str) -> list[Subprotocol]:
    """How the pages send their token: in a subprotocol beside `kengash`, not the URL."""
    return [Subprotocol("kengash"), Subprotocol(f"kengash.token.{token}")]


class LiveClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.state: dict[str, Any] | None = None
        self.seq = 0
        self.events: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws_url: str, token: str | None = None) -> LiveClient:
        url = ws_url if token is None else f"{ws_url}?token={token}"
        # Unbounded queue: a test client that reads late must not stall its own close.
        return cls(await connect(url, max_size=None, max_queue=None))

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, within: float = 10) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within))
        self.frames.append(frame)
        if frame["type"] == "snapshot":
            self.state, self.seq = frame["state"], frame["seq"]
        elif frame["type"] == "event":
            assert frame["seq"] == self.seq + 1, f"gap: {self.seq} -> {frame['seq']}"
            assert self.state is not None
            self.state = apply(self.state, frame["seq"], frame["event"])
            self.seq = frame["seq"]
            self.events.append(frame)
        return frame

    async def subscribe(self, session: int, since: int | None = None) -> list[dict[str, Any]]:
        await self.send({"type": "subscribe", "session": session, "since": since})
        got = []
        while True:
            frame = await self.recv()
            got.append(frame)
            if frame["type"] in ("subscribed", "nack"):
                return got

    async def command(
        self, name: str, args: dict[str, Any], command_id: str | None = None
    ) -> dict[str, Any]:
        command_id = command_id or uuid.uuid4().hex
        await self.send({"type": "cmd", "id": command_id, "cmd": name, "args": args})
        while True:
            frame = await self.recv()
            if frame["type"] in ("ack", "nack") and frame.get("id") == command_id:
                return frame

    async def until_seq(self, seq: int, within: float = 10) -> None:
        async with asyncio.timeout(within):
            while self.seq < seq:
                await self.recv()


async def fresh_state(ws_url: str, session: int, token: str | None = None) -> dict[str, Any]:
    client = await LiveClient.open(ws_url, token)
    try:
        await client.subscribe(session)
        assert client.state is not None
        return client.state
    finally:
        await client.close()
