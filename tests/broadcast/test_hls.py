"""RFC 8216 media playlists as broadcast/hls.py writes and reads them: the live window,
discontinuities, the recording, chapter date ranges, the refusals. Text only; playing
these playlists with real segments comes with the muxer's tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcast import hls
from broadcast.hls import DateRange, MediaPlaylist, Segment, parse

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def playlist_of(durations: list[float], **kwargs: int) -> MediaPlaylist:
    p = MediaPlaylist(**kwargs)  # type: ignore[arg-type]
    elapsed = 0.0
    for i, d in enumerate(durations):
        p.add(Segment(f"seg{i}.ts", d, at(elapsed)))
        elapsed += d
    return p


def tags(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# -- the live window --------------------------------------------------------------------


def test_live_window_exact_text() -> None:
    p = playlist_of([2.0] * 10)
    assert p.live_text(window_segments=3) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:14.000Z\n"
        "#EXTINF:2.000,\n"
        "seg7.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:16.000Z\n"
        "#EXTINF:2.000,\n"
        "seg8.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:18.000Z\n"
        "#EXTINF:2.000,\n"
        "seg9.ts\n"
    )


def test_live_window_keeps_three_target_durations() -> None:
    # §6.2.2: two 2 s segments would be 4 s < 3 x 2 s, so a third stays.
    p = playlist_of([2.0] * 10)
    parsed = parse(p.live_text(window_segments=2))
    assert [s.uri for s in parsed.segments] == ["seg7.ts", "seg8.ts", "seg9.ts"]
    assert parsed.media_sequence == 7
    assert [s.sequence for s in parsed.segments] == [7, 8, 9]
    assert p.window_start(2) == 7


def test_live_window_before_it_fills_and_empty() -> None:
    assert parse(playlist_of([]).live_text()).segments == []
    assert parse(playlist_of([]).live_text()).target_duration == 1
    parsed = parse(playlist_of([4.0, 4.0]).live_text(window_segments=6))
    assert parsed.media_sequence == 0
    assert len(parsed.segments) == 2


def test_program_date_time_on_every_segment() -> None:
    p = playlist_of([4.0, 3.5, 4.25, 4.0, 4.5, 3.75])
    text = p.live_text(window_segments=4)  # 16.5 s >= 3 x 5 s
    assert len(tags(text, "#EXT-X-PROGRAM-DATE-TIME:")) == len(tags(text, "#EXTINF:")) == 4
    parsed = parse(text)
    assert [s.program_date_time for s in parsed.segments] == [
        at(7.5),
        at(11.75),
        at(15.75),
        at(20.25),
    ]


def test_target_duration_is_ceiling_of_longest_written() -> None:
    assert playlist_of([2.0, 4.2, 3.9]).effective_target_duration() == 5
    assert playlist_of([6.0]).effective_target_duration() == 6
    # Written as 6.000, so no 7 from float noise.
    assert playlist_of([6.0000001]).effective_target_duration() == 6
    assert playlist_of([6.0006]).effective_target_duration() == 7
    # It never shrinks as the long segment leaves the window: a live playlist's must not change.
    p = playlist_of([9.0] + [2.0] * 20)
    text = p.live_text(window_segments=3)
    assert "#EXT-X-TARGETDURATION:9" in text
    assert "seg0.ts" not in text


def test_fixed_target_duration() -> None:
    p = playlist_of([2.0, 2.0], target_duration=4)
    assert "#EXT-X-TARGETDURATION:4\n" in p.live_text()
    with pytest.raises(ValueError, match="target duration"):
        p.add(Segment("long.ts", 4.6, at(10)))
    p.add(Segment("ok.ts", 4.0, at(10)))
    with pytest.raises(ValueError):
        MediaPlaylist(target_duration=0)


# -- a publisher reconnect --------------------------------------------------------------


def test_discontinuity_after_publisher_reconnect() -> None:
    p = MediaPlaylist()
    for i in range(3):
        p.add(Segment(f"a{i}.ts", 2.0, at(2 * i)))
    # The publisher dropped at 6 s and came back at 20 s: new encoder timestamps.
    p.add(Segment("b0.ts", 2.0, at(20), discontinuity=True))
    p.add(Segment("b1.ts", 2.0, at(22)))

    text = p.live_text(window_segments=3)
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:0\n" in text
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:04.000Z\n#EXTINF:2.000,\na2.ts\n" in text
    assert (
        "a2.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:20.000Z\n"
    ) in text
    parsed = parse(text)
    assert [(s.uri, s.discontinuity, s.discontinuity_sequence) for s in parsed.segments] == [
        ("a2.ts", False, 0),
        ("b0.ts", True, 1),
        ("b1.ts", False, 1),
    ]

    # Once the tag has slid out with b0, the count carries it (§6.2.2).
    for i in range(2, 5):
        p.add(Segment(f"b{i}.ts", 2.0, at(20 + 2 * i)))
    text = p.live_text(window_segments=3)
    assert "#EXT-X-DISCONTINUITY\n" not in text
    parsed = parse(text)
    assert parsed.discontinuity_sequence == 1
    assert [s.discontinuity_sequence for s in parsed.segments] == [1, 1, 1]
    # The recording keeps every tag from the start.
    recording = parse(p.recording_text())
    assert recording.discontinuity_sequence == 0
    assert [s.uri for s in recording.segments if s.discontinuity] == ["b0.ts"]


# -- the recording ----------------------------------------------------------------------


def test_recording_event_then_endlist() -> None:
    p = playlist_of([2.0] * 8)
    live = p.recording_text()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT\n" in live
    assert "#EXT-X-ENDLIST" not in live
    parsed = parse(live)
    assert parsed.playlist_type == "EVENT"
    assert not parsed.ended
    assert parsed.media_sequence == 0
    assert [s.uri for s in parsed.segments] == [f"seg{i}.ts" for i in range(8)]

    p.end()
    done = p.recording_text()
    assert done.startswith(live)  # EVENT: only ever appended to
    assert done.endswith("seg7.ts\n#EXT-X-ENDLIST\n")
    assert parse(done).ended
    assert p.live_text(window_segments=3).endswith("#EXT-X-ENDLIST\n")
    with pytest.raises(ValueError, match="ended"):
        p.add(Segment("late.ts", 2.0, at(100)))
    with pytest.raises(ValueError, match="ended"):
        p.end()


def test_end_closes_open_marks_at_the_media_end() -> None:
    p = playlist_of([2.0] * 3)
    p.mark(DateRange("item-1", at(1), None, "1. Kun tartibi", "item"))
    p.end()
    (mark,) = parse(p.recording_text()).dateranges
    assert mark.end == at(6)
    with pytest.raises(ValueError, match="ended"):
        p.mark(DateRange("item-2", at(5), None, "x", "item"))
    with pytest.raises(ValueError, match="ended"):
        p.end_mark("item-1", at(6))


# -- chapter date ranges ----------------------------------------------------------------


def test_daterange_serialisation_and_escaping() -> None:
    mark = DateRange(
        "item-7",
        at(90.5),
        at(300),
        'Budjet toʻgʻrisida: "ha", yoki\r\nyoʻq',
        "item",
    )
    assert mark.tag() == (
        '#EXT-X-DATERANGE:ID="item-7",CLASS="kengash.chapter.item",'
        'START-DATE="2026-12-01T09:01:30.500Z",END-DATE="2026-12-01T09:05:00.000Z",'
        "X-TITLE=\"Budjet toʻgʻrisida: 'ha', yoki yoʻq\""
    )
    open_mark = DateRange("speaker-12", at(10), None, "Алиев Бахтиёр", "speaker")
    assert open_mark.tag() == (
        '#EXT-X-DATERANGE:ID="speaker-12",CLASS="kengash.chapter.speaker",'
        'START-DATE="2026-12-01T09:00:10.000Z",X-TITLE="Алиев Бахтиёр"'
    )
    assert hls.parse_attributes('A="x,y=z",B=3,C=NO') == {"A": "x,y=z", "B": "3", "C": "NO"}


def test_dateranges_overlapping_the_window_only() -> None:
    p = playlist_of([2.0] * 10)
    p.mark(DateRange("item-1", at(0), at(5), "first", "item"))  # long gone from the window
    p.mark(DateRange("item-2", at(5), None, "second", "item"))  # open: still going
    p.mark(DateRange("vote-1", at(13), at(15), "Vote 1: x", "vote"))  # ends in the window
    p.mark(DateRange("vote-2", at(30), None, "ahead", "vote"))  # after the media so far
    live = parse(p.live_text(window_segments=3))  # 14 s .. 20 s
    assert [m.id for m in live.dateranges] == ["item-2", "vote-1"]
    recording = parse(p.recording_text())
    assert [m.id for m in recording.dateranges] == ["item-1", "item-2", "vote-1", "vote-2"]

    p.end_mark("item-2", at(19))
    p.end_mark("item-2", at(19))  # the same again: nothing changes
    assert parse(p.live_text(window_segments=3)).dateranges[0].end == at(19)
    with pytest.raises(ValueError, match="already ended"):
        p.end_mark("item-2", at(18))
    with pytest.raises(ValueError, match="no date range"):
        p.end_mark("item-9", at(18))
    with pytest.raises(ValueError, match="before it starts"):
        p.end_mark("vote-2", at(29))
    with pytest.raises(ValueError, match="already marked"):
        p.mark(DateRange("item-1", at(0), None, "again", "item"))


def test_round_trip() -> None:
    p = MediaPlaylist()
    p.add(Segment("s/0.ts", 3.967, at(0)))
    p.add(Segment("s/1.ts", 4.004, at(3.967)))
    p.add(Segment("s/2.ts", 1.5, at(40.25), discontinuity=True))
    marks = [
        DateRange("item-3", at(1), at(40), "3. Маҳаллий бюджет", "item"),
        DateRange("vote-1", at(41), None, "Vote 1: Qabul qilinsin", "vote"),
    ]
    for m in marks:
        p.mark(m)
    for text in (p.live_text(window_segments=2), p.recording_text()):
        parsed = parse(text)
        assert parsed.version == 3
        assert parsed.target_duration == 5
        assert [
            Segment(s.uri, s.duration, s.program_date_time or T0, s.discontinuity)
            for s in parsed.segments
        ] == p.segments
        assert parsed.dateranges == marks
    # Deterministic: the same calls give the same bytes.
    q = MediaPlaylist()
    for s in p.segments:
        q.add(s)
    for m in marks:
        q.mark(m)
    assert q.recording_text() == p.recording_text()
    assert q.live_text(window_segments=2) == p.live_text(window_segments=2)


def test_times_in_other_zones_are_written_in_utc() -> None:
    tashkent = timezone(timedelta(hours=5))
    p = MediaPlaylist()
    p.add(Segment("a.ts", 2.0, datetime(2026, 12, 1, 14, 0, 0, 250000, tzinfo=tashkent)))
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:00.250Z\n" in p.live_text()


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.0, -2.0, math.nan, math.inf, 0.0004])
def test_refuses_nonsense_durations(duration: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        Segment("a.ts", duration, T0)


@pytest.mark.parametrize("uri", ["", "a\n.ts", "a.ts\r", "#a.ts"])
def test_refuses_uris_that_break_lines(uri: str) -> None:
    with pytest.raises(ValueError, match="URI"):
        Segment(uri, 2.0, T0)


def test_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        Segment("a.ts", 2.0, datetime(2026, 12, 1, 9))
    with pytest.raises(ValueError, match="aware"):
        DateRange("item-1", datetime(2026, 12, 1, 9), None, "x", "item")


def test_refuses_time_going_backwards() -> None:
    p = playlist_of([2.0, 2.0])
    with pytest.raises(ValueError, match="backwards"):
        p.add(Segment("back.ts", 2.0, at(1)))
    with pytest.raises(ValueError, match="backwards"):
        p.add(Segment("same.ts", 2.0, at(2.0004)))  # the same millisecond as written
    assert len(p.segments) == 2


def test_refuses_bad_dateranges() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        DateRange("item-1", at(10), at(9), "x", "item")
    for bad_id in ["", 'a"b', "a\nb", "a b"]:
        with pytest.raises(ValueError, match="ID"):
            DateRange(bad_id, at(0), None, "x", "item")
    with pytest.raises(ValueError, match="kind"):
        DateRange("item-1", at(0), None, "x", 'item"')
    with pytest.raises(ValueError):
        playlist_of([2.0]).live_text(window_segments=0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "#EXT-X-VERSION:3\n",
        "#EXTM3U\n#EXTINF:2.0,\na.ts\n",  # no TARGETDURATION
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.6,\na.ts\n",  # rounds to 3 > 2
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:two,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:NaN,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:0,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:two\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:00:00\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n",  # URI without EXTINF
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n",  # EXTINF without URI
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:2\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=NONE\n",  # not ours
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-ENDLIST\n#EXTINF:2.0,\na.ts\n",
        '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DATERANGE:ID="a",START-DATE=x"\n',
    ],
)
def test_parse_refuses_what_it_would_not_write(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


# -- properties -------------------------------------------------------------------------

durations = st.lists(
    st.floats(min_value=0.001, max_value=12.0, allow_nan=False, allow_infinity=False),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    durations=durations,
    gaps=st.lists(st.booleans(), max_size=40),
    window=st.integers(min_value=1, max_value=8),
)
def test_live_window_properties(durations: list[float], gaps: list[bool], window: int) -> None:
    p = MediaPlaylist()
    moment = T0
    for i, d in enumerate(durations):
        reconnect = i < len(gaps) and gaps[i]
        if reconnect:
            moment += timedelta(seconds=7)
        p.add(Segment(f"{i}.ts", d, moment, discontinuity=reconnect))
        moment += timedelta(seconds=d)

    for text in (p.live_text(window_segments=window), p.recording_text()):
        parsed = parse(text)
        # Every segment added is either counted by MEDIA-SEQUENCE or in the window.
        assert parsed.media_sequence + len(parsed.segments) == len(durations)
        target = parsed.target_duration
        extinfs = [Decimal(line[8:-1]) for line in tags(text, "#EXTINF:")]
        for extinf in extinfs:
            assert extinf <= target
            assert extinf.to_integral_value(rounding=ROUND_HALF_UP) <= target  # §4.3.3.1
        assert all(s.program_date_time is not None for s in parsed.segments)
        times = [s.program_date_time for s in parsed.segments if s.program_date_time]
        assert all(a < b for a, b in pairwise(times))
        # DISCONTINUITY-SEQUENCE counts the tags that slid out.
        dropped = sum(1 for s in p.segments[: parsed.media_sequence] if s.discontinuity)
        assert parsed.discontinuity_sequence == dropped

    live = parse(p.live_text(window_segments=window))
    # §6.2.2: never fewer than three target durations unless that is all there is.
    if live.media_sequence > 0:
        assert sum(Decimal(hls.format_duration(s.duration)) for s in live.segments) >= (
            3 * live.target_duration
        )
        assert len(live.segments) >= window
