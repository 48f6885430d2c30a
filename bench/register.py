"""Searching the decisions register at 100,000 decisions, through the running server.

    .venv/bin/python bench/register.py [--decisions 100000] [--queries 400]

The demo database (SQLite) gets `--decisions` decisions of several councils over ten
years, with titles and texts in Uzbek Latin, Uzbek Cyrillic and Russian, written in
bulk; then `kengash serve` starts on it and one client sends `--queries` searches in
turn, a mix of what citizens type: one word, two words, a word with a council and a
year, an exact number, a later page. Each is timed from request to full answer.

Target (issue 11): search p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bench.fanout import start_real_server, write_database
from bench.stats import percentile
from session_server.db import models
from session_server.db.models import utcnow
from session_server.decisions.search import search_text

COMMON = [
    "budjet",
    "toʻgʻrisida",
    "obodonlashtirish",
    "maktab",
    "yoʻl",
    "suv",
    "taʼlim",
    "sogʻliqni",
    "saqlash",
    "dastur",
    "hisobot",
    "komissiya",
    "mahalla",
    "investitsiya",
    "бюджет",
    "тўғрисида",
    "дастур",
    "ҳисобот",
    "қарор",
    "маҳалла",
    "сув",
    "йўл",
    "решение",
    "бюджете",
    "программа",
    "отчёт",
    "комиссии",
    "образования",
    "дорог",
]
# Topic words: a vocabulary of a few thousand made-up words, so that most searches
# narrow things down, as real ones do; the common words above occur everywhere.
_SYLLABLES = ["ba", "ko", "ri", "sha", "mu", "ta", "le", "qo", "zi", "ny", "ob", "ug"]
VOCABULARY = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES})[:3000]
QUERIES = [
    {"q": "budjet"},
    {"q": "bakori"},
    {"q": "kosha muta"},
    {"q": "toʻgʻrisida dastur"},
    {"q": "тўғрисида"},
    {"q": "решение бюджет"},
    {"q": "mahalla", "council": "2"},
    {"q": "hisobot", "from": "2024-01-01", "to": "2024-12-31"},
    {"q": "maktab suv", "page": "3"},
    {"council": "1", "from": "2025-01-01"},
    {"number": "8-2007/2017"},
    {"q": "программ"},
    {"q": "riko", "council": "1", "page": "2"},
]


def fill(count: int) -> Any:
    def write(db: Session) -> None:
        rng = random.Random(11)
        councils = list(db.scalars(select(models.Council)))
        now = utcnow()
        sitting = db.scalar(select(models.Session))
        item = db.scalar(select(models.AgendaItem))
        assert sitting is not None and item is not None
        start = date(2017, 1, 1)
        for chunk in range(0, count, 10_000):
            votes = [
                {
                    "session_id": sitting.id,
                    "agenda_item_id": item.id,
                    "question": "q",
                    "kind": "simple",
                    "rule": {},
                    "secret": False,
                    "motion": {},
                    "state": "closed",
                    "opened_at": now,
                    "closed_at": now,
                }
                for _ in range(min(10_000, count - chunk))
            ]
            ids = db.scalars(insert(models.Vote).returning(models.Vote.id), votes).all()
            rows = []
            for n, vote_id in enumerate(ids, start=chunk):
                title = " ".join(rng.choices(VOCABULARY, k=4) + rng.choices(COMMON, k=2))
                text = " ".join(rng.choices(VOCABULARY, k=40) + rng.choices(COMMON, k=20))
                on = start + timedelta(days=n * 3650 // count)
                number = f"{n % 40 + 1}-{n}/{on.year}"
                rows.append(
                    {
                        "council_id": councils[n % len(councils)].id,
                        "session_id": sitting.id,
                        "agenda_item_id": item.id,
                        "vote_id": vote_id,
                        "number": number,
                        "running": n,
                        "title": title,
                        "text": text,
                        "adopted_on": on,
                        "adopted_at": now,
                        "search_text": search_text(number, title, text),
                    }
                )
            db.execute(insert(models.Decision), rows)

    return write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kengash-register-"))

    def prepare(url: str) -> None:
        def second_council(db: Session) -> None:
            first = db.scalar(select(models.Council))
            assert first is not None
            db.add(models.Council(name="Chilonzor tumani Kengashi", region="", rules=first.rules))

        write_database(url, second_council)
        started = time.perf_counter()
        write_database(url, fill(args.decisions))
        print(f"{args.decisions:,} decisions written in {time.perf_counter() - started:.1f} s")

    server = start_real_server(tmp, prepare=prepare)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as http:
            for params in QUERIES:  # warm the caches once
                http.get("/api/decisions", params=params)
            times: list[float] = []
            totals: dict[str, int] = {}  # what each query found
            each: dict[str, list[float]] = {}
            for i in range(args.queries):
                params = QUERIES[i % len(QUERIES)]
                started = time.perf_counter()
                answer = http.get("/api/decisions", params=params)
                times.append((time.perf_counter() - started) * 1000)
                each.setdefault(str(params), []).append(times[-1])
                assert answer.status_code == 200, answer.text
                totals[str(params)] = answer.json()["total"]
        for query, total in totals.items():
            print(f"  {query}: {total:,} found, p50 {percentile(each[query], 0.5):.1f} ms")
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        verdict = "met" if p99 <= 50 else "MISSED"
        print(
            f"search over {args.decisions:,} decisions: p50 {p50:.1f} ms   p99 {p99:.1f} ms"
            f"   max {max(times):.1f} ms   target p99 <= 50 ms: {verdict}"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
