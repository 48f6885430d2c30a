"""The broadcast's one encoder: decoded frames in (as aiortc hands over what a WHIP
publisher sends), encoded packets out to every subscriber (each WHEP viewer, the HLS
segmenter). A sitting is encoded ONCE whatever the audience: a viewer costs a callback,
never an encoder.

Video: every frame is scaled to the settings (VideoFrame.reformat) and put on a constant
frame rate timeline (a faster publisher's extra frames are dropped, a gap is filled by
repeating the last picture), then one libx264 encoder in Constrained Baseline (what every
WebRTC browser decodes), no B-frames, a keyframe exactly every `segment_seconds`
(g = keyint_min = fps * segment_seconds, no scene-cut keyframes), so HLS segments can be
cut on the same grid. Packets carry pts = dts = frame number, time base 1/fps.

Audio: resampled (av.AudioResampler) to what the encoder wants at 48 kHz stereo, cut into
its frame size (1024 samples for AAC) and encoded by one AAC encoder (HLS); WebRTC has no
AAC, so a subscriber that asks for Opus gets the packets of one shared libopus encoder,
opened when the first such subscriber comes. Packets carry pts in samples (1/48000).

Timestamps: each stream's publisher timestamps are mapped to one output timeline that
only goes forward. A stream's timestamps going backwards, or forward by more than
MAX_GAP seconds (a publisher reconnect: aiortc passes the new connection's RTP
timestamps on as they come), re-anchor that stream where the output stands, force a
keyframe and tell the subscribers of a discontinuity (once per reconnect).

Keyframes for a new viewer (`keyframe_requested`): not forced. x264 restarts its GOP at a
forced IDR, so forcing one for each joining viewer would move the segment grid of the
HLS recording and send an I-frame (several P-frames' worth of bits) to every viewer
each time anyone joins. The fixed GOP gives a keyframe within `segment_seconds`; the
call says how long the viewer waits.

Synchronous and CPU-bound, free of asyncio: the server runs it off its event loop (a
thread or process) and hands packets across itself. Frames pushed are the pipeline's
afterwards (their pts may be rewritten); packets handed out are shared by all
subscribers and must not be changed by any of them (copy before muxing)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeAlias

import av
from av.audio.codeccontext import AudioCodecContext
from av.codec.context import CodecContext
from av.stream import Stream
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType

log = logging.getLogger(__name__)

# An encoded packet: no stream of its own until a muxer gives it one.
Packet: TypeAlias = "av.Packet[Stream]"
PacketCallback: TypeAlias = Callable[[Packet], None]
AudioCodec = Literal["aac", "opus"]

AUDIO_RATE = 48_000
AUDIO_TIME_BASE = Fraction(1, AUDIO_RATE)
# A stream's timestamps moving forward by more than this are a jump (a reconnect), not a
# gap to fill (a lost packet, a frozen camera).
MAX_GAP = Fraction(2)
# Audio arriving up to this much later than the samples so far is taken as contiguous
# (timestamp jitter); more is a gap, filled with silence to keep audio and video in sync.
AUDIO_SLACK = AUDIO_RATE // 100  # 10 ms in samples
_AUDIO_ENCODERS: dict[AudioCodec, str] = {"aac": "aac", "opus": "libopus"}


@dataclass(frozen=True)
class Encoder:
    """The encoding settings of a sitting's broadcast."""

    width: int = 640
    height: int = 360
    fps: int = 30
    segment_seconds: float = 1.0
    video_bitrate: int = 800_000
    audio_bitrate: int = 96_000
    opus_bitrate: int = 64_000
    preset: str = "veryfast"
    # x264 threads; 0 lets x264 choose (sliced threads with tune=zerolatency).
    threads: int = 0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"frame size must be positive and even: {self.width}x{self.height}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive: {self.fps}")
        gop = self.fps * Fraction(self.segment_seconds)
        if self.segment_seconds <= 0 or gop.denominator != 1:
            raise ValueError(
                f"segment_seconds ({self.segment_seconds}) must be a positive whole number "
                f"of frames at {self.fps} fps"
            )

    @property
    def gop(self) -> int:
        """Frames from one keyframe to the next: one segment."""
        return int(self.fps * Fraction(self.segment_seconds))

    @property
    def video_time_base(self) -> Fraction:
        return Fraction(1, self.fps)


@dataclass(eq=False)
class _Subscriber:
    on_video: PacketCallback | None
    on_audio: PacketCallback | None
    on_discontinuity: Callable[[], None] | None
    audio: AudioCodec
    # Video starts at a keyframe: what comes before it cannot be decoded.
    waiting: bool = True


def _seconds(frame: av.VideoFrame | av.AudioFrame) -> Fraction | None:
    if frame.pts is None or not frame.time_base:
        return None
    return frame.pts * Fraction(frame.time_base)


def _open_video(settings: Encoder) -> VideoCodecContext:
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width = settings.width
    ctx.height = settings.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = settings.video_time_base
    ctx.framerate = Fraction(settings.fps)
    ctx.bit_rate = settings.video_bitrate
    ctx.gop_size = settings.gop
    ctx.max_b_frames = 0
    if settings.threads:
        ctx.thread_count = settings.threads
    gop = str(settings.gop)
    ctx.options = {
        "profile": "baseline",  # x264 writes it as Constrained Baseline (constraint_set1)
        "preset": settings.preset,
        "tune": "zerolatency",  # no lookahead, no frame delay: a packet per frame pushed
        "bf": "0",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": "0",
        # The same through x264's own parameters: a keyframe exactly every GOP.
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
    }
    _open(ctx)
    return ctx


def _open_audio(codec: AudioCodec, bit_rate: int) -> AudioCodecContext:
    ctx = av.CodecContext.create(_AUDIO_ENCODERS[codec], "w")
    assert isinstance(ctx, AudioCodecContext)
    ctx.sample_rate = AUDIO_RATE
    ctx.layout = "stereo"
    ctx.format = "fltp" if codec == "aac" else "s16"
    ctx.time_base = AUDIO_TIME_BASE
    ctx.bit_rate = bit_rate
    _open(ctx)
    return ctx


def _open(ctx: CodecContext) -> None:
    ctx.open()
    # avcodec_open2 hands back the options it did not use: refuse them, so a setting
    # this FFmpeg build ignores is found here and not in the playback.
    if ctx.options:
        raise ValueError(f"{ctx.name} did not take the options {ctx.options}")


class _AudioEncoder:
    """One audio encoder with its resampler and a FIFO cutting its frame size."""

    def __init__(self, codec: AudioCodec, bit_rate: int) -> None:
        self.codec = codec
        self.ctx = _open_audio(codec, bit_rate)
        self.frame_size = self.ctx.frame_size or 960
        self._resampler: av.AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None
        self._fifo = av.AudioFifo()
        self._next_pts: int | None = None  # in samples at 48 kHz

    def feed(self, frame: av.AudioFrame, start: int) -> list[Packet]:
        """`frame` starts at sample `start` of the output timeline, right after the
        samples fed so far (the pipeline fills any gap before)."""
        if self._next_pts is None:
            self._next_pts = start
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key != self._input:
            # A new publisher may send mono, or another rate: a new resampler, the old
            # one's tail first (into the same FIFO, so no short frame mid-stream).
            self._drain_resampler()
            self._resampler = av.AudioResampler(
                format=self.ctx.format, layout="stereo", rate=AUDIO_RATE
            )
            self._input = key
        assert self._resampler is not None
        frame.pts = None  # the FIFO's output is timed here, not from the publisher
        for out in self._resampler.resample(frame):
            out.pts = None
            self._fifo.write(out)
        return self._encode_ready(partial=False)

    def flush(self) -> list[Packet]:
        self._drain_resampler()
        packets = self._encode_ready(partial=True)
        packets.extend(self._stamp(self.ctx.encode(None)))
        return packets

    def _drain_resampler(self) -> None:
        if self._resampler is not None:
            for out in self._resampler.resample(None):
                out.pts = None
                self._fifo.write(out)

    def _encode_ready(self, *, partial: bool) -> list[Packet]:
        packets: list[Packet] = []
        while True:
            chunk = self._fifo.read(self.frame_size, partial=partial)
            if chunk is None or chunk.samples == 0:
                return packets
            assert self._next_pts is not None
            chunk.pts = self._next_pts
            chunk.time_base = AUDIO_TIME_BASE
            self._next_pts += chunk.samples
            packets.extend(self._stamp(self.ctx.encode(chunk)))

    @staticmethod
    def _stamp(packets: list[Packet]) -> list[Packet]:
        for packet in packets:
            packet.time_base = AUDIO_TIME_BASE
        return packets


@dataclass
class _Track:
    """One input stream's mapping to the output timeline."""

    offset: Fraction | None = None  # output seconds = publisher seconds + offset
    last_start: Fraction | None = None  # publisher seconds of the last frame
    last_end: Fraction | None = None
    reanchor: bool = False

    def place(
        self, start: Fraction, duration: Fraction, position: Fraction
    ) -> tuple[Fraction, bool]:
        """The output time of a frame at publisher time `start`, and whether its
        timestamps jumped (re-anchored at `position`, where the output stands)."""
        jumped = (
            self.last_start is not None
            and self.last_end is not None
            and (start < self.last_start or start - self.last_end > MAX_GAP)
        )
        if self.offset is None or jumped or self.reanchor:
            self.offset = position - start
            self.reanchor = False
        self.last_start, self.last_end = start, start + duration
        return start + self.offset, jumped


@dataclass
class Stats:
    """What the pipeline did, for the metrics."""

    video_frames_in: int = 0
    video_frames_dropped: int = 0  # the publisher sent more than fps
    video_frames_repeated: int = 0  # gaps filled with the last picture
    audio_samples_silence: int = 0  # gaps filled with silence (48 kHz samples)
    jumps: int = 0  # reconnects announced to the subscribers
    subscribers_dropped: int = 0
    keyframes: int = 0
    keyframe_bytes: int = 0
    other_frames: int = 0
    other_frame_bytes: int = 0


class Pipeline:
    """Frames in, each frame encoded once, its packets to every subscriber."""

    def __init__(
        self,
        settings: Encoder | None = None,
        on_video: PacketCallback | None = None,
        on_audio: PacketCallback | None = None,
        on_discontinuity: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings or Encoder()
        self.stats = Stats()
        self._subscribers: list[_Subscriber] = []
        self._video = _open_video(self.settings)
        self._audio: dict[AudioCodec, _AudioEncoder] = {
            "aac": _AudioEncoder("aac", self.settings.audio_bitrate)
        }
        self._video_track = _Track()
        self._audio_track = _Track()
        self._next_slot: int | None = None  # the next video frame number
        self._next_sample: int | None = None  # the next audio sample (48 kHz)
        self._last_picture: av.VideoFrame | None = None
        self._since_keyframe = 0  # frames encoded since the last keyframe
        self._force_keyframe = False
        self._break_announced_at: int | None = None  # video slot of the last announcement
        self._closed = False
        if on_video or on_audio or on_discontinuity:
            self.subscribe(on_video, on_audio, on_discontinuity)

    # -- subscribers ---------------------------------------------------------------

    def subscribe(
        self,
        on_video: PacketCallback | None = None,
        on_audio: PacketCallback | None = None,
        on_discontinuity: Callable[[], None] | None = None,
        *,
        audio: AudioCodec = "aac",
    ) -> Callable[[], None]:
        """Every packet from now on (video; audio of codec `audio`) goes to the
        callbacks, in order; video from the next keyframe on (`keyframe_requested` says
        when). A callback that raises ends the subscription (the others go on).
        Returns the unsubscribe function (harmless to call twice). The first Opus
        subscriber opens the Opus encoder (a few milliseconds)."""
        if audio not in _AUDIO_ENCODERS:
            raise ValueError(f"no audio encoder {audio!r}")
        if on_audio is not None and audio not in self._audio:
            self._audio[audio] = _AudioEncoder(audio, self.settings.opus_bitrate)
        subscriber = _Subscriber(on_video, on_audio, on_discontinuity, audio)
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def encoders(self) -> tuple[CodecContext, ...]:
        """The encoders opened: the video one and one per audio codec in use."""
        return (self._video, *(a.ctx for a in self._audio.values()))

    def _deliver(
        self, kind: Literal["video", "audio"], packets: list[Packet], codec: AudioCodec = "aac"
    ) -> None:
        for packet in packets:
            for subscriber in list(self._subscribers):
                if kind == "video":
                    if subscriber.waiting and not packet.is_keyframe:
                        continue
                    subscriber.waiting = False
                    callback = subscriber.on_video
                elif subscriber.audio == codec:
                    callback = subscriber.on_audio
                else:
                    callback = None
                if callback is not None:
                    self._call(subscriber, callback, packet)

    def _call(self, subscriber: _Subscriber, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            # One broken viewer must not stop the broadcast for the others.
            log.exception("broadcast subscriber failed; dropped")
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
                self.stats.subscribers_dropped += 1

    # -- keyframes and breaks -------------------------------------------------------

    def keyframe_requested(self) -> float:
        """A viewer joined (or lost packets): seconds until the next keyframe, at most
        `segment_seconds`. Nothing is forced (see the module's docstring)."""
        remaining = (self.settings.gop - self._since_keyframe) % self.settings.gop
        return remaining / self.settings.fps

    def discontinuity(self) -> None:
        """The publisher reconnected (the server knows): both streams re-anchor at their
        next frame, the next video frame is a keyframe, subscribers are told."""
        self._video_track.reanchor = self._audio_track.reanchor = True
        self._break()

    def _break(self) -> None:
        self._force_keyframe = True
        slot = self._next_slot or 0
        # A reconnect shows up once per stream, a few frames apart: one announcement.
        if self._break_announced_at is not None and (
            slot - self._break_announced_at < self.settings.gop
        ):
            return
        self._break_announced_at = slot
        self.stats.jumps += 1
        for subscriber in list(self._subscribers):
            if subscriber.on_discontinuity is not None:
                self._call(subscriber, subscriber.on_discontinuity)

    def _position(self) -> Fraction:
        """Where the output stands: the end of what was pushed, either stream."""
        ends = [Fraction(0)]
        if self._next_slot is not None:
            ends.append(self._next_slot * self.settings.video_time_base)
        if self._next_sample is not None:
            ends.append(self._next_sample * AUDIO_TIME_BASE)
        return max(ends)

    # -- video ------------------------------------------------------------------------

    def push_video(self, frame: av.VideoFrame) -> None:
        self._refuse_closed()
        self.stats.video_frames_in += 1
        tb = self.settings.video_time_base
        start = _seconds(frame)
        if start is None:  # no timestamps: take the publisher at its word of a frame rate
            track = self._video_track
            start = track.last_end if track.last_end is not None else Fraction(0)
        at, jumped = self._video_track.place(start, tb, self._position())
        if jumped:
            self._break()
        slot = round(at / tb)
        if self._next_slot is None:
            self._next_slot = slot
        if slot < self._next_slot:
            self.stats.video_frames_dropped += 1  # faster than fps
            return
        picture = frame.reformat(self.settings.width, self.settings.height, "yuv420p")
        if self._last_picture is not None:
            while self._next_slot < slot:  # a gap: the last picture again
                self.stats.video_frames_repeated += 1
                self._encode_video(self._last_picture, self._next_slot)
        self._encode_video(picture, slot)
        self._last_picture = picture

    def _encode_video(self, picture: av.VideoFrame, slot: int) -> None:
        picture.pts = slot
        picture.time_base = self.settings.video_time_base
        picture.pict_type = PictureType.I if self._force_keyframe else PictureType.NONE
        self._force_keyframe = False
        self._next_slot = slot + 1
        picture.duration = 1
        packets = self._video.encode(picture)
        self._account(packets)
        self._deliver("video", packets)

    def _account(self, packets: list[Packet]) -> None:
        for packet in packets:
            packet.time_base = self.settings.video_time_base
            if packet.is_keyframe:
                self._since_keyframe = 0
                self.stats.keyframes += 1
                self.stats.keyframe_bytes += packet.size
            else:
                self.stats.other_frames += 1
                self.stats.other_frame_bytes += packet.size
            self._since_keyframe += 1

    # -- audio ------------------------------------------------------------------------

    def push_audio(self, frame: av.AudioFrame) -> None:
        self._refuse_closed()
        rate = frame.sample_rate
        duration = Fraction(frame.samples, rate)
        start = _seconds(frame)
        if start is None:
            track = self._audio_track
            start = track.last_end if track.last_end is not None else Fraction(0)
        at, jumped = self._audio_track.place(start, duration, self._position())
        if jumped:
            self._break()
        first = round(at * AUDIO_RATE)
        if self._next_sample is None:
            self._next_sample = first
        gap = first - self._next_sample
        if gap > AUDIO_SLACK:  # lost audio: silence, so audio stays with the video
            silence = _silence(frame, round(gap * Fraction(rate, AUDIO_RATE)))
            self.stats.audio_samples_silence += gap
            self._encode_audio(silence, round(silence.samples * Fraction(AUDIO_RATE, rate)))
        self._encode_audio(frame, round(frame.samples * Fraction(AUDIO_RATE, rate)))

    def _encode_audio(self, frame: av.AudioFrame, samples: int) -> None:
        assert self._next_sample is not None
        start = self._next_sample
        self._next_sample += samples
        for codec, encoder in list(self._audio.items()):
            self._deliver("audio", encoder.feed(frame, start), codec)

    # -- the end ----------------------------------------------------------------------

    def close(self) -> None:
        """The broadcast ends: flush the encoders' last packets to the subscribers."""
        if self._closed:
            return
        self._closed = True
        packets = self._video.encode(None)
        self._account(packets)
        self._deliver("video", packets)
        for codec, encoder in self._audio.items():
            self._deliver("audio", encoder.flush(), codec)

    def _refuse_closed(self) -> None:
        if self._closed:
            raise ValueError("the pipeline is closed")


def _silence(like: av.AudioFrame, samples: int) -> av.AudioFrame:
    frame = av.AudioFrame(format=like.format.name, layout=like.layout.name, samples=samples)
    frame.sample_rate = like.sample_rate
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    return frame
