"""The shapes of the records the renderers take, for type checkers and readers.

The renderers accept any mapping (or dataclass instance) of this shape; they read it with
defaults, so a missing key, a None or an empty list gives a dash or an empty table rather
than an error. Times are ISO 8601 strings with the council's local offset; they are shown
as HH:MM of that offset.
"""

from __future__ import annotations

from typing import Literal, TypedDict


class Count(TypedDict):
    option: str  # "yes" | "no" | "abstain" | "blank" | a candidate's name
    votes: int


class NamedChoice(TypedDict):
    seat: int | None
    deputy: str
    choice: str  # an option, "absent", "not voting", or a candidate's name


class Receipt(TypedDict):
    receipt: str
    choice: str


class SessionRef(TypedDict):
    number: int
    title: str
    date: str  # YYYY-MM-DD


class ItemRef(TypedDict):
    position: int
    title: str


class Protocol(TypedDict):
    council: str
    session: SessionRef
    item: ItemRef
    question: str
    kind: str
    secret: bool
    face_check: str | None
    state: Literal["closed", "pending_chair", "cancelled"]
    cancel_reason: str | None
    opened_at: str
    closed_at: str | None
    rule: str
    present: int
    seats: int
    base_value: int | None
    threshold: int | None
    result: Literal["adopted", "not_adopted", "pending_chair"] | None
    counts: list[Count]
    named: list[NamedChoice] | None
    receipts: list[Receipt] | None
    url: str | None


# "from" is a Python keyword, hence the functional form for these two.
AttendancePeriod = TypedDict(
    "AttendancePeriod",
    {"from": str, "to": str | None, "mode": Literal["chamber", "remote"]},
)


class AttendanceRow(TypedDict):
    seat: int | None
    deputy: str
    periods: list[AttendancePeriod]


class Attendance(TypedDict):
    seats: int
    deputies: list[AttendanceRow]
    absent: list[str]


Speech = TypedDict(
    "Speech",
    {"deputy": str, "topic": str, "from": str, "to": str | None, "seconds": int | None},
)


class MinutesChoice(TypedDict):
    deputy: str
    choice: str


class MinutesVote(TypedDict):
    question: str
    kind: str
    secret: bool
    rule: str
    opened_at: str
    closed_at: str | None
    state: str
    result: str | None
    present: int | None
    counts: list[Count]
    named: list[MinutesChoice] | None
    cancel_reason: str | None


class DecisionRef(TypedDict):
    number: str
    title: str


class AgendaEntry(TypedDict):
    position: int
    title: str
    started_at: str | None
    ended_at: str | None
    speakers: list[Speech]
    votes: list[MinutesVote]
    decisions: list[DecisionRef]


class MinutesSession(TypedDict):
    number: int
    title: str
    date: str
    opened_at: str | None
    closed_at: str | None
    state: str


class Minutes(TypedDict):
    council: str
    session: MinutesSession
    attendance: Attendance
    agenda: list[AgendaEntry]


class DecisionVote(TypedDict):
    counts: list[Count]
    present: int
    seats: int
    rule: str
    result: str


class Signature(TypedDict):
    signer: str
    signed_at: str
    serial: str


class LedgerRef(TypedDict):
    index: int | None


class DecisionSession(TypedDict):
    number: int
    title: str


class Decision(TypedDict):
    council: str
    number: str
    title: str
    text: str  # paragraphs separated by newlines
    adopted_on: str  # YYYY-MM-DD
    session: DecisionSession
    vote: DecisionVote
    signature: Signature | None
    ledger: LedgerRef
    url: str
