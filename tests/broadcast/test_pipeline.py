"""The broadcast core on real media: the 9 s test clip decoded into frames like aiortc
hands them over (video with the publisher's own 90 kHz timestamps, audio s16 48 kHz in
20 ms frames), pushed through the one-encoder Pipeline into the Segmenter, and the
segments and playlists read back with PyAV and broadcast.hls."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import pytest
from av.audio.codeccontext import AudioCodecContext
from av.video.codeccontext import VideoCodecContext

from broadcast import pipeline as pipeline_module
from broadcast.hls import DateRange, ParsedPlaylist, parse
from broadcast.pipeline import AUDIO_RATE, Encoder, Packet, Pipeline
from broadcast.segmenter import LIVE_PLAYLIST, RECORDING_PLAYLIST, Segmenter, adts_header
from tests.conftest import SHARED, skip_or_fail

CLIP = SHARED / "media" / "short_hamilton_clip.mp4"
T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
SETTINGS = Encoder()
VIDEO_CLOCK = Fraction(1, 90_000)  # aiortc's video time base (RTP's 90 kHz)


@dataclass
class Clip:
    """The decoded clip in presentation order: (seconds, frame); `duration` is its
    video's (the segments start at the first keyframe; the audio before it is dropped)."""

    frames: list[tuple[Fraction, av.VideoFrame | av.AudioFrame]]
    duration: float

    @property
    def video_start(self) -> float:
        return float(next(t for t, f in self.frames if isinstance(f, av.VideoFrame)))


@pytest.fixture(scope="module")
def clip() -> Clip:
    if not CLIP.exists():
        skip_or_fail(f"test media {CLIP} is missing (the ../shared checkout)")
    frames: list[tuple[Fraction, av.VideoFrame | av.AudioFrame]] = []
    # What aiortc's Opus decoder hands over: s16, 48 kHz, 960 samples (20 ms).
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=960)
    samples = 0
    with av.open(str(CLIP)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None and stream.time_base is not None
        duration = float(stream.duration * stream.time_base)
        audio_start = container.streams.audio[0].start_time or 0
        origin = min(
            Fraction(stream.start_time or 0) * stream.time_base,
            audio_start * Fraction(container.streams.audio[0].time_base or 1),
        )
        for frame in container.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                frames.append((_seconds(frame) - origin, frame))
            elif isinstance(frame, av.AudioFrame):
                if not samples:
                    samples = round((_seconds(frame) - origin) * AUDIO_RATE)
                for piece in resampler.resample(frame):
                    frames.append((Fraction(samples, AUDIO_RATE), piece))
                    samples += piece.samples
        for piece in resampler.resample(None):
            frames.append((Fraction(samples, AUDIO_RATE), piece))
            samples += piece.samples
    # Arrival order: what happens together arrives together.
    frames.sort(key=lambda item: item[0])
    return Clip(frames, duration)


def _seconds(frame: av.VideoFrame | av.AudioFrame) -> Fraction:
    assert frame.pts is not None and frame.time_base is not None
    return frame.pts * Fraction(frame.time_base)


def stamp(frame: av.VideoFrame | av.AudioFrame, seconds: Fraction, base: int) -> None:
    """Timestamps as the publisher's RTP clock gives them: its own random origin."""
    if isinstance(frame, av.VideoFrame):
        frame.pts = base + round(seconds / VIDEO_CLOCK)
        frame.time_base = VIDEO_CLOCK
    else:
        frame.pts = base + round(seconds * AUDIO_RATE)
        frame.time_base = Fraction(1, AUDIO_RATE)


@dataclass
class Recorder:
    """A subscriber keeping what it was given."""

    video: list[Packet] = field(default_factory=list)
    audio: list[Packet] = field(default_factory=list)
    breaks: int = 0

    def on_video(self, packet: Packet) -> None:
        self.video.append(packet)

    def on_audio(self, packet: Packet) -> None:
        self.audio.append(packet)

    def on_break(self) -> None:
        self.breaks += 1


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Run:
    folder: Path
    pipeline: Pipeline
    segmenter: Segmenter
    recorders: list[Recorder]
    seg_video: list[Packet]
    seg_audio: list[Packet]
    opened: dict[str, int]
    live_midway: ParsedPlaylist | None
    cpu_seconds: float


@contextmanager
def counting_encoders() -> Iterator[dict[str, int]]:
    """How many encoders the pipeline opens, by codec."""
    opened: dict[str, int] = {}
    open_video, open_audio = pipeline_module._open_video, pipeline_module._open_audio

    def video(settings: Encoder) -> VideoCodecContext:
        opened["libx264"] = opened.get("libx264", 0) + 1
        return open_video(settings)

    def audio(codec: pipeline_module.AudioCodec, bit_rate: int) -> AudioCodecContext:
        opened[codec] = opened.get(codec, 0) + 1
        return open_audio(codec, bit_rate)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_module, "_open_video", video)
        patch.setattr(pipeline_module, "_open_audio", audio)
        yield opened


@pytest.fixture
def counted_encoders() -> Iterator[dict[str, int]]:
    with counting_encoders() as opened:
        yield opened


def broadcast(
    clip: Clip,
    folder: Path,
    opened: dict[str, int],
    *,
    reconnect_at: float | None = None,
    outage: float = 5.0,
    end_at: float | None = None,
    lost: tuple[float, float] | None = None,
    announce_at: float | None = None,
    extra: Callable[[Pipeline], None] | None = None,
) -> Run:
    """Push the clip through Pipeline and Segmenter (two WHEP-like viewers on Opus and
    the segmenter on AAC). With `reconnect_at`, the publisher reconnects there: its
    timestamps start again from a lower origin and `outage` seconds of wall clock pass.
    Frames in `lost` (from, to) never arrive; at `announce_at` the server tells the
    pipeline of a reconnect whose timestamps happen to run on."""
    clock = Clock()
    pipe = Pipeline(SETTINGS)
    segmenter = Segmenter(folder, SETTINGS, clock)
    seg_video: list[Packet] = []
    seg_audio: list[Packet] = []

    def video_into_segmenter(packet: Packet) -> None:
        seg_video.append(packet)
        segmenter.video(packet)

    def audio_into_segmenter(packet: Packet) -> None:
        seg_audio.append(packet)
        segmenter.audio(packet)

    pipe.subscribe(video_into_segmenter, audio_into_segmenter, segmenter.discontinuity)
    recorders = [Recorder(), Recorder()]
    for recorder in recorders:
        pipe.subscribe(recorder.on_video, recorder.on_audio, recorder.on_break, audio="opus")
    if extra is not None:
        extra(pipe)
    live_midway = None
    marked = False
    width = clip_width(clip)
    video_base, audio_base, wall = 3_000_000, 1_500_000, Fraction(0)
    started = time.process_time()
    for seconds, frame in clip.frames:
        if end_at is not None and seconds >= end_at:
            break
        if lost is not None and lost[0] <= seconds < lost[1]:
            continue
        if announce_at is not None and seconds >= announce_at:
            announce_at = None
            pipe.discontinuity()
        if reconnect_at is not None and seconds >= reconnect_at:
            reconnect_at = None
            # A new connection: new RTP origins, lower than before; a 480x270 camera.
            video_base, audio_base = 1_000, 2_000
            wall = Fraction(outage)
        if isinstance(frame, av.VideoFrame) and wall and frame.width == width:
            frame = frame.reformat(480, 270)
        stamp(frame, seconds, video_base if isinstance(frame, av.VideoFrame) else audio_base)
        clock.now = T0 + timedelta(seconds=float(seconds + wall))
        if isinstance(frame, av.VideoFrame):
            pipe.push_video(frame)
        else:
            pipe.push_audio(frame)
        if not marked and seconds >= 2:
            marked = True  # an agenda item is taken up
            segmenter.mark(DateRange("item-1", clock.now, None, "1. Budget", "item"))
        if live_midway is None and seconds >= 5 and (folder / LIVE_PLAYLIST).exists():
            live_midway = parse((folder / LIVE_PLAYLIST).read_text())
    pipe.close()
    segmenter.finish()
    cpu = time.process_time() - started
    return Run(
        folder, pipe, segmenter, recorders, seg_video, seg_audio, dict(opened), live_midway, cpu
    )


def clip_width(clip: Clip) -> int:
    return next(f.width for _, f in clip.frames if isinstance(f, av.VideoFrame))


@pytest.fixture(scope="module")
def clean(clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The whole clip, once for the tests that only read what came out."""
    with counting_encoders() as opened:
        return broadcast(clip, tmp_path_factory.mktemp("clean") / "hls", opened)


@dataclass
class ReadSegment:
    name: str
    video_codec: str
    audio_codec: str
    profile: str | None
    streams: tuple[int, int]
    first_is_keyframe: bool
    first_frame_key: bool
    start: float
    end: float
    container_duration: float | None

    @property
    def duration(self) -> float:
        return self.end - self.start


def read_segment(path: Path) -> ReadSegment:
    with av.open(str(path)) as container:
        video = container.streams.video
        audio = container.streams.audio
        starts: list[float] = []
        ends: list[float] = []
        first: av.Packet[av.VideoStream] | None = None
        first_key = False
        for packet in container.demux(video[0]):
            if packet.pts is None:
                continue  # the flush packet
            if first is None:
                first = packet
                frames = packet.decode()
                first_key = bool(frames) and frames[0].key_frame
            tb = Fraction(packet.time_base)
            starts.append(float(packet.pts * tb))
            ends.append(float((packet.pts + (packet.duration or 3000)) * tb))
        profile = video[0].codec_context.profile
        return ReadSegment(
            name=path.name,
            video_codec=video[0].codec_context.name,
            audio_codec=audio[0].codec_context.name if audio else "",
            profile=profile,
            streams=(len(video), len(audio)),
            first_is_keyframe=first is not None and first.is_keyframe,
            first_frame_key=first_key,
            start=min(starts),
            end=max(ends),
            container_duration=(
                container.duration / 1_000_000 if container.duration is not None else None
            ),
        )


def segments_of(run: Run) -> list[ReadSegment]:
    recording = parse((run.folder / RECORDING_PLAYLIST).read_text())
    return [read_segment(run.folder / s.uri) for s in recording.segments]


# -- the segments -------------------------------------------------------------------


def test_segments_are_one_second_baseline_h264_and_aac(clean: Run, clip: Clip) -> None:
    segments = segments_of(clean)
    assert len(segments) == math.ceil(len(clean.seg_video) / SETTINGS.gop)  # 9 s: 9
    for s in segments:
        assert s.streams == (1, 1), s
        assert s.video_codec == "h264" and s.audio_codec == "aac", s
        assert s.profile in ("Constrained Baseline", "Baseline"), s
        assert s.first_is_keyframe and s.first_frame_key, s
    for s in segments[:-1]:
        assert s.duration == pytest.approx(1.0, abs=0.1), s
        if s.container_duration is not None:
            assert s.container_duration == pytest.approx(1.0, abs=0.1), s
    # One timeline across the segments: each starts where the one before ended.
    for a, b in pairwise(segments):
        assert b.start == pytest.approx(a.end, abs=0.05)
    total = segments[-1].end - segments[0].start
    assert total == pytest.approx(clip.duration, abs=0.3)
    recording = parse((clean.folder / RECORDING_PLAYLIST).read_text())
    assert sum(s.duration for s in recording.segments) == pytest.approx(clip.duration, abs=0.3)
    assert [s.uri for s in recording.segments] == [f"seg-{n:06d}.ts" for n in range(len(segments))]


def test_playlists(clean: Run, clip: Clip) -> None:
    live = parse((clean.folder / LIVE_PLAYLIST).read_text())
    recording = parse((clean.folder / RECORDING_PLAYLIST).read_text())
    n = len(recording.segments)
    assert recording.ended and live.ended
    assert recording.playlist_type == "EVENT" and recording.media_sequence == 0
    assert recording.target_duration == 1 and live.target_duration == 1
    # The live window: the last six segments, numbered as in the recording.
    assert live.media_sequence == n - 6
    assert [s.uri for s in live.segments] == [s.uri for s in recording.segments[-6:]]
    assert [s.sequence for s in live.segments] == list(range(n - 6, n))
    pdts = [s.program_date_time for s in recording.segments]
    assert all(p is not None for p in pdts)
    assert all(a < b for a, b in pairwise(pdts))  # type: ignore[operator]
    # Each segment's PDT is the wall clock at its first frame (the fake clock runs
    # with the media here, the clip's video starts 0.85 s in): one second apart.
    for i, p in enumerate(pdts):
        assert p is not None
        assert abs((p - T0).total_seconds() - clip.video_start - i) < 0.05
    assert not any(s.discontinuity for s in recording.segments)
    # The chapter mark, ended where the recording ends.
    (item,) = recording.dateranges
    assert item.id == "item-1" and item.kind == "item" and item.end is not None
    assert abs((item.start - T0).total_seconds() - 2) < 0.05
    assert [m.id for m in live.dateranges] == ["item-1"]  # it overlaps the window
    # While it ran: a live playlist without ENDLIST.
    assert clean.live_midway is not None and not clean.live_midway.ended
    assert clean.live_midway.segments
    assert not list(clean.folder.glob(".*.tmp"))  # atomic writes leave no temp files


def test_chapter_marks_pass_through(tmp_path: Path) -> None:
    segmenter = Segmenter(tmp_path, SETTINGS, lambda: T0)
    mark = DateRange("item-1", T0, None, "1. Budget", "item")
    segmenter.mark(mark)
    segmenter.end_mark("item-1", T0 + timedelta(seconds=3))
    recording = parse((tmp_path / RECORDING_PLAYLIST).read_text())
    assert recording.segments == []  # no segment yet: the date range waits for one
    segmenter.finish()
    assert segmenter.playlist.marks["item-1"].end == T0 + timedelta(seconds=3)


# -- one encoder for everyone ---------------------------------------------------------


def test_encoded_once_for_every_subscriber(clean: Run) -> None:
    # Two viewers and the segmenter: one H.264 encoder, one AAC, one Opus (WebRTC's).
    assert clean.opened == {"libx264": 1, "aac": 1, "opus": 1}
    assert len(clean.pipeline.encoders) == 3
    a, b = clean.recorders
    # The very same packet objects, not copies (nor re-encodings) of them.
    assert len(a.video) == len(b.video) == len(clean.seg_video) > 0
    assert all(x is y is z for x, y, z in zip(a.video, b.video, clean.seg_video, strict=True))
    assert all(x is y for x, y in zip(a.audio, b.audio, strict=True))
    assert all(p.time_base == Fraction(1, AUDIO_RATE) for p in a.audio + clean.seg_audio)
    # The Opus packets are 20 ms, WebRTC's; the segmenter's AAC ones 1024 samples.
    assert {p.duration for p in a.audio[1:-1]} == {960}


def test_keyframe_every_segment_and_monotonic_output(clean: Run) -> None:
    video = clean.recorders[0].video
    keyframes = [i for i, p in enumerate(video) if p.is_keyframe]
    assert keyframes == list(range(0, len(video), SETTINGS.gop))
    pts = [p.pts for p in video]
    first = video[0].pts or 0
    assert pts == list(range(first, first + len(video)))  # constant frame rate, no holes
    assert all(p.dts == p.pts for p in video)  # no B-frames
    # A new viewer waits for the next keyframe: at most one segment.
    wait = clean.pipeline.keyframe_requested()
    assert 0 <= wait < SETTINGS.segment_seconds
    stats = clean.pipeline.stats
    assert stats.keyframes == len(keyframes) and stats.other_frames == len(video) - len(keyframes)
    print(
        f"\nkeyframes: {stats.keyframes}, mean {stats.keyframe_bytes / stats.keyframes:.0f} B;"
        f" other frames mean {stats.other_frame_bytes / stats.other_frames:.0f} B;"
        f" CPU for the whole run {clean.cpu_seconds:.2f} s"
    )


def test_a_raising_subscriber_is_dropped(
    clip: Clip, tmp_path: Path, counted_encoders: dict[str, int]
) -> None:
    calls = 0
    late = Recorder()
    pipe: Pipeline | None = None

    def broken(packet: Packet) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:
            assert pipe is not None
            wait = pipe.keyframe_requested()
            assert 0 < wait < SETTINGS.segment_seconds
            pipe.subscribe(late.on_video, late.on_audio)  # a viewer joins mid-GOP
            raise RuntimeError("viewer's connection is gone")

    def subscribe_broken(p: Pipeline) -> None:
        nonlocal pipe
        pipe = p
        p.subscribe(broken)

    run = broadcast(clip, tmp_path / "hls", counted_encoders, end_at=3.0, extra=subscribe_broken)
    assert calls == 10
    assert run.pipeline.stats.subscribers_dropped == 1
    assert run.pipeline.subscribers == 4  # the segmenter, the two viewers, the late one
    a, b = run.recorders
    assert len(a.video) == len(b.video) == len(run.seg_video) >= 55
    # The late viewer's video starts at the next keyframe, the same packets from there.
    assert late.video[0].is_keyframe and late.video[0] is a.video[SETTINGS.gop]
    assert len(late.video) == len(a.video) - SETTINGS.gop
    assert all(x is y for x, y in zip(late.video, a.video[SETTINGS.gop :], strict=True))
    segmenter_audio = {id(p) for p in run.seg_audio}
    assert late.audio and all(id(p) in segmenter_audio for p in late.audio)
    # Unsubscribing is a function back, harmless twice.
    unsubscribe = run.pipeline.subscribe(Recorder().on_video)
    unsubscribe()
    unsubscribe()
    assert run.pipeline.subscribers == 4


def test_publisher_reconnect(clip: Clip, tmp_path: Path, counted_encoders: dict[str, int]) -> None:
    run = broadcast(clip, tmp_path / "hls", counted_encoders, reconnect_at=3.5, end_at=6.0)
    a = run.recorders[0]
    # Monotonic output through the reconnect, still on one encoder.
    video_pts = [p.pts for p in a.video]
    assert all(x < y for x, y in pairwise(video_pts))  # type: ignore[operator]
    for audio in (a.audio, run.seg_audio):
        audio_pts = [p.pts for p in audio]
        assert all(x < y for x, y in pairwise(audio_pts))  # type: ignore[operator]
    assert run.opened == {"libx264": 1, "aac": 1, "opus": 1}
    assert run.pipeline.stats.jumps == 1 and a.breaks == 1
    recording = parse((run.folder / RECORDING_PLAYLIST).read_text())
    flagged = [i for i, s in enumerate(recording.segments) if s.discontinuity]
    assert len(flagged) == 1
    cut = recording.segments[flagged[0]]
    before = recording.segments[flagged[0] - 1]
    assert cut.program_date_time is not None and before.program_date_time is not None
    # The outage shows on the wall clock, not in the media.
    assert (cut.program_date_time - before.program_date_time).total_seconds() > 5
    live = parse((run.folder / LIVE_PLAYLIST).read_text())
    assert any(s.discontinuity for s in live.segments)
    text = (run.folder / RECORDING_PLAYLIST).read_text()
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    segments = segments_of(run)
    for s in segments:
        assert s.streams == (1, 1) and s.first_is_keyframe, s
    for x, y in pairwise(segments):
        assert y.start == pytest.approx(x.end, abs=0.05)
    total = 6.0 - clip.video_start  # the media, without the outage
    assert segments[-1].end - segments[0].start == pytest.approx(total, abs=0.3)
    assert sum(s.duration for s in recording.segments) == pytest.approx(total, abs=0.3)


def test_lost_frames_are_filled_not_cut(
    clip: Clip, tmp_path: Path, counted_encoders: dict[str, int]
) -> None:
    """Half a second of lost media (under MAX_GAP): the last picture repeats, silence
    fills the audio, the timeline and the keyframe grid go on, no discontinuity."""
    run = broadcast(clip, tmp_path / "hls", counted_encoders, end_at=4.0, lost=(2.0, 2.5))
    stats = run.pipeline.stats
    assert stats.video_frames_repeated == pytest.approx(15, abs=1)
    assert stats.audio_samples_silence == pytest.approx(AUDIO_RATE // 2, abs=1100)
    assert stats.jumps == 0
    video = run.recorders[0].video
    first = video[0].pts or 0
    assert [p.pts for p in video] == list(range(first, first + len(video)))
    assert [i for i, p in enumerate(video) if p.is_keyframe] == list(
        range(0, len(video), SETTINGS.gop)
    )
    recording = parse((run.folder / RECORDING_PLAYLIST).read_text())
    assert not any(s.discontinuity for s in recording.segments)
    assert sum(s.duration for s in recording.segments) == pytest.approx(
        4.0 - clip.video_start, abs=0.1
    )


def test_reconnect_announced_by_the_server(
    clip: Clip, tmp_path: Path, counted_encoders: dict[str, int]
) -> None:
    """`Pipeline.discontinuity()`: a keyframe at once (x264's GOP starts again there)
    and the segment from it marked, even with no jump in the timestamps."""
    run = broadcast(clip, tmp_path / "hls", counted_encoders, end_at=4.0, announce_at=2.5)
    assert run.pipeline.stats.jumps == 1 and run.recorders[0].breaks == 1
    video = run.recorders[0].video
    keys = [i for i, p in enumerate(video) if p.is_keyframe]
    forced = keys[2]  # after the regular ones at 0 and 30, off the grid
    assert keys == [0, 30, forced, forced + 30] and forced % 30
    assert float((video[forced].pts or 0) * SETTINGS.video_time_base) == pytest.approx(
        2.5, abs=0.07
    )
    recording = parse((run.folder / RECORDING_PLAYLIST).read_text())
    assert [s.discontinuity for s in recording.segments].count(True) == 1
    for s in segments_of(run):
        assert s.first_is_keyframe and s.streams == (1, 1), s


# -- the pieces -----------------------------------------------------------------------


def test_adts_header() -> None:
    header = adts_header(100)
    assert len(header) == 7 and header[:2] == b"\xff\xf1"
    assert (header[3] & 3) << 11 | header[4] << 3 | header[5] >> 5 == 107
    with pytest.raises(ValueError):
        adts_header(9000)


def test_settings_are_checked() -> None:
    assert Encoder().gop == 30
    with pytest.raises(ValueError):
        Encoder(segment_seconds=0.01)
    with pytest.raises(ValueError):
        Encoder(width=641)


def test_cpu_per_second_of_360p30(clip: Clip) -> None:
    """The pipeline alone (scale, encode H.264 and AAC), no subscriber: CPU seconds per
    second of media. Printed for the report; the bound is loose (CI machines vary)."""
    pipe = Pipeline(SETTINGS, on_video=lambda p: None, on_audio=lambda p: None)
    started, wall = time.process_time(), time.perf_counter()
    media = clip.duration  # seconds of video
    for seconds, frame in clip.frames:
        stamp(frame, seconds, 0)
        if isinstance(frame, av.VideoFrame):
            pipe.push_video(frame)
        else:
            pipe.push_audio(frame)
    pipe.close()
    cpu, elapsed = time.process_time() - started, time.perf_counter() - wall
    per_second = cpu / media
    print(
        f"\n360p30 pipeline: {cpu:.2f} s CPU ({elapsed:.2f} s wall) for {media:.2f} s"
        f" of media: {per_second:.3f} CPU s per media s"
    )
    assert per_second < 1.0  # it keeps up with real time on one core
