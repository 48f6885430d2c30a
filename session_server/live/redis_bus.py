"""The bus over Redis pub/sub, for several server processes sharing one database."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from session_server.live.bus import Listener, Resync

log = structlog.get_logger(__name__)


class RedisBus:
    shared = True

    def __init__(self, url: str, channel: str) -> None:
        self._redis = Redis.from_url(url)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, listener: Listener, resync: Resync) -> None:
        self._task = asyncio.create_task(self._listen(listener, resync))
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def publish(self, session_id: int, seq: int) -> None:
        try:
            await self._redis.publish(self._channel, f"{session_id}:{seq}")
        except RedisError:
            # The change is committed; other processes catch up at the next signal.
            log.warning("bus_publish_failed", session=session_id, seq=seq)

    async def _listen(self, listener: Listener, resync: Resync) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if self._subscribed.is_set():
                        await resync()  # whatever was published while we were away
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        session, _, seq = message["data"].decode().partition(":")
                        await listener(int(session), int(seq))
            except (RedisError, OSError):
                log.warning("bus_reconnecting")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()
