"""Signing in and out over HTTP: the demo and E-IMZO sign-ins, who am I, sign-out,
ending a user's sign-ins, and the audit trail. Each handler's docstring after `---` is
its OpenAPI description."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_server.auth import audit
from session_server.auth.signins import SignInRefused, SignIns, Started, person_with_pinfl
from session_server.auth.tokens import Actor, Method
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import iso, utcnow
from session_server.http import ApiError, caller, path_id, query_id, read_json, signed_in
from session_server.signatures.base import (
    ChallengeIssuer,
    SignatureError,
    Verifier,
    VerifierUnavailable,
)
from session_server.signatures.cms import pkcs7_from_base64
from voting import CouncilRules

# An E-IMZO challenge: 128 random bits or more, single use, this long.
CHALLENGE_SECONDS = 120
# Base64 of a PKCS#7 with a certificate chain is a few KB; the body limit bounds it too.
PKCS7_MAX = 48 * 1024
# Refusals of what was sent (400); the rest are about the certificate (403).
MALFORMED = frozenset(
    {"bad_pkcs7", "bad_signature", "wrong_content", "bad_signing_time", "challenge_invalid"}
)


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def signins_of(request: Request) -> SignIns:
    signins: SignIns = request.app.state.signins
    return signins


def origin_of(request: Request) -> audit.Origin:
    client = request.client.host if request.client is not None else ""
    return audit.Origin.of(client, request.headers.get("user-agent"))


def signed_in_answer(started: Started) -> JSONResponse:
    user, actor = started.user, started.actor
    return JSONResponse(
        {
            "token": started.token,
            "user": {
                "id": user.id,
                "login": user.login,
                "role": actor.role,
                "name": user.full_name,
                "council_id": user.council_id,
                "deputy_id": user.deputy_id,
            },
            "method": actor.method,
            "face_verified": actor.face_verified,
            "expires_at": iso(started.expires_at),
        }
    )


async def _refuse(
    request: Request,
    method: Method,
    exc: SignInRefused,
    user: models.User | None = None,
    serial: str = "",
) -> ApiError:
    await signins_of(request).refused(method, origin_of(request), exc.code, user, serial)
    return ApiError(exc.status, exc.code, exc.message)


# -- demo ----------------------------------------------------------------------------------


class DemoLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=64)


async def demo_login(request: Request) -> JSONResponse:
    """
    ---
    summary: Demo sign-in by login name (only while KENGASH_DEMO=1)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [login]
            additionalProperties: false
            properties:
              login: {type: string, minLength: 1, maxLength: 64}
    responses:
      200: {description: "{token, user, method, expires_at}"}
      400: {description: the body is not JSON}
      404: {description: demo sign-in is off, or no such demo user}
      413: {description: the body is over 64 KiB}
      422: {description: the body does not match the schema}
    """
    settings = request.app.state.settings
    # Settings refuse KENGASH_DEMO=1 in production already; this holds even if they did not.
    if not settings.demo or settings.environment == "production":
        raise ApiError(404, "demo_off", "demo sign-in is off on this server")
    body = await read_json(request, DemoLogin)
    origin, signins = origin_of(request), signins_of(request)

    def sign_in(db: DbSession) -> Started | None:
        user = db.scalar(select(models.User).where(models.User.login == body.login))
        if user is None or user.removed_at is not None:
            return None
        return signins.start(db, user, "demo", origin, utcnow())

    started = await db_of(request).transact(sign_in)
    if started is None:
        refusal = SignInRefused(404, "unknown_login", f"there is no demo user {body.login!r}")
        raise await _refuse(request, "demo", refusal)
    return signed_in_answer(started)


# -- E-IMZO --------------------------------------------------------------------------------


def _verifier(request: Request) -> Verifier:
    verifier: Verifier | None = request.app.state.verifier
    if verifier is None:
        raise ApiError(404, "eimzo_off", "E-IMZO sign-in is not set up on this server")
    return verifier


async def eimzo_challenge(request: Request) -> JSONResponse:
    """
    ---
    summary: A challenge for the E-IMZO key to sign (attached PKCS#7), single use
    responses:
      200: {description: "{challenge, ttl}: sign the challenge's UTF-8 bytes within ttl seconds"}
      404: {description: E-IMZO sign-in is not set up}
      503: {description: E-IMZO-SERVER gives no challenge now}
    """
    verifier = _verifier(request)
    challenge, ttl = secrets.token_hex(16), CHALLENGE_SECONDS  # 128 bits
    if isinstance(verifier, ChallengeIssuer):
        # E-IMZO-SERVER signs in only over challenges of its own; ours is kept too, so
        # that it is used once across every process whatever the service does.
        try:
            issued = await verifier.challenge()
        except VerifierUnavailable as exc:
            raise ApiError(
                503, "verifier_unavailable", "E-IMZO sign-in cannot start now; try again"
            ) from exc
        challenge, ttl = issued.value, min(ttl, issued.ttl_seconds)
    now = utcnow()

    def keep(db: DbSession) -> None:
        db.connection().execute(
            NEW_CHALLENGE,
            {
                "challenge": challenge,
                "purpose": "eimzo",
                "created_at": now,
                "expires_at": now + timedelta(seconds=ttl),
            },
        )

    await db_of(request).transact(keep)
    return JSONResponse({"challenge": challenge, "ttl": ttl})


class EimzoLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pkcs7: str = Field(min_length=1, max_length=PKCS7_MAX)


# Challenges are written and used up in Core on the connection, with statements built
# once: the ORM's UPDATE would also search the session for challenge objects to change,
# and building the statement again for every sign-in costs more than running it.
NEW_CHALLENGE = insert(models.AuthChallenge)
REDEEM_CHALLENGE = (
    update(models.AuthChallenge)
    .where(
        # Not the columns' names: those are SET's own parameters in an UPDATE.
        models.AuthChallenge.challenge == bindparam("redeemed"),
        models.AuthChallenge.purpose == bindparam("for_purpose"),
        models.AuthChallenge.used_at.is_(None),
        models.AuthChallenge.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
)


def redeem_challenge(db: DbSession, challenge: str, purpose: str, now: datetime) -> bool:
    """Use a challenge once: True if it was live and unused, and now it is used. One
    statement, so two processes cannot both redeem it."""
    result = db.connection().execute(
        REDEEM_CHALLENGE, {"redeemed": challenge, "for_purpose": purpose, "now": now}
    )
    return result.rowcount == 1


async def eimzo_login(request: Request) -> JSONResponse:
    """
    ---
    summary: Sign in with an E-IMZO signature over a challenge (attached PKCS#7, base64)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [pkcs7]
            additionalProperties: false
            properties:
              pkcs7: {type: string, minLength: 1, maxLength: 49152}
    responses:
      200: {description: "{token, user, method, expires_at}"}
      400: {description: "not a signature, a bad signature, or a used or expired challenge"}
      403: {description: "the certificate is not trusted, not valid now, or names nobody here"}
      404: {description: E-IMZO sign-in is not set up}
      503: {description: the signature could not be checked now (E-IMZO-SERVER is down)}
    """
    verifier = _verifier(request)
    body = await read_json(request, EimzoLogin)
    origin = origin_of(request)
    try:
        der = pkcs7_from_base64(body.pkcs7)
        verified = await verifier.verify_attached(
            der, client_address=origin.address, host=request.headers.get("host", "")
        )
    except SignatureError as exc:
        code = "challenge_invalid" if exc.code == "unknown_challenge" else exc.code
        status = 400 if code in MALFORMED else 403
        raise await _refuse(request, "eimzo", SignInRefused(status, code, exc.message)) from exc
    except VerifierUnavailable as exc:
        await signins_of(request).refused("eimzo", origin, "verifier_unavailable")
        raise ApiError(
            503, "verifier_unavailable", "the signature cannot be checked now; try again"
        ) from exc
    signer, signins = verified.signer, signins_of(request)
    try:
        challenge = verified.content.decode("utf-8")
    except UnicodeDecodeError:
        challenge = ""

    def sign_in(db: DbSession) -> Started:
        now = utcnow()
        if not redeem_challenge(db, challenge, "eimzo", now):
            raise SignInRefused(
                400, "challenge_invalid", "the signed challenge is unknown, used or expired"
            )
        if signer.pinfl is None:
            raise SignInRefused(403, "no_pinfl", "the certificate carries no PINFL")
        user = person_with_pinfl(db, signer.pinfl)
        if user is None:
            raise SignInRefused(
                403, "unknown_person", "nobody with this certificate's PINFL may sign in here"
            )
        return signins.start(db, user, "eimzo", origin, now, signer.serial)

    try:
        started = await db_of(request).transact(sign_in)
    except SignInRefused as exc:
        raise await _refuse(request, "eimzo", exc, serial=signer.serial) from exc
    return signed_in_answer(started)


# -- who am I, sign-out, ending sign-ins -----------------------------------------------------


async def me(request: Request) -> JSONResponse:
    """
    ---
    summary: Who the bearer token belongs to, how they signed in and until when
    parameters:
      - name: token
        in: query
        description: the bearer token, for clients that cannot send the header
        schema: {type: string}
    responses:
      200:
        description: >-
          {id, role, login, name, council_id, deputy_id, method, face_verified, face,
          expires_at}; face: {signin, per_ballot, enrolled} for a deputy, else null
      401: {description: bad or expired token, or the sign-in has ended}
    """
    actor, expires_at = await signed_in(request)
    return JSONResponse(
        {
            "id": actor.user_id,
            "role": actor.role,
            "login": actor.login,
            "name": actor.name,
            "council_id": actor.council_id,
            "deputy_id": actor.deputy_id,
            "method": actor.method,
            "face_verified": actor.face_verified,
            "face": await _face_of(request, actor),
            "expires_at": iso(expires_at),
        }
    )


async def _face_of(request: Request, actor: Actor) -> dict[str, Any] | None:
    """What Face ID asks of a deputy here: {signin, per_ballot, enrolled}; None for staff."""
    if actor.deputy_id is None or actor.council_id is None:
        return None
    async with db_of(request).read() as db:
        raw = await db.scalar(
            select(models.Council.rules).where(models.Council.id == actor.council_id)
        )
        enrolled = await db.get(models.FaceTemplate, actor.deputy_id) is not None
    rules = CouncilRules.model_validate(raw)
    return {
        "signin": rules.face_signin,
        "per_ballot": rules.face_check_per_ballot or "false",
        "enrolled": enrolled,
    }


def _signed_in_actor(actor: Actor) -> Actor:
    # 403, not 401, without a token: 401 always means the token itself is wrong.
    if actor.sign_in is None:
        raise ApiError(403, "forbidden", "sign in first")
    return actor


async def sign_out(request: Request) -> Response:
    """
    ---
    summary: End the caller's own sign-in; its token stops working everywhere
    responses:
      204: {description: signed out}
      401: {description: a bad or expired token, or already signed out}
      403: {description: no token}
    """
    actor = _signed_in_actor(await caller(request))
    await signins_of(request).sign_out(actor, origin_of(request))
    return Response(status_code=204)


def may_manage(actor: Actor, user: models.User) -> bool:
    """A secretary manages the users of their own council; an admin every user."""
    if actor.role == "admin":
        return True
    return actor.role == "secretary" and user.council_id == actor.council_id


class EndSignIns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="ended_by_staff", pattern=r"^[a-z_]{3,32}$")


async def end_sign_ins(request: Request) -> JSONResponse:
    """
    ---
    summary: End every sign-in of a user at once (a lost tablet, a mandate ended)
    description: Secretary (users of their council) or admin. Their sockets close with 4401.
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            properties:
              reason: {type: string, pattern: "^[a-z_]{3,32}$"}
    responses:
      200: {description: "{user, ended}: how many sign-ins were ended"}
      401: {description: bad or expired token}
      403: {description: not the user's secretariat or an admin}
      404: {description: no such user}
    """
    actor = _signed_in_actor(await caller(request))
    if actor.role not in ("secretary", "admin"):
        raise ApiError(403, "forbidden", "only the secretariat or an admin ends sign-ins")
    user_id = path_id(request, "user")
    length = request.headers.get("content-length")
    body = EndSignIns() if length in (None, "0") else await read_json(request, EndSignIns)
    async with db_of(request).read() as db:
        user = await db.get(models.User, user_id)
    if user is None:
        raise ApiError(404, "not_found", f"there is no user {user_id}")
    if not may_manage(actor, user):
        raise ApiError(403, "forbidden", "this user belongs to another council")
    ended = await signins_of(request).end_all(user_id, body.reason, actor, origin_of(request))
    return JSONResponse({"user": user_id, "ended": len(ended)})


# -- the audit trail -------------------------------------------------------------------------


def _audit_filter(request: Request, actor: Actor) -> audit.Filter:
    q = request.query_params

    def moment(name: str) -> datetime | None:
        raw = q.get(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(400, "bad_query", f"{name} must be an ISO 8601 time") from None
        if value.tzinfo is None:
            raise ApiError(400, "bad_query", f"{name} must say its time zone (Z for UTC)")
        return value

    def choice(name: str, allowed: tuple[str, ...]) -> Any:
        raw = q.get(name)
        if raw is not None and raw not in allowed:
            raise ApiError(400, "bad_query", f"{name} is one of {', '.join(allowed)}")
        return raw

    council = query_id(request, "council")
    if actor.role == "secretary":
        if council not in (None, actor.council_id):
            raise ApiError(403, "forbidden", "a secretary sees their own council's trail")
        council = actor.council_id
    limit = query_id(request, "limit") or 100
    if limit > 1000:
        raise ApiError(400, "bad_query", "limit is at most 1000")
    return audit.Filter(
        council=council,
        since=moment("from"),
        until=moment("to"),
        kind=choice("kind", audit.KINDS),
        outcome=choice("outcome", ("ok", "refused")),
        method=choice("method", ("demo", "eimzo", "oneid", "face", "ingest_key")),
        user=query_id(request, "user"),
        before=query_id(request, "before"),
        limit=limit,
    )


async def _audit_rows(request: Request) -> list[dict[str, Any]]:
    actor = _signed_in_actor(await caller(request))
    if actor.role not in ("secretary", "admin"):
        raise ApiError(403, "forbidden", "the audit trail is for the secretariat and admins")
    f = _audit_filter(request, actor)
    async with db_of(request).read() as db:
        return await audit.entries(db, f)


_AUDIT_PARAMETERS = """
    parameters:
      - {name: council, in: query, schema: {type: integer, minimum: 1, maximum: 2147483647}}
      - {name: from, in: query, schema: {type: string, format: date-time}}
      - {name: to, in: query, schema: {type: string, format: date-time}}
      - name: kind
        in: query
        schema:
          type: string
          enum: [sign_in, sign_out, sign_ins_ended, face_enrolled, face_removed, face_check]
      - {name: outcome, in: query, schema: {type: string, enum: [ok, refused]}}
      - {name: method, in: query, schema: {type: string, enum: [demo, eimzo, oneid, face]}}
      - {name: user, in: query, schema: {type: integer, minimum: 1, maximum: 2147483647}}
      - {name: before, in: query, schema: {type: integer, minimum: 1, maximum: 2147483647}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000}}
"""


async def audit_list(request: Request) -> JSONResponse:
    rows = await _audit_rows(request)
    return JSONResponse(rows)


async def audit_csv(request: Request) -> Response:
    rows = await _audit_rows(request)
    return Response(
        audit.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


audit_list.__doc__ = f"""
    ---
    summary: The sign-in audit trail, newest first (secretary, their council; admin, all)
{_AUDIT_PARAMETERS}
    responses:
      200: {{description: "[{{id, at, kind, method, outcome, reason, user, council_id, ...}}]"}}
      400: {{description: a malformed filter}}
      401: {{description: bad or expired token}}
      403: {{description: not the secretariat or an admin, or another council}}
    """
audit_csv.__doc__ = f"""
    ---
    summary: The sign-in audit trail as CSV, with the same filters
{_AUDIT_PARAMETERS}
    responses:
      200: {{description: CSV}}
      400: {{description: a malformed filter}}
      401: {{description: bad or expired token}}
      403: {{description: not the secretariat or an admin, or another council}}
    """

routes = [
    Route("/api/auth/demo", demo_login, methods=["POST"]),
    Route("/api/auth/eimzo/challenge", eimzo_challenge, methods=["POST"]),
    Route("/api/auth/eimzo", eimzo_login, methods=["POST"]),
    Route("/api/auth/sign-out", sign_out, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/users/{id:digits}/sign-ins/end", end_sign_ins, methods=["POST"]),
    Route("/api/audit", audit_list, methods=["GET"]),
    Route("/api/audit.csv", audit_csv, methods=["GET"]),
]
