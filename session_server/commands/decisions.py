"""Decisions: formed when a vote on a draft is adopted, then signed by the chair.

`decision.adopt` is the server's own command, sent by the reaction to a closed vote
(decisions/forming.py) and again at start for any adopted draft left without its
decision: it is idempotent, one decision per vote. `decision.sign` takes the chair's
detached PKCS#7, checked before the command is queued (decisions/signing.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import extract, func, select

from session_server.commands.base import CommandContext, CommandError, SessionArgs, command
from session_server.commands.checks import require_own_council
from session_server.db import models
from session_server.db.models import iso
from session_server.decisions.search import search_text
from session_server.validation import RowId
from voting import decision_number

# A PKCS#7 from E-IMZO is a few kilobytes; the certificate chain at most a few more.
MAX_PKCS7_CHARS = 64 * 1024


class AdoptArgs(SessionArgs):
    vote: RowId


class SignArgs(SessionArgs):
    decision: RowId
    # The detached signature, base64 (checked by the preparer, which drops it from the
    # arguments the handler sees and hands over what it proved instead).
    pkcs7: str = Field(default="", max_length=MAX_PKCS7_CHARS)


@dataclass(frozen=True)
class ChairSignature:
    """What the preparer proved: a good signature over this decision's bytes."""

    decision_id: int
    pkcs7: bytes
    signer_pinfl: str | None
    signer_name: str
    serial: str
    signed_at: datetime


def decision_section(
    d: models.Decision, signature: models.DecisionSignature | None
) -> dict[str, Any]:
    """A decision as screens show it: the text is left to GET /api/decisions/{id}."""
    return {
        "id": d.id,
        "number": d.number,
        "title": d.title,
        "council": d.council_id,
        "session": d.session_id,
        "item": d.agenda_item_id,
        "vote": d.vote_id,
        "adopted_on": d.adopted_on.isoformat(),
        "adopted_at": iso(d.adopted_at),
        "state": "signed" if signature else "adopted",
        "signed_by": signature.signer_name if signature else None,
        "signed_at": iso(signature.signed_at) if signature else None,
    }


@command("decision.adopt", roles={"system"}, args=AdoptArgs)
def adopt(ctx: CommandContext, args: AdoptArgs) -> dict[str, Any]:
    """Form the decision an adopted draft makes: its number, by the council's pattern."""
    vote = ctx.db.get(models.Vote, args.vote)
    if vote is None or vote.session_id != ctx.session.id:
        raise CommandError("not_found", f"there is no vote {args.vote} in this session")
    if vote.draft is None:
        raise CommandError("not_a_draft", "the vote was not on a draft decision")
    if vote.state != "closed" or not vote.outcome or vote.outcome.get("result") != "adopted":
        raise CommandError("not_adopted", "the draft was not adopted")
    existing = ctx.db.scalar(select(models.Decision).where(models.Decision.vote_id == vote.id))
    if existing is not None:
        return {"decision": existing.id, "number": existing.number, "formed": False}
    s = ctx.session
    year = s.scheduled_for.year
    last = ctx.db.scalar(
        select(func.max(models.Decision.running)).where(
            models.Decision.council_id == s.council_id,
            extract("year", models.Decision.adopted_on) == year,
        )
    )
    running = (last or 0) + 1
    number = decision_number(ctx.rules().decision_number, session=s.number, n=running, year=year)
    decision = models.Decision(
        council_id=s.council_id,
        session_id=s.id,
        agenda_item_id=vote.agenda_item_id,
        vote_id=vote.id,
        number=number,
        running=running,
        title=vote.draft["title"],
        text=vote.draft["text"],
        adopted_on=s.scheduled_for,
        adopted_at=vote.closed_at or ctx.now,
        search_text=search_text(number, vote.draft["title"], vote.draft["text"]),
    )
    ctx.db.add(decision)
    ctx.db.flush()
    ctx.emit("decision.adopted", {"decision": decision_section(decision, None)})
    return {"decision": decision.id, "number": number, "formed": True}


@command("decision.sign", roles={"chair"}, args=SignArgs)
def sign(ctx: CommandContext, args: SignArgs) -> dict[str, Any]:
    """Keep the chair's signature of a decision of this sitting."""
    require_own_council(ctx)
    decision = ctx.db.get(models.Decision, args.decision)
    if decision is None or decision.session_id != ctx.session.id:
        raise CommandError("not_found", f"there is no decision {args.decision} of this sitting")
    if ctx.db.get(models.DecisionSignature, decision.id) is not None:
        raise CommandError("already_signed", "the decision is signed already")
    proof = ctx.evidence
    if not isinstance(proof, ChairSignature) or proof.decision_id != decision.id:
        raise CommandError("bad_signature", "the signature was not checked for this decision")
    chair = ctx.db.get(models.Deputy, ctx.actor.deputy_id) if ctx.actor.deputy_id else None
    if chair is None or proof.signer_pinfl is None or proof.signer_pinfl != chair.pinfl:
        raise CommandError("not_the_chair", "the signature is not the chair's own")
    signature = models.DecisionSignature(
        decision_id=decision.id,
        pkcs7=proof.pkcs7,
        signer_name=proof.signer_name,
        serial=proof.serial,
        signed_at=proof.signed_at,
        signed_by=ctx.actor.user_id,
    )
    ctx.db.add(signature)
    ctx.db.flush()
    ctx.emit("decision.signed", {"decision": decision_section(decision, signature)})
    return {"decision": decision.id, "signed": True}
