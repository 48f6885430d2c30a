"""Signing in with One ID in a real browser: the sign-in card offers One ID only where the
server has it, a deputy signs in through the One ID stand-in and ends up on the tablet,
and a refusal is said in the page's language, with nothing left in the address bar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, expect

from session_server import demo
from tests.browser.helpers import TABLET, Tab, chromium
from tests.conftest import Server, free_port, seed_demo, server_env, start_server
from tests.oneid_standin import OneIdStandIn, person

pytestmark = pytest.mark.browser

CLIENT_ID = "kengash-live"
SECRET = "oneid-browser-test-secret"
DEPUTY05 = demo.roster()[4]


@pytest.fixture
def standin() -> Iterator[OneIdStandIn]:
    one_id = OneIdStandIn(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        person=person(DEPUTY05.pinfl, DEPUTY05.full_name),
    )
    try:
        yield one_id
    finally:
        one_id.stop()


@pytest.fixture
def oneid_server(tmp_path: Path, standin: OneIdStandIn) -> Iterator[Server]:
    """The demo on SQLite, with One ID: the stand-in. Beside `sqlite_server`, which uses
    tmp_path itself."""
    tmp_path = tmp_path / "oneid"
    tmp_path.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    port = free_port()
    standin.redirect_uri = f"http://127.0.0.1:{port}/api/auth/oneid/callback"
    env = server_env(
        url,
        tmp_path,
        KENGASH_ONEID_URL=standin.url,
        KENGASH_ONEID_CLIENT_ID=CLIENT_ID,
        KENGASH_ONEID_CLIENT_SECRET=SECRET,
        KENGASH_ONEID_REDIRECT_URI=standin.redirect_uri,
    )
    server = start_server(env, tmp_path / "server.log", port=port)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def browser(oneid_server: Server, sqlite_server: Server) -> Iterator[Browser]:
    # After the servers: they seed with asyncio.run(), which cannot run while
    # Playwright's sync API holds an event loop.
    with chromium() as b:
        yield b


@pytest.fixture
def tab(browser: Browser, oneid_server: Server) -> Iterator[Tab]:
    opened = Tab(browser, oneid_server.url, TABLET)
    yield opened
    opened.close()
    assert not opened.errors, f"script errors: {opened.errors}"


def test_the_card_offers_one_id_only_where_the_server_has_it(
    browser: Browser, sqlite_server: Server, oneid_server: Server
) -> None:
    without = httpx.get(f"{sqlite_server.url}/api/auth/methods", timeout=10).json()
    assert without == {"demo": True, "eimzo": False, "oneid": False}
    plain = Tab(browser, sqlite_server.url, TABLET)
    try:
        plain.open("/deputy")
        expect(plain.by("login-input")).to_be_visible()
        plain.page.wait_for_load_state("networkidle")  # the card has asked what to offer
        expect(plain.by("login-oneid")).to_have_count(0)
        assert not plain.errors, plain.errors
    finally:
        plain.close()
    with_one_id = Tab(browser, oneid_server.url, TABLET)
    try:
        for path in ("/deputy", "/chair", "/clerk"):
            with_one_id.open(path)
            button = with_one_id.by("login-oneid")
            expect(button).to_have_text("One ID orqali kirish")
            assert button.get_attribute("href") == f"/api/auth/oneid/start?page=%2F{path[1:]}"
            expect(with_one_id.by("login-input")).to_be_visible()  # demo is on here too
        assert not with_one_id.errors, with_one_id.errors
    finally:
        with_one_id.close()


def test_a_deputy_signs_in_with_one_id_and_is_on_the_tablet(
    tab: Tab, standin: OneIdStandIn
) -> None:
    tab.open("/deputy")
    tab.by("login-oneid").click()
    # To One ID and back: the stand-in signs deputy05 in at once.
    tab.wait_online()
    expect(tab.by("current-signin")).to_have_attribute("data-method", "oneid")
    expect(tab.by("current-user")).to_contain_text(DEPUTY05.full_name)
    expect(tab.by("registration-status")).to_be_visible()  # the deputy's console
    # The hand-over code is gone from the address, and One ID was asked for the person.
    assert "#" not in tab.page.url and urlsplit(tab.page.url).path == "/deputy"
    assert [s.form.get("grant_type") for s in standin.seen if s.method == "POST"] == [
        "one_authorization_code",
        "one_access_token_identify",
    ]
    stored = tab.page.evaluate("JSON.parse(sessionStorage.getItem('kengash.auth'))")
    assert stored["method"] == "oneid" and stored["user"]["login"] == "deputy05"
    assert set(stored) == {"token", "user", "method", "expires_at"}
    # A reload keeps the sign-in (the stored token; the used code is gone for good).
    tab.page.reload()
    tab.wait_online()
    expect(tab.by("current-signin")).to_have_attribute("data-method", "oneid")


def test_a_refusal_is_said_in_the_pages_language(tab: Tab, standin: OneIdStandIn) -> None:
    standin.person = person("59999999999999")  # nobody here
    tab.open("/deputy")
    tab.by("login-oneid").click()
    error = tab.by("login-error")
    expect(error).to_have_text(
        "Bu One ID foydalanuvchisi uchun bu yerda hisob yoʻq. Kengash kotibiyatiga murojaat qiling."
    )
    assert "#" not in tab.page.url and urlsplit(tab.page.url).path == "/deputy"
    tab.by("lang-select").select_option("ru")
    expect(error).to_have_text(
        "Для этого пользователя One ID здесь нет учётной записи. Обратитесь в секретариат Кенгаша."
    )
    # One ID down for a moment: said too, and nobody is signed in.
    standin.script.append((503, b""))
    tab.by("login-oneid").click()
    expect(error).to_have_text("One ID сейчас не отвечает. Попробуйте через несколько минут.")
    expect(tab.by("current-user")).to_have_count(0)
    assert tab.page.evaluate("sessionStorage.getItem('kengash.auth')") is None
