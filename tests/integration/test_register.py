"""The decisions register's search on SQLite (FTS5) and PostgreSQL (full text): Uzbek
Latin with its apostrophes, Uzbek Cyrillic, Russian; filters; paging."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.decisions.search import search_text
from tests.conftest import Server

DECISIONS = [
    ("Obodonlashtirish dasturi toʻgʻrisida", "Mahallalarda koʻchat ekilsin.", date(2025, 3, 1)),
    ("Ҳудудий дастур тўғрисида", "Кенгаш қарор қилади: дастур тасдиқлансин.", date(2025, 6, 1)),
    ("О бюджете района на 2027 год", "Совет решил: утвердить бюджет района.", date(2026, 2, 1)),
]


def _insert(db: DbSession) -> list[int]:
    sitting = db.scalar(select(models.Session).order_by(models.Session.id))
    assert sitting is not None
    item = db.scalar(select(models.AgendaItem).where(models.AgendaItem.session_id == sitting.id))
    assert item is not None
    now, ids = utcnow(), []
    for n, (title, text, on) in enumerate(DECISIONS, start=1):
        vote = models.Vote(
            session_id=sitting.id,
            agenda_item_id=item.id,
            question=title,
            kind="simple",
            rule={},
            secret=False,
            motion={},
            state="closed",
            opened_at=now,
            closed_at=now,
        )
        db.add(vote)
        db.flush()
        number = f"R-{n}/{on.year}"
        decision = models.Decision(
            council_id=sitting.council_id,
            session_id=sitting.id,
            agenda_item_id=item.id,
            vote_id=vote.id,
            number=number,
            running=100 + n,
            title=title,
            text=text,
            adopted_on=on,
            adopted_at=now,
            search_text=search_text(number, title, text),
        )
        db.add(decision)
        db.flush()
        ids.append(decision.id)
    return ids


@pytest.fixture(scope="module")
def decisions(module_server: Server) -> list[int]:
    async def go() -> list[int]:
        database = Database(module_server.env["KENGASH_DATABASE_URL"])
        try:
            return await database.transact(_insert)
        finally:
            await database.dispose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("q", "which"),
    [
        ("to'g'risida", [0]),
        ("TOGRISIDA", [0]),
        ("koʻchat", [0]),
        ("тўғрисида", [1]),
        ("ДАСТУР тасдиқ", [1]),
        ("бюджет", [2]),
        ("утвердить бюджет", [2]),
        ("дастур", [1]),
        ("dastur", [0]),
        ("r 2025", [1, 0]),
        ("nothing-like-this", []),
    ],
)
def test_words_find_decisions(
    module_server: Server, decisions: list[int], q: str, which: list[int]
) -> None:
    found = httpx.get(f"{module_server.url}/api/decisions", params={"q": q}).json()
    assert [i["id"] for i in found["items"]] == [decisions[w] for w in which], q


def test_filters_and_pages(module_server: Server, decisions: list[int]) -> None:
    url = f"{module_server.url}/api/decisions"
    in_2025 = httpx.get(url, params={"from": "2025-01-01", "to": "2025-12-31"}).json()
    assert [i["id"] for i in in_2025["items"]] == [decisions[1], decisions[0]]
    sitting = httpx.get(url, params={"session": 1, "per_page": 100}).json()
    assert set(decisions) <= {i["id"] for i in sitting["items"]}
    assert httpx.get(url, params={"session": 999_999}).json()["total"] == 0
    exact = httpx.get(url, params={"number": "R-3/2026"}).json()
    assert [i["id"] for i in exact["items"]] == [decisions[2]]
    assert exact["items"][0]["council"]["name"] and exact["items"][0]["state"] == "adopted"
    first = httpx.get(url, params={"per_page": 2}).json()
    second = httpx.get(url, params={"per_page": 2, "page": 2}).json()
    assert first["total"] == second["total"] >= 3 and not first["more"]
    assert len(first["items"]) == 2 and {i["id"] for i in first["items"]}.isdisjoint(
        i["id"] for i in second["items"]
    )
    past = httpx.get(url, params={"per_page": 2, "page": 50})
    assert past.status_code == 400 and past.json()["error"]["code"] == "page_out_of_range"
