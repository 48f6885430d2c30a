"""Run one command: check who asks and with what, act in one transaction, answer once.

The answer (ack or nack) is stored under the client's command id in the same
transaction as the effect, so a retry gets the stored answer and never acts twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import insert, select, tuple_
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

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
from session_server.db.engine import Database, unavailable
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent
from session_server.metrics import COMMAND_SECONDS, COMMANDS
from session_server.validation import validation_message

log = structlog.get_logger(__name__)

Published = Callable[[int, list[LoggedEvent]], Awaitable[None]]
# Told of a command acknowledged and committed: (its args, its result).
Acked = Callable[[Any, dict[str, Any]], None]
# What a command id was used for, and the answer given: (command, args digest, answer).
Stored = tuple[str, str | None, dict[str, Any]]
# Takes a command's answer, ack or nack, once.
Reply = Callable[[dict[str, Any]], None]
# (actor, raw args) -> (the args to submit, evidence for the handler); raises
# CommandError to refuse the command before it is queued.
Prepare = Callable[[Actor, Any], Awaitable[tuple[Any, object | None]]]

STORE_ANSWERS = insert(models.CommandResult)


def _answer(reply: Reply, name: str, started: float, answer: dict[str, Any]) -> None:
    outcome = answer["type"] if answer["type"] == "ack" else answer["error"]["code"]
    COMMANDS.labels(name if name in REGISTRY else "unknown", outcome).inc()
    COMMAND_SECONDS.observe(time.perf_counter() - started)
    reply(answer)


def ack(command_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ack", "id": command_id, "result": result}


def nack(command_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {"type": "nack", "id": command_id, "error": {"code": code, "message": message}}


def args_digest(args: SessionArgs) -> str:
    """What a command id is bound to, with the command's name: its checked arguments."""
    canonical = json.dumps(
        args.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _reread_rules(db: DbSession, loaded: Loaded) -> None:
    """The reglament may have changed since an earlier batch read it (`kengash council
    rules`, from another process): one small read, and a new parse only if it did."""
    council = loaded.council
    if council is None:
        return
    raw = db.scalar(select(models.Council.rules).where(models.Council.id == council.id))
    if raw != council.rules:
        db.expire(council, ["rules"])
        loaded.rules = None


@dataclass
class _Pending:
    actor: Actor
    command_id: str
    name: str
    spec: CommandSpec[Any]
    args: SessionArgs
    reply: Reply
    started: float
    digest: str
    # What a step before the dispatcher proved for this one command (a face check).
    evidence: object | None = None
    answer: dict[str, Any] | None = None  # set once, when its transaction has ended
    logged: list[LoggedEvent] = field(default_factory=list)


class Dispatcher:
    """Commands for one session are taken in arrival order by one worker, which runs
    whatever has queued up meanwhile in a single transaction (each command in its own
    savepoint) and commits once: group commit. A burst of 500 ballots costs a few
    commits, not 500, and nobody waits on the database lock behind everybody else.

    On SQLite, a batch stops taking commands once it has run for `BATCH_SECONDS`: it runs
    on the event loop's thread (see db/engine.py), and 200 registrations in one piece
    would hold every socket up for a second. What is left goes first in the next batch.
    On PostgreSQL the loop runs on while a batch waits for the server, so a batch takes
    all that has queued: cut at 4 ms, it held one or two ballots (each waits on a few
    round trips), and 500 ballots in a second queued up for seconds."""

    MAX_BATCH = 200
    BATCH_SECONDS = 0.004

    def __init__(self, db: Database, published: Published) -> None:
        self.db = db
        self._published = published
        self._followers: dict[str, list[Acked]] = {}
        self._queues: dict[int, deque[_Pending]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._kept: dict[int, Loaded] = {}  # per session, between batches (see _loaded)
        self._preparers: dict[str, Prepare] = {}

    def before(self, name: str, prepare: Prepare) -> None:
        """Run `prepare` on a command's arguments before it is submitted (outside any
        transaction): work too slow for a batch, such as a face check, whose evidence
        the handler then finds in its context. Wired by the composition root."""
        if name in self._preparers:
            raise RuntimeError(f"command {name} prepared twice")
        self._preparers[name] = prepare

    def preparer(self, name: str, actor: Actor) -> Prepare | None:
        """The command's preparer, if it has one and `actor` may send it at all: who may
        not is refused by `submit` without any slow work done for them first."""
        spec = REGISTRY.get(name)
        if spec is None or actor.role not in spec.roles:
            return None
        return self._preparers.get(name)

    def after(self, name: str, follow: Acked) -> None:
        """Call `follow` with every acknowledged `name` command once it has committed
        (vote progress follows ballots this way). Wired by the composition root."""
        self._followers.setdefault(name, []).append(follow)

    def submit(
        self,
        actor: Actor,
        command_id: str,
        name: str,
        raw_args: Any,
        reply: Reply,
        evidence: object | None = None,
    ) -> None:
        """Queue a command; `reply` gets its answer after the commit (and after its events
        have gone out to the screens), or at once if it is refused before."""
        started = time.perf_counter()
        spec = REGISTRY.get(name)
        if spec is None:
            unknown = nack(command_id, "unknown_command", f"there is no command {name!r}")
            return _answer(reply, name, started, unknown)
        if actor.role not in spec.roles:
            allowed = ", ".join(sorted(spec.roles))
            return _answer(
                reply, name, started, nack(command_id, "forbidden", f"{name} is for: {allowed}")
            )
        try:
            args = spec.args.model_validate(raw_args)
        except ValidationError as exc:
            return _answer(
                reply,
                name,
                started,
                nack(command_id, "invalid_args", validation_message(exc, "args")),
            )
        pending = _Pending(
            actor, command_id, name, spec, args, reply, started, args_digest(args), evidence
        )
        self._queues.setdefault(args.session, deque()).append(pending)
        if args.session not in self._workers:
            self._workers[args.session] = asyncio.create_task(self._work(args.session))

    async def execute(
        self, actor: Actor, command_id: str, name: str, raw_args: Any
    ) -> dict[str, Any]:
        """`submit` after the command's preparer (if any), awaiting the answer.
        Cancelling the wait leaves the command be: it may share its batch with others."""
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def reply(message: dict[str, Any]) -> None:
            if not answer.done():
                answer.set_result(message)

        evidence = None
        prepare = self.preparer(name, actor)
        if prepare is not None:
            try:
                raw_args, evidence = await prepare(actor, raw_args)
            except CommandError as exc:
                return nack(command_id, exc.code, exc.message)
        self.submit(actor, command_id, name, raw_args, reply, evidence)
        return await answer

    async def _work(self, session_id: int) -> None:
        queue = self._queues[session_id]
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), self.MAX_BATCH))]
                try:
                    taken = await self._run_batch(session_id, batch)
                    queue.extendleft(reversed(batch[taken:]))
                    del batch[taken:]
                except Exception as exc:  # nothing of the batch was committed
                    self._kept.pop(session_id, None)
                    if unavailable(exc):
                        log.warning("command_batch_unavailable", session=session_id, error=str(exc))
                        for one in batch:
                            one.logged = []
                            one.answer = nack(
                                one.command_id, "unavailable", "not done; send it again"
                            )
                    else:
                        # A command id used before (a retry), a row raced in from another
                        # process, or one command that fails for a reason of its own: alone,
                        # each command acts, finds its stored answer, or fails by itself.
                        for one in batch:
                            await self._run_alone(session_id, one)
                await self._finish(session_id, batch)
                # On SQLite a batch does not suspend: let the loop read sockets and send
                # frames before the next one, or a backlog would hold it all along.
                await asyncio.sleep(0)
        finally:
            del self._workers[session_id]
            if not queue:
                del self._queues[session_id]

    async def _run_alone(self, session_id: int, one: _Pending) -> None:
        one.logged = []
        try:
            await self._run_batch(session_id, [one], look_up=True)
        except IntegrityError:
            self._kept.pop(session_id, None)
            try:
                async with self.db.read() as db:
                    prior = await db.get(models.CommandResult, (one.actor.key, one.command_id))
            except Exception:
                prior = None
            if prior is None:
                log.warning("command_conflict", command=one.name, id=one.command_id)
                one.answer = nack(one.command_id, "conflict", "the command collided; send it again")
            else:
                one.answer = self._repeat((prior.command, prior.args_digest, prior.response), one)
        except Exception as exc:
            self._kept.pop(session_id, None)
            if unavailable(exc):
                one.answer = nack(one.command_id, "unavailable", "not done; send it again")
            else:
                # A bug, not the sender's fault: logged with its traceback, answered alone.
                log.exception("command_failed", command=one.name, id=one.command_id)
                one.answer = nack(
                    one.command_id, "internal", "the command failed; nothing was done"
                )

    async def _run_batch(
        self, session_id: int, batch: list[_Pending], look_up: bool = False
    ) -> int:
        """Run the batch, or as much of it as time allows, in one transaction; returns
        how many commands it took. Answers are set only after it commits."""
        answers = await self.db.transact(lambda db: self._transact(db, session_id, batch, look_up))
        for one, answer in zip(batch, answers, strict=False):
            one.answer = answer
        return len(answers)

    def _transact(
        self, db: DbSession, session_id: int, batch: list[_Pending], look_up: bool
    ) -> list[dict[str, Any]]:
        """The batch's commands in order. Stored answers are looked up only after the
        command ids' unique key has refused one (`look_up`): a retry is rare, and the
        look-up would cost every batch a statement."""
        loaded = self._loaded(session_id, batch)
        session = loaded.session
        if session is not None:
            _reread_rules(db, loaded)
        if session is None:
            # The council comes with the lock: one round trip fewer for every batch on
            # PostgreSQL, where nothing is kept between batches.
            found = db.execute(
                select(models.Session, models.Council)
                .join(models.Council, models.Council.id == models.Session.council_id)
                .where(models.Session.id == session_id)
                .with_for_update(of=models.Session)
            ).one_or_none()
            if found is not None:
                session, loaded.council = found
                loaded.session = session
        if session is None:
            return [
                nack(one.command_id, "not_found", f"there is no session {session_id}")
                for one in batch
            ]
        deadline = time.perf_counter() + self.BATCH_SECONDS if self.db.single_writer else math.inf
        answers: list[dict[str, Any]] = []
        # Under the session lock: a concurrent retry elsewhere has committed by now.
        stored = self._stored(db, batch) if look_up else {}
        records: list[dict[str, Any]] = []
        connection = db.connection()
        for one in batch:
            key = (one.actor.key, one.command_id)
            prior = stored.get(key)
            if prior is not None:
                answers.append(self._repeat(prior, one))
            else:
                answer, loaded = self._run_one(db, connection, session, loaded, one)
                answers.append(answer)
                records.append(
                    {
                        "actor": key[0],
                        "command_id": key[1],
                        "command": one.name,
                        "args_digest": one.digest,
                        "response": answer,
                    }
                )
                # The same id twice in one batch: one answer.
                stored[key] = (one.name, one.digest, answer)
            if time.perf_counter() > deadline:
                break
        if records:
            connection.execute(STORE_ANSWERS, records)
        self._keep(session_id, loaded)  # dropped again if the commit fails
        return answers

    def _loaded(self, session_id: int, batch: list[_Pending]) -> Loaded:
        """What earlier batches read, where that is still good, set to this batch's deputies.

        With one writing process (SQLite) rows read in one batch stay true for the next:
        every change to a session goes through this dispatcher, in the same database
        session (db/engine.py), which expires them if a transaction is rolled back. With
        several processes (PostgreSQL), each batch reads afresh."""
        deputies = {one.actor.deputy_id for one in batch if one.actor.deputy_id is not None}
        deputies |= {d for one in batch if (d := one.args.deputy_named()) is not None}
        kept = self._kept.get(session_id)
        if kept is None:
            return Loaded(deputies=frozenset(deputies), whole=self.db.single_writer)
        kept.deputies = frozenset(deputies)
        return kept

    def _keep(self, session_id: int, loaded: Loaded) -> None:
        if self.db.single_writer:
            self._kept[session_id] = loaded

    @staticmethod
    def _stored(db: DbSession, batch: list[_Pending]) -> dict[tuple[str, str], Stored]:
        """(actor, command id) -> (command, answer) already stored for ids in the batch.
        Bookkeeping in Core on the connection: a fifth of the ORM's cost per statement."""
        result = models.CommandResult
        rows = db.connection().execute(
            select(
                result.actor, result.command_id, result.command, result.args_digest, result.response
            ).where(
                tuple_(result.actor, result.command_id).in_(
                    [(one.actor.key, one.command_id) for one in batch]
                )
            )
        )
        return {
            (actor, cid): (name, digest, response) for actor, cid, name, digest, response in rows
        }

    @staticmethod
    def _repeat(prior: Stored, one: _Pending) -> dict[str, Any]:
        """The stored answer for a retry; `id_reused` for the same id with anything else.
        (Answers stored before digests were kept are bound to the command's name only.)"""
        name, digest, response = prior
        if name != one.name:
            return nack(one.command_id, "id_reused", f"id {one.command_id} was used for {name}")
        if digest is not None and digest != one.digest:
            return nack(
                one.command_id, "id_reused", f"id {one.command_id} was used with other arguments"
            )
        return response

    @staticmethod
    def _run_one(
        db: DbSession,
        connection: DbConnection,
        session: models.Session,
        loaded: Loaded,
        one: _Pending,
    ) -> tuple[dict[str, Any], Loaded]:
        """Run one command; returns its answer and what later commands may reuse."""
        now = utcnow()
        ctx = CommandContext(db, connection, session, one.actor, now, loaded, one.evidence)
        try:
            if one.spec.checks_first:
                result = one.spec.handler(ctx, one.args)
            else:
                with db.begin_nested():
                    result = one.spec.handler(ctx, one.args)
            one.logged = eventlog.append(db, session, ctx.events, now)
        except CommandError as exc:
            one.logged = []
            # The savepoint's rollback undid what the handler had changed, and rows it
            # added to `loaded` are gone: later commands read afresh.
            fresh = loaded if one.spec.checks_first else loaded.after_rollback()
            return nack(one.command_id, exc.code, exc.message), fresh
        if one.logged:
            result = {**result, "seq": one.logged[-1][0]}
        return ack(one.command_id, result), loaded

    async def _finish(self, session_id: int, batch: list[_Pending]) -> None:
        """Events out first, then the answers: a client that reads an ack with a seq
        already has that event."""
        logged = [event for one in batch for event in one.logged]
        if logged:
            await asyncio.sleep(0)  # the same between the commit and the fan-out
            await self._published(session_id, logged)
        for one in batch:
            answer = one.answer
            assert answer is not None  # every path through _work sets it
            if answer["type"] == "ack":
                for follow in self._followers.get(one.name, ()):
                    follow(one.args, answer["result"])
            log.info(
                "command",
                command=one.name,
                id=one.command_id,
                actor=one.actor.key if one.spec.log_actor else None,
                answer=answer["type"],
            )
            _answer(one.reply, one.name, one.started, answer)
