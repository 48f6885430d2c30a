"""Chapter marks read from a sitting's event log (broadcast/chapters.py): items, speeches
and votes with their exact times and titles, as WebVTT and as HLS date ranges; old or
odd events passed over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcast import hls
from broadcast.chapters import (
    CHAPTER_KINDS,
    Chapter,
    chapters,
    cue_text,
    dateranges,
    from_dateranges,
    marks_chapters,
    media_offset,
    recording_webvtt,
    timestamp,
    webvtt,
)

AGENDA = {
    7: "1. Kun tartibini tasdiqlash toʻgʻrisida",
    8: "2. Budjet toʻgʻrisida",
    9: "3. Маҳаллий бюджет ижроси тўғрисида",
}
DEPUTIES = {21: "Karimova Dilnoza Oʻktamovna", 34: "Алиев Бахтиёр Рустамович"}


def t(clock: str) -> datetime:
    """10:04:00.5 on the sitting's day, UTC."""
    return datetime.fromisoformat(f"2026-12-01T{clock}+00:00")


def wire(clock: str) -> str:
    """A time as the server logs it (models.iso: isoformat with Z)."""
    return t(clock).isoformat().replace("+00:00", "Z")


def speech(request: int, deputy: int, item: int, start: str, end: str) -> dict[str, Any]:
    return {
        "request": request,
        "deputy": deputy,
        "item": item,
        "topic": "",
        "from": wire(start),
        "to": wire(end),
    }


def ev(kind: str, clock: str, **facts: Any) -> dict[str, Any]:
    return {"kind": kind, "at": wire(clock), **facts}


def vote(id: int, question: str, state: str) -> dict[str, Any]:
    return {"id": id, "item": None, "question": question, "kind": "motion", "state": state}


SITTING: list[tuple[int, dict[str, Any]]] = list(
    enumerate(
        [
            ev("session.opened", "10:00:00", session={"state": "open"}),
            ev("attendance.changed", "10:00:01", deputy=21, present=True),
            ev("agenda.item_started", "10:00:05.25", item=7, previous=None, speeches_ended=[]),
            ev("vote.opened", "10:02:00", vote=vote(11, "Kun tartibi tasdiqlansin", "open")),
            ev("vote.progress", "10:02:30", vote=vote(11, "Kun tartibi tasdiqlansin", "open")),
            ev("vote.closed", "10:03:30", vote=vote(11, "Kun tartibi tasdiqlansin", "closed")),
            ev("agenda.item_started", "10:04:00", item=8, previous=7, speeches_ended=[]),
            ev("speakers.changed", "10:04:10", floor={"action": "requested", "request": 41}),
            ev(
                "speakers.changed",
                "10:05:00.5",
                floor={"action": "granted", "request": 41, "deputy": 21, "seconds": 300},
                speeches_ended=[],
            ),
            ev(
                "speakers.changed",
                "10:12:30",
                floor={"action": "granted", "request": 42, "deputy": 34, "seconds": 300},
                speeches_ended=[speech(41, 21, 8, "10:05:00.5", "10:12:30")],
            ),
            # Opening a vote ended the speech under way: any event can end speeches.
            ev(
                "vote.opened",
                "10:19:59",
                vote=vote(12, 'Budjet "2027" loyihasi qabul qilinsin', "open"),
                speeches_ended=[speech(42, 34, 8, "10:12:30", "10:19:59")],
            ),
            ev("vote.cancelled", "10:21:00", vote=vote(12, "Budjet", "cancelled")),
            ev("vote.opened", "10:22:00", vote=vote(13, "Бюджет лойиҳаси қабул қилинсин", "open")),
            ev("vote.closed", "10:25:00", vote=vote(13, "Бюджет", "closed")),
            ev("agenda.item_started", "10:30:00", item=9, previous=8, speeches_ended=[]),
            ev(
                "speakers.changed",
                "10:31:00",
                floor={"action": "granted", "request": 43, "deputy": 21, "seconds": 120},
                speeches_ended=[],
            ),
            ev(
                "session.closed",
                "10:40:00.125",
                finished_item=9,
                speeches_ended=[speech(43, 21, 9, "10:31:00", "10:40:00.125")],
            ),
        ],
        start=101,
    )
)

EXPECTED = [
    Chapter("item-7", "item", AGENDA[7], t("10:00:05.25"), t("10:04:00")),
    Chapter("vote-11", "vote", "Vote 1: Kun tartibi tasdiqlansin", t("10:02:00"), t("10:03:30")),
    Chapter("item-8", "item", AGENDA[8], t("10:04:00"), t("10:30:00")),
    Chapter("speaker-41", "speaker", DEPUTIES[21], t("10:05:00.5"), t("10:12:30")),
    Chapter("speaker-42", "speaker", DEPUTIES[34], t("10:12:30"), t("10:19:59")),
    Chapter(
        "vote-12",
        "vote",
        'Vote 2: Budjet "2027" loyihasi qabul qilinsin',
        t("10:19:59"),
        t("10:21:00"),
    ),
    Chapter(
        "vote-13", "vote", "Vote 3: Бюджет лойиҳаси қабул қилинсин", t("10:22:00"), t("10:25:00")
    ),
    Chapter("item-9", "item", AGENDA[9], t("10:30:00"), t("10:40:00.125")),
    Chapter("speaker-43", "speaker", DEPUTIES[21], t("10:31:00"), t("10:40:00.125")),
]


def test_a_sitting_s_chapters() -> None:
    assert chapters(SITTING, AGENDA, DEPUTIES) == EXPECTED


def test_webvtt_of_the_sitting() -> None:
    # The broadcast started two seconds after the session opened.
    assert webvtt(EXPECTED, origin=t("10:00:02")) == (
        "WEBVTT\n"
        "\n"
        "item-7\n"
        "00:00:03.250 --> 00:03:58.000\n"
        "1. Kun tartibini tasdiqlash toʻgʻrisida\n"
        "\n"
        "vote-11\n"
        "00:01:58.000 --> 00:03:28.000\n"
        "Vote 1: Kun tartibi tasdiqlansin\n"
        "\n"
        "item-8\n"
        "00:03:58.000 --> 00:29:58.000\n"
        "2. Budjet toʻgʻrisida\n"
        "\n"
        "speaker-41\n"
        "00:04:58.500 --> 00:12:28.000\n"
        "Karimova Dilnoza Oʻktamovna\n"
        "\n"
        "speaker-42\n"
        "00:12:28.000 --> 00:19:57.000\n"
        "Алиев Бахтиёр Рустамович\n"
        "\n"
        "vote-12\n"
        "00:19:57.000 --> 00:20:58.000\n"
        'Vote 2: Budjet "2027" loyihasi qabul qilinsin\n'
        "\n"
        "vote-13\n"
        "00:21:58.000 --> 00:24:58.000\n"
        "Vote 3: Бюджет лойиҳаси қабул қилинсин\n"
        "\n"
        "item-9\n"
        "00:29:58.000 --> 00:39:58.125\n"
        "3. Маҳаллий бюджет ижроси тўғрисида\n"
        "\n"
        "speaker-43\n"
        "00:30:58.000 --> 00:39:58.125\n"
        "Karimova Dilnoza Oʻktamovna\n"
    )


def test_webvtt_clips_and_ends_open_chapters() -> None:
    still_going = chapters(SITTING[:12], AGENDA, DEPUTIES)  # up to the cancelled vote
    assert [(c.id, c.end) for c in still_going if c.end is None] == [("item-8", None)]
    with pytest.raises(ValueError, match="open"):
        webvtt(still_going, origin=t("10:00:02"))
    # The recording started late (10:03:00) and is read at 10:20:30.
    text = webvtt(still_going, origin=t("10:03:00"), until=t("10:20:30"))
    assert text == (
        "WEBVTT\n"
        "\n"
        "item-7\n"
        "00:00:00.000 --> 00:01:00.000\n"
        "1. Kun tartibini tasdiqlash toʻgʻrisida\n"
        "\n"
        "vote-11\n"
        "00:00:00.000 --> 00:00:30.000\n"
        "Vote 1: Kun tartibi tasdiqlansin\n"
        "\n"
        "item-8\n"
        "00:01:00.000 --> 00:17:30.000\n"
        "2. Budjet toʻgʻrisida\n"
        "\n"
        "speaker-41\n"
        "00:02:00.500 --> 00:09:30.000\n"
        "Karimova Dilnoza Oʻktamovna\n"
        "\n"
        "speaker-42\n"
        "00:09:30.000 --> 00:16:59.000\n"
        "Алиев Бахтиёр Рустамович\n"
        "\n"
        "vote-12\n"
        "00:16:59.000 --> 00:17:30.000\n"
        'Vote 2: Budjet "2027" loyihasi qabul qilinsin\n'
    )
    # A chapter wholly before the recording has no cue at all.
    assert "item-7" not in webvtt(still_going, origin=t("10:04:00"), until=t("10:20:30"))


def test_webvtt_cue_text_is_escaped() -> None:
    assert cue_text('A <b> & "-->" C\r\nD') == 'A &lt;b&gt; &amp; "--&gt;" C D'
    chapter = Chapter("x-1", "item", "Tom & Jerry --> <i>", t("10:00:00"), t("10:00:01"))
    text = webvtt([chapter], origin=t("10:00:00"))
    assert (
        text == "WEBVTT\n\nx-1\n00:00:00.000 --> 00:00:01.000\nTom &amp; Jerry --&gt; &lt;i&gt;\n"
    )
    assert text.count("-->") == 1
    assert timestamp(timedelta(hours=101, milliseconds=7)) == "101:00:00.007"
    assert timestamp(timedelta(seconds=-3)) == "00:00:00.000"


def test_dateranges_into_the_playlist() -> None:
    marks = dateranges(EXPECTED)
    assert marks[0] == hls.DateRange("item-7", t("10:00:05.25"), t("10:04:00"), AGENDA[7], "item")
    p = hls.MediaPlaylist()
    p.add(hls.Segment("0.ts", 2.0, t("10:00:02")))
    for m in marks:
        p.mark(m)
    parsed = hls.parse(p.recording_text())
    assert [m.id for m in parsed.dateranges] == [c.id for c in EXPECTED]
    # The one title with a double quote comes back with an apostrophe (§4.2).
    assert parsed.dateranges[5].title == "Vote 2: Budjet '2027' loyihasi qabul qilinsin"
    assert [m for i, m in enumerate(parsed.dateranges) if i != 5] == [
        m for i, m in enumerate(marks) if i != 5
    ]


def test_events_missing_facts_are_skipped() -> None:
    junk: list[Any] = [
        {"kind": "agenda.item_started", "item": 7},  # no time
        {"kind": "agenda.item_started", "at": "2026-12-01T10:00:00", "item": 7},  # naive
        {"kind": "agenda.item_started", "at": "yesterday", "item": 7},
        {"kind": "agenda.item_started", "at": 1764583200, "item": 7},
        ev("agenda.item_started", "10:00:00"),  # which item?
        ev("agenda.item_started", "10:00:00", item="7"),
        ev("agenda.item_started", "10:00:00", item=True),
        ev("speakers.changed", "10:00:00"),
        ev("speakers.changed", "10:00:00", floor="granted"),
        ev("speakers.changed", "10:00:00", floor={"action": "granted"}),
        ev("vote.opened", "10:00:00"),
        ev("vote.opened", "10:00:00", vote=12),
        ev("vote.opened", "10:00:00", vote={"question": "?"}),
        ev("vote.closed", "10:00:00", vote={"id": 99}),  # never opened here
        ev("vote.cancelled", "10:00:00", vote=None),
        ev("session.paused", "10:00:00", speeches_ended="all"),
        ev("speakers.changed", "10:00:00", speeches_ended=[None, {"request": 1}, {"to": 5}]),
        {"at": wire("10:00:00")},
        None,
        "agenda.item_started",
    ]
    assert chapters(list(enumerate(junk)), AGENDA, DEPUTIES) == []
    # Mixed into the sitting, nothing changes.
    mixed = [pair for s in SITTING for pair in ((s[0], s[1]), *enumerate(junk, start=1000))]
    assert chapters(mixed, AGENDA, DEPUTIES) == EXPECTED


def test_old_logs_without_ids_or_names() -> None:
    events = [
        (5, ev("agenda.item_started", "10:00:00", item=70)),  # not in the agenda given
        (6, ev("speakers.changed", "10:01:00", floor={"action": "granted", "deputy": 99})),
        (7, ev("vote.opened", "10:02:00", vote={"id": 3})),
        # The speech ends by deputy when the floor named no request.
        (
            8,
            ev(
                "vote.closed",
                "10:03:00",
                vote={"id": 3},
                speeches_ended=[{"deputy": 99, "to": wire("10:02:00")}],
            ),
        ),
        # An item taken up again is its own chapter.
        (9, ev("agenda.item_started", "10:04:00", item=71)),
        (10, ev("agenda.item_started", "10:05:00", item=70)),
    ]
    assert chapters(events, {}, {}) == [
        Chapter("item-70", "item", "#70", t("10:00:00"), t("10:04:00")),
        Chapter("speaker-seq-6", "speaker", "#99", t("10:01:00"), t("10:02:00")),
        Chapter("vote-3", "vote", "Vote 1", t("10:02:00"), t("10:03:00")),
        Chapter("item-71", "item", "#71", t("10:04:00"), t("10:05:00")),
        Chapter("item-70-2", "item", "#70", t("10:05:00"), None),
    ]


# -- properties -------------------------------------------------------------------------

ids = st.integers(min_value=1, max_value=4)
clock = st.integers(min_value=0, max_value=3600).map(
    lambda s: (
        (datetime(2026, 12, 1, 10, tzinfo=UTC) + timedelta(seconds=s))
        .isoformat()
        .replace("+00:00", "Z")
    )
)
ended = st.lists(
    st.fixed_dictionaries(
        {"to": clock}, optional={"request": ids, "deputy": ids, "from": clock, "item": ids}
    ),
    max_size=2,
)
an_event = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("agenda.item_started"), "at": clock},
        optional={"item": ids, "previous": ids, "speeches_ended": ended},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("speakers.changed"),
            "at": clock,
            "floor": st.fixed_dictionaries(
                {"action": st.sampled_from(["granted", "ended", "requested"])},
                optional={"request": ids, "deputy": ids},
            ),
        },
        optional={"speeches_ended": ended},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["vote.opened", "vote.closed", "vote.cancelled"]),
            "at": clock,
            "vote": st.fixed_dictionaries({}, optional={"id": ids, "question": st.text()}),
        }
    ),
    st.fixed_dictionaries(
        {"kind": st.just("session.closed"), "at": clock}, optional={"speeches_ended": ended}
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(an_event, max_size=25))
def test_chapters_are_sorted_and_never_end_before_they_start(
    events: list[dict[str, Any]],
) -> None:
    result = chapters(list(enumerate(events)), {1: "a", 2: "b"}, {1: "x"})
    assert all(a.start <= b.start for a, b in pairwise(result))
    assert all(c.end is None or c.end >= c.start for c in result)
    assert len({c.id for c in result}) == len(result)
    # Whatever the log, the WebVTT and the date ranges can be written.
    until = datetime(2026, 12, 1, 11, 1, tzinfo=UTC)
    text = webvtt(result, origin=datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC), until=until)
    for line in text.splitlines():
        if "-->" in line:
            start, end = line.split(" --> ")
            assert start < end
    dateranges(result)


# -- the recording's chapters.vtt ---------------------------------------------------------


def recording_of(*parts: tuple[str, int]) -> hls.MediaPlaylist:
    """A recording of 1-second segments: (wall-clock start, how many) per part, each
    part after the first after a break (a reconnect, a server restart)."""
    playlist = hls.MediaPlaylist(target_duration=1)
    n = 0
    for i, (start, count) in enumerate(parts):
        for k in range(count):
            at = t(start) + timedelta(seconds=k)
            playlist.add(hls.Segment(f"seg-{n:06d}.ts", 1.0, at, discontinuity=i > 0 and k == 0))
            n += 1
    return playlist


def test_which_events_mark_chapters() -> None:
    marking = [seq for seq, event in SITTING if marks_chapters(event)]
    kinds = {event["kind"] for seq, event in SITTING if seq in marking}
    assert kinds == CHAPTER_KINDS
    assert not marks_chapters({"kind": "attendance.changed", "deputy": 21})
    assert not marks_chapters({"kind": "vote.progress"})
    assert marks_chapters({"kind": "vote.opened"})
    assert marks_chapters({"kind": "something.new", "speeches_ended": [{"request": 1}]})
    # Only the marking facts make the same chapters as the whole log.
    facts = [(seq, event) for seq, event in SITTING if marks_chapters(event)]
    assert chapters(facts, AGENDA, DEPUTIES) == EXPECTED


def test_the_recording_webvtt_is_timed_from_its_first_segment() -> None:
    playlist = recording_of(("10:02:00", 60))  # 10:02:00 to 10:03:00
    for chapter in dateranges(chapters(SITTING[:6], AGENDA, DEPUTIES)):
        playlist.mark(chapter)
    text = recording_webvtt(hls.parse(playlist.recording_text()))
    # The item under way when the broadcast began starts at 0; nothing runs past the end.
    assert text == (
        "WEBVTT\n"
        "\n"
        "item-7\n"
        "00:00:00.000 --> 00:01:00.000\n"
        "1. Kun tartibini tasdiqlash toʻgʻrisida\n"
        "\n"
        "vote-11\n"
        "00:00:00.000 --> 00:01:00.000\n"
        "Vote 1: Kun tartibi tasdiqlansin\n"
    )


def test_the_recording_webvtt_leaves_the_gaps_out() -> None:
    """Two parts, 10:00:00-10:00:30 and (after a 5-minute outage) 10:05:30-10:06:00: a
    player plays 60 s. A chapter in the second part starts 30 s in, one in the gap at
    the second part's start, one wholly in the gap is left out."""
    playlist = recording_of(("10:00:00", 30), ("10:05:30", 30))
    marks = [
        hls.DateRange("item-1", t("10:00:10"), t("10:05:40"), "1. Budjet", "item"),
        hls.DateRange("speaker-2", t("10:02:00"), t("10:03:00"), "Karimova", "speaker"),
        hls.DateRange("vote-3", t("10:04:00"), t("10:05:50"), "Vote 1: Q", "vote"),
        hls.DateRange("speaker-4", t("10:05:45"), None, "Aliev", "speaker"),
    ]
    for mark in marks:
        playlist.mark(mark)
    parsed = hls.parse(playlist.recording_text())
    assert media_offset(parsed, t("09:59:00")) == timedelta(0)
    assert media_offset(parsed, t("10:00:10.5")) == timedelta(seconds=10.5)
    assert media_offset(parsed, t("10:03:00")) == timedelta(seconds=30)
    assert media_offset(parsed, t("10:05:45")) == timedelta(seconds=45)
    assert media_offset(parsed, t("11:00:00")) == timedelta(seconds=60)
    assert recording_webvtt(parsed) == (
        "WEBVTT\n"
        "\n"
        "item-1\n"
        "00:00:10.000 --> 00:00:40.000\n"
        "1. Budjet\n"
        "\n"
        "vote-3\n"
        "00:00:30.000 --> 00:00:50.000\n"
        "Vote 1: Q\n"
        "\n"
        "speaker-4\n"
        "00:00:45.000 --> 00:01:00.000\n"
        "Aliev\n"
    )


def test_no_webvtt_before_the_first_segment() -> None:
    playlist = hls.MediaPlaylist(target_duration=1)
    playlist.mark(hls.DateRange("item-1", t("10:00:00"), None, "1. Budjet", "item"))
    assert recording_webvtt(hls.parse(playlist.recording_text())) is None


def test_from_dateranges_round_trips() -> None:
    closed = [c for c in EXPECTED if c.end is not None]
    assert from_dateranges(dateranges(closed)) == sorted(closed, key=lambda c: (c.start, c.id))
