"""Published ballots, grouped by choice: `[[choice, [key, …]], …]`.

The list goes to every screen when a vote closes. Grouped, each choice is written once,
not once per deputy: for 2,000 deputies the `vote.closed` frame is a third of the size
of `[deputy, choice]` pairs, and so is the time to send it to 2,000 screens. A key is a
deputy id (named vote) or a receipt code (secret vote); a choice is an option ("yes") or
the list of candidate ids chosen in an election."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

K = TypeVar("K")


def by_choice(pairs: Iterable[tuple[K, Hashable]]) -> list[list[Any]]:
    """Group (key, choice) pairs; choices in first-seen order, keys in the given order."""
    groups: dict[Hashable, list[K]] = {}
    for key, choice in pairs:
        groups.setdefault(choice, []).append(key)
    return [[list(c) if isinstance(c, tuple) else c, keys] for c, keys in groups.items()]


def pairs(groups: Iterable[list[Any]]) -> list[tuple[Any, Any]]:
    """Back to (key, choice) pairs."""
    return [(key, choice) for choice, keys in groups for key in keys]
