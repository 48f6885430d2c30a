"""Registering presence: what the quorum counts."""

from __future__ import annotations

from typing import Any, Literal

from session_server.commands.base import CommandContext, CommandError, SessionArgs, command
from session_server.commands.checks import (
    acting_deputy,
    deputy_of_council,
    require_own_council,
)
from session_server.commands.sections import attendance_section
from session_server.db import models
from session_server.validation import RowId


class RegisterArgs(SessionArgs):
    present: bool = True
    mode: Literal["chamber", "remote"] = "chamber"
    # The secretariat may register a deputy by hand (a tablet that failed, say).
    deputy: RowId | None = None

    def deputy_named(self) -> int | None:
        return self.deputy


@command(
    "attendance.register",
    roles={"deputy", "chair", "secretary"},
    args=RegisterArgs,
    checks_first=True,
)
def register(ctx: CommandContext, args: RegisterArgs) -> dict[str, Any]:
    """Register a deputy present (or leaving) for this sitting."""
    require_own_council(ctx)
    if ctx.session.state == "closed":
        raise CommandError("wrong_state", "the session is closed")
    if args.deputy is None:
        deputy_id = acting_deputy(ctx)
    elif ctx.actor.role == "secretary" or args.deputy == ctx.actor.deputy_id:
        deputy_id = args.deputy
    else:
        raise CommandError("forbidden", "only the secretariat registers another deputy")
    deputy_of_council(ctx, deputy_id)

    row = ctx.attendance_of(deputy_id)
    if row is not None and row.present == args.present and row.mode == args.mode:
        return {"deputy": deputy_id, "present": args.present, "changed": False}
    if row is None:
        row = models.Attendance(session_id=ctx.session.id, deputy_id=deputy_id)
        ctx.loaded.attendance[deputy_id] = row
        ctx.db.add(row)
    row.present, row.mode, row.changed_at = args.present, args.mode, ctx.now
    attendance = attendance_section(ctx.present(), ctx.rules())
    ctx.emit(
        "attendance.changed",
        {
            "attendance": attendance,
            "deputy": deputy_id,
            "present": args.present,
            "mode": args.mode,
        },
    )
    return {"deputy": deputy_id, "present": args.present, "changed": True}
