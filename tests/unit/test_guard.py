"""The bookkeeping behind the connection limits: the process's connection cap and who is
shed, the per-address socket cap, the Origin rule, and the client frame models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from session_server.guard import FD_RESERVE, ConnectionGuard, connection_cap
from session_server.live.admission import AddressSlots, origin_allowed, parse_origins
from session_server.live.messages import CLIENT_FRAME, Command, Subscribe
from session_server.validation import DB_INT_MAX, MAX_DEPTH
from session_server.validation import unfit as unfit_json


def test_under_the_cap_nobody_is_shed() -> None:
    guard: ConnectionGuard[str] = ConnectionGuard(max_open=3, header_timeout=10)
    assert [guard.opened(c) for c in "abc"] == [[], [], []]
    assert (guard.open, guard.waiting) == (3, 3)


def test_over_the_cap_the_oldest_waiting_connection_is_shed() -> None:
    guard: ConnectionGuard[str] = ConnectionGuard(max_open=3, header_timeout=10)
    for c in "abc":
        guard.opened(c)
    guard.busy("a")  # its headers came: a request or a WebSocket, never shed
    assert guard.opened("d") == ["b"]
    assert guard.opened("e") == ["c"]
    assert (guard.open, guard.waiting) == (3, 2)
    # The shed connection's own close later changes nothing.
    guard.closed("b")
    assert guard.open == 3


def test_when_every_other_connection_is_busy_the_new_one_is_refused() -> None:
    guard: ConnectionGuard[str] = ConnectionGuard(max_open=2, header_timeout=10)
    for c in "ab":
        guard.opened(c)
        guard.busy(c)
    assert guard.opened("c") == ["c"]
    assert (guard.open, guard.waiting) == (2, 0)
    guard.closed("a")
    assert guard.opened("d") == []


def test_a_kept_alive_connection_waits_again_as_the_youngest() -> None:
    guard: ConnectionGuard[str] = ConnectionGuard(max_open=3, header_timeout=10)
    for c in "abc":
        guard.opened(c)
    guard.busy("a")
    guard.idle("a")  # answered, kept alive: sheddable again, after b and c
    assert guard.opened("d") == ["b"]
    assert guard.opened("e") == ["c"]
    assert guard.opened("f") == ["a"]
    guard.idle("gone")  # a connection the guard no longer counts stays uncounted
    assert guard.open == 3


def test_the_cap_stays_below_the_open_files_limit() -> None:
    assert connection_cap(256) == 256 - FD_RESERVE
    assert connection_cap(20_000) == 18_000  # a tenth kept free
    assert connection_cap(20_000, configured=500) == 500
    assert connection_cap(256, configured=10_000) == 256 - FD_RESERVE  # never above it
    assert connection_cap(10) == 1


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    script = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 256), hard))\n"
        "from session_server.guard import raise_open_files_limit\n"
        "print(raise_open_files_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    raised, soft, hard = map(int, done.stdout.split())
    assert raised == soft == hard


def test_address_slots() -> None:
    slots = AddressSlots(limit=2)
    assert slots.take("10.0.0.1") and slots.take("10.0.0.1")
    assert not slots.take("10.0.0.1")
    assert slots.take("10.0.0.2")  # each address has its own
    slots.give_back("10.0.0.1")
    assert slots.held("10.0.0.1") == 1 and slots.take("10.0.0.1")
    for _ in range(2):
        slots.give_back("10.0.0.1")
    slots.give_back("10.0.0.2")
    assert len(slots) == 0  # nothing is kept for addresses with no socket


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "verdict"),
    [
        (None, "live.example.uz", "", True),  # not a browser
        ("https://live.example.uz", "live.example.uz", "", True),
        ("https://LIVE.example.uz", "live.example.uz", "", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "", True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", "", False),
        ("https://evil.example", "live.example.uz", "", False),
        ("https://live.example.uz.evil.example", "live.example.uz", "", False),
        ("null", "live.example.uz", "", False),
        ("http://[::1", "live.example.uz", "", False),
        ("https://live.example.uz", None, "", False),
        ("https://app.example.uz", "live.example.uz", "https://app.example.uz", True),
        ("https://app.example.uz", "live.example.uz", " https://APP.example.uz/ ,x", True),
        ("http://app.example.uz", "live.example.uz", "https://app.example.uz", False),
        ("https://anything.example", "live.example.uz", "*", True),
    ],
)
def test_origin_rule(origin: str | None, host: str | None, allowed: str, verdict: bool) -> None:
    assert origin_allowed(origin, host, parse_origins(allowed)) is verdict


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe", "session": "4"},
        {"type": "subscribe", "session": True},
        {"type": "subscribe", "session": 4.0},
        {"type": "subscribe", "session": 0},
        {"type": "subscribe", "session": DB_INT_MAX + 1},
        {"type": "subscribe", "session": 4, "since": "3"},
        {"type": "subscribe", "session": 4, "since": DB_INT_MAX + 1},
        {"type": "unsubscribe", "session": False},
        {"type": "cmd", "id": 5, "cmd": "session.open"},
        {"type": "cmd", "id": "a", "cmd": "session.open", "args": [["session", 1]]},
        {"type": b"ping"},
    ],
)
def test_client_frames_are_strict(frame: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CLIENT_FRAME.validate_python(frame)


def test_client_frames_within_bounds() -> None:
    assert CLIENT_FRAME.validate_python(
        {"type": "subscribe", "session": DB_INT_MAX, "since": DB_INT_MAX}
    ) == Subscribe(type="subscribe", session=DB_INT_MAX, since=DB_INT_MAX)
    command = CLIENT_FRAME.validate_python({"type": "cmd", "id": "a", "cmd": "x"})
    assert isinstance(command, Command) and command.args == {}


def unfit(text: str) -> str | None:
    return unfit_json(text, json.loads(text), "frame")


def test_depth() -> None:
    def deep(levels: int) -> str:
        return '{"type":"ping","x":' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    assert unfit(deep(MAX_DEPTH)) is None
    assert unfit(deep(MAX_DEPTH + 1)) == f"frame: nested deeper than {MAX_DEPTH} levels"
    assert unfit("[" * 40 + "]" * 40) is not None
    # Many brackets side by side are not depth.
    wide = {"type": "ping", "x": [[] for _ in range(500)], "y": [{}] * 100}
    assert unfit(json.dumps(wide)) is None


@pytest.mark.parametrize(
    "text",
    [
        r'{"type":"cmd","args":{"topic":"a\u0000b"}}',
        r'{"type":"cmd","args":{"\u0000":1}}',
        r'{"a":[[["\u00001"]]]}',
        r'"\u0000"',
    ],
)
def test_a_nul_character_is_unfit(text: str) -> None:
    assert unfit(text) == "frame: a string holds the character U+0000"


# An escaped backslash before "u0000" is the six characters \u0000, not U+0000.
@pytest.mark.parametrize("text", [r'{"topic":"\\u0000"}', r'{"topic":"\u0001"}', "5", "null"])
def test_what_only_looks_like_a_nul_is_fit(text: str) -> None:
    assert unfit(text) is None
