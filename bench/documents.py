"""How long documents/ takes to render the council's PDFs, and whether Typst releases
the GIL while it compiles.

    .venv/bin/python bench/documents.py [--runs 30] [--lang uz-Latn]

After one warm-up render each (fonts, templates, Typst's first compile), `--runs` renders
of each document, each from a slightly different record (Typst memoizes: the very same
record again would be a cache hit, not a render):

  protocol  a named vote of 60 deputies (two pages)
  minutes   a 4-hour sitting: 60 deputies, 20 agenda items each with a named vote, 80
            speeches
  decision  a signed decision with its QR code

Then the GIL: a busy Python loop is timed alone, and again while another thread renders
the minutes over and over. If compiling released the GIL the loop keeps its speed (on a
machine with two cores or more); if not it slows down by about half or more.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import percentile
from documents import render_decision, render_minutes, render_protocol
from tests.documents import samples


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(
    render: Callable[[dict[str, Any], str], bytes],
    make: Callable[[int], dict[str, Any]],
    runs: int,
    lang: str,
) -> tuple[list[float], int]:
    render(make(-1), lang)  # warm-up
    times = []
    size = 0
    for n in range(runs):
        record = make(n)
        began = time.perf_counter()
        size = len(render(record, lang))
        times.append((time.perf_counter() - began) * 1000)
    return times, size


def protocol(n: int) -> dict[str, Any]:
    return samples.protocol(60, question=f"Loyihani qabul qilish (run {n})")


def minutes(n: int) -> dict[str, Any]:
    record = samples.minutes(items=20, deputies=60, speeches=80)
    record["session"]["title"] = f"Navbatdagi sessiya (run {n})"
    return record


def decision(n: int) -> dict[str, Any]:
    return samples.decision(number=f"7-{n + 100}")


def busy_loop(iterations: int) -> float:
    began = time.perf_counter()
    x = 0
    for i in range(iterations):
        x += i
    return time.perf_counter() - began


def beside(work: Callable[[int], object], iterations: int) -> tuple[float, int]:
    """The busy loop's time while another thread calls `work` over and over, and how many
    calls it finished meanwhile."""
    stop = threading.Event()
    done = 0

    def other() -> None:
        nonlocal done
        while not stop.is_set():
            work(done)
            done += 1

    thread = threading.Thread(target=other)
    thread.start()
    time.sleep(0.2)  # the other thread is under way
    took = busy_loop(iterations)
    stop.set()
    thread.join()
    return took, done


def gil(lang: str) -> tuple[float, float, float, int]:
    """(loop alone, loop beside a Python loop (the GIL held: the control), loop beside
    renders, renders done meanwhile); times in s."""
    iterations = 20_000_000
    alone = min(busy_loop(iterations) for _ in range(2))
    control, _ = beside(lambda _: busy_loop(100_000), iterations)
    rendering, done = beside(lambda n: render_minutes(minutes(1000 + n), lang), iterations)
    return alone, control, rendering, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--lang", default="uz-Latn")
    a = parser.parse_args()

    began = time.perf_counter()
    render_decision(samples.decision(), a.lang)
    print(f"first render in this process: {(time.perf_counter() - began) * 1000:.0f} ms")
    targets = {"protocol": 500.0, "minutes": 2000.0, "decision": None}
    for name, render, make in (
        ("protocol", render_protocol, protocol),
        ("minutes", render_minutes, minutes),
        ("decision", render_decision, decision),
    ):
        times, size = timed(render, make, a.runs, a.lang)
        target = targets[name]
        verdict = (
            ""
            if target is None
            else (
                f"  (target <= {target:.0f} ms: "
                f"{'met' if percentile(times, 0.99) <= target else 'MISSED'})"
            )
        )
        print(
            f"{name:9s} p50 {percentile(times, 0.5):7.1f} ms  p99 {percentile(times, 0.99):7.1f} ms"
            f"  {size / 1024:6.0f} kB{verdict}"
        )
    print(f"resident memory after the runs: {rss_mb():.0f} MB")

    alone, control, rendering, done = gil(a.lang)
    print(
        f"GIL ({os.cpu_count()} CPUs): a busy Python loop takes {alone * 1000:.0f} ms alone, "
        f"{control * 1000:.0f} ms ({control / alone:.2f}x) beside a thread running Python, "
        f"{rendering * 1000:.0f} ms ({rendering / alone:.2f}x) beside a thread rendering "
        f"minutes ({done} rendered meanwhile)"
    )
    # Holding the GIL, 400 ms compiles would stall the loop at least as much as the
    # Python control does (which at least gives the GIL up every 5 ms).
    released = rendering < (alone + control) / 2
    print("-> typst.compile " + ("releases" if released else "HOLDS") + " the GIL")


if __name__ == "__main__":
    main()
