"""Signing in with E-IMZO in a real browser: the card lists the keys the E-IMZO app
(its stand-in, on wss://127.0.0.1:64443) finds, the deputy picks one, the app signs the
server's challenge, and the tablet starts. Where the app is not running the card says
so and offers One ID and demo; a refusal is said in the page's language; the
challenge counts down and is renewed when it runs out."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from session_server import demo
from tests.browser.helpers import TABLET, Tab, chromium
from tests.conftest import Server, free_port, seed_demo, server_env, start_server
from tests.eimzo_app_standin import EimzoAppStandIn
from tests.oneid_standin import OneIdStandIn, person
from tests.pki import TestPKI

pytestmark = pytest.mark.browser

DEPUTY05 = demo.roster()[4]
API_KEYS = "127.0.0.1:TESTKEY0123456789ABCDEF,localhost:TESTKEYFEDCBA9876543210"


@pytest.fixture
def one_id() -> Iterator[OneIdStandIn]:
    standin = OneIdStandIn(
        client_id="kengash-live",
        client_secret="eimzo-page-test-secret",
        person=person(DEPUTY05.pinfl, DEPUTY05.full_name),
    )
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def eimzo_server(tmp_path: Path, pki: TestPKI, one_id: OneIdStandIn) -> Iterator[Server]:
    """The demo on SQLite checking E-IMZO signatures against the test PKI, with One ID."""
    tmp_path = tmp_path / "eimzo"
    tmp_path.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    port = free_port()
    one_id.redirect_uri = f"http://127.0.0.1:{port}/api/auth/oneid/callback"
    env = server_env(
        url,
        tmp_path,
        KENGASH_EIMZO_TRUST_DIR=str(pki.trust_dir),
        KENGASH_EIMZO_CHECK_REVOCATION="0",
        KENGASH_EIMZO_API_KEYS=API_KEYS,
        KENGASH_ONEID_URL=one_id.url,
        KENGASH_ONEID_CLIENT_ID=one_id.client_id,
        KENGASH_ONEID_CLIENT_SECRET=one_id.client_secret,
        KENGASH_ONEID_REDIRECT_URI=one_id.redirect_uri,
    )
    server = start_server(env, tmp_path / "server.log", port=port)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def browser(eimzo_server: Server) -> Iterator[Browser]:
    # After the server: it seeds with asyncio.run(), which cannot run while Playwright's
    # sync API holds an event loop.
    with chromium() as b:
        yield b


@pytest.fixture
def tab(browser: Browser, eimzo_server: Server) -> Iterator[Tab]:
    opened = Tab(browser, eimzo_server.url, TABLET, ignore_https_errors=True)
    yield opened
    opened.close()
    assert not opened.errors, f"script errors: {opened.errors}"


@pytest.fixture
def deputy05_key(pki: TestPKI) -> Any:
    """A key for deputy05 of the demo roster (its PINFL), from the test PKI."""
    return pki.issue(DEPUTY05.full_name, pinfl=DEPUTY05.pinfl, key="rsa")


def test_a_deputy_signs_in_with_e_imzo(
    tab: Tab, eimzo_app: EimzoAppStandIn, deputy05_key: Any, pki: TestPKI
) -> None:
    eimzo_app.keys = [deputy05_key, pki.expired]
    tab.open("/deputy")
    expect(tab.by("login-eimzo")).to_contain_text("E-IMZO orqali kirish")
    keys = tab.by("eimzo-key")
    expect(keys).to_have_count(2)
    mine, expired = keys.nth(0), keys.nth(1)
    # Name, the PINFL's last four digits only, organisation, valid until.
    expect(mine).to_contain_text(DEPUTY05.full_name.lower())
    expect(mine).to_contain_text("•" * 10 + DEPUTY05.pinfl[-4:])
    assert DEPUTY05.pinfl[:10] not in (mine.text_content() or "")
    expect(mine).to_contain_text("kengash test")
    expect(mine).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d gacha amal qiladi"))
    expect(mine).to_be_enabled()
    # The expired key is marked and cannot be chosen.
    expect(expired).to_be_disabled()
    expect(expired).to_contain_text("muddati tugagan")
    # The API keys went to the app first, as the server's settings give them.
    assert eimzo_app.seen[0].name == "apikey"
    assert eimzo_app.seen[0].arguments == [
        "127.0.0.1",
        "TESTKEY0123456789ABCDEF",
        "localhost",
        "TESTKEYFEDCBA9876543210",
    ]
    challenge = tab.by("login-eimzo").get_attribute("data-challenge")

    mine.click()
    tab.wait_online()
    expect(tab.by("current-signin")).to_have_attribute("data-method", "eimzo")
    expect(tab.by("current-signin")).to_contain_text("E-IMZO")
    expect(tab.by("current-user")).to_contain_text(DEPUTY05.full_name)
    expect(tab.by("registration-status")).to_be_visible()  # the deputy's console
    tab.by("lang-select").select_option("en")
    expect(tab.by("current-signin")).to_have_text(re.compile(r"^E-IMZO, until \d{4}-\d\d-\d\d"))
    assert eimzo_app.calls()[-3:] == [
        "pfx.list_all_certificates",
        "pfx.load_key",
        "pkcs7.create_pkcs7",
    ]
    # What the app signed is the challenge the card showed, as base64 of its UTF-8 bytes.
    data64, _key_id, detached = eimzo_app.seen[-1].arguments
    assert detached == "no" and base64.b64decode(data64).decode() == challenge
    stored = tab.page.evaluate("JSON.parse(sessionStorage.getItem('kengash.auth'))")
    assert stored["method"] == "eimzo" and stored["user"]["login"] == "deputy05"
    assert set(stored) == {"token", "user", "method", "expires_at"}
    tab.page.reload()
    tab.wait_online()
    expect(tab.by("current-signin")).to_have_attribute("data-method", "eimzo")


def test_without_the_app_the_card_says_so_and_offers_one_id_and_demo(tab: Tab) -> None:
    # No stand-in: nothing listens on 127.0.0.1:64443.
    tab.open("/deputy")
    status = tab.by("eimzo-status")
    expect(status).to_have_text(
        "Bu qurilmada E-IMZO ilovasi ishga tushirilmagan: uni ishga tushiring yoki"
        " One ID orqali kiring."
    )
    expect(tab.by("eimzo-retry")).to_be_visible()
    expect(tab.by("login-oneid")).to_be_visible()
    expect(tab.by("login-input")).to_be_visible()
    tab.by("lang-select").select_option("en")
    expect(status).to_have_text(
        "The E-IMZO app is not running on this device: start it, or sign in with One ID."
    )
    tab.by("lang-select").select_option("uz-Cyrl")
    expect(status).to_contain_text("E-IMZO иловаси ишга туширилмаган")
    # The demo sign-in still works beside it.
    tab.by("login-quick-deputy02").click()
    tab.wait_online()


def test_a_key_of_nobody_here_is_refused_in_the_pages_language(
    tab: Tab, eimzo_app: EimzoAppStandIn, pki: TestPKI
) -> None:
    eimzo_app.keys = [pki.issue("Begona Shaxs", pinfl="59999999999999", key="ec")]
    tab.open("/chair")
    tab.by("eimzo-key").click()
    error = tab.by("login-error")
    expect(error).to_have_text(
        "Bu kalit egasi uchun bu yerda hisob yoʻq. Kengash kotibiyatiga murojaat qiling."
    )
    tab.by("lang-select").select_option("ru")
    expect(error).to_have_text(
        "Для владельца этого ключа здесь нет учётной записи. Обратитесь в секретариат Кенгаша."
    )
    tab.by("lang-select").select_option("en")
    expect(error).to_have_text(
        "There is no account here for the person of this key."
        " Please contact the council's secretariat."
    )
    expect(tab.by("current-user")).to_have_count(0)
    assert tab.page.evaluate("sessionStorage.getItem('kengash.auth')") is None
    # A wrong password, said by the app, is said too.
    eimzo_app.wrong_password = True
    tab.by("eimzo-key").click()
    expect(error).to_have_text("Wrong password for this key.")


def test_the_challenge_counts_down_and_is_renewed(
    tab: Tab, eimzo_app: EimzoAppStandIn, deputy05_key: Any
) -> None:
    eimzo_app.keys = [deputy05_key]
    tab.open("/clerk")
    countdown = tab.by("eimzo-countdown")
    expect(countdown).to_have_text(re.compile(r"^Kirish kodi yana 1[12]\d soniya amal qiladi$"))
    first = int(countdown.get_attribute("data-seconds") or 0)
    tab.page.wait_for_function(
        "s => Number(document.querySelector('[data-testid=eimzo-countdown]').dataset.seconds) < s",
        arg=first,
    )


def test_a_challenge_that_runs_out_is_replaced(
    browser: Browser, eimzo_server: Server, eimzo_app: EimzoAppStandIn, deputy05_key: Any
) -> None:
    eimzo_app.keys = [deputy05_key]
    tab = Tab(browser, eimzo_server.url, TABLET, ignore_https_errors=True)
    issued: list[str] = []

    def short(route: Route) -> None:
        # The server's challenge, with a ttl of 3 s instead of 120 s.
        response = route.fetch()
        body = response.json()
        issued.append(body["challenge"])
        route.fulfill(response=response, json={**body, "ttl": 3})

    try:
        tab.page.route("**/api/auth/eimzo/challenge", short)
        tab.open("/deputy")
        card = tab.by("login-eimzo")
        expect(tab.by("eimzo-countdown")).to_have_text(
            re.compile(r"^Kirish kodi yana [0-3] soniya amal qiladi$")
        )
        expect(card).to_have_attribute("data-challenge", re.compile(".+"))
        first = card.get_attribute("data-challenge")
        expect(card).not_to_have_attribute("data-challenge", first or "", timeout=8000)
        assert len(issued) >= 2 and issued[0] == first
        # The new one signs in.
        tab.by("eimzo-key").click()
        tab.wait_online()
        expect(tab.by("current-signin")).to_have_attribute("data-method", "eimzo")
        assert not tab.errors, tab.errors
    finally:
        tab.close()
