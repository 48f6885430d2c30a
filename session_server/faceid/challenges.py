"""Face challenges: the random actions a deputy does in front of the camera, single use,
for one sign-in (and, at a ballot, one vote), kept in the database so that any server
process can redeem them."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.orm import Session as DbSession

from biometrics.liveness import ACTIONS, Action, draw_challenge
from session_server.auth.tokens import Actor
from session_server.db import models

PURPOSE = "face"
# After sign-in: two or three actions, a second each at ten frames a second.
SIGN_IN_SECONDS = 120
FRAMES_PER_ACTION = 10
INTERVAL_MS = 100
# At a ballot: one action, a moment to react; the proof is at most this old when the
# ballot is counted.
BALLOT_SECONDS = 30
BALLOT_FRAMES = 15

_rng = random.SystemRandom()


@dataclass(frozen=True)
class Challenge:
    value: str
    actions: list[Action]
    frames_per_action: int
    ttl: int
    vote: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge": self.value,
            "actions": self.actions,
            "ttl": self.ttl,
            "frames_per_action": self.frames_per_action,
            "interval_ms": INTERVAL_MS,
        }


def issue(db: DbSession, actor: Actor, vote: int | None, now: datetime) -> Challenge:
    """A new challenge for the actor's sign-in (and `vote`), in the caller's transaction."""
    if vote is None:
        actions = draw_challenge(_rng, _rng.choice((2, 3)))
        challenge = Challenge(
            secrets.token_hex(16), actions, FRAMES_PER_ACTION, SIGN_IN_SECONDS, None
        )
    else:
        actions = draw_challenge(_rng, 1)
        challenge = Challenge(secrets.token_hex(16), actions, BALLOT_FRAMES, BALLOT_SECONDS, vote)
    db.add(
        models.AuthChallenge(
            challenge=challenge.value,
            purpose=PURPOSE,
            created_at=now,
            expires_at=now + timedelta(seconds=challenge.ttl),
            subject={
                "sign_in": actor.sign_in,
                "user": actor.user_id,
                "vote": vote,
                "actions": actions,
                "frames_per_action": challenge.frames_per_action,
            },
        )
    )
    return challenge


def redeem(
    db: DbSession, value: str, actor: Actor, vote: int | None, now: datetime
) -> Challenge | None:
    """Use the challenge once: the Challenge if it was live, unused and this sign-in's
    (for this vote), else None. A challenge another sign-in asked for stays unused."""
    row = db.get(models.AuthChallenge, value, with_for_update=True)
    if row is None or row.purpose != PURPOSE or row.used_at is not None or row.expires_at <= now:
        return None
    subject = row.subject or {}
    if subject.get("sign_in") != actor.sign_in or subject.get("vote") != vote:
        return None
    result = db.execute(
        update(models.AuthChallenge)
        .where(models.AuthChallenge.challenge == value, models.AuthChallenge.used_at.is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # another process was first
        return None
    actions = [a for a in subject.get("actions", []) if a in ACTIONS]
    return Challenge(
        value,
        cast(list[Action], actions),
        int(subject.get("frames_per_action", FRAMES_PER_ACTION)),
        0,
        vote,
    )
