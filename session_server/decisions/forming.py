"""Forming decisions: a reaction to committed events. A vote on a draft that closes
adopted gets its decision at once, by the server's own `decision.adopt`; at start, any
adopted draft left without one (the process stopped in between) gets it then."""

from __future__ import annotations

import structlog
from sqlalchemy import select

from session_server.auth.tokens import SYSTEM
from session_server.commands.dispatcher import Dispatcher
from session_server.db import models
from session_server.db.engine import Database
from session_server.eventlog import LoggedEvent

log = structlog.get_logger(__name__)


class DecisionForming:
    def __init__(self, db: Database, dispatcher: Dispatcher) -> None:
        self.db = db
        self.dispatcher = dispatcher

    async def reaction(self, session_id: int, events: list[LoggedEvent]) -> None:
        for _, event in events:
            vote = event.get("vote") if event["kind"] == "vote.closed" else None
            if vote and vote.get("draft") and (vote.get("result") or {}).get("result") == "adopted":
                await self.form(session_id, vote["id"])

    async def form(self, session_id: int, vote_id: int) -> None:
        answer = await self.dispatcher.execute(
            SYSTEM,
            f"decision:{vote_id}",
            "decision.adopt",
            {"session": session_id, "vote": vote_id},
        )
        if answer["type"] != "ack":
            log.warning("decision_not_formed", vote=vote_id, error=answer["error"])

    async def catch_up(self) -> None:
        async with self.db.read() as db:
            rows = (
                await db.execute(
                    select(models.Vote.session_id, models.Vote.id)
                    .outerjoin(models.Decision, models.Decision.vote_id == models.Vote.id)
                    .where(
                        models.Vote.draft.is_not(None),
                        models.Vote.state == "closed",
                        models.Decision.id.is_(None),
                    )
                )
            ).all()
        for session_id, vote_id in rows:
            async with self.db.read() as db:
                vote = await db.get(models.Vote, vote_id)
            if vote and vote.outcome and vote.outcome.get("result") == "adopted":
                await self.form(session_id, vote_id)
