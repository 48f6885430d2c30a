"""The event loop's CPU for one E-IMZO sign-in, measured directly: no viewers, no fan-out.

    .venv/bin/python bench/signin_cpu.py [--postgres] [--sign-ins 200] [--batches 5]
        [--deputies 20] [--profile]

The real server (as bench/fanout.py starts it, with bench/signin.py's second council and
test PKI, revocation off, the check in its worker process) takes `--batches` batches of
`--sign-ins` `POST /api/auth/eimzo` one after another from one client. The challenges of
a batch are fetched and signed (openssl) before it, so the batch's CPU is the sign-ins'
only. For each batch, the server's main thread's CPU time (utime + stime of
/proc/PID/task/PID/stat: the thread that runs the event loop; the signature worker is
another process; helper threads, such as ProcessPoolExecutor's, count in the process's
figure only) is read before and after, less what the same thread spends idle for as
long (measured right after), and divided by the sign-ins. Prints the median and range
over the batches of the loop's ms of CPU per sign-in, the whole process's, the wall
clock per sign-in (the batch's time over its sign-ins: the loop's waits count there, not
in its CPU), the loop thread's context switches per sign-in (it sleeps for each wait
for the interpreter lock), and each request's time (p50, p99).

`--profile` runs cProfile, on the main thread's CPU clock, in the server during the first
batch (a sitecustomize of this script's, put on the server's PYTHONPATH: no server file
changes) and prints the top functions by cumulative and own time (a coroutine's
cumulative time is counted once per resumption: read the plain functions'). A profiled
batch's figures are inflated by the profiler: compare them only with each other."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import cpu_seconds, start_real_server  # noqa: E402
from bench.signin import RESULTS, add_council, pinfl_of  # noqa: E402
from bench.stats import percentile  # noqa: E402
from tests.conftest import pg_database  # noqa: E402
from tests.pki import Identity, TestPKI  # noqa: E402


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """utime + stime of one thread of a process."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ticks(pid: int) -> tuple[float, float, float]:
    """(main thread, whole process) CPU seconds, and the main thread's context switches."""
    return thread_cpu_seconds(pid, pid), cpu_seconds(pid), thread_switches(pid, pid)


def thread_switches(pid: int, tid: int) -> float:
    """A thread's voluntary and involuntary context switches: the event loop's thread
    sleeps in epoll when idle, and also whenever it waits for the interpreter lock that
    another thread of the process holds (which its CPU time does not show)."""
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if "ctxt_switches" in line)
    return float(sum(int(v) for v in fields.values()))


async def signed(http: Any, pki: TestPKI, who: list[Identity], count: int) -> list[str]:
    """`count` challenges fetched from the server, each signed by the next deputy's key."""
    out = []
    for n in range(count):
        answer = await http.post("/api/auth/eimzo/challenge")
        answer.raise_for_status()
        der = await asyncio.to_thread(
            pki.sign, who[n % len(who)], answer.json()["challenge"].encode()
        )
        out.append(base64.b64encode(der).decode())
    return out


async def batch(http: Any, pkcs7s: list[str]) -> list[float]:
    """The sign-ins one after another; ms from sending each to its token."""
    times = []
    for pkcs7 in pkcs7s:
        sent = time.perf_counter()
        answer = await http.post("/api/auth/eimzo", json={"pkcs7": pkcs7})
        times.append((time.perf_counter() - sent) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"sign-in refused: {answer.text}")
    return times


# Loaded into the server process by --profile: SIGUSR2 starts cProfile on the main
# thread, timing with that thread's CPU clock (not the wall: waits are not the loop's
# work), the next SIGUSR2 stops it and writes the stats to $SIGNIN_CPU_PROFILE.
PROFILE_HOOK = """
import cProfile, os, signal, time
_profile = []
def _toggle(signum, frame):
    if _profile:
        _profile.pop().dump_stats(os.environ["SIGNIN_CPU_PROFILE"])
    else:
        _profile.append(cProfile.Profile(time.thread_time))
        _profile[0].enable()
signal.signal(signal.SIGUSR2, _toggle)
"""


def profile_summary(stats_file: Path, top: int = 40) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def main(args: argparse.Namespace) -> int:
    import httpx

    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kengash-signin-cpu-"))
    pki = await asyncio.to_thread(TestPKI.create, tmp / "pki")
    deputies = [
        await asyncio.to_thread(pki.issue, f"Deputat {n}", pinfl=pinfl_of(n), key="ec")
        for n in range(1, args.deputies + 1)
    ]
    env = {
        "KENGASH_EIMZO_TRUST_DIR": str(pki.trust_dir),
        "KENGASH_EIMZO_CHECK_REVOCATION": "0",
        "KENGASH_EIMZO_WORKERS": "1",
    }
    raw = RESULTS / f"signin-cpu-profile-{time.strftime('%Y%m%d-%H%M%S')}.pstats"
    if args.profile:
        hooks = tmp / "hooks"
        hooks.mkdir()
        (hooks / "sitecustomize.py").write_text(PROFILE_HOOK)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p
        )
        env["SIGNIN_CPU_PROFILE"] = str(raw)
    databases = ExitStack()
    url = None
    if args.postgres:
        url = await asyncio.to_thread(databases.enter_context, pg_database())
    server = await asyncio.to_thread(
        start_real_server, tmp, "", env, add_council(args.deputies), url
    )
    pid = server.pid
    loop_ms: list[float] = []
    process_ms: list[float] = []
    request_ms: list[float] = []
    wall_ms: list[float] = []
    switches: list[float] = []
    profiled = False
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", timeout=30
        ) as http:
            # The first sign-ins warm up the worker, the pools and the caches.
            await batch(http, await signed(http, pki, deputies, 10))
            for n in range(args.batches):
                pkcs7s = await signed(http, pki, deputies, args.sign_ins)
                if args.profile:
                    os.kill(pid, signal.SIGUSR2)
                started = time.monotonic()
                before = ticks(pid)
                times = await batch(http, pkcs7s)
                after = ticks(pid)
                if args.profile:
                    os.kill(pid, signal.SIGUSR2)
                    await asyncio.sleep(1.0)
                    # One batch's profile is enough; the others still measure.
                    args.profile = False
                    profiled = True
                wall = time.monotonic() - started
                # As long again with nothing sent: what the loop does anyway (timers,
                # the sign-in watch), to take off.
                idle_before = ticks(pid)
                await asyncio.sleep(wall)
                idle_after = ticks(pid)
                count = len(pkcs7s)
                loop = after[0] - before[0] - (idle_after[0] - idle_before[0])
                whole = after[1] - before[1] - (idle_after[1] - idle_before[1])
                loop_ms.append(loop * 1000 / count)
                process_ms.append(whole * 1000 / count)
                # The wall clock per sign-in (one after another): what the loop's waits
                # add, which its CPU time does not show.
                wall_ms.append(wall * 1000 / count)
                switches.append((after[2] - before[2] - (idle_after[2] - idle_before[2])) / count)
                request_ms += times
                print(
                    f"batch {n + 1}: {count} sign-ins in {wall:.2f} s, loop CPU "
                    f"{loop_ms[-1]:.2f} ms each (process {process_ms[-1]:.2f} ms)",
                    flush=True,
                )
    finally:
        server.stop()
        await asyncio.to_thread(databases.close)
    figures = {
        "database": "postgresql" if args.postgres else "sqlite",
        "sign_ins_per_batch": args.sign_ins,
        "batches": args.batches,
        "loop_cpu_ms_per_sign_in": {
            "median": statistics.median(loop_ms),
            "min": min(loop_ms),
            "max": max(loop_ms),
            "per_batch": loop_ms,
        },
        "process_cpu_ms_per_sign_in": {
            "median": statistics.median(process_ms),
            "per_batch": process_ms,
        },
        "loop_context_switches_per_sign_in": {
            "median": statistics.median(switches),
            "per_batch": switches,
        },
        "wall_ms_per_sign_in": {
            "median": statistics.median(wall_ms),
            "per_batch": wall_ms,
        },
        "request_ms": {
            "p50": percentile(request_ms, 0.50),
            "p99": percentile(request_ms, 0.99),
        },
    }
    out = RESULTS / f"signin-cpu-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"command": " ".join(sys.argv), **figures}, indent=2))
    c, r = figures["loop_cpu_ms_per_sign_in"], figures["request_ms"]
    print(
        f"{figures['database']}: event-loop CPU per E-IMZO sign-in {c['median']:.2f} ms "
        f"(batches {c['min']:.2f}–{c['max']:.2f}); process "
        f"{figures['process_cpu_ms_per_sign_in']['median']:.2f} ms; "
        f"wall {figures['wall_ms_per_sign_in']['median']:.2f} ms a sign-in; loop context "
        f"switches {figures['loop_context_switches_per_sign_in']['median']:.1f} a sign-in; "
        f"request p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms"
    )
    print(f"results: {out.relative_to(ROOT)}")
    if profiled and raw.exists():
        print(profile_summary(raw))
    return 0


def cli() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sign-ins", type=int, default=200, help="per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--deputies", type=int, default=20, help="certificates, reused")
    parser.add_argument("--postgres", action="store_true", help="on a fresh PostgreSQL database")
    parser.add_argument("--profile", action="store_true", help="py-spy the server meanwhile")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(cli())))
