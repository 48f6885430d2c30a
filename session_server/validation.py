"""One wording for validation errors, and the bounds every number from outside obeys."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationError

# Row ids and counters are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite. A
# number outside the smaller range is refused where it comes in (a path, an argument),
# the same on both databases, before any statement could fail on it.
DB_INT_MAX = 2**31 - 1
RowId = Annotated[int, Field(gt=0, le=DB_INT_MAX)]


def validation_message(exc: ValidationError, whole: str) -> str:
    """`field.path: reason; …` for the first few errors; `whole` names the top level."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg']}" for err in exc.errors()[:5]
    )
