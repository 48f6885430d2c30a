"""Decisions end to end on a real server (SQLite and PostgreSQL): a draft adopted
becomes a numbered decision with a `decision.adopted` event; the chair signs it; the
vote, the decision and the signature go into the public ledger, whose checkpoint,
entries and proofs the tests' own verifier (tlog) checks; the register finds it."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from sqlalchemy import update

import tlog
from session_server import demo_pki
from session_server.db import models
from session_server.db.engine import Database
from session_server.ledger.verify import decision_entry, vote_entry
from tests.conftest import Server
from tests.integration.test_voting import Chamber, ok, refused
from tlog import proofs


async def _until(client: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            for frame in client.events:
                if frame["event"]["kind"] == kind:
                    return frame["event"]  # type: ignore[no-any-return]
            await client.recv()


async def adopt_draft(server: Server, present: int = 20) -> tuple[int, dict[str, Any]]:
    """Item 1's draft put to the vote and adopted; (vote id, the decision.adopted event)."""
    async with Chamber(server) as room:
        await room.start(present=present)
        opened = await ok(room.chair, "vote.open", kind="simple", draft=True, timer_seconds=0)
        for deputy in room.deputies:
            await ok(deputy, "vote.cast", vote=opened["vote"], choice="yes")
        await ok(room.chair, "vote.close", vote=opened["vote"])
        adopted = await _until(room.chair, "decision.adopted")
        return opened["vote"], adopted


def verify_entry(http: httpx.Client, index: int, body: bytes) -> tlog.Checkpoint:
    vkey = http.get("/ledger/vkey").text.strip()
    note = http.get("/ledger/checkpoint").content
    checkpoint, signers = tlog.open_checkpoint(note, [tlog.Verifier.from_vkey(vkey)])
    assert signers
    proof = http.get(
        "/ledger/proof/inclusion", params={"index": index, "size": checkpoint.size}
    ).json()
    proofs.verify_inclusion(
        index,
        checkpoint.size,
        tlog.leaf_hash(body),
        [base64.b64decode(h) for h in proof["proof"]],
        checkpoint.root,
    )
    return checkpoint


async def test_an_adopted_draft_becomes_a_signed_decision_in_the_ledger(
    live_server: Server,
) -> None:
    vote_id, adopted = await adopt_draft(live_server)
    await asyncio.to_thread(_check_decision, live_server, vote_id, adopted["decision"])


def _ledgered(http: httpx.Client, decision_id: int, kind: str) -> dict[str, Any]:
    """The decision once its `kind` entry is in the ledger (appended after the commit)."""
    deadline = time.monotonic() + 10
    while True:
        d: dict[str, Any] = http.get(f"/api/decisions/{decision_id}").json()
        if d["ledger"][kind] is not None or time.monotonic() > deadline:
            return d
        time.sleep(0.1)


def _check_decision(live_server: Server, vote_id: int, decision: dict[str, Any]) -> None:
    assert decision["state"] == "adopted" and decision["vote"] == vote_id
    year = decision["adopted_on"][:4]
    assert decision["number"] == f"1-1/{year}"  # the default pattern {session}-{n}/{year}
    assert decision["title"] == "2027-yil uchun tuman budjeti toʻgʻrisida"
    with httpx.Client(base_url=live_server.url) as http:
        d = http.get(f"/api/decisions/{decision['id']}").json()
        assert d["text"].startswith("Tuman xalq deputatlari Kengashi qaror qiladi:")
        assert d["vote"]["result"] == "adopted" and d["signature"] is None
        # The entry as the page and the CLI rebuild it from the public fields.
        entry = decision_entry(d)
        canonical = http.get(f"/api/decisions/{d['id']}/canonical.json").content
        assert canonical == rfc8785.dumps(entry)
        d = _ledgered(http, d["id"], "decision")
        assert http.get(f"/ledger/entries/{d['ledger']['decision']}").content == canonical
        verify_entry(http, d["ledger"]["decision"], canonical)
        vote_body = http.get(f"/ledger/entries/{d['ledger']['vote']}").content
        assert rfc8785.dumps(vote_entry(http.get(f"/api/votes/{vote_id}").json())) == vote_body
        old = verify_entry(http, d["ledger"]["vote"], vote_body)

        # Nobody but the chair signs; the chair signs once.
        assert http.post(f"/api/decisions/{d['id']}/signature/demo").status_code == 403
        deputy = {"Authorization": f"Bearer {live_server.token('deputy05')}"}
        chair = {"Authorization": f"Bearer {live_server.token('chair')}"}
        assert (
            http.post(f"/api/decisions/{d['id']}/signature/demo", headers=deputy).status_code == 403
        )
        junk = http.post(f"/api/decisions/{d['id']}/signature", headers=chair, json={"pkcs7": "!!"})
        assert junk.status_code == 400 and junk.json()["error"]["code"] == "bad_pkcs7"
        signed = http.post(f"/api/decisions/{d['id']}/signature/demo", headers=chair)
        assert signed.status_code == 200, signed.text
        again = http.post(f"/api/decisions/{d['id']}/signature/demo", headers=chair)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_signed"
        d = http.get(f"/api/decisions/{d['id']}").json()
        assert d["state"] == "signed" and d["signature"]["signer"]
        p7s = http.get(f"/api/decisions/{d['id']}/signature.p7s").content
        d = _ledgered(http, d["id"], "signature")
        body = http.get(f"/ledger/entries/{d['ledger']['signature']}").content
        new = verify_entry(http, d["ledger"]["signature"], body)
        consistency = http.get(
            "/ledger/proof/consistency", params={"old": old.size, "new": new.size}
        ).json()
        proofs.verify_consistency(
            old.size,
            new.size,
            old.root,
            new.root,
            [base64.b64decode(h) for h in consistency["proof"]],
        )
        # Anyone checks the signature with openssl, over the canonical bytes.
        folder = Path(live_server.env["KENGASH_VAR_DIR"])
        (folder / "sig.p7s").write_bytes(p7s)
        (folder / "decision.json").write_bytes(canonical)
        checked = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                str(folder / "sig.p7s"),
                "-content",
                str(folder / "decision.json"),
                "-CAfile",
                str(folder / "demo-pki" / "trust" / "demo-ca.pem"),
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stderr

        # The register finds it by words of the title, folded apostrophes and all.
        for q in ("budjeti", "to'g'risida", "TOʻGʻRISIDA budjet"):
            found = http.get("/api/decisions", params={"q": q}).json()
            assert [i["id"] for i in found["items"]] == [d["id"]], q
        assert http.get("/api/decisions", params={"q": "hisoboti"}).json()["total"] == 0
        # The documents, read back with pdftotext: the words, the Uzbek letters, the names.
        pdf = http.get(f"/api/decisions/{d['id']}/decision.pdf", params={"lang": "ru"})
        assert pdf.headers["content-type"] == "application/pdf"
        text = pdf_text(folder, pdf.content)
        assert d["number"] in text and "toʻgʻrisida" in text and d["signature"]["signer"] in text
        assert f"/decisions/{d['id']}" in text  # the link the QR code holds, in print
        minutes = pdf_text(folder, http.get("/api/sessions/1/minutes.pdf").content)
        assert "2027-yil uchun tuman budjeti loyihasi toʻgʻrisida" in minutes
        assert d["number"] in minutes
        protocol = http.get(f"/api/votes/{vote_id}/protocol.pdf", params={"lang": "uz-Cyrl"})
        text = pdf_text(folder, protocol.content)
        roster = http.get("/api/councils/1/deputies").json()
        voted = [p for p in roster if p["seat"] <= 20]
        assert all(p["name"] in text for p in voted[:5]), text[:500]


def pdf_text(folder: Path, pdf: bytes) -> str:
    path = folder / "document.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(done.stdout.split())


async def test_a_vote_not_on_a_draft_forms_no_decision(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=20)
        await refused(room.chair, "vote.open", "invalid_args", kind="simple")
        await ok(room.chair, "agenda.start_item", item=5)  # no draft on item 5
        await refused(room.chair, "vote.open", "no_draft", kind="simple", draft=True)
        opened = await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=0)
        for deputy in room.deputies:
            await ok(deputy, "vote.cast", vote=opened["vote"], choice="yes")
        await ok(room.chair, "vote.close", vote=opened["vote"])
        await room.settle()
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get("/api/decisions")).json()["total"] == 0


def _kengash(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "session_server", *args], capture_output=True, text=True, timeout=60
    )


async def test_kengash_ledger_verify_finds_a_rewritten_entry(live_server: Server) -> None:
    """The command anyone runs: a good ledger verifies, and grows consistently; a
    decision whose text was changed in the database afterwards, or an entry rewritten,
    does not."""
    await adopt_draft(live_server)
    state = Path(live_server.env["KENGASH_VAR_DIR"]) / "seen.json"

    def wait_for_entries() -> None:
        with httpx.Client(base_url=live_server.url) as http:
            _ledgered(http, 1, "decision")

    await asyncio.to_thread(wait_for_entries)
    first = await asyncio.to_thread(
        _kengash, "ledger", "verify", live_server.url, "--state", str(state)
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ledger verified" in first.stdout
    again = await asyncio.to_thread(
        _kengash, "ledger", "verify", live_server.url, "--state", str(state), "--entry", "0"
    )
    assert again.returncode == 0 and "consistent with the checkpoint seen before" in again.stdout

    database = Database(live_server.env["KENGASH_DATABASE_URL"])
    try:
        await database.transact(
            lambda db: db.execute(
                update(models.Decision).values(text="Boshqa matn").where(models.Decision.id == 1)
            )
        )
        changed = await asyncio.to_thread(_kengash, "ledger", "verify", live_server.url)
        assert (
            changed.returncode == 1 and "differs from what the public API shows" in changed.stderr
        )
        # Rewriting the entry to match does not help: the tree's root gives it away.
        entry = await asyncio.to_thread(
            lambda: httpx.get(f"{live_server.url}/api/decisions/1/canonical.json").content
        )
        await database.transact(
            lambda db: db.execute(
                update(models.LedgerEntry)
                .values(body=entry)
                .where(models.LedgerEntry.kind == "decision", models.LedgerEntry.ref == 1)
            )
        )
        rewritten = await asyncio.to_thread(_kengash, "ledger", "verify", live_server.url)
        assert rewritten.returncode == 1 and "root" in rewritten.stderr
    finally:
        await database.dispose()


async def test_only_the_chairs_own_signature_over_the_decisions_bytes_is_kept(
    live_server: Server,
) -> None:
    """Real CMS signatures, by certificates the server trusts (the demo CA): by someone
    else, over other bytes, holding other bytes, not a signature at all. Each refused with its code,
    nothing kept, nothing appended to the ledger."""
    _, adopted = await adopt_draft(live_server)
    await asyncio.to_thread(_refuse_signatures, live_server, adopted["decision"]["id"])


def _refuse_signatures(live_server: Server, decision_id: int) -> None:
    var = Path(live_server.env["KENGASH_VAR_DIR"])
    with httpx.Client(base_url=live_server.url) as http:
        _ledgered(http, decision_id, "decision")
        secretary = {"Authorization": f"Bearer {live_server.token('secretary')}"}
        roster = http.get("/api/councils/1/deputies", headers=secretary).json()
        me = http.get("/api/me", headers={"Authorization": f"Bearer {live_server.token('chair')}"})
        chair = next(d for d in roster if d["id"] == me.json()["deputy_id"])
        content = http.get(f"/api/decisions/{decision_id}/canonical.json").content
        before = http.get("/ledger/checkpoint").text

        def post(der: bytes) -> httpx.Response:
            return http.post(
                f"/api/decisions/{decision_id}/signature",
                headers={"Authorization": f"Bearer {live_server.token('chair')}"},
                json={"pkcs7": base64.b64encode(der).decode()},
            )

        someone = demo_pki.sign_detached(var, "Boshqa Odam", "12345678901234", content)
        answer = post(someone)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_the_chair")
        other_bytes = demo_pki.sign_detached(var, chair["name"], chair["pinfl"], content + b" ")
        answer = post(other_bytes)
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "bad_signature")
        cert = x509.load_pem_x509_certificate(
            (var / "demo-pki" / f"{chair['pinfl']}.pem").read_bytes()
        )
        key = serialization.load_pem_private_key(
            (var / "demo-pki" / f"{chair['pinfl']}.key").read_bytes(), None
        )
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        attached = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(b"Boshqa qaror")
            .add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        )
        answer = post(attached)  # an attached signature holding other bytes
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "wrong_content")
        answer = post(b"\x30\x03\x02\x01\x01")  # DER, but no SignedData
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "bad_pkcs7")
        assert http.get(f"/api/decisions/{decision_id}").json()["signature"] is None
        assert http.get("/ledger/checkpoint").text == before
        # The chair's own, over the right bytes, is kept.
        good = demo_pki.sign_detached(var, chair["name"], chair["pinfl"], content)
        assert post(good).status_code == 200


async def test_decision_adopt_forms_only_from_an_adopted_draft_and_once(demo_db: Database) -> None:
    """The server's own command, in process on both databases: a vote not on a draft, a
    draft not adopted, a vote of another sitting are refused with their codes and
    change nothing; an adopted draft gets one decision however often it is sent."""
    from session_server.auth.tokens import SYSTEM, Actor
    from session_server.commands.dispatcher import Dispatcher
    from tests.integration.test_eventlog_db import CHAIR, Recorder

    recorder = Recorder()
    dispatcher = Dispatcher(demo_db, recorder)
    secretary = Actor(role="secretary", user_id=90, council_id=1)

    async def run(actor: Actor, name: str, **args: Any) -> dict[str, Any]:
        return await dispatcher.execute(actor, uuid.uuid4().hex, name, {"session": 1, **args})

    for name, args in [("session.open", {}), ("agenda.start_item", {"item": 1})]:
        assert (await run(CHAIR, name, **args))["type"] == "ack"
    for deputy in range(1, 20):
        assert (await run(secretary, "attendance.register", deputy=deputy))["type"] == "ack"

    async def vote(draft: bool, choice: str) -> int:
        opened = await run(
            CHAIR, "vote.open", question="Q", kind="simple", draft=draft, timer_seconds=0
        )
        assert opened["type"] == "ack", opened
        await run(CHAIR, "vote.cast", vote=opened["result"]["vote"], choice=choice)
        assert (await run(CHAIR, "vote.close", vote=opened["result"]["vote"]))["type"] == "ack"
        return int(opened["result"]["vote"])

    plain = await vote(draft=False, choice="yes")
    rejected = await vote(draft=True, choice="no")
    adopted_early = await run(SYSTEM, "decision.adopt", vote=plain)
    assert adopted_early["error"]["code"] == "not_a_draft"
    assert (await run(SYSTEM, "decision.adopt", vote=rejected))["error"]["code"] == "not_adopted"
    assert (await run(SYSTEM, "decision.adopt", vote=999_999))["error"]["code"] == "not_found"
    events = sum(len(e) for _, e in recorder.published)
    # Ten deputies' yes of nineteen present adopt the draft.
    deputies = [
        Actor(role="deputy", user_id=100 + d, council_id=1, deputy_id=d) for d in range(2, 12)
    ]
    opened = await run(CHAIR, "vote.open", kind="simple", draft=True, timer_seconds=0)
    draft_vote = opened["result"]["vote"]
    for actor in deputies:
        assert (await run(actor, "vote.cast", vote=draft_vote, choice="yes"))["type"] == "ack"
    await run(CHAIR, "vote.close", vote=draft_vote)
    first = await run(SYSTEM, "decision.adopt", vote=draft_vote)
    again = await run(SYSTEM, "decision.adopt", vote=draft_vote)
    assert first["result"]["formed"] is True and again["result"]["formed"] is False
    assert again["result"]["decision"] == first["result"]["decision"]
    kinds = [e["kind"] for _, batch in recorder.published for _, e in batch]
    assert kinds.count("decision.adopted") == 1 and events < len(kinds)
