"""One client socket on /ws: read frames, answer commands, carry its sessions' events.

Everything the socket sends goes through one outbox, so a command's ack always follows
the events it caused, and a client that stops reading cannot slow anyone else down: it
is closed (1013) and resumes from its last seq when it comes back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from session_server.auth.tokens import Actor
from session_server.commands.base import CommandError
from session_server.commands.dispatcher import nack
from session_server.db.engine import unavailable
from session_server.db.models import iso, utcnow
from session_server.http import SUBPROTOCOL, error_response
from session_server.live.admission import Admission, origin_allowed
from session_server.live.feed import Feed, dumps
from session_server.live.hub import Hub
from session_server.live.messages import (
    CLIENT_FRAME,
    ClientFrame,
    Command,
    Ping,
    Subscribe,
    Unsubscribe,
)
from session_server.live.outbox import Outbox
from session_server.live.projection import audience_of
from session_server.live.signins import SignInWatch
from session_server.metrics import CONNECTIONS_REFUSED, SLOW_CLOSED, SOCKETS
from session_server.settings import Settings
from session_server.validation import UnfitJSON, load_json, validation_message

log = structlog.get_logger(__name__)

# Close codes (RFC 6455 and the application range).
POLICY_VIOLATION = 1008  # flooding
TRY_AGAIN_LATER = 1013  # fell too far behind
UNAUTHORIZED = 4401  # bad or expired token: sign in again
TOO_MANY_SOCKETS = 4429  # the client's address holds KENGASH_WS_MAX_PER_ADDRESS sockets

MAX_OUTBOX = 10_000
MAX_SUBSCRIPTIONS = 16
# Refused frames tolerated past the rate limit before the socket is closed.
MAX_REFUSED = 50


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    @property
    def full(self) -> bool:
        return self.tokens >= self.burst - 1


class Connection:
    __slots__ = (
        "_bucket",
        "_flooded",
        "_in_flight",
        "_max_frame",
        "_outbox",
        "_refused",
        "actor",
        "feeds",
        "hub",
        "settings",
        "ws",
    )

    def __init__(self, ws: WebSocket, actor: Actor, hub: Hub, settings: Settings) -> None:
        self.ws = ws
        self.actor = actor
        self.hub = hub
        self.settings = settings
        self.feeds: dict[int, Feed] = {}
        self._outbox = Outbox(ws.send_text, self._close_socket, hub.pump, MAX_OUTBOX)
        self._bucket = TokenBucket(settings.ws_rate_per_second, settings.ws_burst)
        self._refused = 0
        self._in_flight = 0  # commands sent and not yet answered
        self._flooded = False
        # A deputy's ballot may carry camera frames (a face check per ballot).
        self._max_frame = (
            settings.ws_max_face_frame_bytes
            if actor.deputy_id is not None
            else settings.ws_max_frame_bytes
        )

    # -- sending ---------------------------------------------------------------------

    def deliver(self, frame: str, urgent: bool = False) -> None:
        if not self._outbox.put(frame, urgent):
            SLOW_CLOSED.inc()
            self._outbox.close(TRY_AGAIN_LATER, flush=False)

    def send(self, message: dict[str, Any]) -> None:
        """An answer to this socket's own message: sent ahead of other sockets' events."""
        self.deliver(dumps(message), urgent=True)

    def _answer(self, answer: dict[str, Any]) -> None:
        self._in_flight -= 1
        self.send(answer)
        if self._flooded and self._in_flight == 0:
            self._outbox.close(POLICY_VIOLATION, flush=True)

    async def _close_socket(self, code: int) -> None:
        await self.ws.close(code)

    def signed_out(self) -> None:
        """Its sign-in has ended or its token expired: what is queued goes, then 4401."""
        self._outbox.close(UNAUTHORIZED, flush=True)

    # -- receiving -------------------------------------------------------------------

    async def run(self) -> None:
        SOCKETS.inc()
        try:
            while not self._outbox.closing:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._receive(message)
        except WebSocketDisconnect:
            pass
        finally:
            for feed in self.feeds.values():
                feed.subscribers.pop(self, None)
            if self._outbox.closing:
                # Let the outbox send what it still may, then the close frame.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outbox.finished.wait(), timeout=5)
            self._outbox.cancel()
            SOCKETS.dec()

    async def _receive(self, message: Mapping[str, Any]) -> None:
        if self._flooded or not self._admitted():
            return
        frame = None
        try:
            frame = self._parse(message)
            await self._handle(frame)
        except Exception as exc:
            # The frame fails alone; the socket and its subscriptions stay.
            command_id = frame.id if isinstance(frame, Command) else None
            answer = (
                nack(command_id, "unavailable", "the database does not answer; send it again")
                if unavailable(exc)
                else nack(command_id, "internal", "the server failed on this frame")
            )
            if isinstance(frame, Subscribe | Unsubscribe):
                answer["session"] = frame.session
            log.warning(
                "socket_frame_failed",
                actor=self.actor.key,
                code=answer["error"]["code"],
                exc_info=answer["error"]["code"] == "internal",  # a bug: its traceback
            )
            self.send(answer)

    async def _handle(self, frame: ClientFrame | None) -> None:
        if isinstance(frame, Command):
            args, evidence = frame.args, None
            prepare = self.hub.dispatcher.preparer(frame.cmd, self.actor)
            if prepare is not None:
                # Awaited here, so this socket's later commands still come after it (a
                # face check takes a fraction of a second; other sockets go on).
                try:
                    args, evidence = await prepare(self.actor, frame.args)
                except CommandError as exc:
                    self.send(nack(frame.id, exc.code, exc.message))
                    return
            # Answered when done, while this socket's next frames are read: commands to
            # one session still run in the order they came.
            self._in_flight += 1
            try:
                self.hub.dispatcher.submit(
                    self.actor, frame.id, frame.cmd, args, self._answer, evidence
                )
            except Exception:
                self._in_flight -= 1
                raise
        elif isinstance(frame, Subscribe):
            await self._subscribe(frame)
        elif isinstance(frame, Unsubscribe):
            feed = self.feeds.pop(frame.session, None)
            if feed is not None:
                feed.subscribers.pop(self, None)
            self.send({"type": "unsubscribed", "session": frame.session})
        elif isinstance(frame, Ping):
            self.send({"type": "pong", "server_time": iso(utcnow())})

    def _admitted(self) -> bool:
        """Within the rate limit; past it, a nack, and a socket that keeps on is closed."""
        if self._bucket.take():
            if self._bucket.full:
                self._refused = 0  # it slowed down; forgive the past
            return True
        self._refused += 1
        if self._refused > MAX_REFUSED:
            log.warning("socket_flood", actor=self.actor.key)
            self._flooded = True  # closed once the commands it sent are answered
            if self._in_flight == 0:
                self._outbox.close(POLICY_VIOLATION, flush=True)
        else:
            self.send(nack(None, "rate_limited", "too many messages; slow down"))
        return False

    def _parse(self, message: Mapping[str, Any]) -> ClientFrame | None:
        """The client's frame, or None once a nack has said what is wrong with it."""
        text = message.get("text")
        if text is None:
            self.send(nack(None, "bad_message", "send JSON text frames"))
            return None
        if len(text.encode()) > self._max_frame:
            self.send(nack(None, "too_large", "the frame is too large"))
            return None
        try:
            raw = load_json(text, "frame")
        except UnfitJSON as exc:
            self.send(nack(None, "bad_message", str(exc)))
            return None
        except ValueError:
            self.send(nack(None, "invalid_json", "the frame is not valid JSON"))
            return None
        try:
            return CLIENT_FRAME.validate_python(raw)
        except ValidationError as exc:
            command_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(command_id, str):
                command_id = None
            self.send(nack(command_id, "bad_message", validation_message(exc, "frame")))
            return None

    async def _subscribe(self, frame: Subscribe) -> None:
        if frame.session not in self.feeds and len(self.feeds) >= MAX_SUBSCRIPTIONS:
            self.send(
                {
                    **nack(None, "too_many_subscriptions", "unsubscribe from a session first"),
                    "session": frame.session,
                }
            )
            return
        feed = await self.hub.feed(frame.session)
        if feed is None:
            self.send(
                {
                    **nack(None, "not_found", f"there is no session {frame.session}"),
                    "session": frame.session,
                }
            )
            return
        audience = audience_of(self.actor.role, self.actor.council_id, feed.council_id)
        async with feed.lock:
            replay = None if frame.since is None else feed.replay(frame.since)
            if replay is None:
                self.deliver(feed.snapshot_frame(audience, iso(utcnow()) or ""))
            else:
                for seq, event in replay:
                    self.deliver(feed.event_frame(seq, event, audience))
            # Tells the client it is live from here on, even when nothing was missed.
            self.send({"type": "subscribed", "session": feed.session_id, "seq": feed.seq})
            feed.subscribers[self] = audience
            self.feeds[frame.session] = feed


# Who the socket's token names and until when (None: the public), or None for a token
# that is bad, expired or ended. Asked only once the handshake is admitted.
Identify = Callable[[], Awaitable[tuple[Actor, datetime | None] | None]]


async def serve_socket(
    ws: WebSocket,
    hub: Hub,
    settings: Settings,
    admission: Admission,
    watch: SignInWatch,
    identify: Identify,
) -> None:
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), admission.origins):
        # Refused before the upgrade: the foreign page learns nothing but the refusal.
        CONNECTIONS_REFUSED.labels("origin").inc()
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(
                error_response(403, "origin_not_allowed", "this origin may not open a socket here")
            )
        else:
            await ws.close()  # a server without the denial extension answers 403 bare
        return
    # The address uvicorn gives: X-Forwarded-For's when the peer is a trusted proxy. A
    # Unix socket has none, and nothing to count by.
    address = ws.client.host if ws.client is not None else None
    if address is not None and not admission.slots.take(address):
        CONNECTIONS_REFUSED.labels("address_limit").inc()
        # Accepted to be closed: a browser sees a close code, never an HTTP status.
        await ws.accept()
        await ws.close(TOO_MANY_SOCKETS, reason="too many sockets from this address")
        return
    connection: Connection | None = None
    try:
        identity = await identify()
        # The pages offer the `kengash` subprotocol (with their token in another); a
        # server must name one of those offered, or the browser drops the socket.
        offered = ws.scope.get("subprotocols") or ()
        await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        if identity is None:
            await ws.close(UNAUTHORIZED, reason="bad or expired token")
            return
        actor, expires_at = identity
        connection = Connection(ws, actor, hub, settings)
        if actor.sign_in is not None and expires_at is not None:
            watch.add(actor.sign_in, expires_at, connection.signed_out)
        await connection.run()
    finally:
        if connection is not None and connection.actor.sign_in is not None:
            watch.discard(connection.actor.sign_in, connection.signed_out)
        if address is not None:
            admission.slots.give_back(address)
