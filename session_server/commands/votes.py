"""Votes: the chair opens, deputies cast, the chair (or the timer) closes or cancels.

Named votes keep one row per deputy. Secret votes keep "who has voted" and "what was
chosen" apart: `vote_participants` (unique per deputy) and `secret_ballots`, one row per
ballot keyed by the receipt code the tablet drew, with no column that points at a
deputy. docs/protocol.md ("What a secret vote keeps secret") says exactly what that
hides and from whom: not from someone who can read the database's history."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import String, bindparam, delete, func, insert, select, update

from session_server.commands.base import CommandContext, CommandError, SessionArgs, command
from session_server.commands.checks import (
    acting_deputy,
    is_present,
    require_no_running_vote,
    require_open,
    require_own_council,
)
from session_server.db import models
from session_server.db.models import iso
from session_server.published import by_choice
from session_server.validation import RowId
from voting import (
    Ballot,
    BallotError,
    CouncilRules,
    Majority,
    Motion,
    quorum_status,
    tally,
    validate_ballot,
)

# Ballots are written in Core, on the connection: the hottest writes there are, and the
# ORM's unit of work would cost more than the inserts themselves.
NEW_BALLOT = insert(models.NamedBallot)
NEW_PARTICIPANT = insert(models.VoteParticipant)
NEW_SECRET_BALLOT = insert(models.SecretBallot)
CHANGE_SECRET_BALLOT = (
    update(models.SecretBallot)
    .where(
        models.SecretBallot.vote_id == bindparam("ballot_vote"),
        models.SecretBallot.receipt == bindparam("ballot_receipt"),
    )
    .values(choice=bindparam("new_choice"))
)
CHANGE_BALLOT = (
    update(models.NamedBallot)
    .where(
        models.NamedBallot.vote_id == bindparam("ballot_vote"),
        models.NamedBallot.deputy_id == bindparam("ballot_deputy"),
    )
    .values(choice=bindparam("new_choice"))
)

# Receipt codes: 16 characters of Crockford base32 (80 random bits) from the tablet.
RECEIPT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{16}$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
CandidateName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class OpenArgs(SessionArgs):
    # A vote on the item's draft decision may leave the question out: the draft's title.
    question: Text | None = None
    # The item's draft decision as a whole: adopted, it becomes a decision.
    draft: bool = False
    kind: Annotated[str, Field(min_length=1, max_length=64)]
    # None: as the vote kind says (an election kind may be secret by the reglament).
    secret: bool | None = None
    # No candidates: yes / no / abstain. Candidates: an election, choose up to max_choices.
    candidates: list[CandidateName] = Field(default_factory=list, max_length=100)
    max_choices: int = Field(default=1, ge=1, le=100)
    # None: the reglament's default timer; 0: no timer.
    timer_seconds: int | None = Field(default=None, ge=0, le=24 * 3600)


class VoteArgs(SessionArgs):
    vote: RowId


class CastArgs(VoteArgs):
    choice: str | list[str]
    receipt: str | None = None


# A face check proves who is at the tablet for this long: the frame (or the live
# challenge) is at most this old when the ballot is counted.
FACE_PROOF_SECONDS = 30


@dataclass(frozen=True)
class BallotFace:
    """What the face check before a ballot proved (faceid/ballots.py, outside any
    transaction): this deputy's face, for this vote, in a frame received at
    `received_at`. It travels with that one command only, so it is used once."""

    deputy_id: int
    vote_id: int
    check: str  # match | live
    received_at: datetime


def _require_face(ctx: CommandContext, vote: models.Vote, deputy_id: int) -> None:
    """The ballot counts only with the face check its vote opened with."""
    proof = ctx.evidence
    if vote.face_check is None:
        if proof is not None:
            raise CommandError("face_not_needed", "this vote asks for no face check")
        return
    if not isinstance(proof, BallotFace) or proof.check != vote.face_check:
        what = "a camera frame" if vote.face_check == "match" else "the live face check"
        raise CommandError("face_check_required", f"this vote needs {what} with the ballot")
    if proof.deputy_id != deputy_id or proof.vote_id != vote.id:
        raise CommandError("face_check_required", "the face check was for another ballot")
    if ctx.now - proof.received_at > timedelta(seconds=FACE_PROOF_SECONDS):
        raise CommandError("face_check_expired", "the face check is too old; vote again")


class CancelArgs(VoteArgs):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


class DecideTieArgs(VoteArgs):
    decision: Literal["yes", "no"]


def motion_of(vote: models.Vote) -> Motion:
    candidates = [c["id"] for c in vote.motion.get("candidates", [])]
    if not candidates:
        return Motion.yes_no()
    return Motion.election(candidates, vote.motion["max_choices"])


Choice = str | tuple[str, ...]


def _choice_of(stored: dict[str, Any]) -> Choice:
    """As published: an option ("yes") or the candidates chosen (["c1", "c3"])."""
    return stored["option"] if "option" in stored else tuple(stored["candidates"])


def _stored_choice(choice: str | frozenset[str]) -> dict[str, Any]:
    return {"option": choice} if isinstance(choice, str) else {"candidates": sorted(choice)}


def _vote(ctx: CommandContext, vote_id: int) -> models.Vote:
    vote = ctx.loaded.votes.get(vote_id) or ctx.db.get(models.Vote, vote_id)
    if vote is None or vote.session_id != ctx.session.id:
        raise CommandError("not_found", f"there is no vote {vote_id} in this session")
    ctx.loaded.votes[vote_id] = vote
    return vote


def _has_voted(ctx: CommandContext, vote: models.Vote, deputy_id: int) -> bool:
    table = models.VoteParticipant if vote.secret else models.NamedBallot

    def read(deputies: set[int] | None) -> dict[int, bool]:
        query = select(table.deputy_id).where(table.vote_id == vote.id)
        if deputies is not None:
            query = query.where(table.deputy_id.in_(deputies))
        return dict.fromkeys(ctx.db.scalars(query), True)

    return ctx.loaded.about(
        deputy_id, ctx.loaded.voted, lambda d: (vote.id, d), ("voted", vote.id), read, False
    )


def _receipts(ctx: CommandContext, vote: models.Vote) -> set[str]:
    """The receipt codes in a secret vote's box, read once per batch (or kept)."""
    receipts = ctx.loaded.receipts.get(vote.id)
    if receipts is None:
        receipts = ctx.loaded.receipts[vote.id] = set(
            ctx.connection.scalars(
                select(models.SecretBallot.receipt).where(models.SecretBallot.vote_id == vote.id)
            )
        )
    return receipts


def _voters(ctx: CommandContext, vote: models.Vote) -> list[int]:
    table = models.VoteParticipant if vote.secret else models.NamedBallot
    rows = ctx.db.scalars(
        select(table.deputy_id).where(table.vote_id == vote.id).order_by(table.deputy_id)
    )
    return list(rows)


def _voted(ctx: CommandContext, vote: models.Vote) -> int:
    table = models.VoteParticipant if vote.secret else models.NamedBallot
    count = ctx.db.scalar(select(func.count()).where(table.vote_id == vote.id))
    return int(count or 0)


def vote_section(vote: models.Vote, voted: int) -> dict[str, Any]:
    """The vote as screens show it. Before close: how many have voted, never what.

    Not who: every ballot sends this to every screen, and a list of voters would make
    each progress event grow with the vote (a tablet asks GET /api/votes/{id}/mine)."""
    return {
        "id": vote.id,
        "item": vote.agenda_item_id,
        "question": vote.question,
        "kind": vote.kind,
        "rule": vote.rule,
        "secret": vote.secret,
        "motion": vote.motion,
        "state": vote.state,
        "opened_at": iso(vote.opened_at),
        "closes_at": iso(vote.closes_at),
        "closed_at": iso(vote.closed_at),
        "voted": voted,
        "cancel_reason": vote.cancel_reason,
        "face_check": vote.face_check,
        "draft": vote.draft is not None,
        "result": vote.outcome,
        "ballots": vote.ballots,
    }


def votes_section(ctx: CommandContext) -> list[dict[str, Any]]:
    """Every vote of the sitting, newest last, in short."""
    votes = ctx.db.scalars(
        select(models.Vote).where(models.Vote.session_id == ctx.session.id).order_by(models.Vote.id)
    )
    return [
        {
            "id": v.id,
            "item": v.agenda_item_id,
            "question": v.question,
            "kind": v.kind,
            "secret": v.secret,
            "face_check": v.face_check,
            "state": v.state,
            "result": v.outcome["result"] if v.outcome else None,
            "counts": v.outcome["counts"] if v.outcome else None,
        }
        for v in votes
    ]


def _emit_vote(
    ctx: CommandContext, kind: str, vote: models.Vote, voted: int | None = None, **extra: Any
) -> None:
    """`voted`: how many have voted, where the caller has just counted them."""
    ctx.db.flush()
    if voted is None:
        voted = _voted(ctx, vote)
    vote.reported_voted = voted
    ctx.emit(kind, {"vote": vote_section(vote, voted), "votes": votes_section(ctx), **extra})


@command("vote.open", roles={"chair"}, args=OpenArgs)
def open_vote(ctx: CommandContext, args: OpenArgs) -> dict[str, Any]:
    """Put a question to the vote on the current agenda item."""
    require_own_council(ctx)
    require_open(ctx)
    if ctx.session.current_item_id is None:
        raise CommandError("wrong_state", "start an agenda item before opening a vote")
    rules = ctx.rules()
    kind = rules.vote_kinds.get(args.kind)
    if kind is None:
        known = ", ".join(sorted(rules.vote_kinds))
        raise CommandError(
            "unknown_kind", f"the reglament has no vote kind {args.kind!r} ({known})"
        )
    require_no_running_vote(ctx)
    quorum = quorum_status(len(ctx.present()), rules)
    if not quorum.met:
        raise CommandError(
            "no_quorum",
            f"no quorum: {quorum.present} present, {quorum.needed} of {quorum.seats} needed",
        )
    if len(set(args.candidates)) != len(args.candidates):
        raise CommandError("invalid_args", "candidates must be different")
    if args.candidates and args.max_choices > len(args.candidates):
        raise CommandError("invalid_args", "max_choices exceeds the number of candidates")
    if not args.candidates and args.max_choices != 1:
        raise CommandError("invalid_args", "max_choices is for elections")
    draft = None
    if args.draft:
        item = ctx.db.get(models.AgendaItem, ctx.session.current_item_id)
        if item is None or not item.draft_title or not item.draft_text:
            raise CommandError("no_draft", "this agenda item has no draft decision")
        if args.candidates:
            raise CommandError("invalid_args", "a draft decision is voted yes / no / abstain")
        draft = {"title": item.draft_title, "text": item.draft_text}
    question = args.question or (draft["title"] if draft else None)
    if question is None:
        raise CommandError("invalid_args", "question: a vote needs its question")
    timer = rules.timer_seconds if args.timer_seconds is None else args.timer_seconds
    vote = models.Vote(
        session_id=ctx.session.id,
        agenda_item_id=ctx.session.current_item_id,
        question=question,
        kind=args.kind,
        rule=kind.model_dump(mode="json"),
        secret=kind.secret if args.secret is None else args.secret,
        motion={
            "candidates": [{"id": f"c{i}", "name": n} for i, n in enumerate(args.candidates, 1)],
            "max_choices": args.max_choices,
        },
        state="open",
        opened_at=ctx.now,
        closes_at=ctx.now + timedelta(seconds=timer) if timer else None,
        face_check=rules.face_check_per_ballot or None,
        draft=draft,
    )
    ctx.db.add(vote)
    ctx.db.flush()
    ctx.loaded.votes[vote.id] = vote
    if vote.secret:
        ctx.loaded.receipts[vote.id] = set()
    _emit_vote(ctx, "vote.opened", vote)
    return {"vote": vote.id, "secret": vote.secret, "closes_at": iso(vote.closes_at)}


@command("vote.cast", roles={"deputy", "chair"}, args=CastArgs, checks_first=True, log_actor=False)
def cast(ctx: CommandContext, args: CastArgs) -> dict[str, Any]:
    """Cast (or, where the reglament allows, change) one's ballot."""
    require_own_council(ctx)
    deputy_id = acting_deputy(ctx)
    vote = _vote(ctx, args.vote)
    if vote.state != "open":
        raise CommandError("vote_closed", f"the vote is {vote.state}; the ballot was not counted")
    if not vote.secret and args.receipt is not None:
        raise CommandError("invalid_args", "receipt: a named vote's ballot takes no receipt")
    _require_face(ctx, vote, deputy_id)
    rules = ctx.rules()
    if not is_present(ctx, deputy_id):
        raise CommandError("not_present", "register your attendance before voting")
    raw = args.choice if isinstance(args.choice, str) else tuple(args.choice)
    try:
        choice = validate_ballot(motion_of(vote), Ballot(str(deputy_id), raw))
    except BallotError as exc:
        raise CommandError(exc.code, exc.message) from exc
    stored = _stored_choice(choice)
    # No event per ballot: with thousands of screens that would be thousands of frames per
    # ballot. The hub reports progress a few times a second instead (vote.report).
    if vote.secret:
        _cast_secret(ctx, vote, deputy_id, stored, args.receipt, rules)
        return {"vote": vote.id, "counted": True}
    _cast_named(ctx, vote, deputy_id, stored, rules)
    return {"vote": vote.id, "counted": True, "choice": stored}


@command("vote.report", roles={"system"}, args=VoteArgs, checks_first=True)
def report_progress(ctx: CommandContext, args: VoteArgs) -> dict[str, Any]:
    """Tell everyone how many have voted, if that changed since the last report."""
    vote = _vote(ctx, args.vote)
    if vote.state != "open":
        return {"vote": vote.id, "reported": False}
    voted = _voted(ctx, vote)
    if voted == vote.reported_voted:
        return {"vote": vote.id, "reported": False}
    vote.reported_voted = voted
    ctx.emit("vote.progress", {"vote": vote_section(vote, voted)})
    return {"vote": vote.id, "reported": True}


def _cast_named(
    ctx: CommandContext,
    vote: models.Vote,
    deputy_id: int,
    stored: dict[str, Any],
    rules: CouncilRules,
) -> None:
    if _has_voted(ctx, vote, deputy_id):
        if not rules.ballot_changes_until_close:
            raise CommandError("already_voted", "your ballot is cast and may not be changed")
        ctx.connection.execute(
            CHANGE_BALLOT,
            {"ballot_vote": vote.id, "ballot_deputy": deputy_id, "new_choice": stored},
        )
        return
    # The unique key (vote, deputy) stands behind this check: a ballot raced in from
    # another process fails the commit, and the command is run again alone.
    ctx.connection.execute(
        NEW_BALLOT, {"vote_id": vote.id, "deputy_id": deputy_id, "choice": stored}
    )
    ctx.loaded.voted[(vote.id, deputy_id)] = True


def _cast_secret(
    ctx: CommandContext,
    vote: models.Vote,
    deputy_id: int,
    stored: dict[str, Any],
    receipt: str | None,
    rules: CouncilRules,
) -> None:
    if receipt is None or not RECEIPT.match(receipt):
        raise CommandError("invalid_args", "a secret ballot needs the tablet's receipt code")
    receipts = _receipts(ctx, vote)
    if _has_voted(ctx, vote, deputy_id):
        if not rules.ballot_changes_until_close:
            raise CommandError("already_voted", "your ballot is cast and may not be changed")
        if receipt not in receipts:
            raise CommandError("unknown_receipt", "to change your ballot, use your receipt code")
        ctx.connection.execute(
            CHANGE_SECRET_BALLOT,
            {"ballot_vote": vote.id, "ballot_receipt": receipt, "new_choice": stored},
        )
        return
    if receipt in receipts:
        raise CommandError("receipt_taken", "draw a new receipt code and cast again")
    # Both unique keys stand behind these checks, as for a named ballot.
    ctx.connection.execute(NEW_PARTICIPANT, {"vote_id": vote.id, "deputy_id": deputy_id})
    ctx.connection.execute(
        NEW_SECRET_BALLOT, {"vote_id": vote.id, "receipt": receipt, "choice": stored}
    )
    ctx.loaded.voted[(vote.id, deputy_id)] = True
    receipts.add(receipt)


def _ballots(ctx: CommandContext, key: Any, vote: models.Vote) -> list[tuple[Any, Choice]]:
    """(deputy or receipt, choice) of every ballot, in key order. Core columns, not ORM
    objects, and each distinct choice decoded once, not 2,000 times: the ballots are read
    while every screen waits for the result."""
    table = key.class_
    rows = ctx.connection.execute(
        select(key, table.choice.cast(String)).where(table.vote_id == vote.id).order_by(key)
    ).all()
    decoded: dict[str, Choice] = {}
    out = []
    for owner, text in rows:
        choice = decoded.get(text)
        if choice is None:
            choice = decoded[text] = _choice_of(json.loads(text))
        out.append((owner, choice))
    return out


def _rewrite_box(ctx: CommandContext, vote: models.Vote) -> None:
    """Write a secret vote's ballots again, in receipt order, when it stops taking them.

    PostgreSQL keeps a table's rows in the order they were written, and so would a dump
    of it: written again in one transaction, the live rows say nothing of the cast order.
    (SQLite keeps `secret_ballots` in key order already.) Old row versions stay until
    VACUUM; docs/protocol.md says what that leaves to the database's operator."""
    if not vote.secret or ctx.connection.dialect.name == "sqlite":
        return
    table = models.SecretBallot
    rows = ctx.connection.execute(
        select(table.receipt, table.choice).where(table.vote_id == vote.id).order_by(table.receipt)
    ).all()
    ctx.connection.execute(delete(table).where(table.vote_id == vote.id))
    if rows:
        ctx.connection.execute(
            NEW_SECRET_BALLOT,
            [{"vote_id": vote.id, "receipt": r, "choice": c} for r, c in rows],
        )


def _eligible(ctx: CommandContext, voters: list[int]) -> set[int]:
    """Who may vote at close: deputies present, and anyone who voted and then left."""
    return {deputy for deputy, _ in ctx.present()} | set(voters)


def count_vote(
    ctx: CommandContext, vote: models.Vote, chair_decision: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the outcome record, the ballots to publish)."""
    rules = ctx.rules()
    motion = motion_of(vote)
    extra: dict[str, Any]
    if vote.secret:
        voters = _voters(ctx, vote)
        secret = _ballots(ctx, models.SecretBallot.receipt, vote)
        if len(secret) != len(voters):
            raise CommandError("internal", "the ballot box does not match the participants")
        # Counting needs no pairing: any one-to-one assignment gives the same counts.
        ballots = [Ballot(str(d), c) for d, (_, c) in zip(voters, secret, strict=True)]
        extra = {"receipts": by_choice(secret)}
    else:
        named = _ballots(ctx, models.NamedBallot.deputy_id, vote)
        voters = [deputy for deputy, _ in named]
        ballots = [Ballot(str(deputy), choice) for deputy, choice in named]
        extra = {"named": by_choice(named)}
    eligible = _eligible(ctx, voters)
    outcome = tally(
        motion,
        Majority.model_validate({k: v for k, v in vote.rule.items() if k != "secret"}),
        rules,
        {str(d) for d in eligible},
        len(eligible),
        ballots,
        chair_decision,
    )
    record = outcome.to_dict()
    record["kind"] = vote.kind
    return record, extra


def _finish(ctx: CommandContext, vote: models.Vote, chair_decision: str | None) -> dict[str, Any]:
    record, published = count_vote(ctx, vote, chair_decision)
    vote.outcome, vote.ballots = record, published
    vote.state = "pending_chair" if record["result"] == "pending_chair" else "closed"
    vote.closed_at = ctx.now
    _emit_vote(ctx, "vote.closed", vote, voted=record["cast"])
    return {"vote": vote.id, "result": record["result"]}


@command("vote.close", roles={"chair", "system"}, args=VoteArgs)
def close_vote(ctx: CommandContext, args: VoteArgs) -> dict[str, Any]:
    """Close the vote and publish the result (the timer sends this too)."""
    require_own_council(ctx)
    vote = _vote(ctx, args.vote)
    if vote.state != "open":
        raise CommandError("wrong_state", f"the vote is {vote.state}")
    _rewrite_box(ctx, vote)
    return _finish(ctx, vote, None)


@command("vote.decide_tie", roles={"chair"}, args=DecideTieArgs)
def decide_tie(ctx: CommandContext, args: DecideTieArgs) -> dict[str, Any]:
    """Break a tie by the chair's casting vote, where the reglament says so."""
    require_own_council(ctx)
    vote = _vote(ctx, args.vote)
    if vote.state != "pending_chair":
        raise CommandError("wrong_state", "this vote awaits no casting vote")
    return _finish(ctx, vote, args.decision)


@command("vote.cancel", roles={"chair"}, args=CancelArgs)
def cancel_vote(ctx: CommandContext, args: CancelArgs) -> dict[str, Any]:
    """Cancel a running vote, for a reason kept in the log; its ballots are never counted."""
    require_own_council(ctx)
    vote = _vote(ctx, args.vote)
    if vote.state not in ("open", "pending_chair"):
        raise CommandError("wrong_state", f"the vote is {vote.state}")
    if vote.state == "open":
        _rewrite_box(ctx, vote)
    vote.state, vote.cancel_reason, vote.closed_at = "cancelled", args.reason, ctx.now
    _emit_vote(ctx, "vote.cancelled", vote, reason=args.reason)
    return {"vote": vote.id, "state": "cancelled"}
