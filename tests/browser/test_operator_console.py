"""The operator's broadcast console (/operator) in a real browser: the operator makes an
ingest key for OBS Studio, sees it once with the WHIP URL and the OBS hint; an aiortc
publisher sends the test clip with the key and the console shows the sitting on air; the
key is in the list (without the key itself), and revoking it ends the broadcast and the
server refuses it from then on. A chair is refused the page, as other pages refuse."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import RTCSessionDescription
from playwright.sync_api import expect

from session_server.broadcasting.ice import offer_host_addresses
from tests.broadcasting import CLIP, offer_of
from tests.browser.helpers import Tab
from tests.conftest import Server, seed_demo, server_env, skip_or_fail, start_server

pytestmark = pytest.mark.browser


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    """The demo server offering 127.0.0.1 as its ICE host, so that a publisher on this
    machine reaches it (aioice leaves loopback out otherwise)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    server = start_server(
        server_env(url, tmp_path, KENGASH_ICE_HOSTS="127.0.0.1", KENGASH_AUDIENCE_SECONDS="0.5"),
        tmp_path / "server.log",
    )
    try:
        yield server
    finally:
        server.kill()


class Publisher(threading.Thread):
    """OBS Studio's part: the clip sent by WHIP with the ingest key, until `stop()`."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.status: int | None = None
        self.done = threading.Event()
        self.started_ = threading.Event()

    def run(self) -> None:
        asyncio.run(self._publish())

    async def _publish(self) -> None:
        offer_host_addresses(["127.0.0.1"])
        pc, offer = await offer_of(CLIP)
        bearer = {"Authorization": f"Bearer {self.key}"}
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
                answer = await http.post(
                    "/whip/1", content=offer, headers={**bearer, "Content-Type": "application/sdp"}
                )
                self.status = answer.status_code
                self.started_.set()
                if answer.status_code != 201:
                    return
                await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
                await asyncio.to_thread(self.done.wait)  # media flows meanwhile
        finally:
            self.started_.set()
            await pc.close()

    def stop(self) -> None:
        self.done.set()
        self.join(15)


def test_the_operator_makes_a_key_sees_it_once_and_revokes_it(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    console = tabs["operator"]
    console.sign_in("/operator", "operator")
    expect(console.by("operator-console")).to_be_visible()
    status = console.by("broadcast-status")
    expect(status).to_have_attribute("data-live", "false")
    expect(console.by("no-keys")).to_be_visible()

    console.by("key-label").fill("OBS in the chamber")
    console.by("key-create").click()
    shown = console.by("new-key")
    expect(shown).to_be_visible()
    key = console.by("new-key-value").input_value()
    assert re.fullmatch(r"kgl_[A-Za-z0-9_-]{43}", key), key
    expect(console.by("new-key-url")).to_have_value(f"{sqlite_server.url}/whip/1")
    expect(console.by("obs-hint")).to_contain_text("WHIP")
    rows = console.by("key-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("OBS in the chamber")
    expect(rows.first).to_have_attribute("data-revoked", "false")
    expect(console.by("key-last-used")).to_have_attribute("data-used", "false")
    key_id = rows.first.get_attribute("data-key-id")
    # The copy button puts the key where the operator pastes it.
    console.context.grant_permissions(["clipboard-read", "clipboard-write"])
    console.by("new-key-value-copy").click()
    assert console.page.evaluate("navigator.clipboard.readText()") == key

    # OBS publishes with the key: the console shows the sitting on air.
    if not CLIP.exists():
        skip_or_fail(f"the test clip {CLIP} is not there (CI keeps it beside the project)")
    obs = Publisher(sqlite_server.url, key)
    obs.start()
    assert obs.started_.wait(30) and obs.status == 201, obs.status
    try:
        expect(status).to_have_attribute("data-live", "true", timeout=20_000)
        expect(status).to_have_class(re.compile(r"\bon-air\b"))
        # A player follows the live playlist: the console says how many watch.
        for _ in range(100):
            if httpx.get(f"{sqlite_server.url}/hls/1/index.m3u8").status_code == 200:
                break
            time.sleep(0.2)
        expect(console.by("broadcast-viewers")).to_have_attribute("data-count", "1")
        expect(console.by("broadcast-viewers")).to_be_visible()

        # Shown once: after a reload the key is gone from the page, its row stays, and
        # says it was used.
        console.page.reload()
        console.wait_online()
        expect(console.by("broadcast-status")).to_have_attribute("data-live", "true")
        expect(console.by("key-row")).to_have_count(1)
        expect(console.by("new-key")).to_have_count(0)
        assert key not in console.page.content()
        expect(console.by("key-last-used")).to_have_attribute("data-used", "true")

        # Revoked: the broadcast sent with it ends.
        console.by("key-revoke").click()  # the confirmation is accepted (helpers.Tab)
        revoked_row = console.page.locator(f"[data-testid=key-row][data-key-id='{key_id}']")
        expect(revoked_row).to_have_attribute("data-revoked", "true")
        expect(console.by("key-revoke")).to_have_count(0)
        expect(console.by("broadcast-status")).to_have_attribute("data-live", "false")
    finally:
        obs.stop()
    refused = httpx.post(
        f"{sqlite_server.url}/whip/1",
        json={},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "bad_token")


def test_the_console_is_refused_to_a_chair(tabs: dict[str, Tab]) -> None:
    chair = tabs["chair"]
    chair.open("/operator")
    chair.by("login-input").fill("chair")
    chair.by("login-submit").click()
    expect(chair.by("refused")).to_be_visible()
    expect(chair.by("operator-console")).to_have_count(0)
    expect(chair.by("key-create")).to_have_count(0)
