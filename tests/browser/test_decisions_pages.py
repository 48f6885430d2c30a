"""Decisions and the public ledger in a real browser: static/js/ledger.js agrees with the
server's own tlog and rfc8785 on vectors made here; a draft adopted from the chair
console becomes a decision every screen announces, the chair signs it, and its page
verifies it against the ledger (and says so when the decision shown was tampered
with); the register on / finds it by a word of its title; the clerk gets the protocol
and minutes PDFs."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from playwright.sync_api import Page, Route, expect

from session_server import demo
from tests.browser.helpers import DESKTOP, Tab, chromium
from tests.browser.members import SESSION, Member, cast, deputy_ids, register
from tests.conftest import Server, seed_demo, server_env, start_server
from tests.eimzo_app_standin import EimzoAppStandIn
from tests.pki import TestPKI
from tlog import Checkpoint, Signer, leaf_hash, sign_checkpoint, tree

pytestmark = pytest.mark.browser

LOGINS = [f"deputy{n:02d}" for n in range(2, 22)]  # 20 present: a quorum (18 of 35)
YES = LOGINS[:11]  # more than half of those present


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


STATIC = Path(__file__).resolve().parents[2] / "static"
# A made-up origin whose files Playwright serves from static/: the module needs no server.
# (http://127.0.0.1 is a secure context, as WebCrypto wants.)
ORIGIN = "http://127.0.0.1:9"
TYPES = {".js": "text/javascript", ".html": "text/html", ".css": "text/css"}


def serve_static(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
    file = STATIC / path.removeprefix("/static/") if path.startswith("/static/") else None
    if file is None or not file.is_file():
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>t</title>")
        return
    route.fulfill(
        status=200, content_type=TYPES.get(file.suffix, "text/plain"), body=file.read_bytes()
    )


@pytest.fixture
def ledger() -> Iterator[Page]:
    """A page with static/js/ledger.js loaded as `window.ledger`; no script errors."""
    with chromium() as browser:
        page = browser.new_context().new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(f"{ORIGIN}/**", serve_static)
        page.goto(f"{ORIGIN}/")
        page.evaluate("import('/static/js/ledger.js').then((m) => { window.ledger = m; })")
        yield page
        assert not errors, errors


# -- (a) ledger.js against tlog and rfc8785 ------------------------------------------------

CANONICAL_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**53 - 1,
    -(2**53 - 1),
    "",
    'quote " backslash \\ slash / tab \t newline \n nul \x00 del \x7f',
    "Oʻzbekiston Respublikasi, gʻalla — «Кенгаш» qarori № 12-3/2026 \u2028 😀",
    [],
    {},
    [1, [2, [3, {}]], "x"],
    # Keys by UTF-16 code units: the emoji (a surrogate pair, D83D…) before U+FB01,
    # which code point order would put after it.
    {"\ufb01": 1, "😀": 2, "a": 3, "B": 4, "é": 5, "\u20ac": 6, "": 7, "aa": 8, "a\x00": 9},
    {
        "type": "kengash.decision/v1",
        "id": 7,
        "council": {"id": 1, "name": "Toshkent shahar Xalq deputatlari Kengashi"},
        "session": {"id": 1, "number": 12},
        "item": 3,
        "vote": 4,
        "number": "12-1/2026",
        "title": "Shahar budjeti toʻgʻrisida",
        "text": "1. Tasdiqlansin.\n\n2. Nazorat qilinsin.",
        "adopted_on": "2026-12-01",
        "adopted_at": "2026-12-01T10:15:00Z",
    },
]


def test_canonical_json_and_leaf_hashes_agree_with_rfc8785_and_tlog(ledger: Page) -> None:
    got = ledger.evaluate(
        """async (values) => {
            const out = [];
            for (const v of values) {
                const text = ledger.canonicalJson(v);
                const leaf = await ledger.leafHash(ledger.canonicalBytes(v));
                out.push([text, ledger.toHex(leaf)]);
            }
            return out;
        }""",
        CANONICAL_VALUES,
    )
    expected = [
        [rfc8785.dumps(v).decode(), leaf_hash(rfc8785.dumps(v)).hex()] for v in CANONICAL_VALUES
    ]
    assert got == expected

    # What has no canonical form here is refused, not guessed at.
    refused = ledger.evaluate(
        """() => [1.5, Infinity, NaN, 2 ** 53, -(2 ** 53), undefined, [undefined], {a: 0.1}]
            .map((v) => { try { ledger.canonicalJson(v); return "accepted"; }
                          catch (e) { return e.code; } })"""
    )
    assert refused == ["not_canonical"] * 8

    # Leaf and node hashes of raw bytes (RFC 9162's prefixes).
    raw = [b"", b"\x00", b"abc", "Кенгаш".encode()]
    hashes = ledger.evaluate(
        """async (items) => {
            const bytes = items.map((b) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0)));
            const leaves = await Promise.all(bytes.map((b) => ledger.leafHash(b)));
            const node = await ledger.nodeHash(leaves[0], leaves[1]);
            return [...leaves.map(ledger.toHex), ledger.toHex(node)];
        }""",
        [b64(r) for r in raw],
    )
    from tlog import node_hash

    assert hashes == [leaf_hash(r).hex() for r in raw] + [
        node_hash(leaf_hash(raw[0]), leaf_hash(raw[1])).hex()
    ]


def make_tree(size: int) -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(size)]
    return leaves, tree.append(0, leaves, {})


def test_inclusion_proofs_agree_with_tlog(ledger: Page) -> None:
    cases = []
    for size in (1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31):
        leaves, nodes = make_tree(size)
        root = tree.root(size, nodes)
        for index in range(size):
            proof = tree.inclusion_proof(index, size, nodes)
            cases.append(
                {
                    "index": index,
                    "size": size,
                    "leaf": b64(leaves[index]),
                    "proof": [b64(p) for p in proof],
                    "root": b64(root),
                }
            )
    results = ledger.evaluate(
        """async (cases) => {
            const bytes = (b) => ledger.fromBase64(b);
            const attempt = async (c, proof) => {
                try {
                    const root = await ledger.rootFromInclusion(
                        c.index, c.size, bytes(c.leaf), proof.map(bytes));
                    return ledger.toBase64(root);
                } catch (e) { return e.code; }
            };
            const out = [];
            for (const c of cases) {
                out.push([
                    await attempt(c, c.proof),
                    await attempt(c, [...c.proof, c.leaf]),   // one hash too many
                    c.proof.length ? await attempt(c, c.proof.slice(1)) : "bad_proof",
                ]);
            }
            return out;
        }""",
        cases,
    )
    assert results == [[c["root"], "bad_proof", "bad_proof"] for c in cases]
    # A leaf outside the tree, and a hash of the wrong length.
    outside = ledger.evaluate(
        """async () => {
            const zero = new Uint8Array(32);
            const codes = [];
            for (const [i, n, leaf] of [[3, 3, zero], [0, 0, zero], [0, 1, new Uint8Array(31)]]) {
                try { await ledger.rootFromInclusion(i, n, leaf, []); codes.push("accepted"); }
                catch (e) { codes.push(e.code); }
            }
            return codes;
        }"""
    )
    assert outside == ["bad_proof"] * 3


def test_checkpoints_and_keys_agree_with_tlog(ledger: Page) -> None:
    signer = Signer.generate("localhost/kengash-ledger")
    other = Signer.generate("someone-else")
    _, nodes = make_tree(5)
    root = tree.root(5, nodes)
    plain = sign_checkpoint(Checkpoint("localhost/kengash-ledger", 5, root), signer).decode()
    # Co-signed by a key the page does not know, with an extension line: still good.
    cosigned = sign_checkpoint(
        Checkpoint("localhost/kengash-ledger", 5, root, ("extension line",)), other, signer
    ).decode()
    tampered = plain.replace("\n5\n", "\n6\n", 1)
    vkey = signer.verifier().vkey()
    wrong_id = vkey.split("+")[0] + "+00000000+" + vkey.split("+", 2)[2]
    result = ledger.evaluate(
        """async ({plain, cosigned, tampered, vkey, otherVkey, wrongId}) => {
            const verdict = async (note, key) => {
                try {
                    const c = await ledger.verifyCheckpoint(note, key);
                    return [c.origin, c.size, ledger.toBase64(c.root), c.extensions, c.signer];
                } catch (e) { return e.code; }
            };
            const parsed = await ledger.parseVkey(vkey + "\\n");
            let badKey;
            try { await ledger.parseVkey(wrongId); badKey = "accepted"; }
            catch (e) { badKey = e.code; }
            const note = ledger.parseCheckpoint(plain);
            return {
                keyId: parsed.keyId.toString(16).padStart(8, "0"),
                name: parsed.name,
                text: note.text,
                signatureNames: note.signatures.map((s) => s.name),
                plain: await verdict(plain, vkey),
                cosigned: await verdict(cosigned, vkey),
                tampered: await verdict(tampered, vkey),
                byOther: await verdict(plain, otherVkey),
                noSignatures: await verdict(plain.slice(0, plain.indexOf("\\n\\n") + 1), vkey),
                badKey,
            };
        }""",
        {
            "plain": plain,
            "cosigned": cosigned,
            "tampered": tampered,
            "vkey": vkey,
            "otherVkey": other.verifier().vkey(),
            "wrongId": wrong_id,
        },
    )
    origin = "localhost/kengash-ledger"
    assert result["keyId"] == f"{signer.key_id:08x}"
    assert result["name"] == signer.name
    assert result["text"] == Checkpoint(origin, 5, root).body()
    assert result["signatureNames"] == [signer.name]
    assert result["plain"] == [origin, 5, b64(root), [], signer.name]
    assert result["cosigned"] == [origin, 5, b64(root), ["extension line"], signer.name]
    assert result["tampered"] == "bad_signature"
    assert result["byOther"] == "unsigned"
    assert result["noSignatures"] == "bad_checkpoint"
    assert result["badKey"] == "vkey_mismatch"


SAMPLE_DECISION: dict[str, Any] = {
    "id": 7,
    "number": "12-1/2026",
    "title": "Shahar budjeti toʻgʻrisida",
    "text": "1. Tasdiqlansin.\n\n2. Ijrosi nazorat qilinsin.",
    "council": {"id": 1, "name": "Toshkent shahar Kengashi"},
    "session": {"id": 1, "number": 12, "title": "Navbatdagi sessiya", "date": "2026-12-01"},
    "item": {"id": 3, "position": 1, "title": "Budjet"},
    "vote": {
        "id": 4,
        "counts": {"yes": 11, "no": 0, "abstain": 0},
        "result": "adopted",
        "present": 20,
        "seats": 35,
    },
    "adopted_on": "2026-12-01",
    "adopted_at": "2026-12-01T10:15:00Z",
    "state": "adopted",
    "signature": None,
    "ledger": {"decision": 2, "vote": 1, "signature": None},
}


def test_a_decision_is_verified_end_to_end_against_a_ledger_made_by_tlog(
    ledger: Page,
) -> None:
    """verifyDecision over a ledger built here: the entry the page rebuilds is the one
    tlog hashed; a changed title, a bad proof or another key's checkpoint fail."""
    d = SAMPLE_DECISION
    entry = {
        "type": "kengash.decision/v1",
        "id": d["id"],
        "council": {"id": 1, "name": d["council"]["name"]},
        "session": {"id": 1, "number": 12},
        "item": 3,
        "vote": 4,
        "number": d["number"],
        "title": d["title"],
        "text": d["text"],
        "adopted_on": d["adopted_on"],
        "adopted_at": d["adopted_at"],
    }
    bodies = [b"vote 0", b"vote 1", rfc8785.dumps(entry), b"signature", b"vote 4", b"vote 5"]
    leaves = [leaf_hash(b) for b in bodies]
    nodes = tree.append(0, leaves, {})
    size = len(bodies)
    signer = Signer.generate("localhost/kengash-ledger")
    note = sign_checkpoint(
        Checkpoint("localhost/kengash-ledger", size, tree.root(size, nodes)), signer
    )
    path = [b64(p) for p in tree.inclusion_proof(2, size, nodes)]
    proof = {"index": 2, "size": size, "leaf_hash": b64(leaves[2]), "proof": path}
    served = {
        "/ledger/vkey": signer.verifier().vkey() + "\n",
        "/ledger/checkpoint": note.decode(),
        f"/ledger/proof/inclusion?index=2&size={size}": json.dumps(proof),
    }
    bad_proof = {**proof, "proof": [b64(bytes(32)), *path[1:]]}
    reports = ledger.evaluate(
        """async ({decision, served, badProof, otherKey}) => {
            const fetchFrom = (table) => async (path) =>
                path in table ? new Response(table[path]) : new Response("", {status: 404});
            const proofPath = Object.keys(served).find((p) => p.startsWith("/ledger/proof"));
            const brief = (r) => ({ok: r.ok, code: r.code || null, failed: r.failed || null,
                                   index: r.index ?? null, size: r.size ?? null,
                                   signer: r.signer ?? null,
                                   steps: r.steps.map((s) => [s.step, s.ok])});
            return {
                good: brief(await ledger.verifyDecision(decision, fetchFrom(served))),
                tampered: brief(await ledger.verifyDecision(
                    {...decision, title: decision.title + "!"}, fetchFrom(served))),
                badProof: brief(await ledger.verifyDecision(
                    decision, fetchFrom({...served, [proofPath]: JSON.stringify(badProof)}))),
                otherKey: brief(await ledger.verifyDecision(
                    decision, fetchFrom({...served, "/ledger/vkey": otherKey}))),
                pending: brief(await ledger.verifyDecision(
                    {...decision, ledger: {decision: null}}, fetchFrom(served))),
                offline: brief(await ledger.verifyDecision(decision, fetchFrom({}))),
            };
        }""",
        {
            "decision": d,
            "served": served,
            "badProof": bad_proof,
            "otherKey": Signer.generate("localhost/kengash-ledger").verifier().vkey(),
        },
    )
    steps = ["key", "checkpoint", "entry", "inclusion"]
    assert reports["good"] == {
        "ok": True,
        "code": None,
        "failed": None,
        "index": 2,
        "size": size,
        "signer": signer.name,
        "steps": [[s, True] for s in steps],
    }
    tampered = reports["tampered"]
    assert (tampered["ok"], tampered["code"], tampered["failed"]) == (
        False,
        "entry_mismatch",
        "inclusion",
    )
    assert tampered["steps"] == [[s, s != "inclusion"] for s in steps]
    assert reports["badProof"]["code"] == "root_mismatch"
    other_key = reports["otherKey"]
    assert (other_key["code"], other_key["failed"]) == ("unsigned", "checkpoint")
    assert reports["pending"]["code"] == "not_in_ledger" and reports["pending"]["steps"] == []
    assert (reports["offline"]["code"], reports["offline"]["failed"]) == ("http", "key")


# -- a sitting that adopts drafts (needs the decisions endpoints) ---------------------------


def session_agenda(server: Server) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/api/sessions/{SESSION}", timeout=10).json()["agenda"])


def set_draft(server: Server, item: int, title: str, text: str) -> None:
    """Give an agenda item a draft decision of our own words (the demo's are not ours)."""
    database = server.env["KENGASH_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE agenda_items SET draft_title = ?, draft_text = ? WHERE id = ?",
            (title, text, item),
        )


def quorum(server: Server) -> None:
    register(server, list(deputy_ids(server, LOGINS).values()))


def wait_decision(server: Server, vote: int, within: float = 15) -> dict[str, Any]:
    """The decision the vote made, once it is in the ledger."""
    deadline = time.monotonic() + within
    while True:
        page = httpx.get(f"{server.url}/api/decisions", params={"per_page": 100}, timeout=10)
        if page.status_code == 200:
            for item in page.json()["items"]:
                d = httpx.get(f"{server.url}/api/decisions/{item['id']}", timeout=10).json()
                if d["vote"]["id"] == vote and d["ledger"]["decision"] is not None:
                    return dict(d)
        assert time.monotonic() < deadline, f"no decision of vote {vote} in the ledger"
        time.sleep(0.2)


def adopt_draft(server: Server, chair: Member, item: int) -> dict[str, Any]:
    """The chair takes up the item and puts its draft to the vote; it is adopted."""
    chair.ok("agenda.start_item", item=item)
    vote = int(chair.ok("vote.open", draft=True, kind="simple", timer_seconds=0)["vote"])
    for login in YES:
        cast(server, login, vote, "yes", secret=False)
    chair.ok("vote.close", vote=vote)
    return wait_decision(server, vote)


def test_a_draft_adopted_at_the_chair_console_is_signed_and_verified(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    chair, watch, deputy = tabs["chair"], tabs["watch"], tabs["deputy"]
    chair.sign_in("/chair", "chair")
    chair.by("btn-open").click()
    expect(chair.by("session-state")).to_have_attribute("data-state", "open")
    items = chair.state()["agenda"]["items"]
    drafted = [i for i in items if i.get("draft")]
    assert drafted, f"the demo agenda has no draft decision: {items}"
    item = drafted[0]
    chair.by(f"start-item-{item['id']}").click()
    watch.open(f"/watch/{SESSION}")
    watch.wait_online()
    deputy.sign_in("/deputy", "deputy02")
    quorum(sqlite_server)

    # The form offers the draft as a whole; its title becomes the question.
    draft = chair.by("vote-draft")
    expect(draft).to_be_visible()
    draft.check()
    expect(chair.by("vote-question-input")).to_have_value(item["draft"]["title"])
    chair.by("vote-kind-select").select_option("simple")
    chair.by("vote-timer").fill("0")
    chair.by("vote-open").click()
    expect(chair.by("vote-control")).to_be_visible()
    vote = int(chair.state()["vote"]["id"])
    assert chair.state()["vote"]["draft"] is True
    for login in YES:
        cast(sqlite_server, login, vote, "yes", secret=False)
    chair.by("vote-close").click()

    # Every screen says the decision was adopted.
    for tab in (chair, watch, deputy):
        notice = tab.by("decision-notice")
        expect(notice).to_be_visible()
        expect(notice).to_have_attribute("data-state", "adopted")
    decision = wait_decision(sqlite_server, vote)
    number = decision["number"]
    for tab in (chair, watch, deputy):
        expect(tab.by("decision-notice")).to_contain_text(number)

    # The chair signs it with the demo certificate; every screen follows.
    card = chair.by(f"decision-{decision['id']}")
    expect(card).to_have_attribute("data-state", "adopted")
    card.get_by_test_id("sign-demo").click()
    expect(card).to_have_attribute("data-state", "signed")
    expect(watch.by("decision-notice")).to_have_attribute("data-state", "signed")
    # Signing twice is refused, and said so.
    answer = httpx.post(
        f"{sqlite_server.url}/api/decisions/{decision['id']}/signature/demo",
        headers={"Authorization": f"Bearer {sqlite_server.token('chair')}"},
        timeout=10,
    )
    assert answer.status_code >= 400 and answer.json()["error"]["code"] == "already_signed"

    # The decision's page: its facts, its documents, and the ledger's word on it.
    reader = tabs["reader"]
    page = reader.open(f"/decisions/{decision['id']}")
    expect(reader.by("decision-number")).to_contain_text(number)
    expect(reader.by("decision-title")).to_have_text(decision["title"])
    expect(reader.by("decision-state")).to_have_attribute("data-state", "signed")
    expect(reader.by("decision-pdf")).to_have_attribute(
        "href", f"/api/decisions/{decision['id']}/decision.pdf?lang=uz-Latn"
    )
    expect(reader.by("decision-signature")).to_be_visible()
    reader.page.evaluate("import('/static/js/i18n.js').then((m) => m.setLang('uz-Cyrl'))")
    expect(reader.by("decision-pdf")).to_have_attribute(
        "href", f"/api/decisions/{decision['id']}/decision.pdf?lang=uz-Cyrl"
    )
    expect(reader.by("decision-state")).to_contain_text("Имзолаган")
    reader.page.evaluate("import('/static/js/i18n.js').then((m) => m.setLang('uz-Latn'))")
    pdf = page.request.get(sqlite_server.url + reader.by("decision-pdf").get_attribute("href"))
    assert pdf.headers["content-type"].startswith("application/pdf")
    reader.by("verify").click()
    verdict = reader.by("verdict")
    expect(verdict).to_have_attribute("data-ok", "true", timeout=10000)
    fresh = httpx.get(f"{sqlite_server.url}/api/decisions/{decision['id']}", timeout=10).json()
    index = fresh["ledger"]["decision"]
    expect(verdict).to_have_attribute("data-index", str(index))
    expect(verdict).to_contain_text(f"{index + 1}-yozuv")  # the entry's ordinal, for people
    expect(reader.by("verify-steps").locator("[data-ok=true]")).to_have_count(4)

    # The same page, the decision's title changed on its way: the check fails, and says where.
    forger = tabs["forger"]

    def forged(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["title"] += " (oʻzgartirilgan)"
        route.fulfill(response=response, body=json.dumps(body))

    forger.page.route(f"**/api/decisions/{decision['id']}", forged)
    forger.open(f"/decisions/{decision['id']}")
    expect(forger.by("decision-title")).to_contain_text("oʻzgartirilgan")
    forger.by("verify").click()
    bad = forger.by("verdict")
    expect(bad).to_have_attribute("data-ok", "false", timeout=10000)
    expect(bad).to_have_attribute("data-code", "entry_mismatch")
    expect(forger.by("verify-steps").locator("[data-ok=false]")).to_have_count(1)


def test_the_register_finds_decisions_by_words_in_both_scripts(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    items = session_agenda(sqlite_server)
    set_draft(
        sqlite_server,
        items[0]["id"],
        "Маҳаллий бюджет ижроси тўғрисида",
        "1. Бюджет ижроси маълумоти қабул қилинсин.",
    )
    set_draft(
        sqlite_server,
        items[1]["id"],
        "Obodonlashtirish dasturi toʻgʻrisida",
        "1. Dastur tasdiqlansin.",
    )
    with Member(sqlite_server, "chair") as chair:
        chair.ok("session.open")
        quorum(sqlite_server)
        cyrillic = adopt_draft(sqlite_server, chair, items[0]["id"])
        latin = adopt_draft(sqlite_server, chair, items[1]["id"])

    portal = tabs["portal"]
    portal.open("/")
    form = portal.by("register-form")
    expect(form).to_be_visible()
    results = portal.by("register-results")

    def search(words: str) -> None:
        portal.by("register-q").fill(words)
        portal.by("register-submit").click()

    search("бюджет")  # a word of the Cyrillic title, in lower case
    expect(results.get_by_test_id("register-item")).to_have_count(1)
    link = results.locator(f"a[href='/decisions/{cyrillic['id']}']")
    expect(link).to_be_visible()
    expect(portal.by("register-total")).to_contain_text("1")
    # The search is kept in the address: a reload shows the same.
    portal.page.reload()
    expect(portal.by("register-q")).to_have_value("бюджет")
    expect(results.get_by_test_id("register-item")).to_have_count(1)

    # Council, dates and number narrow the list; every decision without words.
    search("")
    expect(results.get_by_test_id("register-item")).to_have_count(2)
    portal.by("register-council").select_option(str(cyrillic["council"]["id"]))
    portal.by("register-from").fill(cyrillic["adopted_on"])
    portal.by("register-to").fill(cyrillic["adopted_on"])
    search("")
    expect(results.get_by_test_id("register-item")).to_have_count(2)
    portal.by("register-number").fill(latin["number"])
    search("")
    expect(results.get_by_test_id("register-item")).to_have_count(1)
    expect(results.locator(f"a[href='/decisions/{latin['id']}']")).to_be_visible()
    portal.by("register-to").fill("2020-01-01")
    search("")
    expect(portal.by("register-empty")).to_be_visible()
    portal.by("register-clear").click()
    expect(results.get_by_test_id("register-item")).to_have_count(2)

    search("to'g'risida")  # an ASCII apostrophe for ʻ: the Uzbek Latin title
    expect(results.locator(f"a[href='/decisions/{latin['id']}']")).to_be_visible()
    expect(results.get_by_test_id("register-item")).to_have_count(1)
    search("obodonlash")  # the start of a word
    expect(results.locator(f"a[href='/decisions/{latin['id']}']")).to_be_visible()
    search("yoʻq-bunday-soʻz")
    expect(portal.by("register-empty")).to_be_visible()

    # A query the server refuses is said politely, not as a crash.
    search("x" * 300)
    expect(portal.by("register-error")).to_be_visible()
    expect(portal.by("register-error")).to_have_attribute("data-code", "query_too_long")

    # From the list to the decision's page.
    search("бюджет")
    results.locator(f"a[href='/decisions/{cyrillic['id']}']").click()
    expect(portal.by("decision-title")).to_have_text(cyrillic["title"])


def test_the_clerk_downloads_protocol_and_minutes_pdfs(
    tabs: dict[str, Tab], sqlite_server: Server
) -> None:
    items = session_agenda(sqlite_server)
    drafted = next((i for i in items if i.get("draft")), None)
    if drafted is None:
        set_draft(sqlite_server, items[0]["id"], "Hisobot toʻgʻrisida", "1. Qabul qilinsin.")
        drafted = items[0]
    with Member(sqlite_server, "chair") as chair:
        chair.ok("session.open")
        quorum(sqlite_server)
        decision = adopt_draft(sqlite_server, chair, drafted["id"])
    vote = decision["vote"]["id"]

    clerk = tabs["clerk"]
    clerk.sign_in("/clerk", "secretary")
    pdf_link = clerk.by(f"protocol-pdf-{vote}")
    expect(pdf_link).to_have_attribute("href", f"/api/votes/{vote}/protocol.pdf?lang=uz-Latn")
    minutes = clerk.by("minutes-pdf")
    expect(minutes).to_have_attribute("href", f"/api/sessions/{SESSION}/minutes.pdf?lang=uz-Latn")
    decisions = clerk.by("clerk-decisions")
    expect(decisions.locator(f"a[href='/decisions/{decision['id']}']")).to_be_visible()

    for link in (pdf_link, minutes):
        with clerk.page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename.endswith(".pdf")
        response = clerk.page.request.get(sqlite_server.url + str(link.get_attribute("href")))
        assert response.headers["content-type"].startswith("application/pdf")
        assert response.body().startswith(b"%PDF")

    # The links follow the interface language.
    clerk.page.evaluate("import('/static/js/i18n.js').then((m) => m.setLang('ru'))")
    expect(clerk.by("minutes-pdf")).to_have_attribute(
        "href", f"/api/sessions/{SESSION}/minutes.pdf?lang=ru"
    )
    expect(clerk.by(f"protocol-pdf-{vote}")).to_have_attribute(
        "href", f"/api/votes/{vote}/protocol.pdf?lang=ru"
    )


@pytest.fixture
def eimzo_server(tmp_path: Path, pki: TestPKI) -> Iterator[Server]:
    """The demo on SQLite checking E-IMZO signatures against the test PKI."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    env = server_env(
        url,
        tmp_path,
        KENGASH_EIMZO_TRUST_DIR=str(pki.trust_dir),
        KENGASH_EIMZO_CHECK_REVOCATION="0",
        KENGASH_EIMZO_API_KEYS="127.0.0.1:TESTKEY0123456789ABCDEF",
    )
    server = start_server(env, tmp_path / "server.log")
    try:
        yield server
    finally:
        server.kill()


def test_the_chair_signs_a_decision_with_the_e_imzo_app(
    eimzo_server: Server, eimzo_app: EimzoAppStandIn, pki: TestPKI
) -> None:
    """A detached PKCS#7 over the decision's canonical bytes, by the chair's own key;
    another person's key is refused, and said so."""
    server = eimzo_server
    chair_row, other_row = demo.roster()[0], demo.roster()[4]
    chair_key = pki.issue(chair_row.full_name, pinfl=chair_row.pinfl, key="rsa")
    other_key = pki.issue(other_row.full_name, pinfl=other_row.pinfl, key="rsa")
    item = session_agenda(server)[0]
    set_draft(server, item["id"], "Hisobot toʻgʻrisida", "1. Hisobot qabul qilinsin.")
    with Member(server, "chair") as chair:
        chair.ok("session.open")
        quorum(server)
        decision = adopt_draft(server, chair, item["id"])
    canonical = httpx.get(f"{server.url}/api/decisions/{decision['id']}/canonical.json").content
    eimzo_app.keys = [other_key, chair_key]

    with chromium() as browser:
        tab = Tab(browser, server.url, DESKTOP, ignore_https_errors=True)
        try:
            tab.sign_in("/chair", "chair")
            card = tab.by(f"decision-{decision['id']}")
            expect(card).to_have_attribute("data-state", "adopted")
            card.get_by_test_id("sign-eimzo").click()
            keys = tab.by("eimzo-sign-key")
            expect(keys).to_have_count(2)
            keys.nth(0).click()  # deputy05's key: not the chair's signature
            message = tab.by("decisions-card").get_by_test_id("message")
            expect(message).to_have_attribute("data-code", "not_the_chair")
            expect(card).to_have_attribute("data-state", "adopted")
            keys.nth(1).click()  # the chair's own
            expect(card).to_have_attribute("data-state", "signed")
            # The signer as the certificate names them (tests/pki.py passes the subject to
            # openssl without -utf8, so only the name's ASCII part reads back as written).
            expect(card).to_contain_text(chair_row.full_name.split(" oʻ")[0])
            expect(tab.by("eimzo-sign")).to_be_hidden()
            assert not tab.errors, tab.errors
        finally:
            tab.close()

    signed = [r for r in eimzo_app.seen if r.name == "create_pkcs7"]
    assert len(signed) == 2 and all(r.arguments[2] == "yes" for r in signed)  # detached
    assert {base64.b64decode(r.arguments[0]) for r in signed} == {canonical}
    p7s = httpx.get(f"{server.url}/api/decisions/{decision['id']}/signature.p7s", timeout=10)
    assert p7s.status_code == 200 and p7s.content
