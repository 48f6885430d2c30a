"""Event fan-out benchmark: commit-to-delivery latency at N viewer sockets, against the
bare `websockets.broadcast` reference measured in the same run.

    .venv/bin/python bench/fanout.py --viewers 1000 5000 --seconds 20

For each N:
  1. a fresh SQLite demo database (migrate + seed, as tests/conftest.py does) and the real
     server (`python -m session_server serve`, KENGASH_LOG_LEVEL=WARNING) in a subprocess;
  2. the chair signs in, opens session 1, registers, takes up the first agenda item;
  3. N anonymous viewer sockets, spread over the client processes, subscribe to session 1;
     the server's RSS (VmRSS) before and after gives KB per idle socket;
  4. the chair alternates speaker.grant / speaker.end at --rate commands per second for
     --seconds (one event each); every client timestamps each event frame on arrival:
     latency = arrival (time.time()) - event.at (server UTC, same machine clock);
  5. the same client processes open N sockets to bench/bare_server.py (websockets asyncio
     server + websockets.broadcast), which sends the very frames captured in step 4, at
     the same rate, each stamped with its own send time; same figures.

Results: a table on stdout and JSON under bench/results/. Loopback only; every process
started here is ended here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SESSION = 1
EVENT_PREFIX = b'{"type":"event"'
AT_KEY = b'"at":"'


# -- helpers ----------------------------------------------------------------------------


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_at(frame: bytes) -> float | None:
    i = frame.find(AT_KEY)
    if i < 0:
        return None
    i += len(AT_KEY)
    j = frame.find(b'"', i)
    return datetime.fromisoformat(frame[i:j].decode()).timestamp()


# -- viewer client processes -------------------------------------------------------------


class Viewers:
    """The sockets of one client process and what they received."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.latencies = array("d")
        self.arrivals = array("d")
        self.received = 0
        self.errors: list[str] = []
        self.samples: list[str] = []
        self.keep_samples = False

    async def connect(
        self, url: str, count: int, concurrency: int, deflate: bool = True
    ) -> dict[str, Any]:
        import websockets

        gate = asyncio.Semaphore(concurrency)
        subscribe = json.dumps({"type": "subscribe", "session": SESSION, "since": None})

        async def one() -> None:
            async with gate:
                for attempt in range(5):
                    try:
                        ws = await websockets.connect(
                            url,
                            open_timeout=120,
                            ping_interval=None,
                            max_size=None,
                            compression="deflate" if deflate else None,
                        )
                        break
                    except (TimeoutError, OSError, websockets.InvalidHandshake) as exc:
                        if attempt == 4:
                            self.errors.append(f"connect: {exc!r}")
                            return
                        await asyncio.sleep(0.2 * (attempt + 1))
                await ws.send(subscribe)
                while True:  # a snapshot (real server), then "subscribed"
                    frame = await ws.recv(decode=False)
                    if frame.startswith(b'{"type":"subscribed"'):
                        break
                self.sockets.append(ws)
                self.tasks.append(asyncio.create_task(self.read(ws)))

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(count)), return_exceptions=False)
        return {
            "connected": len(self.sockets),
            "errors": self.errors[:5],
            "seconds": time.monotonic() - started,
        }

    async def read(self, ws: Any) -> None:
        lat, arr = self.latencies, self.arrivals
        try:
            while True:
                frame = await ws.recv(decode=False)
                now = time.time()
                if frame.startswith(EVENT_PREFIX):
                    at = parse_at(frame)
                    if at is None:
                        continue
                    lat.append(now - at)
                    arr.append(now)
                    self.received += 1
                    if self.keep_samples and len(self.samples) < 64:
                        self.samples.append(frame.decode())
        except Exception:  # closed: that's the end of this socket's record
            return

    def reset(self) -> None:
        # In place: the reader tasks hold these arrays.
        del self.latencies[:]
        del self.arrivals[:]
        self.received = 0
        self.samples.clear()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        self.sockets, self.tasks = [], []


async def _worker_main(pipe: Pipe, index: int) -> None:
    loop = asyncio.get_running_loop()
    viewers = Viewers()
    while True:
        cmd, arg = await loop.run_in_executor(None, pipe.recv)
        if cmd == "connect":
            viewers.keep_samples = index == 0
            result: Any = await viewers.connect(**arg)
        elif cmd == "reset":
            viewers.reset()
            result = "ok"
        elif cmd == "count":
            result = viewers.received
        elif cmd == "cpu":
            result = time.process_time()
        elif cmd == "collect":
            result = {
                "latencies": viewers.latencies.tobytes(),
                "arrivals": viewers.arrivals.tobytes(),
                "samples": viewers.samples,
                "sockets": len(viewers.sockets),
            }
        elif cmd == "close":
            await viewers.close()
            viewers.reset()
            result = "ok"
        elif cmd == "exit":
            pipe.send("bye")
            return
        else:
            result = f"unknown {cmd}"
        pipe.send(result)


def worker(pipe: Pipe, index: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us
    raise_nofile()
    try:
        import uvloop

        uvloop.run(_worker_main(pipe, index))
    except ImportError:
        asyncio.run(_worker_main(pipe, index))


class Clients:
    def __init__(self, processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.procs: list[mp.process.BaseProcess] = []
        for i in range(processes):
            here, there = ctx.Pipe()
            p = ctx.Process(target=worker, args=(there, i), daemon=True, name=f"viewers-{i}")
            p.start()
            self.pipes.append(here)
            self.procs.append(p)

    async def call(self, cmd: str, args: list[Any] | Any = None, wait: float = 300) -> list[Any]:
        loop = asyncio.get_running_loop()
        per = args if isinstance(args, list) else [args] * len(self.pipes)
        for pipe, a in zip(self.pipes, per, strict=True):
            pipe.send((cmd, a))

        def recv(pipe: Pipe) -> Any:
            if not pipe.poll(wait):
                raise TimeoutError(f"client process did not answer {cmd!r} in {wait}s")
            return pipe.recv()

        return list(
            await asyncio.gather(*(loop.run_in_executor(None, recv, p) for p in self.pipes))
        )

    async def connect(
        self, url: str, total: int, concurrency: int, deflate: bool
    ) -> dict[str, Any]:
        n = len(self.pipes)
        shares = [total // n + (1 if i < total % n else 0) for i in range(n)]
        answers = await self.call(
            "connect",
            [
                {"url": url, "count": s, "concurrency": concurrency, "deflate": deflate}
                for s in shares
            ],
        )
        return {
            "connected": sum(a["connected"] for a in answers),
            "errors": [e for a in answers for e in a["errors"]][:5],
            "seconds": max(a["seconds"] for a in answers),
        }

    async def cpu(self) -> float:
        return float(sum(await self.call("cpu", wait=60)))

    async def received(self) -> int:
        return sum(await self.call("count", wait=60))

    async def collect(self) -> tuple[list[float], list[float], list[str]]:
        lat: list[float] = []
        arr: list[float] = []
        samples: list[str] = []
        for a in await self.call("collect", wait=120):
            x = array("d")
            x.frombytes(a["latencies"])
            lat.extend(x)
            y = array("d")
            y.frombytes(a["arrivals"])
            arr.extend(y)
            samples.extend(a["samples"])
        return lat, arr, samples

    def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("exit", None))
            except OSError:
                pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)


# -- the real server ----------------------------------------------------------------------


@dataclass
class Process:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def write_database(url: str, write: Callable[[Any], object], migrate: bool = False) -> None:
    """`write(session)` in one transaction on the database at `url` (migrated first, if
    asked), before the server starts."""
    sys.path.insert(0, str(ROOT))
    from session_server.db.engine import Database
    from session_server.db.migrate import upgrade

    async def go() -> None:
        database = Database(url)
        if migrate:
            await upgrade(database.engine)
        await database.transact(write)
        await database.dispose()

    asyncio.run(go())


def prepare_database(url: str) -> None:
    from session_server import demo

    write_database(url, lambda session: demo.seed(session, date.today()), migrate=True)


async def phase(
    clients: Clients, chair: Any, deputy: int, seconds: float, rate: float, viewers: int, extra: Any
) -> tuple[list[float], Any]:
    """Drive the chair's events for `seconds` at `rate` (with `extra` alongside); the
    fan-out latencies (ms) at every viewer, and what `extra` gave."""
    await clients.call("reset")
    drove, result = await asyncio.gather(drive(chair, deputy, rate, int(seconds * rate)), extra)
    await wait_drained(clients, drove["acked"] * viewers, 30)
    latencies, _, _ = await clients.collect()
    return [x * 1000 for x in latencies], result


def start_real_server(
    tmp: Path,
    experiment: str = "",
    env_extra: dict[str, str] | None = None,
    prepare: Callable[[str], None] | None = None,
    database_url: str | None = None,
) -> Process:
    """The server on a fresh demo database (SQLite in `tmp`, or the empty database at
    `database_url`); `prepare(url)` may add to it first (the sign-in benchmark's
    council), `env_extra` to its settings."""
    import httpx

    url = database_url or f"sqlite+aiosqlite:///{tmp / 'kengash.db'}"
    prepare_database(url)
    if prepare is not None:
        prepare(url)
    port = free_port()
    env = {
        **os.environ,
        "KENGASH_DATABASE_URL": url,
        "KENGASH_DEMO": "1",
        "KENGASH_VAR_DIR": str(tmp),
        "KENGASH_SECRET_KEY": "bench-secret-key",
        "KENGASH_LOG_LEVEL": "WARNING",
        "KENGASH_HOST": "127.0.0.1",
        "KENGASH_PORT": str(port),
        # Every viewer comes from 127.0.0.1: a cap per address above the largest run.
        "KENGASH_WS_MAX_PER_ADDRESS": "100000",
        **(env_extra or {}),
    }
    if experiment:
        # bench/hooks/sitecustomize.py patches this process only; no server file changes.
        hooks = str(ROOT / "bench" / "hooks")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (hooks, env.get("PYTHONPATH")) if p)
        env["FANOUT_EXPERIMENT"] = experiment
        env["FANOUT_GCSTATS"] = str(tmp / "gcstats.json")
    log = tmp / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "session_server", "serve"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return Process(process, port, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become ready: {log.read_text()[-2000:]}")


def start_bare_server(tmp: Path) -> Process:
    port = free_port()
    log = tmp / "bare.log"
    out = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port)],
        stdout=subprocess.PIPE,
        stderr=out,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if b"ready" not in line:
        process.kill()
        raise RuntimeError(f"bare server did not start: {log.read_text()[-2000:]}")
    return Process(process, port, log)


class Chair:
    """The chair's socket: sends commands, collects acks and nacks by id."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.snapshot: dict[str, Any] | None = None
        self.subscribed = asyncio.Event()
        self.sending: set[asyncio.Future[None]] = set()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            kind = message.get("type")
            if kind in ("ack", "nack") and message.get("id") in self.answers:
                self.answers.pop(message["id"]).set_result(message)
            elif kind == "snapshot":
                self.snapshot = message["state"]
            elif kind == "subscribed":
                self.subscribed.set()

    def send(self, cmd: str, args: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        cid = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self.answers[cid] = future
        task = asyncio.ensure_future(
            self.ws.send(json.dumps({"type": "cmd", "id": cid, "cmd": cmd, "args": args}))
        )
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)
        return future

    async def must(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        answer = await asyncio.wait_for(self.send(cmd, args), 30)
        if answer["type"] != "ack":
            raise RuntimeError(f"{cmd} refused: {answer}")
        return answer


async def chair_connect(port: int) -> Chair:
    import httpx
    import websockets

    async with httpx.AsyncClient() as http:
        r = await http.post(f"http://127.0.0.1:{port}/api/auth/demo", json={"login": "chair"})
        r.raise_for_status()
        token = r.json()["token"]
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", max_size=None)
    chair = Chair(ws)
    await ws.send(json.dumps({"type": "subscribe", "session": SESSION, "since": None}))
    await asyncio.wait_for(chair.subscribed.wait(), 30)
    return chair


async def drive(chair: Chair, deputy: int, rate: float, count: int) -> dict[str, Any]:
    """speaker.grant / speaker.end alternately, on a fixed schedule (not waiting for acks)."""
    pending: list[asyncio.Future[dict[str, Any]]] = []
    start = time.monotonic()
    for k in range(count):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if k % 2 == 0:
            fut = chair.send("speaker.grant", {"session": SESSION, "deputy": deputy, "seconds": 60})
        else:
            fut = chair.send("speaker.end", {"session": SESSION})
        pending.append(fut)
    acks, refused = 0, []
    for fut in pending:
        try:
            answer = await asyncio.wait_for(fut, 60)
        except TimeoutError:
            refused.append("timeout")
            continue
        if answer["type"] == "ack":
            acks += 1
        else:
            refused.append(answer["error"]["code"])
    return {
        "sent": count,
        "acked": acks,
        "refused": refused[:5],
        "seconds": time.monotonic() - start,
    }


# -- one measurement ----------------------------------------------------------------------


@dataclass
class Figures:
    target: str
    viewers: int
    connected: int
    events: int
    expected: int
    delivered: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    delivery_rate_per_s: float
    delivered_fraction: float
    rss_before_kb: int
    rss_idle_kb: int
    kb_per_idle_socket: float
    cpu_seconds_during_run: float
    connect_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def figures(
    target: str,
    viewers: int,
    connected: int,
    events: int,
    first_send: float,
    lat: list[float],
    arr: list[float],
    rss_before: int,
    rss_idle: int,
    cpu: float,
    connect_seconds: float,
    extra: dict[str, Any],
) -> Figures:
    lat_sorted = sorted(lat)
    expected = events * connected
    # Per event (grouped by its `at`): how its deliveries spread, to tell a steady tail
    # from a few stalls.
    by_event: dict[float, list[float]] = {}
    for latency, arrival in zip(lat, arr, strict=True):
        by_event.setdefault(round(arrival - latency, 3), []).append(latency)
    per_event = []
    for at in sorted(by_event):
        xs = sorted(by_event[at])
        per_event.append(
            {
                "t": round(at - first_send, 3),
                "n": len(xs),
                "first_ms": round(xs[0] * 1000, 1),
                "p50_ms": round(percentile(xs, 0.5) * 1000, 1),
                "last_ms": round(xs[-1] * 1000, 1),
            }
        )
    extra = {**extra, "per_event": per_event}
    span = (max(arr) - first_send) if arr else float("nan")
    return Figures(
        target=target,
        viewers=viewers,
        connected=connected,
        events=events,
        expected=expected,
        delivered=len(lat),
        p50_ms=percentile(lat_sorted, 0.50) * 1000,
        p90_ms=percentile(lat_sorted, 0.90) * 1000,
        p99_ms=percentile(lat_sorted, 0.99) * 1000,
        max_ms=(lat_sorted[-1] * 1000) if lat_sorted else float("nan"),
        delivery_rate_per_s=len(lat) / span if arr else 0.0,
        delivered_fraction=len(lat) / expected if expected else 0.0,
        rss_before_kb=rss_before,
        rss_idle_kb=rss_idle,
        kb_per_idle_socket=(rss_idle - rss_before) / max(connected, 1),
        cpu_seconds_during_run=cpu,
        connect_seconds=connect_seconds,
        extra=extra,
    )


async def wait_drained(clients: Clients, expected: int, grace: float) -> int:
    deadline = time.monotonic() + grace
    last, still = -1, time.monotonic()
    while True:
        got = await clients.received()
        if got >= expected or time.monotonic() > deadline:
            return got
        if got != last:
            last, still = got, time.monotonic()
        elif time.monotonic() - still > 5:  # nothing new for 5 s: the rest is lost
            return got
        await asyncio.sleep(0.25)


async def settle_rss(pid: int) -> int:
    await asyncio.sleep(1.0)
    return rss_kb(pid)


async def measure_real(
    clients: Clients, n: int, args: argparse.Namespace, tmp: Path
) -> tuple[Figures, list[str]]:
    server = await asyncio.to_thread(start_real_server, tmp, args.experiment)
    try:
        chair = await chair_connect(server.port)
        assert chair.snapshot is not None
        item = chair.snapshot["agenda"]["items"][0]["id"]
        deputy = chair.snapshot["deputies"][1]["id"]
        await chair.must("session.open", {"session": SESSION})
        await chair.must(
            "attendance.register", {"session": SESSION, "present": True, "mode": "chamber"}
        )
        await chair.must("agenda.start_item", {"session": SESSION, "item": item})

        rss_before = await settle_rss(server.pid)
        conn = await clients.connect(
            f"ws://127.0.0.1:{server.port}/ws", n, args.concurrency, not args.no_deflate
        )
        if conn["connected"] < n:
            print(f"  real: only {conn['connected']}/{n} connected: {conn['errors']}", flush=True)
        rss_idle = await settle_rss(server.pid)
        await clients.call("reset")

        count = int(args.seconds * args.rate)
        gc0 = await gc_snapshot(server.pid, tmp) if "gcstats" in args.experiment else None
        spy = start_profiler(server.pid, n, args) if args.profile else None
        load0 = os.getloadavg()[0]
        cpu0 = cpu_seconds(server.pid)
        ccpu0 = await clients.cpu()
        first_send = time.time()
        drove = await drive(chair, deputy, args.rate, count)
        events = drove["acked"]
        got = await wait_drained(clients, events * conn["connected"], args.drain)
        cpu = cpu_seconds(server.pid) - cpu0
        ccpu = await clients.cpu() - ccpu0
        load1 = os.getloadavg()[0]
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        lat, arr, samples = await clients.collect()
        rss_after = rss_kb(server.pid)
        gcstats = None
        if gc0 is not None:
            gc1 = await gc_snapshot(server.pid, tmp)
            if gc1 is not None:
                gcstats = {
                    "objects_after": gc1["objects"],
                    "during_run": {
                        g: {
                            k: gc1["stats"][g][k] - gc0["stats"][g][k]
                            for k in ("count", "seconds", "collected")
                        }
                        | {"max_whole_life": gc1["stats"][g]["max"]}
                        for g in gc1["stats"]
                    },
                }
        await chair.ws.close()
        await clients.call("close")
        f = figures(
            "server",
            n,
            conn["connected"],
            events,
            first_send,
            lat,
            arr,
            rss_before,
            rss_idle,
            cpu,
            conn["seconds"],
            {
                "chair": drove,
                "client_cpu_seconds": ccpu,
                "experiment": args.experiment,
                "gcstats": gcstats,
                "rss_after_run_kb": rss_after,
                "counted_at_drain": got,
                "loadavg_1m_before_after": [load0, load1],
            },
        )
        return f, samples
    finally:
        server.stop()


async def measure_bare(
    clients: Clients, n: int, args: argparse.Namespace, tmp: Path, frames: list[str]
) -> Figures:
    import websockets

    server = await asyncio.to_thread(start_bare_server, tmp)
    try:
        rss_before = await settle_rss(server.pid)
        conn = await clients.connect(
            f"ws://127.0.0.1:{server.port}/ws", n, args.concurrency, not args.no_deflate
        )
        if conn["connected"] < n:
            print(f"  bare: only {conn['connected']}/{n} connected: {conn['errors']}", flush=True)
        rss_idle = await settle_rss(server.pid)
        await clients.call("reset")

        count = int(args.seconds * args.rate)
        load0 = os.getloadavg()[0]
        cpu0 = cpu_seconds(server.pid)
        ccpu0 = await clients.cpu()
        first_send = time.time()
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/control", max_size=None
        ) as ctl:
            await ctl.send(
                json.dumps({"cmd": "run", "frames": frames, "rate": args.rate, "count": count})
            )
            done = json.loads(await asyncio.wait_for(ctl.recv(), args.seconds + 120))
        got = await wait_drained(clients, count * conn["connected"], args.drain)
        cpu = cpu_seconds(server.pid) - cpu0
        ccpu = await clients.cpu() - ccpu0
        load1 = os.getloadavg()[0]
        lat, arr, _ = await clients.collect()
        await clients.call("close")
        bsec = sorted(done["broadcast_seconds"])
        return figures(
            "bare",
            n,
            conn["connected"],
            done["sent"],
            first_send,
            lat,
            arr,
            rss_before,
            rss_idle,
            cpu,
            conn["seconds"],
            {
                "client_cpu_seconds": ccpu,
                "broadcast_call_ms_p50": percentile(bsec, 0.5) * 1000,
                "broadcast_call_ms_max": bsec[-1] * 1000 if bsec else None,
                "counted_at_drain": got,
                "loadavg_1m_before_after": [load0, load1],
            },
        )
    finally:
        server.stop()


async def gc_snapshot(pid: int, tmp: Path) -> dict[str, Any] | None:
    path = tmp / "gcstats.json"
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(100):
        await asyncio.sleep(0.1)
        if path.exists():
            await asyncio.sleep(0.2)
            stats: dict[str, Any] = json.loads(path.read_text())
            return stats
    return None


def start_profiler(pid: int, n: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    spy = Path(sys.executable).with_name("py-spy")
    out = RESULTS / f"profile-{n}-{time.strftime('%Y%m%d-%H%M%S')}"
    mode = ["--native"] if os.environ.get("FANOUT_SPY_NATIVE") else ["--nonblocking"]
    cmd = [str(spy), "record", "-p", str(pid), "-r", "200", *mode, "-f"]
    process = subprocess.Popen(
        [*cmd, "raw", "-o", f"{out}.txt"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    return process


# -- report -------------------------------------------------------------------------------


def verdicts(n: int, real: Figures, bare: Figures) -> dict[str, Any]:
    ratio_p99 = real.p99_ms / bare.p99_ms if bare.p99_ms else float("inf")
    ratio_rate = (
        real.delivery_rate_per_s / bare.delivery_rate_per_s if bare.delivery_rate_per_s else 0.0
    )
    out: dict[str, Any] = {"p99_ratio": ratio_p99, "rate_ratio": ratio_rate}
    if n <= 1000:
        out["target"] = "p99 <= 200 ms"
        out["met"] = real.p99_ms <= 200 and real.delivered_fraction >= 0.999
    else:
        out["target"] = "p99 <= 1.5x bare, rate >= 0.6x bare"
        out["met"] = ratio_p99 <= 1.5 and ratio_rate >= 0.6
    out["memory_met"] = real.kb_per_idle_socket <= 30
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'viewers':>7} | {'server p50/p99 ms':>18} | {'bare p50/p99 ms':>16} | "
        f"{'p99 srv/bare':>12} | {'rate srv/bare (deliv/s)':>26} | {'rate ratio':>10} | "
        f"{'delivered srv/bare':>18} | {'KB/idle sock srv (bare)':>23} | target"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        r, b, v = row["server"], row["bare"], row["verdict"]
        print(
            f"{r['viewers']:>7} | {r['p50_ms']:>8.1f}/{r['p99_ms']:<9.1f} | "
            f"{b['p50_ms']:>7.1f}/{b['p99_ms']:<8.1f} | {v['p99_ratio']:>12.2f} | "
            f"{r['delivery_rate_per_s']:>12.0f}/{b['delivery_rate_per_s']:<13.0f} | "
            f"{v['rate_ratio']:>10.2f} | "
            f"{r['delivered_fraction']:>8.1%}/{b['delivered_fraction']:<9.1%} | "
            f"{r['kb_per_idle_socket']:>12.1f} ({b['kb_per_idle_socket']:.1f}) | "
            f"{v['target']}: {'met' if v['met'] else 'MISSED'}; "
            f"<=30 KB: {'met' if v['memory_met'] else 'MISSED'}"
        )


async def main(args: argparse.Namespace) -> int:
    nofile = raise_nofile()
    need = max(args.viewers) + 200
    if nofile < need:
        print(f"RLIMIT_NOFILE is {nofile}; {need} needed", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(prefix="kengash-fanout-"))
    clients = Clients(args.client_processes)
    rows: list[dict[str, Any]] = []
    try:
        for n in args.viewers:
            tmp = tmp_root / f"n{n}"
            tmp.mkdir()
            print(f"[{n} viewers] real server ...", flush=True)
            real, samples = await measure_real(clients, n, args, tmp)
            print(
                f"  server: p50 {real.p50_ms:.1f} ms, p99 {real.p99_ms:.1f} ms, "
                f"{real.delivered}/{real.expected} delivered, "
                f"{real.kb_per_idle_socket:.1f} KB/socket, cpu {real.cpu_seconds_during_run:.1f}s",
                flush=True,
            )
            frames = samples[:2] if len(samples) >= 2 else samples
            if not frames:
                raise RuntimeError("no event frame captured from the real server")
            if args.only == "server":
                rows.append({"viewers": n, "server": asdict(real)})
                continue
            print(f"[{n} viewers] bare websockets.broadcast ...", flush=True)
            bare = await measure_bare(clients, n, args, tmp, frames)
            print(
                f"  bare:   p50 {bare.p50_ms:.1f} ms, p99 {bare.p99_ms:.1f} ms, "
                f"{bare.delivered}/{bare.expected} delivered, "
                f"{bare.kb_per_idle_socket:.1f} KB/socket, cpu {bare.cpu_seconds_during_run:.1f}s",
                flush=True,
            )
            rows.append(
                {
                    "viewers": n,
                    "frame_bytes": [len(f.encode()) for f in frames],
                    "server": asdict(real),
                    "bare": asdict(bare),
                    "verdict": verdicts(n, real, bare),
                }
            )
    finally:
        clients.stop()
        if not args.keep_tmp:
            shutil.rmtree(tmp_root, ignore_errors=True)
    print()
    if args.only == "both":
        print_table(rows)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"fanout-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "seconds": args.seconds,
                "rate": args.rate,
                "client_processes": args.client_processes,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nresults: {out.relative_to(ROOT)}")
    return 0


def cli() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--viewers", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--seconds", type=float, default=20.0, help="how long the chair drives")
    p.add_argument("--rate", type=float, default=2.0, help="events per second")
    p.add_argument("--client-processes", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=100, help="handshakes in flight per process")
    p.add_argument("--drain", type=float, default=30.0, help="max seconds to wait for stragglers")
    p.add_argument(
        "--no-deflate",
        action="store_true",
        help="clients do not offer permessage-deflate (browsers do; the default offers it)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy record the real server while the chair drives (needs py-spy in .venv)",
    )
    p.add_argument(
        "--experiment",
        default="",
        help="comma-separated patches from bench/hooks/sitecustomize.py for the real server",
    )
    p.add_argument(
        "--only",
        choices=["both", "server"],
        default="both",
        help="server: skip the bare reference (for quick experiments)",
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the databases and logs")
    return p.parse_args()


if __name__ == "__main__":
    try:
        import uvloop

        sys.exit(uvloop.run(main(cli())))
    except ImportError:
        sys.exit(asyncio.run(main(cli())))
