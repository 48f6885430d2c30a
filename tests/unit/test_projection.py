"""Projections redact, never skip."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from session_server.live.projection import Audience, audience_of, project

SPEAKERS: dict[str, Any] = {
    "current": {"request": 1, "deputy": 7, "topic": "Budget, article 4", "started_at": "t"},
    "queue": [
        {"request": 2, "deputy": 8, "topic": "A point of order", "requested_at": "t"},
        {"request": 3, "deputy": 9, "topic": "", "requested_at": "t"},
    ],
}


def test_roles_map_to_audiences() -> None:
    assert audience_of("viewer", None, 1) is Audience.PUBLIC
    assert audience_of("operator", 1, 1) is Audience.PUBLIC
    for role in ("deputy", "chair", "secretary", "admin"):
        assert audience_of(role, 1, 1) is Audience.MEMBER


def test_members_of_another_council_see_the_public_view() -> None:
    """A deputy's note to their chair is for their own council, not for every deputy."""
    for role in ("deputy", "chair", "secretary"):
        assert audience_of(role, 2, 1) is Audience.PUBLIC
        assert audience_of(role, None, 1) is Audience.PUBLIC
        assert audience_of(role, 1, None) is Audience.PUBLIC
    assert audience_of("admin", None, 1) is Audience.MEMBER


def test_public_sees_the_queue_without_topics_and_knows_they_were_removed() -> None:
    event = {"kind": "speakers.changed", "at": "t", "speakers": SPEAKERS}
    public = project(event, Audience.PUBLIC)
    assert public["kind"] == "speakers.changed"
    assert [e["deputy"] for e in public["speakers"]["queue"]] == [8, 9]
    assert all("topic" not in e for e in public["speakers"]["queue"])
    assert public["speakers"]["queue"][0]["redacted"] == ["topic"]
    assert "redacted" not in public["speakers"]["queue"][1]
    assert "topic" not in public["speakers"]["current"]
    assert public["speakers"]["current"]["deputy"] == 7


def test_members_see_everything_and_the_original_is_untouched() -> None:
    event = {"kind": "speakers.changed", "speakers": SPEAKERS}
    assert project(event, Audience.MEMBER) == event
    project(event, Audience.PUBLIC)
    assert SPEAKERS["queue"][0]["topic"] == "A point of order"


def test_events_without_private_sections_pass_unchanged() -> None:
    event = {"kind": "agenda.item_started", "item": 3, "agenda": {"current": 3, "items": []}}
    assert project(event, Audience.PUBLIC) == event


entries = st.fixed_dictionaries(
    {"request": st.integers(1), "deputy": st.integers(1), "topic": st.text(max_size=10)}
)


@given(st.lists(entries, max_size=6), st.one_of(st.none(), entries))
def test_projection_keeps_every_entry_and_key_but_topics(
    queue: list[dict[str, Any]], current: dict[str, Any] | None
) -> None:
    state = {"seq": 5, "speakers": {"current": current, "queue": queue}}
    public = project(state, Audience.PUBLIC)
    assert public["seq"] == 5
    assert len(public["speakers"]["queue"]) == len(queue)
    for seen, full in zip(public["speakers"]["queue"], queue, strict=True):
        assert {k: v for k, v in full.items() if k != "topic"} == {
            k: v for k, v in seen.items() if k != "redacted"
        }


def test_the_facts_of_an_event_are_redacted_as_its_sections_are() -> None:
    """speakers.changed says what happened on the floor, and events that end speeches
    list them: the topics in those facts are the council's too."""
    event = {
        "kind": "speakers.changed",
        "floor": {"action": "granted", "request": 2, "deputy": 8, "topic": "A point of order"},
        "speeches_ended": [
            {"request": 1, "deputy": 7, "topic": "Budget", "from": "t0", "to": "t1"},
            {"request": 4, "deputy": 5, "topic": "", "from": "t0", "to": "t1"},
        ],
        "speakers": SPEAKERS,
    }
    public = project(event, Audience.PUBLIC)
    assert public["floor"] == {
        "action": "granted",
        "request": 2,
        "deputy": 8,
        "redacted": ["topic"],
    }
    assert [s.get("topic") for s in public["speeches_ended"]] == [None, None]
    assert public["speeches_ended"][0]["redacted"] == ["topic"]
    assert public["speeches_ended"][1]["to"] == "t1"
    assert project(event, Audience.MEMBER) == event
