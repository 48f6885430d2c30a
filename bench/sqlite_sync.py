"""What `synchronous=FULL` costs a commit on this disk, against `NORMAL`, in one run.

    .venv/bin/python bench/sqlite_sync.py [--commits 2000] [--dir var/bench]

The server's SQLite writer runs WAL with FULL (session_server/db/engine.py): the log is
synced at every commit, so an acknowledged command survives a power cut. This times the
same small write transaction (one ballot-sized row, as a group commit of one) under
both settings, alternating in rounds so that the disk's mood affects both alike, and
prints the per-commit percentiles and the ratio FULL / NORMAL."""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import percentile

ROUNDS = 10


def open_db(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS ballots (id INTEGER PRIMARY KEY, choice TEXT)")
    return conn


def commits(conn: sqlite3.Connection, n: int, start: int) -> list[float]:
    times = []
    for i in range(start, start + n):
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO ballots (id, choice) VALUES (?, ?)", (i, '{"option":"yes"}'))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - began) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path("var") / "bench")
    a = parser.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        dbs = {mode: open_db(Path(tmp) / f"{mode}.db", mode) for mode in ("NORMAL", "FULL")}
        samples: dict[str, list[float]] = {mode: [] for mode in dbs}
        per_round = max(1, a.commits // ROUNDS)
        for r in range(ROUNDS):
            for mode, conn in dbs.items():
                samples[mode] += commits(conn, per_round, r * per_round)
        for conn in dbs.values():
            conn.close()
    print(f"{per_round * ROUNDS} commits each, WAL, in {ROUNDS} alternating rounds, in {a.dir}")
    for mode, times in samples.items():
        print(
            f"  synchronous={mode:<6}  mean {statistics.fmean(times):.3f} ms  "
            f"p50 {percentile(times, 0.50):.3f} ms  p99 {percentile(times, 0.99):.3f} ms"
        )
    full, normal = statistics.fmean(samples["FULL"]), statistics.fmean(samples["NORMAL"])
    print(f"FULL costs {full - normal:.3f} ms more per commit ({full / normal:.1f}x NORMAL)")


if __name__ == "__main__":
    main()
