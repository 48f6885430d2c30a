"""What a command is: its name, who may send it, its arguments, and its handler.

A handler runs inside one database transaction with the session row locked; it checks
the state, changes rows and emits events. The dispatcher appends the events to the log
in that same transaction, so the change and its record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from session_server.auth.tokens import Actor, Role
from session_server.db import models
from voting import CouncilRules


class CommandError(Exception):
    """Refuse a command: nothing it did is kept, and the client gets a `nack`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SessionArgs(BaseModel):
    """Every session command names the session it acts on."""

    model_config = ConfigDict(extra="forbid", strict=True)

    session: int = Field(gt=0)


ArgsT = TypeVar("ArgsT", bound=SessionArgs)


@dataclass
class Loaded:
    """Rows the batch's transaction has read, kept for its later commands. The session
    lock is held throughout, so only the batch's own commands change them, and they
    change them here too. Rows about deputies are read for all the deputies the batch
    concerns at once (`deputies`): 200 ballots need one read of attendance, not 200."""

    deputies: frozenset[int] = frozenset()
    council: models.Council | None = None
    rules: CouncilRules | None = None
    attendance: dict[int, models.Attendance | None] = field(default_factory=dict)
    votes: dict[int, models.Vote] = field(default_factory=dict)
    # (vote, deputy) -> the named ballot, or None when known to be absent
    named: dict[tuple[int, int], models.NamedBallot | None] = field(default_factory=dict)
    # (vote, deputy) -> has voted in a secret vote
    participants: dict[tuple[int, int], bool] = field(default_factory=dict)
    boxes: dict[int, models.BallotBox] = field(default_factory=dict)

    def wanted(
        self, known: Mapping[Any, Any], deputy_id: int, key: Callable[[int], Any]
    ) -> set[int]:
        """The batch's deputies (and this one) whose rows are not read yet."""
        return {d for d in self.deputies | {deputy_id} if key(d) not in known}


@dataclass
class CommandContext:
    db: AsyncSession
    session: models.Session
    actor: Actor
    now: datetime
    loaded: Loaded = field(default_factory=Loaded)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    async def council(self) -> models.Council:
        if self.loaded.council is None:
            council = await self.db.get(models.Council, self.session.council_id)
            assert council is not None  # a foreign key guarantees it
            self.loaded.council = council
        return self.loaded.council

    async def rules(self) -> CouncilRules:
        if self.loaded.rules is None:
            self.loaded.rules = CouncilRules.model_validate((await self.council()).rules)
        return self.loaded.rules

    async def attendance_of(self, deputy_id: int) -> models.Attendance | None:
        known = self.loaded.attendance
        if deputy_id not in known:
            wanted = self.loaded.wanted(known, deputy_id, lambda d: d)
            rows = await self.db.scalars(
                select(models.Attendance).where(
                    models.Attendance.session_id == self.session.id,
                    models.Attendance.deputy_id.in_(wanted),
                )
            )
            found = {a.deputy_id: a for a in rows}
            for d in wanted:
                known[d] = found.get(d)
        return known[deputy_id]

    async def present(self) -> list[tuple[int, str]]:
        """(deputy, mode) of everyone registered present, by deputy."""
        rows = await self.db.execute(
            select(models.Attendance.deputy_id, models.Attendance.mode)
            .where(models.Attendance.session_id == self.session.id, models.Attendance.present)
            .order_by(models.Attendance.deputy_id)
        )
        return [(d, m) for d, m in rows]


Handler = Callable[[CommandContext, ArgsT], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class CommandSpec(Generic[ArgsT]):
    name: str
    roles: frozenset[Role]
    args: type[ArgsT]
    handler: Handler[ArgsT]
    summary: str
    # The handler refuses (CommandError) only before it changes anything, so it needs no
    # savepoint of its own: two database round trips fewer on the hottest commands.
    checks_first: bool = False


REGISTRY: dict[str, CommandSpec[Any]] = {}


def command(
    name: str, *, roles: set[Role], args: type[ArgsT], checks_first: bool = False
) -> Callable[[Handler[ArgsT]], Handler[ArgsT]]:
    """Register a handler; its docstring is the command's summary in docs/protocol.md."""

    def register(handler: Handler[ArgsT]) -> Handler[ArgsT]:
        if name in REGISTRY:
            raise RuntimeError(f"command {name} registered twice")
        REGISTRY[name] = CommandSpec(
            name, frozenset(roles), args, handler, handler.__doc__ or "", checks_first
        )
        return handler

    return register
