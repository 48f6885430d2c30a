"""A pool of background worker processes for the event loop, with no threads in the
server's process.

`concurrent.futures.ProcessPoolExecutor` runs two helper threads in the process that
uses it (its management thread, and the call queue's feeder that pickles and writes):
each call wakes them, and the event loop then waits for the interpreter lock while they
run. A wall-clock profile of bench/signin_cpu.py found about 1.4 ms a sign-in of that
(docs/performance.md). Here the loop itself writes a request to an idle worker's socket
and reads the answer when `add_reader` says it has come, both non-blocking: a request
larger than the socket's buffer is written as the worker reads it, an answer is read as
it arrives, and the loop never waits for a worker.

Each worker (spawned, not forked: the server has threads and a running loop) runs below
the server and leaves with it (`background.as_background_worker`), runs the pool's
initializer once, then answers one request at a time. A worker holds at most one call;
the others wait in the pool, on the loop, in the order they came. A worker that dies
fails its call with `WorkerDied` and is replaced."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import signal
import socket
import struct
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, TypeVarTuple

import structlog

from session_server.background import as_background_worker

log = structlog.get_logger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# Every message on a worker's socket: its length, then the pickle.
_HEADER = struct.Struct("!Q")
# How long stop() lets a worker leave by itself (it does when its socket closes, at once
# if idle) before killing it: its call's answer would go nowhere anyway.
STOP_GRACE_SECONDS = 2.0


class WorkerError(Exception):
    """A call could not be answered by a worker (not an error of the call itself)."""


class WorkerDied(WorkerError):
    """The worker running the call died (killed, out of memory, crashed)."""


class PoolStopped(WorkerError):
    """The pool was stopped while the call waited or ran."""


class RemoteTraceback(Exception):
    """The worker's traceback of an exception, as its __cause__ (as concurrent.futures)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    sock: socket.socket
    # The call being run (the initializer's at first), and what is still to be written.
    call: asyncio.Future[Any] | None
    what: str = "the initializer"
    ready: bool = False  # its initializer has run
    outbox: bytearray = field(default_factory=bytearray)
    inbox: bytearray = field(default_factory=bytearray)
    writing: bool = False


@dataclass(eq=False)
class _Call:
    payload: bytes
    what: str
    future: asyncio.Future[Any]


class WorkerPool:
    """`workers` processes; each runs `initializer(*initargs)` when it starts (a model
    loaded, a verifier built) before it takes calls."""

    def __init__(
        self,
        workers: int,
        *,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        name: str = "worker",
    ) -> None:
        if workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._size = workers
        self._initializer = initializer
        self._initargs = initargs
        self._name = name
        self._workers: list[_Worker] = []
        self._waiting: deque[_Call] = deque()
        self._starting: asyncio.Lock | None = None
        self._started = False

    @property
    def pids(self) -> list[int]:
        """The workers' process ids (for tests and the operator)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def start(self) -> None:
        """Start the workers and wait until each has run the initializer (raising its
        exception if it fails there). Nothing happens when they are already started."""
        if self._started:
            return
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._started:
                return
            started = [self._spawn() for _ in range(self._size - len(self._workers))]
            try:
                await asyncio.gather(*(w.call for w in started if w.call is not None))
            except BaseException:
                await self.stop()
                raise
            self._started = True
            log.info("workers_started", pool=self._name, workers=self._size)

    async def run(self, function: Callable[[*Ts], T], *args: *Ts) -> T:
        """`function(*args)` in a worker: its result, or the exception it raised there
        (with the worker's traceback as its cause). `function` must be importable by
        name (module level), its arguments and result picklable. WorkerDied if the
        worker dies meanwhile, PoolStopped if the pool is stopped meanwhile."""
        await self.start()
        what = getattr(function, "__qualname__", repr(function))
        # Pickled here, as the caller's mistake: an argument that cannot be pickled.
        payload = pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Call(payload, what, future))
        self._dispatch()
        # A caller that stops waiting (cancelled, timed out) leaves the call to finish in
        # its worker, or, still waiting, to be skipped.
        return await future

    async def stop(self) -> None:
        """End every worker; calls that wait or run get PoolStopped. A later run() or
        start() starts the pool afresh."""
        self._started = False
        workers, self._workers = self._workers, []
        waiting, self._waiting = self._waiting, deque()
        for call in waiting:
            _fail(call.future, PoolStopped("the worker pool was stopped"))
        for worker in workers:
            self._forget(worker)
            if worker.call is not None:
                _fail(worker.call, PoolStopped("the worker pool was stopped"))
        # Closing its socket tells a worker to leave (when its call is done: one still
        # busy after STOP_GRACE_SECONDS is killed).
        await asyncio.gather(*(_ended(worker.process) for worker in workers))

    # -- on the loop ---------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        # spawn, not fork: the server process has threads and a running loop.
        context = get_context("spawn")
        ours, theirs = socket.socketpair()
        process = context.Process(
            target=_serve,
            args=(theirs, self._initializer, self._initargs),
            name=f"kengash-{self._name}",
            daemon=True,
        )
        process.start()
        theirs.close()  # the worker's end lives in the worker only: its death is our EOF
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        worker = _Worker(process, ours, call=loop.create_future())
        self._workers.append(worker)
        loop.add_reader(ours.fileno(), self._readable, worker)
        return worker

    def _dispatch(self) -> None:
        """Give waiting calls to idle workers."""
        for worker in self._workers:
            if not self._waiting:
                return
            if worker.call is not None:
                continue
            while self._waiting:
                call = self._waiting.popleft()
                if call.future.done():  # its caller stopped waiting
                    continue
                worker.call, worker.what = call.future, call.what
                worker.outbox += _HEADER.pack(len(call.payload)) + call.payload
                self._write(worker)
                break

    def _write(self, worker: _Worker) -> None:
        try:
            sent = worker.sock.send(worker.outbox)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the worker is gone: its EOF comes to _readable
        del worker.outbox[:sent]
        loop = asyncio.get_running_loop()
        if worker.outbox and not worker.writing:
            loop.add_writer(worker.sock.fileno(), self._write, worker)
            worker.writing = True
        elif not worker.outbox and worker.writing:
            loop.remove_writer(worker.sock.fileno())
            worker.writing = False

    def _readable(self, worker: _Worker) -> None:
        try:
            data = worker.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost(worker)
            return
        worker.inbox += data
        while len(worker.inbox) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(worker.inbox)
            if len(worker.inbox) < _HEADER.size + length:
                break
            message = bytes(worker.inbox[_HEADER.size : _HEADER.size + length])
            del worker.inbox[: _HEADER.size + length]
            self._answered(worker, message)

    def _answered(self, worker: _Worker, message: bytes) -> None:
        future, worker.call = worker.call, None
        try:
            ok, value, remote = pickle.loads(message)
        except Exception as exc:  # an answer of a class the server cannot load
            ok, value = False, WorkerError(f"{worker.what}: unreadable answer: {exc!r}")
        else:
            if not ok:
                value.__cause__ = RemoteTraceback(remote)
        if future is not None and not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if not worker.ready and not ok:
            self._unstartable(worker, value)
            return
        worker.ready = True
        self._dispatch()

    def _unstartable(self, worker: _Worker, error: BaseException) -> None:
        """A worker whose initializer failed leaves (_serve) and is not replaced: the
        next would most likely fail the same way. Without workers, the calls waiting
        fail with its error, and the next run() tries to start the pool again."""
        self._forget(worker)
        self._workers.remove(worker)
        log.error("worker_start_failed", pool=self._name, error=repr(error))
        if not self._workers:
            self._started = False
            waiting, self._waiting = self._waiting, deque()
            for call in waiting:
                _fail(call.future, WorkerError(f"no {self._name} process could start: {error}"))

    def _lost(self, worker: _Worker) -> None:
        """The worker's socket closed: it died. Its call fails; another takes its place."""
        self._forget(worker)
        with contextlib.suppress(ValueError):
            self._workers.remove(worker)
        # It has closed its files, so it is exiting: reaping it is a matter of moments.
        worker.process.join(0.5)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        log.error("worker_died", pool=self._name, pid=worker.process.pid, how=how, call=worker.what)
        if worker.call is not None:
            _fail(
                worker.call,
                WorkerDied(f"the {self._name} process died ({how}) while running {worker.what}"),
            )
        if self._started:
            # Its replacement takes calls once its initializer has run (_answered).
            # While the pool starts, no replacement: start() fails with WorkerDied.
            self._spawn()

    def _forget(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(worker.sock.fileno())
        if worker.writing:
            loop.remove_writer(worker.sock.fileno())
            worker.writing = False
        worker.sock.close()


def _fail(future: asyncio.Future[Any], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


async def _ended(process: BaseProcess) -> None:
    """Wait, without holding the loop, for `process` to exit (its sentinel becomes
    readable then); kill it if it has not within STOP_GRACE_SECONDS."""
    loop = asyncio.get_running_loop()
    exited = loop.create_future()

    def _exited() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(process.sentinel, _exited)
    try:
        try:
            await asyncio.wait_for(asyncio.shield(exited), STOP_GRACE_SECONDS)
        except TimeoutError:
            process.kill()
            await exited
    finally:
        loop.remove_reader(process.sentinel)
    process.join()  # it has exited: this reaps it at once
    process.close()


# -- in a worker process -------------------------------------------------------------------


def _serve(
    sock: socket.socket, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    as_background_worker()
    # Ctrl+C reaches the whole process group; the server ends its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if initializer is not None:
            initializer(*initargs)
        answer = pickle.dumps((True, None, ""))
    except Exception as exc:
        _send(sock, _failure(exc))
        return
    _send(sock, answer)
    while (request := _receive(sock)) is not None:
        try:
            function, args = pickle.loads(request)
            answer = pickle.dumps((True, function(*args), ""), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            answer = _failure(exc)
        _send(sock, answer)


def _failure(exc: Exception) -> bytes:
    remote = "".join(traceback.format_exception(exc))
    try:
        answer = pickle.dumps((False, exc, remote))
        pickle.loads(answer)  # an exception whose constructor cannot be called again
    except Exception:
        answer = pickle.dumps((False, WorkerError(f"{type(exc).__name__}: {exc}"), remote))
    return answer


def _send(sock: socket.socket, message: bytes) -> None:
    sock.sendall(_HEADER.pack(len(message)) + message)


def _receive(sock: socket.socket) -> bytes | None:
    """The next message; None when the server has closed the socket (or is gone)."""
    header = _exactly(sock, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    return _exactly(sock, length)


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buffer)
