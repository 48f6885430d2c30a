"""Invariants of the tally over arbitrary reglaments, attendances and ballots."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from voting import (
    Ballot,
    CouncilRules,
    Majority,
    Motion,
    Outcome,
    recompute,
    tally,
    threshold,
)

majorities = st.builds(
    lambda d, n, base, strict, constant: Majority(
        numerator=n % (d + 1), denominator=d, base=base, strict=strict, constant=constant
    ),
    st.integers(1, 6),
    st.integers(0, 6),
    st.sampled_from(["seats", "present", "cast", "yes_no"]),
    st.booleans(),
    st.integers(-3, 3),
)


@dataclass(frozen=True)
class Vote:
    rules: CouncilRules
    rule: Majority
    present: int
    choices: dict[str, str | None]  # every eligible voter; None = did not vote
    chair_decision: str | None

    def run(self, order: list[str] | None = None) -> Outcome:
        voters = order if order is not None else list(self.choices)
        ballots = [Ballot(v, c) for v in voters if (c := self.choices[v]) is not None]
        return tally(
            Motion.yes_no(),
            self.rule,
            self.rules,
            frozenset(self.choices),
            self.present,
            ballots,
            self.chair_decision,
        )


@st.composite
def votes(draw: st.DrawFn) -> Vote:
    seats = draw(st.integers(1, 60))
    present = draw(st.integers(0, seats))
    eligible = draw(st.integers(0, present))
    options = st.sampled_from([None, "yes", "no", "abstain"])
    choices = {f"d{i:02}": draw(options) for i in range(eligible)}
    return Vote(
        rules=CouncilRules(seats=seats, ties=draw(st.sampled_from(["fails", "chair_decides"]))),
        rule=draw(majorities),
        present=present,
        choices=choices,
        chair_decision=draw(st.sampled_from([None, "yes", "no"])),
    )


@given(votes(), st.data())
def test_another_yes_never_undoes_adoption(vote: Vote, data: st.DataObject) -> None:
    convertible = [v for v, c in vote.choices.items() if c in (None, "no")]
    if not convertible:
        return
    voter = data.draw(st.sampled_from(convertible))
    more_yes = Vote(**{**vote.__dict__, "choices": {**vote.choices, voter: "yes"}})
    if vote.run().adopted:
        assert more_yes.run().adopted


@given(votes())
def test_counts_add_up_to_the_eligible(vote: Vote) -> None:
    out = vote.run()
    assert set(out.counts) == {"yes", "no", "abstain"}
    assert sum(out.counts.values()) + len(out.not_voted) == out.eligible == len(vote.choices)
    assert sum(out.counts.values()) == out.cast


@given(votes(), st.randoms(use_true_random=False))
def test_ballot_order_does_not_matter(vote: Vote, rnd: random.Random) -> None:
    order = list(vote.choices)
    rnd.shuffle(order)
    assert vote.run(order).to_dict() == vote.run().to_dict()


@given(votes())
def test_every_record_recomputes_and_a_flipped_result_does_not(vote: Vote) -> None:
    record = json.loads(json.dumps(vote.run().to_dict()))
    assert recompute(record)
    for other in {"adopted", "not_adopted", "pending_chair"} - {record["result"]}:
        assert not recompute({**record, "result": other})


@given(votes())
def test_adoption_means_threshold_met_and_more_yes_than_no_or_chair(vote: Vote) -> None:
    out = vote.run()
    yes, no = out.counts["yes"], out.counts["no"]
    if out.adopted:
        assert yes >= out.threshold
        assert yes > no or (out.tie and out.chair_decision == "yes")
    if out.result == "pending_chair":
        assert out.tie and vote.rules.ties == "chair_decides"


@given(majorities, st.integers(0, 1000), st.integers(0, 1000))
def test_threshold_is_monotone_in_base(rule: Majority, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert threshold(rule, low) <= threshold(rule, high)
    # One more in the base never needs more than one more yes (fractions are at most 1).
    assert threshold(rule, low + 1) <= threshold(rule, low) + 1


@st.composite
def elections(draw: st.DrawFn) -> tuple[Motion, Majority, CouncilRules, int, list[Ballot]]:
    candidates = tuple(f"c{i}" for i in range(draw(st.integers(1, 6))))
    motion = Motion.election(candidates, draw(st.integers(1, len(candidates) + 1)))
    seats = draw(st.integers(1, 40))
    present = draw(st.integers(0, seats))
    choose = st.lists(st.sampled_from(candidates), max_size=motion.max_choices, unique=True)
    ballots = [
        Ballot(f"d{i:02}", tuple(draw(choose))) for i in range(draw(st.integers(0, present)))
    ]
    return motion, draw(majorities), CouncilRules(seats=seats), present, ballots


@given(elections(), st.randoms(use_true_random=False))
def test_election_invariants(
    election: tuple[Motion, Majority, CouncilRules, int, list[Ballot]], rnd: random.Random
) -> None:
    motion, rule, rules, present, ballots = election
    eligible = frozenset(b.voter for b in ballots)
    out = tally(motion, rule, rules, eligible, present, ballots)
    assert recompute(json.loads(json.dumps(out.to_dict())))

    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    assert tally(motion, rule, rules, eligible, present, shuffled).to_dict() == out.to_dict()

    assert len(out.elected) <= motion.max_choices
    assert not set(out.elected) & set(out.tied)
    assert all(out.counts[c] >= out.threshold for c in out.elected + out.tied)
    if out.tied:
        # The level candidates would overfill the places, and each beats every loser.
        assert len(out.elected) + len(out.tied) > motion.max_choices
        assert len({out.counts[c] for c in out.tied}) == 1
    losers = [c for c in motion.candidates if c not in out.elected]
    for winner in out.elected:
        assert all(out.counts[winner] > out.counts[c] for c in losers)
    assert out.cast == len(ballots) and out.blank == sum(not b.choice for b in ballots)
