"""A signature worker that dies (killed, out of memory) is replaced and the sign-ins
waiting for it are checked there; one that cannot be checked (the pool stopped, or its
worker died while checking it) is VerifierUnavailable (503), never a false sign-in."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from session_server.signatures.base import VerifierUnavailable
from session_server.signatures.local import LocalVerifier
from tests.pki import TestPKI


def stall(seconds: float) -> None:
    time.sleep(seconds)


async def test_a_killed_worker_is_replaced_and_a_stopped_one_is_unavailable(
    pki: TestPKI,
) -> None:
    verifier = LocalVerifier(pki.trust_dir, check_revocation=False, workers=1)
    await verifier.start()
    try:
        pool = verifier._pool
        assert pool is not None
        [first] = pool.pids
        good = pki.sign(pki.deputy_ec, b"challenge")
        # Keep the worker busy so that the sign-in waits for it, then kill it.
        busy = asyncio.ensure_future(pool.run(stall, 30.0))
        waiting = asyncio.ensure_future(verifier.verify_attached(good))
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(Exception, match="died"):
            await busy
        # The waiting sign-in is checked by the replacement.
        verified = await asyncio.wait_for(waiting, 30)
        assert verified.content == b"challenge"
        [second] = pool.pids
        assert second != first
        assert (await verifier.verify_attached(good)).content == b"challenge"
        # A sign-in still waiting when the server stops: unavailable, not a crash.
        busy = asyncio.ensure_future(pool.run(stall, 30.0))
        waiting = asyncio.ensure_future(verifier.verify_attached(good))
        await asyncio.sleep(0.3)
        await verifier.stop()
        with pytest.raises(VerifierUnavailable):
            await waiting
        with pytest.raises(Exception, match="stopped"):
            await busy
    finally:
        await verifier.stop()
