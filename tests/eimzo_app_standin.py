"""A stand-in for the E-IMZO app's local WebSocket API (CAPIWS), in the test process.

It listens where the real app does, `wss://127.0.0.1:64443/service/cryptapi`, with a
self-signed certificate made by `openssl`, and answers each socket's one JSON request
the way the app's documentation (qo0p/e-imzo-doc) describes:

- `{"name": "apikey", "arguments": [domain, key, ...]}` → `{"success": true}`
- `{"name": "version"}` → `{"success": true, "major": …, "minor": …}`
- `{"plugin": "pfx", "name": "list_all_certificates"}` → `{"success": true,
  "certificates": [{"disk", "path", "name", "alias"}]}`, the alias being the
  certificate's subject and dates in the app's lower-case `name=value,…` form
- `{"plugin": "pfx", "name": "load_key", "arguments": [disk, path, name, alias]}` →
  `{"success": true, "keyId": …}` (the real app asks the key's password here)
- `{"plugin": "pkcs7", "name": "create_pkcs7", "arguments": [data_base64, keyId, "no"]}`
  → `{"success": true, "pkcs7_64": …}`: an attached CMS by `pki.sign` (openssl)
- anything else → `{"success": false, "reason": …}`

The keys it lists are test PKI identities (tests/pki.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from session_server.signatures.base import PINFL_OID
from tests.pki import Identity, TestPKI, openssl

HOST = "127.0.0.1"
PORT = 64443  # the real app's wss port
PATH = "/service/cryptapi"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM), as the app makes for itself."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "capiws.pem", directory / "capiws.key"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-days",
        "2",
        "-keyout",
        key,
        "-out",
        cert,
    )
    return cert, key


def _app_date(openssl_date: str) -> str:
    """`Dec  1 10:00:00 2027 GMT` → `2027.12.01 10:00:00` (the app's form)."""
    moment = datetime.strptime(openssl_date.strip(), "%b %d %H:%M:%S %Y %Z")
    return moment.strftime("%Y.%m.%d %H:%M:%S")


def alias_of(identity: Identity) -> str:
    """The certificate as the app's `alias`: subject, serial and dates, lower case."""
    out = openssl(
        "x509",
        "-in",
        identity.certificate,
        "-noout",
        "-startdate",
        "-enddate",
        "-serial",
    ).decode()
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    parts = [f"cn={identity.common_name}", "o=kengash test", "c=uz"]
    if identity.pinfl:
        parts.append(f"{PINFL_OID}={identity.pinfl}")
    parts += [
        f"serialnumber={identity.serial}",
        f"validfrom={_app_date(fields['notBefore'])}",
        f"validto={_app_date(fields['notAfter'])}",
    ]
    return ",".join(parts).lower()


@dataclass
class Request:
    plugin: str | None
    name: str | None
    arguments: list[Any]


@dataclass
class EimzoAppStandIn:
    """The stand-in; `start()` in a thread of its own, `stop()` after."""

    pki: TestPKI
    keys: list[Identity]
    directory: Path
    port: int = PORT
    seen: list[Request] = field(default_factory=list)
    # Refuse load_key as a wrong password would (the app's Java exception text).
    wrong_password: bool = False
    _loaded: dict[str, Identity] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"wss://{HOST}:{self.port}{PATH}"

    def calls(self) -> list[str]:
        return [f"{r.plugin}.{r.name}" if r.plugin else str(r.name) for r in self.seen]

    def _certificates(self) -> list[dict[str, str]]:
        return [
            {
                "disk": "C:",
                "path": "DSKEYS",
                "name": f"DS{identity.pinfl or 'none'}{index}.pfx",
                "alias": alias_of(identity),
            }
            for index, identity in enumerate(self.keys)
        ]

    def answer(self, message: dict[str, Any]) -> dict[str, Any]:
        request = Request(message.get("plugin"), message.get("name"), message.get("arguments", []))
        self.seen.append(request)
        match (request.plugin, request.name):
            case (None, "apikey"):
                return {"success": True}
            case (None, "version"):
                return {"success": True, "major": "4", "minor": "86"}
            case ("pfx", "list_all_certificates"):
                return {"success": True, "certificates": self._certificates()}
            case ("pfx", "load_key"):
                if self.wrong_password:
                    return {"success": False, "reason": "javax.crypto.BadPaddingException"}
                alias = request.arguments[3] if len(request.arguments) == 4 else None
                for identity in self.keys:
                    if alias_of(identity) == alias:
                        key_id = secrets.token_hex(8)
                        self._loaded[key_id] = identity
                        return {"success": True, "keyId": key_id}
                return {"success": False, "reason": "key not found"}
            case ("pkcs7", "create_pkcs7"):
                data64, key_id, detached = request.arguments
                loaded = self._loaded.get(key_id)
                if loaded is None:
                    return {"success": False, "reason": "key is not loaded"}
                der = self.pki.sign(
                    loaded, base64.b64decode(data64), detached=detached == "yes", stream=True
                )
                return {"success": True, "pkcs7_64": base64.b64encode(der).decode()}
        return {"success": False, "reason": f"unknown function {request.plugin}.{request.name}"}

    async def _handle(self, connection: ServerConnection) -> None:
        if connection.request is None or connection.request.path != PATH:
            await connection.close(1008, "unknown path")
            return
        async for frame in connection:
            try:
                message = json.loads(frame)
            except ValueError:
                reply: dict[str, Any] = {"success": False, "reason": "bad json"}
            else:
                # openssl runs for create_pkcs7: off the loop's thread
                reply = await asyncio.to_thread(self.answer, message)
            await connection.send(json.dumps(reply))

    def start(self) -> EimzoAppStandIn:
        cert, key = self_signed(self.directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                self._server = await serve(self._handle, HOST, self.port, ssl=context)
            except OSError as exc:
                failure.append(exc)
                ready.set()
                return
            self._loop = asyncio.get_running_loop()
            ready.set()
            await self._server.wait_closed()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError(f"the E-IMZO stand-in cannot listen on {self.url}: {failure[0]}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(10)
