"""The ledger kept in the database: entries, the tree's nodes, and the head (the
latest signed checkpoint).

Appending happens after the commit that made the vote, decision or signature, as a
reaction registered with the hub, so the session's write path never waits for it. It is
idempotent (one entry per (kind, ref), by a unique key) and catches up from the
database at start and every `catch_up_seconds`: a process that died between the commit
and its entry loses nothing. Every append is one transaction that locks the head row,
adds the entries and their nodes and signs one checkpoint for the new size, so two
processes can never sign two different trees of one size."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterable, Mapping

import structlog
from sqlalchemy import ColumnElement, Select, TextClause, and_, insert, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DbSession

import tlog
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.eventlog import LoggedEvent
from session_server.ledger.entries import (
    canonical,
    decision_entry,
    signature_entry,
    vote_entry,
)
from tlog import tree

log = structlog.get_logger(__name__)

Ref = tuple[str, int]  # (vote | decision | signature, the vote's or decision's id)
# Entry kinds in the order they are appended when several wait: a decision follows
# its vote, a signature its decision.
KINDS = ("vote", "decision", "signature")


class LedgerLog:
    def __init__(self, db: Database, signer: tlog.Signer, origin: str) -> None:
        self.db = db
        self.signer = signer
        self.origin = origin
        self._lock = asyncio.Lock()  # one appender per process; the head row across them
        self._task: asyncio.Task[None] | None = None

    # -- appending -------------------------------------------------------------------

    async def reaction(self, session_id: int, events: list[LoggedEvent]) -> None:
        """Committed events that make entries: a closed vote, a decision, a signature."""
        refs: list[Ref] = []
        for _, event in events:
            kind = event["kind"]
            if kind == "vote.closed" and event["vote"]["state"] == "closed":
                refs.append(("vote", event["vote"]["id"]))
            elif kind == "decision.adopted":
                refs.append(("decision", event["decision"]["id"]))
            elif kind == "decision.signed":
                refs.append(("signature", event["decision"]["id"]))
        if refs:
            await self.append(refs)

    async def append(self, refs: Iterable[Ref]) -> int:
        """Append the entries these rows make, skipping those in already; the new size."""
        wanted = list(dict.fromkeys(refs))
        async with self._lock:
            return await self.db.transact(lambda db: self._append(db, wanted))

    def _append(self, db: DbSession, refs: list[Ref]) -> int:
        head = db.scalar(select(models.LedgerHead).with_for_update())
        present = (
            set(
                db.execute(
                    select(models.LedgerEntry.kind, models.LedgerEntry.ref).where(_any_entry(refs))
                ).tuples()
            )
            if refs
            else set()
        )
        entries = []
        for kind, ref in refs:
            body = None if (kind, ref) in present else _body(db, kind, ref)
            if body is not None:
                entries.append((kind, ref, body))
        return self.write(db, head, entries)

    def write(
        self, db: DbSession, head: models.LedgerHead | None, entries: list[tuple[str, int, bytes]]
    ) -> int:
        """Append `entries` (kind, ref, exact bytes) after `head`, locked by the caller,
        and sign the one checkpoint of the new size; the new size."""
        size = head.size if head else 0
        if not entries:
            return size
        now = utcnow()
        db.execute(
            insert(models.LedgerEntry),
            [
                {"seq": size + i, "kind": kind, "ref": ref, "body": body, "appended_at": now}
                for i, (kind, ref, body) in enumerate(entries)
            ],
        )
        nodes = _read_nodes(db, tree.append_keys(size))
        new = tree.append(size, [tlog.leaf_hash(body) for _, _, body in entries], nodes)
        db.execute(
            insert(models.LedgerNode),
            [{"level": level, "idx": idx, "hash": h} for (level, idx), h in new.items()],
        )
        new_size = size + len(entries)
        root = tree.root(new_size, {**nodes, **new})
        note = tlog.sign_checkpoint(tlog.Checkpoint(self.origin, new_size, root), self.signer)
        if head is None:
            head = models.LedgerHead(id=1, size=0, root=b"", checkpoint="", made_at=now)
            db.add(head)
        head.size, head.root, head.checkpoint, head.made_at = new_size, root, note.decode(), now
        log.info("ledger_appended", size=new_size, entries=len(entries))
        return new_size

    async def catch_up(self) -> int:
        """Append every entry the database owes the ledger; the new size."""
        async with self.db.read() as db:
            pending: list[Ref] = []
            for kind, query in _owed():
                pending += [(kind, ref) for ref in await db.scalars(query)]
        return await self.append(sorted(pending, key=lambda r: (KINDS.index(r[0]), r[1])))

    def start(self, every_seconds: float) -> None:
        self._task = asyncio.create_task(self._keep_up(every_seconds))

    async def _keep_up(self, every_seconds: float) -> None:
        while True:
            try:
                await self.catch_up()
            except Exception:  # the next round tries again; nothing is lost meanwhile
                log.exception("ledger_catch_up_failed")
            await asyncio.sleep(every_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- reading ---------------------------------------------------------------------

    def empty_checkpoint(self) -> str:
        """The checkpoint of a log with no entries yet (Ed25519 signs deterministically,
        so this is the same note every time)."""
        empty = tlog.Checkpoint(self.origin, 0, tlog.EMPTY_ROOT)
        return tlog.sign_checkpoint(empty, self.signer).decode()

    async def head(self) -> models.LedgerHead | None:
        return await self.db.look_up(lambda db: db.get(models.LedgerHead, 1))

    async def entry(self, seq: int) -> models.LedgerEntry | None:
        return await self.db.look_up(lambda db: db.get(models.LedgerEntry, seq))

    async def entries_of(self, refs: list[Ref]) -> dict[Ref, int]:
        """Where these rows' entries are in the log (those that have one)."""
        if not refs:
            return {}

        def read(db: DbSession) -> dict[Ref, int]:
            entry = models.LedgerEntry
            rows = db.execute(select(entry.kind, entry.ref, entry.seq).where(_any_entry(refs)))
            return {(kind, ref): seq for kind, ref, seq in rows}

        return await self.db.look_up(read)

    async def inclusion(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof; tlog.RangeError when out of range."""
        return await self.db.look_up(lambda db: self._inclusion(db, index, size))

    async def consistency(self, old: int, new: int) -> list[bytes]:
        return await self.db.look_up(lambda db: self._consistency(db, old, new))

    async def nodes(self, keys: list[tlog.NodeKey]) -> Mapping[tlog.NodeKey, bytes]:
        return await self.db.look_up(lambda db: _read_nodes(db, keys))

    @staticmethod
    def _inclusion(db: DbSession, index: int, size: int) -> list[bytes]:
        _require_size(db, size)
        return tree.inclusion_proof(index, size, _read_nodes(db, tree.inclusion_keys(index, size)))

    @staticmethod
    def _consistency(db: DbSession, old: int, new: int) -> list[bytes]:
        _require_size(db, new)
        keys = tree.consistency_keys(old, new)
        return tree.consistency_proof(old, new, _read_nodes(db, keys))


def _require_size(db: DbSession, size: int) -> None:
    current = db.connection().execute(_HEAD_SIZE).scalar() or 0
    if size > current:
        raise tlog.RangeError(f"the log has {current} entries, not {size}")


# Point lookups ORed rather than a row-value IN: SQLite answers `(a, b) IN (...)` by
# scanning the table, and an OR of key equalities by one index probe each. The node
# query is plain SQL, made once per number of keys: building the same expression
# from ORM attributes cost a millisecond per proof.
_HEAD_SIZE = text("SELECT size FROM ledger_head WHERE id = 1")


@functools.lru_cache(maxsize=256)
def _nodes_query(count: int) -> TextClause:
    keys = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(count))
    return text(f"SELECT level, idx, hash FROM ledger_nodes WHERE {keys}")


def _any_entry(refs: list[Ref]) -> ColumnElement[bool]:
    entry = models.LedgerEntry
    return or_(*(and_(entry.kind == kind, entry.ref == ref) for kind, ref in refs))


def _read_nodes(db: DbSession, keys: list[tlog.NodeKey]) -> Mapping[tlog.NodeKey, bytes]:
    if not keys:
        return {}
    params: dict[str, int] = {}
    for i, (level, idx) in enumerate(keys):
        params[f"l{i}"], params[f"i{i}"] = level, idx
    rows = db.connection().execute(_nodes_query(len(keys)), params)
    return {(level, idx): bytes(h) for level, idx, h in rows}


def _body(db: DbSession, kind: str, ref: int) -> bytes | None:
    """The entry a row makes, or None if the row is not (yet) one the ledger takes."""
    if kind == "vote":
        vote = db.get(models.Vote, ref)
        if vote is None or vote.state != "closed":
            return None
        sitting = db.get(models.Session, vote.session_id)
        assert sitting is not None
        council = db.get(models.Council, sitting.council_id)
        assert council is not None
        return canonical(vote_entry(vote, sitting, council))
    decision = db.get(models.Decision, ref)
    if decision is None:
        return None
    sitting = db.get(models.Session, decision.session_id)
    council = db.get(models.Council, decision.council_id)
    assert sitting is not None and council is not None
    decision_bytes = canonical(decision_entry(decision, sitting, council))
    if kind == "decision":
        return decision_bytes
    signature = db.get(models.DecisionSignature, ref)
    return None if signature is None else canonical(signature_entry(signature, decision_bytes))


def _owed() -> list[tuple[str, Select[int]]]:
    """Per kind, a query for the rows without their entry."""
    entry = models.LedgerEntry

    def missing(kind: str, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        return ~select(entry.seq).where(entry.kind == kind, entry.ref == column).exists()

    return [
        (
            "vote",
            select(models.Vote.id).where(
                models.Vote.state == "closed", missing("vote", models.Vote.id)
            ),
        ),
        ("decision", select(models.Decision.id).where(missing("decision", models.Decision.id))),
        (
            "signature",
            select(models.DecisionSignature.decision_id).where(
                missing("signature", models.DecisionSignature.decision_id)
            ),
        ),
    ]
