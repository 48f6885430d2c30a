"""Votes end to end against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from session_server.published import pairs
from tests.conftest import Server, start_server
from tests.wsclient import LiveClient, fresh_state

S = 1
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def receipt() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(16))


async def ok(client: LiveClient, name: str, **args: Any) -> dict[str, Any]:
    answer = await client.command(name, {"session": S, **args})
    assert answer["type"] == "ack", answer
    return answer["result"]  # type: ignore[no-any-return]


async def refused(client: LiveClient, name: str, code: str, **args: Any) -> str:
    answer = await client.command(name, {"session": S, **args})
    assert answer["type"] == "nack" and answer["error"]["code"] == code, answer
    return str(answer["error"]["message"])


class Chamber:
    """A sitting with the chair and `n` deputies connected, registered and an item started."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.chair: LiveClient
        self.deputies: list[LiveClient] = []

    async def __aenter__(self) -> Chamber:
        return self

    async def start(self, present: int) -> Chamber:
        self.chair = await LiveClient.open(self.server.ws_url, self.server.token("chair"))
        await self.chair.subscribe(S)
        await ok(self.chair, "session.open")
        await ok(self.chair, "agenda.start_item", item=1)
        await ok(self.chair, "attendance.register")
        tokens = [self.server.token(f"deputy{n:02d}") for n in range(2, 2 + present - 1)]
        self.deputies = [await LiveClient.open(self.server.ws_url, t) for t in tokens]
        await asyncio.gather(*(ok(d, "attendance.register") for d in self.deputies))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for c in (self.chair, *self.deputies):
            await c.close()

    async def voted(self, count: int) -> dict[str, Any]:
        """The state once progress (reported a few times a second) shows `count` ballots."""
        async with asyncio.timeout(10):
            while not (self.chair.state and (self.chair.state["vote"] or {}).get("voted") == count):
                await self.chair.recv()
        return await self.settle()

    async def settle(self) -> dict[str, Any]:
        state = await fresh_state(self.server.ws_url, S)
        await self.chair.until_seq(state["seq"])
        return state


async def test_the_chair_cannot_open_a_vote_without_quorum(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=17)  # 35 seats: 18 needed
        message = await refused(room.chair, "vote.open", "no_quorum", question="Q", kind="simple")
        assert "17 present" in message and "18" in message
        await ok(room.deputies[0], "attendance.register")  # no change
        extra = await LiveClient.open(live_server.ws_url, live_server.token("deputy30"))
        await ok(extra, "attendance.register")
        assert (await ok(room.chair, "vote.open", question="Q", kind="simple"))["secret"] is False
        await extra.close()


async def test_named_vote_from_open_to_protocol(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=20)
        opened = await ok(
            room.chair,
            "vote.open",
            question="2027-yil budjeti qabul qilinsin",
            kind="simple",
            timer_seconds=0,
        )
        vote = opened["vote"]
        await refused(room.chair, "agenda.start_item", "vote_running", item=2)
        await refused(room.chair, "vote.open", "vote_running", question="again", kind="simple")
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            early = await http.get(f"/api/votes/{vote}/protocol.csv")
            assert early.status_code == 409 and early.json()["error"]["code"] == "vote_open"
        choices = ["yes"] * 12 + ["no"] * 4 + ["abstain"] * 2
        for deputy, choice in zip(room.deputies, choices, strict=False):
            result = await ok(deputy, "vote.cast", vote=vote, choice=choice)
            assert result["counted"] is True and result["choice"] == {"option": choice}
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            mine = await http.get(
                f"/api/votes/{vote}/mine",
                headers={"Authorization": f"Bearer {live_server.token('deputy02')}"},
            )
            assert mine.json() == {"vote": vote, "voted": True, "choice": {"option": "yes"}}
            assert (await http.get(f"/api/votes/{vote}/mine")).status_code == 403
        # Changing one's mind is allowed until close (the demo reglament says so).
        await ok(room.deputies[0], "vote.cast", vote=vote, choice="no")
        state = await room.voted(18)
        assert state["vote"]["result"] is None
        assert state["vote"]["ballots"] is None  # nothing partial before close

        closed = await ok(room.chair, "vote.close", vote=vote)
        assert closed["result"] == "adopted"
        state = await room.settle()
        result = state["vote"]["result"]
        assert result["counts"] == {"yes": 11, "no": 5, "abstain": 2}
        assert (result["present"], result["base_value"], result["threshold"]) == (20, 20, 11)
        assert result["threshold_exact"] == "10" and result["rule"]["base"] == "present"
        assert len(result["not_voted"]) == 2  # the chair and one deputy
        named = dict(pairs(state["vote"]["ballots"]["named"]))
        assert set(named.values()) == {"yes", "no", "abstain"}
        assert len(named) == 18
        assert state["votes"][-1]["result"] == "adopted"
        # A late ballot is refused and counts nothing.
        await refused(room.deputies[-1], "vote.cast", "vote_closed", vote=vote, choice="yes")

        # The protocol, as the clerk downloads it.
        http = httpx.AsyncClient(base_url=live_server.url)
        record = (await http.get(f"/api/votes/{vote}")).json()
        assert record["result"]["counts"]["yes"] == 11
        popolo = (await http.get(f"/api/votes/{vote}/protocol.json")).json()
        assert popolo["result"] == "pass"
        assert {c["option"]: c["value"] for c in popolo["counts"]}["yes"] == 11
        assert len(popolo["votes"]) == 33  # the whole roster
        options = [v["option"] for v in popolo["votes"]]
        assert options.count("not voting") == 2 and options.count("absent") == 13
        csv_text = (await http.get(f"/api/votes/{vote}/protocol.csv")).text
        await http.aclose()
        assert "2027-yil budjeti qabul qilinsin" in csv_text
        assert csv_text.count("\n") > 20


async def test_secret_vote_publishes_receipts_and_stores_no_link(
    live_server: Server, database_url: str
) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=19)
        opened = await ok(
            room.chair,
            "vote.open",
            question="Komissiya raisi saylansin",
            kind="election",
            candidates=["Karimova D.", "Yusupov S."],
            timer_seconds=0,
        )
        vote = opened["vote"]
        assert opened["secret"] is True
        mine: dict[int, tuple[str, list[str]]] = {}
        for i, deputy in enumerate(room.deputies):
            code = receipt()
            choice = ["c1"] if i % 3 else ["c2"]
            result = await ok(deputy, "vote.cast", vote=vote, choice=choice, receipt=code)
            assert result == {"vote": vote, "counted": True}  # nothing that links
            mine[i] = (code, choice)
        await refused(room.deputies[0], "vote.cast", "invalid_args", vote=vote, choice=["c1"])
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            own = await http.get(
                f"/api/votes/{vote}/mine",
                headers={"Authorization": f"Bearer {live_server.token('deputy02')}"},
            )
            assert own.json() == {"vote": vote, "voted": True}  # whether, never how
        await refused(
            room.deputies[0],
            "vote.cast",
            "unknown_receipt",
            vote=vote,
            choice=["c1"],
            receipt=receipt(),
        )
        await refused(
            room.deputies[0],
            "vote.cast",
            "too_many_choices",
            vote=vote,
            choice=["c1", "c2"],
            receipt=mine[0][0],
        )
        await ok(room.chair, "vote.close", vote=vote)
        state = await room.settle()
        published = dict(pairs(state["vote"]["ballots"]["receipts"]))
        for code, choice in mine.values():
            assert published[code] == choice  # each deputy finds their own ballot
        result = state["vote"]["result"]
        assert result["counts"] == {"c1": 12, "c2": 6}
        assert result["elected"] == []  # 12 is not more than half of 35 seats
        assert "named" not in state["vote"]["ballots"]

    # Full database access: no table pairs a deputy with a receipt or a choice.
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        participants = (
            (await conn.execute(text("SELECT * FROM vote_participants"))).mappings().all()
        )
        assert {tuple(sorted(r.keys())) for r in participants} == {("deputy_id", "vote_id")}
        box = (await conn.execute(text("SELECT * FROM secret_ballots"))).mappings().all()
        assert {tuple(sorted(r.keys())) for r in box} == {("choice", "receipt", "vote_id")}
        # As stored (no ORDER BY): in receipt order, not in the order the ballots came.
        assert [r["receipt"] for r in box] == sorted(code for code, _ in mine.values())
        named = (await conn.execute(text("SELECT count(*) FROM named_ballots"))).scalar()
        assert named == 0
        answers = (await conn.execute(text("SELECT response FROM command_results"))).scalars().all()
        blob = " ".join(str(a) for a in answers)
        assert not any(code in blob for code, _ in mine.values())
        events = (await conn.execute(text("SELECT payload FROM session_events"))).scalars().all()
        before_close = " ".join(str(e) for e in events[:-1])
        assert not any(code in before_close for code, _ in mine.values())
    await engine.dispose()


async def test_cancel_keeps_the_reason_and_a_new_vote_can_run(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=18)
        vote = (await ok(room.chair, "vote.open", question="Q1", kind="absolute", timer_seconds=0))[
            "vote"
        ]
        await ok(room.deputies[0], "vote.cast", vote=vote, choice="yes")
        await refused(room.chair, "vote.cancel", "invalid_args", vote=vote, reason="")
        await ok(room.chair, "vote.cancel", vote=vote, reason="Tablet 7 ishlamadi")
        state = await room.settle()
        assert state["vote"]["state"] == "cancelled"
        assert state["vote"]["cancel_reason"] == "Tablet 7 ishlamadi"
        assert state["vote"]["result"] is None
        await refused(room.deputies[1], "vote.cast", "vote_closed", vote=vote, choice="yes")
        again = (
            await ok(room.chair, "vote.open", question="Q1", kind="absolute", timer_seconds=0)
        )["vote"]
        assert again != vote
        assert [v["state"] for v in (await room.settle())["votes"]] == ["cancelled", "open"]


async def test_the_timer_closes_the_vote(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=18)
        vote = (await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=1))[
            "vote"
        ]
        await ok(room.deputies[0], "vote.cast", vote=vote, choice="yes")
        async with asyncio.timeout(10):
            while not (room.chair.state and room.chair.state["vote"]["state"] == "closed"):
                await room.chair.recv()
        assert room.chair.state["vote"]["result"]["counts"]["yes"] == 1


@pytest.mark.parametrize(
    ("login", "args", "code"),
    [
        ("deputy02", {"question": "Q", "kind": "simple"}, "forbidden"),
        ("chair", {"question": "Q", "kind": "nonexistent"}, "unknown_kind"),
        ("chair", {"question": "", "kind": "simple"}, "invalid_args"),
        ("chair", {"question": "Q", "kind": "simple", "candidates": ["A", "A"]}, "invalid_args"),
        (
            "chair",
            {"question": "Q", "kind": "simple", "candidates": ["A"], "max_choices": 2},
            "invalid_args",
        ),
        ("chair", {"question": "Q", "kind": "simple", "timer_seconds": -1}, "invalid_args"),
    ],
)
async def test_bad_vote_openings_are_refused(
    live_server: Server, login: str, args: dict[str, Any], code: str
) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=18)
        client = room.chair if login == "chair" else room.deputies[0]
        before = (await room.settle())["seq"]
        await refused(client, "vote.open", code, **args)
        assert (await room.settle())["seq"] == before


async def test_bad_ballots_are_refused(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=18)
        vote = (await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=0))[
            "vote"
        ]
        d = room.deputies[0]
        await refused(d, "vote.cast", "invalid_choice", vote=vote, choice="maybe")
        await refused(d, "vote.cast", "invalid_choice", vote=vote, choice=["yes"])
        await refused(d, "vote.cast", "not_found", vote=vote + 100, choice="yes")
        await refused(d, "vote.cast", "invalid_args", vote="1", choice="yes")
        outsider = await LiveClient.open(live_server.ws_url, live_server.token("deputy33"))
        await refused(outsider, "vote.cast", "not_present", vote=vote, choice="yes")
        viewer = await LiveClient.open(live_server.ws_url)
        await refused(viewer, "vote.cast", "forbidden", vote=vote, choice="yes")
        state = await room.settle()
        assert state["vote"]["voted"] == 0
        await outsider.close()
        await viewer.close()


async def test_ballots_racing_the_close_are_either_counted_or_refused(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=30)
        vote = (await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=0))[
            "vote"
        ]
        casts = [
            d.command("vote.cast", {"session": S, "vote": vote, "choice": "yes"})
            for d in room.deputies
        ]
        close = room.chair.command("vote.close", {"session": S, "vote": vote})
        # The close goes in the middle of the ballots.
        answers = await asyncio.gather(*casts[:15], close, *casts[15:])
        ballots = answers[:15] + answers[16:]
        assert answers[15]["type"] == "ack"
        acked = sum(1 for a in ballots if a["type"] == "ack")
        refused_late = [a for a in ballots if a["type"] == "nack"]
        assert all(a["error"]["code"] == "vote_closed" for a in refused_late)
        state = await room.settle()
        # Every acknowledged ballot is counted; no refused one is.
        assert state["vote"]["result"]["counts"]["yes"] == acked
        assert len(pairs(state["vote"]["ballots"]["named"])) == acked


async def test_a_retried_cast_counts_once(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=18)
        vote = (await ok(room.chair, "vote.open", question="Q", kind="simple", timer_seconds=0))[
            "vote"
        ]
        # The same tablet's retry, arriving over five sockets at once.
        token = live_server.token("deputy02")
        sockets = [await LiveClient.open(live_server.ws_url, token) for _ in range(5)]
        args = {"session": S, "vote": vote, "choice": "yes"}
        first, *again = await asyncio.gather(
            *(c.command("vote.cast", args, command_id="cast-1") for c in sockets)
        )
        for c in sockets:
            await c.close()
        assert first["type"] == "ack" and all(a == first for a in again)
        await room.voted(1)
        await asyncio.sleep(1)  # several report intervals: nothing more to report
        await room.settle()
        progress = [e for e in room.chair.events if e["event"]["kind"] == "vote.progress"]
        assert [e["event"]["vote"]["voted"] for e in progress] == [1]


async def test_a_tie_goes_to_the_chair_where_the_reglament_says_so(
    live_server: Server, database_url: str
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    # A reglament where a tie can meet the threshold: at least half of yes + no.
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        stored = (await conn.execute(text("SELECT rules FROM councils WHERE id = 1"))).scalar()
        rules = stored if isinstance(stored, dict) else json.loads(str(stored))
        rules["ties"] = "chair_decides"
        rules["vote_kinds"]["half"] = {
            "numerator": 1,
            "denominator": 2,
            "base": "yes_no",
            "strict": False,
        }
        await conn.execute(
            text("UPDATE councils SET rules = :r WHERE id = 1"), {"r": json.dumps(rules)}
        )
    await engine.dispose()
    async with Chamber(live_server) as room:
        await room.start(present=18)
        vote = (await ok(room.chair, "vote.open", question="Q", kind="half", timer_seconds=0))[
            "vote"
        ]
        for i, d in enumerate(room.deputies[:10]):
            await ok(d, "vote.cast", vote=vote, choice="yes" if i % 2 else "no")
        await refused(room.chair, "vote.decide_tie", "wrong_state", vote=vote, decision="yes")
        assert (await ok(room.chair, "vote.close", vote=vote))["result"] == "pending_chair"
        state = await room.settle()
        assert state["vote"]["state"] == "pending_chair" and state["vote"]["result"]["tie"]
        await refused(room.chair, "agenda.start_item", "vote_running", item=2)
        decided = await ok(room.chair, "vote.decide_tie", vote=vote, decision="yes")
        assert decided["result"] == "adopted"
        state = await room.settle()
        assert state["vote"]["state"] == "closed"
        assert state["vote"]["result"]["chair_decision"] == "yes"


async def _cast_and_kill(
    server: Server, deputies: list[LiveClient], casts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every deputy casts at once; the server is killed the moment the last answer lands."""
    answers = await asyncio.gather(
        *(
            d.command("vote.cast", {"session": S, **c}, command_id=f"cast-{c['vote']}-{i}")
            for i, (d, c) in enumerate(zip(deputies, casts, strict=True))
        )
    )
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    for d in deputies:
        await d.close()
    assert all(a["type"] == "ack" for a in answers), answers
    return answers


async def test_acknowledged_ballots_survive_kill_9(live_server: Server) -> None:
    """A ballot counts once acknowledged: killed right after the acks, the server counts
    every one of them after a restart, and a retry of one counts it no second time."""
    async with Chamber(live_server) as room:
        await room.start(present=20)
        named = (await ok(room.chair, "vote.open", question="Q", kind="simple"))["vote"]
        choices = ["yes" if i % 4 else "no" for i in range(len(room.deputies))]
        await _cast_and_kill(
            live_server, room.deputies, [{"vote": named, "choice": c} for c in choices]
        )

    again = start_server(live_server.env, live_server.log)
    try:
        retry_by = await LiveClient.open(again.ws_url, again.token("deputy02"))
        retry = await retry_by.command(
            "vote.cast", {"session": S, "vote": named, "choice": "no"}, command_id=f"cast-{named}-0"
        )
        assert retry["type"] == "ack" and retry["result"]["choice"] == {"option": choices[0]}
        chair = await LiveClient.open(again.ws_url, again.token("chair"))
        await ok(chair, "vote.close", vote=named)
        state = await fresh_state(again.ws_url, S)
        counts = state["vote"]["result"]["counts"]
        assert counts == {"yes": choices.count("yes"), "no": choices.count("no"), "abstain": 0}

        secret = (await ok(chair, "vote.open", question="Q2", kind="simple", secret=True))["vote"]
        tokens = [again.token(f"deputy{n:02d}") for n in range(2, 21)]
        deputies = [await LiveClient.open(again.ws_url, t) for t in tokens]
        codes = [receipt() for _ in deputies]
        await _cast_and_kill(
            again,
            deputies,
            [{"vote": secret, "choice": "yes", "receipt": code} for code in codes],
        )
        await retry_by.close()
        await chair.close()
    finally:
        again.kill()

    third = start_server(live_server.env, live_server.log)
    try:
        chair = await LiveClient.open(third.ws_url, third.token("chair"))
        await ok(chair, "vote.close", vote=secret)
        state = await fresh_state(third.ws_url, S)
        published = dict(pairs(state["vote"]["ballots"]["receipts"]))
        assert published == dict.fromkeys(codes, "yes")
        assert state["vote"]["result"]["counts"]["yes"] == len(codes)
        await chair.close()
    finally:
        third.kill()


async def test_a_named_election_publishes_each_deputys_candidates(live_server: Server) -> None:
    async with Chamber(live_server) as room:
        await room.start(present=20)
        opened = await ok(
            room.chair,
            "vote.open",
            question="Komissiya a'zolari saylansin",
            kind="election",
            secret=False,
            candidates=["Karimova D.", "Yusupov S.", "Rasulova N."],
            max_choices=2,
        )
        vote = opened["vote"]
        assert opened["secret"] is False
        chosen = [["c1", "c2"], ["c2"], ["c3", "c1"], []]
        for i, deputy in enumerate(room.deputies):
            result = await ok(deputy, "vote.cast", vote=vote, choice=chosen[i % 4])
            assert result["choice"] == {"candidates": sorted(chosen[i % 4])}
        await ok(room.chair, "vote.close", vote=vote)
        state = await room.settle()
        published = pairs(state["vote"]["ballots"]["named"])
        assert len(published) == len(room.deputies)
        by_deputy = {deputy: choice for deputy, choice in published}
        ids = sorted(by_deputy)
        # The deputies voted in the order of their ids (deputy02, deputy03, …).
        assert [by_deputy[d] for d in ids] == [
            sorted(chosen[i % 4]) for i in range(len(room.deputies))
        ]
        counts = state["vote"]["result"]["counts"]
        n = {
            c: sum(c in chosen[i % 4] for i in range(len(room.deputies)))
            for c in ("c1", "c2", "c3")
        }
        assert counts == n
