"""Two pure-ASGI middlewares for every HTTP answer: the browser safety headers, and a
last-resort JSON 500 for an error nothing else handled. (Starlette's BaseHTTPMiddleware
would put every request through an extra task and memory streams.)"""

from __future__ import annotations

from collections.abc import Awaitable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from session_server.http import error_response

log = structlog.get_logger(__name__)

# The pages load their scripts, styles and modules from /static only and talk to the
# same origin (fetch, and /ws: Chromium counts same-origin ws/wss as 'self'). data: is
# for the empty favicon and the SVG icons inside app.css.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # The broadcast player: hls.js (where the browser has no native HLS) feeds the
        # <video> through Media Source Extensions, whose source is a blob: URL. Its worker
        # comes from /static/vendor ('self'), so worker-src needs nothing more.
        "media-src 'self' blob:",
        # The E-IMZO app's local API (CAPIWS) on the deputy's own device: the sign-in
        # card lists the keys and has the challenge signed there (static/js/eimzo.js).
        "connect-src 'self' wss://127.0.0.1:64443",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Page URLs may carry ?session= and, on some clients, ?token=: keep them on this site.
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine for a WebSocket: no frame of ours waits for the socket's whole
        # life (thousands of them, for every viewer).
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CatchErrors:
    """An exception that reached here is a bug: log it once (method and path, never the
    query or headers, which may carry a token) and answer JSON 500 `internal` instead
    of uvicorn's plain text. Not re-raised, so uvicorn does not log it a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)  # as above: no frame held per socket
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception(
                "http_unhandled_error",
                method=scope.get("method"),
                path=scope.get("path"),
                response_started=started,
            )
            if started:
                # Too late for a status; uvicorn closes the unfinished response.
                return
            response = error_response(500, "internal", "an internal error; it has been logged")
            await response(scope, receive, send)
