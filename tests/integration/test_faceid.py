"""Face ID against a real server, with real faces (the test photos) and dlib in the
server's face workers: the secretariat enrols, a deputy passes the camera challenge,
ballots count only with the deputy's face, and every refusal has its code, its audit
row and changes nothing. The reglament is changed with `kengash council rules` while the
server runs. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy
import pytest

from biometrics.liveness import possible_challenges
from session_server import demo
from tests.conftest import ROOT, Server
from tests.faces import challenge_frames, frontal_frame, jpeg, photo
from tests.integration.test_voting import Chamber, ok
from tests.wsclient import LiveClient

S = 1


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def frames_b64(frames: Sequence[numpy.ndarray]) -> list[str]:
    return [b64(jpeg(f, 80)) for f in frames]


def set_rules(server: Server, tmp: Path, **changes: Any) -> subprocess.CompletedProcess[str]:
    """`kengash council rules` on the server's database, as an operator runs it."""
    import yaml

    rules = {**demo.RULES.model_dump(mode="json"), **changes}
    path = tmp / "rules.yaml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    return kengash_rules(server, str(path))


def kengash_rules(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KENGASH_DATABASE_URL": server.env["KENGASH_DATABASE_URL"]}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "session_server",
            "council",
            "rules",
            "--council",
            demo.COUNCIL,
            *args,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def deputy_of(http: httpx.AsyncClient, token: str) -> int:
    me = (await http.get("/api/me", headers=bearer(token))).json()
    return int(me["deputy_id"])


async def enrol(http: httpx.AsyncClient, staff: str, deputy: int, *names: str) -> httpx.Response:
    return await http.post(
        f"/api/deputies/{deputy}/face",
        json={"images": [b64(photo(n)) for n in names]},
        headers=bearer(staff),
    )


async def pass_challenge(
    http: httpx.AsyncClient, token: str, name: str = "obama.jpg", order: str = "asked"
) -> httpx.Response:
    """Ask for a challenge and answer it with frames of `name` doing the actions (in the
    order asked, or reversed)."""
    asked = await http.post("/api/auth/face/challenge", json={}, headers=bearer(token))
    assert asked.status_code == 200, asked.text
    challenge = asked.json()
    actions = challenge["actions"]
    assert 2 <= len(actions) <= 3 and challenge["ttl"] == 120
    done = actions if order == "asked" else another_order(actions)
    frames = challenge_frames(done, challenge["frames_per_action"], name)
    return await http.post(
        "/api/auth/face",
        json={"challenge": challenge["challenge"], "frames": frames_b64(frames)},
        headers=bearer(token),
    )


def another_order(actions: list[str]) -> list[str]:
    """The same number of actions in an order the challenge did not ask for: reversed,
    or, for one that reads the same backwards (blink, turn_left, blink), the first other."""
    if list(reversed(actions)) != actions:
        return list(reversed(actions))
    for other in possible_challenges(len(actions)):
        if list(other) != actions:
            return list(other)
    raise AssertionError("no other order")


async def audit_rows(http: httpx.AsyncClient, staff: str, kind: str) -> list[dict[str, Any]]:
    answer = await http.get("/api/audit", params={"kind": kind}, headers=bearer(staff))
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


async def cast(client: LiveClient, vote: int, **extra: Any) -> dict[str, Any]:
    return await client.command("vote.cast", {"session": S, "vote": vote, "choice": "yes", **extra})


@pytest.fixture
def face_server(module_server: Server, tmp_path: Path) -> Iterator[Server]:
    """The module's demo server (one per backend); each test works with deputies of its
    own, and the demo's reglament is back after it, whatever happened."""
    yield module_server
    assert set_rules(module_server, tmp_path).returncode == 0


async def test_enrol_sign_in_and_vote_with_a_face(face_server: Server, tmp_path: Path) -> None:
    server = face_server
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        staff = server.token("secretary")
        token05 = server.token("deputy05")
        d05 = await deputy_of(http, token05)

        # Enrolment: two photos of one person; the answer shows the face in each.
        before = await http.get(f"/api/deputies/{d05}/face", headers=bearer(staff))
        assert before.json() == {
            "deputy": d05,
            "enrolled": False,
            "samples": 0,
            "enrolled_at": None,
        }
        made = await enrol(http, staff, d05, "obama.jpg", "obama2.jpg")
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["samples"] == 2 and [f["index"] for f in body["faces"]] == [0, 1]
        for face in body["faces"]:
            left, top, right, bottom = face["box"]
            assert 0 < right - left < face["width"] and 0 < bottom - top < face["height"]
        status = (await http.get(f"/api/deputies/{d05}/face", headers=bearer(staff))).json()
        assert status["enrolled"] and status["samples"] == 2

        # face_signin required: nothing as a deputy until the camera challenge is passed.
        changed = set_rules(server, tmp_path, face_signin="required")
        assert changed.returncode == 0, changed.stderr
        assert "face_signin: required" in changed.stdout
        client = await LiveClient.open(server.ws_url, token05)
        await client.subscribe(S)
        refused = await client.command("attendance.register", {"session": S})
        assert refused["error"]["code"] == "face_signin_required", refused
        me = (await http.get("/api/me", headers=bearer(token05))).json()
        assert me["face"] == {"signin": "required", "per_ballot": "false", "enrolled": True}
        assert me["face_verified"] is False

        # Another person's face, or the right face doing the actions in another order:
        # refused, audited, nobody verified.
        other = await pass_challenge(http, token05, "biden.jpg")
        assert other.status_code == 403 and other.json()["error"]["code"] == "face_mismatch"
        backwards = await pass_challenge(http, token05, order="reversed")
        assert backwards.status_code == 403, backwards.text
        assert backwards.json()["error"]["code"] == "liveness_failed"

        passed = await pass_challenge(http, token05)
        assert passed.status_code == 200, passed.text
        verified = passed.json()
        assert verified["face_verified"] is True and verified["user"]["deputy_id"] == d05
        me = (await http.get("/api/me", headers=bearer(verified["token"]))).json()
        assert me["face_verified"] is True
        await client.close()

        # Per ballot `match` from now on (the sign-in rule back to optional, so that the
        # chamber's other deputies may register without a face).
        assert set_rules(server, tmp_path, face_check_per_ballot="match").returncode == 0
        async with Chamber(server) as room:
            await room.start(present=18)
            verified_client = await LiveClient.open(server.ws_url, verified["token"])
            await verified_client.subscribe(S)
            opened = await ok(room.chair, "vote.open", question="Face-checked", kind="simple")
            vote = opened["vote"]
            assert room.chair.state is not None
            await room.chair.until_seq(room.chair.seq)

            no_face = await cast(verified_client, vote)
            assert no_face["error"]["code"] == "face_check_required", no_face
            stranger = await cast(verified_client, vote, face=b64(jpeg(frontal_frame("biden.jpg"))))
            assert stranger["error"]["code"] == "face_mismatch", stranger
            blank = await cast(
                verified_client, vote, face=b64(jpeg(numpy.full((480, 640, 3), 128, numpy.uint8)))
            )
            assert blank["error"]["code"] == "no_face", blank
            junk = await cast(verified_client, vote, face="not base64!")
            assert junk["error"]["code"] == "bad_image", junk
            # deputy02 has no face enrolled; deputy06 is among the chamber too.
            unenrolled = await cast(room.deputies[0], vote, face=b64(jpeg(frontal_frame())))
            assert unenrolled["error"]["code"] == "not_enrolled", unenrolled

            counted = await cast(verified_client, vote, face=b64(jpeg(frontal_frame("obama3.jpg"))))
            assert counted["type"] == "ack" and counted["result"]["counted"], counted
            state = await room.voted(1)
            assert state["vote"]["face_check"] == "match" and state["vote"]["voted"] == 1
            await ok(room.chair, "vote.close", vote=vote)
            await verified_client.close()

        protocol = await http.get(f"/api/votes/{vote}/protocol.csv")
        rows = list(csv.reader(io.StringIO(protocol.text)))
        assert ["face check per ballot", "match"] in rows
        record = (await http.get(f"/api/votes/{vote}")).json()
        assert record["face_check"] == "match" and record["result"]["counts"]["yes"] == 1

        # The trail: the enrolment, the sign-in checks, the refused ballots with distances.
        enrolled = await audit_rows(http, staff, "face_enrolled")
        assert [(r["outcome"], r["subject"]) for r in enrolled] == [("ok", f"deputy {d05}")]
        checks = await audit_rows(http, staff, "face_check")
        seen = {(r["subject"], r["outcome"], r["reason"]) for r in checks}
        assert ("sign_in", "ok", "") in seen
        assert ("sign_in", "refused", "face_mismatch") in seen
        assert ("sign_in", "refused", "liveness_failed") in seen
        assert (f"vote {vote}", "refused", "face_mismatch") in seen
        assert (f"vote {vote}", "refused", "no_face") in seen
        mismatch = next(r for r in checks if r["reason"] == "face_mismatch")
        assert mismatch["distance"] > 0.5 and mismatch["method"] == "face"

        # Re-enrol replaces, remove removes; both are in the trail.
        again = await enrol(http, staff, d05, "obama3.jpg")
        assert again.status_code == 201 and again.json()["samples"] == 1
        gone = await http.delete(f"/api/deputies/{d05}/face", headers=bearer(staff))
        assert gone.status_code == 204
        assert (
            await http.delete(f"/api/deputies/{d05}/face", headers=bearer(staff))
        ).status_code == 404
        assert len(await audit_rows(http, staff, "face_removed")) == 1
        assert set_rules(server, tmp_path).returncode == 0  # the demo's rules again


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels and holds almost nothing: decoding it
    would need gigabytes, so it must be refused from its header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


async def test_bad_faces_are_refused_with_a_code_and_change_nothing(
    face_server: Server, tmp_path: Path
) -> None:
    server = face_server
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        staff = server.token("secretary")
        token = server.token("deputy09")
        deputy = await deputy_of(http, token)

        async def refused(images: list[str], status: int, code: str, index: int | None) -> None:
            answer = await http.post(
                f"/api/deputies/{deputy}/face", json={"images": images}, headers=bearer(staff)
            )
            assert answer.status_code == status, answer.text
            error = answer.json()["error"]
            assert error["code"] == code and error.get("index") == index, error

        good = b64(photo("obama.jpg"))
        await refused([good, b64(b"GIF89a not a photo")], 422, "bad_image", 1)
        await refused([b64(photo("obama.jpg")[:5000])], 422, "bad_image", 0)  # truncated
        await refused([good, good, b64(png_header(10_000, 5_000))], 422, "image_too_large", 2)
        await refused([good, b64(photo("two_people.jpg"))], 422, "several_faces", 1)
        blank = io.BytesIO()
        from PIL import Image

        Image.new("RGB", (640, 480), (200, 180, 160)).save(blank, "PNG")
        await refused([b64(blank.getvalue())], 422, "no_face", 0)
        await refused([], 422, "invalid_body", None)
        await refused([good] * 6, 422, "invalid_body", None)
        await refused(["***"], 422, "bad_image", 0)
        # A deputy may not enrol, nor another council's secretary (the matrix has the rest).
        own = await http.post(
            f"/api/deputies/{deputy}/face", json={"images": [good]}, headers=bearer(token)
        )
        assert own.status_code == 403
        status = (await http.get(f"/api/deputies/{deputy}/face", headers=bearer(staff))).json()
        assert status["enrolled"] is False  # nothing refused was kept

        # Not enrolled, and a council that does not use Face ID at sign-in.
        asked = await http.post("/api/auth/face/challenge", json={}, headers=bearer(token))
        assert asked.status_code == 409 and asked.json()["error"]["code"] == "not_enrolled"
        assert (await enrol(http, staff, deputy, "obama.jpg")).status_code == 201
        off = await http.post("/api/auth/face/challenge", json={}, headers=bearer(token))
        assert off.status_code == 409 and off.json()["error"]["code"] == "face_signin_off"
        assert set_rules(server, tmp_path, face_signin="optional").returncode == 0

        async def challenge() -> dict[str, Any]:
            answer = await http.post("/api/auth/face/challenge", json={}, headers=bearer(token))
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        async def answer(value: str, frames: list[str]) -> httpx.Response:
            return await http.post(
                "/api/auth/face",
                json={"challenge": value, "frames": frames},
                headers=bearer(token),
            )

        asked_now = await challenge()
        k = asked_now["frames_per_action"]
        right = frames_b64(challenge_frames(asked_now["actions"], k))
        empty = await answer(asked_now["challenge"], [])
        assert empty.status_code == 422 and empty.json()["error"]["code"] == "invalid_body"
        # 500 frames (small ones: a body past the limit is cut off at 413 before it is read).
        flood = await answer(asked_now["challenge"], ["AAAA"] * 500)
        assert flood.status_code == 422 and flood.json()["error"]["code"] == "invalid_body"
        # The same frame over and over: a photo held up to the camera.
        photo_held = await answer(asked_now["challenge"], right[:1] * len(right))
        assert photo_held.status_code == 403, photo_held.text
        assert photo_held.json()["error"]["code"] == "liveness_failed"
        # That challenge is used now, even though it failed.
        replay = await answer(asked_now["challenge"], right)
        assert replay.status_code == 400 and replay.json()["error"]["code"] == "challenge_unknown"

        fresh = await challenge()
        frames = frames_b64(challenge_frames(fresh["actions"], fresh["frames_per_action"]))
        short = await answer(fresh["challenge"], frames[:-1])
        assert short.status_code == 422 and short.json()["error"]["code"] == "bad_frames"
        # Another deputy's sign-in cannot answer this deputy's challenge.
        foreign = await challenge()
        other = server.token("deputy10")
        stolen = await http.post(
            "/api/auth/face",
            json={"challenge": foreign["challenge"], "frames": frames},
            headers=bearer(other),
        )
        assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "challenge_unknown"
        two = await challenge()
        two_frames = frames_b64(challenge_frames(two["actions"], two["frames_per_action"]))
        crowd = jpeg(numpy.asarray(Image.open(io.BytesIO(photo("two_people.jpg"))).convert("RGB")))
        two_frames[3] = b64(crowd)
        several = await answer(two["challenge"], two_frames)
        assert several.status_code == 422, several.text
        assert several.json()["error"] == {
            **several.json()["error"],
            "code": "several_faces",
            "index": 3,
        }

        # Every refusal above was audited; none signed anyone in as face-verified.
        me = (await http.get("/api/me", headers=bearer(token))).json()
        assert me["face_verified"] is False
        reasons = [r["reason"] for r in await audit_rows(http, staff, "face_check")]
        assert {"liveness_failed", "bad_frames", "several_faces"} <= set(reasons)
        assert (
            await http.delete(f"/api/deputies/{deputy}/face", headers=bearer(staff))
        ).status_code == 204
        assert set_rules(server, tmp_path).returncode == 0


async def test_a_live_check_per_ballot_and_rules_that_change_while_a_vote_runs(
    live_server: Server, tmp_path: Path
) -> None:
    server = live_server  # a sitting of its own: the module's has had its vote
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        staff = server.token("secretary")
        token = server.token("deputy04")
        deputy = await deputy_of(http, token)
        assert (await enrol(http, staff, deputy, "obama.jpg", "obama2.jpg")).status_code == 201
        async with Chamber(server) as room:
            await room.start(present=18)
            me = await LiveClient.open(server.ws_url, token)
            await me.subscribe(S)
            # A vote opened under no face rule keeps it when the rule changes.
            first = (await ok(room.chair, "vote.open", question="Before", kind="simple"))["vote"]
            assert set_rules(server, tmp_path, face_check_per_ballot="live").returncode == 0
            needless = await cast(me, first, face=b64(jpeg(frontal_frame())))
            assert needless["error"]["code"] == "face_not_needed", needless
            assert (await cast(me, first))["type"] == "ack"
            await ok(room.chair, "vote.close", vote=first)

            vote = (await ok(room.chair, "vote.open", question="Live", kind="simple"))["vote"]
            # A frame alone is not enough for `live`; the challenge is for this vote only.
            frame_only = await cast(me, vote, face=b64(jpeg(frontal_frame())))
            assert frame_only["error"]["code"] == "face_check_required", frame_only
            wrong_vote = await http.post(
                "/api/auth/face/challenge", json={"vote": first}, headers=bearer(token)
            )
            assert wrong_vote.status_code == 409
            asked = await http.post(
                "/api/auth/face/challenge", json={"vote": vote}, headers=bearer(token)
            )
            assert asked.status_code == 200, asked.text
            challenge = asked.json()
            assert len(challenge["actions"]) == 1 and challenge["ttl"] == 30
            frames = frames_b64(
                challenge_frames(challenge["actions"], challenge["frames_per_action"])
            )
            counted = await cast(
                me, vote, face_challenge=challenge["challenge"], face_frames=frames
            )
            assert counted["type"] == "ack" and counted["result"]["counted"], counted
            replayed = await cast(
                me, vote, face_challenge=challenge["challenge"], face_frames=frames
            )
            assert replayed["error"]["code"] == "challenge_unknown", replayed
            # A photo held up at the tap: the same frame throughout fails the action.
            again = (
                await http.post(
                    "/api/auth/face/challenge", json={"vote": vote}, headers=bearer(token)
                )
            ).json()
            held = await cast(
                me,
                vote,
                face_challenge=again["challenge"],
                face_frames=frames[:1] * len(frames),
            )
            assert held["error"]["code"] == "liveness_failed", held
            await ok(room.chair, "vote.close", vote=vote)
            await me.close()
        record = (await http.get(f"/api/votes/{vote}")).json()
        assert record["face_check"] == "live" and record["result"]["counts"]["yes"] == 1
        assert (await http.get(f"/api/votes/{first}")).json()["face_check"] is None
        assert set_rules(server, tmp_path).returncode == 0
        await asyncio.sleep(0)


def test_council_rules_are_validated_and_printed(face_server: Server, tmp_path: Path) -> None:
    printed = kengash_rules(face_server)
    assert printed.returncode == 0, printed.stderr
    assert "face_check_per_ballot: false" in printed.stdout and "seats: 35" in printed.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("seats: 35\nface_signin: sometimes\n", encoding="utf-8")
    refused = kengash_rules(face_server, str(bad))
    assert refused.returncode == 2 and "face_signin" in refused.stderr
    bad.write_text("seats: [", encoding="utf-8")
    assert kengash_rules(face_server, str(bad)).returncode == 2
    bad.write_text("seats: 3\n", encoding="utf-8")  # below the roster's seats
    assert "seats" in kengash_rules(face_server, str(bad)).stderr
    older = tmp_path / "older.yaml"
    older.write_text("seats: 35\nface_check_per_ballot: true\n", encoding="utf-8")
    done = kengash_rules(face_server, str(older))
    assert done.returncode == 0 and "face_check_per_ballot: match" in done.stdout
    assert kengash_rules(face_server).stdout == done.stdout
    assert set_rules(face_server, tmp_path).returncode == 0
