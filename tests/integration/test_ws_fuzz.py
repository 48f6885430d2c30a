"""Property-based fuzzing of /ws against a real server process, on SQLite and PostgreSQL.

A signed-in deputy and a viewer send bursts of frames of every shape: random JSON,
wrong types, huge integers, floats, NaN, nesting thousands deep, lone surrogates,
oversized and binary frames, and wrong-typed fields in `subscribe`, `unsubscribe`,
`cmd` and the arguments of every registered command. After every burst:

- the socket was not dropped: every frame got its one answer, and it answers `ping`;
- every `nack` carries a code from docs/protocol.md's "Error codes" table, never
  `internal` (a bug);
- the session's `seq` moved only by the commands that were acknowledged;
- honest frames in the same burst got their normal answers: a `ping` on the same socket,
  and a command the chair sends to the same session at the same time (which the
  dispatcher may batch with the fuzzed ones)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect

from session_server.commands import REGISTRY
from session_server.validation import DB_INT_MAX
from tests.conftest import ROOT, Server, pg_database, seed_demo, server_env, start_server
from tests.wsclient import LiveClient

S = 1  # the demo session
PING = '{"type":"ping"}'
ANSWERS = {"nack", "ack", "pong", "subscribed", "unsubscribed"}  # one per frame sent
MAX_FRAME = 16 * 1024  # KENGASH_WS_MAX_FRAME_BYTES's default


def documented_codes() -> set[str]:
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = protocol.split("\n## Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


DOCUMENTED = documented_codes()


# -- frames ------------------------------------------------------------------------------

HUGE_INTS = st.sampled_from(
    [0, -1, DB_INT_MAX, DB_INT_MAX + 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)
# Plausible values for an argument, to get past some checks and into others.
PLAUSIBLE = st.one_of(
    st.integers(-2, 40),
    st.booleans(),
    st.sampled_from(["yes", "no", "abstain", "chamber", "remote", "simple", "c1", ""]),
    st.lists(st.sampled_from(["c1", "c2", "c1 "]), max_size=3),
    st.text(max_size=12),
    st.none(),
)
VALUE = st.one_of(PLAUSIBLE, HUGE_INTS, JSON, st.text(min_size=300, max_size=1200))
# Each weighted towards what gets furthest: a real command, a valid id, session 1.
NAME = st.one_of(*[st.sampled_from(sorted(REGISTRY))] * 4, st.text(max_size=70), VALUE)
COMMAND_ID = st.one_of(*[st.uuids().map(lambda u: u.hex)] * 4, st.text(max_size=70), VALUE)
SESSION = st.one_of(*[st.just(S)] * 3, st.integers(-2, 5), VALUE)
ARG = st.one_of(PLAUSIBLE, PLAUSIBLE, VALUE)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def command(name: Any, args: Any, command_id: Any = None) -> dict[str, Any]:
    return {"type": "cmd", "id": command_id or uuid.uuid4().hex, "cmd": name, "args": args}


@st.composite
def command_frames(draw: st.DrawFn) -> str:
    """Any command, registered or not, with arguments of any type, present or not."""
    name = draw(NAME)
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    fields = sorted(spec.args.model_fields) if spec is not None else ["session"]
    args: dict[str, Any] = {}
    for field in fields:
        if field == "session" or draw(st.booleans()):
            args[field] = draw(SESSION if field == "session" else ARG)
    if draw(st.integers(0, 5)) == 0:
        args[draw(st.text(max_size=8))] = draw(VALUE)
    frame = command(name, args, draw(COMMAND_ID))
    if draw(st.integers(0, 5)) == 0:
        frame["args"] = draw(VALUE)
    if draw(st.integers(0, 7)) == 0:
        frame.pop(draw(st.sampled_from(["id", "cmd", "args", "type"])))
    return dumps(frame)


# A deputy's own commands, well-formed, so that some act (and move seq) and others meet
# the handlers' refusals: not present, already requested, no such vote, out of range.
DEPUTY_COMMANDS = st.one_of(
    st.builds(
        lambda present, mode: command(
            "attendance.register", {"session": S, "present": present, "mode": mode}
        ),
        st.booleans(),
        st.sampled_from(["chamber", "remote"]),
    ),
    st.builds(
        lambda topic: command("speaker.request", {"session": S, "topic": topic}),
        st.text(max_size=320),
    ),
    st.just(None).map(lambda _: command("speaker.withdraw", {"session": S})),
    st.builds(
        lambda vote, choice: command("vote.cast", {"session": S, "vote": vote, "choice": choice}),
        st.one_of(st.integers(1, 3), HUGE_INTS),
        st.one_of(st.sampled_from(["yes", "no", "abstain", "maybe"]), st.lists(st.text())),
    ),
).map(dumps)


@st.composite
def subscription_frames(draw: st.DrawFn) -> str:
    frame: dict[str, Any] = {"type": draw(st.sampled_from(["subscribe", "unsubscribe"]))}
    if draw(st.integers(0, 5)):
        frame["session"] = draw(SESSION)
    if draw(st.booleans()):
        frame["since"] = draw(st.one_of(st.integers(-2, 40), VALUE))
    if draw(st.integers(0, 5)) == 0:
        frame[draw(st.text(max_size=8))] = draw(VALUE)
    return dumps(frame)


def nested(depth: int, leaf: str) -> str:
    return "[" * depth + leaf + "]" * depth


DEPTH = st.integers(1, 7000)
RAW = st.one_of(
    # Nesting of every depth, bare and inside frames that are otherwise fine.
    DEPTH.map(lambda d: nested(d, "1")),
    DEPTH.map(lambda d: '{"a":' * d + "null" + "}" * d),
    DEPTH.map(lambda d: '{"type":"ping","x":' + nested(d, "0") + "}"),
    DEPTH.map(
        lambda d: (
            '{"type":"cmd","id":"n","cmd":"vote.cast","args":{"session":1,"vote":1,'
            '"choice":' + nested(d, '"yes"') + "}}"
        )
    ),
    # Integers Python will not read (over 4300 digits), NaN and Infinity.
    st.integers(4000, 7000).map(lambda n: '{"type":"subscribe","session":' + "9" * n + "}"),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(
        lambda c: '{"type":"subscribe","session":1,"since":' + c + "}"
    ),
    # Lone surrogates, escaped, where a string goes.
    st.sampled_from(["\\ud800", "\\udfff", "x\\udbff"]).map(
        lambda s: (
            '{"type":"cmd","id":"s","cmd":"speaker.request","args":{"session":1,'
            '"topic":"' + s + '"}}'
        )
    ),
    # Not JSON at all, and frames over the size the hub reads (under the 1 MiB close).
    st.text(max_size=40),
    st.integers(MAX_FRAME + 1, 4 * MAX_FRAME).map(lambda n: "x" * n),
    st.integers(MAX_FRAME, 4 * MAX_FRAME).map(lambda n: '{"type":"ping","pad":"' + "y" * n + '"}'),
)
FRAME = st.one_of(
    command_frames(),
    command_frames(),
    DEPUTY_COMMANDS,
    subscription_frames(),
    JSON.map(dumps),
    st.dictionaries(st.sampled_from(["type", "session", "id"]), VALUE, max_size=3).map(dumps),
    st.just(PING),
    RAW,
    st.binary(max_size=64),  # a binary frame
)
BURST = st.lists(FRAME, min_size=1, max_size=8)


# -- the server and the clients --------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose rate limit stays out of the way: every frame is read."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with pg_database() if request.param == "postgresql" else _sqlite(tmp) as url:
        seed_demo(url)
        env = server_env(url, tmp, KENGASH_WS_RATE_PER_SECOND="1000000", KENGASH_WS_BURST="1000000")
        server = start_server(env, tmp / "server.log")
        try:
            yield server
        finally:
            server.kill()


class _sqlite:
    def __init__(self, tmp: Path) -> None:
        self.url = f"sqlite+aiosqlite:///{tmp / 'kengash.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        pass


class Fuzzer:
    """One fuzzing socket (reopened if a failing example dropped it) and the chair."""

    def __init__(self, server: Server, login: str | None) -> None:
        self.server = server
        self.token = server.token(login) if login else None
        self.ws: ClientConnection | None = None
        self.chair: ClientConnection | None = None
        self.seq = 0
        self.bursts = 0
        self.codes: set[str] = set()

    async def start(self) -> None:
        chair = await LiveClient.open(self.server.ws_url, self.server.token("chair"))
        # An open sitting with an item under way and the chair and a deputy present: the
        # deputy's commands get past the state checks into the handlers.
        for name, args in (
            ("session.open", {}),
            ("agenda.start_item", {"item": 1}),
            ("attendance.register", {}),
        ):
            await chair.command(name, {"session": S, **args})
        deputy = await LiveClient.open(self.server.ws_url, self.server.token("deputy02"))
        await deputy.command("attendance.register", {"session": S})
        await deputy.close()
        self.chair = chair.ws
        self.seq = await self.current_seq(chair)

    @staticmethod
    async def current_seq(client: LiveClient) -> int:
        await client.subscribe(S)
        await client.send({"type": "unsubscribe", "session": S})
        while (await client.recv())["type"] != "unsubscribed":
            pass
        return client.seq

    async def socket(self) -> ClientConnection:
        if self.ws is None or self.ws.close_code is not None:
            url = self.server.ws_url
            if self.token is not None:
                url = f"{url}?token={self.token}"
            self.ws = await connect(url, max_size=None, max_queue=None)
        return self.ws

    async def stop(self) -> None:
        for ws in (self.ws, self.chair):
            if ws is not None:
                await ws.close()

    async def burst(self, frames: list[str | bytes], honest_at: int) -> None:
        ws = await self.socket()
        assert self.chair is not None
        self.bursts += 1
        sent = [*frames[:honest_at], PING, *frames[honest_at:]]
        honest_id = f"honest-{uuid.uuid4().hex}"
        for n, frame in enumerate(sent):
            await ws.send(frame)
            if n == len(sent) // 2:  # the chair's command lands amid the burst
                await self.chair.send(
                    dumps(
                        {
                            "type": "cmd",
                            "id": honest_id,
                            "cmd": "attendance.register",
                            "args": {"session": S},
                        }
                    )
                )
        answers: list[dict[str, Any]] = []
        async with asyncio.timeout(30):
            while len(answers) < len(sent):
                frame = json.loads(await ws.recv())
                if frame["type"] in ANSWERS:
                    answers.append(frame)
            honest = json.loads(await self.chair.recv())
        # The chair was present already: the normal answer, whatever the burst held.
        assert honest == {
            "type": "ack",
            "id": honest_id,
            "result": {"deputy": 1, "present": True, "changed": False},
        }, honest
        codes = {a["error"]["code"] for a in answers if a["type"] == "nack"}
        assert codes <= DOCUMENTED - {"internal"}, (codes - DOCUMENTED) or codes
        self.codes |= codes
        assert any(a["type"] == "pong" for a in answers)
        for answer in answers:
            if answer["type"] == "ack" and "seq" in answer["result"]:
                self.seq = max(self.seq, answer["result"]["seq"])
        # Still open and answering; and the log holds nothing but what was acknowledged.
        async with asyncio.timeout(30):
            await ws.send(PING)
            while json.loads(await ws.recv())["type"] != "pong":
                pass
            await ws.send(dumps({"type": "subscribe", "session": S, "since": self.seq}))
            answer = json.loads(await ws.recv())
        assert answer == {"type": "subscribed", "session": S, "seq": self.seq}, answer


def describe(frames: list[str | bytes]) -> str:
    shown = [repr(f[:200]) + (f" … ({len(f)} long)" if len(f) > 200 else "") for f in frames]
    return "\n  " + "\n  ".join(shown)


def fuzz(server: Server, login: str | None, examples: int) -> None:
    with asyncio.Runner() as runner:
        fuzzer = Fuzzer(server, login)
        runner.run(fuzzer.start())

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(frames=BURST, honest_at=st.integers(0, 8))
        def example(frames: list[str | bytes], honest_at: int) -> None:
            honest_at = min(honest_at, len(frames))
            try:
                runner.run(fuzzer.burst(frames, honest_at))
            except Exception as exc:
                # Named here: the report of the shrunk example leaves its values out.
                exc.add_note(f"burst (honest ping at {honest_at}): {describe(frames)}")
                raise

        try:
            example()
        finally:
            runner.run(fuzzer.stop())
        assert fuzzer.bursts >= examples
        # The bursts did reach every layer: the frame checks, the dispatcher, the handlers.
        print(f"{login}: {fuzzer.bursts} bursts, nack codes {sorted(fuzzer.codes)}")


def test_a_deputy_cannot_break_the_socket(fuzz_server: Server) -> None:
    fuzz(fuzz_server, "deputy02", examples=500)


def test_a_viewer_cannot_break_the_socket(fuzz_server: Server) -> None:
    fuzz(fuzz_server, None, examples=200)
