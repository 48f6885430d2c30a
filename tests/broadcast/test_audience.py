"""Counting HLS players by their playlist fetches."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broadcast.audience import Count, HlsPlayers


def test_players_are_the_distinct_clients_of_the_window() -> None:
    players = HlsPlayers(window=10)
    for second in range(5):
        players.fetched(1, "a", second)
        players.fetched(1, "b", second)
    players.fetched(2, "a", 4)
    assert players.count(1, 5) == 2 and players.count(2, 5) == 1
    # b stops fetching: gone after the window.
    players.fetched(1, "a", 12)
    assert players.count(1, 13.9) == 2 and players.count(1, 14.5) == 1
    assert players.count(1, 30) == 0 and players.sessions() == [2]


def test_the_count_is_bounded() -> None:
    players = HlsPlayers(window=10, max_clients=3)
    for n in range(10):
        players.fetched(1, str(n), 0)
    assert players.count(1, 1) == 3
    # Old ones make room.
    players.fetched(1, "new", 11)
    assert players.count(1, 11) == 1


def test_count_adds_up() -> None:
    assert Count(webrtc=2, hls=5).watching == 7


@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 100)), max_size=60))
def test_the_count_is_what_a_naive_count_says(fetches: list[tuple[int, float]]) -> None:
    players = HlsPlayers(window=10)
    fetches.sort(key=lambda f: f[1])
    for client, at in fetches:
        players.fetched(1, str(client), at)
    now = fetches[-1][1] if fetches else 0.0
    last: dict[int, float] = {}
    for client, at in fetches:
        last[client] = at
    assert players.count(1, now) == sum(1 for at in last.values() if now - at < 10)
