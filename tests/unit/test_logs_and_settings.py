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
    assert "eyJhbGciOi" not in message and "token=[redacted]&x=2" in message


def test_production_refuses_demo_and_requires_a_shared_secret() -> None:
    with pytest.raises(ValidationError, match="KENGASH_DEMO=1 is refused"):
        Settings(environment="production", demo=True, secret_key="k")
    with pytest.raises(ValidationError, match="KENGASH_SECRET_KEY must be set"):
        Settings(environment="production")
    assert Settings(environment="production", secret_key="k").token_secret == "k"
