"""The HTTP side: health, readiness, read API, demo sign-in, bad requests, limits,
safety headers, /metrics protection, tokens kept out of the log."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from session_server.http import MAX_BODY
from session_server.middleware import CONTENT_SECURITY_POLICY
from tests.conftest import Server, free_port, seed_demo, server_env, start_server

HUGE = "9" * 5000  # int() of this many digits raises in Python 3.11
ID_PATHS = [
    "/api/councils/{}",
    "/api/councils/{}/deputies",
    "/api/sessions/{}",
    "/api/votes/{}",
    "/api/votes/{}/protocol.json",
    "/api/votes/{}/protocol.csv",
]


def test_health_readiness_metrics_openapi(module_server: Server) -> None:
    base = module_server.url
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
    assert "kengash_commands_total" in httpx.get(f"{base}/metrics").text
    spec = httpx.get(f"{base}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/sessions", "/api/councils/{id}", "/api/auth/demo"} <= set(spec["paths"])


def test_read_api(module_server: Server) -> None:
    base = module_server.url
    councils = httpx.get(f"{base}/api/councils").json()
    assert councils[0]["seats"] == 35 and councils[0]["deputies"] == 33
    council = httpx.get(f"{base}/api/councils/{councils[0]['id']}").json()
    assert council["rules"]["vote_kinds"]["qualified"]["numerator"] == 2
    deputies = httpx.get(f"{base}/api/councils/{council['id']}/deputies").json()
    assert len(deputies) == 33 and "pinfl" not in deputies[0]
    session = httpx.get(f"{base}/api/sessions/1").json()
    assert len(session["agenda"]) == 6 and session["seq"] == 1
    assert httpx.get(f"{base}/api/sessions", params={"state": "scheduled"}).json()[0]["id"] == 1
    assert httpx.get(f"{base}/api/sessions", params={"state": "closed"}).json() == []


def test_pinfl_is_for_the_secretariat_only(module_server: Server) -> None:
    base = module_server.url
    for login, sees in (
        ("secretary", True),
        ("admin", True),
        ("deputy05", False),
        ("chair", False),
    ):
        headers = {"Authorization": f"Bearer {module_server.token(login)}"}
        deputies = httpx.get(f"{base}/api/councils/1/deputies", headers=headers).json()
        assert ("pinfl" in deputies[0]) is sees, login


def test_demo_sign_in_gives_a_token_for_the_role(module_server: Server) -> None:
    answer = httpx.post(f"{module_server.url}/api/auth/demo", json={"login": "chair"}).json()
    assert answer["user"]["role"] == "chair" and answer["user"]["deputy_id"] == 1
    me = httpx.get(
        f"{module_server.url}/api/me", headers={"Authorization": f"Bearer {answer['token']}"}
    ).json()
    assert me["role"] == "chair"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/councils/999", None, 404, "not_found"),
        ("GET", "/api/sessions/999", None, 404, "not_found"),
        ("GET", "/api/sessions?state=lost", None, 400, "bad_query"),
        ("GET", "/api/sessions?council=x", None, 400, "bad_query"),
        # "²" passes str.isdigit(), then int() refuses it
        ("GET", "/api/sessions?council=%C2%B2", None, 400, "bad_query"),
        ("GET", "/api/sessions?council=99999999999999999999", None, 400, "bad_query"),
        ("GET", "/api/sessions?council=2147483648", None, 400, "bad_query"),
        ("GET", "/api/sessions?council=0", None, 400, "bad_query"),
        ("GET", "/api/sessions?council=-1", None, 400, "bad_query"),
        ("GET", f"/api/sessions?council={HUGE}", None, 400, "bad_query"),
        # json nests by recursion: this used to be a RecursionError and a 500
        ("POST", "/api/auth/demo", b"[" * 5000 + b"]" * 5000, 422, "invalid_body"),
        ("POST", "/api/auth/demo", b'{"login": ' * 5000, 422, "invalid_body"),
        ("POST", "/api/auth/demo", b"[" * 33 + b"]" * 33, 422, "invalid_body"),
        # PostgreSQL cannot store U+0000: refused where it comes in, on both databases.
        ("POST", "/api/auth/demo", b'{"login": "a\\u0000"}', 422, "invalid_body"),
        ("POST", "/api/auth/demo", b'{"login": NaN}', 400, "invalid_json"),
        ("POST", "/api/auth/demo", b"\xff\xfe\x00", 400, "invalid_json"),
        ("POST", "/api/auth/demo", b"{oops", 400, "invalid_json"),
        ("POST", "/api/auth/demo", b'{"login": 5}', 422, "invalid_body"),
        ("POST", "/api/auth/demo", b'{"login": "chair", "role": "admin"}', 422, "invalid_body"),
        ("POST", "/api/auth/demo", b'{"login": "nobody"}', 404, "unknown_login"),
        ("POST", "/api/auth/demo", b"x" * 70_000, 413, "too_large"),
        ("GET", "/api/me?token=forged", None, 401, "bad_token"),
        ("DELETE", "/api/sessions/1", None, 405, "http_error"),
    ],
)
def test_bad_requests_get_clear_errors(
    module_server: Server, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    response = httpx.request(method, f"{module_server.url}{path}", content=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_pages_are_served(module_server: Server) -> None:
    for path in ("/", "/watch/1", "/deputy", "/chair"):
        response = httpx.get(f"{module_server.url}{path}")
        assert response.status_code == 200 and "<html" in response.text.lower(), path


@pytest.mark.parametrize("path", ID_PATHS)
@pytest.mark.parametrize(
    "number",
    ["2147483648", "9223372036854775808", "99999999999999999999", HUGE, "0"],
)
def test_ids_no_row_can_have_are_not_found(module_server: Server, path: str, number: str) -> None:
    """Past PostgreSQL's INTEGER (and SQLite's 64 bits) the query used to fail: a 500."""
    response = httpx.get(f"{module_server.url}{path.format(number)}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_my_ballot_in_a_vote_no_row_can_have(module_server: Server) -> None:
    headers = {"Authorization": f"Bearer {module_server.token('deputy05')}"}
    for number in ("2147483648", "9223372036854775808"):
        response = httpx.get(f"{module_server.url}/api/votes/{number}/mine", headers=headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path", ["/", "/watch/1", "/chair", "/static/css/app.css", "/api/councils", "/nowhere"]
)
def test_every_answer_has_the_browser_safety_headers(module_server: Server, path: str) -> None:
    headers = httpx.get(f"{module_server.url}{path}").headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_scripts_or_styles() -> None:
    """What the Content-Security-Policy would block: inline <script>, <style>, style=
    and on…= attributes in the pages, and style attributes set from the scripts."""
    static = Path(__file__).resolve().parents[2] / "static"
    for page in static.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<style" not in html and " style=" not in html, page.name
        assert "<script>" not in html and " onload=" not in html, page.name
        for line in html.splitlines():
            if "<script" in line:
                assert 'src="/static/' in line, (page.name, line)
    for script in static.rglob("*.js"):
        js = script.read_text(encoding="utf-8")
        assert 'setAttribute("style"' not in js and ".innerHTML" not in js, script.name


# --- bodies are refused as soon as they pass MAX_BODY ---------------------------------


def _exchange(port: int, head: bytes, chunks: Iterator[bytes]) -> bytes:
    """Send `head`, then `chunks` until the server stops taking them (it closes the
    connection once it has refused the body), then read the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # reset by the server: it will not read any more
                break
        # What the server sent before closing is still there to read.
        return sock.makefile("rb").readline()


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_a_streamed_body_is_refused_once_past_the_limit(module_server: Server) -> None:
    chunk = b"7" * 16384
    total = 8192  # 128 MiB, if the server read it all
    pulled = 0

    def body() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(total):
            pulled += 1
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        yield b"0\r\n\r\n"

    head = (
        b"POST /api/auth/demo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status = _exchange(_port(module_server), head, body())
    assert status.startswith(b"HTTP/1.1 413"), status
    # The server stopped reading long before the end: only what the sockets' buffers
    # hold (a few MiB) went out after the first 64 KiB.
    assert pulled < total
    assert httpx.get(f"{module_server.url}/healthz").status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    module_server: Server,
) -> None:
    head = (
        b"POST /api/auth/demo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 500000000\r\n\r\n"
    )
    # Not one byte of the body is sent: an answer can only come from the header.
    status = _exchange(_port(module_server), head, iter([]))
    assert status.startswith(b"HTTP/1.1 413"), status


def test_a_body_at_the_limit_is_read(module_server: Server) -> None:
    body = b'{"login": "chair"' + b" " * (MAX_BODY - 18) + b"}"
    assert len(body) == MAX_BODY
    response = httpx.post(f"{module_server.url}/api/auth/demo", content=body)
    assert response.status_code == 200, response.text


# --- servers of their own: /metrics protection, production, the log -----------------

LONG_SECRET = "a-production-secret-key-of-48-bytes-0123456789ab"


@pytest.fixture(scope="module")
def sqlite_demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'kengash.db'}"
    seed_demo(url)
    return url


def _serve(url: str, tmp_path: Path, **extra: str) -> Server:
    return start_server(server_env(url, tmp_path, **extra), tmp_path / "server.log")


def test_metrics_want_their_token_when_one_is_set(sqlite_demo_url: str, tmp_path: Path) -> None:
    server = _serve(sqlite_demo_url, tmp_path, KENGASH_METRICS_TOKEN="scrape-me-0123456789")
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"}):
            refused = httpx.get(f"{server.url}/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["error"]["code"] == "bad_token"
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "kengash_commands_total" not in refused.text
        scraped = httpx.get(
            f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}
        )
        assert scraped.status_code == 200 and "kengash_commands_total" in scraped.text
    finally:
        server.kill()


def test_production_serves_no_open_metrics_and_no_demo_sign_in(
    sqlite_demo_url: str, tmp_path: Path
) -> None:
    production = {
        "KENGASH_ENVIRONMENT": "production",
        "KENGASH_DEMO": "0",
        "KENGASH_SECRET_KEY": LONG_SECRET,
    }
    server = _serve(sqlite_demo_url, tmp_path, **production)
    try:
        hidden = httpx.get(f"{server.url}/metrics")
        assert hidden.status_code == 404 and "kengash_" not in hidden.text
        assert hidden.json()["error"]["code"] == "http_error"  # as if there were no /metrics
        demo = httpx.post(f"{server.url}/api/auth/demo", json={"login": "admin"})
        assert demo.status_code == 404 and demo.json()["error"]["code"] == "demo_off"
    finally:
        server.kill()
    server = _serve(
        sqlite_demo_url, tmp_path, **production, KENGASH_METRICS_TOKEN="scrape-me-0123456789"
    )
    try:
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        scraped = httpx.get(
            f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}
        )
        assert scraped.status_code == 200 and "kengash_websockets" in scraped.text
    finally:
        server.kill()


def test_tokens_stay_out_of_the_log_however_the_query_spells_them(
    sqlite_demo_url: str, tmp_path: Path
) -> None:
    server = _serve(sqlite_demo_url, tmp_path, KENGASH_LOG_LEVEL="INFO")
    try:
        token = server.token("chair")
        # Starlette decodes the query, so each of these authenticates as the chair.
        spellings = [f"tok%65n={token}", f"%74oken={token}", f"x=1&%74%6F%6B%65%6E={token}"]
        for query in spellings:
            me = httpx.get(f"{server.url}/api/me?{query}").json()
            assert me["role"] == "chair", query

        async def open_sockets() -> None:
            for query in [*spellings, f"token={token}"]:
                async with connect(f"{server.ws_url}?{query}") as ws:
                    await ws.send('{"type":"ping"}')
                    assert '"pong"' in str(await ws.recv())

        asyncio.run(open_sockets())
    finally:
        server.kill()
    log = server.log.read_text()
    assert '"WebSocket /ws" [accepted]' in log  # the lines are there, without the query
    assert token not in log
    assert token.split(".")[-1] not in log  # not even the signature


async def test_readiness_does_not_repeat_the_drivers_message(tmp_path: Path) -> None:
    """A driver's error names hosts, users and databases: the log gets it, not the answer."""
    from session_server.app import create_app
    from session_server.settings import Settings

    url = f"postgresql+asyncpg://kengash_reader:{'s3cret'}@127.0.0.1:{free_port()}/nowhere"
    app = create_app(Settings(database_url=url, var_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "reason": "the database does not answer"}
    assert not any(word in answer.text for word in ("kengash_reader", "127.0.0.1", "nowhere"))
