"""The recording's chapter marks, from the sitting's event log: a hub reaction.

For a sitting being recorded, each committed event that takes up an agenda item, gives
or ends the floor, or opens or ends a vote becomes an EXT-X-DATERANGE mark in the
recording (broadcast/chapters.py builds the chapters from the log's facts). The first
time a recording is touched the whole log is read, so what was already under way when
the broadcast began (the item being debated) is marked too; after that, only the new
events are added to what is kept. The chapters are rebuilt from those facts each time
and handed to the recording thread, which alone touches the segmenter: a mark already
in the playlist never changes, a new one is added, an open one ended.

Only what the public sees goes into a recording anyone may watch: every event is
projected for the public audience before it is read (a speaker's topic stays out).

This reaction also ends the recording when the sitting closes, after its last marks
(it runs the recordings' own reaction then): two reactions racing could end the
recording before the marks of the events that closed the sitting were in. A recording
left over by a server that went down gets its marks and ENDLIST here too: at start-up
for a sitting closed meanwhile (`catch_up`), or when the sitting closes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlalchemy import select

from broadcast import chapters
from broadcast.hls import DateRange
from broadcast.segmenter import RECORDING_PLAYLIST
from session_server import eventlog
from session_server.db import models
from session_server.db.engine import Database
from session_server.eventlog import LoggedEvent
from session_server.live.projection import Audience, project

log = structlog.get_logger(__name__)

CHART_SECONDS = 1.0


def public_facts(events: list[LoggedEvent]) -> list[tuple[int, dict[str, Any]]]:
    """The events that start or end a chapter, as the public sees them."""
    return [
        (seq, project(event, Audience.PUBLIC))
        for seq, event in events
        if chapters.marks_chapters(event)
    ]


def _closes(events: list[LoggedEvent]) -> bool:
    return any(event.get("kind") == "session.closed" for _, event in events)


class Charted(Protocol):
    def chart(self, marks: list[DateRange]) -> None: ...


class RecordingsView(Protocol):
    """The recordings, wherever they are made (media_process.MediaRecordings on the
    server; recording.Recordings where they are made in the same process)."""

    folder: Path

    def get(self, session_id: int) -> Charted | None: ...

    async def reaction(self, session_id: int, events: list[LoggedEvent]) -> None: ...

    def unfinished(self) -> list[int]: ...

    def end_left_over(self, session_id: int, marks: list[DateRange]) -> bool: ...


class ChapterMarks:
    def __init__(self, db: Database, recordings: RecordingsView) -> None:
        self._db = db
        self._recordings = recordings
        # Per sitting being recorded: the public facts read so far, and the last seq read.
        self._facts: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        self._seen: dict[int, int] = {}
        # One batch at a time per sitting, in the order they were committed (asyncio's
        # locks are fair), so marks are never handed over out of order.
        self._locks: dict[int, asyncio.Lock] = {}
        # Marks to hand over at most every CHART_SECONDS, per sitting.
        self._pending: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def reaction(self, session_id: int, events: list[LoggedEvent]) -> None:
        """A hub reaction: the sitting's marks brought up to date, then the recordings'
        own reaction (which ends the recording when the sitting closes)."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        try:
            async with lock:
                try:
                    await self._follow(session_id, events)
                finally:
                    if _closes(events):
                        self._forget(session_id)
                        self._locks.pop(session_id, None)
        finally:
            # Marks or not (the database may fail), a closed sitting's recording ends.
            await self._recordings.reaction(session_id, events)

    async def catch_up(self) -> None:
        """At start-up: a recording left without ENDLIST by a server that went down, of a
        sitting closed meanwhile, gets its final marks and ENDLIST."""
        for session_id in await asyncio.to_thread(self._recordings.unfinished):
            try:
                async with self._db.read() as db:
                    sitting = await db.get(models.Session, session_id)
                if sitting is None or sitting.state != "closed":
                    continue  # carried on by its next publisher, or ended when it closes
                facts = public_facts(await self._read(session_id))
                marks = await self._marks(session_id, facts)
                if await asyncio.to_thread(self._recordings.end_left_over, session_id, marks):
                    log.info("recording_ended_after_restart", session=session_id)
            except Exception:  # one sitting's trouble must not keep the server from starting
                log.exception("recording_catch_up_failed", session=session_id)

    async def _follow(self, session_id: int, events: list[LoggedEvent]) -> None:
        recording = self._recordings.get(session_id)
        closing = _closes(events)
        if recording is None and not (closing and self._left_over(session_id)):
            self._forget(session_id)  # not recorded here (now): nothing to mark
            return
        facts = self._facts.get(session_id)
        seen = self._seen.get(session_id, 0)
        fresh = [(seq, event) for seq, event in events if seq > seen]
        if facts is None or (fresh and fresh[0][0] != seen + 1):
            # First touch (or a gap: events this reaction never saw): the whole log.
            logged = await self._read(session_id)
            facts = public_facts(logged)
            self._seen[session_id] = logged[-1][0] if logged else 0
            self._facts[session_id] = facts
        else:
            new = public_facts(fresh)
            if fresh:
                self._seen[session_id] = fresh[-1][0]
            if not new and not closing:
                return
            facts.extend(new)
        if recording is not None and not closing:
            # At most one rebuild a second: a mark lands on a 1-second segment anyway,
            # and a floor changing many times a second must not cost the hub a rebuild
            # (and the names' queries) per event.
            if session_id not in self._pending:
                self._pending[session_id] = asyncio.get_running_loop().call_later(
                    CHART_SECONDS, self._chart_soon, session_id
                )
            return
        pending = self._pending.pop(session_id, None)
        if pending is not None:
            pending.cancel()
        marks = await self._marks(session_id, facts)
        if recording is not None:
            recording.chart(marks)
        elif await asyncio.to_thread(self._recordings.end_left_over, session_id, marks):
            log.info("recording_ended_after_restart", session=session_id)

    def _chart_soon(self, session_id: int) -> None:
        task = asyncio.ensure_future(self._chart(session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _chart(self, session_id: int) -> None:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            if self._pending.pop(session_id, None) is None:
                return  # charted already (the sitting closed meanwhile)
            facts = self._facts.get(session_id)
            recording = self._recordings.get(session_id)
            if facts is None or recording is None:
                return
            try:
                recording.chart(await self._marks(session_id, list(facts)))
            except Exception:  # the next event tries again
                log.exception("chapter_marks_failed", session=session_id)

    def _left_over(self, session_id: int) -> bool:
        # A closing sitting with a recording on disk that no one here carries on.
        return (self._recordings.folder / str(session_id) / RECORDING_PLAYLIST).is_file()

    def _forget(self, session_id: int) -> None:
        self._facts.pop(session_id, None)
        self._seen.pop(session_id, None)
        pending = self._pending.pop(session_id, None)
        if pending is not None:
            pending.cancel()

    async def _read(self, session_id: int) -> list[LoggedEvent]:
        async with self._db.read() as db:
            return await eventlog.read_since(db, session_id)

    async def _marks(
        self, session_id: int, facts: list[tuple[int, dict[str, Any]]]
    ) -> list[DateRange]:
        agenda, deputies = await self._names(session_id)
        return chapters.dateranges(chapters.chapters(facts, agenda, deputies))

    async def _names(self, session_id: int) -> tuple[Mapping[int, str], Mapping[int, str]]:
        """The sitting's agenda items ("2. Budjet ...") and its council's deputies, by id:
        what the chapters' titles say."""
        async with self._db.read() as db:
            sitting = await db.get(models.Session, session_id)
            if sitting is None:
                return {}, {}
            items = await db.scalars(
                select(models.AgendaItem).where(models.AgendaItem.session_id == session_id)
            )
            deputies = await db.scalars(
                select(models.Deputy).where(models.Deputy.council_id == sitting.council_id)
            )
            return (
                {i.id: f"{i.position}. {i.title}" for i in items},
                {d.id: d.full_name for d in deputies},
            )
