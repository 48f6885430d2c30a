"""The app's own middleware, in process: the last-resort JSON 500 and the headers on it."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import httpx
import pytest
import structlog

from session_server.app import create_app
from session_server.http import MAX_BODY
from session_server.settings import Settings


def _app(tmp_path: Path, **settings: object) -> httpx.AsyncClient:
    app = create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
            var_dir=tmp_path,
            secret_key="test-secret-key",
            **settings,  # type: ignore[arg-type]
        )
    )
    # raise_app_exceptions (the default): an error that escaped the app would fail here,
    # and uvicorn would have logged it a second time.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_an_unexpected_error_is_a_json_500_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _app(tmp_path) as client:
        app = client._transport.app  # type: ignore[attr-defined]

        def broken(*args: object, **kwargs: object) -> NoReturn:
            raise RuntimeError("the database is on fire")

        monkeypatch.setattr(app.state.db, "read", broken)
        with structlog.testing.capture_logs() as logged:
            response = await client.get("/api/councils?token=SECRET-TOKEN")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "internal"
    assert response.headers["x-content-type-options"] == "nosniff"
    errors = [entry for entry in logged if entry["event"] == "http_unhandled_error"]
    assert len(errors) == 1
    assert errors[0]["path"] == "/api/councils" and errors[0]["method"] == "GET"
    assert "SECRET-TOKEN" not in repr(logged)


async def test_a_streamed_body_is_not_read_past_the_limit(tmp_path: Path) -> None:
    """Straight through ASGI: the app stops asking for chunks once past MAX_BODY."""
    app = create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
            var_dir=tmp_path,
            secret_key="test-secret-key",
            demo=True,
        )
    )
    chunk = b" " * 4096
    pulled = 0

    async def receive() -> dict[str, object]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < 100_000}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/auth/demo",
        "raw_path": b"/api/auth/demo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert pulled == MAX_BODY // len(chunk) + 1  # the first chunk past the limit, no more
    headers = dict(sent[0]["headers"])  # type: ignore[call-overload]
    assert headers[b"connection"] == b"close"


async def test_a_declared_length_over_the_limit_reads_nothing(tmp_path: Path) -> None:
    async with _app(tmp_path, demo=True) as client:
        pulled = 0

        async def body() -> object:
            nonlocal pulled
            pulled += 1
            yield b"{}"

        response = await client.post(
            "/api/auth/demo",
            content=body(),  # type: ignore[arg-type]
            headers={"Content-Length": str(500_000_000)},
        )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert pulled == 0
