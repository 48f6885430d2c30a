"""Small HTTP helpers shared by the API modules: errors, bodies, ids, the caller's token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import JSONResponse

from session_server.auth.signins import SignIns
from session_server.auth.tokens import VIEWER, Actor, TokenError
from session_server.validation import (
    DB_INT_MAX,
    RowId,
    UnfitJSON,
    load_json,
    validation_message,
)

MAX_BODY = 64 * 1024
ModelT = TypeVar("ModelT", bound=BaseModel)

_ROW_ID: TypeAdapter[int] = TypeAdapter(RowId)
# ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses. Ten
# significant digits are more than any row id has, and int() of thousands of digits
# raises, so longer numbers are refused before int() sees them.
_ID = re.compile(r"0*([0-9]{1,10})")


class DigitsConvertor(Convertor[str]):
    """`{id:digits}`: a path segment of ASCII digits, kept as text. Starlette's `int`
    convertor calls int() on the segment, which raises (a 500) on thousands of digits."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("digits", DigitsConvertor())


def parse_id(text: str) -> int | None:
    """A row id (1 … DB_INT_MAX) written in ASCII digits, or None."""
    match = _ID.fullmatch(text)
    if match is None:
        return None
    try:
        return _ROW_ID.validate_python(int(match[1]))
    except ValidationError:
        return None


class ApiError(HTTPException):
    """`more`: further fields of the error object, such as the image it is about."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        more: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(status, message, headers)
        self.code = code
        self.more = dict(more or {})


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    more: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **(more or {})}},
        status_code=status,
        headers=headers,
    )


def _too_large(limit: int) -> ApiError:
    # Closing the connection stops uvicorn from reading (and discarding) the rest of a
    # body we have refused.
    return ApiError(
        413,
        "too_large",
        f"the request body is over {limit} bytes",
        headers={"Connection": "close"},
    )


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused with 413 as soon as it is known to pass `limit`: at once by its
    Content-Length, or while streaming, before the rest is read into memory."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect as exc:  # nobody is left to answer; say so plainly
        raise ApiError(400, "invalid_json", "the body was cut off") from exc
    return b"".join(chunks)


async def read_json(request: Request, model: type[ModelT], limit: int = MAX_BODY) -> ModelT:
    """The body as `model`; `limit` for the few endpoints that take images."""
    body = await read_body(request, limit)
    try:
        data: Any = load_json(body or b"null", "body")
    except UnfitJSON as exc:
        raise ApiError(422, "invalid_body", str(exc)) from exc
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_body", validation_message(exc, "body")) from exc


def path_id(request: Request, what: str, name: str = "id") -> int:
    """A row id from a `{name:digits}` path segment. A number past DB_INT_MAX names no
    row on either database, so it is simply not found (never a failing query)."""
    value: str = request.path_params[name]
    row_id = parse_id(value)
    if row_id is None:
        shown = value if len(value) <= 20 else f"{value[:20]}…"
        raise ApiError(404, "not_found", f"there is no {what} {shown}")
    return row_id


def query_id(request: Request, name: str) -> int | None:
    """An optional row id from the query string: 400 bad_query unless 1 … DB_INT_MAX."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    row_id = parse_id(raw)
    if row_id is None:
        raise ApiError(400, "bad_query", f"{name} must be a whole number from 1 to {DB_INT_MAX}")
    return row_id


# A browser cannot set headers on a WebSocket, and a URL's query ends up in proxies'
# logs: the pages offer two subprotocols, `kengash` and `kengash.token.TOKEN`, and the
# server answers with `kengash`. (A token's characters are all allowed in the header.)
SUBPROTOCOL = "kengash"
TOKEN_SUBPROTOCOL = "kengash.token."


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of a request: `Authorization: Bearer`, a WebSocket's token
    subprotocol, or (for scripts) `?token=`."""
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    for offered in conn.scope.get("subprotocols") or ():
        if isinstance(offered, str) and offered.startswith(TOKEN_SUBPROTOCOL):
            return offered[len(TOKEN_SUBPROTOCOL) :] or None
    return conn.query_params.get("token") or None


async def signed_in(conn: HTTPConnection) -> tuple[Actor, datetime | None]:
    """The caller of a request and until when their sign-in counts: a viewer (None)
    without a token; 401 with a bad or expired one, or one whose sign-in has ended."""
    token = bearer_token(conn)
    if token is None:
        return VIEWER, None
    signins: SignIns = conn.app.state.signins
    try:
        return await signins.check(token)
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.message) from exc


async def caller(conn: HTTPConnection) -> Actor:
    """The caller of a request (see `signed_in`)."""
    actor, _ = await signed_in(conn)
    return actor
