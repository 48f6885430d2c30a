"""Published ballots grouped by choice lose nothing and keep each key's choice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from session_server.published import by_choice, pairs

CHOICES = st.one_of(
    st.sampled_from(["yes", "no", "abstain"]),
    st.lists(st.sampled_from(["c1", "c2", "c3"]), unique=True, max_size=3).map(tuple),
)


@given(st.dictionaries(st.integers(1, 10_000), CHOICES))
def test_grouping_and_back_gives_every_ballot_once(ballots: dict[int, object]) -> None:
    grouped = by_choice(sorted(ballots.items()))
    back = pairs(grouped)
    assert len(back) == len(ballots)
    expected = {k: list(c) if isinstance(c, tuple) else c for k, c in ballots.items()}
    assert dict(back) == expected
    # Each choice appears once, and keys keep their order within it.
    assert len({str(choice) for choice, _ in grouped}) == len(grouped)
    assert all(keys == sorted(keys) for _, keys in grouped)


def test_the_published_shape() -> None:
    assert by_choice([(2, "yes"), (3, "no"), (4, "yes"), (7, ("c1", "c2"))]) == [
        ["yes", [2, 4]],
        ["no", [3]],
        [["c1", "c2"], [7]],
    ]
