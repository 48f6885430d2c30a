"""Build the state sections events carry, from the rows inside the command's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from session_server.db import models
from session_server.db.models import iso
from voting import CouncilRules, quorum_status


def session_section(row: models.Session) -> dict[str, Any]:
    return {
        "id": row.id,
        "council_id": row.council_id,
        "number": row.number,
        "title": row.title,
        "date": row.scheduled_for.isoformat(),
        "state": row.state,
        "opened_at": iso(row.opened_at),
        "closed_at": iso(row.closed_at),
    }


def council_section(council: models.Council) -> dict[str, Any]:
    return {"id": council.id, "name": council.name, "region": council.region}


def deputies_section(db: DbSession, council_id: int) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(models.Deputy)
        .where(models.Deputy.council_id == council_id)
        .order_by(models.Deputy.seat_no)
    )
    return [
        {
            "id": d.id,
            "name": d.full_name,
            "seat": d.seat_no,
            "district": d.district,
            "faction": d.faction,
        }
        for d in rows
    ]


def agenda_section(db: DbSession, row: models.Session) -> dict[str, Any]:
    items = db.scalars(
        select(models.AgendaItem)
        .where(models.AgendaItem.session_id == row.id)
        .order_by(models.AgendaItem.position)
    )
    return {
        "items": [
            {
                "id": i.id,
                "position": i.position,
                "title": i.title,
                "rapporteur": i.rapporteur,
                "state": i.state,
                # The draft decision's title (its text is on GET /api/sessions/{id}).
                "draft": {"title": i.draft_title} if i.draft_title else None,
            }
            for i in items
        ],
        "current": row.current_item_id,
    }


def attendance_section(present: list[tuple[int, str]], rules: CouncilRules) -> dict[str, Any]:
    """From (deputy, mode) of those present, by deputy."""
    quorum = quorum_status(len(present), rules)
    return {
        "present": [d for d, _ in present],
        "remote": [d for d, mode in present if mode == "remote"],
        "count": quorum.present,
        "seats": quorum.seats,
        "needed": quorum.needed,
        "met": quorum.met,
    }


def speakers_section(db: DbSession, session_id: int) -> dict[str, Any]:
    rows = (
        db.scalars(
            select(models.SpeakerRequest)
            .where(
                models.SpeakerRequest.session_id == session_id,
                models.SpeakerRequest.state.in_(("waiting", "speaking")),
            )
            .order_by(models.SpeakerRequest.requested_at, models.SpeakerRequest.id)
        )
    ).all()
    current = next((r for r in rows if r.state == "speaking"), None)
    return {
        "current": None
        if current is None
        else {
            "request": current.id,
            "deputy": current.deputy_id,
            "topic": current.topic,
            "started_at": iso(current.granted_at),
            "limit_seconds": current.limit_seconds,
        },
        "queue": [
            {
                "request": r.id,
                "deputy": r.deputy_id,
                "topic": r.topic,
                "requested_at": iso(r.requested_at),
            }
            for r in rows
            if r.state == "waiting"
        ],
    }
