"""A session's state as a fold of its event log. Pure: no I/O.

Every event carries the new value of each state section it changes, so applying an
event is replacing sections. The browser's reducer (static/js/state.js) does the same
thing, which is what makes "resume from seq" and "fresh load" show the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Event = dict[str, Any]
State = dict[str, Any]

# The state sections; an event key with one of these names replaces that section.
SECTIONS: tuple[str, ...] = (
    "session",
    "council",
    "rules",
    "deputies",
    "agenda",
    "attendance",
    "speakers",
    "vote",  # the current or latest vote of the sitting
    "votes",  # every vote of the sitting, in short
    "broadcast",  # on air or not: {live, source, since}
    "audience",  # how many watch: {watching, webrtc, hls}
)


def initial_state() -> State:
    return {"seq": 0, **{name: None for name in SECTIONS}}


def apply(state: State, seq: int, event: Mapping[str, Any]) -> State:
    """The state after `event`, which must be the next one (`seq == state["seq"] + 1`)."""
    if seq != state["seq"] + 1:
        raise ValueError(f"event {seq} does not follow {state['seq']}")
    new = dict(state)
    for name in SECTIONS:
        if name in event:
            new[name] = event[name]
    new["seq"] = seq
    return new


def fold(events: Iterable[tuple[int, Mapping[str, Any]]]) -> State:
    state = initial_state()
    for seq, event in events:
        state = apply(state, seq, event)
    return state
