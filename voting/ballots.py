"""Motions and ballots: what may be chosen, and checking a single ballot against it."""

from __future__ import annotations

from dataclasses import dataclass

YES = "yes"
NO = "no"
ABSTAIN = "abstain"
STANDARD_OPTIONS: tuple[str, ...] = (YES, NO, ABSTAIN)

# A yes/no/abstain ballot is one option string; an election ballot is a set of candidate
# ids (a tuple is accepted so that a repeated candidate can be reported, not silently merged).
Choice = str | tuple[str, ...] | frozenset[str]


class BallotError(ValueError):
    """A ballot that cannot be counted. `code` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Motion:
    """What is voted on: yes/no/abstain (no candidates) or an election.

    In an election each voter may choose 0..`max_choices` candidates (none = abstain), and
    `max_choices` is also the number of places to fill.
    """

    candidates: tuple[str, ...] = ()
    max_choices: int = 1

    def __post_init__(self) -> None:
        if self.max_choices < 1:
            raise ValueError("max_choices must be at least 1")
        if any(not isinstance(c, str) or not c for c in self.candidates):
            raise ValueError("candidate ids must be non-empty strings")
        if len(set(self.candidates)) != len(self.candidates):
            raise ValueError("candidate ids must be unique")
        if not self.candidates and self.max_choices != 1:
            raise ValueError("max_choices applies to elections only")

    @classmethod
    def yes_no(cls) -> Motion:
        return cls()

    @classmethod
    def election(cls, candidates: tuple[str, ...] | list[str], max_choices: int = 1) -> Motion:
        if not candidates:
            raise ValueError("an election needs at least one candidate")
        return cls(candidates=tuple(candidates), max_choices=max_choices)

    @property
    def is_election(self) -> bool:
        return bool(self.candidates)

    @property
    def options(self) -> tuple[str, ...]:
        return self.candidates if self.is_election else STANDARD_OPTIONS


@dataclass(frozen=True, slots=True)
class Ballot:
    voter: str
    choice: Choice


def validate_ballot(motion: Motion, ballot: Ballot) -> str | frozenset[str]:
    """Check the choice against the motion; return it normalised (a frozenset in elections).

    Raises BallotError with code `invalid_choice`, `duplicate_choice` or `too_many_choices`.
    Who may vote is checked by `tally`, which knows the eligible voters.
    """
    choice = ballot.choice
    if not motion.is_election:
        if not isinstance(choice, str) or choice not in STANDARD_OPTIONS:
            raise BallotError("invalid_choice", f"choose one of {', '.join(STANDARD_OPTIONS)}")
        return choice
    # A bare string is iterable too; refuse it rather than read "abc" as three candidates.
    if not isinstance(choice, tuple | frozenset) or not all(isinstance(c, str) for c in choice):
        raise BallotError("invalid_choice", "an election ballot is a set of candidate ids")
    known = set(motion.candidates)
    unknown = sorted(str(c) for c in choice if c not in known)
    if unknown:
        raise BallotError("invalid_choice", f"unknown candidate(s): {', '.join(unknown)}")
    chosen = frozenset(choice)
    if len(chosen) != len(choice):
        raise BallotError("duplicate_choice", "a candidate may be chosen only once")
    if len(chosen) > motion.max_choices:
        raise BallotError(
            "too_many_choices", f"at most {motion.max_choices} candidate(s) may be chosen"
        )
    return chosen
