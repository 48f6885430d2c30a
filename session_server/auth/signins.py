"""Sign-in records: made when someone signs in, checked with every token, ended by
sign-out or by the secretariat, and each step written to the audit trail.

A token proves it was issued here; its sign-in record says whether it still counts.
Ending a record ends the token on every server process at once (they all read the
same database), and the sockets opened with it close within seconds
(live/signins.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session as DbSession

from session_server.auth import audit
from session_server.auth.tokens import Actor, Method, TokenError, TokenIssuer
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow

# Told of sign-ins ended in this process, so its sockets close at once.
Ended = Callable[[list[str]], None]


class SignInRefused(Exception):
    """A sign-in attempt refused for a reason of the person's, not of the server."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Started:
    token: str
    actor: Actor
    user: models.User
    expires_at: datetime


def actor_of(user: models.User, sign_in: str | None = None, method: Method | None = None) -> Actor:
    return Actor(
        role=user.role,  # type: ignore[arg-type]  # validated on write
        user_id=user.id,
        login=user.login,
        name=user.full_name,
        council_id=user.council_id,
        deputy_id=user.deputy_id,
        sign_in=sign_in,
        method=method,
    )


# Built once: building a statement costs more than running it (a sign-in's hot path).
DEPUTY_WITH_PINFL = (
    select(models.User)
    .join(models.Deputy, models.Deputy.id == models.User.deputy_id)
    .where(models.Deputy.pinfl == bindparam("pinfl"))
)
STAFF_WITH_PINFL = select(models.User).where(models.User.pinfl == bindparam("pinfl"))
# The record is written in Core on the connection: nothing reads it back in the same
# transaction, so the ORM's object and unit of work would be spent for nothing.
NEW_SIGN_IN = insert(models.SignIn)


def person_with_pinfl(db: DbSession, pinfl: str) -> models.User | None:
    """The user a PINFL names: a deputy's user (the PINFL is on the deputy's row), or a
    member of staff. A removed user is nobody."""
    params = {"pinfl": pinfl}
    user = db.scalar(DEPUTY_WITH_PINFL, params) or db.scalar(STAFF_WITH_PINFL, params)
    if user is None or user.removed_at is not None:
        return None
    return user


class SignIns:
    def __init__(self, db: Database, tokens: TokenIssuer) -> None:
        self.db = db
        self.tokens = tokens
        self._ended: list[Ended] = []

    def on_ended(self, listener: Ended) -> None:
        self._ended.append(listener)

    # -- signing in ----------------------------------------------------------------------

    def start(
        self,
        db: DbSession,
        user: models.User,
        method: Method,
        origin: audit.Origin,
        now: datetime,
        certificate_serial: str = "",
    ) -> Started:
        """Make the sign-in record, its token and its audit row, in the caller's
        transaction (the one that checked who this is)."""
        if user.removed_at is not None:
            raise SignInRefused(403, "unknown_person", "this person may not sign in")
        expires_at = now + timedelta(seconds=self.tokens.ttl_seconds)
        sign_in = secrets.token_hex(16)
        db.connection().execute(
            NEW_SIGN_IN,
            {
                "id": sign_in,
                "user_id": user.id,
                "method": method,
                "started_at": now,
                "expires_at": expires_at,
                "certificate_serial": certificate_serial or None,
                "address": origin.address,
                "user_agent": origin.user_agent,
            },
        )
        audit.record(
            db,
            audit.Entry(
                "sign_in",
                "ok",
                origin,
                method=method,
                user_id=user.id,
                council_id=user.council_id,
                certificate_serial=certificate_serial,
            ),
            now,
        )
        actor = actor_of(user, sign_in, method)
        return Started(self.tokens.issue(actor), actor, user, expires_at)

    async def refused(
        self,
        method: Method,
        origin: audit.Origin,
        code: str,
        user: models.User | None = None,
        certificate_serial: str = "",
    ) -> None:
        """Write a refused attempt to the trail, in a transaction of its own: the attempt
        itself changed nothing."""
        entry = audit.Entry(
            "sign_in",
            "refused",
            origin,
            method=method,
            reason=code,
            user_id=None if user is None else user.id,
            council_id=None if user is None else user.council_id,
            certificate_serial=certificate_serial,
        )
        await self.db.transact(lambda db: audit.record(db, entry, utcnow()))

    def face_verified(
        self, db: DbSession, actor: Actor, user: models.User, now: datetime
    ) -> Started:
        """The sign-in has passed the Face ID challenge: mark it, and a token that says so
        (the earlier token of the same sign-in keeps working, without the mark)."""
        assert actor.sign_in is not None
        record = db.get(models.SignIn, actor.sign_in)
        assert record is not None  # the caller's token was checked against it
        record.face_verified_at = now
        verified = replace(actor, face_verified=True)
        return Started(self.tokens.issue(verified), verified, user, record.expires_at)

    # -- checking ------------------------------------------------------------------------

    async def check(self, token: str) -> tuple[Actor, datetime]:
        """The token's actor and until when it counts; TokenError if it is not good, has
        expired, or its sign-in has been ended."""
        actor = self.tokens.verify(token)
        if actor.sign_in is None:
            raise TokenError("bad_token", "the token is not valid")
        async with self.db.read() as db:
            record = await db.get(models.SignIn, actor.sign_in)
        if record is None or record.user_id != actor.user_id:
            raise TokenError("bad_token", "the token is not valid")
        if record.ended_at is not None:
            raise TokenError("signed_out", "this sign-in has ended; sign in again")
        if record.expires_at <= utcnow():
            raise TokenError("token_expired", "the token has expired; sign in again")
        return actor, record.expires_at

    # -- ending --------------------------------------------------------------------------

    async def sign_out(self, actor: Actor, origin: audit.Origin) -> None:
        """End the caller's own sign-in."""
        assert actor.sign_in is not None and actor.user_id is not None

        def write(db: DbSession) -> list[str]:
            now = utcnow()
            ended = self._end(db, [actor.sign_in] if actor.sign_in else [], now, "signed_out")
            audit.record(
                db,
                audit.Entry(
                    "sign_out",
                    "ok",
                    origin,
                    method=actor.method or "",
                    user_id=actor.user_id,
                    council_id=actor.council_id,
                ),
                now,
            )
            return ended

        self._tell(await self.db.transact(write))

    async def end_all(
        self, user_id: int, reason: str, by: Actor, origin: audit.Origin
    ) -> list[str]:
        """End every open sign-in of a user (a lost tablet, a mandate ended)."""

        def write(db: DbSession) -> list[str]:
            now = utcnow()
            user = db.get(models.User, user_id)
            assert user is not None  # the caller found it
            open_ids = list(
                db.scalars(
                    select(models.SignIn.id).where(
                        models.SignIn.user_id == user_id, models.SignIn.ended_at.is_(None)
                    )
                )
            )
            ended = self._end(db, open_ids, now, reason)
            audit.record(
                db,
                audit.Entry(
                    "sign_ins_ended",
                    "ok",
                    origin,
                    reason=reason,
                    user_id=user_id,
                    council_id=user.council_id,
                    actor_user_id=by.user_id,
                ),
                now,
            )
            return ended

        ended = await self.db.transact(write)
        self._tell(ended)
        return ended

    @staticmethod
    def _end(db: DbSession, ids: list[str], now: datetime, reason: str) -> list[str]:
        if not ids:
            return []
        db.execute(
            update(models.SignIn)
            .where(models.SignIn.id.in_(ids), models.SignIn.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )
        return ids

    def _tell(self, ended: list[str]) -> None:
        if ended:
            for listener in self._ended:
                listener(ended)
