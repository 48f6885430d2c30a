"""The minutes of a sitting, read from its event log: who registered and left when,
which items were taken up from when to when, who spoke from when to when, each vote
with its rule, counts, outcome and named lists, and the decisions adopted. Pure: the
events and the rows that name things (deputies, items) in, the document's data out.

Only facts are read (an event's `deputy` and `present`, the speeches it ended, the
vote it closed), never the difference between two states. Speakers' topics are notes
to the chair and stay out of the minutes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from session_server.db import models
from session_server.eventlog import LoggedEvent
from session_server.published import pairs


def rule_text(rule: Mapping[str, Any]) -> str:
    """A majority rule as people write it: `> 1/2 of present + 0`."""
    relation = ">" if rule.get("strict") else ">="
    constant = rule.get("constant", 0)
    text = f"{relation} {rule.get('numerator')}/{rule.get('denominator')} of {rule.get('base')}"
    return f"{text} + {constant}" if constant else text


def choice_label(choice: Any, candidates: Mapping[str, str]) -> str:
    if isinstance(choice, str):
        return choice
    return "; ".join(candidates.get(c, c) for c in choice) or "blank"


def counts_of(vote: Mapping[str, Any]) -> list[dict[str, Any]]:
    names = {c["id"]: c["name"] for c in (vote.get("motion") or {}).get("candidates", [])}
    counts = (vote.get("result") or {}).get("counts") or {}
    return [{"option": names.get(o, o), "votes": n} for o, n in counts.items()]


def named_list(
    vote: Mapping[str, Any], deputies: Mapping[int, models.Deputy]
) -> list[dict[str, Any]] | None:
    ballots = vote.get("ballots") or {}
    if "named" not in ballots:
        return None
    names = {c["id"]: c["name"] for c in (vote.get("motion") or {}).get("candidates", [])}
    rows = []
    for deputy_id, choice in pairs(ballots["named"]):
        deputy = deputies.get(int(deputy_id))
        rows.append(
            {
                "seat": deputy.seat_no if deputy else None,
                "deputy": deputy.full_name if deputy else f"#{deputy_id}",
                "choice": choice_label(choice, names),
            }
        )
    return sorted(rows, key=lambda r: (r["seat"] is None, r["seat"] or 0, r["deputy"]))


def minutes(
    council: models.Council,
    sitting: models.Session,
    deputies: Iterable[models.Deputy],
    items: Iterable[models.AgendaItem],
    events: list[LoggedEvent],
) -> dict[str, Any]:
    roster = {d.id: d for d in deputies}
    agenda: dict[int | None, dict[str, Any]] = {
        i.id: {
            "position": i.position,
            "title": i.title,
            "started_at": None,
            "ended_at": None,
            "speakers": [],
            "votes": [],
            "decisions": [],
        }
        for i in sorted(items, key=lambda i: i.position)
    }
    periods: dict[int, list[dict[str, Any]]] = {}
    votes: dict[int, dict[str, Any]] = {}  # the last word on each vote, by id

    def speeches(event: Mapping[str, Any]) -> None:
        for s in event.get("speeches_ended") or []:
            item = agenda.get(s.get("item"))
            if item is None:
                continue
            deputy = roster.get(s["deputy"])
            item["speakers"].append(
                {
                    "deputy": deputy.full_name if deputy else f"#{s['deputy']}",
                    "topic": "",
                    "from": s["from"],
                    "to": s["to"],
                    "seconds": _seconds(s["from"], s["to"]),
                }
            )

    for _, event in events:
        kind, at = event["kind"], event["at"]
        speeches(event)
        if kind == "attendance.changed" and "deputy" in event:
            mine = periods.setdefault(event["deputy"], [])
            if mine and mine[-1]["to"] is None:
                mine[-1]["to"] = at
            if event.get("present"):
                mine.append({"from": at, "to": None, "mode": event.get("mode", "chamber")})
        elif kind == "agenda.item_started":
            if event.get("previous") in agenda:
                agenda[event["previous"]]["ended_at"] = at
            if event.get("item") in agenda:
                agenda[event["item"]]["started_at"] = at
        elif kind == "session.closed":
            if event.get("finished_item") in agenda:
                agenda[event["finished_item"]]["ended_at"] = at
            for mine in periods.values():
                if mine and mine[-1]["to"] is None:
                    mine[-1]["to"] = at
        elif kind in ("vote.closed", "vote.cancelled"):
            votes[event["vote"]["id"]] = event["vote"]
        elif kind == "decision.adopted":
            d = event["decision"]
            if d.get("item") in agenda:
                agenda[d["item"]]["decisions"].append({"number": d["number"], "title": d["title"]})

    for vote in sorted(votes.values(), key=lambda v: v["id"]):
        item = agenda.get(vote.get("item"))
        if item is None:
            continue
        result = vote.get("result") or {}
        item["votes"].append(
            {
                "question": vote["question"],
                "kind": vote["kind"],
                "secret": vote["secret"],
                "rule": rule_text(result.get("rule") or vote.get("rule") or {}),
                "opened_at": vote.get("opened_at"),
                "closed_at": vote.get("closed_at"),
                "state": vote["state"],
                "result": result.get("result"),
                "present": result.get("present"),
                "counts": counts_of(vote),
                "named": named_list(vote, roster),
                "cancel_reason": vote.get("cancel_reason"),
            }
        )

    present = [
        {
            "seat": d.seat_no,
            "deputy": d.full_name,
            "periods": periods[d.id],
        }
        for d in sorted(roster.values(), key=lambda d: d.seat_no)
        if periods.get(d.id)
    ]
    absent = [
        d.full_name
        for d in sorted(roster.values(), key=lambda d: d.seat_no)
        if not periods.get(d.id)
    ]
    return {
        "council": council.name,
        "session": {
            "number": sitting.number,
            "title": sitting.title,
            "date": sitting.scheduled_for.isoformat(),
            "opened_at": models.iso(sitting.opened_at),
            "closed_at": models.iso(sitting.closed_at),
            "state": sitting.state,
        },
        "attendance": {
            "seats": (council.rules or {}).get("seats", len(roster)),
            "deputies": present,
            "absent": absent,
        },
        "agenda": list(agenda.values()),
    }


def _seconds(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    finish = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max(0, round((finish - begin).total_seconds()))
