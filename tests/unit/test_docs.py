"""docs/protocol.md documents every command and every event kind the server has."""

from __future__ import annotations

import ast
from pathlib import Path

from session_server.commands import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def emitted_kinds() -> set[str]:
    """Event kinds named where events are made: `ctx.emit(KIND, …)`, `_emit_vote(ctx, KIND,
    …)`, and `eventlog.append(…, [(KIND, payload)], …)`."""
    kinds: set[str] = set()
    for path in (ROOT / "session_server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("emit", "_emit_vote"):
                candidates = node.args
            elif name == "append" and len(node.args) == 4:
                candidates = [
                    t.elts[0]
                    for a in node.args
                    if isinstance(a, ast.List)
                    for t in a.elts
                    if isinstance(t, ast.Tuple)
                ]
            else:
                continue
            kinds.update(
                c.value
                for c in candidates
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    return kinds


def test_every_command_has_a_section() -> None:
    missing = [name for name in REGISTRY if f"### `{name}`" not in PROTOCOL]
    assert not missing, f"document these commands in docs/protocol.md: {missing}"


def test_every_event_kind_has_a_section() -> None:
    kinds = emitted_kinds()
    assert {"session.scheduled", "vote.closed", "speakers.changed"} <= kinds
    missing = sorted(k for k in kinds if f"### `{k}`" not in PROTOCOL)
    assert not missing, f"document these event kinds in docs/protocol.md: {missing}"


OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_settings_table() -> None:
    from session_server.settings import Settings

    missing = [
        name
        for name in (f"KENGASH_{field.upper()}" for field in Settings.model_fields)
        if f"| `{name}` |" not in OPERATIONS
    ]
    assert not missing, f"document these settings in docs/operations.md: {missing}"


def test_every_close_code_is_in_the_close_codes_table() -> None:
    from session_server.live import connection

    codes = {
        value
        for name, value in vars(connection).items()
        if name.isupper() and isinstance(value, int) and 1000 <= value <= 4999
    }
    assert {1008, 1013, 4401, 4429} <= codes
    table = PROTOCOL.split("### Close codes", 1)[1].split("\n\n", 2)[1]
    missing = sorted(c for c in codes if f"| {c} |" not in table)
    assert not missing, f"document these close codes in docs/protocol.md: {missing}"
