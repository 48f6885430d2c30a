"""A sitting's ingest keys over HTTP, and the check of a key a WHIP publisher sends.

The operator (or the chair, or an admin) makes a key for a sitting on the broadcast
console and pastes it into OBS Studio as the bearer token of its "WHIP" service. The
key is shown once, when it is made; the database keeps its hash (broadcast/ingest_keys.py).
Keys are listed without the secret and revoked one by one; revoking a key ends the
publication made with it. Each handler's docstring after `---` is its OpenAPI
description."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broadcast import ingest_keys
from broadcast.resources import ResourceError
from session_server.auth import audit
from session_server.auth.routes import origin_of
from session_server.auth.tokens import Actor
from session_server.broadcasting.media_process import MediaProcess
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import iso, utcnow
from session_server.decisions.routes import public_url
from session_server.http import ApiError, caller, path_id, read_json

# Who manages a sitting's keys: its council's operator and chair, and admins.
MANAGERS = frozenset({"operator", "chair", "admin"})
# Live (unrevoked) keys a sitting may have at once: one per encoder and a spare or two.
# A leaked key is revoked, not piled up.
MAX_LIVE_KEYS = 5
# The owner of a WHIP resource published with a key (a sign-in's is `user:ID`).
OWNER_PREFIX = "ingest-key:"
_KEY_ID = re.compile(r"[0-9a-f]{16}")
BAD_KEY_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def owner_of(key_id: str) -> str:
    return OWNER_PREFIX + key_id


def _audit(
    db: DbSession,
    request: Request,
    kind: audit.Kind,
    key: models.IngestKey,
    user_id: int | None,
    reason: str = "",
) -> None:
    """A row of the audit trail about `key`, in the caller's transaction, for the
    secretariat of the key's council."""
    sitting = db.get(models.Session, key.session_id)
    audit.record(
        db,
        audit.Entry(
            kind,
            "refused" if reason else "ok",
            origin_of(request),
            method="ingest_key",
            reason=reason,
            user_id=user_id,
            council_id=sitting.council_id if sitting is not None else None,
            subject=f"session {key.session_id} key {key.id}",
        ),
        utcnow(),
    )


async def key_owner(request: Request, session_id: int, plain: str) -> str:
    """The owner a WHIP request with the ingest key `plain` acts as, its use recorded
    (and in the audit trail); 401 `bad_token` unless it is an unrevoked key of this
    sitting. The lookup is a read: a guessed key costs the server no write."""
    kid = ingest_keys.key_id(plain)

    def find(db: DbSession) -> models.IngestKey | None:
        return db.get(models.IngestKey, kid)

    def refusal(row: models.IngestKey) -> str:
        if row.revoked_at is not None:
            return "revoked"
        return "other_session" if row.session_id != session_id else ""

    db = _db(request)
    found = await db.look_up(find)
    # Only the holder of one of our keys gets this far: its hash names the row.
    if found is not None and ingest_keys.check(plain, found.stored):

        def use(w: DbSession) -> bool:
            row = w.get(models.IngestKey, kid)
            assert row is not None  # keys are revoked, never deleted
            reason = refusal(row)
            _audit(w, request, "ingest_key_used", row, row.created_by, reason)
            if not reason:
                row.last_used_at = utcnow()
            return not reason

        if await db.transact(use):
            return owner_of(kid)
    raise ApiError(
        401, "bad_token", "this is not a valid ingest key of this sitting", BAD_KEY_HEADERS
    )


async def _manager(request: Request) -> tuple[Actor, models.Session]:
    """The signed-in operator, chair or admin of the sitting's council, and the sitting."""
    actor = await caller(request)
    # No token is the viewer (403); 401 only ever means the token itself is wrong.
    if actor.sign_in is None or actor.role not in MANAGERS:
        raise ApiError(403, "forbidden", "ingest keys are for the operator, the chair and admins")
    session_id = path_id(request, "session")
    async with _db(request).read() as db:
        sitting = await db.get(models.Session, session_id)
    if sitting is None:
        raise ApiError(404, "not_found", f"there is no session {session_id}")
    if actor.role != "admin" and actor.council_id != sitting.council_id:
        raise ApiError(403, "forbidden", "this session belongs to another council")
    return actor, sitting


def _row(key: models.IngestKey, maker: models.User | None) -> dict[str, Any]:
    return {
        "id": key.id,
        "session": key.session_id,
        "label": key.label,
        "created_by": None if maker is None else {"id": maker.id, "name": maker.full_name},
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
        "revoked": key.revoked_at is not None,
    }


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # What the key is for, as the list shows it ("OBS in the chamber").
    label: str = Field(default="", max_length=80)


async def create_key(request: Request) -> JSONResponse:
    """
    ---
    summary: Make an ingest key for a sitting (shown this once)
    description: >
      The sitting's operator or chair, or an admin. The key is OBS Studio's bearer token
      for its "WHIP" service, with `whip_url` as the server. Only its hash is kept.
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            properties:
              label: {type: string, maxLength: 80}
    responses:
      201: {description: "{id, key, whip_url, label, created_by, created_at, …}"}
      401: {description: bad or expired token, or the sign-in has ended}
      403: {description: not the operator or chair of this council, or an admin}
      404: {description: no such session}
      409: {description: "session_closed; too_many_keys: revoke one first"}
      422: {description: invalid_body}
    """
    actor, sitting = await _manager(request)
    length = request.headers.get("content-length")
    body = NewKey() if length in (None, "0") else await read_json(request, NewKey)
    if sitting.state == "closed":
        raise ApiError(409, "session_closed", "the sitting is closed: nothing more is broadcast")
    label = body.label.strip()

    def make(db: DbSession) -> tuple[str, dict[str, Any]]:
        # The sitting's row locked: two requests at once cannot both take the last place.
        db.get(models.Session, sitting.id, with_for_update=True)
        key = models.IngestKey
        live = db.scalar(
            select(func.count())
            .select_from(key)
            .where(key.session_id == sitting.id, key.revoked_at.is_(None))
        )
        if (live or 0) >= MAX_LIVE_KEYS:
            raise ApiError(
                409,
                "too_many_keys",
                f"a sitting has at most {MAX_LIVE_KEYS} keys at once: revoke one first",
            )
        plain, stored = ingest_keys.new_key()
        row = key(
            id=ingest_keys.key_id(plain),
            session_id=sitting.id,
            stored=stored,
            label=label,
            created_by=actor.user_id,
            created_at=utcnow(),
        )
        db.add(row)
        db.flush()
        _audit(db, request, "ingest_key_made", row, actor.user_id)
        maker = db.get(models.User, actor.user_id) if actor.user_id is not None else None
        return plain, _row(row, maker)

    plain, row = await _db(request).transact(make)
    answer = {**row, "key": plain, "whip_url": public_url(request, f"/whip/{sitting.id}")}
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store"})


async def list_keys(request: Request) -> JSONResponse:
    """
    ---
    summary: A sitting's ingest keys, newest first, without the keys themselves
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200:
        description: "[{id, session, label, created_by, created_at, last_used_at, revoked_at,
          revoked}]"
      401: {description: bad or expired token, or the sign-in has ended}
      403: {description: not the operator or chair of this council, or an admin}
      404: {description: no such session}
    """
    _, sitting = await _manager(request)
    key, user = models.IngestKey, models.User
    query = (
        select(key, user)
        .outerjoin(user, user.id == key.created_by)
        .where(key.session_id == sitting.id)
        .order_by(key.created_at.desc(), key.id)
    )
    async with _db(request).read() as db:
        rows = (await db.execute(query)).all()
    return JSONResponse([_row(k, u) for k, u in rows])


async def revoke_key(request: Request) -> JSONResponse:
    """
    ---
    summary: Revoke an ingest key; a publication made with it ends
    description: Revoking a revoked key changes nothing and answers the same.
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: key_id, in: path, required: true, schema: {type: string, pattern: "^[0-9a-f]{16}$"}}
    responses:
      200: {description: "the key's row, revoked"}
      401: {description: bad or expired token, or the sign-in has ended}
      403: {description: not the operator or chair of this council, or an admin}
      404: {description: no such session, or no such key of it}
    """
    actor, sitting = await _manager(request)
    kid = request.path_params["key_id"]
    if not _KEY_ID.fullmatch(kid):
        raise ApiError(404, "not_found", "there is no such ingest key")

    def revoke(db: DbSession) -> dict[str, Any]:
        row = db.get(models.IngestKey, kid)
        if row is None or row.session_id != sitting.id:
            raise ApiError(404, "not_found", "this sitting has no such ingest key")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            row.revoked_by = actor.user_id
            _audit(db, request, "ingest_key_revoked", row, actor.user_id)
        maker = db.get(models.User, row.created_by) if row.created_by is not None else None
        return _row(row, maker)

    answer = await _db(request).transact(revoke)
    # The key's publication ends now, if this process holds it (with several replicas,
    # one another holds goes on until it ends); no new one is taken with the key.
    media: MediaProcess = request.app.state.media
    with contextlib.suppress(ResourceError):  # the media restarting: nothing is on air
        await media.call("end_publisher_of", sitting.id, owner_of(kid))
    return JSONResponse(answer)


routes = [
    Route("/api/sessions/{id:digits}/ingest-keys", create_key, methods=["POST"]),
    Route("/api/sessions/{id:digits}/ingest-keys", list_keys, methods=["GET"]),
    Route("/api/sessions/{id:digits}/ingest-keys/{key_id}", revoke_key, methods=["DELETE"]),
]
