"""A stand-in for E-IMZO-SERVER on 127.0.0.1, answering as its documentation says.

The methods `EimzoServerVerifier` calls: `GET /frontend/challenge`, `POST
/backend/auth` and `POST /backend/pkcs7/verify/detached`, with their JSON answers and
documented statuses: -5 (signing time off its clock), -10 (bad signature), -11
(certificate not valid), -12 (not valid at the signing time), -20 (challenge unknown,
used or expired), -1 (certificate status unknown, when `status_source_down`), HTTP 400
for a body it cannot read. It checks signatures for real, with `openssl cms -verify`
against the test PKI's root, and keeps its own challenges. `hang`, `script` and
`revoked` make it misbehave or answer as told."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from asn1crypto import cms, x509

from session_server.signatures.base import PINFL_OID
from tests.pki import TestPKI

CHALLENGE_TTL = 120
SIGNING_WINDOW = timedelta(minutes=5)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class EimzoStandIn:
    pki: TestPKI
    clock_offset: timedelta = timedelta(0)  # its clock against the real one
    status_source_down: bool = False  # the CA's status service does not answer: -1
    hang: bool = False  # every request waits until the stand-in stops
    script: list[tuple[int, bytes]] = field(default_factory=list)  # next answers, as told
    revoked: set[int] = field(default_factory=set)  # serial numbers the CA has revoked
    seen: list[Seen] = field(default_factory=list)
    challenges: dict[str, datetime] = field(default_factory=dict)  # value → expiry

    def __post_init__(self) -> None:
        self._released = threading.Event()
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin._handle(self, "GET")

            def do_POST(self) -> None:
                standin._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    # -- HTTP ----------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        self.seen.append(Seen(method, request.path, dict(request.headers.items()), body))
        if self.hang:
            self._released.wait(30)
            return
        if self.script:
            status, answer = self.script.pop(0)
        else:
            status, answer = self._answer(method, request.path.split("?")[0], body)
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json; charset=utf-8")
            request.send_header("Content-Length", str(len(answer)))
            request.end_headers()
            request.wfile.write(answer)
        except OSError:
            pass  # the client gave up

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and path == "/frontend/challenge":
            return 200, self._json(self._challenge())
        if method == "POST" and path == "/backend/auth":
            der = _base64(body)
            return (400, b"bad request") if der is None else (200, self._json(self._auth(der)))
        if method == "POST" and path == "/backend/pkcs7/verify/detached":
            content_b64, sep, pkcs7_b64 = body.partition(b"|")
            content, der = _base64(content_b64), _base64(pkcs7_b64)
            if not sep or content is None or der is None:
                return 400, b"bad request"
            return 200, self._json(self._verify_detached(der, content))
        return 404, b"not found"

    @staticmethod
    def _json(answer: dict[str, Any]) -> bytes:
        return json.dumps(answer).encode()

    # -- the methods ---------------------------------------------------------------------

    def _challenge(self) -> dict[str, Any]:
        value = str(uuid.uuid4())
        with self._lock:
            self.challenges[value] = self.now() + timedelta(seconds=CHALLENGE_TTL)
        return {"challenge": value, "ttl": CHALLENGE_TTL, "status": 1, "message": ""}

    def _auth(self, der: bytes) -> dict[str, Any]:
        checked = self._openssl_verify(der, None)
        if isinstance(checked, int):
            return _refused(checked)
        content, certificate, signing_time = checked
        if signing_time is not None and abs(signing_time - self.now()) > SIGNING_WINDOW:
            return _refused(-5)
        with self._lock:
            expiry = self.challenges.pop(content.decode(errors="replace"), None)
        if expiry is None or expiry < self.now():
            return _refused(-20)
        if self.status_source_down:
            return _refused(-1)
        if certificate.serial_number in self.revoked:
            return _refused(-11)
        return {"subjectCertificateInfo": _info(certificate), "status": 1, "message": ""}

    def _verify_detached(self, der: bytes, content: bytes) -> dict[str, Any]:
        checked = self._openssl_verify(der, content)
        if isinstance(checked, int):
            return _refused(checked)
        if self.status_source_down:
            return _refused(-1)
        _, certificate, signing_time = checked
        signer: dict[str, Any] = {
            "signerId": {
                "issuer": certificate.issuer.human_friendly,
                "subjectSerialNumber": format(certificate.serial_number, "x"),
            },
            "signingTime": _local(signing_time) if signing_time else None,
            "certificate": [_info(certificate)],
            "verified": True,
            "certificateVerified": True,
            "certificateValidAtSigningTime": True,
        }
        if certificate.serial_number in self.revoked:
            signer["certificateVerified"] = False
            signer["revokedStatusInfo"] = {"reason": "keyCompromise", "date": _local(self.now())}
        return {"pkcs7Info": {"signers": [signer]}, "status": 1, "message": ""}

    def _openssl_verify(
        self, der: bytes, content: bytes | None
    ) -> int | tuple[bytes, x509.Certificate, datetime | None]:
        """The signed content, the signer's certificate and the signing time, or the
        documented status for what `openssl cms -verify` finds wrong."""
        with tempfile.TemporaryDirectory() as tmp:
            signature = Path(tmp) / "signature.der"
            signature.write_bytes(der)
            args = ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(signature)]
            args += ["-CAfile", str(self.pki.root.certificate), "-binary", "-purpose", "any"]
            if content is not None:
                data = Path(tmp) / "content"
                data.write_bytes(content)
                args += ["-content", str(data)]
            done = subprocess.run(args, capture_output=True, check=False)
        errors = done.stderr.decode(errors="replace").lower()
        if done.returncode != 0:
            if "has expired" in errors or "not yet valid" in errors:
                return -12
            if "certificate verify error" in errors:
                return -11
            return -10
        info = cms.ContentInfo.load(der)
        signed = info["content"]
        signer_info = signed["signer_infos"][0]
        serial = signer_info["sid"].chosen["serial_number"].native
        certificate = next(
            c.chosen for c in signed["certificates"] if c.chosen.serial_number == serial
        )
        signing_time = None
        for attribute in signer_info["signed_attrs"]:
            if attribute["type"].native == "signing_time":
                signing_time = attribute["values"][0].native
        return (content if content is not None else done.stdout), certificate, signing_time


def _base64(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True) or None
    except (binascii.Error, ValueError):
        return None


def _refused(status: int) -> dict[str, Any]:
    return {"status": status, "message": f"stand-in refusal {status}: internal details"}


def _local(moment: datetime) -> str:
    """E-IMZO-SERVER writes times in Tashkent's time, without a zone."""
    return (moment + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")


def _info(certificate: x509.Certificate) -> dict[str, Any]:
    names = {"common_name": "CN", "organization_name": "O", "country_name": "C"}
    subject: dict[str, str] = {}
    for rdn in certificate.subject.chosen:
        for attribute in rdn:
            kind = attribute["type"]
            key = PINFL_OID if kind.dotted == PINFL_OID else names.get(kind.native, kind.dotted)
            value = attribute["value"]
            subject[key] = str(value.parsed.native if kind.dotted == PINFL_OID else value.native)
    validity = certificate["tbs_certificate"]["validity"]
    return {
        "serialNumber": format(certificate.serial_number, "x"),
        "X500Name": ",".join(f"{k}={v}" for k, v in subject.items()),
        "subjectName": subject,
        "validFrom": _local(validity["not_before"].native),
        "validTo": _local(validity["not_after"].native),
    }
