"""The face check that goes with a ballot, done before the ballot enters the dispatcher.

A `vote.cast` that carries `face` (one frame, for a vote whose face check is `match`) or
`face_challenge` with `face_frames` (one live action, for `live`) is checked here, in
the face workers, outside any transaction. A refusal is a nack and an audit row; a pass
becomes the BallotFace evidence that the vote's handler requires, and the frames go no
further: they are neither stored nor logged."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select

from biometrics.checks import FaceCheck
from biometrics.templates import TemplateError
from session_server.auth import audit
from session_server.auth.tokens import Actor
from session_server.commands.base import CommandError
from session_server.commands.votes import BallotFace
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.faceid import challenges
from session_server.faceid.pool import FaceBusy, FacePool
from session_server.faceid.routes import FRAME_MAX, decode_image, face_check_entry
from session_server.faceid.store import FaceStore
from session_server.http import ApiError
from session_server.validation import DB_INT_MAX

log = structlog.get_logger(__name__)

FACE_KEYS = ("face", "face_challenge", "face_frames")
# A live ballot's frames: one action's worth, with room for a slower camera.
BALLOT_FRAMES_MAX = 2 * challenges.BALLOT_FRAMES


class BallotFaces:
    def __init__(self, db: Database, pool: FacePool, store: FaceStore) -> None:
        self.db = db
        self.pool = pool
        self.store = store

    async def prepare(self, actor: Actor, raw: Any) -> tuple[Any, object | None]:
        """Dispatcher.before for vote.cast: (args without the frames, BallotFace), or
        the args as they came when they carry no face."""
        if not isinstance(raw, dict) or not any(k in raw for k in FACE_KEYS):
            return raw, None  # an ordinary ballot: nothing read, nothing waited for
        args = {k: v for k, v in raw.items() if k not in FACE_KEYS}
        if actor.deputy_id is None or actor.sign_in is None:
            return args, None  # the handler refuses whoever this is
        vote_id = args.get("vote")
        if (
            not isinstance(vote_id, int)
            or isinstance(vote_id, bool)
            or not 0 < vote_id <= DB_INT_MAX
        ):
            raise CommandError("invalid_args", "vote: a vote id")
        received_at = utcnow()
        frames, challenge = _frames_of(raw)
        async with self.db.read() as db:
            face_check = await db.scalar(
                select(models.Vote.face_check).where(models.Vote.id == vote_id)
            )
            try:
                samples = await self.store.samples(db, actor.deputy_id)
            except TemplateError as exc:
                log.error("face_template_unreadable", deputy=actor.deputy_id)
                raise CommandError("internal", "the enrolled face cannot be read") from exc
        if face_check is None:
            # No such vote, or one without a face check: the handler says which.
            raise CommandError("face_not_needed", "this vote asks for no face check")
        mode = "live" if challenge is not None else "match"
        if mode != face_check:
            raise CommandError(
                "face_check_required",
                "this vote needs a camera frame"
                if face_check == "match"
                else "this vote needs the live face check: ask for its challenge first",
            )
        if samples is None:
            raise CommandError("not_enrolled", "your face is not enrolled: ask the secretariat")
        try:
            if challenge is None:
                check = await self.pool.match(frames[0], samples)
            else:
                now = utcnow()
                asked = await self.db.transact(
                    lambda db: challenges.redeem(db, challenge, actor, vote_id, now)
                )
                if asked is None:
                    raise CommandError(
                        "challenge_unknown", "the face challenge is unknown, used or expired"
                    )
                check = await self.pool.challenge(
                    frames, asked.actions, asked.frames_per_action, samples
                )
        except FaceBusy as exc:
            raise CommandError("face_busy", "face checks are busy; try again") from exc
        if not check.ok:
            await self._audit_refusal(actor, check, vote_id)
            raise CommandError(check.code, _said(check))
        return args, BallotFace(actor.deputy_id, vote_id, mode, received_at)

    async def _audit_refusal(self, actor: Actor, check: FaceCheck, vote_id: int) -> None:
        entry = face_check_entry(actor, audit.Origin(), check, f"vote {vote_id}")
        await self.db.transact(lambda db: audit.record(db, entry, utcnow()))


def _frames_of(raw: dict[str, Any]) -> tuple[list[bytes], str | None]:
    """The frames the command carries, decoded, and the live challenge if it names one."""
    face, challenge, frames = raw.get("face"), raw.get("face_challenge"), raw.get("face_frames")
    try:
        if face is not None:
            if challenge is not None or frames is not None:
                raise CommandError("invalid_args", "send face, or face_challenge and face_frames")
            if not isinstance(face, str):
                raise CommandError("invalid_args", "face: a base64 JPEG")
            return [decode_image(face, 0, FRAME_MAX)], None
        if not isinstance(challenge, str) or not 0 < len(challenge) <= 64:
            raise CommandError("invalid_args", "face_challenge: the challenge's value")
        if (
            not isinstance(frames, list)
            or not 0 < len(frames) <= BALLOT_FRAMES_MAX
            or not all(isinstance(f, str) for f in frames)
        ):
            raise CommandError(
                "invalid_args", f"face_frames: 1 to {BALLOT_FRAMES_MAX} base64 JPEGs"
            )
        return [decode_image(f, i, FRAME_MAX) for i, f in enumerate(frames)], challenge
    except ApiError as exc:
        raise CommandError(exc.code, str(exc.detail)) from exc


def _said(check: FaceCheck) -> str:
    """The refusal as the deputy reads it (the page translates the code)."""
    return {
        "face_mismatch": "the face does not match; the ballot was not counted",
        "no_face": "no face in the frame; the ballot was not counted",
        "several_faces": "more than one face in the frame; the ballot was not counted",
        "liveness_failed": "the action was not seen; the ballot was not counted",
    }.get(check.code, check.message)
