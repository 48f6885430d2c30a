"""Councils, rosters and sessions: the records a sitting is scheduled from."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from session_server import eventlog
from session_server.commands.sections import (
    agenda_section,
    attendance_section,
    council_section,
    deputies_section,
    session_section,
    speakers_section,
)
from session_server.db import models
from session_server.db.models import utcnow
from voting import CouncilRules

PINFL = re.compile(r"^[1-6]\d{13}$")


class RosterError(Exception):
    """A roster that cannot be imported; nothing of it was written."""


class RosterRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    full_name: str = Field(min_length=3, max_length=200)
    pinfl: str
    seat: int = Field(gt=0)
    district: str = Field(default="", max_length=200)
    faction: str = Field(default="", max_length=200)

    @field_validator("pinfl")
    @classmethod
    def _pinfl(cls, value: str) -> str:
        if not PINFL.match(value):
            raise ValueError("PINFL is 14 digits, the first 1-6")
        return value


def parse_roster(text: str) -> list[RosterRow]:
    """Read a roster CSV (header: full_name,pinfl,seat[,district,faction])."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"full_name", "pinfl", "seat"} - set(reader.fieldnames or ())
    if missing:
        raise RosterError(f"the CSV header lacks: {', '.join(sorted(missing))}")
    rows: list[RosterRow] = []
    errors: list[str] = []
    for line, raw in enumerate(reader, start=2):
        try:
            rows.append(RosterRow.model_validate(raw))
        except ValidationError as exc:
            reasons = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            errors.append(f"line {line}: {reasons}")
    for label, values in (
        ("PINFL", [r.pinfl for r in rows]),
        ("seat", [str(r.seat) for r in rows]),
    ):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            errors.append(f"repeated {label}: {', '.join(dupes)}")
    if errors:
        raise RosterError("\n".join(errors))
    if not rows:
        raise RosterError("the roster is empty")
    return rows


@dataclass(frozen=True)
class ImportResult:
    council_id: int
    added: int
    updated: int


def import_roster(
    db: DbSession, council: models.Council, rows: Sequence[RosterRow]
) -> ImportResult:
    """Add or update deputies by PINFL. Runs in the caller's transaction."""
    rules = CouncilRules.model_validate(council.rules)
    over = [r.seat for r in rows if r.seat > rules.seats]
    if over:
        raise RosterError(f"seats beyond the council's {rules.seats}: {over}")
    existing = {
        d.pinfl: d
        for d in db.scalars(
            select(models.Deputy).where(models.Deputy.pinfl.in_([r.pinfl for r in rows]))
        )
    }
    foreign = [p for p, d in existing.items() if d.council_id != council.id]
    if foreign:
        raise RosterError(f"PINFL already on another council's roster: {', '.join(foreign)}")
    added = updated = 0
    for row in rows:
        deputy = existing.get(row.pinfl)
        if deputy is None:
            deputy = models.Deputy(council_id=council.id, pinfl=row.pinfl, seat_no=row.seat)
            db.add(deputy)
            added += 1
        else:
            updated += 1
        deputy.full_name, deputy.seat_no = row.full_name, row.seat
        deputy.district, deputy.faction = row.district, row.faction
    db.flush()
    return ImportResult(council.id, added, updated)


M = TypeVar("M", bound=BaseModel)


def _from_yaml(text: str, model: type[M], shape: str) -> M:
    """A model written as YAML; RosterError with every problem, one per line."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RosterError(f"not YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RosterError(f"it must be a mapping ({shape})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '.'}: {e['msg']}" for e in exc.errors()
        ]
        raise RosterError("\n".join(problems)) from exc


def parse_rules(text: str) -> CouncilRules:
    """A reglament written as YAML; RosterError with every problem, one per line."""
    return _from_yaml(text, CouncilRules, "seats: …, quorum: …")


def rules_yaml(rules: CouncilRules) -> str:
    import yaml

    return yaml.safe_dump(rules.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def set_rules(db: DbSession, name: str, rules: CouncilRules | None) -> CouncilRules:
    """Give the council named `name` its new reglament (None: only read it). Votes opened
    from now on follow it, on every server process; a vote already open keeps the rule
    it opened with. Seats may not drop below a deputy's seat on the roster."""
    council = db.scalar(select(models.Council).where(models.Council.name == name))
    if council is None:
        raise RosterError(f"there is no council named {name!r}")
    if rules is None:
        return CouncilRules.model_validate(council.rules)
    highest = db.scalar(
        select(func.max(models.Deputy.seat_no)).where(models.Deputy.council_id == council.id)
    )
    if highest is not None and rules.seats < highest:
        raise RosterError(f"seats: {rules.seats} is below seat {highest} on the roster")
    council.rules = rules.model_dump(mode="json")
    return rules


def get_or_create_council(
    db: DbSession, name: str, rules: CouncilRules, region: str = ""
) -> models.Council:
    council = db.scalar(select(models.Council).where(models.Council.name == name))
    if council is None:
        council = models.Council(name=name, region=region, rules=rules.model_dump(mode="json"))
        db.add(council)
        db.flush()
    return council


class DraftDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1, max_length=100_000)


class AgendaEntry(BaseModel):
    """One item of an agenda to schedule, with the draft decision put to the sitting."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=1000)
    rapporteur: str = Field(default="", max_length=200)
    draft: DraftDecision | None = None


class AgendaFile(BaseModel):
    """An agenda import (`kengash session schedule`): the sitting and its items."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    on: date = Field(alias="date")
    number: int | None = Field(default=None, ge=1, le=100_000)
    items: list[AgendaEntry] = Field(min_length=1, max_length=200)


def parse_agenda(text: str) -> AgendaFile:
    """An agenda import written as YAML; RosterError with every problem, one per line."""
    return _from_yaml(text, AgendaFile, "title: …, date: …, items: …")


def schedule_from(db: DbSession, name: str, agenda: AgendaFile) -> models.Session:
    """Schedule the sitting an agenda import describes, for the council named `name`."""
    council = db.scalar(select(models.Council).where(models.Council.name == name))
    if council is None:
        raise RosterError(f"there is no council named {name!r}")
    if agenda.number is not None and db.scalar(
        select(models.Session.id).where(
            models.Session.council_id == council.id, models.Session.number == agenda.number
        )
    ):
        raise RosterError(f"number: the council has a sitting {agenda.number} already")
    return schedule_session(db, council, agenda.title, agenda.on, agenda.items, agenda.number)


def schedule_session(
    db: DbSession,
    council: models.Council,
    title: str,
    on: date,
    agenda: Sequence[AgendaEntry | tuple[str, str]],
    number: int | None = None,
) -> models.Session:
    """Create a sitting with its agenda; its log starts with `session.scheduled`, which
    carries everything a screen needs (roster, rules, agenda) so the log alone tells the
    whole sitting."""
    if number is None:
        last = db.scalar(
            select(func.max(models.Session.number)).where(models.Session.council_id == council.id)
        )
        number = (last or 0) + 1
    session = models.Session(
        council_id=council.id, number=number, title=title, scheduled_for=on, last_seq=0
    )
    db.add(session)
    db.flush()
    for position, entry in enumerate(agenda, start=1):
        if isinstance(entry, tuple):
            entry = AgendaEntry(title=entry[0], rapporteur=entry[1])
        db.add(
            models.AgendaItem(
                session_id=session.id,
                position=position,
                title=entry.title,
                rapporteur=entry.rapporteur,
                draft_title=entry.draft.title if entry.draft else None,
                draft_text=entry.draft.text if entry.draft else None,
            )
        )
    db.flush()
    rules = CouncilRules.model_validate(council.rules)
    payload = {
        "session": session_section(session),
        "council": council_section(council),
        "rules": rules.model_dump(mode="json"),
        "deputies": deputies_section(db, council.id),
        "agenda": agenda_section(db, session),
        "attendance": attendance_section([], rules),
        "speakers": speakers_section(db, session.id),
    }
    eventlog.append(db, session, [("session.scheduled", payload)], utcnow())
    return session
