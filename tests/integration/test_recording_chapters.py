"""The recording on the real server: the chair's agenda, floor and votes become its
chapter marks (EXT-X-DATERANGE in recording.m3u8, cues in chapters.vtt), what was under
way before the broadcast began included; the recording outlives kill -9 of the server
(carried on after a restart: numbering goes on, nothing overwritten, a discontinuity
between the parts) and gets its ENDLIST when the sitting closes, also while no server
carried it on."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from av.container import InputContainer

from broadcast import hls
from broadcast.segmenter import segment_number
from session_server.broadcasting.ice import offer_host_addresses
from tests.broadcasting import CLIP, offer_of, until_live
from tests.conftest import Server, seed_demo, server_env, skip_or_fail, start_server
from tests.wsclient import LiveClient

S = 1


@dataclass
class Place:
    """A server's database and folders, to start it again on the same ones."""

    tmp: Path
    env: dict[str, str]

    @property
    def hls(self) -> Path:
        return self.tmp / "hls"

    def start(self, name: str, **extra: str) -> Server:
        return start_server({**self.env, **extra}, self.tmp / f"{name}.log")


@pytest.fixture
def place(tmp_path: Path) -> Place:
    offer_host_addresses(["127.0.0.1"])  # this test process's peers offer loopback too
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    env = server_env(
        url, tmp_path, KENGASH_ICE_HOSTS="127.0.0.1", KENGASH_HLS_DIR=str(tmp_path / "hls")
    )
    return Place(tmp_path, env)


@pytest.fixture
def server(place: Place) -> Iterator[Server]:
    server = place.start("server")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def clip() -> Path:
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    return CLIP


async def ok(client: LiveClient, name: str, **args: Any) -> dict[str, Any]:
    answer = await client.command(name, {"session": S, **args})
    assert answer["type"] == "ack", answer
    return answer["result"]  # type: ignore[no-any-return]


async def publish(server: Server, clip: Path, viewer: LiveClient) -> RTCPeerConnection:
    """The clip published by the operator (WHIP), once it is on air."""
    pc, offer = await offer_of(clip)
    headers = {
        "Authorization": f"Bearer {server.token('operator')}",
        "Content-Type": "application/sdp",
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post(f"/whip/{S}", content=offer, headers=headers)
    assert answer.status_code == 201, answer.text
    viewer.events.clear()
    await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
    await until_live(viewer, True)
    return pc


async def recording(
    server: Server, until: Any, what: str, within: float = 20
) -> hls.ParsedPlaylist:
    """recording.m3u8 once `until(parsed)` holds."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        async with asyncio.timeout(within):
            while True:
                answer = await http.get(f"/hls/{S}/recording.m3u8")
                if answer.status_code == 200:
                    parsed = hls.parse(answer.text)
                    if until(parsed):
                        return parsed
                await asyncio.sleep(0.2)
    raise AssertionError(what)  # pragma: no cover (the timeout raises first)


def marked(*ids: str) -> Any:
    return lambda p: {m.id for m in p.dateranges} >= set(ids) and len(p.segments) >= 1


async def agenda_and_roster(server: Server) -> tuple[list[dict[str, Any]], dict[int, str]]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        sitting = (await http.get(f"/api/sessions/{S}")).json()
        council = sitting["council"]["id"]
        roster = (await http.get(f"/api/councils/{council}/deputies")).json()
    return sitting["agenda"], {d["id"]: d["name"] for d in roster}


async def register(server: Server, present: int) -> list[LiveClient]:
    """The chair and deputies registered, for a quorum (35 seats: 18)."""
    tokens = [server.token(f"deputy{n:02d}") for n in range(2, 2 + present - 1)]
    deputies = [await LiveClient.open(server.ws_url, t) for t in tokens]
    await asyncio.gather(*(ok(d, "attendance.register") for d in deputies))
    return deputies


CUE = re.compile(
    r"(?m)^(\S+)\n(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)\n(.+)$"
)


def cues(vtt: str) -> dict[str, tuple[float, float, str]]:
    """chapters.vtt's cues by id: (start, end, text)."""
    assert vtt.startswith("WEBVTT\n")
    found = {}
    for m in CUE.finditer(vtt):
        g = [int(x) for x in m.groups()[1:9]]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        found[m.group(1)] = (start, end, m.group(10))
    return found


async def chapters_vtt(server: Server) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.get(f"/hls/{S}/chapters.vtt")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/vtt; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=1"
    return answer.text


def media_of(folder: Path, playlist: hls.ParsedPlaylist) -> tuple[float, float]:
    """Seconds of video and of audio in the recording's segments, as PyAV reads them."""
    video = audio = Fraction(0)
    for segment in playlist.segments:
        with av.open(str(folder / segment.uri), format="mpegts") as container:
            assert isinstance(container, InputContainer)
            assert (len(container.streams.video), len(container.streams.audio)) == (1, 1)
            assert container.streams.video[0].codec_context.name == "h264"
            assert container.streams.audio[0].codec_context.name == "aac"
            spans: dict[str, list[Fraction]] = {"video": [], "audio": []}
            for packet in container.demux():
                if packet.pts is None or packet.stream.type not in spans:
                    continue
                tb = Fraction(packet.time_base)
                length = (packet.duration or 0) * tb
                spans[packet.stream.type] += [packet.pts * tb, packet.pts * tb + length]
            video += max(spans["video"]) - min(spans["video"])
            audio += max(spans["audio"]) - min(spans["audio"])
    return float(video), float(audio)


async def test_the_recording_carries_the_sittings_chapters(
    server: Server, place: Place, clip: Path
) -> None:
    agenda, deputies = await agenda_and_roster(server)
    first, second = agenda[0], agenda[1]
    assert (await httpx.AsyncClient(base_url=server.url).get(f"/hls/{S}/chapters.vtt")).json()[
        "error"
    ]["code"] == "not_live"
    chair = await LiveClient.open(server.ws_url, server.token("chair"))
    await chair.subscribe(S)
    await ok(chair, "session.open")
    await ok(chair, "attendance.register")
    present = await register(server, 18)
    # Under way before the broadcast begins: the recording's marks have it too.
    await ok(chair, "agenda.start_item", item=first["id"])
    await asyncio.sleep(0.3)
    pc = await publish(server, clip, chair)
    await recording(server, marked(f"item-{first['id']}"), "the item under way is not marked")
    speaker = sorted(deputies)[4]
    await ok(chair, "agenda.start_item", item=second["id"])
    await asyncio.sleep(0.6)
    await ok(chair, "speaker.grant", deputy=speaker, seconds=60)
    await asyncio.sleep(0.6)
    question = "Budjetga oʻzgartirish kiritilsin"
    vote = (await ok(chair, "vote.open", question=question, kind="simple"))["vote"]
    await asyncio.sleep(0.6)
    await ok(chair, "vote.close", vote=vote)
    # While it is live: the marks are in the recording as they happen.
    live = await recording(server, marked(f"vote-{vote}"), "the vote is not marked")
    assert not live.ended
    by_id = {m.id: m for m in live.dateranges}
    assert by_id[f"vote-{vote}"].title == f"Vote 1: {question}"
    # Let the clip play out, then the sitting closes: ENDLIST.
    await asyncio.sleep(3)
    await ok(chair, "session.close")
    done = await recording(server, lambda p: p.ended, "no ENDLIST after the sitting closed")
    await pc.close()
    for client in (chair, *present):
        await client.close()

    marks = {m.id: m for m in done.dateranges}
    speech = next(m for m in done.dateranges if m.kind == "speaker")
    assert set(marks) == {f"item-{first['id']}", f"item-{second['id']}", speech.id, f"vote-{vote}"}
    item1, item2, voted = (
        marks[f"item-{first['id']}"],
        marks[f"item-{second['id']}"],
        marks[f"vote-{vote}"],
    )
    assert item1.kind == "item" and item1.title == f"1. {first['title']}"
    assert item2.title == f"2. {second['title']}"
    assert speech.title == deputies[speaker]
    assert voted.kind == "vote" and voted.title == f"Vote 1: {question}"
    # Every mark ended, in the order things happened; the first began before the media.
    assert all(m.end is not None for m in done.dateranges)
    origin = done.segments[0].program_date_time
    assert origin is not None and item1.start < origin
    assert item1.end == item2.start <= speech.start <= voted.start
    assert voted.end is not None and voted.start < voted.end
    # The speech and the item ran on through the vote, to the sitting's close.
    assert speech.end is not None and voted.end < speech.end
    assert item2.end is not None and voted.end < item2.end

    vtt = cues(await chapters_vtt(server))
    assert set(vtt) == set(marks)
    assert vtt[item1.id][0] == 0  # under way when the broadcast began
    assert vtt[item2.id][2] == item2.title and vtt[voted.id][2] == voted.title
    for id, mark in marks.items():
        start, end, _ = vtt[id]
        assert end > start, id
        if mark.start >= origin:
            assert start == pytest.approx((mark.start - origin).total_seconds(), abs=0.002)
    total = sum(s.duration for s in done.segments)
    assert max(end for _, end, _ in vtt.values()) <= total
    # The media: video and sound from the first segment to the sitting's close (what
    # was queued for the encoder then still comes in), every segment read by PyAV.
    closed_after = (item2.end - origin).total_seconds()
    assert total == pytest.approx(closed_after, abs=1.0)
    video, audio = media_of(place.hls / str(S), done)
    assert video == pytest.approx(total, abs=0.3)
    assert audio == pytest.approx(video, abs=0.3)


async def test_the_recording_outlives_kill_9(place: Place, clip: Path) -> None:
    server = place.start("first")
    try:
        chair = await LiveClient.open(server.ws_url, server.token("chair"))
        await chair.subscribe(S)
        await ok(chair, "session.open")
        item = (await agenda_and_roster(server))[0][0]["id"]
        await ok(chair, "agenda.start_item", item=item)
        pc = await publish(server, clip, chair)
        before = await recording(
            server, lambda p: len(p.segments) >= 3 and p.dateranges, "no segments"
        )
        await ok(chair, "speaker.grant", deputy=sorted((await agenda_and_roster(server))[1])[2])
        before = await recording(
            server, lambda p: any(m.kind == "speaker" for m in p.dateranges), "no speech mark"
        )
        folder = place.hls / str(S)
        kept = {p.name: p.read_bytes() for p in folder.glob("seg-*.ts")}
        await chair.close()
        os.kill(server.process.pid, signal.SIGKILL)  # mid-broadcast
        server.process.wait(10)
        await pc.close()
    finally:
        server.kill()
    listed = before.segments
    taken = max(segment_number(name) or 0 for name in kept)

    server = place.start("again")
    try:
        # The recording is there as the first server left it, not ended.
        left = await recording(server, lambda p: True, "no recording after the restart")
        assert not left.ended and len(left.segments) >= len(listed)
        chair = await LiveClient.open(server.ws_url, server.token("chair"))
        await chair.subscribe(S)
        pc = await publish(server, clip, chair)
        grown = await recording(
            server, lambda p: len(p.segments) >= len(left.segments) + 3, "not carried on"
        )
        await ok(chair, "speaker.end")
        await asyncio.sleep(1)
        await ok(chair, "session.close")
        done = await recording(server, lambda p: p.ended, "no ENDLIST after the sitting closed")
        vtt = cues(await chapters_vtt(server))
        await pc.close()
        await chair.close()
    finally:
        server.kill()

    assert len(done.segments) > len(grown.segments) - 1
    old, new = done.segments[: len(left.segments)], done.segments[len(left.segments) :]
    assert [s.uri for s in old] == [s.uri for s in left.segments]
    assert [s.uri for s in listed] == [s.uri for s in old[: len(listed)]]
    numbers = [segment_number(s.uri) for s in done.segments]
    assert all(a is not None and b is not None and a < b for a, b in pairwise(numbers))
    assert (segment_number(new[0].uri) or 0) > taken  # after every file there was
    for name, data in kept.items():
        assert (folder / name).read_bytes() == data, f"{name} was overwritten"
    assert new[0].discontinuity and sum(s.discontinuity for s in done.segments) == 1
    # The marks from before the restart kept, and ended when the sitting closed.
    marks = {m.id: m for m in done.dateranges}
    assert {m.id for m in before.dateranges} <= set(marks)
    assert f"item-{item}" in marks and all(m.end is not None for m in marks.values())
    assert set(vtt) == set(marks)
    media_of(folder, done)  # every segment, both parts, reads with video and audio


async def test_a_sitting_closed_while_nobody_carried_the_recording_on(
    place: Place, clip: Path
) -> None:
    """Killed mid-broadcast; the sitting is closed by a server that does not have the
    recording's folder (another process, say); the next server to start with it ends
    the recording. And one closed after a restart without a publisher ends too."""
    server = place.start("first")
    try:
        chair = await LiveClient.open(server.ws_url, server.token("chair"))
        await chair.subscribe(S)
        await ok(chair, "session.open")
        item = (await agenda_and_roster(server))[0][0]["id"]
        await ok(chair, "agenda.start_item", item=item)
        pc = await publish(server, clip, chair)
        await recording(server, lambda p: len(p.segments) >= 2 and p.dateranges, "no segments")
        await chair.close()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        await pc.close()
    finally:
        server.kill()
    folder = place.hls / str(S)
    assert "#EXT-X-ENDLIST" not in (folder / "recording.m3u8").read_text()

    elsewhere = place.start("elsewhere", KENGASH_HLS_DIR=str(place.tmp / "other-hls"))
    try:
        chair = await LiveClient.open(elsewhere.ws_url, elsewhere.token("chair"))
        await chair.subscribe(S)
        await ok(chair, "session.close")
        await chair.close()
    finally:
        elsewhere.kill()
    assert "#EXT-X-ENDLIST" not in (folder / "recording.m3u8").read_text()

    server = place.start("again")
    try:
        done = await recording(server, lambda p: p.ended, "no ENDLIST at start-up")
        marks = {m.id: m for m in done.dateranges}
        assert f"item-{item}" in marks and marks[f"item-{item}"].end is not None
        assert parse_live(folder).ended
    finally:
        server.kill()

    # Started again on its own folder, the recording stays as it is.
    server = place.start("third")
    try:
        assert (await recording(server, lambda p: p.ended, "ended")) == done
    finally:
        server.kill()


async def test_a_sitting_closed_after_a_restart_without_a_publisher(
    place: Place, clip: Path
) -> None:
    server = place.start("first")
    try:
        chair = await LiveClient.open(server.ws_url, server.token("chair"))
        await chair.subscribe(S)
        await ok(chair, "session.open")
        pc = await publish(server, clip, chair)
        await recording(server, lambda p: len(p.segments) >= 2, "no segments")
        await chair.close()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        await pc.close()
    finally:
        server.kill()
    server = place.start("again")
    try:
        left = await recording(server, lambda p: not p.ended, "the recording is gone")
        chair = await LiveClient.open(server.ws_url, server.token("chair"))
        await chair.subscribe(S)
        await ok(chair, "session.close")
        await chair.close()
        done = await recording(server, lambda p: p.ended, "no ENDLIST when the sitting closed")
        assert done.segments == left.segments
        assert parse_live(place.hls / str(S)).ended
    finally:
        server.kill()


def parse_live(folder: Path) -> hls.ParsedPlaylist:
    return hls.parse((folder / "index.m3u8").read_text())
