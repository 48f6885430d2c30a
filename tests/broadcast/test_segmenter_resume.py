"""A recording that outlives its server: read back from recording.m3u8 (hls.resumed),
charted with the chapters as the log tells them (MediaPlaylist.chart), carried on by a
new Segmenter on the same folder (numbering after every segment there is, a
discontinuity before the new ones, marks kept), or ended where nobody carries it on
(end_recording). Invariants with hypothesis; the carrying on on the real test clip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcast.hls import DateRange, MediaPlaylist, Segment, parse, resumed
from broadcast.pipeline import Pipeline
from broadcast.segmenter import (
    LIVE_PLAYLIST,
    RECORDING_PLAYLIST,
    Segmenter,
    end_recording,
    next_segment_number,
    segment_name,
    segment_number,
)
from tests.broadcast.test_pipeline import SETTINGS, Clip, Clock, clip, stamp

__all__ = ["clip"]  # the decoded test clip, a fixture of test_pipeline

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the playlist read back --------------------------------------------------------------

durations = st.lists(
    st.floats(min_value=0.05, max_value=2.0, allow_nan=False).map(lambda d: round(d, 3)),
    min_size=0,
    max_size=25,
)


@st.composite
def recordings(draw: st.DrawFn) -> MediaPlaylist:
    """A recording as the segmenter leaves it: segments with gaps and breaks, marks
    open and ended, before, inside and after the media."""
    playlist = MediaPlaylist(target_duration=2)
    elapsed = 0.0
    for i, d in enumerate(draw(durations)):
        gap = draw(st.sampled_from([0.0, 0.0, 0.0, 7.5]))
        elapsed += gap
        playlist.add(Segment(segment_name(i), d, at(elapsed), discontinuity=gap > 0))
        elapsed += d
    for n in range(draw(st.integers(0, 6))):
        # Whole milliseconds: what a playlist writes (the log's own times are finer).
        start = timedelta(milliseconds=draw(st.integers(-30_000, int(elapsed * 1000) + 30_000)))
        length = draw(st.one_of(st.none(), st.integers(0, 60_000)))
        kind = draw(st.sampled_from(["item", "speaker", "vote"]))
        end = None if length is None else T0 + start + timedelta(milliseconds=length)
        playlist.mark(DateRange(f"{kind}-{n}", T0 + start, end, f"Vote {n}: «Q» 'x'", kind))
    return playlist


def read_back(playlist: MediaPlaylist) -> MediaPlaylist:
    return resumed(parse(playlist.recording_text()), 2)


@settings(max_examples=150, deadline=None)
@given(recordings())
def test_a_recording_reads_back_as_it_was(playlist: MediaPlaylist) -> None:
    again = read_back(playlist)
    assert again.segments == playlist.segments
    # Date ranges need a program date time in the playlist (§4.3.2.7): before the first
    # segment none is written (the log's chapters chart them again after a restart).
    assert again.marks == (playlist.marks if playlist.segments else {})
    assert again.recording_text() == playlist.recording_text()
    assert again.live_text(6) == playlist.live_text(6)
    assert not again.ended


@settings(max_examples=150, deadline=None)
@given(recordings(), st.lists(st.integers(0, 40), max_size=5))
def test_numbering_goes_on_after_every_segment_there_is(
    playlist: MediaPlaylist, stray: list[int]
) -> None:
    """Across any number of restarts: numbers strictly increasing, none used twice,
    the earlier segments and marks all still there."""
    files = {s.uri for s in playlist.segments} | {segment_name(n) for n in stray}
    before = list(playlist.segments)
    marks = dict(playlist.marks) if playlist.segments else {}
    for _restart in range(3):
        again = read_back(playlist)
        number = next_segment_number(again, sorted(files))
        assert all(number > (segment_number(name) or 0) for name in files)
        name = segment_name(number)
        assert name not in files
        start = again.media_end() or at(0)
        again.add(Segment(name, 1.0, start + timedelta(seconds=30), discontinuity=True))
        files.add(name)
        playlist = again
    numbers = [segment_number(s.uri) for s in playlist.segments]
    assert all(a is not None and b is not None and a < b for a, b in pairwise(numbers))
    assert playlist.segments[: len(before)] == before
    assert playlist.marks == marks
    assert sum(s.discontinuity for s in playlist.segments[len(before) :]) == 3


def test_only_a_whole_recording_is_carried_on() -> None:
    live = MediaPlaylist(target_duration=1)
    for i in range(12):
        live.add(Segment(segment_name(i), 1.0, at(i)))
    with pytest.raises(ValueError, match="media sequence 0"):
        resumed(parse(live.live_text(3)))  # a sliding window: its start is gone
    no_times = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.000,\nseg-000000.ts\n"
    with pytest.raises(ValueError, match="PROGRAM-DATE-TIME"):
        resumed(parse(no_times))
    ended = MediaPlaylist(target_duration=1)
    ended.add(Segment(segment_name(0), 1.0, at(0)))
    ended.end()
    assert resumed(parse(ended.recording_text())).ended


def test_target_duration_never_shrinks() -> None:
    p = MediaPlaylist(target_duration=3)
    p.add(Segment(segment_name(0), 2.5, at(0)))
    assert resumed(parse(p.recording_text()), 1).target_duration == 3
    assert resumed(parse(p.recording_text()), 4).target_duration == 4
    assert resumed(parse(p.recording_text())).target_duration is None


def test_segment_numbers() -> None:
    assert segment_number("seg-000012.ts") == 12
    assert segment_number("seg-1234567.ts") == 1234567
    for other in ("seg-12.ts", "seg-000012.ts.tmp", "index.m3u8", "x/seg-000001.ts"):
        assert segment_number(other) is None
    assert next_segment_number(MediaPlaylist(), []) == 0
    assert next_segment_number(MediaPlaylist(), ["seg-000004.ts", "notes.txt"]) == 5


# -- charting the chapters -----------------------------------------------------------------


def test_chart_adds_new_marks_ends_open_ones_and_changes_nothing_else() -> None:
    p = MediaPlaylist(target_duration=1)
    item = DateRange("item-1", at(0), None, "1. Budjet", "item")
    vote = DateRange("vote-3", at(5), at(9), "Vote 1: Q", "vote")
    assert p.chart([item, vote])
    assert not p.chart([item, vote])  # the same chapters again: nothing changes
    ended = DateRange("item-1", at(0), at(20), "1. Budjet", "item")
    assert p.chart([ended, vote])
    assert p.marks["item-1"].end == at(20)
    # A mark there is never changed: not its end, not its title (§4.3.2.7).
    assert not p.chart(
        [
            DateRange("item-1", at(0), at(25), "1. Other", "item"),
            DateRange("vote-3", at(6), at(7), "Vote 1: R", "vote"),
        ]
    )
    assert p.marks == {"item-1": ended, "vote-3": vote}
    p.end()
    with pytest.raises(ValueError, match="ended"):
        p.chart([item])


@settings(max_examples=100, deadline=None)
@given(recordings(), recordings())
def test_chart_keeps_every_mark_there(first: MediaPlaylist, second: MediaPlaylist) -> None:
    before = dict(first.marks)
    first.chart(second.marks.values())
    for id, mark in before.items():
        now = first.marks[id]
        assert (now.start, now.title, now.kind) == (mark.start, mark.title, mark.kind)
        assert mark.end is None or now.end == mark.end
    assert set(first.marks) == set(before) | set(second.marks)
    text = first.recording_text()
    first.chart(second.marks.values())
    assert first.recording_text() == text  # idempotent


# -- ending a recording nobody carries on ----------------------------------------------------


def test_end_recording_gives_the_marks_and_endlist(tmp_path: Path) -> None:
    p = MediaPlaylist(target_duration=1)
    for i in range(4):
        p.add(Segment(segment_name(i), 1.0, at(i)))
    p.mark(DateRange("item-1", at(0.5), None, "1. Budjet", "item"))
    (tmp_path / RECORDING_PLAYLIST).write_text(p.recording_text())
    assert not end_recording(tmp_path / "nothing-here")
    speech = DateRange("speaker-4", at(1), at(2.5), "Karimova", "speaker")
    item = DateRange("item-1", at(0.5), at(3.5), "1. Budjet", "item")
    assert end_recording(tmp_path, [item, speech])
    recording = parse((tmp_path / RECORDING_PLAYLIST).read_text())
    assert recording.ended and len(recording.segments) == 4
    assert sorted(recording.dateranges, key=lambda m: m.id) == [item, speech]
    assert parse((tmp_path / LIVE_PLAYLIST).read_text()).ended
    text = (tmp_path / RECORDING_PLAYLIST).read_text()
    assert not end_recording(tmp_path, [speech])  # already ended: left as it is
    assert (tmp_path / RECORDING_PLAYLIST).read_text() == text


def test_an_ended_recording_is_not_carried_on(tmp_path: Path) -> None:
    p = MediaPlaylist(target_duration=1)
    p.add(Segment(segment_name(0), 1.0, at(0)))
    p.end()
    (tmp_path / RECORDING_PLAYLIST).write_text(p.recording_text())
    with pytest.raises(ValueError, match="ENDLIST"):
        Segmenter(tmp_path, SETTINGS, lambda: T0)


def test_an_unreadable_playlist_is_moved_aside_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / RECORDING_PLAYLIST).write_text("#EXTM3U\n#EXT-X-SOMETHING-ELSE\n")
    (tmp_path / segment_name(7)).write_bytes(b"old")
    segmenter = Segmenter(tmp_path, SETTINGS, lambda: T0)
    assert segmenter.playlist.segments == []
    aside = list(tmp_path.glob(f"{RECORDING_PLAYLIST}.unreadable-*"))
    assert len(aside) == 1 and "SOMETHING-ELSE" in aside[0].read_text()
    assert segmenter._next_number == 8  # after the segment it left


# -- carrying on, on the real clip ---------------------------------------------------------


def publish(
    clip: Clip, folder: Path, clock: Clock, *, until: float | None = None, finish: bool
) -> Segmenter:
    """The clip (up to `until` seconds) through a new Pipeline and Segmenter on `folder`,
    as a server process would; without `finish`, left as a process killed mid-broadcast
    leaves it (the segment being written half there, no ENDLIST)."""
    pipe = Pipeline(SETTINGS)
    segmenter = Segmenter(folder, SETTINGS, clock)
    pipe.subscribe(segmenter.video, segmenter.audio, segmenter.discontinuity)
    origin = clock.now
    for seconds, frame in clip.frames:
        if until is not None and seconds >= until:
            break
        base = 5_000 if isinstance(frame, av.VideoFrame) else 7_000
        stamp(frame, seconds, base)
        clock.now = origin + timedelta(seconds=float(seconds))
        if isinstance(frame, av.VideoFrame):
            pipe.push_video(frame)
        else:
            pipe.push_audio(frame)
    if finish:
        pipe.close()
        segmenter.finish()
    return segmenter


def test_a_recording_carried_on_after_a_restart(clip: Clip, tmp_path: Path) -> None:
    folder = tmp_path / "7"
    clock = Clock()
    first = publish(clip, folder, clock, until=4.0, finish=False)
    first.mark(DateRange("item-2", clock.now - timedelta(seconds=3), None, "2. Budjet", "item"))
    first.chart([DateRange("vote-1", clock.now - timedelta(seconds=2), None, "Vote 1: Q", "vote")])
    # Killed here: the open segment is a file the playlist never listed.
    listed = parse((folder / RECORDING_PLAYLIST).read_text())
    assert not listed.ended and len(listed.segments) >= 2
    files = sorted(p.name for p in folder.glob("seg-*.ts"))
    assert len(files) == len(listed.segments) + 1
    kept = {name: (folder / name).read_bytes() for name in files}
    del first

    clock.now += timedelta(seconds=20)  # the server comes back
    publish(clip, folder, clock, finish=True)
    recording = parse((folder / RECORDING_PLAYLIST).read_text())
    assert recording.ended
    numbers = [segment_number(s.uri) for s in recording.segments]
    assert all(a is not None and b is not None and a < b for a, b in pairwise(numbers))
    old = recording.segments[: len(listed.segments)]
    assert [s.uri for s in old] == [s.uri for s in listed.segments]
    new = recording.segments[len(listed.segments) :]
    assert new and new[0].discontinuity and not any(s.discontinuity for s in new[1:])
    assert segment_number(new[0].uri) == max(segment_number(f) or 0 for f in files) + 1
    for name, data in kept.items():
        assert (folder / name).read_bytes() == data  # nothing overwritten
    # The marks made before the restart are still there, ended where the recording ends.
    assert {m.id for m in recording.dateranges} == {"item-2", "vote-1"}
    assert all(m.end is not None for m in recording.dateranges)
    pdts = [s.program_date_time for s in recording.segments]
    assert all(a is not None and b is not None and a < b for a, b in pairwise(pdts))
    # Every segment a player reads: video and audio, the second part the whole clip.
    for segment in recording.segments:
        with av.open(str(folder / segment.uri)) as container:
            assert (len(container.streams.video), len(container.streams.audio)) == (1, 1)
    second = sum(s.duration for s in new)
    assert second == pytest.approx(clip.duration, abs=0.3)
    assert (folder / LIVE_PLAYLIST).read_text().count("#EXT-X-ENDLIST") == 1
