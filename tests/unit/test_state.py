"""The session state is a fold of the log; resuming anywhere gives the fresh-load state."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_server.live.state import SECTIONS, apply, fold, initial_state

section_values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)
events = st.lists(
    st.dictionaries(st.sampled_from(SECTIONS), section_values, min_size=1).map(
        lambda d: {"kind": "test.changed", "at": "2026-01-01T00:00:00Z", **d}
    ),
    max_size=30,
)


def numbered(evs: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(evs, start=1))


@given(events, st.data())
def test_resuming_from_any_seq_equals_fresh_fold(evs: list[dict[str, Any]], data: Any) -> None:
    log = numbered(evs)
    cut = data.draw(st.integers(0, len(log)))
    resumed = fold(log[:cut])
    for seq, event in log[cut:]:
        resumed = apply(resumed, seq, event)
    assert resumed == fold(log)
    assert resumed["seq"] == len(log)


@given(events)
def test_each_section_holds_the_last_value_sent(evs: list[dict[str, Any]]) -> None:
    state = fold(numbered(evs))
    for name in SECTIONS:
        sent = [e[name] for e in evs if name in e]
        assert state[name] == (sent[-1] if sent else None)


def test_an_event_out_of_order_is_refused() -> None:
    state = apply(initial_state(), 1, {"kind": "x", "session": {"id": 1}})
    with pytest.raises(ValueError, match="does not follow"):
        apply(state, 3, {"kind": "x"})
    with pytest.raises(ValueError):
        apply(state, 1, {"kind": "x"})


def test_apply_does_not_change_the_state_it_was_given() -> None:
    before = initial_state()
    after = apply(before, 1, {"kind": "x", "agenda": {"current": 2}})
    assert before["agenda"] is None and after["agenda"] == {"current": 2}
