"""Signed, expiring bearer tokens. Every sign-in (demo, E-IMZO, Face ID, One ID) ends
by issuing one of these, so the hub and the API know only this one model.

A token names its sign-in record (`sign_in`): the signature proves the token was
issued here, the record (auth/signins.py) that it has not been ended since. This module
only signs and checks; it reads nothing."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# The payload's shape. A token of another version (an older server's) is refused as
# `bad_token`: its holder signs in again.
TOKEN_VERSION = 2
Method = Literal["demo", "eimzo", "oneid"]
METHODS: tuple[Method, ...] = ("demo", "eimzo", "oneid")

# "system" is the server itself (a vote's timer); no token ever carries it.
Role = Literal["viewer", "deputy", "chair", "secretary", "operator", "admin", "system"]
ROLES: tuple[Role, ...] = ("viewer", "deputy", "chair", "secretary", "operator", "admin")


@dataclass(frozen=True, slots=True)
class Actor:
    role: Role
    user_id: int | None = None
    login: str | None = None
    name: str = ""
    council_id: int | None = None
    deputy_id: int | None = None
    face_verified: bool = False
    # The sign-in this token belongs to, and how it was made; None for the public and
    # the server itself.
    sign_in: str | None = None
    method: Method | None = None

    @property
    def key(self) -> str:
        """Whose command ids these are: ids are unique per user, not globally."""
        if self.role == "system":
            return "system"
        return f"user:{self.user_id}" if self.user_id is not None else "anonymous"


# The payload's fields, in order. dataclasses.asdict copies each value deeply, a third
# of issuing a token; the values are all plain.
ACTOR_FIELDS = tuple(f.name for f in fields(Actor))

VIEWER = Actor(role="viewer")
SYSTEM = Actor(role="system", name="E-Kengash")


class TokenError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TokenIssuer:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="kengash-token")
        self.ttl_seconds = ttl_seconds

    def issue(self, actor: Actor) -> str:
        payload = {"v": TOKEN_VERSION, **{name: getattr(actor, name) for name in ACTOR_FIELDS}}
        return self._serializer.dumps(payload)

    def verify(self, token: str) -> Actor:
        try:
            data = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired as exc:
            raise TokenError("token_expired", "the token has expired; sign in again") from exc
        except BadSignature as exc:
            raise TokenError("bad_token", "the token is not valid") from exc
        if (
            not isinstance(data, dict)
            or data.pop("v", None) != TOKEN_VERSION
            or data.get("role") not in ROLES
            or data.get("method") not in (*METHODS, None)
        ):
            raise TokenError("bad_token", "the token is not valid")
        try:
            return Actor(**data)
        except TypeError as exc:  # signed by us, but not with today's fields
            raise TokenError("bad_token", "the token is not valid") from exc
