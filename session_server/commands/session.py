"""Opening and closing a sitting."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from session_server.commands.base import CommandContext, CommandError, SessionArgs, command
from session_server.commands.checks import (
    require_no_running_vote,
    require_open,
    require_own_council,
)
from session_server.commands.sections import agenda_section, session_section, speakers_section
from session_server.commands.speakers import close_floor
from session_server.db import models


@command("session.open", roles={"chair"}, args=SessionArgs)
def open_session(ctx: CommandContext, args: SessionArgs) -> dict[str, Any]:
    """Open a scheduled sitting."""
    require_own_council(ctx)
    if ctx.session.state != "scheduled":
        raise CommandError("wrong_state", f"the session is {ctx.session.state}, not scheduled")
    ctx.session.state = "open"
    ctx.session.opened_at = ctx.now
    ctx.emit("session.opened", {"session": session_section(ctx.session)})
    return {"state": "open"}


@command("session.close", roles={"chair"}, args=SessionArgs)
def close_session(ctx: CommandContext, args: SessionArgs) -> dict[str, Any]:
    """Close the sitting: the current item is finished and the floor is closed."""
    require_own_council(ctx)
    require_open(ctx)
    require_no_running_vote(ctx)
    s = ctx.session
    ended = close_floor(ctx)
    finished = s.current_item_id
    if s.current_item_id is not None:
        ctx.db.execute(
            update(models.AgendaItem)
            .where(models.AgendaItem.id == s.current_item_id)
            .values(state="done")
        )
        s.current_item_id = None
    s.state = "closed"
    s.closed_at = ctx.now
    ctx.emit(
        "session.closed",
        {
            "session": session_section(s),
            "agenda": agenda_section(ctx.db, s),
            "speakers": speakers_section(ctx.db, s.id),
            "speeches_ended": ended,
            "finished_item": finished,
        },
    )
    return {"state": "closed"}
