"""The WebSocket hub against a real server process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from session_server.cli import WS_MAX_SIZE
from tests.conftest import Server
from tests.wsclient import LiveClient, fresh_state

S = 1  # the demo session


async def chair_client(server: Server) -> LiveClient:
    chair = await LiveClient.open(server.ws_url, server.token("chair"))
    await chair.subscribe(S)
    return chair


async def ok(client: LiveClient, name: str, **args: object) -> dict[str, object]:
    answer = await client.command(name, {"session": S, **args})
    assert answer["type"] == "ack", answer
    return answer


async def test_resume_from_seq_gets_exactly_what_was_missed(live_server: Server) -> None:
    chair = await chair_client(live_server)
    viewer = await LiveClient.open(live_server.ws_url)
    await viewer.subscribe(S)
    await ok(chair, "session.open")
    await viewer.until_seq(chair.seq)
    seen = viewer.seq
    await viewer.close()

    await ok(chair, "agenda.start_item", item=1)
    await ok(chair, "attendance.register")
    await ok(chair, "speaker.grant", deputy=5, seconds=120)

    back = await LiveClient.open(live_server.ws_url)
    back.state, back.seq = viewer.state, viewer.seq
    frames = await back.subscribe(S, since=seen)
    assert [f["type"] for f in frames] == ["event"] * 3 + ["subscribed"]
    assert [f["seq"] for f in frames[:3]] == [seen + 1, seen + 2, seen + 3]
    assert back.state == await fresh_state(live_server.ws_url, S)
    # Nothing missed, nothing replayed.
    frames = await back.subscribe(S, since=back.seq)
    assert [f["type"] for f in frames] == ["subscribed"]
    await back.close()
    await chair.close()


async def test_a_since_from_the_future_gets_a_snapshot(live_server: Server) -> None:
    client = await LiveClient.open(live_server.ws_url)
    frames = await client.subscribe(S, since=10_000)
    assert frames[0]["type"] == "snapshot" and frames[0]["seq"] == 1
    await client.close()


async def test_a_retried_command_id_acts_once_and_answers_the_same(live_server: Server) -> None:
    chair = await chair_client(live_server)
    first = await chair.command("session.open", {"session": S}, command_id="open-1")
    seq = chair.seq
    again = await chair.command("session.open", {"session": S}, command_id="open-1")
    assert first == again and first["type"] == "ack"
    # From another socket too (a tablet that reconnected before seeing its ack).
    await chair.close()
    other = await chair_client(live_server)
    assert await other.command("session.open", {"session": S}, command_id="open-1") == first
    assert other.seq == seq
    # An id is for one command only.
    reused = await other.command("session.close", {"session": S}, command_id="open-1")
    assert reused["error"]["code"] == "id_reused"
    # A new id is a new command: refused now, since the session is open.
    fresh = await other.command("session.open", {"session": S}, command_id="open-2")
    assert fresh["error"]["code"] == "wrong_state"
    await other.close()


async def test_concurrent_retries_act_once(live_server: Server) -> None:
    chairs = [await chair_client(live_server) for _ in range(4)]
    await ok(chairs[0], "session.open")
    answers = await asyncio.gather(
        *(c.command("speaker.grant", {"session": S, "deputy": 4}, command_id="g") for c in chairs)
    )
    assert all(a == answers[0] for a in answers) and answers[0]["type"] == "ack"
    state = await fresh_state(live_server.ws_url, S)
    assert state["seq"] == 3  # scheduled, opened, one speakers.changed
    for c in chairs:
        await c.close()


async def test_two_clients_see_identical_state(live_server: Server) -> None:
    chair = await chair_client(live_server)
    deputy = await LiveClient.open(live_server.ws_url, live_server.token("deputy07"))
    viewers = [await LiveClient.open(live_server.ws_url) for _ in range(2)]
    for v in viewers:
        await v.subscribe(S)
    await deputy.subscribe(S)
    await ok(chair, "session.open")
    await ok(deputy, "attendance.register", mode="remote")
    await ok(chair, "agenda.start_item", item=2)
    last = await ok(deputy, "speaker.request", topic="Budjet moddasi")
    for c in (*viewers, chair):
        await c.until_seq(last["result"]["seq"])  # type: ignore[index]
    assert viewers[0].state == viewers[1].state == await fresh_state(live_server.ws_url, S)
    assert deputy.state == chair.state
    assert chair.state is not None and viewers[0].state is not None
    # The viewer's copy differs only in what is redacted for the public.
    assert chair.state["speakers"]["queue"][0]["topic"] == "Budjet moddasi"
    assert "topic" not in viewers[0].state["speakers"]["queue"][0]
    assert viewers[0].state["attendance"] == chair.state["attendance"]
    for c in (chair, deputy, *viewers):
        await c.close()


async def test_agenda_attendance_and_floor_end_to_end(live_server: Server) -> None:
    chair = await chair_client(live_server)
    deputies = [
        await LiveClient.open(live_server.ws_url, live_server.token(f"deputy{n:02d}"))
        for n in range(2, 20)
    ]
    await ok(chair, "session.open")
    await ok(chair, "attendance.register")
    for d in deputies[:16]:
        await d.subscribe(S)
        last = await ok(d, "attendance.register")
    await chair.until_seq(last["result"]["seq"])  # type: ignore[index]
    assert chair.state is not None
    att = chair.state["attendance"]
    assert (att["count"], att["seats"], att["needed"], att["met"]) == (17, 35, 18, False)
    await deputies[16].subscribe(S)
    last = await ok(deputies[16], "attendance.register")
    await chair.until_seq(last["result"]["seq"])  # type: ignore[index]
    assert chair.state["attendance"]["met"] is True
    # Leaving drops the quorum again.
    last = await ok(deputies[16], "attendance.register", present=False)
    await chair.until_seq(last["result"]["seq"])  # type: ignore[index]
    assert chair.state["attendance"]["met"] is False

    await ok(chair, "agenda.start_item", item=1)
    await ok(deputies[0], "speaker.request")
    last = await ok(deputies[1], "speaker.request", topic="Savol")
    await chair.until_seq(last["result"]["seq"])
    again = await deputies[0].command("speaker.request", {"session": S})
    assert again["error"]["code"] == "already_requested"
    first_in_queue = chair.state["speakers"]["queue"][0]["deputy"]
    granted = await ok(chair, "speaker.grant", seconds=60)
    assert granted["result"]["deputy"] == first_in_queue
    assert chair.state["speakers"]["current"]["deputy"] == first_in_queue
    assert chair.state["speakers"]["current"]["limit_seconds"] == 60
    assert len(chair.state["speakers"]["queue"]) == 1
    await ok(chair, "speaker.end")
    assert chair.state["speakers"]["current"] is None
    # Moving to the next item closes the list.
    await ok(chair, "agenda.start_item", item=2)
    items = {i["id"]: i["state"] for i in chair.state["agenda"]["items"]}
    assert items[1] == "done" and items[2] == "current"
    assert chair.state["speakers"]["queue"] == []
    await ok(chair, "session.close")
    assert chair.state["session"]["state"] == "closed"
    for c in (chair, *deputies):
        await c.close()


async def _nothing_changed(server: Server, seq: int) -> None:
    assert (await fresh_state(server.ws_url, S))["seq"] == seq


@pytest.mark.parametrize(
    ("login", "frame", "code"),
    [
        ("chair", "{not json", "invalid_json"),
        ("chair", json.dumps([1, 2]), "bad_message"),
        ("chair", json.dumps({"type": "dance"}), "bad_message"),
        (
            "chair",
            json.dumps({"type": "cmd", "id": "x1", "cmd": "nope", "args": {}}),
            "unknown_command",
        ),
        (
            "chair",
            json.dumps({"type": "cmd", "id": "x2", "cmd": "session.open", "args": {}}),
            "invalid_args",
        ),
        (
            "chair",
            json.dumps(
                {"type": "cmd", "id": "x3", "cmd": "session.open", "args": {"session": "1"}}
            ),
            "invalid_args",
        ),
        (
            "chair",
            json.dumps(
                {
                    "type": "cmd",
                    "id": "x4",
                    "cmd": "agenda.start_item",
                    "args": {"session": 1, "item": 99},
                }
            ),
            "wrong_state",
        ),
        (
            "chair",
            json.dumps({"type": "cmd", "id": "x5", "cmd": "speaker.grant", "args": {"session": 1}}),
            "wrong_state",
        ),
        (
            "chair",
            json.dumps(
                {"type": "cmd", "id": "x6", "cmd": "session.open", "args": {"session": 999}}
            ),
            "not_found",
        ),
        (
            "deputy03",
            json.dumps({"type": "cmd", "id": "x7", "cmd": "session.open", "args": {"session": 1}}),
            "forbidden",
        ),
        (
            None,
            json.dumps(
                {"type": "cmd", "id": "x8", "cmd": "attendance.register", "args": {"session": 1}}
            ),
            "forbidden",
        ),
        (
            "chair",
            json.dumps({"type": "cmd", "id": "bad id!", "cmd": "session.open"}),
            "bad_message",
        ),
        ("chair", json.dumps({"type": "subscribe", "session": 999}), "not_found"),
        ("chair", json.dumps({"type": "subscribe", "session": 1, "since": -4}), "bad_message"),
        (None, "x" * 20_000, "too_large"),
        # A deputy's socket takes camera frames with ballots: its limit is higher.
        ("chair", "x" * (1536 * 1024 + 100), "too_large"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    module_server: Server, login: str | None, frame: str, code: str
) -> None:
    client = await LiveClient.open(
        module_server.ws_url, module_server.token(login) if login else None
    )
    await client.send(frame)
    answer = await client.recv()
    assert answer["type"] == "nack" and answer["error"]["code"] == code, answer
    assert answer["error"]["message"]
    await client.close()
    await _nothing_changed(module_server, 1)


async def test_binary_frames_are_refused(module_server: Server) -> None:
    client = await LiveClient.open(module_server.ws_url)
    await client.ws.send(b"\x00\x01")
    assert (await client.recv())["error"]["code"] == "bad_message"
    await client.close()


async def test_a_giant_frame_closes_the_socket_with_1009(module_server: Server) -> None:
    client = await LiveClient.open(module_server.ws_url)
    # The server may close while the frame is still going out: then send raises.
    with pytest.raises(ConnectionClosed) as closed:
        await client.send("x" * (WS_MAX_SIZE + 1))
        await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await _nothing_changed(module_server, 1)


async def test_a_flood_is_refused_then_closed_with_1008(module_server: Server) -> None:
    client = await LiveClient.open(module_server.ws_url, module_server.token("chair"))
    for i in range(300):
        try:
            await client.send(
                {"type": "cmd", "id": f"f{i}", "cmd": "speaker.end", "args": {"session": S}}
            )
        except ConnectionClosed:
            break
    codes = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = await client.recv()
            codes.append(frame["error"]["code"])
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "rate_limited" in codes and "wrong_state" in codes
    await _nothing_changed(module_server, 1)


async def test_a_bad_token_closes_with_4401(module_server: Server) -> None:
    client = await LiveClient.open(module_server.ws_url, "not-a-token")
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
