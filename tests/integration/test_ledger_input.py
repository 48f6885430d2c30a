"""Bad requests to the register and the ledger: a clear 400 or 404 with a code, and
nothing changes (the checkpoint stays the same)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Server


@pytest.fixture
def http(module_server: Server) -> httpx.Client:
    return httpx.Client(base_url=module_server.url)


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/ledger/proof/inclusion", {}, "bad_query"),
        ("/ledger/proof/inclusion", {"index": "0"}, "bad_query"),
        ("/ledger/proof/inclusion", {"index": "-1", "size": "1"}, "bad_query"),
        ("/ledger/proof/inclusion", {"index": "01", "size": "1"}, "bad_query"),
        ("/ledger/proof/inclusion", {"index": "1e3", "size": "1"}, "bad_query"),
        ("/ledger/proof/inclusion", {"index": "0", "size": "9" * 30}, "bad_query"),
        ("/ledger/proof/inclusion", {"index": "0", "size": "0"}, "out_of_range"),
        ("/ledger/proof/inclusion", {"index": "5", "size": "5"}, "out_of_range"),
        ("/ledger/proof/inclusion", {"index": "0", "size": "1000000"}, "out_of_range"),
        ("/ledger/proof/consistency", {"old": "2", "new": "1"}, "out_of_range"),
        ("/ledger/proof/consistency", {"old": "0", "new": "1000000"}, "out_of_range"),
        ("/ledger/proof/consistency", {"old": "x", "new": "1"}, "bad_query"),
        # Nineteen digits, past what a database integer holds (found by fuzzing: a 500).
        ("/ledger/proof/inclusion", {"index": "0", "size": "9223372036854775808"}, "out_of_range"),
        ("/ledger/proof/consistency", {"old": "9" * 19, "new": "9" * 19}, "out_of_range"),
        ("/api/decisions", {"q": "x" * 10_000}, "query_too_long"),
        ("/api/decisions", {"page": "0"}, "bad_query"),
        ("/api/decisions", {"page": "2"}, "page_out_of_range"),
        ("/api/decisions", {"per_page": "101"}, "bad_query"),
        ("/api/decisions", {"from": "2026-13-01"}, "bad_query"),
        ("/api/decisions", {"to": "yesterday"}, "bad_query"),
        ("/api/decisions", {"council": "-3"}, "bad_query"),
        ("/api/decisions", {"number": "\x01"}, "bad_query"),
        ("/api/sessions/1/minutes.pdf", {"lang": "de"}, "bad_query"),
    ],
)
def test_bad_queries_get_400_with_a_code(
    http: httpx.Client, path: str, params: dict[str, str], code: str
) -> None:
    before = http.get("/ledger/checkpoint").text
    answer = http.get(path, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    assert http.get("/ledger/checkpoint").text == before


@pytest.mark.parametrize(
    "path",
    [
        "/ledger/entries/1000000",
        "/ledger/entries/abc",
        "/ledger/entries/" + "9" * 40,
        "/ledger/entries/9223372036854775808",
        "/ledger/entries/" + "9" * 19,
        "/api/decisions/999999",
        "/api/decisions/999999/decision.pdf",
        "/api/decisions/999999/signature.p7s",
        "/api/decisions/999999/canonical.json",
        "/api/votes/999999/protocol.pdf",
        "/api/sessions/999999/minutes.pdf",
    ],
)
def test_what_is_not_there_is_404(http: httpx.Client, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "q", ['"', "*", "NEAR(a b)", "a OR b", "budjet:*", "-x", "'); DROP TABLE decisions;--", "ʻʻʻ"]
)
def test_odd_characters_in_a_search_are_only_separators(http: httpx.Client, q: str) -> None:
    answer = http.get("/api/decisions", params={"q": q})
    assert answer.status_code == 200, answer.text
    assert answer.json()["page"] == 1


def test_the_empty_ledger_has_a_signed_checkpoint(http: httpx.Client) -> None:
    import tlog

    vkey = http.get("/ledger/vkey").text.strip()
    note = http.get("/ledger/checkpoint").content
    checkpoint, names = tlog.open_checkpoint(note, [tlog.Verifier.from_vkey(vkey)])
    assert names and checkpoint.origin == "localhost/kengash-ledger"
