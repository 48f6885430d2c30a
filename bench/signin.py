"""The start of a sitting: deputies sign in by E-IMZO while viewers follow the session.

    .venv/bin/python bench/signin.py [--deputies 100] [--viewers 1000] [--seconds 5]
        [--rounds 3] [--workers 1]

The real server (as bench/fanout.py starts it) checks signatures locally against a test
PKI made with openssl (tests/pki.py), revocation off. 1,000 viewer sockets in the client
processes follow session 1 while the chair changes the floor 20 times a second.
`--rounds` times, for `--seconds` each, in the same run:

  1. quiet: only the chair's events; the fan-out latency at every viewer (event `at` to
     arrival, as bench/fanout.py measures it);
  2. sign-ins: the same, while `--deputies` deputies of a second council sign in with
     `POST /api/auth/eimzo` at seeded random instants of the same seconds; each request
     timed from sending to the token. The challenges were fetched and signed (openssl)
     before the round: the deputy's device does that part, not the server.

The rounds alternate so that whatever else the machine does in those seconds falls on
both phases alike; one pair of 5-second phases on two shared cores varied from 0.4 to
3.7 in ratio (docs/performance.md). Prints sign-in p50 / p99 (target p99 <= 150 ms) and
the fan-out p99 of all quiet and all sign-in phases with their ratio (target <= 1.2:
checking signatures must not hold up the event loop), and each round's ratio."""

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
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import (  # noqa: E402
    SESSION,
    Clients,
    chair_connect,
    phase,
    raise_nofile,
    start_real_server,
    write_database,
)
from bench.stats import percentile  # noqa: E402
from tests.conftest import pg_database  # noqa: E402
from tests.pki import Identity, TestPKI  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def pinfl_of(n: int) -> str:
    return f"5{n:013d}"


def add_council(count: int) -> Any:
    """A second council with `count` deputies, each a user, carrying the PKI's PINFLs."""

    def prepare(url: str) -> None:
        from sqlalchemy import select
        from sqlalchemy.orm import Session as DbSession

        from session_server.council import RosterRow, get_or_create_council, import_roster
        from session_server.db import models
        from voting import CouncilRules

        def write(s: DbSession) -> None:
            rules = CouncilRules.model_validate({"seats": count})
            council = get_or_create_council(s, "Bench Kengashi", rules)
            rows = [
                RosterRow(full_name=f"Deputat {n}", pinfl=pinfl_of(n), seat=n)
                for n in range(1, count + 1)
            ]
            import_roster(s, council, rows)
            for d in s.scalars(select(models.Deputy).where(models.Deputy.council_id == council.id)):
                s.add(
                    models.User(
                        login=f"bench{d.seat_no}",
                        role="deputy",
                        full_name=d.full_name,
                        council_id=council.id,
                        deputy_id=d.id,
                    )
                )

        write_database(url, write)

    return prepare


async def signed_challenges(http: Any, pki: TestPKI, deputies: list[Identity]) -> list[str]:
    """One challenge per deputy, fetched from the server and signed by their key."""
    out = []
    for who in deputies:
        answer = await http.post("/api/auth/eimzo/challenge")
        answer.raise_for_status()
        challenge = answer.json()["challenge"]
        der = await asyncio.to_thread(pki.sign, who, challenge.encode())
        out.append(base64.b64encode(der).decode())
    return out


async def sign_ins(http: Any, pkcs7s: list[str], seconds: float, seed: int) -> list[float]:
    """Each signature sent at a random instant of `seconds`; ms from send to token."""
    rng = random.Random(seed)
    start = time.monotonic()
    times: list[float] = []

    async def one(pkcs7: str, at: float) -> None:
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        sent = time.perf_counter()
        answer = await http.post("/api/auth/eimzo", json={"pkcs7": pkcs7})
        elapsed = (time.perf_counter() - sent) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"sign-in refused: {answer.text}")
        times.append(elapsed)

    await asyncio.gather(*(one(p, rng.uniform(0, seconds)) for p in pkcs7s))
    return times


async def main(args: argparse.Namespace) -> int:
    import httpx

    raise_nofile()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kengash-signin-"))
    print(f"test PKI and {args.deputies} deputies' certificates ...", flush=True)
    pki = await asyncio.to_thread(TestPKI.create, tmp / "pki")
    deputies = [
        await asyncio.to_thread(pki.issue, f"Deputat {n}", pinfl=pinfl_of(n), key="ec")
        for n in range(1, args.deputies + 1)
    ]
    env = {
        "KENGASH_EIMZO_TRUST_DIR": str(pki.trust_dir),
        "KENGASH_EIMZO_CHECK_REVOCATION": "0",
        "KENGASH_EIMZO_WORKERS": str(args.workers),
    }
    databases = ExitStack()
    url = None
    if args.postgres:  # the production database: its commits do not hold the loop
        url = await asyncio.to_thread(databases.enter_context, pg_database())
    server = await asyncio.to_thread(
        start_real_server, tmp, "", env, add_council(args.deputies), url
    )
    clients = Clients(args.client_processes)
    try:
        chair = await chair_connect(server.port)
        assert chair.snapshot is not None
        item = chair.snapshot["agenda"]["items"][0]["id"]
        deputy = chair.snapshot["deputies"][1]["id"]
        await chair.must("session.open", {"session": SESSION})
        await chair.must("attendance.register", {"session": SESSION})
        await chair.must("agenda.start_item", {"session": SESSION, "item": item})
        conn = await clients.connect(f"ws://127.0.0.1:{server.port}/ws", args.viewers, 50, False)
        print(f"{conn['connected']} viewers following session {SESSION}", flush=True)
        quiet: list[float] = []
        busy: list[float] = []
        signin_ms: list[float] = []
        rounds: list[float] = []
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", timeout=30
        ) as http:

            async def nothing() -> list[float]:
                return []

            for n in range(args.rounds):
                pkcs7s = await signed_challenges(http, pki, deputies)
                calm, _ = await phase(
                    clients, chair, deputy, args.seconds, args.rate, conn["connected"], nothing()
                )
                loaded, times = await phase(
                    clients,
                    chair,
                    deputy,
                    args.seconds,
                    args.rate,
                    conn["connected"],
                    sign_ins(http, pkcs7s, args.seconds, args.seed + n),
                )
                quiet += calm
                busy += loaded
                signin_ms += times
                rounds.append(percentile(loaded, 0.99) / percentile(calm, 0.99))
                print(f"round {n + 1}: p99 ratio {rounds[-1]:.2f}", flush=True)
        await chair.ws.close()
    finally:
        clients.stop()
        server.stop()
        await asyncio.to_thread(databases.close)
    quiet_p99, busy_p99 = percentile(quiet, 0.99), percentile(busy, 0.99)
    figures = {
        "sign_in_ms": {
            "count": len(signin_ms),
            "p50": percentile(signin_ms, 0.50),
            "p99": percentile(signin_ms, 0.99),
            "max": max(signin_ms),
        },
        "fanout_ms": {
            "viewers": conn["connected"],
            "quiet": {"p50": percentile(quiet, 0.50), "p99": quiet_p99, "deliveries": len(quiet)},
            "with_sign_ins": {
                "p50": percentile(busy, 0.50),
                "p99": busy_p99,
                "deliveries": len(busy),
            },
            "p99_ratio": busy_p99 / quiet_p99,
            "p99_ratio_per_round": rounds,
        },
        "rounds": args.rounds,
        "deputies": args.deputies,
        "workers": args.workers,
        "seconds": args.seconds,
        "rate": args.rate,
    }
    out = RESULTS / f"signin-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"command": " ".join(sys.argv), **figures}, indent=2))
    s, f = figures["sign_in_ms"], figures["fanout_ms"]
    print(
        f"{s['count']} E-IMZO sign-ins, {args.deputies} in each of {args.rounds} rounds of "
        f"{args.seconds:g} s: p50 {s['p50']:.1f} ms, "
        f"p99 {s['p99']:.1f} ms (target p99 <= 150 ms)"
    )
    print(
        f"fan-out to {f['viewers']} viewers: p99 quiet {quiet_p99:.1f} ms, "
        f"with sign-ins {busy_p99:.1f} ms, ratio {f['p99_ratio']:.2f} (target <= 1.2)"
    )
    print(f"results: {out.relative_to(ROOT)}")
    return 0


def cli() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deputies", type=int, default=100)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="quiet and sign-in phases")
    parser.add_argument("--rate", type=float, default=20.0, help="chair events per second")
    parser.add_argument("--client-processes", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument("--seed", type=int, default=date.today().toordinal())
    parser.add_argument(
        "--workers", type=int, default=1, help="KENGASH_EIMZO_WORKERS (0: on a thread)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="on a fresh PostgreSQL database, not SQLite"
    )
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(cli())))
