"""Preconditions shared by the handlers; each raises a CommandError with a code."""

from __future__ import annotations

from sqlalchemy import select

from session_server.commands.base import CommandContext, CommandError
from session_server.db import models


def require_open(ctx: CommandContext) -> None:
    if ctx.session.state != "open":
        raise CommandError("wrong_state", f"the session is {ctx.session.state}, not open")


def require_own_council(ctx: CommandContext) -> None:
    """Staff and deputies act only in their own council's sessions; admins anywhere."""
    if ctx.actor.role in ("admin", "system"):
        return
    if ctx.actor.council_id != ctx.session.council_id:
        raise CommandError("forbidden", "this session belongs to another council")


def require_no_running_vote(ctx: CommandContext) -> None:
    running = ctx.db.scalar(
        select(models.Vote.id).where(
            models.Vote.session_id == ctx.session.id,
            models.Vote.state.in_(("open", "pending_chair")),
        )
    )
    if running is not None:
        raise CommandError("vote_running", f"vote {running} is still running; close it first")


def deputy_of_council(ctx: CommandContext, deputy_id: int) -> models.Deputy:
    deputy = ctx.db.get(models.Deputy, deputy_id)
    if deputy is None or deputy.council_id != ctx.session.council_id:
        raise CommandError("not_found", f"deputy {deputy_id} is not a deputy of this council")
    return deputy


def acting_deputy(ctx: CommandContext) -> int:
    """The deputy the sender acts as; where the reglament wants Face ID at sign-in, only
    after the sign-in passed it."""
    if ctx.actor.deputy_id is None:
        raise CommandError("forbidden", "only a deputy may do this")
    if ctx.rules().face_signin == "required" and not ctx.actor.face_verified:
        raise CommandError(
            "face_signin_required", "confirm who you are with Face ID before taking part"
        )
    return ctx.actor.deputy_id


def is_present(ctx: CommandContext, deputy_id: int) -> bool:
    row = ctx.attendance_of(deputy_id)
    return row is not None and row.present
