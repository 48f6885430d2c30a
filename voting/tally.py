"""Count a closed vote and decide its outcome under the council's reglament.

The outcome record names the rule, the base, the threshold and every count, so that a
citizen can recompute the result from `Outcome.to_dict()` alone (see `recompute`).

Decision rules (yes/no/abstain):
- `threshold` is the least whole number of yes votes satisfying
  `yes > n/d × base + constant` (strict) or `yes ≥ …` (not strict), and never less than 1:
  no reglament adopts a motion nobody voted for.
- Adopted needs the threshold met AND more yes than no. More no than yes never adopts,
  even under a (rare) rule whose threshold is below half.
- A tie is yes == no with the threshold met; when the threshold is not met the threshold
  alone has decided, and nothing is left for a tie rule. With `ties: fails` a tie is not
  adopted. With `chair_decides` the outcome is `pending_chair` until the chair gives a
  casting vote; "yes" adopts, "no" does not. The casting vote only breaks the tie, it
  never makes up a missing threshold (a tie can only occur once yes votes alone have met
  it), so a qualified majority cannot be reached through the chair.

Elections: each candidate is judged on their own votes against the same threshold. The
bases are `cast` = ballots handed in (blank ones included) and `yes_no` = non-blank
ballots. If more candidates reach the threshold than there are places (`max_choices`),
those with most votes are elected; candidates level at the cut-off who would not all fit
are reported in `tied` and not elected (a run-off is the council's next step). The tie
rule and the chair's casting vote do not apply to elections.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

from voting.ballots import ABSTAIN, NO, YES, Ballot, BallotError, Motion, validate_ballot
from voting.rules import CouncilRules, Majority, TieRule

Result = Literal["adopted", "not_adopted", "pending_chair"]


def majority_bound(rule: Majority, base_value: int) -> Fraction:
    """The exact value yes votes must exceed (strict) or reach: n/d × base + constant."""
    return Fraction(rule.numerator, rule.denominator) * base_value + rule.constant


def threshold(rule: Majority, base_value: int) -> int:
    """The least number of yes votes that meets the rule (at least 1)."""
    bound = majority_bound(rule, base_value)
    least = math.floor(bound) + 1 if rule.strict else math.ceil(bound)
    return max(1, least)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str | None  # the vote kind's name in the reglament, when known
    rule: Majority
    ties: TieRule
    motion: Motion
    seats: int
    present: int
    eligible: int
    not_voted: tuple[str, ...]  # eligible voters without a ballot, sorted
    cast: int  # ballots handed in, abstentions and blank election ballots included
    counts: Mapping[str, int]  # every option (or candidate), zeros included
    blank: int  # empty election ballots; 0 for yes/no/abstain
    base_value: int
    bound: Fraction
    threshold: int
    tie: bool
    chair_decision: str | None  # kept only when it decided a tie
    result: Result
    elected: tuple[str, ...]  # elections: by votes, then ballot-paper order
    tied: tuple[str, ...]  # elections: level at the cut-off, not elected

    @property
    def adopted(self) -> bool:
        return self.result == "adopted"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record from which `recompute` can re-derive the result."""
        rule = self.rule
        record: dict[str, Any] = {
            "kind": self.kind,
            "rule": {
                "numerator": rule.numerator,
                "denominator": rule.denominator,
                "base": rule.base,
                "strict": rule.strict,
                "constant": rule.constant,
            },
            "ties": self.ties,
            "motion": {"type": "yes_no"},
            "seats": self.seats,
            "present": self.present,
            "eligible": self.eligible,
            "not_voted": list(self.not_voted),
            "cast": self.cast,
            "counts": dict(self.counts),
            "base_value": self.base_value,
            "threshold_exact": str(self.bound),
            "threshold": self.threshold,
            "tie": self.tie,
            "chair_decision": self.chair_decision,
            "result": self.result,
        }
        if self.motion.is_election:
            record["motion"] = {
                "type": "election",
                "candidates": list(self.motion.candidates),
                "max_choices": self.motion.max_choices,
            }
            record["blank"] = self.blank
            record["elected"] = list(self.elected)
            record["tied"] = list(self.tied)
        return record


def tally(
    motion: Motion,
    kind: Majority | str,
    rules: CouncilRules,
    eligible: Set[str],
    present: int,
    ballots: Iterable[Ballot],
    chair_decision: str | None = None,
) -> Outcome:
    """Count `ballots` and decide the outcome (rules in the module docstring).

    `kind` is a majority rule or the name of one of `rules.vote_kinds`. `eligible` holds the
    deputies present and allowed to vote; `present` is the registered-present count.
    Ballots must already be final (one per voter): a voter outside `eligible` raises
    BallotError("not_eligible"), a second ballot BallotError("duplicate_ballot"), and a bad
    choice the errors of `validate_ballot`.
    """
    if isinstance(kind, str):
        if kind not in rules.vote_kinds:
            raise ValueError(f"unknown vote kind: {kind}")
        name: str | None = kind
        rule: Majority = rules.vote_kinds[kind]
    else:
        name = next((n for n, k in rules.vote_kinds.items() if k == kind), None)
        rule = kind

    counts = dict.fromkeys(motion.options, 0)
    blank = 0
    voted: set[str] = set()
    for ballot in ballots:
        if ballot.voter not in eligible:
            raise BallotError("not_eligible", f"{ballot.voter} may not vote in this vote")
        if ballot.voter in voted:
            raise BallotError("duplicate_ballot", f"{ballot.voter} has already voted")
        voted.add(ballot.voter)
        choice = validate_ballot(motion, ballot)
        if isinstance(choice, str):
            counts[choice] += 1
        else:
            if not choice:
                blank += 1
            for candidate in choice:
                counts[candidate] += 1

    return _decide(
        kind=name,
        rule=rule,
        ties=rules.ties,
        motion=motion,
        seats=rules.seats,
        present=present,
        not_voted=tuple(sorted(set(eligible) - voted)),
        cast=len(voted),
        counts=counts,
        blank=blank,
        chair_decision=chair_decision,
    )


def _decide(
    *,
    kind: str | None,
    rule: Majority,
    ties: TieRule,
    motion: Motion,
    seats: int,
    present: int,
    not_voted: tuple[str, ...],
    cast: int,
    counts: dict[str, int],
    blank: int,
    chair_decision: str | None,
) -> Outcome:
    """Everything derived from the counts; shared by `tally` and `recompute`."""
    eligible = cast + len(not_voted)
    if not eligible <= present <= seats:
        raise ValueError("need eligible ≤ present ≤ seats")
    if chair_decision not in (None, YES, NO):
        raise ValueError("chair_decision must be 'yes', 'no' or None")

    if motion.is_election:
        yes_no = cast - blank
    else:
        yes_no = counts[YES] + counts[NO]
    base_value = {"seats": seats, "present": present, "cast": cast, "yes_no": yes_no}[rule.base]
    least = threshold(rule, base_value)

    elected: tuple[str, ...] = ()
    tied: tuple[str, ...] = ()
    decided_by_chair: str | None = None
    if motion.is_election:
        elected, tied = _elect(motion, counts, least)
        tie = bool(tied)
        result: Result = "adopted" if elected else "not_adopted"
    else:
        yes, no = counts[YES], counts[NO]
        tie = yes >= least and yes == no
        if tie and ties == "chair_decides":
            decided_by_chair = chair_decision
            if chair_decision is None:
                result = "pending_chair"
            else:
                result = "adopted" if chair_decision == YES else "not_adopted"
        else:
            result = "adopted" if yes >= least and yes > no else "not_adopted"

    return Outcome(
        kind=kind,
        rule=rule,
        ties=ties,
        motion=motion,
        seats=seats,
        present=present,
        eligible=eligible,
        not_voted=not_voted,
        cast=cast,
        counts=MappingProxyType(counts),
        blank=blank,
        base_value=base_value,
        bound=majority_bound(rule, base_value),
        threshold=least,
        tie=tie,
        chair_decision=decided_by_chair,
        result=result,
        elected=elected,
        tied=tied,
    )


def _elect(
    motion: Motion, counts: Mapping[str, int], least: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(elected, tied at the cut-off) among candidates reaching `least` votes."""
    places = motion.max_choices
    # Ballot-paper order breaks no ties; it only makes the listing deterministic.
    ranked = sorted((c for c in motion.candidates if counts[c] >= least), key=lambda c: -counts[c])
    if len(ranked) <= places:
        return tuple(ranked), ()
    cut = counts[ranked[places - 1]]
    above = tuple(c for c in ranked if counts[c] > cut)
    level = tuple(c for c in ranked if counts[c] == cut)
    if len(above) + len(level) == places:
        return above + level, ()
    return above, level


def _count(value: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError("counts are non-negative integers")
    return value


def recompute(record: Mapping[str, Any]) -> bool:
    """Re-derive the outcome from a `to_dict()` record alone; True iff it all matches.

    This is the citizen's check: the threshold, the tie and the result (and for elections
    who is elected) must follow from the rule and the counts in the record, and the counts
    must add up to the eligible voters. A malformed record is simply not confirmed.
    """
    try:
        again = _from_record(record)
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return again.to_dict() == dict(record)


def _from_record(record: Mapping[str, Any]) -> Outcome:
    rule = Majority.model_validate(record["rule"], strict=True)
    ties: TieRule = "fails" if record["ties"] == "fails" else "chair_decides"
    if record["ties"] != ties or not isinstance(record["kind"], str | None):
        raise ValueError("bad tie rule or kind")
    m = record["motion"]
    if m["type"] == "election":
        motion = Motion.election(list(m["candidates"]), _count(m["max_choices"]))
    elif m["type"] == "yes_no":
        motion = Motion.yes_no()
    else:
        raise ValueError("unknown motion type")
    counts = {option: _count(record["counts"][option]) for option in motion.options}
    not_voted = tuple(record["not_voted"])
    if not all(isinstance(v, str) for v in not_voted) or list(not_voted) != sorted(set(not_voted)):
        raise ValueError("not_voted must be sorted, unique voter ids")

    if motion.is_election:
        cast_ = _count(record["cast"])
        blank = _count(record["blank"])
        filled = cast_ - blank  # ballots naming at least one candidate
        if filled < 0 or any(n > filled for n in counts.values()):
            raise ValueError("more votes for a candidate than ballots")
        if sum(counts.values()) > filled * motion.max_choices or sum(counts.values()) < filled:
            raise ValueError("candidate votes do not fit the ballots")
    else:
        cast_, blank = counts[YES] + counts[NO] + counts[ABSTAIN], 0

    return _decide(
        kind=record["kind"],
        rule=rule,
        ties=ties,
        motion=motion,
        seats=_count(record["seats"]),
        present=_count(record["present"]),
        not_voted=not_voted,
        cast=cast_,
        counts=counts,
        blank=blank,
        chair_decision=record["chair_decision"],
    )
