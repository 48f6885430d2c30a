"""The pages in a real browser against a real server: the chair console drives what the
watch page and the deputy tablet show; a watch page that lost its socket comes back to
exactly the state a fresh load shows, without reloading; the language switcher."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from session_server.live.state import SECTIONS
from tests.browser.helpers import Tab
from tests.conftest import Server

pytestmark = pytest.mark.browser

SESSION = 1
DEPUTY02 = "Toshmatov Bekzod Rustam oʻgʻli"  # the demo roster's seat 2


def server_seq(server: Server) -> int:
    return int(httpx.get(f"{server.url}/api/sessions/{SESSION}", timeout=10).json()["seq"])


def agenda_item(tab: Tab, index: int) -> str:
    item = tab.page.locator("[data-testid=agenda-item]").nth(index).get_attribute("data-item")
    assert item is not None
    return item


def current_item(tab: Tab, item: str) -> None:
    row = tab.page.locator(f"[data-testid=agenda-item][data-item='{item}']")
    expect(row).to_have_attribute("data-current", "true")
    expect(row).to_have_class(re.compile(r"\bcurrent\b"))


def open_session(chair: Tab) -> None:
    chair.by("btn-open").click()
    expect(chair.by("session-state")).to_have_attribute("data-state", "open")


def test_chair_console_drives_watch_and_deputy_registers(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    chair, watch = tabs["chair"], tabs["watch"]
    chair.sign_in("/chair", "chair")
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    expect(watch.by("session-state")).to_have_attribute("data-state", "scheduled")
    expect(watch.by("video-placeholder")).to_be_visible()

    open_session(chair)
    expect(watch.by("session-state")).to_have_attribute("data-state", "open")

    item = agenda_item(chair, 1)
    chair.by(f"start-item-{item}").click()
    current_item(chair, item)
    current_item(watch, item)
    assert watch.page.locator("[data-testid=agenda-item][data-current=true]").count() == 1

    for tab in (chair, watch):
        expect(tab.by("attendance-count")).to_have_text("0")
        expect(tab.by("quorum")).to_have_attribute("data-met", "false")

    deputy = tabs["deputy"]
    deputy.sign_in("/deputy", "deputy02", quick=True)
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "no")
    deputy.by("btn-register").click()
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "chamber")

    for tab in (chair, watch, deputy):
        expect(tab.by("attendance-count")).to_have_text("1")
        expect(tab.by("attendance-seats")).to_have_text("35")
        expect(tab.by("attendance-needed")).to_have_text("18")
    expect(chair.by("present-list")).to_contain_text(DEPUTY02)
    assert chair.state() == watch.state() == deputy.state()  # no topics yet: nothing redacted


def test_watch_page_resumes_after_losing_its_socket(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    chair, deputy, watch = tabs["chair"], tabs["deputy"], tabs["watch"]
    chair.sign_in("/chair", "chair")
    open_session(chair)
    first, second = agenda_item(chair, 0), agenda_item(chair, 1)
    chair.by(f"start-item-{first}").click()
    current_item(chair, first)
    deputy.sign_in("/deputy", "deputy02")

    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    current_item(watch, first)
    watch.page.evaluate("window.testMarker = 'no reload'")
    before = watch.page.evaluate("({...window.kengash.live.stats})")
    seq_before = watch.seq()

    # Cut the watch page off: the socket closes and reconnecting fails while offline.
    watch.context.set_offline(True)
    watch.page.evaluate("window.kengash.live.socket.close()")
    expect(watch.by("conn-status")).to_have_attribute("data-status", "reconnecting")

    # Meanwhile the sitting goes on: an item, attendance, a request, the floor.
    chair.by(f"start-item-{second}").click()
    current_item(chair, second)
    chair.by("btn-register").click()
    deputy.by("btn-register-remote").click()
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "remote")
    deputy.by("topic-input").fill("Budjet boʻyicha savol")
    deputy.by("btn-request").click()
    expect(deputy.by("my-floor-status")).to_have_attribute("data-kind", "waiting")
    chair.by("seconds-select").select_option("120")
    chair.by(f"grant-{deputy.state()['attendance']['present'][-1]}").click()
    expect(deputy.by("my-floor-status")).to_have_attribute("data-kind", "speaking")
    expect(chair.by("speaker-name")).to_have_text(DEPUTY02)
    seq_now = server_seq(sqlite_server)
    assert seq_now >= seq_before + 5

    # The watch page missed all of it...
    watch.page.wait_for_timeout(1000)
    assert watch.seq() == seq_before
    expect(watch.by("conn-status")).to_have_attribute("data-status", "reconnecting")
    current_item(watch, first)

    # ...and catches up once the network is back, from its last seq, without reloading.
    watch.context.set_offline(False)
    watch.wait_online()
    watch.wait_seq(seq_now)
    current_item(watch, second)
    expect(watch.by("speaker-name")).to_have_text(DEPUTY02)
    expect(watch.by("attendance-count")).to_have_text("2")
    assert watch.page.evaluate("window.testMarker") == "no reload"
    after = watch.page.evaluate("({...window.kengash.live.stats})")
    assert after["connects"] > before["connects"]
    assert after["snapshots"] == before["snapshots"], "resumed by replay, not a new snapshot"
    assert after["events"] == before["events"] + (seq_now - seq_before)

    fresh = tabs["fresh"]
    fresh.open(f"/watch/{SESSION}")
    fresh.wait_online()
    fresh.wait_seq(seq_now)
    assert watch.state() == fresh.state()
    assert watch.rendered() == fresh.rendered()
    # The public view never shows a deputy's note on why they asked for the floor.
    assert "Budjet" not in watch.rendered()
    assert "Budjet" in deputy.page.locator("[data-testid=current-speaker]").inner_text()


def test_a_command_cut_off_by_a_disconnect_is_resent_and_acts_once(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    chair, deputy = tabs["chair"], tabs["deputy"]
    chair.sign_in("/chair", "chair")
    open_session(chair)
    deputy.sign_in("/deputy", "deputy02")
    seq_before = deputy.seq()
    # Send, then drop the socket at once: the ack is lost, the command is sent again
    # with the same id after the reconnect and answered from the server's record.
    result = deputy.page.evaluate(
        """async (session) => {
            const live = window.kengash.live;
            const answer = live.command("attendance.register", {session, present: true});
            const [id] = [...live.pending.keys()];
            live.socket.close();
            const result = await answer;
            return {id, result, pending: live.pending.size};
        }""",
        SESSION,
    )
    assert result["result"]["changed"] is True
    assert result["pending"] == 0
    deputy.wait_online()
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "chamber")
    assert server_seq(sqlite_server) == seq_before + 1
    deputy.wait_seq(seq_before + 1)

    # While the page is offline a press waits, then goes out once the network is back.
    deputy.context.set_offline(True)
    deputy.page.evaluate("window.kengash.live.socket.close()")
    expect(deputy.by("conn-status")).to_have_attribute("data-status", "reconnecting")
    deputy.by("btn-request").click()
    expect(deputy.by("message")).to_have_text("Aloqa kutilmoqda…")  # waiting for the network
    deputy.context.set_offline(False)
    expect(deputy.by("my-floor-status")).to_have_attribute("data-kind", "waiting")
    expect(chair.page.locator("[data-testid=queue-entry]")).to_have_count(1)


def test_nack_is_shown_readably(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    chair, deputy = tabs["chair"], tabs["deputy"]
    chair.sign_in("/chair", "chair")
    open_session(chair)
    deputy.sign_in("/deputy", "deputy02")
    deputy.by("btn-request").click()  # not registered present yet
    message = deputy.by("message")
    expect(message).to_have_attribute("data-code", "not_present")
    expect(message).to_contain_text("Avval roʻyxatdan oʻting")


def test_language_switcher(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    watch = tabs["watch"]
    page = watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    title = watch.by("session-title").inner_text()
    agenda = page.locator("[data-testid=agenda-card] .card-title")
    html = page.locator("html")

    expected = {
        "uz-Latn": ("Kun tartibi", "Efir hali boshlanmagan", "Rejalashtirilgan"),
        "uz-Cyrl": ("Кун тартиби", "Эфир ҳали бошланмаган", "Режалаштирилган"),
        "ru": ("Повестка дня", "Трансляция ещё не началась", "Запланирована"),
        "en": ("Agenda", "The broadcast has not started", "Scheduled"),
    }
    expect(html).to_have_attribute("lang", "uz-Latn")
    for lang, (agenda_title, video, state) in expected.items():
        watch.by("lang-select").select_option(lang)
        expect(html).to_have_attribute("lang", lang)
        expect(agenda).to_have_text(agenda_title)
        expect(watch.by("video-placeholder")).to_have_text(video)
        expect(watch.by("session-state")).to_have_text(state)
        assert watch.by("session-title").inner_text() == title  # data stays as it comes

    # The choice is remembered: after a reload, and on the other pages.
    page.reload()
    expect(html).to_have_attribute("lang", "en")
    expect(watch.by("conn-status")).to_have_text("Online")
    watch.open("/")
    expect(page.locator("h2.section-title").first).to_have_text("Sessions")
    watch.open("/chair")
    expect(watch.by("login-submit")).to_have_text("Sign in")
    watch.by("lang-select").select_option("ru")
    expect(watch.by("login-submit")).to_have_text("Войти")
    expect(watch.by("login-input")).to_have_attribute("placeholder", "например, deputy02")


def test_state_js_mirrors_state_py(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    page = tabs["watch"].open("/")
    sections = page.evaluate("import('/static/js/state.js').then((m) => [...m.SECTIONS])")
    assert tuple(sections) == SECTIONS


def test_an_event_out_of_order_makes_the_page_start_over(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    watch = tabs["watch"]
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    good = watch.state()
    # An event that skips a seq is refused; the client asks for a fresh snapshot.
    watch.page.evaluate(
        """() => {
            const live = window.kengash.live;
            const skipped = {kind: "test.skipped", agenda: {items: [], current: null}};
            live._receive(JSON.stringify(
                {type: "event", session: live.session, seq: live.state.seq + 2, event: skipped}
            ));
        }"""
    )
    watch.page.wait_for_function("window.kengash.live.stats.snapshots === 2")
    stats = watch.page.evaluate("({...window.kengash.live.stats})")
    assert stats["resyncs"] == 1
    assert watch.state() == good
    expect(watch.page.locator("[data-testid=agenda-item]")).to_have_count(6)


def test_an_expired_token_sends_the_member_back_to_sign_in(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    deputy = tabs["deputy"]
    deputy.sign_in("/deputy", "deputy02")
    # The tablet's sign-in is ended on the server (signed out elsewhere): its open socket
    # closes with 4401 within seconds, and the page asks to sign in again.
    auth = json.loads(deputy.page.evaluate("sessionStorage.getItem('kengash.auth')"))
    ended = httpx.post(
        f"{sqlite_server.url}/api/auth/sign-out",
        headers={"Authorization": f"Bearer {auth['token']}"},
    )
    assert ended.status_code == 204
    expect(deputy.by("login")).to_be_visible(timeout=10_000)
    expect(deputy.by("login")).to_contain_text("Kirish muddati tugadi")
    assert deputy.page.evaluate("sessionStorage.getItem('kengash.auth')") is None
    deputy.by("login-quick-deputy02").click()
    deputy.wait_online()
    expect(deputy.by("registration-status")).to_have_attribute("data-registered", "no")


def test_the_header_says_how_and_until_when_and_sign_out_ends_it_on_the_server(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    deputy = tabs["deputy"]
    deputy.sign_in("/deputy", "deputy03")
    auth = json.loads(deputy.page.evaluate("sessionStorage.getItem('kengash.auth')"))
    signin = deputy.by("current-signin")
    expect(signin).to_have_attribute("data-method", "demo")
    until = auth["expires_at"]
    expect(signin).to_contain_text("demo kirish")
    local = deputy.page.evaluate(
        "(iso) => { const d = new Date(iso); return `${String(d.getHours()).padStart(2, '0')}:`"
        " + String(d.getMinutes()).padStart(2, '0'); }",
        until,
    )
    expect(signin).to_contain_text(f"{local} gacha")
    deputy.by("logout").click()
    expect(deputy.by("login")).to_be_visible()
    # Signed out on the server, not only forgotten by the tab.
    headers = {"Authorization": f"Bearer {auth['token']}"}
    deadline = time.monotonic() + 10
    while httpx.get(f"{sqlite_server.url}/api/me", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "the token still works after signing out"
        time.sleep(0.1)
