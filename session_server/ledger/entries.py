"""Ledger entries: each closed vote's outcome record, each decision, each chair
signature, as RFC 8785 canonical JSON. The entry holds only what the public API
publishes, so the register's page and `kengash ledger verify` rebuild the same bytes
from `GET /api/votes/{id}` and `GET /api/decisions/{id}` and hash them themselves.

A decision's entry is also what the chair signs: its bytes are the decision."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import rfc8785

from session_server.db import models
from session_server.db.models import iso

VOTE = "kengash.vote/v1"
DECISION = "kengash.decision/v1"
SIGNATURE = "kengash.decision-signature/v1"


def canonical(entry: dict[str, Any]) -> bytes:
    return rfc8785.dumps(entry)


def vote_entry(
    vote: models.Vote, session: models.Session, council: models.Council
) -> dict[str, Any]:
    """A closed vote: the question, when, and the outcome record with the published
    ballots (named choices, or a secret vote's receipt codes), from which anyone can
    recount the result."""
    return {
        "type": VOTE,
        "id": vote.id,
        "council": {"id": council.id, "name": council.name},
        "session": {"id": session.id, "number": session.number},
        "item": vote.agenda_item_id,
        "question": vote.question,
        "kind": vote.kind,
        "secret": vote.secret,
        "draft": vote.draft is not None,
        "opened_at": iso(vote.opened_at),
        "closed_at": iso(vote.closed_at),
        "result": vote.outcome,
        "ballots": vote.ballots,
    }


def decision_entry(
    decision: models.Decision, session: models.Session, council: models.Council
) -> dict[str, Any]:
    return {
        "type": DECISION,
        "id": decision.id,
        "council": {"id": council.id, "name": council.name},
        "session": {"id": session.id, "number": session.number},
        "item": decision.agenda_item_id,
        "vote": decision.vote_id,
        "number": decision.number,
        "title": decision.title,
        "text": decision.text,
        "adopted_on": decision.adopted_on.isoformat(),
        "adopted_at": iso(decision.adopted_at),
    }


def signature_entry(signature: models.DecisionSignature, decision_bytes: bytes) -> dict[str, Any]:
    """The chair's signature, tied to the decision's exact bytes by their SHA-256."""
    return {
        "type": SIGNATURE,
        "decision": signature.decision_id,
        "decision_sha256": b64(hashlib.sha256(decision_bytes).digest()),
        "signer": signature.signer_name,
        "serial": signature.serial,
        "signed_at": iso(signature.signed_at),
        "pkcs7": b64(signature.pkcs7),
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
