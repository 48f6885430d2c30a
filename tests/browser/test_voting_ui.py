"""The voting screens in a real browser against a real server: the chair puts a question
to the vote, a deputy's tablet shows the ballot at once, the public sees only "voted N of
M" until the close, and every page then shows the same result; a secret ballot's receipt
code drawn by the tablet is found in the published list; the clerk downloads the
protocol; and the ballot fits a phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, expect

from tests.browser.helpers import Tab
from tests.browser.members import SESSION, Member, cast, deputy_ids, register
from tests.conftest import Server

pytestmark = pytest.mark.browser

LOGINS = [f"deputy{n:02d}" for n in range(2, 22)]  # 20 deputies: a quorum (18 of 35)
DEPUTY02 = "Toshmatov Bekzod Rustam oʻgʻli"
SCREENSHOTS = Path("/tmp/kengash-voting-ui")


def first_item(server: Server) -> dict[str, object]:
    agenda = httpx.get(f"{server.url}/api/sessions/{SESSION}", timeout=10).json()["agenda"]
    return dict(agenda[0])


def open_sitting(server: Server) -> dict[str, int]:
    """The chair opens the sitting and its first item; 20 deputies register present."""
    with Member(server, "chair") as chair:
        chair.ok("session.open")
        chair.ok("agenda.start_item", item=first_item(server)["id"])
    ids = deputy_ids(server, LOGINS)
    register(server, list(ids.values()))
    return ids


def counts(scope: Tab | Locator) -> dict[str, str]:
    by = scope.by if isinstance(scope, Tab) else scope.get_by_test_id
    return {o: by(f"count-{o}").inner_text() for o in ("yes", "no", "abstain")}


def screenshot(tab: Tab, name: str, *, full_page: bool = True) -> None:
    """For a person to look at (the ballot covers the screen: the viewport shows it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def size(element: Locator) -> tuple[float, float]:
    """Height and width as laid out (read in one step: re-renders cannot detach it)."""
    box = element.evaluate(
        "(el) => { const r = el.getBoundingClientRect(); return [r.height, r.width]; }"
    )
    return float(box[0]), float(box[1])


def fits_width(tab: Tab) -> bool:
    return bool(tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_named_vote_from_chair_to_every_screen(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    chair, deputy, watch = tabs["chair"], tabs["deputy"], tabs["watch"]
    chair.sign_in("/chair", "chair")
    chair.by("btn-open").click()
    item = first_item(sqlite_server)
    chair.by(f"start-item-{item['id']}").click()

    # No quorum yet: the form says so and does not let the chair open a vote.
    reason = chair.by("vote-form-reason")
    expect(reason).to_have_attribute("data-reason", "no_quorum")
    expect(reason).to_contain_text("0")
    expect(reason).to_contain_text("18")
    expect(chair.by("vote-open")).to_be_disabled()

    deputy.sign_in("/deputy", "deputy02")
    late = tabs["deputy-late"]  # a deputy who has not registered present
    late.sign_in("/deputy", "deputy22")
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()

    ids = deputy_ids(sqlite_server, LOGINS)
    register(sqlite_server, list(ids.values()))
    expect(reason).to_be_hidden()
    expect(chair.by("vote-open")).to_be_enabled()
    expect(chair.by("vote-question-input")).to_have_value(str(item["title"]))
    expect(chair.by("vote-rule")).to_contain_text("1/2")
    chair.by("vote-kind-select").select_option("simple")
    expect(chair.by("vote-secret-select")).to_have_value("named")
    chair.by("vote-timer").fill("600")
    chair.by("vote-question-input").fill("Budjet loyihasi qabul qilinsin")
    chair.by("vote-open").click()

    # The tablet shows the ballot at once, over everything, with the time left.
    panel = deputy.by("ballot-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "open")
    expect(panel).to_contain_text("Budjet loyihasi qabul qilinsin")
    expect(panel.get_by_test_id("vote-countdown")).to_have_text(re.compile(r"^(09:5\d|10:00)$"))
    for option in ("yes", "no", "abstain"):
        height, _ = size(panel.get_by_test_id(f"ballot-{option}"))
        assert height >= 96, (option, height)
    expect(late.by("ballot-register-first")).to_be_visible()
    expect(late.by("ballot-yes")).to_have_count(0)
    late.by("ballot-register").click()  # registers from the ballot itself...
    expect(late.by("ballot-yes")).to_be_visible()  # ...and may vote (but will not)

    panel.get_by_test_id("ballot-yes").click()
    expect(panel.get_by_test_id("ballot-confirmation")).to_contain_text("Ovozingiz hisobga olindi")
    expect(panel.get_by_test_id("my-choice")).to_have_attribute("data-choice", "yes")
    expect(panel.get_by_test_id("my-choice")).to_have_text("Ha")

    vote = int(deputy.state()["vote"]["id"])
    plan = {"yes": LOGINS[1:11], "no": LOGINS[11:14], "abstain": LOGINS[14:15]}
    for choice, logins in plan.items():
        for login in logins:
            cast(sqlite_server, login, vote, choice, secret=False)

    # The public sees how many have voted, never what.
    progress = watch.by("vote-progress")
    expect(progress).to_have_attribute("data-voted", "15")
    expect(progress).to_have_attribute("data-of", "21")
    expect(progress).to_contain_text("15")
    expect(watch.by("vote-result")).to_have_count(0)
    expect(watch.by("count-yes")).to_have_count(0)
    assert watch.state()["vote"]["result"] is None
    expect(chair.by("vote-control").get_by_test_id("vote-progress")).to_have_attribute(
        "data-voted", "15"
    )

    chair.by("vote-close").click()
    expected = {"yes": "11", "no": "3", "abstain": "1"}
    results = {
        "watch": watch.by("vote-card"),
        "chair": chair.by("voting-card"),
        "deputy": deputy.by("ballot-panel"),
        "deputy card": deputy.by("vote-card"),
    }
    for name, scope in results.items():
        outcome = scope.get_by_test_id("result-outcome")
        expect(outcome).to_have_attribute("data-result", "adopted")
        expect(outcome).to_contain_text("Qabul qilindi")
        assert counts(scope) == expected, name
        expect(scope.get_by_test_id("result-threshold")).to_contain_text("11")
        expect(scope.get_by_test_id("result-present")).to_have_text("21 / 35")
        expect(scope.get_by_test_id("not-voted")).to_have_attribute("data-count", "6")
    mine = watch.page.locator(f"[data-testid=named-ballots] [data-deputy='{ids['deputy02']}']")
    expect(mine).to_contain_text(DEPUTY02)
    expect(mine).to_have_attribute("data-choice", "yes")
    expect(deputy.by("ballot-panel").get_by_test_id("my-counted-as")).to_contain_text("Ha")
    expect(watch.by("votes-item")).to_have_count(1)
    expect(watch.by("votes-outcome")).to_have_attribute("data-result", "adopted")

    # The chair may put the next question; the tablet goes back to the console.
    expect(chair.by("vote-open")).to_be_enabled()
    deputy.by("ballot-dismiss").click()
    expect(deputy.by("ballot-panel")).to_be_hidden()
    expect(deputy.by("vote-card").get_by_test_id("result-outcome")).to_be_visible()


def test_secret_election_receipt_is_found_after_the_close(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    ids = open_sitting(sqlite_server)
    chair, deputy, watch = tabs["chair"], tabs["deputy"], tabs["watch"]
    deputy.sign_in("/deputy", "deputy02")
    chair.sign_in("/chair", "chair")
    chair.by("vote-kind-select").select_option("election")
    expect(chair.by("vote-secret-select")).to_have_value("secret")
    expect(chair.by("vote-election")).to_be_checked()
    chair.by("vote-question-input").fill("Mandat komissiyasi raisi saylansin")
    chair.by("vote-candidates").fill("Nazarova Lola\nSaidov Jamshid\n")
    chair.by("vote-timer").fill("0")
    chair.by("vote-open").click()

    panel = deputy.by("ballot-panel")
    expect(panel).to_have_attribute("data-state", "open")
    expect(panel.get_by_test_id("vote-secrecy")).to_have_attribute("data-secret", "true")
    expect(panel.get_by_test_id("vote-countdown")).to_have_count(0)  # no timer
    panel.get_by_test_id("candidate-c1").check()
    expect(panel.get_by_test_id("candidate-c2")).to_be_disabled()  # one place only
    panel.get_by_test_id("ballot-cast").click()
    receipt_el = panel.get_by_test_id("my-receipt")
    expect(receipt_el).to_be_visible()
    receipt = receipt_el.get_attribute("data-receipt") or ""
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", receipt), receipt
    vote = int(deputy.state()["vote"]["id"])
    stored = deputy.page.evaluate(
        "([v, d]) => JSON.parse(localStorage.getItem(`kengash.ballot.${v}.${d}`))",
        [vote, ids["deputy02"]],
    )
    assert stored["receipt"] == receipt and "choice" not in stored

    # A reload keeps the code; changing the ballot sends the same code again.
    deputy.page.reload()
    deputy.wait_online()
    expect(panel.get_by_test_id("my-receipt")).to_have_attribute("data-receipt", receipt)
    panel.get_by_test_id("ballot-change").click()
    panel.get_by_test_id("candidate-c2").check()
    panel.get_by_test_id("ballot-cast").click()
    expect(panel.get_by_test_id("my-receipt")).to_have_attribute("data-receipt", receipt)

    others = [cast(sqlite_server, login, vote, ["c2"], secret=True) for login in LOGINS[1:18]]
    watch.open(f"/watch/{SESSION}")
    expect(watch.by("vote-progress")).to_have_attribute("data-voted", "18")
    chair.by("vote-close").click()

    outcome = panel.get_by_test_id("result-outcome")
    expect(outcome).to_have_attribute("data-result", "adopted")
    expect(outcome).to_contain_text("Saidov Jamshid")
    expect(panel.get_by_test_id("count-c2")).to_have_text("18")
    expect(panel.get_by_test_id("count-c1")).to_have_text("0")
    rows = panel.get_by_test_id("receipt-row")
    expect(rows).to_have_count(18)
    mine = panel.locator("[data-testid=receipt-row].mine")
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-receipt", receipt)
    expect(mine).to_contain_text("Saidov Jamshid")
    expect(panel.get_by_test_id("my-counted-as")).to_contain_text("Saidov Jamshid")
    # The search box finds a code typed in groups, in lower case.
    panel.get_by_test_id("receipt-search").fill(f"{receipt[:4]} {receipt[4:8]}".lower())
    expect(panel.locator("[data-testid=receipt-row]:visible")).to_have_count(
        1 + sum(code.startswith(receipt[:8]) for code in others)
    )
    # The public list has the same codes and no names.
    expect(watch.by("receipt-row")).to_have_count(18)
    expect(watch.page.locator(f"[data-receipt='{receipt}']")).to_contain_text("Saidov Jamshid")
    expect(watch.by("vote-result")).not_to_contain_text(DEPUTY02)


def test_clerk_downloads_the_protocol_and_chair_cancels_with_a_reason(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    open_sitting(sqlite_server)
    question = "Obodonlashtirish dasturi maʼqullansin"
    with Member(sqlite_server, "chair") as chair_ws:
        vote = chair_ws.ok("vote.open", question=question, kind="simple", timer_seconds=0)["vote"]
        for login in LOGINS[:12]:
            cast(sqlite_server, login, vote, "yes", secret=False)
        chair_ws.ok("vote.close", vote=vote)

    clerk = tabs["clerk"]
    clerk.sign_in("/clerk", "secretary", quick=True)
    card = clerk.by(f"clerk-vote-{vote}")
    expect(card).to_contain_text(question)
    expect(card.get_by_test_id("result-outcome")).to_have_attribute("data-result", "adopted")
    expect(card.get_by_test_id("count-yes")).to_have_text("12")
    with clerk.page.expect_download() as download:
        clerk.by(f"protocol-csv-{vote}").click()
    assert download.value.suggested_filename == f"vote-{vote}.csv"
    assert question in Path(download.value.path()).read_text(encoding="utf-8")
    with clerk.page.expect_download() as download:
        clerk.by(f"protocol-json-{vote}").click()
    assert question in Path(download.value.path()).read_text(encoding="utf-8")

    # The chair cancels the next vote: a reason is required and everyone sees it. A
    # tablet that pressed Yes while offline learns that its ballot was not counted.
    chair, deputy = tabs["chair"], tabs["deputy"]
    chair.sign_in("/chair", "chair")
    deputy.sign_in("/deputy", "deputy02")
    chair.by("vote-question-input").fill("Savol")
    chair.by("vote-open").click()
    expect(deputy.by("ballot-yes")).to_be_visible()
    deputy.context.set_offline(True)
    deputy.page.evaluate("window.kengash.live.socket.close()")
    expect(deputy.by("ballot-conn")).to_have_attribute("data-status", "reconnecting")
    deputy.by("ballot-yes").click()
    expect(deputy.by("ballot-panel").get_by_test_id("message")).to_have_text("Aloqa kutilmoqda…")
    chair.by("vote-cancel").click()
    chair.by("vote-cancel-confirm").click()
    expect(chair.by("vote-control")).to_contain_text("kamida 3 belgi")
    chair.by("vote-cancel-reason").fill("Savol notoʻgʻri tuzilgan")
    chair.by("vote-cancel-confirm").click()
    expect(chair.by("vote-cancelled")).to_contain_text("Savol notoʻgʻri tuzilgan")
    expect(clerk.by(f"clerk-vote-{vote + 1}")).to_have_attribute("data-state", "cancelled")
    expect(clerk.by("clerk-votes").locator("article")).to_have_count(2)

    deputy.context.set_offline(False)
    panel = deputy.by("ballot-panel")
    expect(panel).to_have_attribute("data-state", "cancelled")
    expect(panel.get_by_test_id("vote-cancelled")).to_contain_text("Savol notoʻgʻri tuzilgan")
    message = panel.get_by_test_id("message")
    expect(message).to_have_attribute("data-code", "vote_closed")
    expect(message).to_contain_text("ovozingiz hisobga olinmadi")


def test_portal_shows_progress_then_result(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    open_sitting(sqlite_server)
    portal = tabs["portal"]
    portal.open("/")
    slot = portal.by(f"vote-slot-{SESSION}")
    expect(slot).to_be_empty()
    with Member(sqlite_server, "chair") as chair_ws:
        vote = chair_ws.ok("vote.open", question="Q1", kind="simple", timer_seconds=120)["vote"]
        expect(slot.get_by_test_id("vote-brief")).to_have_attribute("data-state", "open")
        cast(sqlite_server, LOGINS[0], vote, "no", secret=False)
        expect(slot.get_by_test_id("vote-progress")).to_have_attribute("data-voted", "1")
        expect(slot).not_to_contain_text("Yoʻq")  # no count of choices while open
        chair_ws.ok("vote.close", vote=vote)
    expect(slot.get_by_test_id("vote-brief-outcome")).to_have_attribute(
        "data-result", "not_adopted"
    )
    expect(slot).to_contain_text("Yoʻq 1")
    expect(portal.by("link-clerk")).to_have_attribute("href", "/clerk")


def test_voting_screens_fit_a_phone(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    open_sitting(sqlite_server)
    phone, watch = tabs["phone-deputy"], tabs["phone-watch"]
    phone.sign_in("/deputy", "deputy02")
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    with Member(sqlite_server, "chair") as chair_ws:
        vote = chair_ws.ok(
            "vote.open",
            question="2027-yil uchun tuman budjeti loyihasi qabul qilinsin",
            kind="simple",
            timer_seconds=300,
        )["vote"]
    panel = phone.by("ballot-panel")
    expect(panel).to_be_visible()
    for option in ("yes", "no", "abstain"):
        height, width = size(panel.get_by_test_id(f"ballot-{option}"))
        assert height >= 96 and width >= 300, (option, height, width)
    assert fits_width(phone)
    screenshot(phone, "phone-ballot", full_page=False)
    panel.get_by_test_id("ballot-no").click()
    expect(panel.get_by_test_id("ballot-confirmation")).to_be_visible()
    screenshot(phone, "phone-confirmation", full_page=False)
    for login in LOGINS[1:10]:
        cast(sqlite_server, login, vote, "yes", secret=False)
    expect(watch.by("vote-progress")).to_have_attribute("data-voted", "10")
    assert fits_width(watch)
    screenshot(watch, "phone-watch-progress")
    with Member(sqlite_server, "chair") as chair_ws:
        chair_ws.ok("vote.close", vote=vote)
    expect(panel.get_by_test_id("result-outcome")).to_be_visible()
    assert fits_width(phone)
    screenshot(phone, "phone-result", full_page=False)
    expect(watch.by("result-outcome")).to_be_visible()
    assert fits_width(watch)
    screenshot(watch, "phone-watch-result")
    chair = tabs["phone-chair"]
    chair.sign_in("/chair", "chair")
    expect(chair.by("vote-form")).to_be_visible()
    assert fits_width(chair)
    screenshot(chair, "phone-chair")


TIE: dict[str, Any] = {
    "kind": "simple",
    "rule": {"numerator": 1, "denominator": 2, "base": "present", "strict": True, "constant": 0},
    "ties": "chair_decides",
    "motion": {"type": "yes_no"},
    "seats": 35,
    "present": 18,
    "eligible": 18,
    "not_voted": ["1", "14"],
    "cast": 16,
    "counts": {"yes": 8, "no": 8, "abstain": 0},
    "base_value": 16,
    "threshold_exact": "8",
    "threshold": 8,
    "tie": True,
    "chair_decision": None,
    "result": "pending_chair",
}


def test_a_tie_awaits_the_chairs_casting_vote(tabs: dict[str, Tab], sqlite_server: Server) -> None:
    # The demo reglament lets ties fail; a council whose reglament says `chair_decides`
    # gets this. The components are driven with such a state directly.
    tab = tabs["chair"]
    page = tab.open("/")
    vote = {
        "id": 5,
        "item": 1,
        "question": "Q5",
        "kind": "simple",
        "rule": {**TIE["rule"], "secret": False},
        "secret": False,
        "motion": {"candidates": [], "max_choices": 1},
        "state": "pending_chair",
        "closes_at": None,
        "voted": 16,
        "result": TIE,
        "ballots": {"named": []},
    }
    page.evaluate(
        """async (vote) => {
            const { voteControl } = await import("/static/js/ui/vote-control.js");
            const { resultPanel } = await import("/static/js/ui/vote-result.js");
            window.sent = [];
            const send = async (button, cmd, args) => window.sent.push([cmd, args]);
            const state = { vote, attendance: { count: 18 }, deputies: [] };
            const control = voteControl({ send });
            control.update(state);
            const box = document.createElement("div");
            box.id = "box";
            document.body.append(box);
            box.replaceChildren(control.el, resultPanel(vote, state));
            window.decided = (decision) => resultPanel(
                { ...vote, state: "closed", result: { ...vote.result, chair_decision: decision,
                  result: decision === "yes" ? "adopted" : "not_adopted" } }, state);
        }""",
        vote,
    )
    expect(tab.by("tie-panel")).to_be_visible()
    expect(tab.by("vote-close")).to_be_hidden()  # counted already: only the casting vote
    expect(tab.by("result-outcome")).to_have_attribute("data-result", "pending_chair")
    expect(tab.by("result-outcome")).to_contain_text("hal qiluvchi ovozni rais beradi")
    tab.by("tie-yes").click()
    assert page.evaluate("window.sent") == [["vote.decide_tie", {"vote": 5, "decision": "yes"}]]
    page.evaluate("document.querySelector('#box').replaceChildren(window.decided('yes'))")
    expect(tab.by("result-outcome")).to_have_attribute("data-result", "adopted")
    expect(tab.by("result-outcome")).to_contain_text("raisning hal qiluvchi ovozi bilan")
    expect(tab.by("result-outcome")).to_contain_text("Ha")
