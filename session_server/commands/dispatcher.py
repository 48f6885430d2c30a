"""Run one command: check who asks and with what, act in one transaction, answer once.

The answer (ack or nack) is stored under the client's command id in the same
transaction as the effect, so a retry gets the stored answer and never acts twice."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import inspect, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from session_server import eventlog
from session_server.auth.tokens import Actor
from session_server.commands import REGISTRY
from session_server.commands.base import (
    CommandContext,
    CommandError,
    CommandSpec,
    Loaded,
    SessionArgs,
)
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent
from session_server.metrics import COMMAND_SECONDS, COMMANDS
from session_server.validation import validation_message

log = structlog.get_logger(__name__)

Published = Callable[[int, list[LoggedEvent]], Awaitable[None]]
# Told of every command acknowledged and committed: (command name, its args, its result).
Acked = Callable[[str, Any, dict[str, Any]], None]


def ack(command_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ack", "id": command_id, "result": result}


def nack(command_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {"type": "nack", "id": command_id, "error": {"code": code, "message": message}}


@dataclass
class _Pending:
    actor: Actor
    command_id: str
    name: str
    spec: CommandSpec[Any]
    args: SessionArgs
    answer: asyncio.Future[dict[str, Any]]
    logged: list[LoggedEvent] = field(default_factory=list)


class Dispatcher:
    """Commands for one session are taken in arrival order by one worker, which runs
    whatever has queued up meanwhile in a single transaction (each command in its own
    savepoint) and commits once: group commit. A burst of 500 ballots costs a few
    commits, not 500, and nobody waits on the database lock behind everybody else."""

    MAX_BATCH = 200

    def __init__(self, db: Database, published: Published, acked: Acked | None = None) -> None:
        self.db = db
        self._published = published
        self._acked = acked
        self._queues: dict[int, deque[_Pending]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}

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
            return nack(command_id, "invalid_args", validation_message(exc, "args"))
        pending = _Pending(
            actor, command_id, name, spec, args, asyncio.get_running_loop().create_future()
        )
        self._queues.setdefault(args.session, deque()).append(pending)
        if args.session not in self._workers:
            self._workers[args.session] = asyncio.create_task(self._work(args.session))
        # shield: a client that goes away must not cancel a batch shared with others.
        return await asyncio.shield(pending.answer)

    async def _work(self, session_id: int) -> None:
        queue = self._queues[session_id]
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), self.MAX_BATCH))]
                try:
                    await self._run_batch(session_id, batch)
                except IntegrityError:
                    # A command id raced in on another process. Alone, each command
                    # either acts or finds the answer the other process stored.
                    for one in batch:
                        await self._run_alone(session_id, one)
                except Exception:  # the database is down, say: nothing was committed
                    log.exception("command_batch_failed", session=session_id, size=len(batch))
                    for one in batch:
                        one.logged = []
                        if not one.answer.done():
                            one.answer.set_result(
                                nack(one.command_id, "unavailable", "not done; send it again")
                            )
                await self._finish(session_id, batch)
        finally:
            del self._workers[session_id]
            if not queue:
                del self._queues[session_id]

    async def _run_alone(self, session_id: int, one: _Pending) -> None:
        one.logged = []
        try:
            await self._run_batch(session_id, [one])
        except IntegrityError:
            async with self.db.read() as db:
                prior = await db.get(models.CommandResult, (one.actor.key, one.command_id))
            if prior is None:
                log.exception("command_conflict", command=one.name, id=one.command_id)
                one.answer.set_result(
                    nack(one.command_id, "conflict", "the command collided; send it again")
                )
            else:
                one.answer.set_result(self._repeat(prior, one))

    async def _run_batch(self, session_id: int, batch: list[_Pending]) -> None:
        """Run the batch in one transaction. Answers are set only after it commits."""
        answers: list[dict[str, Any]] = []
        async with self.db.write() as db:
            session = await db.scalar(
                select(models.Session).where(models.Session.id == session_id).with_for_update()
            )
            if session is None:
                for one in batch:
                    answers.append(
                        nack(one.command_id, "not_found", f"there is no session {session_id}")
                    )
            else:
                # Under the session lock: a concurrent retry elsewhere has committed by now.
                stored = await self._stored(db, batch)
                loaded = self._fresh(batch)
                for one in batch:
                    key = (one.actor.key, one.command_id)
                    prior = stored.get(key)
                    if prior is not None:
                        answers.append(self._repeat(prior, one))
                        continue
                    answer, loaded = await self._run_one(db, session, loaded, one)
                    answers.append(answer)
                    record = models.CommandResult(
                        actor=one.actor.key,
                        command_id=one.command_id,
                        command=one.name,
                        response=answer,
                    )
                    db.add(record)
                    stored[key] = record  # the same id twice in one batch: one answer
        for one, answer in zip(batch, answers, strict=True):
            if not one.answer.done():
                one.answer.set_result(answer)

    @staticmethod
    def _fresh(batch: list[_Pending]) -> Loaded:
        deputies = {one.actor.deputy_id for one in batch if one.actor.deputy_id is not None}
        deputies |= {d for one in batch if isinstance(d := getattr(one.args, "deputy", None), int)}
        return Loaded(deputies=frozenset(deputies))

    async def _stored(
        self, db: AsyncSession, batch: list[_Pending]
    ) -> dict[tuple[str, str], models.CommandResult]:
        rows = await db.scalars(
            select(models.CommandResult).where(
                tuple_(models.CommandResult.actor, models.CommandResult.command_id).in_(
                    [(one.actor.key, one.command_id) for one in batch]
                )
            )
        )
        return {(r.actor, r.command_id): r for r in rows}

    @staticmethod
    def _repeat(prior: models.CommandResult, one: _Pending) -> dict[str, Any]:
        if prior.command != one.name:
            return nack(
                one.command_id, "id_reused", f"id {one.command_id} was used for {prior.command}"
            )
        return prior.response

    async def _run_one(
        self, db: AsyncSession, session: models.Session, loaded: Loaded, one: _Pending
    ) -> tuple[dict[str, Any], Loaded]:
        """Run one command; returns its answer and what later commands may reuse."""
        now = utcnow()
        ctx = CommandContext(db=db, session=session, actor=one.actor, now=now, loaded=loaded)
        try:
            if one.spec.checks_first:
                result = await one.spec.handler(ctx, one.args)
            else:
                async with db.begin_nested():
                    result = await one.spec.handler(ctx, one.args)
            one.logged = eventlog.append(db, session, ctx.events, now)
        except CommandError as exc:
            one.logged = []
            if one.spec.checks_first:
                return nack(one.command_id, exc.code, exc.message), loaded
            # The savepoint's rollback expired what the handler had changed; reload it
            # now, since an async session cannot load lazily when the next command reads.
            for obj in list(db.identity_map.values()):
                if inspect(obj).expired_attributes:
                    await db.refresh(obj)
            return nack(one.command_id, exc.code, exc.message), Loaded(loaded.deputies)
        if one.logged:
            result = {**result, "seq": one.logged[-1][0]}
        return ack(one.command_id, result), loaded

    async def _finish(self, session_id: int, batch: list[_Pending]) -> None:
        logged = [event for one in batch for event in one.logged]
        if logged:
            await self._published(session_id, logged)
        for one in batch:
            answer = one.answer.result()
            if self._acked is not None and answer["type"] == "ack":
                self._acked(one.name, one.args, answer["result"])
            log.info(
                "command",
                command=one.name,
                id=one.command_id,
                actor=one.actor.key,
                answer=answer["type"],
            )
