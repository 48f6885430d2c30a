"""Chapter marks of a sitting's recording, read from its event log: each agenda item
taken up, each speech, each vote. Pure: the logged events and the names in, the
chapters out, as WebVTT chapters or as HLS date ranges.

Only facts are read, as in the minutes (session_server/minutes.py): the item an
`agenda.item_started` names, the floor a `speakers.changed` granted, the speeches an
event ended (`speeches_ended`, whatever its kind), the vote a `vote.*` opened or closed.
An event without the facts (an older log) is passed over, never an error: a recording's
chapters must not fail because of one odd line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from broadcast import hls

ITEM, SPEAKER, VOTE = "item", "speaker", "vote"


@dataclass(frozen=True)
class Chapter:
    """A stretch of the sitting: `end` is None while it lasts."""

    id: str
    kind: str
    title: str
    start: datetime
    end: datetime | None


def _time(value: Any) -> datetime | None:
    """A logged time (ISO 8601 with Z), or None when it isn't one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None  # not a time the log writes; better no chapter than a wrong one
    return moment.astimezone(UTC)


def _id(value: Any) -> int | None:
    # bool is an int to Python, never an id to the log.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Builder:
    """The chapters so far, and which are open (by item, speech and vote)."""

    def __init__(self) -> None:
        self.chapters: list[Chapter] = []
        self.ids: set[str] = set()
        self.item: int | None = None  # index of the open item chapter
        self.speeches: dict[int, tuple[int | None, int]] = {}  # index -> (request, deputy)
        self.votes: dict[int, int] = {}  # vote id -> index
        self.votes_opened = 0

    def open(self, id: str, kind: str, title: str, start: datetime) -> int:
        # An item taken up a second time gets its own chapter, still a stable id.
        unique, n = id, 1
        while unique in self.ids:
            n += 1
            unique = f"{id}-{n}"
        self.ids.add(unique)
        self.chapters.append(Chapter(unique, kind, title, start, None))
        return len(self.chapters) - 1

    def close(self, index: int, end: datetime) -> None:
        chapter = self.chapters[index]
        if chapter.end is None:
            # A clock step back must not make a chapter end before it starts.
            self.chapters[index] = replace(chapter, end=max(end, chapter.start))

    def speeches_ended(self, ended: Any) -> None:
        if not isinstance(ended, list):
            return
        for speech in ended:
            if not isinstance(speech, Mapping):
                continue
            to = _time(speech.get("to"))
            if to is None:
                continue
            index = self._speech(_id(speech.get("request")), _id(speech.get("deputy")))
            if index is not None:
                del self.speeches[index]
                self.close(index, to)

    def _speech(self, request: int | None, deputy: int | None) -> int | None:
        """The open speech a `speeches_ended` entry means: by its request when both
        sides know it, else the latest open one of that deputy."""
        for index, (open_request, open_deputy) in reversed(self.speeches.items()):
            if request is not None and open_request is not None:
                if request == open_request:
                    return index
            elif deputy is not None and deputy == open_deputy:
                return index
        return None

    def close_all(self, end: datetime) -> None:
        if self.item is not None:
            self.close(self.item, end)
            self.item = None
        for index in [*self.speeches, *self.votes.values()]:
            self.close(index, end)
        self.speeches.clear()
        self.votes.clear()


def chapters(
    events: Iterable[tuple[int, Mapping[str, Any]]],
    agenda: Mapping[int, str],
    deputies: Mapping[int, str],
) -> list[Chapter]:
    """The sitting's chapters, ordered by start (ties in log order). Ids: `item-<item
    id>`, `speaker-<request id>` (`speaker-seq-<seq>` when the floor names no request),
    `vote-<vote id>`; a repeat gets `-2`, `-3`."""
    b = _Builder()
    for seq, event in events:
        if not isinstance(event, Mapping):
            continue
        # First what the event ended: a grant ends the speech before it in the same event.
        b.speeches_ended(event.get("speeches_ended"))
        kind, at = event.get("kind"), _time(event.get("at"))
        if at is None:
            continue
        if kind == "agenda.item_started":
            item = _id(event.get("item"))
            if item is None:
                continue
            if b.item is not None:
                b.close(b.item, at)
            b.item = b.open(f"item-{item}", ITEM, agenda.get(item, f"#{item}"), at)
        elif kind == "speakers.changed":
            floor = event.get("floor")
            if not isinstance(floor, Mapping) or floor.get("action") != "granted":
                continue
            deputy = _id(floor.get("deputy"))
            if deputy is None:
                continue
            request = _id(floor.get("request"))
            id = f"speaker-{request}" if request is not None else f"speaker-seq-{seq}"
            index = b.open(id, SPEAKER, deputies.get(deputy, f"#{deputy}"), at)
            b.speeches[index] = (request, deputy)
        elif kind == "vote.opened":
            vote = event.get("vote")
            vote_id = _id(vote.get("id")) if isinstance(vote, Mapping) else None
            if vote is None or vote_id is None or vote_id in b.votes:
                continue
            b.votes_opened += 1
            question = vote.get("question")
            title = f"Vote {b.votes_opened}"
            if isinstance(question, str) and question:
                title += f": {question}"
            b.votes[vote_id] = b.open(f"vote-{vote_id}", VOTE, title, at)
        elif kind in ("vote.closed", "vote.cancelled"):
            vote = event.get("vote")
            vote_id = _id(vote.get("id")) if isinstance(vote, Mapping) else None
            if vote_id is not None and vote_id in b.votes:
                b.close(b.votes.pop(vote_id), at)
        elif kind == "session.closed":
            b.close_all(at)
    return sorted(b.chapters, key=lambda c: c.start)


# -- WebVTT ---------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"[\r\n]+")


def _ms(offset: timedelta) -> int:
    # Floored to the millisecond and clipped at 0: a cue must not start before the media.
    return max(0, offset // timedelta(milliseconds=1))


def timestamp(offset: timedelta) -> str:
    """A WebVTT timestamp, HH:MM:SS.mmm (hours may run past 99)."""
    ms = _ms(offset)
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{ms:03d}"


def cue_text(title: str) -> str:
    """A title as cue text: & < > escaped (which also rules out "-->"), one line, since
    a blank line would end the cue."""
    text = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LINE_BREAKS.sub(" ", text).strip()


def webvtt(chapters: Iterable[Chapter], origin: datetime, until: datetime | None = None) -> str:
    """A WebVTT chapters file with times relative to `origin`, the recording's start.
    A chapter still open ends at `until` (the recording's end; required if any is
    open), and none runs past it; cues are clipped at 0, and a chapter left with no
    time inside the recording is left out (a cue must end after it starts)."""
    origin = origin.astimezone(UTC)
    blocks = ["WEBVTT\n"]
    for chapter in chapters:
        end = chapter.end
        if end is None:
            if until is None:
                raise ValueError(f"chapter {chapter.id!r} is open: give `until`")
            end = until
        elif until is not None:
            end = min(end, until)
        start, finish = chapter.start - origin, end - origin
        if _ms(finish) <= _ms(start):
            continue
        # The cue identifier lets a player (and a test) name the chapter; it must not
        # contain "-->" or a line break, which generated ids never do.
        ident = (
            chapter.id if "-->" not in chapter.id and not _LINE_BREAKS.search(chapter.id) else ""
        )
        lines = [ident] if ident else []
        lines += [f"{timestamp(start)} --> {timestamp(finish)}", cue_text(chapter.title)]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def dateranges(chapters: Iterable[Chapter]) -> list[hls.DateRange]:
    """The chapters as HLS date ranges (CLASS kengash.chapter.<kind>)."""
    return [hls.DateRange(c.id, c.start, c.end, c.title, c.kind) for c in chapters]


# Events that start or end a chapter; any event may end speeches (`speeches_ended`).
CHAPTER_KINDS = frozenset(
    {
        "agenda.item_started",
        "speakers.changed",
        "vote.opened",
        "vote.closed",
        "vote.cancelled",
        "session.closed",
    }
)


def marks_chapters(event: Mapping[str, Any]) -> bool:
    """Whether a logged event starts or ends a chapter (what `chapters` reads)."""
    return event.get("kind") in CHAPTER_KINDS or bool(event.get("speeches_ended"))


def from_dateranges(marks: Iterable[hls.DateRange]) -> list[Chapter]:
    """The chapter marks of a recording read back, as chapters, ordered by start."""
    chapters = [
        Chapter(m.id, m.kind, m.title, m.start, m.end)
        for m in marks
        if m.kind in (ITEM, SPEAKER, VOTE)
    ]
    return sorted(chapters, key=lambda c: (c.start, c.id))


def media_offset(playlist: hls.ParsedPlaylist, moment: datetime) -> timedelta:
    """Where a wall-clock moment falls in the recording as a player plays it. Between
    discontinuities the media runs with the wall clock from the stretch's first program
    date time (for a recording without a break: the moment less the first segment's
    PDT); a gap between stretches (the publisher away, the server restarted) takes no
    media time, so a moment in it falls at the next stretch's start. Before the first
    segment: 0; after the last: the end."""
    played = timedelta()
    stretches: list[tuple[datetime | None, timedelta]] = []  # (first PDT, length)
    for segment in playlist.segments:
        length = timedelta(seconds=segment.duration)
        if not stretches or segment.discontinuity:
            stretches.append((segment.program_date_time, length))
        else:
            start, so_far = stretches[-1]
            stretches[-1] = (start, so_far + length)
    for start, length in stretches:
        if start is not None:
            if moment < start:
                return played
            if moment < start + length:
                return played + (moment - start)
        played += length
    return played


def recording_webvtt(playlist: hls.ParsedPlaylist) -> str | None:
    """The WebVTT chapters of a recording's playlist, timed as it plays: from its first
    segment's program date time, the gaps between segments left out (`media_offset`),
    nothing past its end (a chapter still open runs to there). None while it has no
    segment to time anything by."""
    if not playlist.segments or any(s.program_date_time is None for s in playlist.segments):
        return None
    origin = playlist.segments[0].program_date_time
    assert origin is not None
    until = origin + sum((timedelta(seconds=s.duration) for s in playlist.segments), timedelta())

    def at(moment: datetime) -> datetime:
        return origin + media_offset(playlist, moment)

    timed = [
        replace(c, start=at(c.start), end=None if c.end is None else at(c.end))
        for c in from_dateranges(playlist.dateranges)
    ]
    return webvtt(timed, origin, until)
