"""Vote protocols as the clerk downloads them: JSON (Popolo vote event) and CSV.

Built from the stored vote, its outcome record and the roster; no I/O here."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from session_server.db import models
from session_server.db.models import iso
from session_server.minutes import choice_label, rule_text
from session_server.published import pairs
from session_server.spreadsheet import SafeWriter

# Popolo's vote-event result words for ours.
_POPOLO_RESULT = {"adopted": "pass", "not_adopted": "fail", "pending_chair": None}
_OPTION_LABEL = {"yes": "yes", "no": "no", "abstain": "abstain"}


@dataclass(frozen=True)
class VoteRecord:
    vote: models.Vote
    session: models.Session
    council: models.Council
    item: models.AgendaItem
    deputies: list[models.Deputy]


def _candidate_names(vote: models.Vote) -> dict[str, str]:
    return {c["id"]: c["name"] for c in vote.motion.get("candidates", [])}


def _label(choice: str | list[str], names: dict[str, str]) -> str:
    """A published choice: an option, or the candidates chosen (none: a blank ballot)."""
    return choice_label(choice, names)


def named_choices(r: VoteRecord) -> list[tuple[models.Deputy, str]]:
    """Every deputy of the roster with their choice in a named vote, or `not voting`
    (eligible, no ballot) or `absent`; empty for a vote without named ballots."""
    v = r.vote
    if not v.ballots or "named" not in v.ballots:
        return []
    names = _candidate_names(v)
    chosen = {deputy: _label(choice, names) for deputy, choice in pairs(v.ballots["named"])}
    not_voted = set((v.outcome or {}).get("not_voted", []))
    return [
        (d, chosen.get(d.id) or ("not voting" if str(d.id) in not_voted else "absent"))
        for d in r.deputies
    ]


def vote_json(r: VoteRecord) -> dict[str, Any]:
    """Our own complete record (GET /api/votes/{id})."""
    v = r.vote
    return {
        "id": v.id,
        "council": {"id": r.council.id, "name": r.council.name},
        "session": {"id": r.session.id, "number": r.session.number, "title": r.session.title},
        "item": {"id": r.item.id, "position": r.item.position, "title": r.item.title},
        "question": v.question,
        "kind": v.kind,
        "rule": v.rule,
        "secret": v.secret,
        "face_check": v.face_check,
        "draft": v.draft is not None,
        "motion": v.motion,
        "state": v.state,
        "opened_at": iso(v.opened_at),
        "closed_at": iso(v.closed_at),
        "cancel_reason": v.cancel_reason,
        "result": v.outcome,
        "ballots": v.ballots,
    }


def popolo(r: VoteRecord) -> dict[str, Any]:
    """A Popolo vote event: motion, counts by option, votes by voter (named votes)."""
    v, outcome = r.vote, r.vote.outcome or {}
    names = _candidate_names(v)
    counts = [
        {"option": names.get(option, _OPTION_LABEL.get(option, option)), "value": value}
        for option, value in (outcome.get("counts") or {}).items()
    ]
    event: dict[str, Any] = {
        "id": f"vote-{v.id}",
        "organization": {"id": f"council-{r.council.id}", "name": r.council.name},
        "legislative_session": {"id": f"session-{r.session.id}", "name": r.session.title},
        "motion": {
            "text": v.question,
            "classification": v.kind,
            "requirement": outcome.get("rule"),
            "agenda_item": r.item.title,
        },
        "start_date": iso(v.opened_at),
        "end_date": iso(v.closed_at),
        "result": _POPOLO_RESULT.get(outcome.get("result", ""), None)
        if v.state != "cancelled"
        else "cancelled",
        "counts": counts,
        "threshold": outcome.get("threshold"),
        "base": {
            "name": (outcome.get("rule") or {}).get("base"),
            "value": outcome.get("base_value"),
        },
        "present": outcome.get("present"),
        "seats": outcome.get("seats"),
        # Not Popolo: which face check each ballot had to pass.
        "face_check": v.face_check,
    }
    if v.ballots and "named" in v.ballots:
        event["votes"] = [
            {"voter": {"id": f"deputy-{d.id}", "name": d.full_name}, "option": choice}
            for d, choice in named_choices(r)
        ]
    elif v.ballots and "receipts" in v.ballots:
        event["receipts"] = [
            {"receipt": receipt, "option": _label(choice, names)}
            for receipt, choice in pairs(v.ballots["receipts"])
        ]
    return event


def protocol_document(r: VoteRecord, url: str | None) -> dict[str, Any]:
    """The protocol's data for its PDF (documents.render_protocol)."""
    v, outcome = r.vote, r.vote.outcome or {}
    names = _candidate_names(v)
    named = receipts = None
    if v.ballots and "named" in v.ballots:
        named = [
            {"seat": d.seat_no, "deputy": d.full_name, "choice": choice}
            for d, choice in named_choices(r)
        ]
    elif v.ballots and "receipts" in v.ballots:
        receipts = [
            {"receipt": receipt, "choice": _label(choice, names)}
            for receipt, choice in pairs(v.ballots["receipts"])
        ]
    return {
        "council": r.council.name,
        "session": {
            "number": r.session.number,
            "title": r.session.title,
            "date": r.session.scheduled_for.isoformat(),
        },
        "item": {"position": r.item.position, "title": r.item.title},
        "question": v.question,
        "kind": v.kind,
        "secret": v.secret,
        "face_check": v.face_check,
        "state": v.state,
        "cancel_reason": v.cancel_reason,
        "opened_at": iso(v.opened_at),
        "closed_at": iso(v.closed_at),
        "rule": rule_text(outcome.get("rule") or v.rule),
        "present": outcome.get("present"),
        "seats": outcome.get("seats"),
        "base_value": outcome.get("base_value"),
        "threshold": outcome.get("threshold"),
        "result": outcome.get("result"),
        "counts": [
            {"option": names.get(option, option), "votes": value}
            for option, value in (outcome.get("counts") or {}).items()
        ],
        "named": named,
        "receipts": receipts,
        "url": url,
    }


def protocol_csv(r: VoteRecord) -> str:
    """The protocol as a spreadsheet: a header block, the counts, then the ballots."""
    v, outcome = r.vote, r.vote.outcome or {}
    names = _candidate_names(v)
    out = io.StringIO()
    w = SafeWriter(out)
    w.writerow(["council", r.council.name])
    w.writerow(["session", f"{r.session.number}. {r.session.title}"])
    w.writerow(["agenda item", f"{r.item.position}. {r.item.title}"])
    w.writerow(["question", v.question])
    w.writerow(["kind", v.kind, "secret" if v.secret else "named"])
    # Which face rule each ballot had to pass (the reglament's when the vote opened).
    w.writerow(["face check per ballot", v.face_check or "none"])
    w.writerow(["opened", iso(v.opened_at)])
    w.writerow(["closed", iso(v.closed_at)])
    w.writerow(["state", v.state, v.cancel_reason or ""])
    rule = outcome.get("rule") or v.rule
    w.writerow(
        [
            "rule",
            f"{'>' if rule.get('strict') else '>='} {rule.get('numerator')}/"
            f"{rule.get('denominator')} of {rule.get('base')} + {rule.get('constant', 0)}",
        ]
    )
    w.writerow(["present / seats", f"{outcome.get('present')} / {outcome.get('seats')}"])
    w.writerow(["base", outcome.get("base_value"), "threshold", outcome.get("threshold")])
    w.writerow(["result", outcome.get("result", "")])
    w.writerow([])
    w.writerow(["option", "votes"])
    for option, value in (outcome.get("counts") or {}).items():
        w.writerow([names.get(option, option), value])
    w.writerow([])
    if v.ballots and "named" in v.ballots:
        w.writerow(["seat", "deputy", "choice"])
        for d, choice in named_choices(r):
            w.writerow([d.seat_no, d.full_name, choice])
    elif v.ballots and "receipts" in v.ballots:
        w.writerow(["receipt", "choice"])
        for receipt, choice in pairs(v.ballots["receipts"]):
            w.writerow([receipt, _label(choice, names)])
    return out.getvalue()
