"""The audit trail of sign-ins and Face ID: written in the same transaction as what it
records, read by the secretariat (its own council) and admins, never changed.

Every sign-in attempt (whether it succeeded or not, and why not), every sign-out, every
ending of a user's sign-ins, every face enrolment and removal, and every face check at
sign-in and every failed one at a ballot, and every ingest key made, revoked or used, is
one row."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as DbSession

from session_server.db import models
from session_server.db.models import iso
from session_server.spreadsheet import SafeWriter

Kind = Literal[
    "sign_in",
    "sign_out",
    "sign_ins_ended",
    "face_enrolled",
    "face_removed",
    "face_check",
    "ingest_key_made",
    "ingest_key_revoked",
    "ingest_key_used",
]
KINDS: tuple[Kind, ...] = (
    "sign_in",
    "sign_out",
    "sign_ins_ended",
    "face_enrolled",
    "face_removed",
    "face_check",
    # A sitting's ingest keys (broadcasting/keys.py): made, revoked, and each WHIP
    # request with one (refused too, where the key is ours but revoked or another's).
    "ingest_key_made",
    "ingest_key_revoked",
    "ingest_key_used",
)
Outcome = Literal["ok", "refused"]

# Where the request came from, as the audit trail keeps it.
ADDRESS_MAX = 64
USER_AGENT_MAX = 300


@dataclass(frozen=True, slots=True)
class Origin:
    """Who is at the other end of a request: their address and device."""

    address: str = ""
    user_agent: str = ""

    @classmethod
    def of(cls, address: str | None, user_agent: str | None) -> Origin:
        return cls((address or "")[:ADDRESS_MAX], (user_agent or "")[:USER_AGENT_MAX])


@dataclass(frozen=True, slots=True)
class Entry:
    kind: Kind
    outcome: Outcome
    origin: Origin
    method: str = ""
    reason: str = ""  # the refusal's code, or why sign-ins were ended
    user_id: int | None = None
    council_id: int | None = None
    actor_user_id: int | None = None
    certificate_serial: str = ""
    subject: str = ""  # what a face check was for: "sign_in", "vote 12"
    distance: float | None = None  # a face check's distance from the enrolled face


# A row is written in Core on the connection, at once: nothing reads it back in the
# transaction, and every sign-in writes one (the ORM's object and flush cost more than
# the INSERT). The users and councils it names are rows already written.
ADD_ENTRY = insert(models.AuditEvent)


def record(db: DbSession, entry: Entry, at: datetime) -> None:
    """Add the entry to the trail, in the caller's transaction."""
    db.connection().execute(
        ADD_ENTRY,
        {
            "at": at,
            "kind": entry.kind,
            "method": entry.method,
            "outcome": entry.outcome,
            "reason": entry.reason[:64],
            "user_id": entry.user_id,
            "council_id": entry.council_id,
            "actor_user_id": entry.actor_user_id,
            "certificate_serial": entry.certificate_serial[:64],
            "address": entry.origin.address,
            "user_agent": entry.origin.user_agent,
            "subject": entry.subject[:64],
            "distance": entry.distance,
        },
    )


@dataclass(frozen=True)
class Filter:
    """What the secretariat asks the trail for. `council` None: every council (admins)."""

    council: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: Kind | None = None
    outcome: Outcome | None = None
    method: str | None = None
    user: int | None = None
    # Paging, newest first: rows with an id below `before`.
    before: int | None = None
    limit: int = 100


def _query(f: Filter) -> Select[models.AuditEvent, models.User]:
    event, user = models.AuditEvent, models.User
    query = select(event, user).outerjoin(user, user.id == event.user_id)
    if f.council is not None:
        query = query.where(event.council_id == f.council)
    if f.since is not None:
        query = query.where(event.at >= f.since)
    if f.until is not None:
        query = query.where(event.at < f.until)
    if f.kind is not None:
        query = query.where(event.kind == f.kind)
    if f.outcome is not None:
        query = query.where(event.outcome == f.outcome)
    if f.method is not None:
        query = query.where(event.method == f.method)
    if f.user is not None:
        query = query.where(event.user_id == f.user)
    if f.before is not None:
        query = query.where(event.id < f.before)
    return query.order_by(event.id.desc())


def _row(e: models.AuditEvent, u: models.User | None) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind,
        "method": e.method,
        "outcome": e.outcome,
        "reason": e.reason,
        "user": None if u is None else {"id": u.id, "login": u.login, "name": u.full_name},
        "council_id": e.council_id,
        "actor_user_id": e.actor_user_id,
        "certificate_serial": e.certificate_serial,
        "address": e.address,
        "user_agent": e.user_agent,
        "subject": e.subject,
        "distance": None if e.distance is None else round(e.distance, 4),
    }


async def entries(db: AsyncSession, f: Filter) -> list[dict[str, Any]]:
    rows = await db.execute(_query(f).limit(f.limit))
    return [_row(row[0], row[1]) for row in rows]


CSV_COLUMNS = (
    "id",
    "at",
    "kind",
    "method",
    "outcome",
    "reason",
    "user_id",
    "login",
    "name",
    "council_id",
    "actor_user_id",
    "certificate_serial",
    "subject",
    "distance",
    "address",
    "user_agent",
)


def as_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as a spreadsheet. User agents and names come from outside: every text
    cell is escaped against formulas as the vote protocol's are."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        user = r["user"] or {}
        values = {**r, "user_id": user.get("id"), "login": user.get("login")}
        values["name"] = user.get("name")
        writer.writerow(values[c] for c in CSV_COLUMNS)
    return out.getvalue()
