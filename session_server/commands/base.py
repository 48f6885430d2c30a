"""What a command is: its name, who may send it, its arguments, and its handler.

A handler runs inside one database transaction with the session row locked; it checks
the state, changes rows and emits events. The dispatcher appends the events to the log
in that same transaction, so the change and its record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.orm import Session as DbSession

from session_server.auth.tokens import Actor, Role
from session_server.db import models
from session_server.validation import RowId
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

    session: RowId

    def deputy_named(self) -> int | None:
        """The deputy the command acts on, when not the sender (read ahead by the batch)."""
        return None


ArgsT = TypeVar("ArgsT", bound=SessionArgs)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class Loaded:
    """Rows the batch's transaction has read, kept for its later commands. The session
    lock is held throughout, so only the batch's own commands change them, and they
    change them here too. Rows about deputies are read for all the deputies the batch
    concerns at once (`deputies`): 200 ballots need one read of attendance, not 200.
    When kept between batches (`whole`), a table's rows for the sitting are read whole,
    once, and later batches read nothing."""

    deputies: frozenset[int] = frozenset()
    whole: bool = False
    read_whole: set[Hashable] = field(default_factory=set)
    session: models.Session | None = None
    council: models.Council | None = None
    rules: CouncilRules | None = None
    attendance: dict[int, models.Attendance | None] = field(default_factory=dict)
    votes: dict[int, models.Vote] = field(default_factory=dict)
    # (vote, deputy) -> has voted (a named ballot, or a secret vote's participant)
    voted: dict[tuple[int, int], bool] = field(default_factory=dict)
    # vote -> the receipt codes in its secret ballot box
    receipts: dict[int, set[str]] = field(default_factory=dict)

    def after_rollback(self) -> Loaded:
        """A savepoint rolled back: keep only the rows it cannot have added."""
        return Loaded(
            self.deputies, self.whole, session=self.session, council=self.council, rules=self.rules
        )

    def about(
        self,
        deputy_id: int,
        known: dict[K, V],
        key: Callable[[int], K],
        table: Hashable,
        read: Callable[[set[int] | None], Mapping[int, V]],
        absent: V,
    ) -> V:
        """`known[key(deputy_id)]`, read first if need be: `read(deputies)` gives the rows
        of those deputies (of all, for None) in `table`, by deputy."""
        wanted_key = key(deputy_id)
        if wanted_key in known:
            return known[wanted_key]
        if table in self.read_whole:
            return absent
        if self.whole:
            for d, row in read(None).items():
                known.setdefault(key(d), row)
            self.read_whole.add(table)
            return known.get(wanted_key, absent)
        wanted = {d for d in self.deputies | {deputy_id} if key(d) not in known}
        found = read(wanted)
        for d in wanted:
            known[key(d)] = found.get(d, absent)
        return known[wanted_key]


@dataclass
class CommandContext:
    db: DbSession
    # The transaction's connection, for Core statements on the hottest paths.
    connection: DbConnection
    session: models.Session
    actor: Actor
    now: datetime
    loaded: Loaded = field(default_factory=Loaded)
    # What a step before the dispatcher proved for this command (Dispatcher.before).
    evidence: object | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    def council(self) -> models.Council:
        if self.loaded.council is None:
            council = self.db.get(models.Council, self.session.council_id)
            assert council is not None  # a foreign key guarantees it
            self.loaded.council = council
        return self.loaded.council

    def rules(self) -> CouncilRules:
        if self.loaded.rules is None:
            self.loaded.rules = CouncilRules.model_validate((self.council()).rules)
        return self.loaded.rules

    def attendance_of(self, deputy_id: int) -> models.Attendance | None:
        def read(deputies: set[int] | None) -> dict[int, models.Attendance | None]:
            query = select(models.Attendance).where(models.Attendance.session_id == self.session.id)
            if deputies is not None:
                query = query.where(models.Attendance.deputy_id.in_(deputies))
            return {a.deputy_id: a for a in self.db.scalars(query)}

        return self.loaded.about(
            deputy_id, self.loaded.attendance, lambda d: d, "attendance", read, None
        )

    def present(self) -> list[tuple[int, str]]:
        """(deputy, mode) of everyone registered present, by deputy."""
        self.db.flush()  # Core does not autoflush: attendance changed in this batch counts
        rows = self.connection.execute(
            select(models.Attendance.deputy_id, models.Attendance.mode)
            .where(models.Attendance.session_id == self.session.id, models.Attendance.present)
            .order_by(models.Attendance.deputy_id)
        ).all()
        return [(d, m) for d, m in rows]


Handler = Callable[[CommandContext, ArgsT], dict[str, Any]]


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
    # Whose command it was is left out of the log line: a secret ballot's sender, in cast
    # order, is what someone holding the logs and the database's history would pair up.
    log_actor: bool = True


REGISTRY: dict[str, CommandSpec[Any]] = {}


def command(
    name: str,
    *,
    roles: set[Role],
    args: type[ArgsT],
    checks_first: bool = False,
    log_actor: bool = True,
) -> Callable[[Handler[ArgsT]], Handler[ArgsT]]:
    """Register a handler; its docstring is the command's summary in docs/protocol.md."""

    def register(handler: Handler[ArgsT]) -> Handler[ArgsT]:
        if name in REGISTRY:
            raise RuntimeError(f"command {name} registered twice")
        REGISTRY[name] = CommandSpec(
            name, frozenset(roles), args, handler, handler.__doc__ or "", checks_first, log_actor
        )
        return handler

    return register
