from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voting import CouncilRules, QuorumRule, quorum_status


def test_more_than_half_of_35_seats_is_18() -> None:
    rules = CouncilRules(seats=35)
    assert quorum_status(17, rules).met is False
    assert quorum_status(18, rules) == quorum_status(18, rules)
    assert quorum_status(18, rules).met and quorum_status(18, rules).needed == 18


def test_more_than_half_of_an_even_council() -> None:
    assert quorum_status(20, CouncilRules(seats=40)).met is False
    assert quorum_status(21, CouncilRules(seats=40)).needed == 21


def test_at_least_two_thirds() -> None:
    rules = CouncilRules(seats=30, quorum=QuorumRule(numerator=2, denominator=3, strict=False))
    assert quorum_status(20, rules).needed == 20
    assert not quorum_status(19, rules).met


@given(
    st.integers(1, 500),
    st.integers(1, 12),
    st.integers(1, 12),
    st.booleans(),
    st.integers(0, 500),
)
def test_needed_is_the_exact_least_number(
    seats: int, a: int, b: int, strict: bool, present: int
) -> None:
    num, den = min(a, b), max(a, b)
    rules = CouncilRules(
        seats=seats, quorum=QuorumRule(numerator=num, denominator=den, strict=strict)
    )
    status = quorum_status(present, rules)

    def meets(n: int) -> bool:  # n/seats against num/den, cross-multiplied
        return n * den > seats * num if strict else n * den >= seats * num

    assert status.met == meets(present)
    assert meets(status.needed) and not meets(status.needed - 1)
