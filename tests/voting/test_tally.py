"""Worked examples on the contract's demo council (35 seats)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from voting import (
    Ballot,
    BallotError,
    CouncilRules,
    Majority,
    Motion,
    Outcome,
    VoteKind,
    recompute,
    tally,
    threshold,
    validate_ballot,
)

DEMO = CouncilRules.model_validate(
    {
        "seats": 35,
        "quorum": {"numerator": 1, "denominator": 2, "strict": True},
        "vote_kinds": {
            "simple": {"numerator": 1, "denominator": 2, "base": "present", "strict": True},
            "absolute": {"numerator": 1, "denominator": 2, "base": "seats", "strict": True},
            "qualified": {"numerator": 2, "denominator": 3, "base": "seats", "strict": False},
            "election": {
                "numerator": 1,
                "denominator": 2,
                "base": "seats",
                "strict": True,
                "secret": True,
            },
        },
        "ties": "fails",
    }
)
CHAIR_DECIDES = DEMO.model_copy(update={"ties": "chair_decides"})
# At least half of yes+no: the kind of rule under which a tie can actually happen.
HALF_OF_YES_NO = Majority(numerator=1, denominator=2, base="yes_no", strict=False)

DEPUTIES = [f"d{i:02}" for i in range(1, 36)]


def vote(
    kind: str | Majority,
    present: int,
    yes: int = 0,
    no: int = 0,
    abstain: int = 0,
    rules: CouncilRules = DEMO,
    chair_decision: str | None = None,
) -> Outcome:
    """Everyone present may vote; the first deputies vote yes, then no, then abstain."""
    eligible = DEPUTIES[:present]
    choices = [*["yes"] * yes, *["no"] * no, *["abstain"] * abstain]
    ballots = [Ballot(voter, choice) for voter, choice in zip(eligible, choices, strict=False)]
    return tally(
        Motion.yes_no(), kind, rules, frozenset(eligible), present, ballots, chair_decision
    )


def elect(votes: dict[str, int], max_choices: int, present: int = 35, blank: int = 0) -> Outcome:
    """Ballots are filled round-robin so each candidate gets exactly `votes[c]` votes."""
    candidates = tuple(votes)
    motion = Motion.election(candidates, max_choices)
    remaining = dict(votes)
    ballots: list[Ballot] = []
    voters = iter(DEPUTIES[:present])
    while any(remaining.values()):
        chosen = sorted(remaining, key=lambda c: -remaining[c])[:max_choices]
        chosen = [c for c in chosen if remaining[c]]
        for c in chosen:
            remaining[c] -= 1
        ballots.append(Ballot(next(voters), tuple(chosen)))
    ballots += [Ballot(next(voters), ()) for _ in range(blank)]
    return tally(motion, "election", DEMO, frozenset(DEPUTIES[:present]), present, ballots)


# --- majorities of the demo council ------------------------------------------------------


def test_simple_majority_is_more_than_half_of_present() -> None:
    out = vote("simple", present=30, yes=16, no=14)
    assert (out.base_value, out.threshold, str(out.bound)) == (30, 16, "15")
    assert out.result == "adopted"
    assert vote("simple", present=30, yes=15, no=10, abstain=5).result == "not_adopted"


def test_simple_majority_with_odd_present_reports_exact_bound() -> None:
    out = vote("simple", present=35, yes=18)
    assert out.to_dict()["threshold_exact"] == "35/2"
    assert out.threshold == 18
    assert out.adopted
    # Abstentions and absent voters count against a base of `present`.
    assert vote("simple", present=35, yes=17, no=1, abstain=17).result == "not_adopted"


def test_absolute_majority_needs_18_whatever_the_attendance() -> None:
    for present in (18, 25, 35):
        out = vote("absolute", present=present, yes=18)
        assert (out.base_value, out.threshold) == (35, 18)
        assert out.adopted
    assert vote("absolute", present=20, yes=17, no=0).result == "not_adopted"


def test_qualified_majority_needs_24() -> None:
    out = vote("qualified", present=35, yes=24, no=11)
    assert (out.threshold, str(out.bound), out.result) == (24, "70/3", "adopted")
    assert vote("qualified", present=35, yes=23, no=0, abstain=12).result == "not_adopted"


def test_counts_name_every_option_and_who_did_not_vote() -> None:
    out = vote("simple", present=5, yes=2)
    assert dict(out.counts) == {"yes": 2, "no": 0, "abstain": 0}
    assert out.not_voted == ("d03", "d04", "d05")
    assert (out.cast, out.eligible, out.present, out.seats) == (2, 5, 5, 35)


def test_kind_may_be_given_by_rule_and_is_named_when_it_is_the_councils() -> None:
    assert vote(DEMO.vote_kinds["qualified"], present=35, yes=24).kind == "qualified"
    own = VoteKind(numerator=3, denominator=4, base="seats", strict=False)
    out = vote(own, present=35, yes=27)
    assert (out.kind, out.threshold, out.result) == (None, 27, "adopted")
    with pytest.raises(ValueError, match="unknown vote kind"):
        vote("constitutional", present=35)


def test_threshold_is_never_below_one() -> None:
    rule = Majority(numerator=1, denominator=2, base="cast", strict=False)
    assert threshold(rule, 0) == 1
    assert threshold(rule.model_copy(update={"constant": -5}), 4) == 1
    assert vote(rule, present=20).result == "not_adopted"


def test_more_no_than_yes_never_adopts_even_under_a_low_threshold() -> None:
    low = Majority(numerator=1, denominator=10, base="seats", strict=True)
    assert vote(low, present=35, yes=4, no=3).adopted
    assert vote(low, present=35, yes=4, no=5).result == "not_adopted"


def test_constant_is_added_to_the_bound() -> None:
    rule = Majority(numerator=1, denominator=2, base="present", strict=True, constant=2)
    out = vote(rule, present=30, yes=17)
    assert (str(out.bound), out.threshold, out.result) == ("17", 18, "not_adopted")


# --- ties --------------------------------------------------------------------------------


def test_tie_fails_under_fails_rule() -> None:
    out = vote(HALF_OF_YES_NO, present=20, yes=8, no=8, abstain=4)
    assert out.tie and out.threshold == 8
    assert out.result == "not_adopted"


def test_tie_waits_for_the_chair_under_chair_decides() -> None:
    out = vote(HALF_OF_YES_NO, present=20, yes=8, no=8, rules=CHAIR_DECIDES)
    assert (out.tie, out.result, out.chair_decision) == (True, "pending_chair", None)


@pytest.mark.parametrize(("decision", "result"), [("yes", "adopted"), ("no", "not_adopted")])
def test_chairs_casting_vote_breaks_the_tie(decision: str, result: str) -> None:
    out = vote(HALF_OF_YES_NO, 20, yes=8, no=8, rules=CHAIR_DECIDES, chair_decision=decision)
    assert (out.result, out.chair_decision) == (result, decision)
    assert recompute(out.to_dict())


def test_level_votes_below_threshold_are_no_tie_for_the_chair() -> None:
    # 10 for, 10 against out of 30 present: the simple majority (16) is not met.
    out = vote("simple", 30, yes=10, no=10, rules=CHAIR_DECIDES, chair_decision="yes")
    assert (out.tie, out.result, out.chair_decision) == (False, "not_adopted", None)


def test_chair_decision_is_ignored_without_a_tie() -> None:
    out = vote("simple", 30, yes=20, no=5, rules=CHAIR_DECIDES, chair_decision="no")
    assert (out.result, out.chair_decision) == ("adopted", None)
    with pytest.raises(ValueError, match="chair_decision"):
        vote("simple", 30, yes=20, rules=CHAIR_DECIDES, chair_decision="maybe")


# --- elections ---------------------------------------------------------------------------


def test_single_place_election() -> None:
    out = elect({"karimov": 20, "aliyeva": 10, "tosheva": 5}, max_choices=1)
    assert out.threshold == 18
    assert (out.elected, out.tied, out.result) == (("karimov",), (), "adopted")
    assert dict(out.counts) == {"karimov": 20, "aliyeva": 10, "tosheva": 5}


def test_election_where_nobody_reaches_the_threshold() -> None:
    out = elect({"a": 17, "b": 17}, max_choices=1)
    assert (out.elected, out.tied, out.result) == ((), (), "not_adopted")


def test_more_qualified_than_places_elects_the_top_ones() -> None:
    out = elect({"a": 19, "b": 22, "c": 25, "d": 3}, max_choices=2)
    assert (out.elected, out.tied, out.tie) == (("c", "b"), (), False)


def test_tie_at_the_cut_off_is_reported_not_resolved() -> None:
    out = elect({"a": 25, "b": 20, "c": 20}, max_choices=2)
    assert (out.elected, out.tied, out.tie, out.result) == (("a",), ("b", "c"), True, "adopted")
    out = elect({"a": 20, "b": 20, "c": 20}, max_choices=2)
    assert (out.elected, out.tied, out.result) == ((), ("a", "b", "c"), "not_adopted")


def test_level_candidates_who_all_fit_are_all_elected() -> None:
    out = elect({"a": 25, "b": 20, "c": 20}, max_choices=3)
    assert (out.elected, out.tied) == (("a", "b", "c"), ())


def test_blank_ballots_count_as_cast_but_not_for_yes_no_base() -> None:
    motion = Motion.election(("a", "b"), 1)
    ballots = [Ballot("d01", ("a",)), Ballot("d02", ("b",)), Ballot("d03", frozenset())]
    for base, value in (("cast", 3), ("yes_no", 2)):
        rule = Majority(numerator=1, denominator=2, base=base, strict=True)
        out = tally(motion, rule, DEMO, frozenset(DEPUTIES[:4]), 4, ballots)
        assert (out.cast, out.blank, out.base_value, out.not_voted) == (3, 1, value, ("d04",))
        assert recompute(out.to_dict())


# --- invalid ballots ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("motion", "choice", "code"),
    [
        (Motion.yes_no(), "maybe", "invalid_choice"),
        (Motion.yes_no(), ("yes",), "invalid_choice"),
        (Motion.election(("a", "b", "c"), 2), "a", "invalid_choice"),
        (Motion.election(("a", "b", "c"), 2), ("z",), "invalid_choice"),
        (Motion.election(("a", "b", "c"), 2), ("a", "a"), "duplicate_choice"),
        (Motion.election(("a", "b", "c"), 2), ("a", "b", "c"), "too_many_choices"),
        (Motion.election(("a", "b", "c"), 2), frozenset({"a", "b", "c"}), "too_many_choices"),
    ],
)
def test_invalid_choices(motion: Motion, choice: object, code: str) -> None:
    ballot = Ballot("d01", choice)  # type: ignore[arg-type]
    with pytest.raises(BallotError) as err:
        validate_ballot(motion, ballot)
    assert err.value.code == code
    with pytest.raises(BallotError):
        tally(motion, "simple", DEMO, frozenset({"d01"}), 1, [ballot])


def test_valid_election_ballot_is_normalised() -> None:
    motion = Motion.election(("a", "b", "c"), 2)
    assert validate_ballot(motion, Ballot("d01", ("b", "a"))) == frozenset({"a", "b"})
    assert validate_ballot(motion, Ballot("d01", ())) == frozenset()


def test_ballot_from_someone_not_eligible() -> None:
    with pytest.raises(BallotError) as err:
        tally(Motion.yes_no(), "simple", DEMO, frozenset({"d01"}), 2, [Ballot("d02", "yes")])
    assert err.value.code == "not_eligible"


def test_second_ballot_from_the_same_voter() -> None:
    ballots = [Ballot("d01", "yes"), Ballot("d01", "no")]
    with pytest.raises(BallotError) as err:
        tally(Motion.yes_no(), "simple", DEMO, frozenset({"d01"}), 1, ballots)
    assert err.value.code == "duplicate_ballot"


def test_bad_motions_and_attendance_are_refused() -> None:
    with pytest.raises(ValueError):
        Motion.election((), 1)
    with pytest.raises(ValueError):
        Motion.election(("a", "a"), 1)
    with pytest.raises(ValueError):
        Motion.election(("a",), 0)
    with pytest.raises(ValueError, match="present"):
        tally(Motion.yes_no(), "simple", DEMO, frozenset(DEPUTIES[:10]), 9, [])


# --- the published record ----------------------------------------------------------------


def test_record_is_json_and_recomputes() -> None:
    out = vote("qualified", present=30, yes=24, no=3, abstain=1)
    record = json.loads(json.dumps(out.to_dict()))
    assert record["rule"] == {
        "numerator": 2,
        "denominator": 3,
        "base": "seats",
        "strict": False,
        "constant": 0,
    }
    assert record["counts"] == {"yes": 24, "no": 3, "abstain": 1}
    assert record["not_voted"] == ["d29", "d30"]
    assert (record["threshold"], record["result"]) == (24, "adopted")
    assert recompute(record)
    election = json.loads(json.dumps(elect({"a": 25, "b": 20, "c": 20}, 2).to_dict()))
    assert election["motion"] == {
        "type": "election",
        "candidates": ["a", "b", "c"],
        "max_choices": 2,
    }
    assert recompute(election)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r.update(result="not_adopted"),
        lambda r: r.update(threshold=23),
        lambda r: r.update(threshold_exact="23"),
        lambda r: r["counts"].update(yes=23),
        lambda r: r["counts"].update(no=True),
        lambda r: r.update(eligible=31),
        lambda r: r.update(not_voted=["d30", "d29"]),
        lambda r: r.update(seats=20),
        lambda r: r["rule"].update(strict="yes"),
        lambda r: r.update(chair_decision="yes"),
        lambda r: r.pop("counts"),
        lambda r: r.update(motion={"type": "referendum"}),
    ],
)
def test_tampered_record_does_not_recompute(tamper: Callable[[dict[str, Any]], object]) -> None:
    record = vote("qualified", present=30, yes=24, no=3, abstain=1).to_dict()
    tamper(record)
    assert not recompute(record)


def test_tampered_election_record_does_not_recompute() -> None:
    record = elect({"a": 25, "b": 20, "c": 20}, 2).to_dict()
    assert recompute(record)
    assert not recompute({**record, "elected": ["a", "b"], "tied": []})
    assert not recompute({**record, "counts": {"a": 40, "b": 20, "c": 20}})
    assert not recompute({**record, "blank": 1})
