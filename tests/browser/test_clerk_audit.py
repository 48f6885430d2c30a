"""The secretariat's sign-ins screens on /clerk in a real browser: the secretary sees
the audit trail of earlier sign-ins (their own council's only: a refused attempt that
named nobody belongs to no council), filters it, downloads it as CSV (fetched with the
bearer token, never in an address), and ends a deputy's sign-ins, which closes that
deputy's socket and sends their tablet back to sign-in."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as Socket
from websockets.sync.client import connect

from session_server.auth.audit import CSV_COLUMNS
from tests.browser.helpers import Tab
from tests.conftest import Server
from tests.wsclient import token_subprotocols

pytestmark = pytest.mark.browser

UNKNOWN = "nobody-at-all"


def test_secretary_reads_the_trail_and_ends_a_deputys_sign_ins(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    url = sqlite_server.url
    # Earlier sign-ins: deputy05's (a socket opened with its token), an unknown login's.
    deputy05 = httpx.post(f"{url}/api/auth/demo", json={"login": "deputy05"}, timeout=10)
    token = deputy05.json()["token"]
    refused = httpx.post(f"{url}/api/auth/demo", json={"login": UNKNOWN}, timeout=10)
    assert refused.status_code == 404
    with connect(sqlite_server.ws_url, subprotocols=token_subprotocols(token)) as socket:
        secretary_at_work(tabs, sqlite_server, socket)


def secretary_at_work(tabs: dict[str, Tab], sqlite_server: Server, socket: Socket) -> None:
    url = sqlite_server.url
    tablet = tabs["deputy05"]
    tablet.sign_in("/deputy", "deputy05")

    clerk = tabs["clerk"]
    addresses: list[str] = []
    clerk.page.on("request", lambda request: addresses.append(request.url))
    clerk.sign_in("/clerk", "secretary")
    trail = clerk.by("audit-trail")
    rows = trail.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    # deputy05's sign-ins are there, newest first; the refusal that named nobody is not
    # (it belongs to no council: only admins see it).
    expect(trail.locator("[data-testid=audit-row][data-login=deputy05]")).to_have_count(2)
    expect(trail.locator("[data-testid=audit-row][data-outcome=refused]")).to_have_count(0)
    ids = [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.id)")]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 3, ids  # + the secretary's own
    admin = httpx.post(f"{url}/api/auth/demo", json={"login": "admin"}, timeout=10).json()
    seen_by_admin = httpx.get(
        f"{url}/api/audit",
        params={"outcome": "refused"},
        headers={"Authorization": f"Bearer {admin['token']}"},
        timeout=10,
    ).json()
    assert [(r["reason"], r["user"]) for r in seen_by_admin] == [("unknown_login", None)]

    # Filters: nothing refused for this council; every row shown succeeded.
    trail.get_by_test_id("audit-outcome").select_option("refused")
    expect(trail.get_by_test_id("audit-empty")).to_be_visible()
    expect(rows).to_have_count(0)
    trail.get_by_test_id("audit-outcome").select_option("ok")
    expect(trail.locator("[data-testid=audit-row][data-login=deputy05]")).to_have_count(2)
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.outcome)")) == {"ok"}

    # The CSV, with the same filters.
    with clerk.page.expect_download() as download:
        trail.get_by_test_id("audit-csv").click()
    assert download.value.suggested_filename == "audit.csv"
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) - 1 == rows.count() and "deputy05" in "\n".join(lines)
    assert any("/api/audit.csv?" in a for a in addresses)
    assert not [a for a in addresses if "token=" in a], addresses  # the token stays out

    # deputy05 has two sign-ins open; the secretary ends them for a lost tablet.
    signins = clerk.by("signins-panel")
    row = signins.locator("[data-testid=user-row][data-login=deputy05]")
    expect(row.get_by_test_id("open-sign-ins")).to_have_text("2")
    row.get_by_test_id("end-sign-ins").click()
    row.get_by_test_id("end-reason").select_option("lost_tablet")
    row.get_by_test_id("end-confirm").click()
    expect(signins.get_by_test_id("end-done")).to_contain_text("2")
    row = signins.locator("[data-testid=user-row][data-login=deputy05]")
    expect(row.get_by_test_id("open-sign-ins")).to_have_text("0")
    expect(row.get_by_test_id("end-sign-ins")).to_have_count(0)

    # The socket opened with deputy05's token is closed with 4401…
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            socket.recv(timeout=15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    # …and deputy05's tablet is back at sign-in, saying why.
    expect(tablet.page.locator("[data-i18n='login.expired']")).to_be_visible(timeout=15000)
    expect(tablet.by("login-input")).to_be_visible()

    # The trail now has the ending, with its reason in words, not the code.
    ended = trail.locator("[data-testid=audit-row][data-kind=sign_ins_ended]")
    expect(ended).to_have_count(1)
    reason = ended.locator("[data-reason=lost_tablet]")
    expect(reason).to_have_attribute("data-i18n", "audit.reason.lost_tablet")
    assert "lost_tablet" not in reason.inner_text()


def test_the_chair_sees_no_secretariat_parts(tabs: dict[str, Tab]) -> None:
    chair = tabs["chair"]
    chair.sign_in("/clerk", "chair")
    expect(chair.by("clerk-console")).to_be_visible()
    expect(chair.by("audit-trail")).to_have_count(0)
    expect(chair.by("signins-panel")).to_have_count(0)


def test_paging_dates_and_what_an_admin_sees(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    url = sqlite_server.url
    for n in range(6, 34):  # 56 sign-ins of council 1's deputies: more than a page (50)
        for _ in range(2):
            answer = httpx.post(f"{url}/api/auth/demo", json={"login": f"deputy{n:02d}"})
            assert answer.status_code == 200, answer.text
    assert httpx.post(f"{url}/api/auth/demo", json={"login": UNKNOWN}).status_code == 404

    clerk = tabs["clerk"]
    clerk.sign_in("/clerk", "secretary")
    trail = clerk.by("audit-trail")
    rows, more = trail.get_by_test_id("audit-row"), trail.get_by_test_id("audit-more")
    expect(rows).to_have_count(50)
    expect(more).to_be_visible()
    more.click()
    expect(rows).to_have_count(57)  # and the secretary's own sign-in
    expect(more).to_be_hidden()
    ids = [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.id)")]
    assert ids == sorted(set(ids), reverse=True), ids  # newest first, no row twice

    # Dates are local days, "to" included: nothing before today, everything from today.
    today = clerk.page.evaluate(
        "() => { const d = new Date(); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 10); }"
    )
    trail.get_by_test_id("audit-to").fill("2020-01-01")
    expect(trail.get_by_test_id("audit-empty")).to_be_visible()
    trail.get_by_test_id("audit-to").fill(today)
    trail.get_by_test_id("audit-from").fill(today)
    expect(rows).to_have_count(50)
    trail.get_by_test_id("audit-kind").select_option("sign_out")
    expect(rows).to_have_count(0)

    # An admin sees the refusal that named nobody, its reason in words; in English too.
    admin = tabs["admin"]
    admin.sign_in("/clerk", "admin")
    admin_trail = admin.by("audit-trail")
    admin_trail.get_by_test_id("audit-outcome").select_option("refused")
    refusal = admin_trail.get_by_test_id("audit-row")
    expect(refusal).to_have_count(1)
    reason = refusal.locator("[data-reason=unknown_login]")
    expect(reason).to_have_attribute("data-i18n", "audit.reason.unknown_login")
    admin.page.evaluate("import('/static/js/i18n.js').then((m) => m.setLang('en'))")
    expect(reason).to_have_text("unknown login")
    expect(refusal).to_contain_text("Refused")
    expect(
        admin.by("signins-panel").locator("[data-testid=user-row][data-login=admin]")
    ).to_have_count(1)


def test_a_secretary_of_a_council_with_no_sitting_still_has_the_sign_ins(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    """The sign-ins and the audit trail need no sitting: a new council's secretary has
    them before the council's first session is scheduled."""
    import sqlite3

    database = sqlite_server.env["KENGASH_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(database) as db:
        council = db.execute(
            "INSERT INTO councils (name, region, rules, created_at)"
            " VALUES ('Yangi Kengash', '', '{\"seats\": 5}', CURRENT_TIMESTAMP)"
        ).lastrowid
        db.execute(
            "INSERT INTO users (login, role, full_name, council_id)"
            " VALUES ('new-clerk', 'secretary', 'Yangi Kotib', ?)",
            (council,),
        )
    clerk = tabs["clerk"]
    clerk.open("/clerk")
    clerk.by("login-input").fill("new-clerk")
    clerk.by("login-submit").click()
    expect(clerk.by("no-session")).to_be_visible()
    expect(clerk.by("signins-panel")).to_be_visible()
    expect(clerk.by("audit-trail").get_by_test_id("audit-row").first).to_be_visible()
