"""The users who may sign in, for the secretariat's sign-ins screen: `GET /api/users`.
Each handler's docstring after `---` is its OpenAPI description."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from session_server.auth.routes import db_of
from session_server.db import models
from session_server.db.models import utcnow
from session_server.http import ApiError, caller, query_id


async def users_list(request: Request) -> JSONResponse:
    """
    ---
    summary: The users who may sign in, with how many sign-ins each has open now
    description: Secretary (their own council) or admin (any council, or all). No PINFL.
    parameters:
      - {name: council, in: query, schema: {type: integer, minimum: 1, maximum: 2147483647}}
    responses:
      200: {description: "[{id, login, role, name, council_id, deputy_id, removed, open_sign_ins}]"}
      400: {description: a malformed filter}
      401: {description: bad or expired token, or the sign-in has ended}
      403: {description: not the secretariat or an admin, or another council}
    """
    actor = await caller(request)
    # 403, not 401, without a token: 401 always means the token itself is wrong.
    if actor.sign_in is None or actor.role not in ("secretary", "admin"):
        raise ApiError(403, "forbidden", "the users list is for the secretariat and admins")
    council = query_id(request, "council")
    if actor.role == "secretary":
        if council not in (None, actor.council_id):
            raise ApiError(403, "forbidden", "a secretary sees their own council's users")
        council = actor.council_id
    user, sign_in = models.User, models.SignIn
    now = utcnow()
    open_now = (
        select(sign_in.user_id, func.count().label("n"))
        .where(sign_in.ended_at.is_(None), sign_in.expires_at > now)
        .group_by(sign_in.user_id)
        .subquery()
    )
    query = select(user, open_now.c.n).outerjoin(open_now, open_now.c.user_id == user.id)
    if council is not None:
        query = query.where(user.council_id == council)
    query = query.order_by(user.id)
    async with db_of(request).read() as db:
        rows = (await db.execute(query)).all()
    out: list[dict[str, Any]] = [
        {
            "id": u.id,
            "login": u.login,
            "role": u.role,
            "name": u.full_name,
            "council_id": u.council_id,
            "deputy_id": u.deputy_id,
            "removed": u.removed_at is not None,
            "open_sign_ins": int(n or 0),
        }
        for u, n in rows
    ]
    return JSONResponse(out)


routes = [Route("/api/users", users_list, methods=["GET"])]
