"""Quorum: may the session take decisions with this many deputies present?"""

from __future__ import annotations

from dataclasses import dataclass

from voting.rules import CouncilRules


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    present: int
    seats: int
    needed: int  # the least number present that meets the quorum
    met: bool


def quorum_status(present: int, rules: CouncilRules) -> QuorumStatus:
    q = rules.quorum
    seats = rules.seats
    # Integer arithmetic: present/seats compared with numerator/denominator exactly.
    if q.strict:
        needed = seats * q.numerator // q.denominator + 1
    else:
        needed = -(-seats * q.numerator // q.denominator)
    return QuorumStatus(present=present, seats=seats, needed=needed, met=present >= needed)
