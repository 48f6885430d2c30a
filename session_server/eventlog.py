"""The session event log: appended in the change's own transaction, read for replay.

On the wire an event is `{"kind", "at", ...payload}`; its `seq` travels beside it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as DbSession

from session_server.db import models
from session_server.db.models import iso

LoggedEvent = tuple[int, dict[str, Any]]


def wire_event(kind: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "at": iso(at), **payload}


def append(
    db: DbSession,
    session: models.Session,
    events: Sequence[tuple[str, dict[str, Any]]],
    at: datetime,
) -> list[LoggedEvent]:
    """Give each event the session's next seq. The caller holds the session row lock, and
    the unique (session, seq) key refuses a second writer that somehow did not."""
    logged: list[LoggedEvent] = []
    for kind, payload in events:
        session.last_seq += 1
        db.add(
            models.SessionEvent(
                session_id=session.id, seq=session.last_seq, kind=kind, payload=payload, at=at
            )
        )
        logged.append((session.last_seq, wire_event(kind, at, payload)))
    return logged


async def read_since(db: AsyncSession, session_id: int, since: int = 0) -> list[LoggedEvent]:
    rows = await db.scalars(
        select(models.SessionEvent)
        .where(models.SessionEvent.session_id == session_id, models.SessionEvent.seq > since)
        .order_by(models.SessionEvent.seq)
    )
    return [(r.seq, wire_event(r.kind, r.at, r.payload)) for r in rows]
