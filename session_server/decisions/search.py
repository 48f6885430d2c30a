"""Searching the decisions register by words, on SQLite (FTS5) and PostgreSQL
(full-text search with the `simple` configuration: no language's stemmer fits Uzbek).

Text is folded the same way when stored and when searched: lower case, and the Uzbek
apostrophes (oʻ, gʻ, and the ' ‘ ’ ` people type for them) dropped, so "o'zbek",
"oʻzbek" and "ozbek" find each other. Each word of a query matches as a prefix (Uzbek
and Russian words change their endings), and all words must match. A query is only
ever words: nothing a user types reaches the engines' query syntax."""

from __future__ import annotations

import re

# Uzbek Latin's modifier letters and the marks typed in their place.
_APOSTROPHES = dict.fromkeys(map(ord, "ʻʼ'‘’`´ʹ"), None)
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_CHARS = 200
MAX_WORDS = 8


def fold(text: str) -> str:
    return text.translate(_APOSTROPHES).casefold().replace("ё", "е")


def search_text(number: str, title: str, text: str) -> str:
    """What the index holds for a decision."""
    return " ".join(_WORD.findall(fold(f"{number} {title} {text}")))


def words(query: str) -> list[str]:
    """The words of a query, folded; at most MAX_WORDS of them."""
    return _WORD.findall(fold(query))[:MAX_WORDS]


def fts5_query(terms: list[str]) -> str:
    """Each word quoted (so it is never an operator) and matched as a prefix."""
    return " ".join(f'"{term}"*' for term in terms)


def tsquery(terms: list[str]) -> str:
    """The same for PostgreSQL's to_tsquery; the words hold only letters and digits."""
    return " & ".join(f"{term}:*" for term in terms)
