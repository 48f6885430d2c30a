"""The council's records. The session event log lives beside the rows it describes,
written in the same transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """UTC time as the wire shows it: ISO 8601 with a Z."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Council(Base):
    __tablename__ = "councils"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    region: Mapped[str] = mapped_column(String(200), default="")
    # The reglament as data, validated by voting.CouncilRules on every write.
    rules: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deputy(Base):
    __tablename__ = "deputies"
    __table_args__ = (UniqueConstraint("council_id", "seat_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # PINFL: the 14-digit personal number E-IMZO certificates and One ID carry.
    pinfl: Mapped[str] = mapped_column(String(14), unique=True)
    seat_no: Mapped[int] = mapped_column(Integer)
    district: Mapped[str] = mapped_column(String(200), default="")
    faction: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    """Someone who signs in: a deputy (maybe chairing) or a member of staff."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200))
    council_id: Mapped[int | None] = mapped_column(ForeignKey("councils.id"))
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("deputies.id"), unique=True)
    # Staff sign in by the PINFL their certificate or One ID carries; a deputy's is on
    # the deputy's row. Unique among users; a deputy's user has none of its own.
    pinfl: Mapped[str | None] = mapped_column(String(14), unique=True)
    # Removed users keep their row, so the audit trail still names them; they cannot
    # sign in.
    removed_at: Mapped[datetime | None]


class AuthChallenge(Base):
    """A random, single-use value a sign-in must answer: what an E-IMZO key signs, or a
    One ID `state`. Kept in the database so that any server process can redeem it."""

    __tablename__ = "auth_challenges"

    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # eimzo | oneid | face
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # A face challenge is for one sign-in (and, at a ballot, one vote): whose it is and
    # what it asks, {"sign_in", "user", "vote", "actions", "frames_per_action"}.
    subject: Mapped[dict[str, Any] | None]


class SignIn(Base):
    """One sign-in of a user: every token names one, and ending it (sign-out, or a
    secretary ending all of a user's sign-ins) ends the token everywhere."""

    __tablename__ = "sign_ins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # demo | eimzo | oneid
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Indexed: every process asks every few seconds which sign-ins have just ended.
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    certificate_serial: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # When the deputy passed the Face ID challenge on this sign-in.
    face_verified_at: Mapped[datetime | None]


class FaceTemplate(Base):
    """A deputy's enrolled face: the descriptors of 1 to 5 photos, sealed with AES-GCM
    under KENGASH_FACE_KEY and bound to the deputy (biometrics/templates.py). Never a
    photo."""

    __tablename__ = "face_templates"

    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputies.id"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    samples: Mapped[int] = mapped_column(Integer)
    enrolled_at: Mapped[datetime]
    enrolled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AuditEvent(Base):
    """The audit trail of sign-ins: every attempt, sign-out and ending, as it happened.
    Written, never changed: the product has no way to edit or delete a row."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # sign_in | sign_out | sign_ins_ended | face_enrolled | face_removed | face_check
    kind: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16), default="")
    outcome: Mapped[str] = mapped_column(String(16))  # ok | refused
    reason: Mapped[str] = mapped_column(String(64), default="")  # the error code
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    council_id: Mapped[int | None] = mapped_column(ForeignKey("councils.id"), index=True)
    # Who acted, where that is not the user (a secretary ending a user's sign-ins).
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    certificate_serial: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # A face check: what it was for ("sign_in", "vote 12") and the distance measured
    # from the enrolled face, where one was.
    subject: Mapped[str] = mapped_column(String(64), default="", server_default="")
    distance: Mapped[float | None] = mapped_column(Float)


class Session(Base):
    """A sitting of the council (not a database session)."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    scheduled_for: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Highest seq in this session's event log; the row lock on it orders writers.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    current_item_id: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    rapporteur: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # The draft decision put to the sitting on this item, if any.
    draft_title: Mapped[str | None] = mapped_column(Text)
    draft_text: Mapped[str | None] = mapped_column(Text)


class Attendance(Base):
    __tablename__ = "attendance"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputies.id"), primary_key=True)
    present: Mapped[bool]
    mode: Mapped[str] = mapped_column(String(16))  # chamber | remote
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpeakerRequest(Base):
    __tablename__ = "speaker_requests"
    __table_args__ = (Index("ix_speaker_requests_session_state", "session_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id"))
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputies.id"))
    topic: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting|speaking|done
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    limit_seconds: Mapped[int | None] = mapped_column(Integer)


class SessionEvent(Base):
    __tablename__ = "session_events"
    __table_args__ = (UniqueConstraint("session_id", "seq", name="uq_session_events_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CommandResult(Base):
    """The answer given to a command id, so that a retry gets it again instead of acting."""

    __tablename__ = "command_results"

    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    command: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the command's arguments as checked (canonical JSON): an id sent again
    # with other arguments is refused (`id_reused`), not answered as the first one was.
    args_digest: Mapped[str | None] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vote(Base):
    """One vote on an agenda item: a question put to the deputies present."""

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id"))
    question: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    # The rule as it stood when the vote opened: later reglament changes do not rewrite it.
    rule: Mapped[dict[str, Any]]
    secret: Mapped[bool]
    # The motion: {"candidates": [...], "max_choices": n}; no candidates = yes/no/abstain.
    motion: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|closed|cancelled
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The reglament's face check per ballot when the vote opened: match | live | None.
    face_check: Mapped[str | None] = mapped_column(String(8))
    # The `voted` count in the last event, so progress is reported only when it changed.
    reported_voted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Outcome.to_dict() at close: everything needed to recompute the result.
    outcome: Mapped[dict[str, Any] | None]
    # Published at close: each deputy's choice (named) or receipt codes with choices (secret).
    ballots: Mapped[dict[str, Any] | None]
    # A vote on the item's draft decision as a whole: the draft as it stood when the vote
    # opened ({"title", "text"}), which an adopted result turns into a decision.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class NamedBallot(Base):
    """A named vote's ballot: whose it is is public once the vote closes."""

    __tablename__ = "named_ballots"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputies.id"), primary_key=True)
    choice: Mapped[dict[str, Any]]  # {"option": "yes"} or {"candidates": [...]}


class VoteParticipant(Base):
    """Who has voted in a secret vote: the unique key allows one ballot per deputy.
    Nothing here points at the ballot."""

    __tablename__ = "vote_participants"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputies.id"), primary_key=True)


class SecretBallot(Base):
    """A secret vote's ballot under the receipt code the tablet drew: no deputy here.

    On SQLite the table has no rowid, so rows sit in receipt order, not in the order they
    came; on PostgreSQL the close rewrites them in receipt order (commands/votes.py).
    docs/protocol.md ("What a secret vote keeps secret") says what this does not hide."""

    __tablename__ = "secret_ballots"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    receipt: Mapped[str] = mapped_column(String(16), primary_key=True)
    choice: Mapped[dict[str, Any]]  # {"option": "yes"} or {"candidates": [...]}


class Decision(Base):
    """A council decision: formed when a vote on a draft is adopted (commands/decisions.py)."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("council_id", "number"),
        # The register's council-and-dates searches, counted from the index alone.
        Index("ix_decisions_council_dates", "council_id", "adopted_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id"))
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id"), unique=True)
    number: Mapped[str] = mapped_column(String(64), index=True)
    # The running number within the council's year, which the number's pattern shows.
    running: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    adopted_on: Mapped[date] = mapped_column(Date, index=True)
    adopted_at: Mapped[datetime]
    # Number, title and text folded for search (commands/decisions.py, search_text).
    search_text: Mapped[str] = mapped_column(Text)


class DecisionSignature(Base):
    """The chair's detached PKCS#7 over the decision's canonical bytes (ledger entry)."""

    __tablename__ = "decision_signatures"

    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    pkcs7: Mapped[bytes] = mapped_column(LargeBinary)
    signer_name: Mapped[str] = mapped_column(String(300))
    serial: Mapped[str] = mapped_column(String(80))
    signed_at: Mapped[datetime]  # the signature's signing time, else when it came
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LedgerEntry(Base):
    """One leaf of the public ledger: the exact bytes hashed (RFC 8785 JSON)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # vote | decision | signature
    ref: Mapped[int] = mapped_column(Integer)  # the vote's or decision's id
    body: Mapped[bytes] = mapped_column(LargeBinary)
    appended_at: Mapped[datetime]


class LedgerNode(Base):
    """The hash of the complete subtree of 2**level leaves from leaf idx * 2**level
    (RFC 9162): every proof reads O(log n) of these."""

    __tablename__ = "ledger_nodes"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHead(Base):
    """The latest checkpoint: one row, locked by the appender, so no two processes
    ever sign two different trees of the same size."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    checkpoint: Mapped[str] = mapped_column(Text)  # the signed note, as served
    made_at: Mapped[datetime]


class IngestKey(Base):
    """A sitting's ingest key: the bearer token OBS Studio sends to `/whip/{session}`.
    Only its hash is kept (broadcast/ingest_keys.py); the plain key is shown once, when
    it is made. A revoked key keeps its row, so the list still says who made it."""

    __tablename__ = "ingest_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # ingest_keys.key_id
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    stored: Mapped[str] = mapped_column(String(100))  # "sha256$id$hash"
    label: Mapped[str] = mapped_column(String(80), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
