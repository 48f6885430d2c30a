"""Shared fixtures: real databases (SQLite file and PostgreSQL), a real server process.

Where PostgreSQL, Redis, Chromium or the test media is missing (a laptop), the tests that need
it skip with the reason; with KENGASH_REQUIRE_ALL=1 (set by .ci/run) they fail instead."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from session_server.db.engine import Database
from session_server.db.migrate import upgrade
from tests.pki import pki  # noqa: F401 - the session fixture `pki`: a test PKI (openssl)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PG_ADMIN_URL = os.environ.get("KENGASH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KENGASH_TEST_REDIS", "redis://127.0.0.1:6379/15")


def skip_or_fail(reason: str) -> None:
    if os.environ.get("KENGASH_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_available() -> bool:
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return False
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    if not _pg_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"kengash_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_in(stack: ExitStack, tmp: Path, backend: str) -> str:
    """A fresh database of `backend` ("sqlite": a file in `tmp`; "postgresql": one of its
    own, dropped when `stack` closes)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'kengash.db'}"
    return stack.enter_context(pg_database())


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on each backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade(database.engine)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def demo_db(db: Database) -> Database:
    """A migrated database holding the demo council and its session 1."""
    from session_server import demo

    await db.transact(lambda session: demo.seed(session, date.today()))
    return db


@dataclass
class Server:
    url: str
    ws_url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def token(self, login: str) -> str:
        response = httpx.post(f"{self.url}/api/auth/demo", json={"login": login}, timeout=10)
        response.raise_for_status()
        return str(response.json()["token"])

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def start_server(
    env: dict[str, str],
    log: Path,
    port: int | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> Server:
    """`preexec_fn` runs in the child before the server starts (to lower its limits, say)."""
    port = port or free_port()
    env = {**env, "KENGASH_PORT": str(port)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "session_server", "serve"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, f"ws://127.0.0.1:{port}/ws", process, env, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become ready: {log.read_text()[-2000:]}")


def server_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KENGASH_DATABASE_URL": database_url,
        "KENGASH_DEMO": "1",
        "KENGASH_VAR_DIR": str(var_dir),
        "KENGASH_SECRET_KEY": "test-secret-key",
        "KENGASH_LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture
def live_server(demo_db: Database, database_url: str, tmp_path: Path) -> Iterator[Server]:
    """`kengash serve` in its own process, on the demo database (each backend)."""
    server = start_server(server_env(database_url, tmp_path), tmp_path / "server.log")
    try:
        yield server
    finally:
        server.kill()


def seed_demo(url: str) -> None:
    async def prepare() -> None:
        from session_server import demo

        database = Database(url)
        await upgrade(database.engine)
        await database.transact(lambda session: demo.seed(session, date.today()))
        await database.dispose()

    asyncio.run(prepare())


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    """The server on a demo SQLite database only: for browser tests and the like."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'kengash.db'}"
    seed_demo(url)
    server = start_server(server_env(url, tmp_path), tmp_path / "server.log")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per module and backend: for tests that change nothing (bad input), or
    that each work on rows of their own and undo what they change for all."""
    tmp = tmp_path_factory.mktemp("server")
    with ExitStack() as stack:
        url = database_in(stack, tmp, request.param)
        seed_demo(url)
        server = start_server(server_env(url, tmp), tmp / "server.log")
        stack.callback(server.kill)
        yield server
