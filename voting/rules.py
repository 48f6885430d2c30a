"""A council's reglament as data: seats, quorum, vote kinds, ties, timers.

The law leaves quorum and majorities to each council, so nothing here is hard-coded
beyond the defaults the contract names.
"""

from __future__ import annotations

from string import Formatter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Base = Literal["seats", "present", "cast", "yes_no"]
TieRule = Literal["fails", "chair_decides"]
# Face ID at sign-in: not asked, offered, or needed before a deputy may act.
FaceSignIn = Literal["off", "optional", "required"]
# Face ID with every ballot: none, a frame that must be the deputy's (`match`), or one
# random action at the tap as well, so that a photo cannot cast a ballot (`live`).
FaceCheck = Literal[False, "match", "live"]


NUMBER_FIELDS = frozenset({"session", "n", "year"})


def decision_number(pattern: str, *, session: int, n: int, year: int) -> str:
    """A decision's number by the council's pattern: `{session}-{n}/{year}` → `12-3/2026`."""
    return pattern.format(session=session, n=n, year=year)


class Fraction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    numerator: int = Field(ge=0)
    denominator: int = Field(gt=0)
    strict: bool = True

    @model_validator(mode="after")
    def _at_most_whole(self) -> Fraction:
        if self.numerator > self.denominator:
            raise ValueError("a fraction of a whole cannot exceed 1")
        return self


class QuorumRule(Fraction):
    """Registered-present deputies must reach this fraction of seats."""


class Majority(Fraction):
    """`numerator/denominator × base (+ constant)`, `>` when strict, else `≥`."""

    base: Base = "present"
    constant: int = 0


class VoteKind(Majority):
    secret: bool = False


def _default_kinds() -> dict[str, VoteKind]:
    return {
        "simple": VoteKind(numerator=1, denominator=2, base="present", strict=True),
        "absolute": VoteKind(numerator=1, denominator=2, base="seats", strict=True),
        "qualified": VoteKind(numerator=2, denominator=3, base="seats", strict=False),
    }


class CouncilRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seats: int = Field(gt=0, le=10_000)
    quorum: QuorumRule = QuorumRule(numerator=1, denominator=2, strict=True)
    vote_kinds: dict[str, VoteKind] = Field(default_factory=_default_kinds)
    ties: TieRule = "fails"
    ballot_changes_until_close: bool = True
    face_signin: FaceSignIn = "off"
    face_check_per_ballot: FaceCheck = False
    timer_seconds: int | None = Field(default=60, ge=5, le=24 * 3600)
    # How the council numbers its decisions: {session} the sitting's number, {n} the
    # running number within the year, {year}.
    decision_number: str = Field(default="{session}-{n}/{year}", min_length=3, max_length=40)

    @field_validator("decision_number")
    @classmethod
    def _number_pattern(cls, value: str) -> str:
        fields = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
        unknown = fields - NUMBER_FIELDS
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; use {sorted(NUMBER_FIELDS)}")
        if "n" not in fields:
            raise ValueError("the pattern needs {n}, the running number, to tell decisions apart")
        try:
            decision_number(value, session=1, n=1, year=2026)
        except (ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"not a pattern: {exc}") from exc
        return value

    @field_validator("face_check_per_ballot", mode="before")
    @classmethod
    def _face_check_words(cls, value: Any) -> Any:
        # Reglaments written before `match` and `live` said `true`: a frame with the ballot.
        if value is True:
            return "match"
        if value in ("false", "off", None):
            return False
        return value

    @model_validator(mode="after")
    def _has_kinds(self) -> CouncilRules:
        if not self.vote_kinds:
            raise ValueError("a council needs at least one vote kind")
        return self
