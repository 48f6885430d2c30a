"""Frames that used to drop the socket or slip past the frame models, and the Origin check,
against a real server process on each backend."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import Server
from tests.wsclient import LiveClient, fresh_state

S = 1  # the demo session


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


async def still_answers(client: LiveClient) -> None:
    """The socket was not dropped: it answers a ping."""
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        # json.loads raised RecursionError past ~1000 levels; the socket dropped.
        (nested(3000), "bad_message"),
        ('{"type":"ping","x":' + nested(5000) + "}", "bad_message"),
        # Parsed fine, but deeper than any frame needs (the limit is 32).
        (
            '{"type":"cmd","id":"d1","cmd":"nope","args":{"a":' + nested(40) + "}}",
            "bad_message",
        ),
        # Session ids beyond the database's INTEGER: the lookup raised (2**63 on SQLite,
        # 2**31 on PostgreSQL); now refused like any other out-of-range field.
        (json.dumps({"type": "subscribe", "session": 2**63}), "bad_message"),
        (json.dumps({"type": "subscribe", "session": 2**31}), "bad_message"),
        (json.dumps({"type": "subscribe", "session": 10**40}), "bad_message"),
        (json.dumps({"type": "unsubscribe", "session": 2**63}), "bad_message"),
        (json.dumps({"type": "subscribe", "session": S, "since": 2**31}), "bad_message"),
        (json.dumps({"type": "subscribe", "session": S, "since": 2**64}), "bad_message"),
        # Strict frames: an int is an int, not a string, a bool or a float.
        ('{"type":"subscribe","session":"1"}', "bad_message"),
        ('{"type":"subscribe","session":true}', "bad_message"),
        ('{"type":"subscribe","session":1.0}', "bad_message"),
        ('{"type":"subscribe","session":1,"since":"0"}', "bad_message"),
        ('{"type":"subscribe","session":1,"since":false}', "bad_message"),
        ('{"type":"unsubscribe","session":"1"}', "bad_message"),
        ('{"type":"cmd","id":"s1","cmd":"session.open","args":[["session",1]]}', "bad_message"),
        # Not JSON: NaN and Infinity are Python's extensions, not JSON.
        ('{"type":"subscribe","session":1,"since":NaN}', "invalid_json"),
        ('{"type":"cmd","id":"s2","cmd":"speaker.end","args":{"x":-Infinity}}', "invalid_json"),
        # Python refuses to read integers of more than 4300 digits.
        ('{"type":"subscribe","session":' + "7" * 5000 + "}", "invalid_json"),
        # A lone surrogate is no character: it could not be stored or even encoded.
        (
            '{"type":"cmd","id":"u1","cmd":"speaker.request","args":{"session":1,"topic":"\\ud800"}}',
            ("invalid_args", "forbidden"),  # a viewer may send no command at all
        ),
        ('{"type":"cmd","id":"u2","cmd":"\\ud800","args":{}}', "bad_message"),
        # PostgreSQL stores no U+0000: a topic holding one failed its command as `internal`.
        (
            '{"type":"cmd","id":"z1","cmd":"speaker.request",'
            '"args":{"session":1,"topic":"a\\u0000"}}',
            "bad_message",
        ),
        ('{"type":"subscribe","session":1,"\\udfff":1}', "bad_message"),
    ],
)
async def test_bad_frames_get_a_nack_and_the_socket_stays_open(
    module_server: Server, frame: str, code: str | tuple[str, str]
) -> None:
    codes = (code, code) if isinstance(code, str) else code
    for token, expected in zip((module_server.token("deputy02"), None), codes, strict=True):
        client = await LiveClient.open(module_server.ws_url, token)
        await client.send(frame)
        answer = await client.recv()
        assert answer["type"] == "nack" and answer["error"]["code"] == expected, answer
        assert answer["error"]["message"]
        await still_answers(client)
        await client.close()
    assert (await fresh_state(module_server.ws_url, S))["seq"] == 1


async def test_an_escaped_surrogate_pair_is_a_character(module_server: Server) -> None:
    """Only lone surrogates are refused: a pair escapes one character (here an emoji)."""
    client = await LiveClient.open(module_server.ws_url)
    await client.send('{"type":"ping"}')
    assert (await client.recv())["type"] == "pong"
    await client.send('{"type":"cmd","id":"e\\u0031","cmd":"x\\ud83d\\ude00","args":{}}')
    answer = await client.recv()
    # A viewer may send no command: the frame itself was read.
    assert answer["error"]["code"] == "unknown_command" and answer["id"] == "e1", answer
    await client.close()


async def test_the_depth_limit_leaves_real_frames_alone(module_server: Server) -> None:
    """The deepest frame a client sends (an election ballot) is far inside the limit."""
    client = await LiveClient.open(module_server.ws_url, module_server.token("deputy02"))
    args = {"session": S, "vote": 1, "choice": [nested(1, '"c1"')]}
    answer = await client.command("vote.cast", args)
    assert answer["error"]["code"] in {"invalid_args", "not_found", "not_present"}, answer
    await client.send('{"type":"ping","x":' + nested(30) + "}")
    refused = (await client.recv())["error"]
    assert refused["code"] == "bad_message" and "nested" not in refused["message"], refused
    await client.close()


async def test_a_foreign_origin_is_refused_at_the_handshake(module_server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(module_server.ws_url, origin=Origin("https://evil.example")):
            pass
    response = refused.value.response
    assert response.status_code == 403
    assert json.loads(response.body or b"")["error"]["code"] == "origin_not_allowed"
    # A port is part of the origin.
    port = int(module_server.url.rsplit(":", 1)[1])
    with pytest.raises(InvalidStatus):
        async with connect(module_server.ws_url, origin=Origin(f"http://127.0.0.1:{port + 1}")):
            pass


async def test_the_own_origin_and_no_origin_are_let_through(module_server: Server) -> None:
    # A browser on the server's own pages sends its Origin: the same host:port as Host.
    async with connect(module_server.ws_url, origin=Origin(module_server.url)) as ws:
        await ws.send('{"type":"ping"}')
        assert json.loads(await ws.recv())["type"] == "pong"
    # A script or a native app sends no Origin: it is not a browser.
    client = await LiveClient.open(module_server.ws_url)
    await still_answers(client)
    await client.close()
