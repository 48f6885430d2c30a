"""HLS media playlists (RFC 8216) for a sitting's broadcast: the sliding live playlist
and the whole recording. Pure: the muxer tells this model about each segment it wrote
and each chapter mark, with the times; the model only writes and reads text.

Every segment carries its EXT-X-PROGRAM-DATE-TIME, so a viewer (and the minutes) can
map any moment of the media to the wall clock and to the session's event log."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

# Floating-point EXTINF durations need protocol version 3 (§7); nothing written here
# needs more (EXT-X-PROGRAM-DATE-TIME and EXT-X-DATERANGE carry no version).
VERSION = 3
# §6.2.2: a live playlist must not shrink below three target durations.
MIN_WINDOW_TARGETS = 3
CHAPTER_CLASS = "kengash.chapter."

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# IDs and kinds are the program's own words: refused rather than rewritten.
_NAME = re.compile(r"[A-Za-z0-9._:-]+")
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)(?:,|$)')


def _utc(moment: datetime, what: str) -> datetime:
    # A naive time could be anyone's local time: the playlist speaks UTC only.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (UTC), got naive {moment!r}")
    return moment.astimezone(UTC)


def format_date(moment: datetime) -> str:
    """ISO 8601 with milliseconds and Z (§4.3.2.6: date-time with a time zone)."""
    moment = _utc(moment, "date")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _milliseconds(moment: datetime) -> int:
    # What the playlist can tell apart: times are written to the millisecond (floored,
    # like format_date); integer arithmetic, so no float rounding decides an order.
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def format_duration(seconds: float) -> str:
    """An EXTINF duration as written: a decimal-floating-point with milliseconds."""
    return str(Decimal(repr(seconds)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def target_for(duration: float) -> int:
    """The smallest target duration an EXTINF of `duration` fits under. §4.3.3.1 only
    asks that the EXTINF rounded to the nearest integer be <= the target; taking the
    ceiling of the written value also keeps the unrounded EXTINF under it, which some
    players assume. The written value, not the float, so 6.0000001 gives 6."""
    return int(Decimal(format_duration(duration)).to_integral_value(rounding=ROUND_CEILING))


def quoted(value: str) -> str:
    """A quoted-string attribute value (§4.2): no `"`, CR or LF may appear inside, so
    double quotes become apostrophes and control characters (line breaks) a space."""
    return '"' + _CONTROL.sub(" ", value).replace('"', "'").strip() + '"'


@dataclass(frozen=True)
class Segment:
    """One media segment as the muxer wrote it: its URI (relative to the playlist),
    its duration in seconds, the wall-clock time of its first sample, and whether it
    follows a break in the encoding (a publisher reconnect: new timestamps, maybe new
    parameters, §4.3.2.3)."""

    uri: str
    duration: float
    program_date_time: datetime
    discontinuity: bool = False

    def __post_init__(self) -> None:
        if not self.uri or _CONTROL.search(self.uri) or self.uri.startswith("#"):
            # A line break would end the URI line, a leading # would make it a tag.
            raise ValueError(f"segment URI must be one line not starting with '#': {self.uri!r}")
        if not math.isfinite(self.duration) or self.duration <= 0:
            raise ValueError(f"segment duration must be positive: {self.duration!r}")
        if Decimal(format_duration(self.duration)) <= 0:
            raise ValueError(f"segment duration too short to write: {self.duration!r}")
        object.__setattr__(
            self, "program_date_time", _utc(self.program_date_time, "program_date_time")
        )


@dataclass(frozen=True)
class DateRange:
    """A chapter mark (§4.3.2.7): an item taken up, a speech, a vote. `end` is None
    while it lasts; the END-DATE is added once known (§4.3.2.7 lets a later tag with
    the same ID add attributes, never change them)."""

    id: str
    start: datetime
    end: datetime | None
    title: str
    kind: str

    def __post_init__(self) -> None:
        for what, name in (("ID", self.id), ("kind", self.kind)):
            if not _NAME.fullmatch(name):
                raise ValueError(f"date range {what} must match {_NAME.pattern}: {name!r}")
        object.__setattr__(self, "start", _utc(self.start, "start"))
        if self.end is not None:
            end = _utc(self.end, "end")
            if end < self.start:
                raise ValueError(f"date range {self.id!r} ends before it starts")
            object.__setattr__(self, "end", end)

    def tag(self) -> str:
        parts = [
            f"ID={quoted(self.id)}",
            f"CLASS={quoted(CHAPTER_CLASS + self.kind)}",
            f"START-DATE={quoted(format_date(self.start))}",
        ]
        if self.end is not None:
            parts.append(f"END-DATE={quoted(format_date(self.end))}")
        # A client attribute (X- prefix): players that don't know it ignore it.
        parts.append(f"X-TITLE={quoted(self.title)}")
        return "#EXT-X-DATERANGE:" + ",".join(parts)

    def overlaps(self, begin: datetime, finish: datetime) -> bool:
        """Whether any of it falls in [begin, finish); a zero-length mark counts as a
        point in time."""
        if self.start >= finish:
            return False
        return self.end is None or self.end > begin or self.start >= begin


@dataclass
class MediaPlaylist:
    """The playlist model the muxer drives. Segment i (in order of `add`) has media
    sequence number i. With `target_duration` set, it is fixed (a live playlist's
    target duration must not change) and longer segments are refused; without it, it
    is the ceiling of the longest segment so far, so it never shrinks as the window
    slides."""

    target_duration: int | None = None
    segments: list[Segment] = field(default_factory=list)
    marks: dict[str, DateRange] = field(default_factory=dict)
    ended: bool = False

    def __post_init__(self) -> None:
        if self.target_duration is not None and self.target_duration < 1:
            raise ValueError("target duration must be at least 1 second")

    # -- what the muxer tells it --------------------------------------------------

    def add(self, segment: Segment) -> int:
        """Append a segment; its media sequence number back."""
        self._refuse_after_end("add a segment")
        if self.target_duration is not None and target_for(segment.duration) > (
            self.target_duration
        ):
            raise ValueError(
                f"segment of {segment.duration}s is longer than the target duration "
                f"{self.target_duration}s"
            )
        if self.segments:
            previous = self.segments[-1].program_date_time
            # Compared as written (milliseconds), so the PDTs in the text strictly increase.
            if _milliseconds(segment.program_date_time) <= _milliseconds(previous):
                raise ValueError(
                    f"program date time goes backwards: {format_date(segment.program_date_time)}"
                    f" after {format_date(previous)}"
                )
        self.segments.append(segment)
        return len(self.segments) - 1

    def mark(self, daterange: DateRange) -> None:
        self._refuse_after_end("add a chapter mark")
        if daterange.id in self.marks:
            raise ValueError(f"date range {daterange.id!r} is already marked")
        self.marks[daterange.id] = daterange

    def end_mark(self, id: str, end: datetime) -> None:
        self._refuse_after_end("end a chapter mark")
        mark = self.marks.get(id)
        if mark is None:
            raise ValueError(f"no date range {id!r}")
        end = _utc(end, "end")
        if mark.end is not None:
            if mark.end != end:
                # §4.3.2.7: a later tag with the same ID must not change an attribute.
                raise ValueError(f"date range {id!r} already ended at {format_date(mark.end)}")
            return
        self.marks[id] = replace(mark, end=end)

    def chart(self, marks: Iterable[DateRange]) -> bool:
        """Bring the chapter marks up to `marks` (the chapters as the log now tells
        them): a new ID is marked, an open mark that now has an end is ended. A mark
        already there is never changed otherwise (§4.3.2.7), so charting the same
        chapters again, or chapters rebuilt after a restart, changes nothing. Whether
        anything changed."""
        self._refuse_after_end("chart chapter marks")
        changed = False
        for mark in marks:
            known = self.marks.get(mark.id)
            if known is None:
                self.marks[mark.id] = mark
                changed = True
            elif known.end is None and mark.end is not None:
                self.marks[mark.id] = replace(known, end=max(mark.end, known.start))
                changed = True
        return changed

    def end(self) -> None:
        """The broadcast is over: ENDLIST from now on. Marks still open end where the
        recording ends, so the recording's chapters all have an end."""
        self._refuse_after_end("end the playlist")
        finish = self.media_end()
        for id, mark in list(self.marks.items()):
            if mark.end is None:
                self.marks[id] = replace(mark, end=max(mark.start, finish or mark.start))
        self.ended = True

    def _refuse_after_end(self, what: str) -> None:
        # After ENDLIST the recording is VOD: it must not change (§4.3.3.5).
        if self.ended:
            raise ValueError(f"cannot {what}: the playlist has ended")

    # -- what it says ---------------------------------------------------------------

    def media_end(self) -> datetime | None:
        if not self.segments:
            return None
        last = self.segments[-1]
        return _after(last.program_date_time, last.duration)

    def effective_target_duration(self) -> int:
        if self.target_duration is not None:
            return self.target_duration
        # Before the first segment there is nothing to play; 1 keeps the tag valid.
        return max((target_for(s.duration) for s in self.segments), default=1)

    def window_start(self, window_segments: int) -> int:
        """The media sequence number of the first segment in the live window: the last
        `window_segments` segments, more if those last less than three target durations
        (§6.2.2). The muxer may delete a segment file once it has been out of the window
        for its duration plus the window's (§6.2.2 again)."""
        if window_segments < 1:
            raise ValueError("the live window needs at least one segment")
        minimum = Decimal(MIN_WINDOW_TARGETS * self.effective_target_duration())
        first = max(0, len(self.segments) - window_segments)
        total = sum(
            (Decimal(format_duration(s.duration)) for s in self.segments[first:]), Decimal()
        )
        while first > 0 and total < minimum:
            first -= 1
            total += Decimal(format_duration(self.segments[first].duration))
        return first

    def live_text(self, window_segments: int = 6) -> str:
        first = self.window_start(window_segments)
        # §6.2.2: each EXT-X-DISCONTINUITY dropped with its segment is counted here.
        dropped = sum(1 for s in self.segments[:first] if s.discontinuity)
        lines = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{VERSION}",
            f"#EXT-X-TARGETDURATION:{self.effective_target_duration()}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{dropped}",
        ]
        return self._text(lines, first, every_mark=False)

    def recording_text(self) -> str:
        lines = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{VERSION}",
            f"#EXT-X-TARGETDURATION:{self.effective_target_duration()}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            # EVENT: segments are only ever appended; with ENDLIST it can no longer
            # change, which is what VOD promises (§4.3.3.5).
            "#EXT-X-PLAYLIST-TYPE:EVENT",
        ]
        return self._text(lines, 0, every_mark=True)

    def _text(self, lines: list[str], first: int, *, every_mark: bool) -> str:
        window = self.segments[first:]
        # §4.3.2.7: date ranges need a PROGRAM-DATE-TIME in the playlist (every segment
        # has one, so: any segment). The recording has every chapter; the live window
        # only those touching it, or the playlist would grow all sitting long.
        if window:
            marks = list(self.marks.values())
            if not every_mark:
                begin = window[0].program_date_time
                finish = _after(window[-1].program_date_time, window[-1].duration)
                marks = [m for m in marks if m.overlaps(begin, finish)]
            lines.extend(m.tag() for m in sorted(marks, key=lambda m: (m.start, m.id)))
        for segment in window:
            if segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            # PDT on every segment, not only after discontinuities: a viewer joining
            # anywhere gets wall-clock time without adding up durations.
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_date(segment.program_date_time)}")
            lines.append(f"#EXTINF:{format_duration(segment.duration)},")
            lines.append(segment.uri)
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"


def _after(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedSegment:
    """A segment as read: its media sequence number, and its discontinuity sequence
    number (the playlist's EXT-X-DISCONTINUITY-SEQUENCE plus the EXT-X-DISCONTINUITY
    tags up to and including its own)."""

    sequence: int
    discontinuity_sequence: int
    uri: str
    duration: float
    program_date_time: datetime | None
    discontinuity: bool


@dataclass(frozen=True)
class ParsedPlaylist:
    version: int | None
    target_duration: int
    media_sequence: int
    discontinuity_sequence: int
    playlist_type: str | None
    ended: bool
    segments: list[ParsedSegment]
    dateranges: list[DateRange]


def parse_attributes(text: str) -> dict[str, str]:
    """An attribute-list (§4.2), quoted-string values unquoted."""
    attributes: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _ATTRIBUTE.match(text, position)
        if match is None:
            raise ValueError(f"malformed attribute list at {position}: {text!r}")
        name, value = match.group(1), match.group(2)
        if name in attributes:
            raise ValueError(f"attribute {name} given twice")
        attributes[name] = value[1:-1] if value.startswith('"') else value
        position = match.end()
    return attributes


def parse_date(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return _utc(moment, "date")


def parse(text: str) -> ParsedPlaylist:
    """Read a media playlist back, strictly: what this module writes round-trips, and
    anything it would not write (an unknown tag, an EXTINF over the target duration,
    a URI without an EXTINF, a header tag twice) raises ValueError."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("a playlist starts with #EXTM3U")
    header: dict[str, str] = {}
    segments: list[ParsedSegment] = []
    dateranges: dict[str, DateRange] = {}
    ended = False
    pending_duration: float | None = None
    pending_pdt: datetime | None = None
    pending_discontinuity = False
    discontinuities = 0
    header_tags = (
        "EXT-X-VERSION",
        "EXT-X-TARGETDURATION",
        "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE",
        "EXT-X-PLAYLIST-TYPE",
    )
    for number, line in enumerate(lines[1:], start=2):
        if "\r" in line:
            raise ValueError(f"line {number}: CR inside a line")
        if ended:
            raise ValueError(f"line {number}: content after #EXT-X-ENDLIST")
        if not line:
            continue
        if not line.startswith("#"):
            if pending_duration is None:
                raise ValueError(f"line {number}: URI without #EXTINF")
            segments.append(
                ParsedSegment(
                    sequence=0,  # numbered below, once MEDIA-SEQUENCE is known
                    discontinuity_sequence=discontinuities,
                    uri=line,
                    duration=pending_duration,
                    program_date_time=pending_pdt,
                    discontinuity=pending_discontinuity,
                )
            )
            pending_duration, pending_pdt, pending_discontinuity = None, None, False
            continue
        if not line.startswith("#EXT"):
            continue  # a comment (§4.1)
        tag, _, value = line[1:].partition(":")
        if tag in header_tags:
            if tag in header:
                raise ValueError(f"line {number}: {tag} given twice")
            if segments or pending_duration is not None:
                raise ValueError(f"line {number}: {tag} after the first segment")
            header[tag] = value
        elif tag == "EXTINF":
            duration, comma, _title = value.partition(",")
            if not comma:
                raise ValueError(f"line {number}: EXTINF without a comma")
            try:
                pending_duration = float(Decimal(duration))
            except ArithmeticError:  # decimal.InvalidOperation is no ValueError
                raise ValueError(f"line {number}: EXTINF duration {duration!r}") from None
            if not math.isfinite(pending_duration):
                raise ValueError(f"line {number}: EXTINF duration {duration!r}")
            if pending_duration <= 0:
                raise ValueError(f"line {number}: EXTINF duration must be positive")
        elif tag == "EXT-X-PROGRAM-DATE-TIME":
            pending_pdt = parse_date(value)
        elif tag == "EXT-X-DISCONTINUITY":
            pending_discontinuity = True
            discontinuities += 1
        elif tag == "EXT-X-DATERANGE":
            mark = _parse_daterange(value)
            known = dateranges.get(mark.id)
            if known is not None and known != mark:
                raise ValueError(f"line {number}: date range {mark.id!r} given differently")
            dateranges[mark.id] = mark
        elif tag == "EXT-X-ENDLIST":
            ended = True
        else:
            raise ValueError(f"line {number}: unknown tag #{tag}")
    if pending_duration is not None:
        raise ValueError("#EXTINF at the end without a URI")
    if "EXT-X-TARGETDURATION" not in header:
        raise ValueError("#EXT-X-TARGETDURATION is required")
    target = int(header["EXT-X-TARGETDURATION"])
    media_sequence = int(header.get("EXT-X-MEDIA-SEQUENCE", "0"))
    discontinuity_sequence = int(header.get("EXT-X-DISCONTINUITY-SEQUENCE", "0"))
    numbered = []
    for i, s in enumerate(segments):
        # §4.3.3.1: the EXTINF rounded to the nearest integer fits the target.
        rounded = Decimal(repr(s.duration)).to_integral_value(rounding=ROUND_HALF_UP)
        if rounded > target:
            raise ValueError(f"EXTINF {s.duration} exceeds the target duration {target}")
        numbered.append(
            replace(
                s,
                sequence=media_sequence + i,
                discontinuity_sequence=discontinuity_sequence + s.discontinuity_sequence,
            )
        )
    return ParsedPlaylist(
        version=int(header["EXT-X-VERSION"]) if "EXT-X-VERSION" in header else None,
        target_duration=target,
        media_sequence=media_sequence,
        discontinuity_sequence=discontinuity_sequence,
        playlist_type=header.get("EXT-X-PLAYLIST-TYPE"),
        ended=ended,
        segments=numbered,
        dateranges=list(dateranges.values()),
    )


def _parse_daterange(value: str) -> DateRange:
    attributes = parse_attributes(value)
    for required in ("ID", "START-DATE"):
        if required not in attributes:
            raise ValueError(f"EXT-X-DATERANGE without {required}")
    kind = attributes.get("CLASS", "")
    if not kind.startswith(CHAPTER_CLASS):
        raise ValueError(f"EXT-X-DATERANGE of class {kind!r}, not a chapter")
    end = attributes.get("END-DATE")
    return DateRange(
        id=attributes["ID"],
        start=parse_date(attributes["START-DATE"]),
        end=parse_date(end) if end is not None else None,
        title=attributes.get("X-TITLE", ""),
        kind=kind[len(CHAPTER_CLASS) :],
    )


# -- carrying on ----------------------------------------------------------------------


def resumed(parsed: ParsedPlaylist, target_duration: int | None = None) -> MediaPlaylist:
    """The model of a recording read back (after a server restart), ready to be
    carried on: its segments in order, its chapter marks as they were, ENDLIST if it
    had one. Only a recording can be carried on: it starts at media sequence 0 and every
    segment has its EXT-X-PROGRAM-DATE-TIME (what `recording_text` writes), or the
    numbering and the chapters' times would be guesses. `target_duration`, if given,
    must hold every segment already there (a live playlist's must not shrink)."""
    if parsed.media_sequence != 0 or parsed.discontinuity_sequence != 0:
        raise ValueError("not a whole recording: it does not start at media sequence 0")
    target = None if target_duration is None else max(target_duration, parsed.target_duration)
    playlist = MediaPlaylist(target_duration=target)
    for s in parsed.segments:
        if s.program_date_time is None:
            raise ValueError(f"segment {s.uri!r} has no EXT-X-PROGRAM-DATE-TIME")
        playlist.add(Segment(s.uri, s.duration, s.program_date_time, s.discontinuity))
    for mark in parsed.dateranges:
        playlist.mark(mark)
    playlist.ended = parsed.ended
    return playlist
