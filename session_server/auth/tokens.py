"""Signed, expiring bearer tokens. Every sign-in (demo, E-IMZO, Face ID, One ID) ends
by issuing one of these, so the hub and the API know only this one model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

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

    @property
    def key(self) -> str:
        """Whose command ids these are: ids are unique per user, not globally."""
        if self.role == "system":
            return "system"
        return f"user:{self.user_id}" if self.user_id is not None else "anonymous"


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
        return self._serializer.dumps(asdict(actor))

    def verify(self, token: str) -> Actor:
        try:
            data = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired as exc:
            raise TokenError("token_expired", "the token has expired; sign in again") from exc
        except BadSignature as exc:
            raise TokenError("bad_token", "the token is not valid") from exc
        if not isinstance(data, dict) or data.get("role") not in ROLES:
            raise TokenError("bad_token", "the token is not valid")
        try:
            return Actor(**data)
        except TypeError as exc:  # signed by us, but not with today's fields
            raise TokenError("bad_token", "the token is not valid") from exc
