"""The broadcast in a real browser: an aiortc publisher (or the chair console's "Go live"
with Chromium's fake camera) sends to the real server, and /watch/{session} plays it:
live HLS (Chromium's own HLS, and hls.js where the browser has none), the low-delay
switch over WHEP, and after the sitting the recording with its chapters."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from av import VideoFrame
from av.frame import Frame
from playwright.sync_api import Browser, expect

from session_server.broadcasting.ice import offer_host_addresses
from tests.browser.helpers import Tab, chromium
from tests.conftest import ROOT, Server, seed_demo, server_env, skip_or_fail, start_server

pytestmark = pytest.mark.browser

SESSION = 1
CLIP = ROOT.parent / "shared" / "media" / "short_hamilton_clip.mp4"
# Chromium's stand-in camera and microphone, allowed without asking.
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
VIDEO = "[data-testid=player-video]"
# A browser that plays HLS itself (Safari; Chromium since it has its own HLS) is made to
# look as if it had none: the player must then take hls.js.
WITHOUT_NATIVE_HLS = """(() => {
  const own = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : own.call(this, type);
  };
})();"""


@pytest.fixture
def clip() -> Path:
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    return CLIP


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    """The demo server offering 127.0.0.1 as its ICE host (aioice leaves loopback out
    otherwise); this test process's publisher offers it too. Overrides conftest's, so
    the `tabs` fixture opens its pages on this one."""
    offer_host_addresses(["127.0.0.1"])
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    server = start_server(
        server_env(url, tmp_path, KENGASH_ICE_HOSTS="127.0.0.1"), tmp_path / "server.log"
    )
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def browser(sqlite_server: Server) -> Iterator[Browser]:
    with chromium(FAKE_MEDIA) as b:
        yield b


class LoopedVideo(MediaStreamTrack):
    """The looped clip's video with timestamps that keep increasing, at the clip's pace:
    aiortc's looping player starts its video timestamps at 0 again on each pass (its
    audio counts on), which its VP8 encoder refuses and its pacing does not wait for."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self._source = source
        self._offset = 0  # added to each pass's timestamps
        self._last: int | None = None
        self._step = 0  # one frame, in the stream's time base
        self._started: float | None = None

    async def recv(self) -> Frame:
        frame = await self._source.recv()
        assert isinstance(frame, VideoFrame) and frame.pts is not None
        assert frame.time_base is not None
        if self._last is not None and frame.pts + self._offset <= self._last:
            self._offset = self._last + self._step - frame.pts  # a new pass
        pts = frame.pts + self._offset
        if self._last is not None:
            self._step = pts - self._last
        self._last = frame.pts = pts
        at = float(pts * frame.time_base)
        if self._started is None:
            self._started = time.monotonic() - at
        await asyncio.sleep(max(0.0, self._started + at - time.monotonic()))
        return frame


class Publisher:
    """The test clip, looped, sent by WHIP from an event loop of its own thread:
    Playwright's sync API holds the test thread's."""

    def __init__(self, server: Server, clip: Path, login: str = "operator") -> None:
        self.server = server
        self.clip = clip
        self.token = server.token(login)
        self.ready = threading.Event()
        self.failure: str | None = None
        self.location: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Publisher:
        self._thread.start()
        assert self.ready.wait(30), "the publisher did not get an answer within 30 s"
        assert self.failure is None, self.failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        # Looped: the clip is 10 s, a test watches for longer.
        player = MediaPlayer(str(self.clip), loop=True)
        assert player.video is not None and player.audio is not None
        pc.addTransceiver(LoopedVideo(player.video), direction="sendonly")
        pc.addTransceiver(player.audio, direction="sendonly")
        auth = {"Authorization": f"Bearer {self.token}"}
        try:
            await pc.setLocalDescription(await pc.createOffer())
            async with httpx.AsyncClient(base_url=self.server.url, timeout=20) as http:
                answer = await http.post(
                    f"/whip/{SESSION}",
                    content=pc.localDescription.sdp,
                    headers={**auth, "Content-Type": "application/sdp"},
                )
                if answer.status_code != 201:
                    self.failure = f"WHIP {answer.status_code}: {answer.text}"
                    return
                self.location = answer.headers["location"]
                await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
                self.ready.set()
                await self._stop.wait()
                await http.delete(self.location, headers=auth)
        except Exception as exc:  # said in the test thread, which asserts on it
            self.failure = f"the publisher failed: {exc!r}"
        finally:
            self.ready.set()
            await pc.close()
            for track in (player.video, player.audio):
                track.stop()  # and with them the player's reading thread


def video_time(tab: Tab) -> float:
    return float(tab.page.evaluate(f"document.querySelector('{VIDEO}').currentTime"))


def assert_playing(tab: Tab, *, within_s: float = 40) -> None:
    """The page's video has a picture to show and its clock advances over a few seconds."""
    tab.page.wait_for_function(
        f"""() => {{
            const v = document.querySelector('{VIDEO}');
            return v && v.readyState >= 3 && !v.paused && v.currentTime > 0;
        }}""",
        timeout=within_s * 1000,
    )
    # Two seconds of play within eight: the two shared cores also run the server's encoder,
    # the publisher and the browser, so playback may stall for a moment, but it goes on.
    first = video_time(tab)
    deadline = time.monotonic() + 8
    while video_time(tab) - first < 2 and time.monotonic() < deadline:
        time.sleep(0.25)
    ready = int(tab.page.evaluate(f"document.querySelector('{VIDEO}').readyState"))
    advanced = video_time(tab) - first
    assert ready >= 3 and advanced >= 2, f"readyState {ready}, advanced {advanced:.2f} s in 8 s"


def whep_viewers(server: Server) -> float:
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    return sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("kengash_whep_viewers ")
    )


def open_session(chair: Tab) -> None:
    chair.sign_in("/chair", "chair")
    chair.by("btn-open").click()
    expect(chair.by("session-state")).to_have_attribute("data-state", "open")


@pytest.mark.parametrize("engine", ["native", "hlsjs"])
def test_the_watch_page_plays_the_live_broadcast(
    tabs: dict[str, Tab], sqlite_server: Server, clip: Path, engine: str
) -> None:
    watch = tabs["phone"]  # the page is mostly used on phones
    if engine == "hlsjs":
        watch.context.add_init_script(WITHOUT_NATIVE_HLS)
    fetched: list[str] = []
    watch.page.on("request", lambda request: fetched.append(request.url))
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    watch.page.evaluate("window.sameDocument = true")
    expect(watch.by("video-placeholder")).to_be_visible()
    expect(watch.by("player")).to_have_attribute("data-mode", "none")
    with Publisher(sqlite_server, clip):
        expect(watch.by("player")).to_have_attribute("data-mode", "live", timeout=15_000)
        expect(watch.by("player")).to_have_attribute("data-engine", engine)
        expect(watch.by("video-placeholder")).to_be_hidden()
        assert_playing(watch)
        # Muted autoplay (browsers allow no other), and the way to the sound.
        assert watch.page.evaluate(f"document.querySelector('{VIDEO}').muted") is True
        watch.by("player-unmute").click()
        assert watch.page.evaluate(f"document.querySelector('{VIDEO}').muted") is False
        expect(watch.by("player-unmute")).to_be_hidden()
        # The video fits the phone's width.
        box = watch.page.locator(VIDEO).bounding_box()
        assert box is not None and box["width"] <= 390
        # hls.js and its worker, from /static/vendor, only where the browser has no HLS
        # of its own (for the live picture: the recording takes hls.js everywhere it can).
        vendored = [url for url in fetched if "/static/vendor/" in url]
        if engine == "hlsjs":
            assert any(url.endswith("/hls.light.min.mjs") for url in vendored), vendored
            assert any(url.endswith("/hls.worker.js") for url in vendored), vendored
        else:
            assert not vendored, vendored
    # Off air: the live player stops without a reload; the recording so far is offered.
    expect(watch.by("player")).to_have_attribute("data-mode", "recording", timeout=15_000)
    # The publisher reconnects: the same page plays live again.
    with Publisher(sqlite_server, clip):
        expect(watch.by("player")).to_have_attribute("data-mode", "live", timeout=15_000)
        expect(watch.by("player")).to_have_attribute("data-engine", engine)
        assert_playing(watch)
    assert watch.page.evaluate("window.sameDocument") is True
    # Nothing comes from elsewhere: hls.js and its worker are served from /static/vendor.
    outside = [url for url in fetched if not url.startswith((sqlite_server.url, "data:", "blob:"))]
    assert not outside, outside


def test_the_low_delay_switch_plays_over_whep(
    tabs: dict[str, Tab], sqlite_server: Server, clip: Path
) -> None:
    watch = tabs["watch"]
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    with Publisher(sqlite_server, clip):
        expect(watch.by("player")).to_have_attribute("data-mode", "live", timeout=15_000)
        watch.by("player-low-delay").click()
        expect(watch.by("player-low-delay")).to_have_attribute("aria-pressed", "true")
        expect(watch.by("player")).to_have_attribute("data-engine", "whep")
        assert_playing(watch)
        assert watch.page.evaluate(f"document.querySelector('{VIDEO}').srcObject !== null")
        assert whep_viewers(sqlite_server) == 1
        # Back to HLS: the WHEP resource is deleted, not left to time out.
        watch.by("player-low-delay").click()
        expect(watch.by("player")).to_have_attribute("data-engine", "native")
        deadline = time.monotonic() + 10
        while whep_viewers(sqlite_server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert whep_viewers(sqlite_server) == 0
        assert_playing(watch)
        watch.by("player-low-delay").click()
        expect(watch.by("player")).to_have_attribute("data-engine", "whep")
        assert_playing(watch)
    # The publisher drops and reconnects: low delay plays again on the same page.
    expect(watch.by("player")).to_have_attribute("data-mode", "recording", timeout=15_000)
    with Publisher(sqlite_server, clip):
        expect(watch.by("player")).to_have_attribute("data-mode", "live", timeout=15_000)
        expect(watch.by("player")).to_have_attribute("data-engine", "whep")
        assert_playing(watch)
        # Leave the page: pagehide deletes the resource.
        watch.page.wait_for_function(f"() => document.querySelector('{VIDEO}').currentTime > 0")
        watch.open("/")
        deadline = time.monotonic() + 10
        while whep_viewers(sqlite_server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert whep_viewers(sqlite_server) == 0


def test_after_the_sitting_the_recording_plays_with_its_chapters(
    tabs: dict[str, Tab], sqlite_server: Server, clip: Path
) -> None:
    chair, watch = tabs["chair"], tabs["phone"]
    open_session(chair)
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    rows = watch.page.locator("[data-testid=agenda-item]")
    first, second = (rows.nth(i).get_attribute("data-item") for i in (0, 1))
    with Publisher(sqlite_server, clip):
        expect(watch.by("player")).to_have_attribute("data-mode", "live", timeout=15_000)
        assert_playing(watch)
        chair.by(f"start-item-{first}").click()
        time.sleep(4)  # the first item takes some of the recording
        chair.by(f"start-item-{second}").click()
        time.sleep(6)  # and the second (the recording runs a little behind the clock)
        chair.by("btn-close").click()  # the page's confirm() is accepted
        expect(chair.by("session-state")).to_have_attribute("data-state", "closed")
    expect(watch.by("player")).to_have_attribute("data-mode", "recording", timeout=15_000)
    chapters = watch.page.locator("[data-testid=chapter]")
    expect(chapters.first).to_be_visible(timeout=15_000)
    vtt = httpx.get(f"{sqlite_server.url}/hls/{SESSION}/chapters.vtt", timeout=10).text
    assert chapters.count() >= 2, vtt
    # Each agenda item taken up while the recording ran is a chapter, titled as on the agenda.
    titles = chapters.all_inner_texts()
    items = {item["id"]: item for item in watch.state()["agenda"]["items"]}
    for item in (first, second):
        title = items[int(item or 0)]["title"]
        assert any(title in text for text in titles), (title, titles)
    # A recording waits for its viewer; a chapter seeks there and plays. The chapter is
    # one with a few seconds of recording after its start, to see it play.
    assert watch.page.evaluate(f"document.querySelector('{VIDEO}').paused") is True
    # hls.js: Chromium's own HLS plays an EVENT playlist as live, without seeking in it.
    expect(watch.by("player")).to_have_attribute("data-engine", "hlsjs")
    length = float(watch.page.evaluate(f"document.querySelector('{VIDEO}').duration"))
    assert 8 < length < 120, length  # the whole recording, ended (not a live "Infinity")
    starts = [
        float(chapters.nth(i).get_attribute("data-start") or "nan") for i in range(len(titles))
    ]
    later = [i for i, start in enumerate(starts) if start > 1 and length - start >= 4]
    assert later, (starts, length)
    chosen = chapters.nth(later[-1])
    start = starts[later[-1]]
    chosen.click()
    assert_playing(watch)
    assert video_time(watch) >= start
    expect(chosen).to_have_attribute("aria-current", "true")


def test_the_chair_goes_live_with_the_browser_camera(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    chair, watch = tabs["chair"], tabs["phone"]
    open_session(chair)
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    expect(chair.by("go-live-status")).to_have_attribute("data-live", "false")
    chair.by("btn-go-live").click()
    expect(chair.by("go-live-status")).to_have_attribute("data-live", "true", timeout=15_000)
    expect(chair.by("btn-go-live")).to_have_attribute("data-publishing", "true")
    expect(chair.by("go-live-problem")).to_be_hidden()
    expect(watch.by("player")).to_have_attribute("data-mode", "live", timeout=15_000)
    assert_playing(watch)
    # The server counts its viewers (the watch page's HLS player) and the console shows it.
    chair.page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=go-live-viewers]')?.dataset.count) >= 1",
        timeout=20_000,
    )
    expect(chair.by("go-live-viewers")).to_be_visible()
    # A second publisher is refused while the chair is live, in the chair's language.
    other = tabs["chair2"]
    other.sign_in("/chair", "chair")
    other.page.evaluate("localStorage.setItem('kengash.lang', 'ru')")
    other.page.reload()
    other.wait_online()
    other.by("btn-go-live").click()
    expect(other.by("go-live-problem")).to_have_text(
        "Для этого заседания уже идёт трансляция из другого источника"
    )
    expect(other.by("go-live-status")).to_have_attribute("data-live", "true")
    expect(other.by("btn-go-live")).to_have_attribute("data-publishing", "false")
    # A camera the browser was refused (stood in for: the fake camera is always allowed).
    refused = tabs["chair3"]
    refused.context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException("refused", "NotAllowedError"));"""
    )
    refused.sign_in("/chair", "chair")
    refused.page.evaluate("localStorage.setItem('kengash.lang', 'uz-Cyrl')")
    refused.page.reload()
    refused.wait_online()
    refused.by("btn-go-live").click()
    expect(refused.by("go-live-problem")).to_have_text("Камера ёки микрофонга рухсат берилмади")
    expect(refused.by("btn-go-live")).to_be_enabled()
    chair.by("btn-go-live").click()  # "End broadcast"
    expect(chair.by("go-live-status")).to_have_attribute("data-live", "false", timeout=15_000)
    expect(watch.by("player")).to_have_attribute("data-mode", "recording", timeout=15_000)
