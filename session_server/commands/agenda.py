"""Moving through the agenda."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from session_server.commands.base import CommandContext, CommandError, SessionArgs, command
from session_server.commands.checks import (
    require_no_running_vote,
    require_open,
    require_own_council,
)
from session_server.commands.sections import agenda_section, speakers_section
from session_server.commands.speakers import close_floor
from session_server.db import models
from session_server.validation import RowId


class StartItemArgs(SessionArgs):
    item: RowId


@command("agenda.start_item", roles={"chair"}, args=StartItemArgs)
def start_item(ctx: CommandContext, args: StartItemArgs) -> dict[str, Any]:
    """Take up an agenda item; the previous one is finished and its speakers list closed."""
    require_own_council(ctx)
    require_open(ctx)
    require_no_running_vote(ctx)
    s = ctx.session
    item = ctx.db.get(models.AgendaItem, args.item)
    if item is None or item.session_id != s.id:
        raise CommandError("not_found", f"item {args.item} is not on this session's agenda")
    if s.current_item_id == item.id:
        raise CommandError("wrong_state", "this item is already under consideration")
    previous = s.current_item_id
    if previous is not None:
        ctx.db.execute(
            update(models.AgendaItem).where(models.AgendaItem.id == previous).values(state="done")
        )
    ended = close_floor(ctx)
    item.state = "current"
    s.current_item_id = item.id
    ctx.db.flush()
    ctx.emit(
        "agenda.item_started",
        {
            "item": item.id,
            "previous": previous,
            "agenda": agenda_section(ctx.db, s),
            "speakers": speakers_section(ctx.db, s.id),
            "speeches_ended": ended,
        },
    )
    return {"item": item.id}
