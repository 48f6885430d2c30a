"""One wording for validation errors, wherever a frame, arguments or a body is refused."""

from __future__ import annotations

from pydantic import ValidationError


def validation_message(exc: ValidationError, whole: str) -> str:
    """`field.path: reason; …` for the first few errors; `whole` names the top level."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg']}" for err in exc.errors()[:5]
    )
