"""What every input from outside obeys, wherever it comes in (a socket frame, an HTTP
body, a path): one JSON reader, the bounds of numbers, and one wording for refusals."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import Field, ValidationError

# Row ids and counters are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite. A
# number outside the smaller range is refused where it comes in (a path, an argument),
# the same on both databases, before any statement could fail on it.
DB_INT_MAX = 2**31 - 1
RowId = Annotated[int, Field(gt=0, le=DB_INT_MAX)]

# No message needs more than a few levels (an election ballot has four); deeper is
# refused before anything walks it, and far deeper made json.loads raise RecursionError.
MAX_DEPTH = 32


class UnfitJSON(ValueError):
    """JSON, but not what any client may send; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str | bytes, whole: str) -> Any:
    """Parse JSON from outside. ValueError: it is not JSON (NaN and Infinity, Python's
    extensions, included). UnfitJSON: nested deeper than MAX_DEPTH, or a string holding
    U+0000, which PostgreSQL cannot store. `whole` names the top level in messages."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:  # nested far too deep for the parser itself
        raise UnfitJSON(f"{whole}: nested deeper than {MAX_DEPTH} levels") from exc
    problem = unfit(text if isinstance(text, str) else text.decode(), value, whole)
    if problem is not None:
        raise UnfitJSON(problem)
    return value


def unfit(text: str, value: Any, whole: str) -> str | None:
    """What makes parsed JSON unfit although it is JSON, or None: nested deeper than
    MAX_DEPTH arrays and objects (the top level is level 1), or a string holding U+0000
    (JSON writes it only as an escape)."""
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    nul = "\\u0000" in text
    if not deep and not nul:
        return None  # the common message: nothing to walk
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return f"{whole}: a string holds the character U+0000"
            continue
        if not isinstance(item, dict | list):
            continue  # a number, a bool or null as the whole message
        if depth > MAX_DEPTH:
            return f"{whole}: nested deeper than {MAX_DEPTH} levels"
        children: Iterable[Any] = item
        if isinstance(item, dict):
            if nul:
                stack.extend((key, depth) for key in item)
            children = item.values()
        stack.extend(
            (child, depth + 1)
            for child in children
            if isinstance(child, dict | list) or (nul and isinstance(child, str))
        )
    return None


def validation_message(exc: ValidationError, whole: str) -> str:
    """`field.path: reason; …` for the first few errors; `whole` names the top level."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg']}" for err in exc.errors()[:5]
    )
