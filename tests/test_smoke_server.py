from __future__ import annotations

import httpx

from tests.conftest import Server


def test_server_serves_demo_sessions(live_server: Server) -> None:
    sessions = httpx.get(f"{live_server.url}/api/sessions").json()
    assert sessions[0]["state"] == "scheduled"
    assert sessions[0]["council"]["name"].startswith("Toshkent")
