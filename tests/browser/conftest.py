"""Fixtures shared by the page tests: a Chromium browser and named tabs on a demo server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser.helpers import DESKTOP, PHONE, TABLET, Tab, chromium
from tests.conftest import Server
from tests.eimzo_app_standin import EimzoAppStandIn
from tests.pki import TestPKI


@pytest.fixture
def browser(sqlite_server: Server) -> Iterator[Browser]:
    # After the server fixture: it seeds its database with asyncio.run(), which cannot run
    # while Playwright's sync API holds an event loop.
    with chromium() as b:
        yield b


@pytest.fixture
def tabs(browser: Browser, sqlite_server: Server) -> Iterator[dict[str, Tab]]:
    """Open tabs by name (each in its own context); all are closed after the test.
    "deputy…" tabs are tablet-sized, "phone…" tabs phone-sized, the others desktops."""
    opened: dict[str, Tab] = {}

    class Tabs(dict[str, Tab]):
        def __missing__(self, name: str) -> Tab:
            if name.startswith("phone"):
                viewport = PHONE
            elif name.startswith("deputy"):
                viewport = TABLET
            else:
                viewport = DESKTOP
            tab = self[name] = opened[name] = Tab(browser, sqlite_server.url, viewport)
            return tab

    yield Tabs()
    errors = {name: tab.errors for name, tab in opened.items() if tab.errors}
    for tab in opened.values():
        tab.close()
    assert not errors, f"script errors: {errors}"


@pytest.fixture
def eimzo_app(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EimzoAppStandIn]:
    """The E-IMZO app's stand-in on wss://127.0.0.1:64443 (self-signed: open the tabs
    with ignore_https_errors), listing no keys until the test sets `keys`."""
    app = EimzoAppStandIn(pki, [], tmp_path_factory.mktemp("eimzo-app")).start()
    try:
        yield app
    finally:
        app.stop()
