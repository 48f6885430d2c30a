"""One command's failure is its own: the rest of its group-commit batch goes through.

And a command id names one command with its arguments, not just any command sent under
it; on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from session_server.auth.tokens import Actor
from session_server.commands.base import REGISTRY, CommandContext, SessionArgs, command
from session_server.commands.dispatcher import Dispatcher
from session_server.db.engine import Database
from session_server.validation import DB_INT_MAX
from tests.conftest import Server
from tests.integration.test_eventlog_db import CHAIR, Recorder
from tests.integration.test_voting import Chamber, S, ok, receipt, refused
from tests.wsclient import LiveClient, fresh_state

POISON: list[tuple[str, dict[str, Any]]] = [
    ("vote.cast", {"vote": DB_INT_MAX + 1, "choice": "yes"}),
    ("vote.cast", {"vote": 2**63, "choice": "yes"}),
    ("vote.cast", {"vote": 2**64 + 7, "choice": "no"}),
    ("attendance.register", {"deputy": 2**63}),
    ("attendance.register", {"deputy": DB_INT_MAX + 1}),
]
# The chair's commands with ids out of range.
CHAIR_POISON: list[tuple[str, dict[str, Any]]] = [
    *POISON,
    ("speaker.grant", {"deputy": 2**63}),
    ("agenda.start_item", {"item": 2**31}),
    ("vote.close", {"vote": 2**63}),
    ("vote.cancel", {"vote": 2**31, "reason": "out of range"}),
]


async def burst(
    client: LiveClient, commands: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Send the commands at once, then read their answers (in the order sent)."""
    ids = [f"burst-{uuid.uuid4().hex}" for _ in commands]
    for command_id, (name, args) in zip(ids, commands, strict=True):
        await client.send(
            {"type": "cmd", "id": command_id, "cmd": name, "args": {"session": S, **args}}
        )
    answers: dict[str, dict[str, Any]] = {}
    while len(answers) < len(ids):
        frame = await client.recv()
        if frame["type"] in ("ack", "nack") and frame.get("id") in ids:
            answers[frame["id"]] = frame
    return [answers[i] for i in ids]


async def test_a_poisoned_command_sinks_no_other_ballot(live_server: Server) -> None:
    """20 deputies cast at once, ten times over, while one of them sends numbers out of
    every integer column's range in the same bursts: every honest ballot is counted."""
    async with Chamber(live_server) as room:
        await room.start(present=21)
        opened = await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=0)
        vote = opened["vote"]
        honest, poisoner = [*room.deputies[:19], room.chair], room.deputies[19]
        for n in range(10):
            choice = ("yes", "no", "abstain")[n % 3]
            # Two poisoned frames a burst: within the socket's rate limit (bursts of 40).
            poisoned = burst(poisoner, [POISON[n % len(POISON)], POISON[(n + 2) % len(POISON)]])
            good, bad = await asyncio.gather(
                asyncio.gather(
                    *(
                        c.command("vote.cast", {"session": S, "vote": vote, "choice": choice})
                        for c in honest
                    )
                ),
                poisoned,
            )
            assert all(a["type"] == "ack" and a["result"]["counted"] for a in good), good
            assert [a["error"]["code"] for a in bad] == ["invalid_args"] * 2, bad
        await ok(room.chair, "vote.close", vote=vote)
        state = await room.settle()
        assert state["vote"]["result"]["counts"] == {"yes": 20, "no": 0, "abstain": 0}
    log = live_server.log.read_text()
    assert "Traceback" not in log and "command_batch" not in log


async def test_out_of_range_numbers_are_refused_at_the_boundary(live_server: Server) -> None:
    chair = await LiveClient.open(live_server.ws_url, live_server.token("chair"))
    await chair.subscribe(S)
    seq = chair.seq
    for session in (DB_INT_MAX + 1, 2**63, 2**70):
        answer = await chair.command("session.open", {"session": session})
        assert answer["error"]["code"] == "invalid_args", answer
    for name, args in CHAIR_POISON:
        answer = await chair.command(name, {"session": S, **args})
        assert answer["error"]["code"] == "invalid_args", answer
    assert (await fresh_state(live_server.ws_url, S))["seq"] == seq
    await chair.close()


class Boom(SessionArgs):
    fail: bool = False


def boom(ctx: CommandContext, args: Boom) -> dict[str, Any]:
    """Renames the session, or fails with an error no handler expects."""
    if args.fail:
        raise RuntimeError("a bug in one command")
    ctx.session.title = f"renamed by {ctx.actor.key}"
    ctx.emit("session.renamed", {"title": ctx.session.title})
    return {"renamed": True}


@pytest.fixture
def boom_command() -> Iterator[None]:
    command("test.boom", roles={"chair"}, args=Boom)(boom)
    yield
    del REGISTRY["test.boom"]


@pytest.mark.usefixtures("boom_command")
async def test_a_command_that_fails_for_any_reason_fails_alone(demo_db: Database) -> None:
    """Whatever goes wrong in one command (here a bug), the others queued with it in the
    same batch are done and answered as if it had not been there."""
    recorder = Recorder()
    dispatcher = Dispatcher(demo_db, recorder)
    answers = await asyncio.gather(
        *(
            dispatcher.execute(CHAIR, f"b{i}", "test.boom", {"session": 1, "fail": i == 3})
            for i in range(8)
        )
    )
    assert [a["type"] for a in answers] == ["ack"] * 3 + ["nack"] + ["ack"] * 4
    assert answers[3]["error"]["code"] == "internal"
    seqs = [a["result"]["seq"] for a in answers if a["type"] == "ack"]
    assert seqs == list(range(2, 9))  # seven events, dense
    # Sent again, the failed one fails again (nothing stored for it); the others repeat.
    again = await dispatcher.execute(CHAIR, "b3", "test.boom", {"session": 1, "fail": True})
    assert again["error"]["code"] == "internal"
    assert await dispatcher.execute(CHAIR, "b0", "test.boom", {"session": 1}) == answers[0]


async def test_a_command_id_is_bound_to_its_arguments(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=19)
        first = await ok(room.chair, "vote.open", question="Q1", kind="simple", timer_seconds=0)
        deputy = room.deputies[0]
        cast = {"session": S, "vote": first["vote"], "choice": "yes"}
        counted = await deputy.command("vote.cast", cast, command_id="ballot-1")
        assert counted["type"] == "ack"
        # The same id, command and arguments (a retry): the stored answer.
        assert await deputy.command("vote.cast", cast, command_id="ballot-1") == counted
        # The same id for another choice, or another command: refused, nothing done.
        other = {**cast, "choice": "no"}
        reused = await deputy.command("vote.cast", other, command_id="ballot-1")
        assert reused["error"]["code"] == "id_reused", reused
        await ok(room.chair, "vote.close", vote=first["vote"])
        second = await ok(room.chair, "vote.open", question="Q2", kind="simple", timer_seconds=0)
        # Reusing the id for a new vote's ballot is refused: it does not say "counted".
        new_vote = {**cast, "vote": second["vote"]}
        reused = await deputy.command("vote.cast", new_vote, command_id="ballot-1")
        assert reused["error"]["code"] == "id_reused", reused
        await ok(room.chair, "vote.close", vote=second["vote"])
        state = await room.settle()
        assert state["vote"]["result"]["counts"]["yes"] == 0
        assert state["votes"][0]["counts"]["yes"] == 1


async def test_a_named_ballot_takes_no_receipt(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=19)
        vote = (await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=0))[
            "vote"
        ]
        seq = room.chair.seq
        message = await refused(
            room.deputies[0],
            "vote.cast",
            "invalid_args",
            vote=vote,
            choice="yes",
            receipt=receipt(),
        )
        assert "receipt" in message
        assert (await fresh_state(live_server.ws_url, S))["seq"] == seq
        assert (await ok(room.deputies[0], "vote.cast", vote=vote, choice="yes"))["counted"]


async def test_receipts_are_published_in_code_order(live_server: Server) -> None:
    """In vote.closed, GET /api/votes/{id} and protocol.csv alike, whatever order the
    ballots came in."""
    async with Chamber(live_server) as room:
        await room.start(present=19)
        opened = await ok(
            room.chair, "vote.open", question="Q", kind="election", candidates=["A", "B"]
        )
        vote = opened["vote"]
        codes = sorted({receipt() for _ in range(12)}, reverse=True)[:10]
        for deputy, code in zip(room.deputies, codes, strict=False):  # one by one, last first
            await ok(deputy, "vote.cast", vote=vote, choice=["c1"], receipt=code)
        await ok(room.chair, "vote.close", vote=vote)
        state = await room.settle()
    order = sorted(codes)
    closed = [code for _, keys in state["vote"]["ballots"]["receipts"] for code in keys]
    assert closed == order
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        record = (await http.get(f"/api/votes/{vote}")).json()
        csv = (await http.get(f"/api/votes/{vote}/protocol.csv")).text
    assert [code for _, keys in record["ballots"]["receipts"] for code in keys] == order
    rows = csv.splitlines()
    listed = [r.split(",")[0] for r in rows[rows.index("receipt,choice") + 1 :]]
    assert listed == order


async def test_a_ballot_is_logged_without_its_sender(demo_db: Database) -> None:
    """The log keeps who voted when out of its lines: with the database's history it would
    pair secret ballots with deputies."""
    dispatcher = Dispatcher(demo_db, Recorder())
    secretary = Actor(role="secretary", user_id=90, council_id=1)
    steps: list[tuple[Actor, str, dict[str, Any]]] = [
        (CHAIR, "session.open", {}),
        (CHAIR, "agenda.start_item", {"item": 1}),
        *((secretary, "attendance.register", {"deputy": d}) for d in range(1, 20)),
        (CHAIR, "vote.open", {"question": "Q", "kind": "election", "candidates": ["A", "B"]}),
    ]
    for n, (actor, name, args) in enumerate(steps):
        answer = await dispatcher.execute(actor, f"s{n}", name, {"session": 1, **args})
        assert answer["type"] == "ack", answer
    vote = answer["result"]["vote"]
    with capture_logs() as logs:
        for d in (5, 6, 7):
            deputy = Actor(role="deputy", user_id=d, council_id=1, deputy_id=d)
            args = {"session": 1, "vote": vote, "choice": ["c1"], "receipt": receipt()}
            assert (await dispatcher.execute(deputy, f"v{d}", "vote.cast", args))["type"] == "ack"
    casts = [line for line in logs if line.get("command") == "vote.cast"]
    assert len(casts) == 3 and all(line["actor"] is None for line in casts), casts
