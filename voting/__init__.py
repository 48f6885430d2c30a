"""Council voting domain: rules, quorum, ballots, tally and outcome.

Pure logic with no I/O, so every result can be recomputed from the record alone.
"""

from voting.ballots import Ballot, BallotError, Motion, validate_ballot
from voting.quorum import QuorumStatus, quorum_status
from voting.rules import CouncilRules, Majority, QuorumRule, VoteKind, decision_number
from voting.tally import Outcome, majority_bound, recompute, tally, threshold

__all__ = [
    "Ballot",
    "BallotError",
    "CouncilRules",
    "Majority",
    "Motion",
    "Outcome",
    "QuorumRule",
    "QuorumStatus",
    "VoteKind",
    "decision_number",
    "majority_bound",
    "quorum_status",
    "recompute",
    "tally",
    "threshold",
    "validate_ballot",
]
