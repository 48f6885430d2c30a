"""The operator's broadcast console (/operator) in a real browser: the operator makes an
ingest key for OBS Studio, sees it once with the WHIP URL and the OBS hint, finds it in
the list (without the key) and revokes it, which the server then refuses; the console
follows the sitting's on-air state. A chair is refused the page, as other pages refuse."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import Tab
from tests.conftest import Server

pytestmark = pytest.mark.browser


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
    key_id = rows.first.get_attribute("data-key-id")
    # The copy button puts the key where the operator pastes it.
    console.context.grant_permissions(["clipboard-read", "clipboard-write"])
    console.by("new-key-value-copy").click()
    assert console.page.evaluate("navigator.clipboard.readText()") == key

    # The server takes the key as a WHIP bearer token (JSON, not SDP: 415 after the
    # key is accepted), and the list then says when it was last used.
    whip = httpx.post(
        f"{sqlite_server.url}/whip/1",
        json={},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert whip.status_code == 415, whip.text

    # Shown once: after a reload the key is gone from the page, its row stays.
    console.page.reload()
    console.wait_online()
    expect(console.by("key-row")).to_have_count(1)
    expect(console.by("new-key")).to_have_count(0)
    assert key not in console.page.content()
    expect(console.by("key-row").first).not_to_contain_text("never")

    console.by("key-revoke").click()  # the confirmation is accepted (helpers.Tab)
    revoked_row = console.page.locator(f"[data-testid=key-row][data-key-id='{key_id}']")
    expect(revoked_row).to_have_attribute("data-revoked", "true")
    expect(console.by("key-revoke")).to_have_count(0)
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
