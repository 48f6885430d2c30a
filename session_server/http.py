"""Small HTTP helpers shared by the API modules: errors, bodies, the caller's token."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from session_server.auth.tokens import VIEWER, Actor, TokenError, TokenIssuer
from session_server.validation import validation_message

MAX_BODY = 64 * 1024
ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def read_json(request: Request, model: type[ModelT]) -> ModelT:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(413, "too_large", "the request body is too large")
    try:
        data: Any = json.loads(body or b"null")
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_body", validation_message(exc, "body")) from exc


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return conn.query_params.get("token") or None


def caller(conn: HTTPConnection) -> Actor:
    """The caller of an HTTP request: a viewer without a token, 401 with a bad one."""
    token = bearer_token(conn)
    if token is None:
        return VIEWER
    issuer: TokenIssuer = conn.app.state.tokens
    try:
        return issuer.verify(token)
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.message) from exc
