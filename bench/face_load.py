"""Face ID at the start of a sitting: deputies answer the liveness challenge while viewers
follow the session.

    .venv/bin/python bench/face_load.py [--deputies 35] [--viewers 1000] [--seconds 60]
        [--rounds 2] [--workers 2]

Modelled on bench/signin.py. The real server (as bench/fanout.py starts it, a demo
database) with the demo council's reglament set to `face_signin: optional` before it
starts, and its two vacant seats filled, so that its 35 seats are 35 deputies (the
chair's login among them). `--workers` is KENGASH_FACE_WORKERS (below the server: SCHED_IDLE).
Every deputy's face is enrolled by the secretary (`POST /api/deputies/{id}/face`) from
the test photos obama.jpg and obama2.jpg: the same person for every deputy, which costs
the server the same as 35 different faces. The enrolments also start the face workers,
before anything is measured. 1,000 viewer sockets in the client processes follow session
1 while the chair changes the floor 20 times a second. `--rounds` times, for `--seconds`
each, in the same run:

  1. quiet: only the chair's events; the fan-out latency at every viewer (event `at` to
     arrival, as bench/fanout.py measures it);
  2. face sign-ins: the same, while each deputy (freshly signed in by the demo login) at
     a seeded random instant of the same seconds asks for a challenge (`POST
     /api/auth/face/challenge`) and answers it with the frames (`POST /api/auth/face`);
     each answer timed from sending the frames to the token, and it must be 200 with
     `face_verified: true`. The frames of every possible challenge (two or three actions
     of blink / turn_left / turn_right, never one twice in a row: 18 sequences) were
     made from the test photo (tests/faces.py) and JPEG-encoded once at the start; the
     deputy's device does that part, not the server.

Prints the face sign-in p50 / p95 (target p95 <= 5 s) and the fan-out p99 of all quiet
and all face phases with their ratio (target <= 1.2: the face checks must not hold up
the event loop), each round's ratio, and the CPU seconds of the server and of its face
workers in each phase kind. Writes bench/results/face-load-<timestamp>.json. Needs the
test photos in ../shared/faces."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import (  # noqa: E402
    SESSION,
    Clients,
    chair_connect,
    cpu_seconds,
    phase,
    raise_nofile,
    start_real_server,
    write_database,
)
from bench.stats import percentile  # noqa: E402
from biometrics.liveness import possible_challenges  # noqa: E402
from tests.conftest import SHARED  # noqa: E402

RESULTS = ROOT / "bench" / "results"
FACES = SHARED / "faces"
PHOTOS = ("obama.jpg", "obama2.jpg")
# The demo council: the chair (seat 1), deputy02 … deputy33, and seats 34 and 35 vacant.
DEMO_LAST_SEAT = 33
SEATS = 35


def logins(count: int) -> list[str]:
    """The demo logins of `count` deputies: deputy02 … deputy35, then the chair."""
    names = [f"deputy{seat:02d}" for seat in range(2, SEATS + 1)] + ["chair"]
    if count > len(names):
        raise SystemExit(f"the demo council has {len(names)} deputies; {count} asked for")
    return names[:count]


def face_council() -> Any:
    """Council 1 with `face_signin: optional` and its vacant seats filled."""

    def prepare(url: str) -> None:
        from sqlalchemy import select
        from sqlalchemy.orm import Session as DbSession

        from session_server.db import models
        from voting import CouncilRules

        def write(s: DbSession) -> None:
            council = s.get(models.Council, 1)
            assert council is not None
            rules = CouncilRules.model_validate({**council.rules, "face_signin": "optional"})
            council.rules = rules.model_dump(mode="json")
            seats = set(
                s.scalars(select(models.Deputy.seat_no).where(models.Deputy.council_id == 1))
            )
            for seat in range(DEMO_LAST_SEAT + 1, SEATS + 1):
                if seat in seats:
                    continue
                deputy = models.Deputy(
                    council_id=1, full_name=f"Deputat {seat}", pinfl=f"5{seat:013d}", seat_no=seat
                )
                s.add(deputy)
                s.flush()
                s.add(
                    models.User(
                        login=f"deputy{seat:02d}",
                        role="deputy",
                        full_name=deputy.full_name,
                        council_id=1,
                        deputy_id=deputy.id,
                    )
                )

        write_database(url, write)

    return prepare


def sequences() -> list[tuple[str, ...]]:
    """Every challenge the server may ask at sign-in: 2 or 3 actions, none twice in a row."""
    return [seq for n in (2, 3) for seq in possible_challenges(n)]


def all_frames(frames_per_action: int) -> dict[tuple[str, ...], list[str]]:
    """The base64 JPEG frames of every sequence, as the deputy's camera page sends them."""
    from tests.faces import challenge_frames, jpeg

    return {
        seq: [
            base64.b64encode(jpeg(f)).decode()
            for f in challenge_frames(seq, frames_per_action, PHOTOS[0])
        ]
        for seq in sequences()
    }


def worker_pids(server_pid: int) -> list[int]:
    """The server's child processes: its face workers."""
    pids: list[int] = []
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(c) for c in children]
    return pids


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(http: Any, login: str) -> dict[str, Any]:
    answer = await http.post("/api/auth/demo", json={"login": login})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


async def enrol_all(http: Any, deputies: list[int]) -> list[float]:
    """The secretary enrols every deputy from the test photos; ms per enrolment."""
    secretary = (await sign_in(http, "secretary"))["token"]
    images = [base64.b64encode((FACES / name).read_bytes()).decode() for name in PHOTOS]
    times = []
    for deputy in deputies:
        sent = time.perf_counter()
        answer = await http.post(
            f"/api/deputies/{deputy}/face", json={"images": images}, headers=auth(secretary)
        )
        times.append((time.perf_counter() - sent) * 1000)
        if answer.status_code != 201:
            raise RuntimeError(f"enrolment of deputy {deputy} refused: {answer.text}")
    return times


async def face_sign_ins(
    http: Any,
    tokens: list[str],
    frames: dict[tuple[str, ...], list[str]],
    frames_per_action: int,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    """Each deputy at a random instant of `seconds`: a challenge, then the frames of its
    actions; ms from sending the frames to the token, and any answer that was not a
    face-verified 200."""
    rng = random.Random(seed)
    start = time.monotonic()
    times: list[float] = []
    asks: list[float] = []
    failures: list[str] = []
    done_at: list[float] = []

    async def one(token: str, at: float) -> None:
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        sent = time.perf_counter()
        ask = await http.post("/api/auth/face/challenge", json={}, headers=auth(token))
        asks.append((time.perf_counter() - sent) * 1000)
        if ask.status_code != 200:
            failures.append(f"challenge {ask.status_code}: {ask.text[:200]}")
            return
        challenge = ask.json()
        if challenge["frames_per_action"] != frames_per_action:
            failures.append(f"challenge asks {challenge['frames_per_action']} frames per action")
            return
        body = {"challenge": challenge["challenge"], "frames": frames[tuple(challenge["actions"])]}
        sent = time.perf_counter()
        answer = await http.post("/api/auth/face", json=body, headers=auth(token))
        elapsed = (time.perf_counter() - sent) * 1000
        if answer.status_code != 200 or answer.json().get("face_verified") is not True:
            failures.append(f"face sign-in {answer.status_code}: {answer.text[:200]}")
            return
        times.append(elapsed)
        done_at.append(time.monotonic() - start)

    await asyncio.gather(*(one(t, rng.uniform(0, seconds)) for t in tokens))
    return {"times": times, "asks": asks, "failures": failures, "last_done_s": max(done_at)}


async def measured_phase(
    clients: Clients,
    chair: Any,
    deputy: int,
    args: argparse.Namespace,
    viewers: int,
    extra: Any,
    pids: tuple[int, list[int]],
) -> tuple[list[float], Any, tuple[float, float]]:
    """bench.fanout.phase, with the CPU seconds of the server and of its face workers
    meanwhile."""
    server0, workers0 = cpu_seconds(pids[0]), cpu_of(pids[1])
    latencies, result = await phase(clients, chair, deputy, args.seconds, args.rate, viewers, extra)
    cpu = (cpu_seconds(pids[0]) - server0, cpu_of(pids[1]) - workers0)
    return latencies, result, cpu


async def main(args: argparse.Namespace) -> int:
    import httpx

    from session_server.faceid.challenges import FRAMES_PER_ACTION

    missing = [name for name in PHOTOS if not (FACES / name).is_file()]
    if missing:
        print(f"the test photos {', '.join(missing)} are missing from {FACES}", file=sys.stderr)
        return 2
    names = logins(args.deputies)
    raise_nofile()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kengash-face-load-"))
    print(f"frames of the {len(sequences())} possible challenges ...", flush=True)
    made = time.monotonic()
    frames = await asyncio.to_thread(all_frames, FRAMES_PER_ACTION)
    kb = [len(f) * 3 / 4 / 1024 for seq in frames.values() for f in seq]
    print(
        f"  {time.monotonic() - made:.0f} s; JPEG frames {min(kb):.0f}-{max(kb):.0f} KB",
        flush=True,
    )
    env = {"KENGASH_FACE_WORKERS": str(args.workers)}
    server = await asyncio.to_thread(start_real_server, tmp, "", env, face_council())
    clients = Clients(args.client_processes)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", timeout=300
        ) as http:
            deputies = [(await sign_in(http, name))["user"]["deputy_id"] for name in names]
            print(f"enrolling {len(deputies)} deputies ...", flush=True)
            enrol_ms = await enrol_all(http, deputies)
            print(
                f"  enrolment p50 {percentile(enrol_ms, 0.5):.0f} ms "
                f"(the first, starting the workers, {enrol_ms[0]:.0f} ms)",
                flush=True,
            )
            pids = (server.pid, worker_pids(server.pid))
            print(
                f"{len(pids[1])} child process(es) of the server (the face workers): {pids[1]}",
                flush=True,
            )
            chair = await chair_connect(server.port)
            assert chair.snapshot is not None
            item = chair.snapshot["agenda"]["items"][0]["id"]
            deputy = chair.snapshot["deputies"][1]["id"]
            await chair.must("session.open", {"session": SESSION})
            await chair.must("attendance.register", {"session": SESSION})
            await chair.must("agenda.start_item", {"session": SESSION, "item": item})
            conn = await clients.connect(
                f"ws://127.0.0.1:{server.port}/ws", args.viewers, 50, False
            )
            print(f"{conn['connected']} viewers following session {SESSION}", flush=True)
            quiet: list[float] = []
            busy: list[float] = []
            face_ms: list[float] = []
            ask_ms: list[float] = []
            failures: list[str] = []
            rounds: list[dict[str, Any]] = []
            cpu = {"quiet": [0.0, 0.0], "face": [0.0, 0.0]}

            async def nothing() -> None:
                return None

            for n in range(args.rounds):
                tokens = [(await sign_in(http, name))["token"] for name in names]
                calm, _, c0 = await measured_phase(
                    clients, chair, deputy, args, conn["connected"], nothing(), pids
                )
                loaded, got, c1 = await measured_phase(
                    clients,
                    chair,
                    deputy,
                    args,
                    conn["connected"],
                    face_sign_ins(
                        http, tokens, frames, FRAMES_PER_ACTION, args.seconds, args.seed + n
                    ),
                    pids,
                )
                quiet += calm
                busy += loaded
                face_ms += got["times"]
                ask_ms += got["asks"]
                failures += got["failures"]
                for kind, c in (("quiet", c0), ("face", c1)):
                    cpu[kind] = [cpu[kind][0] + c[0], cpu[kind][1] + c[1]]
                ratio = percentile(loaded, 0.99) / percentile(calm, 0.99)
                rounds.append(
                    {
                        "p99_ratio": ratio,
                        "quiet_p99": percentile(calm, 0.99),
                        "face_p99": percentile(loaded, 0.99),
                        "face_sign_in_p95": percentile(got["times"], 0.95),
                        "last_sign_in_done_s": got["last_done_s"],
                        "cpu_s_quiet": {"server": c0[0], "workers": c0[1]},
                        "cpu_s_face": {"server": c1[0], "workers": c1[1]},
                    }
                )
                print(
                    f"round {n + 1}: p99 ratio {ratio:.2f} "
                    f"({percentile(calm, 0.99):.1f} -> {percentile(loaded, 0.99):.1f} ms); "
                    f"face sign-in p95 {percentile(got['times'], 0.95):.0f} ms, "
                    f"last done at {got['last_done_s']:.1f} s; "
                    f"cpu s server/workers quiet {c0[0]:.1f}/{c0[1]:.1f}, "
                    f"face {c1[0]:.1f}/{c1[1]:.1f}; {len(got['failures'])} failed",
                    flush=True,
                )
        await chair.ws.close()
    finally:
        clients.stop()
        server.stop()
    quiet_p99, busy_p99 = percentile(quiet, 0.99), percentile(busy, 0.99)
    figures = {
        "face_sign_in_ms": {
            "count": len(face_ms),
            "failed": len(failures),
            "failures": failures[:10],
            "p50": percentile(face_ms, 0.50),
            "p95": percentile(face_ms, 0.95),
            "max": max(face_ms, default=float("nan")),
        },
        "challenge_request_ms": {"p50": percentile(ask_ms, 0.50), "p95": percentile(ask_ms, 0.95)},
        "enrol_ms": {"p50": percentile(enrol_ms, 0.50), "first": enrol_ms[0]},
        "fanout_ms": {
            "viewers": conn["connected"],
            "quiet": {"p50": percentile(quiet, 0.50), "p99": quiet_p99, "deliveries": len(quiet)},
            "with_face_sign_ins": {
                "p50": percentile(busy, 0.50),
                "p99": busy_p99,
                "deliveries": len(busy),
            },
            "p99_ratio": busy_p99 / quiet_p99,
            "p99_ratio_per_round": [r["p99_ratio"] for r in rounds],
        },
        "cpu_seconds": {kind: {"server": c[0], "face_workers": c[1]} for kind, c in cpu.items()},
        "per_round": rounds,
        "rounds": args.rounds,
        "deputies": args.deputies,
        "workers": args.workers,
        "seconds": args.seconds,
        "rate": args.rate,
        "cpus": os.cpu_count(),
    }
    out = RESULTS / f"face-load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"command": " ".join(sys.argv), **figures}, indent=2))
    s, f = figures["face_sign_in_ms"], figures["fanout_ms"]
    print(
        f"{s['count']} Face ID sign-ins, {args.deputies} in each of {args.rounds} rounds of "
        f"{args.seconds:g} s ({args.workers} worker(s)): p50 {s['p50']:.0f} ms, "
        f"p95 {s['p95']:.0f} ms, max {s['max']:.0f} ms (target p95 <= 5000 ms); "
        f"{s['failed']} not a face-verified 200"
    )
    print(
        f"fan-out to {f['viewers']} viewers: p99 quiet {quiet_p99:.1f} ms, "
        f"with face sign-ins {busy_p99:.1f} ms, ratio {f['p99_ratio']:.2f} (target <= 1.2); "
        f"per round {', '.join(f'{r:.2f}' for r in f['p99_ratio_per_round'])}"
    )
    for failure in failures[:5]:
        print(f"  failed: {failure}")
    print(f"results: {out.relative_to(ROOT)}")
    return 1 if failures else 0


def cli() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deputies", type=int, default=35)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="length of each quiet and face phase"
    )
    parser.add_argument("--rounds", type=int, default=2, help="quiet and face phases")
    parser.add_argument("--rate", type=float, default=20.0, help="chair events per second")
    parser.add_argument("--client-processes", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument("--seed", type=int, default=date.today().toordinal())
    parser.add_argument("--workers", type=int, default=2, help="KENGASH_FACE_WORKERS")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(cli())))
