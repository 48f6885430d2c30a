"""`GET /api/users`: the users who may sign in, with their open sign-ins, for the
secretariat (its own council) and admins (any or all). On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Server

COLUMNS = {"id", "login", "role", "name", "council_id", "deputy_id", "removed", "open_sign_ins"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(http: httpx.AsyncClient, login: str) -> str:
    answer = await http.post("/api/auth/demo", json={"login": login})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


async def users(http: httpx.AsyncClient, token: str, **params: str) -> list[dict[str, Any]]:
    answer = await http.get("/api/users", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


async def test_who_sees_which_users_and_their_open_sign_ins(live_server: Server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        secretary, admin = await sign_in(http, "secretary"), await sign_in(http, "admin")
        council = (await http.get("/api/me", headers=bearer(secretary))).json()["council_id"]
        own = await users(http, secretary)
        assert own and all(set(u) == COLUMNS for u in own)  # no PINFL
        assert {u["council_id"] for u in own} == {council}
        assert [u["id"] for u in own] == sorted(u["id"] for u in own)
        assert await users(http, secretary, council=str(council)) == own
        by_login = {u["login"]: u for u in own}
        deputy05 = by_login["deputy05"]
        assert deputy05["role"] == "deputy" and isinstance(deputy05["deputy_id"], int)
        assert deputy05["removed"] is False and deputy05["open_sign_ins"] == 0
        assert by_login["secretary"]["open_sign_ins"] == 1
        assert "admin" not in by_login  # staff of no council

        # Two sign-ins open, one signed out: one counts.
        first, second = await sign_in(http, "deputy05"), await sign_in(http, "deputy05")
        await sign_in(http, "deputy06")
        assert (await http.post("/api/auth/sign-out", headers=bearer(second))).status_code == 204
        counts = {u["login"]: u["open_sign_ins"] for u in await users(http, secretary)}
        assert counts["deputy05"] == 1 and counts["deputy06"] == 1

        # The admin sees every user, or one council's.
        everyone = await users(http, admin)
        assert {u["login"] for u in everyone} >= {*by_login, "admin"}
        assert await users(http, admin, council=str(council)) == await users(http, secretary)
        assert await users(http, admin, council="999999") == []

        # Ending deputy05's sign-ins brings the count to 0.
        ended = await http.post(
            f"/api/users/{deputy05['id']}/sign-ins/end",
            json={"reason": "lost_tablet"},
            headers=bearer(secretary),
        )
        assert ended.json() == {"user": deputy05["id"], "ended": 1}, ended.text
        counts = {u["login"]: u["open_sign_ins"] for u in await users(http, secretary)}
        assert counts["deputy05"] == 0 and counts["deputy06"] == 1
        assert (await http.get("/api/me", headers=bearer(first))).status_code == 401


async def test_refusals(live_server: Server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        secretary = await sign_in(http, "secretary")
        council = (await http.get("/api/me", headers=bearer(secretary))).json()["council_id"]
        for login in ("deputy05", "chair", "operator"):
            answer = await http.get("/api/users", headers=bearer(await sign_in(http, login)))
            assert answer.status_code == 403, (login, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
        viewer = await http.get("/api/users")
        assert (viewer.status_code, viewer.json()["error"]["code"]) == (403, "forbidden")
        other = await http.get(
            "/api/users", params={"council": str(council + 1)}, headers=bearer(secretary)
        )
        assert (other.status_code, other.json()["error"]["code"]) == (403, "forbidden")
        for token in ("nonsense", secretary[:-2] + "xx"):
            answer = await http.get("/api/users", headers=bearer(token))
            assert answer.status_code == 401, answer.text
        admin = await sign_in(http, "admin")
        for bad in ("0", "-1", "x", "1.5", "2147483648", "", "9" * 400):
            for token in (admin, secretary):
                answer = await http.get(
                    "/api/users", params={"council": bad}, headers=bearer(token)
                )
                assert answer.status_code == 400, (bad, answer.text)
                assert answer.json()["error"]["code"] == "bad_query", bad
        # A signed-out token is refused with 401 signed_out.
        assert (await http.post("/api/auth/sign-out", headers=bearer(admin))).status_code == 204
        answer = await http.get("/api/users", headers=bearer(admin))
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "signed_out")
