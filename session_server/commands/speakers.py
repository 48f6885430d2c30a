"""The floor: requests, the chair granting and ending, the speaker's time."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import select

from session_server.commands.base import CommandContext, CommandError, SessionArgs, command
from session_server.commands.checks import (
    acting_deputy,
    deputy_of_council,
    is_present,
    require_open,
    require_own_council,
)
from session_server.commands.sections import speakers_section
from session_server.db import models
from session_server.db.models import iso
from session_server.validation import RowId

DEFAULT_SPEECH_SECONDS = 180


class RequestArgs(SessionArgs):
    topic: str = Field(default="", max_length=300)


class GrantArgs(SessionArgs):
    # Without a deputy, the floor goes to the first in the queue.
    deputy: RowId | None = None
    seconds: int = Field(default=DEFAULT_SPEECH_SECONDS, ge=10, le=3600)

    def deputy_named(self) -> int | None:
        return self.deputy


def _open_requests(ctx: CommandContext) -> list[models.SpeakerRequest]:
    rows = ctx.db.scalars(
        select(models.SpeakerRequest)
        .where(
            models.SpeakerRequest.session_id == ctx.session.id,
            models.SpeakerRequest.state.in_(("waiting", "speaking")),
        )
        .order_by(models.SpeakerRequest.requested_at, models.SpeakerRequest.id)
    )
    return list(rows)


def speech(r: models.SpeakerRequest) -> dict[str, Any]:
    """A speech as a fact, once it has ended: who spoke, on what, from when to when."""
    return {
        "request": r.id,
        "deputy": r.deputy_id,
        "item": r.agenda_item_id,
        "topic": r.topic,
        "from": iso(r.granted_at),
        "to": iso(r.ended_at),
    }


def close_floor(ctx: CommandContext) -> list[dict[str, Any]]:
    """End the speech under way and the waiting requests (the item or the sitting is
    over); the speech ended, as a fact for the event."""
    ended = []
    for r in _open_requests(ctx):
        r.ended_at = ctx.now
        if r.state == "speaking":
            r.state = "done"
            ended.append(speech(r))
        else:
            r.state = "done"
    return ended


def _emit(
    ctx: CommandContext,
    action: str,
    r: models.SpeakerRequest,
    ended: list[dict[str, Any]] | None = None,
    **more: Any,
) -> None:
    """`speakers.changed`: what happened on the `floor` (with any speech it ended) and
    the list as it now stands."""
    ctx.db.flush()
    change = {"action": action, "request": r.id, "deputy": r.deputy_id, **more}
    ctx.emit(
        "speakers.changed",
        {
            "floor": change,
            "speeches_ended": ended or [],
            "speakers": speakers_section(ctx.db, ctx.session.id),
        },
    )


@command("speaker.request", roles={"deputy"}, args=RequestArgs)
def request_floor(ctx: CommandContext, args: RequestArgs) -> dict[str, Any]:
    """Ask for the floor on the current item."""
    require_own_council(ctx)
    require_open(ctx)
    deputy_id = acting_deputy(ctx)
    if not is_present(ctx, deputy_id):
        raise CommandError("not_present", "register your attendance before asking for the floor")
    if any(r.deputy_id == deputy_id for r in _open_requests(ctx)):
        raise CommandError("already_requested", "you are already on the speakers list")
    row = models.SpeakerRequest(
        session_id=ctx.session.id,
        agenda_item_id=ctx.session.current_item_id,
        deputy_id=deputy_id,
        topic=args.topic.strip(),
        requested_at=ctx.now,
    )
    ctx.db.add(row)
    _emit(ctx, "requested", row, topic=row.topic)
    return {"request": row.id}


@command("speaker.withdraw", roles={"deputy"}, args=SessionArgs)
def withdraw(ctx: CommandContext, args: SessionArgs) -> dict[str, Any]:
    """Take back one's own request for the floor."""
    require_own_council(ctx)
    require_open(ctx)
    deputy_id = acting_deputy(ctx)
    mine = [r for r in _open_requests(ctx) if r.deputy_id == deputy_id]
    if not mine or mine[0].state != "waiting":
        raise CommandError("not_found", "you have no waiting request for the floor")
    mine[0].state, mine[0].ended_at = "withdrawn", ctx.now
    _emit(ctx, "withdrawn", mine[0])
    return {"request": mine[0].id}


@command("speaker.grant", roles={"chair"}, args=GrantArgs)
def grant(ctx: CommandContext, args: GrantArgs) -> dict[str, Any]:
    """Give the floor, for a limited time; whoever was speaking is ended."""
    require_own_council(ctx)
    require_open(ctx)
    requests = _open_requests(ctx)
    waiting = [r for r in requests if r.state == "waiting"]
    if args.deputy is None:
        if not waiting:
            raise CommandError("empty_queue", "nobody is waiting for the floor")
        chosen = waiting[0]
    else:
        deputy_of_council(ctx, args.deputy)
        found = next((r for r in waiting if r.deputy_id == args.deputy), None)
        if found is None:
            # The chair may give the floor to someone not in the queue (a rapporteur).
            found = models.SpeakerRequest(
                session_id=ctx.session.id,
                agenda_item_id=ctx.session.current_item_id,
                deputy_id=args.deputy,
                requested_at=ctx.now,
            )
            ctx.db.add(found)
        chosen = found
    ended = []
    for r in requests:
        if r.state == "speaking":
            r.state, r.ended_at = "done", ctx.now
            ended.append(speech(r))
    chosen.state, chosen.granted_at, chosen.limit_seconds = "speaking", ctx.now, args.seconds
    ctx.db.flush()
    _emit(ctx, "granted", chosen, ended, seconds=args.seconds, topic=chosen.topic)
    return {"deputy": chosen.deputy_id, "seconds": args.seconds}


@command("speaker.end", roles={"chair"}, args=SessionArgs)
def end(ctx: CommandContext, args: SessionArgs) -> dict[str, Any]:
    """End the current speech."""
    require_own_council(ctx)
    require_open(ctx)
    speaking = [r for r in _open_requests(ctx) if r.state == "speaking"]
    if not speaking:
        raise CommandError("wrong_state", "nobody has the floor")
    speaking[0].state, speaking[0].ended_at = "done", ctx.now
    _emit(ctx, "ended", speaking[0], [speech(speaking[0])])
    return {"deputy": speaking[0].deputy_id}
