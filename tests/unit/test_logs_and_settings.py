from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from session_server.logs import RedactTokens
from session_server.settings import Settings


def test_tokens_in_websocket_paths_are_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws?token=eyJhbGciOi.abc-DEF_1&x=2"),
        None,
    )
    assert RedactTokens().filter(record)
    message = record.getMessage()
    assert "eyJhbGciOi" not in message and "x=2" not in message  # no /ws query at all
    assert message == '127.0.0.1:5 - "WebSocket /ws" [accepted]'


def test_production_refuses_demo_and_requires_a_shared_secret() -> None:
    key = "k" * 32
    with pytest.raises(ValidationError, match="KENGASH_DEMO=1 is refused"):
        Settings(environment="production", demo=True, secret_key=key)
    with pytest.raises(ValidationError, match="KENGASH_SECRET_KEY must be set"):
        Settings(environment="production")
    assert Settings(environment="production", secret_key=key).token_secret == key


def _uvicorn_line(path: str) -> str:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", path),
        None,
    )
    assert RedactTokens().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    "query",
    [
        "token=SECRET.sig",
        "tok%65n=SECRET.sig",  # Starlette decodes the name: this is `token` too
        "%74oken=SECRET.sig",
        "%74%6F%6B%65%6E=SECRET.sig",
        "x=1&%54OKEN=SECRET.sig",
    ],
)
def test_the_websocket_query_is_never_logged(query: str) -> None:
    message = _uvicorn_line(f"/ws?{query}")
    assert "SECRET" not in message and '"WebSocket /ws" [accepted]' in message


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/api/me?tok%65n=SECRET.sig&x=2", "/api/me?tok%65n=[redacted]&x=2"),
        ("/api/me?x=1&%74oken=SECRET.sig", "/api/me?x=1&%74oken=[redacted]"),
        ("/api/sessions?state=open", "/api/sessions?state=open"),
        ("/api/me?tokens=kept", "/api/me?tokens=kept"),
    ],
)
def test_token_parameters_elsewhere_are_redacted_whatever_their_spelling(
    path: str, logged: str
) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == f'127.0.0.1:5 - "GET {logged} HTTP/1.1" 200'


def test_production_wants_a_secret_key_of_32_bytes() -> None:
    with pytest.raises(ValidationError, match="KENGASH_SECRET_KEY must be at least 32 bytes"):
        Settings(environment="production", secret_key="x" * 31)
    # Bytes, not characters: 16 two-byte letters are 32 bytes.
    assert Settings(environment="production", secret_key="ʻ" * 16).token_secret == "ʻ" * 16
    # Development keeps taking any key (the test suite's is 15 bytes).
    assert Settings(environment="development", secret_key="test-secret-key").token_secret


def test_the_metrics_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KENGASH_METRICS_TOKEN", "scrape")
    assert Settings().metrics_token == "scrape"
