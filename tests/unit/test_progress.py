"""Vote progress: a lone ballot is reported at once, a burst at most once per interval."""

from __future__ import annotations

import asyncio

from session_server.live.progress import ProgressReporter


async def turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_ballot_after_a_quiet_spell_is_reported_at_once() -> None:
    reports: list[tuple[int, int]] = []

    async def report(session: int, vote: int, command_id: str) -> None:
        reports.append((session, vote))

    progress = ProgressReporter(report, interval=3600)
    progress.ballot_counted(1, 7)
    await turns()
    assert reports == [(1, 7)]
    # Within the interval, more ballots wait for the next report (an hour here).
    for _ in range(100):
        progress.ballot_counted(1, 7)
    await turns()
    assert reports == [(1, 7)]
    progress.ballot_counted(1, 8)  # another vote has a clock of its own
    await turns()
    assert reports == [(1, 7), (1, 8)]
    await progress.stop()


async def test_a_burst_is_reported_at_most_once_per_interval() -> None:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def report(session: int, vote: int, command_id: str) -> None:
        times.append(loop.time())

    progress = ProgressReporter(report, interval=0.05)
    start = loop.time()
    while loop.time() < start + 0.3:
        progress.ballot_counted(1, 7)
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.1)
    await progress.stop()
    end = loop.time()
    # A report is due at the earliest an interval after the one before (a timer never
    # fires early; a busy loop only makes the reports fewer).
    assert 2 <= len(times) <= (end - start) / 0.05 + 1
