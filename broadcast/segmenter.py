"""HLS from the pipeline's packets: MPEG-TS segments of about `segment_seconds`, the
live playlist (`index.m3u8`) and the recording's (`recording.m3u8`). It only remuxes:
the packets the one encoder made for every viewer are written as they are (PyAV mux
streams, no codec context, nothing encoded or decoded here).

A segment starts at a video keyframe (the pipeline makes one every `segment_seconds`).
Audio runs a little behind the video through its encoder (AAC's frame and delay), so at
a keyframe the segment still open waits for the audio up to that moment: the keyframe
and what follows are held until an audio packet at or after it arrives (or the audio has
stopped, or HOLD seconds of video have piled up), then the old segment is closed and
the new one written. So each segment holds the audio and video of the same stretch.

Timestamps are the pipeline's (one timeline for the whole broadcast, only forward),
shifted by TS_OFFSET so the AAC encoder's priming samples (before 0) stay positive in
the MPEG-TS; a player sees segments that follow each other in time. The AAC packets
get ADTS headers (what MPEG-TS carries; a mux stream has no extradata to build them
from).

Every segment's EXT-X-PROGRAM-DATE-TIME is the clock's time when its first frame (the
keyframe) came out of the encoder. Playlists are replaced atomically (a temp file, then
os.replace), so a player or the CDN never reads half a playlist.

A recording outlives the server: a Segmenter opened on a folder whose recording.m3u8
has no ENDLIST carries it on (the server was restarted mid-broadcast). The segments
and chapter marks there are kept, numbering goes on after the highest segment there is
(a file the playlist never got, the one being written when the server died, included:
a segment is never overwritten, a CDN may have it), and the first new segment is marked
EXT-X-DISCONTINUITY (new encoder, new timestamps). `end_recording` gives such a
recording its ENDLIST when nobody carries it on (the sitting closed while the server
was down).

Synchronous, like the pipeline: subscribe `video`, `audio` and `discontinuity` to it."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.container import OutputContainer
from av.stream import Stream

from broadcast.hls import DateRange, MediaPlaylist, Segment, parse, resumed
from broadcast.pipeline import AUDIO_RATE, Encoder, Packet

log = logging.getLogger(__name__)

LIVE_PLAYLIST = "index.m3u8"
RECORDING_PLAYLIST = "recording.m3u8"
TS_OFFSET = Fraction(1)  # seconds added to every timestamp written
HOLD = Fraction(1, 2)  # the longest a keyframe waits for the audio to catch up

# ISO/IEC 14496-3 sampling frequency index, for the ADTS header.
_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_AAC_LC = 2  # audio object type
_CHANNELS = 2

Kind = Literal["video", "audio"]


_SEGMENT = re.compile(r"seg-([0-9]{6,})\.ts")


def segment_name(n: int) -> str:
    return f"seg-{n:06d}.ts"


def segment_number(name: str) -> int | None:
    """The number in a segment's file name; None for any other name."""
    match = _SEGMENT.fullmatch(name)
    return int(match.group(1)) if match else None


def next_segment_number(playlist: MediaPlaylist, names: Iterable[str]) -> int:
    """The number the next segment gets: after every segment the playlist lists and
    every segment file there is, so none is ever written twice."""
    numbers = [segment_number(s.uri) for s in playlist.segments]
    numbers += [segment_number(name) for name in names]
    return max((n for n in numbers if n is not None), default=-1) + 1


def carried_on(folder: Path, target_duration: int) -> MediaPlaylist:
    """The recording in `folder` to carry on, or a new one. ValueError if it has ended
    (the sitting's recording is final). A playlist that cannot be read (not ours) is
    moved aside, never written over, and a new recording begins after its segments."""
    path = folder / RECORDING_PLAYLIST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MediaPlaylist(target_duration=target_duration)
    try:
        playlist = resumed(parse(text), target_duration)
    except ValueError as exc:
        aside = path.with_name(f"{path.name}.unreadable-{os.getpid()}-{len(text)}")
        log.warning("recording playlist %s unreadable (%s): moved to %s", path, exc, aside.name)
        os.replace(path, aside)
        return MediaPlaylist(target_duration=target_duration)
    if playlist.ended:
        raise ValueError(f"the recording in {folder} has ended (EXT-X-ENDLIST)")
    return playlist


def end_recording(folder: Path, marks: Iterable[DateRange] = (), window_segments: int = 6) -> bool:
    """Give a recording left without ENDLIST (its server went down, and the sitting
    closed before anyone published again) its final chapter marks and its ENDLIST.
    Whether there was one to end."""
    path = folder / RECORDING_PLAYLIST
    if not path.is_file():
        return False
    playlist = resumed(parse(path.read_text(encoding="utf-8")))
    if playlist.ended:
        return False
    playlist.chart(marks)
    playlist.end()
    write_atomically(folder / LIVE_PLAYLIST, playlist.live_text(window_segments))
    write_atomically(path, playlist.recording_text())
    return True


def adts_header(payload: int, rate: int = AUDIO_RATE, channels: int = _CHANNELS) -> bytes:
    """The 7-byte ADTS header (no CRC) of an AAC-LC frame of `payload` bytes."""
    length = payload + 7
    if length >= 1 << 13:
        raise ValueError(f"AAC frame too long for ADTS: {payload} bytes")
    index = _ADTS_RATES.index(rate)
    profile = _AAC_LC - 1
    return bytes(
        (
            0xFF,
            0xF1,  # sync word, MPEG-4, layer 0, no CRC
            (profile << 6) | (index << 2) | (channels >> 2),
            ((channels & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,  # buffer fullness 0x7FF: variable rate
            0xFC,  # one raw data block
        )
    )


def _is_adts(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF0 == 0xF0


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _time(packet: Packet) -> Fraction:
    if packet.pts is None or not packet.time_base:
        raise ValueError("packet without a timestamp")
    return packet.pts * Fraction(packet.time_base)


@dataclass
class _Open:
    number: int
    path: Path
    container: OutputContainer
    video: Stream
    audio: Stream
    start: Fraction  # seconds of its first (key)frame
    end: Fraction  # seconds where its last video frame ends
    program_date_time: datetime
    discontinuity: bool


class Segmenter:
    def __init__(
        self,
        folder: Path,
        settings: Encoder,
        clock: Callable[[], datetime],
        *,
        window_segments: int = 6,
    ) -> None:
        self.folder = folder
        self.settings = settings
        self.clock = clock
        self.window_segments = window_segments
        folder.mkdir(parents=True, exist_ok=True)
        # Fixed: a live playlist's target duration must not change (RFC 8216 §6.2.1);
        # keyframes come every segment_seconds, so no segment is longer.
        self.playlist = carried_on(folder, max(1, math.ceil(settings.segment_seconds)))
        self._open: _Open | None = None
        self._held: list[tuple[Kind, Packet]] = []
        self._cut_at: Fraction | None = None  # the held keyframe's time
        self._cut_clock: datetime | None = None
        self._cut_discontinuity = False
        self._last_audio: Fraction | None = None
        # Carrying a recording on: new encoder, new timestamps, so a break first.
        self._discontinuity = bool(self.playlist.segments)
        self._next_number = next_segment_number(
            self.playlist, (path.name for path in folder.glob("seg-*.ts"))
        )
        self._finished = False

    # -- what the pipeline hands over ---------------------------------------------

    def video(self, packet: Packet) -> None:
        self._refuse_finished()
        at = _time(packet)
        if packet.is_keyframe:
            if self._cut_at is not None:
                self._release()  # a keyframe while holding (a forced one): cut now
            self._cut_at, self._cut_clock = at, self.clock()
            # The break is announced before the keyframe the pipeline forces for it.
            self._cut_discontinuity, self._discontinuity = self._discontinuity, False
            self._held = [("video", packet)]
            self._maybe_release()
        elif self._cut_at is not None:
            self._held.append(("video", packet))
            self._maybe_release()
        elif self._open is not None:
            self._write("video", packet)
        # else: before the first keyframe there is no segment to put it in.

    def audio(self, packet: Packet) -> None:
        self._refuse_finished()
        at = _time(packet)
        self._last_audio = at
        if self._cut_at is not None and at >= self._cut_at:
            self._held.append(("audio", packet))
            self._maybe_release()
        elif self._open is not None:
            self._write("audio", packet)

    def discontinuity(self) -> None:
        """The publisher reconnected: the segment that starts at the next keyframe is
        marked EXT-X-DISCONTINUITY (the pipeline forces that keyframe)."""
        self._refuse_finished()
        if self._open is not None or self.playlist.segments:
            self._discontinuity = True

    def mark(self, daterange: DateRange) -> None:
        """A chapter mark (an item, a speech, a vote) into both playlists."""
        self.playlist.mark(daterange)
        self._write_playlists()

    def end_mark(self, id: str, end: datetime) -> None:
        self.playlist.end_mark(id, end)
        self._write_playlists()

    def chart(self, marks: Iterable[DateRange]) -> None:
        """The chapter marks as the sitting's log now tells them (MediaPlaylist.chart):
        new ones marked, ended ones ended, the playlists written if anything changed."""
        if self.playlist.chart(marks):
            self._write_playlists()

    def finish(self) -> None:
        """The broadcast is over (close the pipeline first, for its last packets): the
        last segment closes, the playlists get ENDLIST."""
        if self._finished:
            return
        if self._cut_at is not None:
            self._release()
        self._close_segment()
        self._finished = True
        self.playlist.end()
        self._write_playlists()

    # -- cutting -------------------------------------------------------------------

    def _maybe_release(self) -> None:
        assert self._cut_at is not None
        held_video = [_time(p) for kind, p in self._held if kind == "video"]
        audio_reached = self._last_audio is not None and self._last_audio >= self._cut_at
        audio_stopped = self._last_audio is None or (
            self._last_audio < self._cut_at - Fraction(self.settings.segment_seconds)
        )
        waited_enough = max(held_video) - self._cut_at >= HOLD
        if self._open is None or audio_reached or audio_stopped or waited_enough:
            self._release()

    def _release(self) -> None:
        assert self._cut_at is not None and self._cut_clock is not None
        self._close_segment()
        self._open_segment(self._cut_at, self._cut_clock)
        held, self._held = self._held, []
        self._cut_at = self._cut_clock = None
        for kind, packet in held:
            self._write(kind, packet)

    def _open_segment(self, start: Fraction, now: datetime) -> None:
        number = self._next_number
        self._next_number += 1
        path = self.folder / segment_name(number)
        container = av.open(str(path), "w", format="mpegts")
        video = container.add_mux_stream(
            "h264",
            rate=self.settings.fps,
            width=self.settings.width,
            height=self.settings.height,
        )
        audio = container.add_mux_stream("aac", rate=AUDIO_RATE)
        previous = self.playlist.segments[-1].program_date_time if self.playlist.segments else None
        if previous is not None and now <= previous:
            # The wall clock stepped back: keep the playlist's times increasing.
            now = previous + timedelta(milliseconds=1)
        self._open = _Open(
            number=number,
            path=path,
            container=container,
            video=video,
            audio=audio,
            start=start,
            end=start,
            program_date_time=now,
            discontinuity=self._cut_discontinuity,
        )
        self._cut_discontinuity = False

    def _close_segment(self) -> None:
        segment, self._open = self._open, None
        if segment is None:
            return
        segment.container.close()
        self.playlist.add(
            Segment(
                uri=segment.path.name,
                duration=float(segment.end - segment.start),
                program_date_time=segment.program_date_time,
                discontinuity=segment.discontinuity,
            )
        )
        self._write_playlists()

    def _write(self, kind: Kind, packet: Packet) -> None:
        segment = self._open
        assert segment is not None
        data = bytes(packet)
        if kind == "audio" and not _is_adts(data):
            data = adts_header(len(data)) + data
        # The pipeline's packet is every viewer's too: mux a copy, never the packet.
        copy = av.Packet(data)
        time_base = Fraction(packet.time_base)
        offset = int(TS_OFFSET / time_base)
        copy.time_base = time_base
        copy.pts = None if packet.pts is None else packet.pts + offset
        copy.dts = None if packet.dts is None else packet.dts + offset
        copy.duration = packet.duration
        copy.is_keyframe = packet.is_keyframe
        copy.stream = segment.video if kind == "video" else segment.audio
        segment.container.mux(copy)
        if kind == "video":
            frame = (
                packet.duration * time_base if packet.duration else Fraction(1, self.settings.fps)
            )
            segment.end = max(segment.end, _time(packet) + frame)

    def _write_playlists(self) -> None:
        write_atomically(self.folder / LIVE_PLAYLIST, self.playlist.live_text(self.window_segments))
        write_atomically(self.folder / RECORDING_PLAYLIST, self.playlist.recording_text())

    def _refuse_finished(self) -> None:
        if self._finished:
            raise ValueError("the segmenter has finished")
