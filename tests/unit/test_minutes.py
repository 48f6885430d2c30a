"""The minutes read facts from the event log: who registered and left when, which item
was taken up when, who spoke from when to when, each vote and the decisions."""

from __future__ import annotations

from datetime import date
from typing import Any

from session_server import minutes
from session_server.db import models

COUNCIL = models.Council(id=1, name="Yunusobod tumani Kengashi", region="", rules={"seats": 3})
SITTING = models.Session(
    id=1,
    council_id=1,
    number=4,
    title="Navbatdagi sessiya",
    scheduled_for=date(2026, 12, 1),
    state="closed",
    last_seq=0,
)
DEPUTIES = [
    models.Deputy(id=10, council_id=1, full_name="Qodirova Munisa", pinfl="1", seat_no=1),
    models.Deputy(id=11, council_id=1, full_name="Ўринов Ғайрат", pinfl="2", seat_no=2),
    models.Deputy(id=12, council_id=1, full_name="Saidov Jamshid", pinfl="3", seat_no=3),
]
ITEMS = [
    models.AgendaItem(id=100, session_id=1, position=1, title="Budjet toʻgʻrisida"),
    models.AgendaItem(id=101, session_id=1, position=2, title="Turli masalalar"),
]


def event(seq: int, kind: str, at: str, **payload: Any) -> tuple[int, dict[str, Any]]:
    return seq, {"kind": kind, "at": f"2026-12-01T{at}Z", **payload}


def speech(deputy: int, item: int, start: str, end: str) -> dict[str, Any]:
    return {
        "request": 1,
        "deputy": deputy,
        "item": item,
        "topic": "secret note",
        "from": f"2026-12-01T{start}Z",
        "to": f"2026-12-01T{end}Z",
    }


VOTE = {
    "id": 7,
    "item": 100,
    "question": "Budjet qabul qilinsin",
    "kind": "simple",
    "secret": False,
    "rule": {"numerator": 1, "denominator": 2, "base": "present", "strict": True},
    "opened_at": "2026-12-01T10:20:00Z",
    "closed_at": "2026-12-01T10:21:00Z",
    "state": "closed",
    "motion": {"candidates": [], "max_choices": 1},
    "result": {
        "result": "adopted",
        "present": 2,
        "counts": {"yes": 2, "no": 0, "abstain": 0},
        "rule": {"numerator": 1, "denominator": 2, "base": "present", "strict": True},
    },
    "ballots": {"named": [["yes", [10, 11]]]},
}
EVENTS = [
    event(1, "session.scheduled", "09:00:00"),
    event(2, "session.opened", "10:00:00"),
    event(3, "attendance.changed", "10:01:00", deputy=10, present=True, mode="chamber"),
    event(4, "attendance.changed", "10:02:00", deputy=11, present=True, mode="remote"),
    event(5, "agenda.item_started", "10:05:00", item=100, previous=None, speeches_ended=[]),
    event(6, "speakers.changed", "10:06:00", floor={"action": "granted"}, speeches_ended=[]),
    event(
        7,
        "speakers.changed",
        "10:09:30",
        floor={"action": "ended"},
        speeches_ended=[speech(11, 100, "10:06:00", "10:09:30")],
    ),
    event(8, "vote.closed", "10:21:00", vote=VOTE),
    event(
        9,
        "decision.adopted",
        "10:21:00",
        decision={"id": 1, "number": "4-1/2026", "title": "Budjet", "item": 100},
    ),
    event(10, "attendance.changed", "10:30:00", deputy=11, present=False, mode="remote"),
    event(
        11,
        "agenda.item_started",
        "10:31:00",
        item=101,
        previous=100,
        speeches_ended=[speech(10, 100, "10:25:00", "10:31:00")],
    ),
    event(12, "session.closed", "11:00:00", finished_item=101, speeches_ended=[]),
]


def test_the_minutes_of_a_sitting() -> None:
    m = minutes.minutes(COUNCIL, SITTING, DEPUTIES, ITEMS, EVENTS)
    present = {d["deputy"]: d["periods"] for d in m["attendance"]["deputies"]}
    assert present["Qodirova Munisa"] == [
        {"from": "2026-12-01T10:01:00Z", "to": "2026-12-01T11:00:00Z", "mode": "chamber"}
    ]
    assert present["Ўринов Ғайрат"] == [
        {"from": "2026-12-01T10:02:00Z", "to": "2026-12-01T10:30:00Z", "mode": "remote"}
    ]
    assert m["attendance"]["absent"] == ["Saidov Jamshid"]
    budget, other = m["agenda"]
    assert (budget["started_at"], budget["ended_at"]) == (
        "2026-12-01T10:05:00Z",
        "2026-12-01T10:31:00Z",
    )
    assert (other["started_at"], other["ended_at"]) == (
        "2026-12-01T10:31:00Z",
        "2026-12-01T11:00:00Z",
    )
    assert [(s["deputy"], s["seconds"]) for s in budget["speakers"]] == [
        ("Ўринов Ғайрат", 210),
        ("Qodirova Munisa", 360),
    ]
    assert all(s["topic"] == "" for s in budget["speakers"])  # notes to the chair stay out
    [vote] = budget["votes"]
    assert vote["result"] == "adopted" and vote["rule"] == "> 1/2 of present"
    assert vote["counts"] == [
        {"option": "yes", "votes": 2},
        {"option": "no", "votes": 0},
        {"option": "abstain", "votes": 0},
    ]
    assert [n["deputy"] for n in vote["named"]] == ["Qodirova Munisa", "Ўринов Ғайрат"]
    assert budget["decisions"] == [{"number": "4-1/2026", "title": "Budjet"}]
    assert other["votes"] == [] and other["speakers"] == []
