"""Voting benchmark: cast-to-ack when 500 deputies vote within the same second, and
close-to-result when a vote with 2,000 eligible voters is closed.

    .venv/bin/python bench/voting.py --casters 500 --eligible 2000

A council of `--eligible` seats is written straight into a fresh database: a SQLite file
by default, or with `--postgres URL` a database the benchmark creates on that PostgreSQL
server (URL names any database there to connect to) and drops at the end. The real
server runs in a subprocess, and the deputies'
sockets live in separate client processes. Tokens are signed with the server's test key
so that thousands of sign-ins do not dominate the set-up.

1. cast-to-ack: all deputies register; the chair opens a named vote; `--casters` deputies
   wait for one common instant and cast; each measures from sending to its ack.
2. close-to-result: the remaining eligible deputies cast too, then the chair closes; each
   of the `--eligible` sockets (and the chair) measures from the moment the chair sent
   `vote.close` (shared clock) to its `vote.closed` frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402

SECRET = "bench-secret-key"
SESSION = 1


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def prepare(url: str, seats: int) -> None:
    """A council with `seats` deputies, all with logins, and one scheduled session."""

    async def run() -> None:
        from sqlalchemy import select
        from sqlalchemy.orm import Session as DbSession

        from session_server.council import (
            RosterRow,
            get_or_create_council,
            import_roster,
            schedule_session,
        )
        from session_server.db import models
        from session_server.db.engine import Database
        from session_server.db.migrate import upgrade
        from voting import CouncilRules

        db = Database(url)
        await upgrade(db.engine)

        def write(s: DbSession) -> None:
            rules = CouncilRules.model_validate(
                {"seats": seats, "ballot_changes_until_close": False, "timer_seconds": None}
            )
            council = get_or_create_council(s, "Bench Kengashi", rules)
            rows = [
                RosterRow(full_name=f"Deputat {n}", pinfl=f"3{n:013d}", seat=n)
                for n in range(1, seats + 1)
            ]
            import_roster(s, council, rows)
            deputies = s.scalars(select(models.Deputy).order_by(models.Deputy.seat_no))
            for i, d in enumerate(deputies):
                s.add(
                    models.User(
                        login="chair" if i == 0 else f"d{d.seat_no}",
                        role="chair" if i == 0 else "deputy",
                        full_name=d.full_name,
                        council_id=council.id,
                        deputy_id=d.id,
                    )
                )
            schedule_session(s, council, "Bench", date.today(), [("Item", "")])
            s.flush()
            # Every token names its sign-in record; the bench makes one per user.
            now = datetime.now(UTC)
            for user in s.scalars(select(models.User)):
                s.add(
                    models.SignIn(
                        id=sign_in_of(user.id),
                        user_id=user.id,
                        method="demo",
                        started_at=now,
                        expires_at=now + timedelta(hours=1),
                    )
                )

        await db.transact(write)
        await db.dispose()

    asyncio.run(run())


def sign_in_of(user_id: int) -> str:
    return f"bench-{user_id}"


def token(user_id: int, deputy_id: int, role: str) -> str:
    from session_server.auth.tokens import Actor, TokenIssuer

    return TokenIssuer(SECRET, 3600).issue(
        Actor(
            role=role,  # type: ignore[arg-type]
            user_id=user_id,
            council_id=1,
            deputy_id=deputy_id,
            sign_in=sign_in_of(user_id),
            method="demo",
        )
    )


async def _client(ws_url: str, seats: list[int], pipe: Pipe) -> None:
    from websockets.asyncio.client import connect

    async def command(ws: Any, cid: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        await ws.send(json.dumps({"type": "cmd", "id": cid, "cmd": name, "args": args}))
        # Only the answer is parsed: 2,000 sockets share these processes and their cores
        # with the server, and the progress frames meanwhile are not what is measured.
        mark = f'"id":"{cid}"'
        while True:
            text = await ws.recv()
            if mark in text:
                return json.loads(text)  # type: ignore[no-any-return]

    # Register first, subscribe after: thousands of attendance events need not go to
    # thousands of sockets during the set-up.
    socks = []
    for seat in seats:
        ws = await connect(f"{ws_url}?token={token(seat, seat, 'deputy')}", max_queue=None)
        answer = await command(ws, f"reg{seat}", "attendance.register", {"session": SESSION})
        assert answer["type"] == "ack", answer
        socks.append((seat, ws))
    for _, ws in socks:
        await ws.send(json.dumps({"type": "subscribe", "session": SESSION, "since": None}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
    pipe.send("registered")
    loop = asyncio.get_running_loop()
    while True:
        order = await loop.run_in_executor(None, pipe.recv)
        if order[0] == "cast":
            _, vote, at, spread = order
            chosen = [(s, w) for s, w in socks if s in spread]

            async def timed(
                seat: int, ws: Any, vote: int = vote, at: float = at, spread: Any = spread
            ) -> float:
                # Each deputy taps at its own instant within the same second.
                await asyncio.sleep(max(0.0, at + spread[seat] - time.time()))
                t0 = time.perf_counter()
                a = await command(
                    ws,
                    f"cast{seat}",
                    "vote.cast",
                    {"session": SESSION, "vote": vote, "choice": "yes" if seat % 3 else "no"},
                )
                assert a["type"] == "ack", a
                return (time.perf_counter() - t0) * 1000

            pipe.send(await asyncio.gather(*(timed(s, w) for s, w in chosen)))
        elif order[0] == "await_close":

            async def closed(ws: Any) -> float:
                # Time the arrival, not this process's JSON parsing of a large frame: the
                # clients share two cores with the server.
                while True:
                    text = await ws.recv()
                    if '"kind":"vote.closed"' in text[:200]:
                        return time.time()

            pipe.send(await asyncio.gather(*(closed(w) for _, w in socks)))
        else:
            for _, ws in socks:
                await ws.close()
            return


def client_process(ws_url: str, seats: list[int], pipe: Pipe) -> None:
    # The tablets stand in for 2,000 devices of their own, yet share the server's two
    # cores here: they yield to it, so that the figures are the server's, not the cores'.
    os.nice(10)
    asyncio.run(_client(ws_url, seats, pipe))


async def chair(ws_url: str) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(f"{ws_url}?token={token(1, 1, 'chair')}", max_queue=None)
    return ws


async def chair_command(ws: Any, name: str, **args: Any) -> dict[str, Any]:
    cid = f"chair-{name}-{time.monotonic_ns()}"
    await ws.send(
        json.dumps({"type": "cmd", "id": cid, "cmd": name, "args": {"session": SESSION, **args}})
    )
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("id") == cid:
            assert frame["type"] == "ack", frame
            return frame["result"]  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--casters", type=int, default=500)
    parser.add_argument("--eligible", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--port", type=int, default=8765)
    a = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    tmp = Path(tempfile.mkdtemp(prefix="kengash-bench-"))
    with fresh_database(a.postgres, tmp) as url:
        run(a, url, tmp)


@contextmanager
def fresh_database(postgres: str | None, tmp: Path) -> Iterator[str]:
    """A SQLite file in `tmp`, or a new database on the `postgres` server, dropped after."""
    if postgres is None:
        yield f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        return
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"kengash_bench_{os.getpid()}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(postgres, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(a: argparse.Namespace, url: str, tmp: Path) -> None:
    prepare(url, a.eligible)
    say(f"database ready: {a.eligible} seats")
    env = {
        **os.environ,
        "KENGASH_DATABASE_URL": url,
        "KENGASH_SECRET_KEY": SECRET,
        "KENGASH_LOG_LEVEL": "WARNING",
        "KENGASH_PORT": str(a.port),
        "KENGASH_VAR_DIR": str(tmp),
        # Thousands of sockets from one address: no flood limit for the bench clients,
        # and a cap per address above their number.
        "KENGASH_WS_RATE_PER_SECOND": "1000",
        "KENGASH_WS_MAX_PER_ADDRESS": str(a.eligible + 100),
    }
    server = subprocess.Popen([sys.executable, "-m", "session_server", "serve"], env=env, cwd=ROOT)
    procs = []
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{a.port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        ws_url = f"ws://127.0.0.1:{a.port}/ws"
        seats = list(range(2, a.eligible + 1))
        pipes = []
        for i in range(a.processes):
            mine, theirs = mp.Pipe()
            p = mp.Process(target=client_process, args=(ws_url, seats[i :: a.processes], theirs))
            p.start()
            procs.append(p)
            pipes.append(mine)

        async def gather_replies() -> list[Any]:
            # Off the event loop: the chair's socket must keep answering pings meanwhile.
            loop = asyncio.get_running_loop()
            return [await loop.run_in_executor(None, p.recv) for p in pipes]

        async def drive() -> dict[str, Any]:
            ws = await chair(ws_url)
            await chair_command(ws, "session.open")
            await chair_command(ws, "agenda.start_item", item=1)
            await chair_command(ws, "attendance.register")
            assert await gather_replies() == ["registered"] * len(pipes)
            say(f"{a.eligible - 1} deputies registered and subscribed")
            vote = (await chair_command(ws, "vote.open", question="Bench", kind="simple"))["vote"]
            # The casters tap at random instants of one second (seeded: runs compare).
            rng = random.Random(7)
            casters = {seat: rng.random() for seat in seats[: a.casters]}
            at = time.time() + 1.0
            for p in pipes:
                p.send(("cast", vote, at, casters))
            acks = [x for reply in await gather_replies() for x in reply]
            say(f"{len(acks)} casts acknowledged")
            rest = {seat: rng.random() * 2 for seat in seats[a.casters :]}
            for p in pipes:
                p.send(("cast", vote, time.time(), rest))
            await gather_replies()
            for p in pipes:
                p.send(("await_close",))
            await asyncio.sleep(0.5)
            sent = time.time()
            await chair_command(ws, "vote.close", vote=vote)
            arrivals = [x for reply in await gather_replies() for x in reply]
            await ws.close()
            return {
                "cast_to_ack_ms": {
                    "n": len(acks),
                    "p50": percentile(acks, 0.50),
                    "p99": percentile(acks, 0.99),
                    "max": max(acks),
                },
                "close_to_result_ms": {
                    "subscribers": len(arrivals),
                    "p50": percentile([(t - sent) * 1000 for t in arrivals], 0.50),
                    "all_delivered": (max(arrivals) - sent) * 1000,
                },
            }

        result = asyncio.run(drive())
        for pipe in pipes:
            pipe.send(("stop",))
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
        server.terminate()
        server.wait(10)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    result.update(casters=a.casters, eligible=a.eligible, database=backend)
    print(json.dumps(result, indent=2))
    c, r = result["cast_to_ack_ms"], result["close_to_result_ms"]
    print(
        f"\n{backend}: {a.casters} casts in one second: cast-to-ack p50 {c['p50']:.1f} ms, "
        f"p99 {c['p99']:.1f} ms (target p99 <= 20 ms)\n"
        f"{a.eligible} eligible: close-to-result p50 {r['p50']:.1f} ms, at every subscriber "
        f"{r['all_delivered']:.1f} ms (target <= 200 ms; OpenSlides: ~4 s at 2,000)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"voting-{backend}-{int(time.time())}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
