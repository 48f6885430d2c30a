"""Signing in with One ID over HTTP, and the list of ways to sign in. Each handler's
docstring after `---` is its OpenAPI description.

The flow (docs/protocol.md, "Signing in"):

1. `GET /api/auth/oneid/start?page=/deputy` keeps a `state` in `auth_challenges`
   (purpose `oneid`, 120 s), ties it to this browser with a cookie, and sends the
   browser to One ID.
2. One ID sends it back to `GET /api/auth/oneid/callback?code=…&state=…`. The state is
   used up, the code exchanged for the person, and the person signed in, with a
   hand-over code (purpose `oneid_handover`, 60 s) for the page: the browser is sent to
   `/deputy#oneid=CODE`. A refusal sends it to `/deputy#oneid_error=REASON` instead.
3. The page sends `POST /api/auth/oneid/handover {"code"}` and gets the token.

The token never travels in an address: a fragment is not sent to any server, and the
hand-over code alone is no token. The database keeps only the code's SHA-256, and the
token is issued when the code is redeemed."""

from __future__ import annotations

import hmac
from datetime import timedelta

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from session_server.auth import oneid
from session_server.auth.routes import (
    db_of,
    origin_of,
    redeem_challenge,
    signed_in_answer,
    signins_of,
)
from session_server.auth.signins import (
    SignInRefused,
    Started,
    actor_of,
    person_with_pinfl,
)
from session_server.db import models
from session_server.db.models import utcnow
from session_server.http import ApiError, read_json

log = structlog.get_logger(__name__)

STATE_PURPOSE = "oneid"
HANDOVER_PURPOSE = "oneid_handover"
# The person signs in at One ID within this time; the page redeems its code within this.
STATE_SECONDS = 120
HANDOVER_SECONDS = 60
# Where a callback goes when its state names no page at all.
FALLBACK_PAGE = "/deputy"
# One ID's codes are UUIDs; a longer one is not One ID's.
CODE_MAX = 512
NO_STORE = {"Cache-Control": "no-store"}


def _client(request: Request) -> oneid.OneIdClient:
    client: oneid.OneIdClient | None = request.app.state.oneid
    if client is None:
        raise ApiError(404, "oneid_off", "One ID sign-in is not set up on this server")
    return client


# -- which ways --------------------------------------------------------------------------------


async def methods(request: Request) -> JSONResponse:
    """
    ---
    summary: Which ways of signing in this server offers, for the sign-in card
    responses:
      200: {description: "{demo, eimzo, oneid}: booleans; with eimzo, eimzo_api_keys"}
    """
    settings = request.app.state.settings
    eimzo = request.app.state.verifier is not None
    offered: dict[str, object] = {
        # As POST /api/auth/demo decides: never in production, whatever the settings.
        "demo": bool(settings.demo) and settings.environment != "production",
        "eimzo": eimzo,
        "oneid": request.app.state.oneid is not None,
    }
    if eimzo:
        # For the E-IMZO app on the person's device (its `apikey` call): [domain, key, ...].
        keys: list[str] = []
        for pair in settings.eimzo_api_keys.split(","):
            domain, _, key = pair.strip().partition(":")
            if domain and key:
                keys += [domain, key]
        offered["eimzo_api_keys"] = keys
    return JSONResponse(offered)


# -- start -------------------------------------------------------------------------------------


async def oneid_start(request: Request) -> Response:
    """
    ---
    summary: Start a One ID sign-in from a page; redirects to One ID
    parameters:
      - name: page
        in: query
        required: true
        schema: {type: string, enum: [/deputy, /chair, /clerk, /operator]}
    responses:
      302: {description: "to One ID, with response_type=one_code and a new state"}
      400: {description: page is not one of /deputy, /chair, /clerk, /operator}
      404: {description: One ID sign-in is not set up}
    """
    client = _client(request)
    page = request.query_params.get("page", "")
    if page not in oneid.PAGES:
        raise ApiError(400, "bad_query", f"page is one of {', '.join(oneid.PAGES)}")
    state = oneid.new_state(page)
    now = utcnow()

    def keep(db: DbSession) -> None:
        db.add(
            models.AuthChallenge(
                challenge=state,
                purpose=STATE_PURPOSE,
                created_at=now,
                expires_at=now + timedelta(seconds=STATE_SECONDS),
            )
        )

    await db_of(request).transact(keep)
    response = RedirectResponse(client.authorization_url(state), 302, headers=NO_STORE)
    name = oneid.cookie_name(state)
    assert name is not None
    # Without it anyone could start a sign-in as themselves and send the callback address
    # to a deputy, whose tablet would then be signed in as them (login CSRF). Lax: the
    # callback is a top-level navigation from One ID's site.
    response.set_cookie(
        name,
        state,
        max_age=STATE_SECONDS,
        path=oneid.CALLBACK_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    return response


def _secure(request: Request) -> bool:
    # Behind the TLS proxy the scheme is https (uvicorn reads X-Forwarded-Proto); plain
    # http is development, where a Secure cookie would never come back.
    return request.url.scheme == "https" or request.app.state.settings.environment == "production"


# -- callback ----------------------------------------------------------------------------------


def _back(page: str, key: str, value: str, state: str) -> RedirectResponse:
    """To the page, with the outcome in the fragment: no server or proxy sees it."""
    response = RedirectResponse(f"{page}#{key}={value}", 302, headers=NO_STORE)
    name = oneid.cookie_name(state)
    if name is not None:
        response.delete_cookie(name, path=oneid.CALLBACK_PATH)
    return response


async def oneid_callback(request: Request) -> Response:
    """
    ---
    summary: Where One ID sends the browser back; redirects to the page it started from
    description: >
      Always a redirect once One ID is set up: to `{page}#oneid=CODE` (redeem CODE with
      POST /api/auth/oneid/handover) or to `{page}#oneid_error=REASON`.
    parameters:
      - {name: code, in: query, schema: {type: string}}
      - {name: state, in: query, schema: {type: string}}
      - {name: error, in: query, schema: {type: string}}
    responses:
      302: {description: "to the page, #oneid=CODE or #oneid_error=REASON"}
      404: {description: One ID sign-in is not set up}
    """
    client = _client(request)
    query = request.query_params
    state = query.get("state", "")
    page = oneid.page_of(state) or FALLBACK_PAGE
    origin, signins = origin_of(request), signins_of(request)

    async def refuse(reason: str) -> Response:
        await signins.refused("oneid", origin, reason)
        return _back(page, "oneid_error", reason, state)

    # A state counts once, whoever brings it (used up here whatever follows), and only
    # from the browser that started the sign-in.
    name, now = oneid.cookie_name(state), utcnow()
    redeemed = name is not None and await db_of(request).transact(
        lambda db: redeem_challenge(db, state, STATE_PURPOSE, now)
    )
    cookie = request.cookies.get(name) if name is not None else None
    if not redeemed or cookie is None or not hmac.compare_digest(cookie.encode(), state.encode()):
        return await refuse("state_invalid")
    if query.get("error"):
        # The person declined, or One ID could not sign them in.
        log.info("oneid_refused", step="authorisation", error=query["error"][:64])
        return await refuse("oneid_refused")
    code = query.get("code", "")
    if not code or len(code) > CODE_MAX:
        return await refuse("oneid_bad_answer")
    try:
        identity = await client.identify(code)
    except oneid.OneIdUnavailable:
        return await refuse("oneid_unavailable")
    except oneid.OneIdRefused as exc:
        return await refuse(exc.code)

    def sign_in(db: DbSession) -> str:
        now = utcnow()
        user = person_with_pinfl(db, identity.pinfl)
        if user is None:
            raise SignInRefused(403, "unknown_person", "nobody with this PINFL may sign in here")
        started = signins.start(db, user, "oneid", origin, now)
        assert started.actor.sign_in is not None
        # The token from start() is dropped: the hand-over issues it again, so that the
        # database never holds one.
        handover = oneid.new_handover_code(started.actor.sign_in)
        db.add(
            models.AuthChallenge(
                challenge=oneid.digest(handover),
                purpose=HANDOVER_PURPOSE,
                created_at=now,
                expires_at=now + timedelta(seconds=HANDOVER_SECONDS),
            )
        )
        return handover

    try:
        handover = await db_of(request).transact(sign_in)
    except SignInRefused as exc:
        return await refuse(exc.code)
    return _back(page, "oneid", handover, state)


# -- hand-over ---------------------------------------------------------------------------------


class Handover(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200)


async def oneid_handover(request: Request) -> JSONResponse:
    """
    ---
    summary: The token of a One ID sign-in, for its hand-over code (single use, 60 s)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [code]
            additionalProperties: false
            properties:
              code: {type: string, minLength: 1, maxLength: 200}
    responses:
      200: {description: "{token, user, method, expires_at}"}
      400: {description: "the code is unknown, used or expired; or the body is not JSON"}
      404: {description: One ID sign-in is not set up}
      413: {description: the body is over 64 KiB}
      422: {description: the body does not match the schema}
    """
    _client(request)
    body = await read_json(request, Handover)
    signins = signins_of(request)
    sign_in_id = oneid.sign_in_of(body.code)

    def redeem(db: DbSession) -> Started | None:
        now = utcnow()
        if sign_in_id is None or not redeem_challenge(
            db, oneid.digest(body.code), HANDOVER_PURPOSE, now
        ):
            return None
        # Read afresh: the secretariat may have ended the sign-in meanwhile, elsewhere.
        record = db.get(models.SignIn, sign_in_id, populate_existing=True)
        if (
            record is None
            or record.method != "oneid"
            or record.ended_at is not None
            or record.expires_at <= now
        ):
            return None
        user = db.get(models.User, record.user_id, populate_existing=True)
        if user is None or user.removed_at is not None:
            return None
        actor = actor_of(user, record.id, "oneid")
        return Started(signins.tokens.issue(actor), actor, user, record.expires_at)

    # The code is used up even when what it names no longer counts: the transaction
    # commits either way.
    started = await db_of(request).transact(redeem)
    if started is None:
        await signins.refused("oneid", origin_of(request), "handover_invalid")
        raise ApiError(
            400, "handover_invalid", "the hand-over code is unknown, used or expired; sign in again"
        )
    return signed_in_answer(started)


routes = [
    Route("/api/auth/methods", methods, methods=["GET"]),
    Route("/api/auth/oneid/start", oneid_start, methods=["GET"]),
    Route("/api/auth/oneid/callback", oneid_callback, methods=["GET"]),
    Route("/api/auth/oneid/handover", oneid_handover, methods=["POST"]),
]
