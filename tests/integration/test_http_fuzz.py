"""Property-based fuzzing of the HTTP API from its own /openapi.json (schemathesis), on
SQLite and PostgreSQL. Whatever comes in, valid by the schema or not:

- never a 5xx;
- every 4xx is `{"error": {"code", "message"}}` with a code that docs/protocol.md's
  HTTP error table documents;
- nothing changes: the read API and the demo sign-in write nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from tests.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
# Enough to find the failures this suite was written for in a few seconds per backend;
# each run draws new cases.
EXAMPLES = 25


def documented_http_codes() -> set[str]:
    """The codes in the status/code table under "HTTP API" in docs/protocol.md."""
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = text.split("## HTTP API", 1)[1].split("Errors have one shape", 1)[1]
    codes: set[str] = set()
    for line in table.splitlines():
        row = re.match(r"\|\s*(?:\d{3}|any)\s*\|([^|]+)\|", line)
        if row:
            codes.update(re.findall(r"`([a-z_]+)`", row[1]))
    return codes


CODES = documented_http_codes()

# WHIP takes its offer as application/sdp: generated strings go as they are.
schemathesis.serializer.alias("application/sdp", "text/plain")


def check(case: Case[Any], response: Any) -> None:
    where = f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
    status = response.status_code
    assert status < 500, f"{status} for {where}: {response.text[:300]}"
    if status >= 400:
        body = response.json()
        assert set(body) == {"error"}, where
        assert set(body["error"]) == {"code", "message"}, where
        assert isinstance(body["error"]["message"], str), where
        assert body["error"]["code"] in CODES, f"undocumented {body['error']['code']}: {where}"


def fuzz(operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, **fixed: Any) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case: Case[Any]) -> None:
        check(case, case.call())

    run()


def state(base: str) -> dict[str, Any]:
    """What a request must not change: the session's log position, the listings."""
    return {
        path: httpx.get(f"{base}{path}").json()
        for path in ("/api/sessions/1", "/api/sessions", "/api/councils", "/api/councils/1")
    }


def test_the_documented_codes_are_read() -> None:
    assert {"not_found", "bad_query", "invalid_json", "too_large", "internal"} <= CODES


def test_fuzzing_the_http_api_finds_no_server_error(module_server: Server) -> None:
    base = module_server.url
    before = state(base)
    assert before["/api/sessions/1"]["seq"] == 1
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 11, "every operation in /openapi.json parses"
    deputy = {"Authorization": f"Bearer {module_server.token('deputy05')}"}
    for operation in operations:
        fuzz(operation, GenerationMode.POSITIVE)
        # As a signed-in deputy too: /api/me, the ballot and PINFL paths then run further.
        fuzz(operation, GenerationMode.POSITIVE, headers=deputy)
        if operation.path_parameters or operation.query or operation.body:
            fuzz(operation, GenerationMode.NEGATIVE)
    assert state(base) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/2147483648",
        "/api/sessions?council=2147483648",
        "/api/votes/-1",
        "/api/councils/1.5",
    ],
)
def test_what_the_fuzzer_sends_out_of_range_gets_a_documented_code(
    module_server: Server, path: str
) -> None:
    response = httpx.get(f"{module_server.url}{path}")
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] in CODES
