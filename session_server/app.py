"""The composition root: build the application from settings. Nothing else wires parts."""

from __future__ import annotations

import gc
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from biometrics.matching import THRESHOLD
from broadcast.resources import ResourceError
from session_server import api, users_api
from session_server.auth import oneid_routes
from session_server.auth import routes as auth_routes
from session_server.auth.oneid import client_from as oneid_client
from session_server.auth.signins import SignIns
from session_server.auth.tokens import VIEWER, Actor, TokenError, TokenIssuer
from session_server.broadcasting import keys as ingest_key_routes
from session_server.broadcasting import routes as whip_routes
from session_server.broadcasting.audience import Audience, reporting_audience
from session_server.broadcasting.chapter_marks import ChapterMarks
from session_server.broadcasting.ingest import reporting_broadcast
from session_server.broadcasting.media_process import MediaProcess, MediaRecordings
from session_server.db.engine import Database
from session_server.db.migrate import is_current
from session_server.decisions import routes as decision_routes
from session_server.decisions.forming import DecisionForming
from session_server.decisions.signing import DecisionSigning
from session_server.faceid import routes as face_routes
from session_server.faceid.ballots import BallotFaces
from session_server.faceid.pool import FacePool
from session_server.faceid.store import FaceStore
from session_server.http import ApiError, bearer_token, error_response
from session_server.ledger import routes as ledger_routes
from session_server.ledger.log import LedgerLog
from session_server.live.admission import Admission
from session_server.live.bus import Bus, InProcessBus
from session_server.live.connection import serve_socket
from session_server.live.hub import Hub
from session_server.live.progress import PROGRESS_SECONDS, ProgressReporter, reporting_progress
from session_server.live.signins import SignInWatch
from session_server.live.timers import VoteTimers, closing_votes
from session_server.logs import configure as configure_logs
from session_server.middleware import CatchErrors, SecurityHeaders
from session_server.rendering import Renderer
from session_server.settings import Settings, hls_dir, ledger_signer
from session_server.signatures import demo_verifier, make_verifier
from session_server.signatures.base import Lifecycle

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGES = {
    "/": "index.html",
    "/deputy": "deputy.html",
    "/chair": "chair.html",
    "/clerk": "clerk.html",
    "/operator": "operator.html",
}

log = structlog.get_logger(__name__)

schemas = SchemaGenerator(
    {"openapi": "3.0.0", "info": {"title": "E-Kengash Live", "version": "0.1.0"}}
)


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from session_server.live.redis_bus import RedisBus

        return RedisBus(settings.redis_url, settings.bus_channel)
    return InProcessBus()


def create_app(settings: Settings | None = None, bus: Bus | None = None) -> Starlette:
    settings = settings or Settings()
    configure_logs(settings.log_format, settings.log_level)
    db = Database(settings.database_url)
    hub = Hub(db, bus or make_bus(settings), settings.replay_buffer)
    tokens = TokenIssuer(settings.token_secret, settings.token_ttl_seconds)
    admission = Admission(settings.allowed_origins, settings.ws_max_per_address)
    signins = SignIns(db, tokens)
    watch = SignInWatch(db, settings.signin_check_seconds)
    signins.on_ended(watch.ended)
    verifier = make_verifier(settings)
    oneid = oneid_client(settings)  # None: One ID sign-in is off
    faces = FacePool(
        settings.face_workers,
        settings.face_queue,
        settings.face_threshold or THRESHOLD,
        settings.face_landmarks_model,
    )
    face_store = FaceStore(settings.face_key_bytes)
    hub.dispatcher.before("vote.cast", BallotFaces(db, faces, face_store).prepare)
    # What follows from committed commands and events, registered with the hub.
    timers = VoteTimers(closing_votes(hub.dispatcher), hub.feed)
    hub.watch(timers.watch_state)
    hub.react(timers.opened)
    progress = ProgressReporter(reporting_progress(hub.dispatcher), PROGRESS_SECONDS)
    hub.dispatcher.after("vote.cast", progress.ballot_followed)
    # Decisions: formed when a draft is adopted, signed by the chair (checked with the
    # sign-in's verifier; in the demo, against the demo CA as well), and every closed
    # vote, decision and signature appended to the public ledger.
    forming = DecisionForming(db, hub.dispatcher)
    hub.react(forming.reaction)
    ledger = LedgerLog(db, ledger_signer(settings), settings.ledger_origin)
    hub.react(ledger.reaction)
    decision_verifier = verifier or demo_verifier(settings)
    hub.dispatcher.before("decision.sign", DecisionSigning(db, decision_verifier).prepare)
    renderer = Renderer()
    # The broadcast: its media (WHIP in, WHEP out, the encoder and the HLS recording) in
    # a process of its own, off this loop; here its on-air reports and audience go into
    # the sitting's log, and its chapter marks are read from the log.
    media = MediaProcess(settings, reporting_broadcast(hub.dispatcher))
    recordings = MediaRecordings(hls_dir(settings), media)
    # The chapter marks, then the recordings' reaction (ENDLIST once the last are in).
    chapter_marks = ChapterMarks(db, recordings)
    hub.react(chapter_marks.reaction)
    audience = Audience(
        lambda: {*media.live, *media.viewers},
        lambda session_id: media.viewers.get(session_id, 0),
        reporting_audience(hub.dispatcher),
        settings.audience_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        await timers.resume(db)
        await forming.catch_up()
        ledger.start(settings.ledger_catch_up_seconds)  # catches up at once, then now and then
        watch.start()
        await media.start()
        audience.start()
        await chapter_marks.catch_up()  # recordings left open by a server that went down
        if isinstance(verifier, Lifecycle):
            await verifier.start()
        if settings.environment == "production":
            # Elsewhere the face workers start at the first face check: a development
            # server or a test that uses no Face ID pays nothing for them.
            await faces.start()
        # Thousands of long-lived sockets make a full collection pause the loop for most
        # of a second (docs/performance.md): collect young objects rarely and move what
        # start-up made out of the collector's sight.
        gc.set_threshold(50_000, 20, 100)
        gc.freeze()
        log.info("started", database=db.engine.url.render_as_string(), demo=settings.demo)
        try:
            yield
        finally:
            if isinstance(verifier, Lifecycle):
                await verifier.stop()
            await faces.stop()
            await renderer.stop()
            await audience.stop()
            await media.close()
            await ledger.stop()
            await watch.stop()
            await progress.stop()
            await timers.stop()
            await hub.stop()
            await db.dispose()

    async def websocket(ws: WebSocket) -> None:
        async def identify() -> tuple[Actor, datetime | None] | None:
            token = bearer_token(ws)
            if token is None:
                return VIEWER, None
            try:
                return await signins.check(token)
            except TokenError:
                return None

        await serve_socket(ws, hub, settings, admission, watch, identify)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            async with db.read() as session:
                await session.execute(text("SELECT 1"))
            migrated = await is_current(db.engine)
        except Exception as exc:  # readiness reports any failure rather than raising it
            # The reason goes to the log: a driver's message may name hosts and users.
            log.warning("not_ready", error=str(exc))
            return JSONResponse(
                {"status": "unavailable", "reason": "the database does not answer"},
                status_code=503,
            )
        if not migrated:
            return JSONResponse(
                {"status": "unavailable", "reason": "run `kengash migrate`"}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        expected = settings.metrics_token
        if not expected:
            # Unprotected metrics are for development; production serves none without a
            # token, exactly as if the path did not exist.
            if settings.environment == "production":
                raise HTTPException(404)
        else:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            valid = scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), expected.encode()
            )
            if not valid:
                raise ApiError(
                    401,
                    "bad_token",
                    "/metrics needs Authorization: Bearer with the metrics token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        # The media process's own (its families are counted there only).
        try:
            broadcast = await media.call("metrics")
        except ResourceError:
            broadcast = b""
        return Response(generate_latest() + broadcast, media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(schemas.get_schema(routes=request.app.routes))

    def page(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

        return endpoint

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if isinstance(exc, ApiError):
            return error_response(exc.status_code, exc.code, str(exc.detail), exc.headers, exc.more)
        return error_response(exc.status_code, "http_error", str(exc.detail), exc.headers)

    routes = [
        Route("/healthz", healthz, include_in_schema=False),
        Route("/readyz", readyz, include_in_schema=False),
        Route("/metrics", metrics, include_in_schema=False),
        Route("/openapi.json", openapi, include_in_schema=False),
        *api.routes,
        *auth_routes.routes,
        *oneid_routes.routes,
        *users_api.routes,
        *face_routes.routes,
        *decision_routes.routes,
        *ledger_routes.routes,
        *whip_routes.routes,
        *ingest_key_routes.routes,
        WebSocketRoute("/ws", websocket),
        *[Route(path, page(name), include_in_schema=False) for path, name in PAGES.items()],
        Route("/watch/{session:digits}", page("watch.html"), include_in_schema=False),
        Route("/decisions/{id:digits}", page("decision.html"), include_in_schema=False),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
        # Outermost first: the headers go on every answer, the JSON 500 included.
        middleware=[Middleware(SecurityHeaders), Middleware(CatchErrors)],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.hub = hub
    app.state.tokens = tokens
    app.state.signins = signins
    app.state.verifier = verifier
    app.state.oneid = oneid
    app.state.faces = faces
    app.state.face_store = face_store
    app.state.ledger = ledger
    app.state.renderer = renderer
    app.state.media = media
    app.state.audience = audience
    app.state.recordings = recordings
    return app
