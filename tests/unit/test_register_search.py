"""Folding text for the register's search: the same on both sides, and a query is
only ever words (nothing reaches FTS5's or PostgreSQL's query syntax)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from session_server.decisions import search


def test_uzbek_apostrophes_and_case_fold_away() -> None:
    spellings = ["Toʻgʻrisida", "to'g'risida", "to‘g‘risida", "TO’G’RISIDA", "togrisida"]
    assert {search.fold(s) for s in spellings} == {"togrisida"}
    assert search.words("Ёлка ЁЛКА") == ["елка", "елка"]
    assert search.words("Ўзбекистон, қарор; ғалла ҳоким!") == [
        "ўзбекистон",
        "қарор",
        "ғалла",
        "ҳоким",
    ]


def test_the_stored_text_holds_the_words_of_number_title_and_text() -> None:
    stored = search.search_text("3-12/2026", "Budjet toʻgʻrisida", "Қарор қилади: 1. Тасдиқлансин.")
    assert stored.split() == [
        "3",
        "12",
        "2026",
        "budjet",
        "togrisida",
        "қарор",
        "қилади",
        "1",
        "тасдиқлансин",
    ]


@given(st.text(max_size=300))
def test_a_query_is_only_quoted_words(query: str) -> None:
    terms = search.words(query)
    assert len(terms) <= search.MAX_WORDS
    for term in terms:
        assert term and all(ch.isalnum() for ch in term)
    fts = search.fts5_query(terms)
    # Every term quoted, nothing else: no operator, column filter or bracket survives.
    assert re.fullmatch(r'(?:"[^"\s]+"\* ?)*', fts)
    assert all(ch.isalnum() or ch in ":*& " for ch in search.tsquery(terms))


@given(st.text(max_size=200))
def test_folding_is_idempotent(text: str) -> None:
    assert search.fold(search.fold(text)) == search.fold(text)
