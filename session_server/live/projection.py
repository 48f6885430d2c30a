"""What each audience may see. Redact, never skip: every audience gets every event, so
`seq` has no gaps for anyone; only the fields an audience may not see are removed.
Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any


class Audience(StrEnum):
    PUBLIC = "public"  # citizens, the broadcast operator
    MEMBER = "member"  # deputies, the chair, the secretariat, administrators


_MEMBER_ROLES = frozenset({"deputy", "chair", "secretary", "admin"})


def audience_of(role: str, council_id: int | None, session_council: int | None) -> Audience:
    """A member role sees a sitting as a member only in its own council (an admin in
    every council); in another council's sitting, or one whose council is not known, it
    is one of the public."""
    if role not in _MEMBER_ROLES:
        return Audience.PUBLIC
    if role == "admin" or (session_council is not None and council_id == session_council):
        return Audience.MEMBER
    return Audience.PUBLIC


def _speakers(value: Any, audience: Audience) -> Any:
    # A deputy's note to the chair on why they ask for the floor is for the council only.
    if audience is Audience.MEMBER or not value:
        return value
    out = dict(value)
    out["queue"] = [_without_topic(entry) for entry in value.get("queue", [])]
    if value.get("current"):
        out["current"] = _without_topic(value["current"])
    return out


def _without_topic(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if k != "topic"}
    if entry.get("topic"):
        out["redacted"] = ["topic"]
    return out


def _floor(value: Any, audience: Audience) -> Any:
    # The facts of speakers.changed and of the speeches an event ended carry topics too.
    if audience is Audience.MEMBER or not value:
        return value
    return _without_topic(value)


def _speeches(value: Any, audience: Audience) -> Any:
    if audience is Audience.MEMBER or not value:
        return value
    return [_without_topic(entry) for entry in value]


_SECTION_REDACTORS: dict[str, Callable[[Any, Audience], Any]] = {
    "speakers": _speakers,
    "floor": _floor,
    "speeches_ended": _speeches,
}


def project(data: Mapping[str, Any], audience: Audience) -> dict[str, Any]:
    """Project an event or a whole state (both are maps of sections) for an audience."""
    out = dict(data)
    for name, redact in _SECTION_REDACTORS.items():
        if name in out:
            out[name] = redact(out[name], audience)
    return out
