"""The public ledger at 1,000,000 entries: append + checkpoint, and proofs.

    .venv/bin/python bench/ledger.py [--entries 1000000] [--appends 500] [--proofs 1000]
                                     [--database-url URL]

A fresh database (SQLite in a temporary folder unless `--database-url` names another,
migrated first) is filled with `--entries` entries and every node of their tree, written
in bulk. Then, through the server's own code (session_server/ledger/log.py):

  append    `--appends` single-entry appends, each one transaction that locks the head,
            adds the entry and its new nodes and signs the checkpoint of the new size
            (what follows every closed vote, decision and signature)
  inclusion `--proofs` inclusion proofs of random entries in the whole tree, read from
            the stored nodes (one query), then verified by tlog.proofs
  consistency `--proofs` consistency proofs from a random older size to the whole tree

Targets (issue 11): append + checkpoint p99 ≤ 5 ms; proofs ≤ 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import tlog
from bench.stats import percentile
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.migrate import upgrade
from session_server.db.models import utcnow
from session_server.ledger.log import LedgerLog
from session_server.logs import configure as configure_logs
from tlog import proofs, tree

CHUNK = 50_000


def body(n: int) -> bytes:
    return b'{"n":%d,"type":"bench"}' % n


def figures(name: str, ms: list[float], target: float | None = None) -> None:
    p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
    aim = f"   target p99 <= {target} ms: {'met' if p99 <= target else 'MISSED'}" if target else ""
    print(f"{name:<24} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   max {max(ms):7.3f} ms{aim}")


async def fill(db: Database, ledger: LedgerLog, entries: int) -> None:
    started = time.perf_counter()
    leaves = [tlog.leaf_hash(body(n)) for n in range(entries)]
    nodes = tree.append(0, leaves, {})
    root = tree.root(entries, nodes)
    now = utcnow()
    rows = [
        {"seq": n, "kind": "bench", "ref": n, "body": body(n), "appended_at": now}
        for n in range(entries)
    ]
    node_rows = [{"level": lv, "idx": i, "hash": h} for (lv, i), h in nodes.items()]
    for table, all_rows in ((models.LedgerEntry, rows), (models.LedgerNode, node_rows)):
        for start in range(0, len(all_rows), CHUNK):
            part = all_rows[start : start + CHUNK]

            def write(s: Session, table: Any = table, part: list[dict[str, Any]] = part) -> None:
                s.execute(insert(table), part)

            await db.transact(write)
    note = tlog.sign_checkpoint(tlog.Checkpoint(ledger.origin, entries, root), ledger.signer)
    await db.transact(
        lambda s: s.add(
            models.LedgerHead(id=1, size=entries, root=root, checkpoint=note.decode(), made_at=now)
        )
    )
    print(
        f"filled {entries:,} entries and {len(nodes):,} nodes in "
        f"{time.perf_counter() - started:.1f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    configure_logs("console", "WARNING")  # not a line per append
    folder = tempfile.mkdtemp(prefix="kengash-ledger-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/ledger.db"
    db = Database(url)
    await upgrade(db.engine)
    ledger = LedgerLog(db, tlog.Signer.generate("bench.example/ledger"), "bench.example/ledger")
    await fill(db, ledger, args.entries)
    print(f"database: {db.engine.dialect.name}")

    appended = []
    for i in range(args.appends):
        n = args.entries + i

        def append(s: Session, n: int = n) -> int:
            head = s.scalar(select(models.LedgerHead).with_for_update())
            return ledger.write(s, head, [("bench", n, body(n))])

        started = time.perf_counter()
        await db.transact(append)
        appended.append((time.perf_counter() - started) * 1000)
    figures("append + checkpoint", appended, 5)

    head = await ledger.head()
    assert head is not None
    size, root = head.size, head.root
    rng = random.Random(7)
    made, checked = [], []
    for _ in range(args.proofs):
        index = rng.randrange(size)
        started = time.perf_counter()
        proof = await ledger.inclusion(index, size)
        made.append((time.perf_counter() - started) * 1000)
        leaf = tlog.leaf_hash(body(index))
        started = time.perf_counter()
        proofs.verify_inclusion(index, size, leaf, proof, root)
        checked.append((time.perf_counter() - started) * 1000)
    figures("inclusion proof", made, 1)
    figures("inclusion verification", checked, 1)

    made, checked = [], []
    old_roots: dict[int, bytes] = {}
    olds = [rng.randrange(1, size) for _ in range(args.proofs)]
    for old in olds:  # the old trees' roots, as a verifier kept them (not timed)
        old_roots[old] = tree.root(old, await ledger.nodes(tree.root_keys(old)))
    for old in olds:
        started = time.perf_counter()
        proof = await ledger.consistency(old, size)
        made.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        proofs.verify_consistency(old, size, old_roots[old], root, proof)
        checked.append((time.perf_counter() - started) * 1000)
    figures("consistency proof", made, 1)
    figures("consistency verification", checked, 1)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
