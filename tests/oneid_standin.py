"""A stand-in for One ID (sso.egov.uz) on 127.0.0.1, answering as One ID documents.

Everything is on one address, `/sso/oauth/Authorization.do`, as at One ID:

- `GET` with `response_type=one_code`, `client_id`, `redirect_uri`, `scope`, `state`:
  the authorisation page. The stand-in's person (`person`) "signs in" at once, and the
  browser is sent back to `redirect_uri?code=…&state=…`. A request One ID would not
  take (another response type, an unknown client, an unregistered redirect address, a
  wrong scope, no state) gets an HTML error page with 400, as One ID shows its own.
- `POST`, form-encoded (parameters in the query count too, as at One ID), with
  `grant_type=one_authorization_code`, `client_id`, `client_secret`, `redirect_uri`,
  `code`: `{access_token, refresh_token, expires_in, scope, token_type}`. A code is good
  once, for a minute, with the redirect address it was issued for.
- `POST` with `grant_type=one_access_token_identify`, `client_id`, `client_secret`,
  `access_token`, `scope`: the person, `{valid, pin, user_id, full_name, …}`.
- A refusal is HTTP 400 with `{"error": …, "error_description": …}`: `invalid_client`,
  `invalid_grant`, `invalid_token`, `invalid_scope`, `unsupported_grant_type`.

`script` (the next back-channel answers, as told) and `hang` (every back-channel request
waits until the stand-in stops) make it misbehave."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

PATH = "/sso/oauth/Authorization.do"
CODE_SECONDS = 60
TOKEN_SECONDS = 3600


@dataclass
class Seen:
    method: str
    query: dict[str, str]
    form: dict[str, str]
    content_type: str

    @property
    def params(self) -> dict[str, str]:
        return self.query | self.form


def person(pinfl: str | None, name: str = "Sinov Shaxs Sinovovich") -> dict[str, Any]:
    """What One ID tells about a person who signed in; no `pin` when `pinfl` is None."""
    surname, given, father = [*name.split(), "", "", ""][:3]
    answer: dict[str, Any] = {
        "valid": "true",
        "user_id": f"user{uuid.uuid4().hex[:8]}",
        "user_type": "I",
        "full_name": name,
        "sur_name": surname,
        "first_name": given,
        "mid_name": father,
        "birth_date": "1980-01-01",
        "pport_no": "AA1234567",
        "mob_phone_no": "998901234567",
        "email": "",
        "sess_id": uuid.uuid4().hex,
        "ret_cd": "0",
        "auth_method": "LOGINPASSMETHOD",
        "legal_info": [],
    }
    if pinfl is not None:
        answer["pin"] = pinfl
    return answer


@dataclass
class OneIdStandIn:
    client_id: str
    client_secret: str
    redirect_uri: str = ""  # the address registered for the client
    scope: str = ""  # the client's scope; empty: its id
    person: dict[str, Any] = field(default_factory=lambda: person("30101652600171"))
    hang: bool = False
    script: list[tuple[int, bytes]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    codes: dict[str, tuple[dict[str, Any], str, float]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{self.base}{PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def reset(self, who: dict[str, Any]) -> None:
        """Behave again, with `who` signing in."""
        self.person, self.hang = who, False
        self.script.clear()
        self.seen.clear()

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- HTTP ----------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query))
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        content_type = request.headers.get("Content-Type", "")
        form: dict[str, str] = {}
        if method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode()))
        seen = Seen(method, query, form, content_type)
        self.seen.append(seen)
        params = seen.params
        if parts.path != PATH:
            return _send(request, 404, b"<html>Not Found</html>", "text/html")
        if method == "GET":
            return self._authorise(request, params)
        if self.hang:
            self._released.wait(30)
            return None
        if self.script:
            status, answer = self.script.pop(0)
            return _send(request, status, answer, "application/json;charset=UTF-8")
        status, data = self._back_channel(params)
        return _send(request, status, json.dumps(data).encode(), "application/json;charset=UTF-8")

    def _authorise(self, request: BaseHTTPRequestHandler, params: dict[str, str]) -> None:
        checks = {
            "response_type": params.get("response_type") == "one_code",
            "client_id": params.get("client_id") == self.client_id,
            "redirect_uri": params.get("redirect_uri") == self.redirect_uri,
            "scope": params.get("scope") == (self.scope or self.client_id),
            "state": bool(params.get("state")),
        }
        problem = next((name for name, good in checks.items() if not good), None)
        if problem is not None:
            page = f"<html><body>OneID: invalid {problem}</body></html>".encode()
            return _send(request, 400, page, "text/html;charset=UTF-8")
        code = str(uuid.uuid4())
        with self._lock:
            self.codes[code] = (dict(self.person), params["redirect_uri"], time.time())
        back = f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params['state']})}"
        request.send_response(302)
        request.send_header("Location", back)
        request.send_header("Content-Length", "0")
        request.end_headers()
        return None

    def _back_channel(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if params.get("client_id") != self.client_id or (
            params.get("client_secret") != self.client_secret
        ):
            return _error("invalid_client", "client authentication failed")
        grant = params.get("grant_type")
        if grant == "one_authorization_code":
            with self._lock:
                issued = self.codes.pop(params.get("code", ""), None)
            if issued is None:
                return _error("invalid_grant", "the code is unknown or used")
            who, redirect_uri, at = issued
            if time.time() - at > CODE_SECONDS:
                return _error("invalid_grant", "the code has expired")
            if params.get("redirect_uri") != redirect_uri:
                return _error("invalid_grant", "redirect_uri does not match")
            access_token = str(uuid.uuid4())
            with self._lock:
                self.tokens[access_token] = who
            return 200, {
                "access_token": access_token,
                "refresh_token": str(uuid.uuid4()),
                "expires_in": TOKEN_SECONDS,
                "scope": self.scope or self.client_id,
                "token_type": "Bearer",
            }
        if grant == "one_access_token_identify":
            with self._lock:
                who_or_none = self.tokens.get(params.get("access_token", ""))
            if who_or_none is None:
                return _error("invalid_token", "the access token is unknown or expired")
            if params.get("scope") != (self.scope or self.client_id):
                return _error("invalid_scope", "the scope is not the client's")
            return 200, who_or_none
        return _error("unsupported_grant_type", f"grant_type {grant!r} is not supported")


def _error(code: str, description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": code, "error_description": description}


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    try:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    except OSError:
        pass  # the client gave up
