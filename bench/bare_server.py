"""The reference for bench/fanout.py: the least a Python WebSocket server can do to fan a
message out. `websockets` (asyncio server API) and `websockets.broadcast`, nothing else.

Viewers connect to /ws, send the same subscribe frame as to the real server and get
`{"type":"subscribed"}`; from then on they are in the broadcast set. The benchmark drives it
over one control socket on /control:

    → {"cmd": "run", "frames": [TEXT, ...], "rate": 2.0, "count": N}
    ← {"type": "done", "sent": N, "broadcast_seconds": [...]}

Each frame is a real event frame captured from the real server; before each broadcast its
`"at":"…"` value is replaced by this server's own UTC time (same length), taken just before
the broadcast call, so the clients measure send-to-delivery exactly as they measure
commit-to-delivery against the real server.

Run: python bench/bare_server.py PORT   (loopback only; prints "ready" when listening)
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

AT = re.compile(r'"at":"[^"]*"')

viewers: set[ServerConnection] = set()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def run(ws: ServerConnection, order: dict[str, Any]) -> None:
    frames: list[str] = order["frames"]
    rate = float(order["rate"])
    count = int(order["count"])
    durations: list[float] = []
    start = time.monotonic()
    for k in range(count):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = AT.sub(f'"at":"{now_iso()}"', frames[k % len(frames)], count=1)
        t0 = time.perf_counter()
        websockets.broadcast(viewers, frame)
        durations.append(time.perf_counter() - t0)
    await ws.send(json.dumps({"type": "done", "sent": count, "broadcast_seconds": durations}))


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request else ""
    if path.startswith("/control"):
        async for text in ws:
            await run(ws, json.loads(text))
        return
    try:
        async for text in ws:
            message = json.loads(text)
            if message.get("type") == "subscribe":
                await ws.send(
                    json.dumps(
                        {"type": "subscribed", "session": message["session"], "seq": 0},
                        separators=(",", ":"),
                    )
                )
                viewers.add(ws)
    finally:
        viewers.discard(ws)


async def main(port: int) -> None:
    # Defaults like the real server's: permessage-deflate offered, ping every 20 s.
    async with serve(handler, "127.0.0.1", port, ping_interval=20, ping_timeout=20, backlog=4096):
        print("ready", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        import uvloop  # the real server runs on uvloop (uvicorn picks it when installed)
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
    else:
        uvloop.run(main(int(sys.argv[1])))
