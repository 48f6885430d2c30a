"""Fixtures for the signature tests: the E-IMZO-SERVER stand-in and a CRL server.

The test PKI itself is the session fixture `pki` (tests/pki.py, via tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.pki import TestPKI
from tests.signatures.eimzo_standin import EimzoStandIn


@pytest.fixture
def eimzo(pki: TestPKI) -> Iterator[EimzoStandIn]:
    standin = EimzoStandIn(pki)
    try:
        yield standin
    finally:
        standin.stop()


@dataclass
class CRLServer:
    """Serves one CRL over HTTP on 127.0.0.1, as a CA's distribution point does."""

    crl: bytes = b""
    hang: bool = False
    requests: int = 0
    _released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.hang:
                    server._released.wait(30)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(server.crl)))
                self.end_headers()
                self.wfile.write(server.crl)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/kengash-test-ca.crl"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._released.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


@pytest.fixture
def crl_server() -> Iterator[CRLServer]:
    server = CRLServer()
    try:
        yield server
    finally:
        server.stop()
