"""Run one command: check who asks and with what, act in one transaction, answer once.

The answer (ack or nack) is stored under the client's command id in the same
transaction as the effect, so a retry gets the stored answer and never acts twice."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from session_server import eventlog
from session_server.auth.tokens import Actor
from session_server.commands import REGISTRY
from session_server.commands.base import CommandContext, CommandError
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent
from session_server.metrics import COMMAND_SECONDS, COMMANDS

log = structlog.get_logger(__name__)

Published = Callable[[int, list[LoggedEvent]], Awaitable[None]]
# Told of every command acknowledged and committed: (command name, its args, its result).
Acked = Callable[[str, Any, dict[str, Any]], None]


def ack(command_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ack", "id": command_id, "result": result}


def nack(command_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {"type": "nack", "id": command_id, "error": {"code": code, "message": message}}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "args"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class Dispatcher:
    def __init__(self, db: Database, published: Published, acked: Acked | None = None) -> None:
        self.db = db
        self._published = published
        self._acked = acked

    async def execute(
        self, actor: Actor, command_id: str, name: str, raw_args: Any
    ) -> dict[str, Any]:
        started = time.perf_counter()
        answer = await self._execute(actor, command_id, name, raw_args)
        outcome = answer["type"] if answer["type"] == "ack" else answer["error"]["code"]
        COMMANDS.labels(name if name in REGISTRY else "unknown", outcome).inc()
        COMMAND_SECONDS.observe(time.perf_counter() - started)
        return answer

    async def _execute(
        self, actor: Actor, command_id: str, name: str, raw_args: Any
    ) -> dict[str, Any]:
        spec = REGISTRY.get(name)
        if spec is None:
            return nack(command_id, "unknown_command", f"there is no command {name!r}")
        if actor.role not in spec.roles:
            allowed = ", ".join(sorted(spec.roles))
            return nack(command_id, "forbidden", f"{name} is for: {allowed}")
        try:
            args = spec.args.model_validate(raw_args)
        except ValidationError as exc:
            return nack(command_id, "invalid_args", _validation_message(exc))

        logged: list[LoggedEvent] = []
        try:
            async with self.db.write() as db:
                session = await db.scalar(
                    select(models.Session)
                    .where(models.Session.id == args.session)
                    .with_for_update()
                )
                if session is None:
                    return nack(command_id, "not_found", f"there is no session {args.session}")
                # Checked under the session lock: a concurrent retry has committed by now.
                prior = await db.get(models.CommandResult, (actor.key, command_id))
                if prior is not None:
                    if prior.command != name:
                        return nack(
                            command_id, "id_reused", f"id {command_id} was used for {prior.command}"
                        )
                    return prior.response
                now = utcnow()
                ctx = CommandContext(db=db, session=session, actor=actor, now=now)
                try:
                    async with db.begin_nested():
                        result = await spec.handler(ctx, args)
                        logged = eventlog.append(db, session, ctx.events, now)
                        if logged:
                            result = {**result, "seq": logged[-1][0]}
                        answer = ack(command_id, result)
                except CommandError as exc:
                    logged = []
                    answer = nack(command_id, exc.code, exc.message)
                db.add(
                    models.CommandResult(
                        actor=actor.key, command_id=command_id, command=name, response=answer
                    )
                )
        except IntegrityError:
            # The same id raced in on another process; its answer is the answer.
            async with self.db.read() as db:
                prior = await db.get(models.CommandResult, (actor.key, command_id))
            if prior is None:
                log.exception("command_conflict", command=name, id=command_id)
                return nack(command_id, "conflict", "the command collided; send it again")
            return prior.response
        if logged:
            await self._published(args.session, logged)
        if self._acked is not None and answer["type"] == "ack":
            self._acked(name, args, answer["result"])
        log.info("command", command=name, id=command_id, actor=actor.key, answer=answer["type"])
        return answer
