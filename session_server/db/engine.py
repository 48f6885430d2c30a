"""The database: async reads, and write transactions run as plain synchronous ORM code.

Every write is a function of a synchronous `Session`, run by `Database.transact`. On
PostgreSQL it runs through the async driver (`AsyncSession.run_sync`). On SQLite it runs
on the event loop's own thread against the file: a statement there takes microseconds,
while a round trip through a driver thread costs a millisecond or more under load (two
thread wake-ups and a turn of a busy loop), and a batch of ballots makes ten of them.
SQLite writers take the lock up front (BEGIN IMMEDIATE), so two writers never deadlock
upgrading a read lock; readers keep WAL's concurrent reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

T = TypeVar("T")

# How long the loop may block waiting for another process's write lock (a CLI import).
WRITER_BUSY_MS = 5000
# Copy the write-ahead log into the database at most this often, off the loop's thread.
CHECKPOINT_SECONDS = 2.0


def _sqlite_pragmas(dbapi_conn: Any, busy_ms: int, autocheckpoint: bool) -> None:
    # Let SQLAlchemy, not the driver, say when a transaction begins.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # An ack promises the ballot survives a power cut: WAL with NORMAL may lose the last
    # commits then. FULL syncs the log at every commit (about half a millisecond here).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    if not autocheckpoint:
        # A checkpoint writes and syncs the database file; never on the loop's thread.
        cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


def _sqlite_async_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, 30000, autocheckpoint=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _sqlite_writer_engine(url: str) -> Engine:
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(sync_url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, WRITER_BUSY_MS, autocheckpoint=False)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _sqlite_reader_engine(url: str) -> Engine:
    """Key lookups on the loop's thread (Database.look_up): WAL reads never wait for the
    writer, and a short busy timeout keeps a checkpoint from holding the loop."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(sync_url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, 200, autocheckpoint=False)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def unavailable(exc: BaseException) -> bool:
    """The database could not be reached or was busy: nothing is wrong with the request,
    and the same request may succeed when sent again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._writer: Session | None = None
        if self.is_sqlite:
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_async_engine(url)
            self._writer_engine: Engine | None = _sqlite_writer_engine(url)
            # One database session for every write, kept between transactions: what one
            # transaction read stays valid for the next (only this process writes), and a
            # rollback expires it all. See `single_writer`.
            self._writer = Session(self._writer_engine, expire_on_commit=False)
            self._reader_engine: Engine | None = _sqlite_reader_engine(url)
        else:
            self._reader_engine = None
            self.engine = create_async_engine(url, pool_size=10, max_overflow=20)
            self._writer_engine = None
        self._read = async_sessionmaker(self.engine, expire_on_commit=False)
        # True when no other process writes (SQLite): rows read while writing may be
        # kept for later transactions.
        self.single_writer = self._writer is not None
        # One writer at a time per process on SQLite: the file lock allows no more anyway.
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None
        self._last_checkpoint = 0.0
        self._checkpoint: asyncio.Future[None] | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    async def look_up(self, work: Callable[[Session], T]) -> T:
        """A read of a few rows by key, as plain synchronous code. On SQLite it runs on
        the loop's thread against the file (a key lookup takes microseconds; the hop to
        aiosqlite's thread and back, a millisecond or more); elsewhere as `read`."""
        if self._reader_engine is None:
            async with self._read() as remote:
                return await remote.run_sync(work)
        with Session(self._reader_engine, expire_on_commit=False) as session, session.begin():
            return work(session)

    async def transact(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction: commit when it returns, roll back if it raises."""
        if self._writer is None:
            async with self._read() as remote, remote.begin():
                return await remote.run_sync(work)
        assert self._sqlite_writer is not None
        async with self._sqlite_writer:
            with self._writer.begin():
                result = work(self._writer)
        self._maybe_checkpoint()
        return result

    def _maybe_checkpoint(self) -> None:
        now = time.monotonic()
        if self._checkpoint is not None or now - self._last_checkpoint < CHECKPOINT_SECONDS:
            return
        self._last_checkpoint = now
        self._checkpoint = asyncio.get_running_loop().run_in_executor(None, self._wal_checkpoint)
        self._checkpoint.add_done_callback(self._checkpointed)

    def _wal_checkpoint(self) -> None:
        # PASSIVE: copies what no reader still needs; never waits for or blocks the writer.
        # A raw connection in autocommit: no BEGIN IMMEDIATE, so the writer never waits.
        assert self._writer_engine is not None
        conn = self._writer_engine.raw_connection()
        try:
            conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        finally:
            conn.close()

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled():
            done.exception()  # a failed checkpoint is retried by the next one

    async def dispose(self) -> None:
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        await self.engine.dispose()
        if self._writer is not None:
            self._writer.close()
        if self._writer_engine is not None:
            self._writer_engine.dispose()
        if self._reader_engine is not None:
            self._reader_engine.dispose()
