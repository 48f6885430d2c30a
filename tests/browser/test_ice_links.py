"""The pages read the STUN and TURN servers from the WHIP and WHEP endpoints' OPTIONS
answer (Link: rel="ice-server") before they make an offer: the parser in static/js/ice.js
over what the server really sends, the shared secret's expiring password included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.helpers import DESKTOP, Tab, chromium
from tests.conftest import Server, seed_demo, server_env, start_server

pytestmark = pytest.mark.browser

STUN = "stun:turn.example.uz:3478"
TURN = "turn:turn.example.uz:3478?transport=udp"


@pytest.fixture
def ice_server(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    env = server_env(
        url,
        tmp_path,
        KENGASH_ICE_SERVERS=f"{STUN},{TURN}",
        KENGASH_TURN_USERNAME='ob"s',
        KENGASH_TURN_CREDENTIAL="pa;ss,word",
    )
    server = start_server(env, tmp_path / "server.log")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def browser(ice_server: Server) -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_the_pages_take_the_servers_the_endpoints_name(
    browser: Browser, ice_server: Server
) -> None:
    tab = Tab(browser, ice_server.url, DESKTOP)
    tab.open("/watch/1")
    servers: dict[str, Any] = tab.page.evaluate(
        """async () => {
            const { iceServersOf, parseIceLinks } = await import("/static/js/ice.js");
            return {
                whep: await iceServersOf("/whep/1"),
                whip: await iceServersOf("/whip/1"),
                none: parseIceLinks(null),
                other: parseIceLinks('<https://example.uz/>; rel="next"'),
            };
        }"""
    )
    expected = [{"urls": STUN}, {"urls": TURN, "username": 'ob"s', "credential": "pa;ss,word"}]
    assert servers == {"whep": expected, "whip": expected, "none": [], "other": []}
    # And the browser takes them as an RTCPeerConnection's configuration.
    taken = tab.page.evaluate(
        """async () => {
            const { iceServersOf } = await import("/static/js/ice.js");
            const pc = new RTCPeerConnection({ iceServers: await iceServersOf("/whep/1") });
            const n = pc.getConfiguration().iceServers.length;
            pc.close();
            return n;
        }"""
    )
    assert taken == 2
    tab.close()
    assert not tab.errors, tab.errors
