"""The HTTP side: health, readiness, read API, demo sign-in, bad requests."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Server


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
