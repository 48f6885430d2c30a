"""What a command is: its name, who may send it, its arguments, and its handler.

A handler runs inside one database transaction with the session row locked; it checks
the state, changes rows and emits events. The dispatcher appends the events to the log
in that same transaction, so the change and its record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from session_server.auth.tokens import Actor, Role
from session_server.db import models


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
class CommandContext:
    db: AsyncSession
    session: models.Session
    actor: Actor
    now: datetime
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _council: models.Council | None = None

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((kind, payload))

    async def council(self) -> models.Council:
        if self._council is None:
            council = await self.db.get(models.Council, self.session.council_id)
            assert council is not None  # a foreign key guarantees it
            self._council = council
        return self._council


Handler = Callable[[CommandContext, ArgsT], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class CommandSpec(Generic[ArgsT]):
    name: str
    roles: frozenset[Role]
    args: type[ArgsT]
    handler: Handler[ArgsT]
    summary: str


REGISTRY: dict[str, CommandSpec[Any]] = {}


def command(
    name: str, *, roles: set[Role], args: type[ArgsT]
) -> Callable[[Handler[ArgsT]], Handler[ArgsT]]:
    """Register a handler; its docstring is the command's summary in docs/protocol.md."""

    def register(handler: Handler[ArgsT]) -> Handler[ArgsT]:
        if name in REGISTRY:
            raise RuntimeError(f"command {name} registered twice")
        REGISTRY[name] = CommandSpec(name, frozenset(roles), args, handler, handler.__doc__ or "")
        return handler

    return register
