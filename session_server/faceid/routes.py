"""Face ID over HTTP: the secretariat enrols and removes a deputy's face; a signed-in
deputy asks for a challenge and answers it with camera frames. Each handler's docstring
after `---` is its OpenAPI description."""

from __future__ import annotations

import binascii
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from biometrics.checks import FaceCheck, FaceError
from session_server.auth import audit
from session_server.auth.routes import db_of, origin_of, signed_in_answer, signins_of
from session_server.auth.signins import Started
from session_server.auth.tokens import Actor
from session_server.db import models
from session_server.db.models import utcnow
from session_server.faceid import challenges
from session_server.faceid.pool import FaceBusy, FacePool
from session_server.faceid.store import FaceStore
from session_server.http import ApiError, caller, path_id, read_json
from session_server.validation import RowId
from voting import CouncilRules

# Enrolment: up to five photos, each at most this many bytes once decoded (a phone's
# photo is a few megabytes); the body holds their base64.
ENROL_IMAGES = 5
IMAGE_MAX = 6 * 1024 * 1024
ENROL_BODY = ENROL_IMAGES * (IMAGE_MAX * 4 // 3 + 4) + 1024
# A challenge's frames: 640x480 JPEGs from a tablet's camera, a few tens of KB each.
FRAMES_MAX = 60
FRAME_MAX = 256 * 1024
FRAMES_BODY = FRAMES_MAX * (FRAME_MAX * 4 // 3 + 4) + 1024

Base64Image = Annotated[str, StringConstraints(min_length=1, max_length=IMAGE_MAX * 4 // 3 + 4)]
Base64Frame = Annotated[str, StringConstraints(min_length=1, max_length=FRAME_MAX * 4 // 3 + 4)]

# A refused face check: the HTTP status of each code.
STATUS = {
    "bad_image": 422,
    "image_too_large": 422,
    "bad_frames": 422,
    "no_face": 422,
    "several_faces": 422,
    "face_mismatch": 403,
    "liveness_failed": 403,
}


def pool_of(request: Request) -> FacePool:
    pool: FacePool = request.app.state.faces
    return pool


def store_of(request: Request) -> FaceStore:
    store: FaceStore = request.app.state.face_store
    return store


def decode_image(text: str, index: int, limit: int) -> bytes:
    """The bytes of one base64 image; 422 naming it otherwise."""
    try:
        data = binascii.a2b_base64(text.encode("ascii", "replace"), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise image_error("bad_image", f"image {index} is not base64", index) from exc
    if not data:
        raise image_error("bad_image", f"image {index} is empty", index)
    if len(data) > limit:
        raise image_error("image_too_large", f"image {index} is over {limit} bytes", index)
    return data


def image_error(code: str, message: str, index: int | None) -> ApiError:
    """A 422 that names the image (or frame) it is about."""
    return ApiError(422, code, message, more={"index": index})


# -- enrolment (the secretariat) -------------------------------------------------------------


async def _deputy_for_staff(request: Request) -> tuple[Actor, models.Deputy, int | None]:
    """The deputy of the path, with their user's id, if the caller may manage their face."""
    actor = await caller(request)
    if actor.sign_in is None or actor.role not in ("secretary", "admin"):
        raise ApiError(403, "forbidden", "faces are enrolled by the secretariat or an admin")
    deputy_id = path_id(request, "deputy")
    async with db_of(request).read() as db:
        deputy = await db.get(models.Deputy, deputy_id)
        user_id = await db.scalar(select(models.User.id).where(models.User.deputy_id == deputy_id))
    if deputy is None:
        raise ApiError(404, "not_found", f"there is no deputy {deputy_id}")
    if actor.role == "secretary" and deputy.council_id != actor.council_id:
        raise ApiError(403, "forbidden", "this deputy belongs to another council")
    return actor, deputy, user_id


async def face_status(request: Request) -> JSONResponse:
    """
    ---
    summary: Whether a deputy's face is enrolled, with how many samples and when
    description: Secretary (deputies of their council) or admin.
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: "{deputy, enrolled, samples, enrolled_at}"}
      401: {description: bad or expired token}
      403: {description: not the deputy's secretariat or an admin}
      404: {description: no such deputy}
    """
    _, deputy, _ = await _deputy_for_staff(request)
    async with db_of(request).read() as db:
        enrolment = await FaceStore.enrolment(db, deputy.id)
    return JSONResponse(enrolment.to_dict())


class Enrol(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: list[Base64Image] = Field(min_length=1, max_length=ENROL_IMAGES)


async def enrol(request: Request) -> JSONResponse:
    """
    ---
    summary: Enrol (or re-enrol) a deputy's face from 1 to 5 photos; only descriptors are kept
    description: >-
      Secretary (deputies of their council) or admin. Each photo (base64 JPEG or PNG)
      must show exactly one face. The photos themselves are not kept.
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [images]
            additionalProperties: false
            properties:
              images:
                type: array
                minItems: 1
                maxItems: 5
                items: {type: string, minLength: 1}
    responses:
      201:
        description: "{deputy, samples, enrolled_at, faces: [{index, box, width, height}]}"
      401: {description: bad or expired token}
      403: {description: not the deputy's secretariat or an admin}
      404: {description: no such deputy}
      413: {description: the body is too large}
      422:
        description: >-
          no_face, several_faces, bad_image or image_too_large, naming the image (index)
      503: {description: the face workers are busy}
    """
    actor, deputy, user_id = await _deputy_for_staff(request)
    body = await read_json(request, Enrol, ENROL_BODY)
    images = [decode_image(text, i, IMAGE_MAX) for i, text in enumerate(body.images)]
    origin = origin_of(request)
    subject = f"deputy {deputy.id}"
    try:
        samples = await pool_of(request).enrol(images)
    except FaceBusy as exc:
        raise ApiError(503, "face_busy", "face checks are busy; try again in a moment") from exc
    except FaceError as exc:
        entry = audit.Entry(
            "face_enrolled",
            "refused",
            origin,
            method="face",
            reason=exc.code,
            user_id=user_id,
            council_id=deputy.council_id,
            actor_user_id=actor.user_id,
            subject=subject,
        )
        await db_of(request).transact(lambda db: audit.record(db, entry, utcnow()))
        raise image_error(exc.code, exc.message, exc.index) from exc
    store = store_of(request)

    def keep(db: DbSession) -> dict[str, Any]:
        now = utcnow()
        enrolment = store.keep(db, deputy.id, [s.descriptor for s in samples], now, actor.user_id)
        audit.record(
            db,
            audit.Entry(
                "face_enrolled",
                "ok",
                origin,
                method="face",
                user_id=user_id,
                council_id=deputy.council_id,
                actor_user_id=actor.user_id,
                subject=subject,
            ),
            now,
        )
        return enrolment.to_dict()

    answer = await db_of(request).transact(keep)
    answer.pop("enrolled")
    answer["faces"] = [
        {"index": i, "box": list(s.box), "width": s.width, "height": s.height}
        for i, s in enumerate(samples)
    ]
    return JSONResponse(answer, status_code=201)


async def remove(request: Request) -> Response:
    """
    ---
    summary: Remove a deputy's enrolled face
    description: Secretary (deputies of their council) or admin.
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      204: {description: removed}
      401: {description: bad or expired token}
      403: {description: not the deputy's secretariat or an admin}
      404: {description: no such deputy, or no face enrolled}
    """
    actor, deputy, user_id = await _deputy_for_staff(request)
    origin = origin_of(request)

    def drop(db: DbSession) -> bool:
        if not FaceStore.remove(db, deputy.id):
            return False
        audit.record(
            db,
            audit.Entry(
                "face_removed",
                "ok",
                origin,
                method="face",
                user_id=user_id,
                council_id=deputy.council_id,
                actor_user_id=actor.user_id,
                subject=f"deputy {deputy.id}",
            ),
            utcnow(),
        )
        return True

    if not await db_of(request).transact(drop):
        raise ApiError(404, "not_enrolled", f"deputy {deputy.id} has no face enrolled")
    return Response(status_code=204)


# -- the challenge (a signed-in deputy) ------------------------------------------------------


def _signed_in_deputy(actor: Actor) -> int:
    if actor.sign_in is None:
        raise ApiError(403, "forbidden", "sign in first")
    if actor.deputy_id is None:
        raise ApiError(403, "forbidden", "Face ID is for deputies")
    return actor.deputy_id


async def rules_of(db: Any, council_id: int | None) -> CouncilRules | None:
    if council_id is None:
        return None
    raw = await db.scalar(select(models.Council.rules).where(models.Council.id == council_id))
    return None if raw is None else CouncilRules.model_validate(raw)


class ChallengeAsk(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    vote: RowId | None = None


async def face_challenge(request: Request) -> JSONResponse:
    """
    ---
    summary: A liveness challenge for the deputy's camera, single use
    description: >-
      Without `vote`, two or three actions after sign-in (where the council's reglament
      has face_signin optional or required); with `vote`, one action for a ballot in a
      vote whose face check is `live`. Show action i while capturing frames
      [i*frames_per_action, (i+1)*frames_per_action), one every interval_ms.
    requestBody:
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            properties:
              vote: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: "{challenge, actions, ttl, frames_per_action, interval_ms}"}
      401: {description: bad or expired token}
      403: {description: not a signed-in deputy}
      404: {description: no such vote in the deputy's council}
      409:
        description: >-
          not_enrolled, face_signin_off, or face_not_needed (the vote asks for no live
          check)
    """
    actor = await caller(request)
    deputy_id = _signed_in_deputy(actor)
    length = request.headers.get("content-length")
    ask = ChallengeAsk() if length in (None, "0") else await read_json(request, ChallengeAsk)
    db = db_of(request)
    async with db.read() as reader:
        enrolled = await FaceStore.enrolment(reader, deputy_id)
        rules = await rules_of(reader, actor.council_id)
        vote = None if ask.vote is None else await reader.get(models.Vote, ask.vote)
        session = None if vote is None else await reader.get(models.Session, vote.session_id)
    if not enrolled.samples:
        raise ApiError(409, "not_enrolled", "your face is not enrolled: ask the secretariat")
    if ask.vote is None:
        if rules is None or rules.face_signin == "off":
            raise ApiError(409, "face_signin_off", "this council does not use Face ID at sign-in")
    else:
        if vote is None or session is None or session.council_id != actor.council_id:
            raise ApiError(404, "not_found", f"there is no vote {ask.vote} in your council")
        if vote.face_check != "live":
            raise ApiError(409, "face_not_needed", "this vote asks for no live face check")
        if vote.state != "open":
            raise ApiError(409, "vote_closed", f"the vote is {vote.state}")
    now = utcnow()
    challenge = await db.transact(lambda w: challenges.issue(w, actor, ask.vote, now))
    return JSONResponse(challenge.to_dict())


class FaceAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    frames: list[Base64Frame] = Field(min_length=1, max_length=FRAMES_MAX)


async def face_signin(request: Request) -> JSONResponse:
    """
    ---
    summary: Answer a face challenge with the camera frames; a token marked face-verified
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [challenge, frames]
            additionalProperties: false
            properties:
              challenge: {type: string, minLength: 1, maxLength: 64}
              frames:
                type: array
                minItems: 1
                maxItems: 60
                items: {type: string, minLength: 1}
    responses:
      200: {description: "{token, user, method, face_verified, expires_at}"}
      400: {description: "challenge_unknown: not this sign-in's, used or expired"}
      401: {description: bad or expired token}
      403: {description: "face_mismatch or liveness_failed, or not a signed-in deputy"}
      409: {description: not_enrolled}
      413: {description: the body is too large}
      422: {description: "no_face, several_faces, bad_image or bad_frames (naming the frame)"}
      503: {description: the face workers are busy}
    """
    actor = await caller(request)
    deputy_id = _signed_in_deputy(actor)
    body = await read_json(request, FaceAnswer, FRAMES_BODY)
    frames = [decode_image(text, i, FRAME_MAX) for i, text in enumerate(body.frames)]
    db, origin = db_of(request), origin_of(request)
    now = utcnow()
    challenge = await db.transact(lambda w: challenges.redeem(w, body.challenge, actor, None, now))
    if challenge is None:
        raise ApiError(400, "challenge_unknown", "the face challenge is unknown, used or expired")
    async with db.read() as reader:
        samples = await store_of(request).samples(reader, deputy_id)
    if samples is None:
        raise ApiError(409, "not_enrolled", "your face is not enrolled: ask the secretariat")
    try:
        check = await pool_of(request).challenge(
            frames, challenge.actions, challenge.frames_per_action, samples
        )
    except FaceBusy as exc:
        raise ApiError(503, "face_busy", "face checks are busy; try again in a moment") from exc
    entry = face_check_entry(actor, origin, check, "sign_in")
    if not check.ok:
        await db.transact(lambda w: audit.record(w, entry, utcnow()))
        if check.frame is not None and STATUS.get(check.code, 422) == 422:
            raise image_error(check.code, check.message, check.frame)
        raise ApiError(STATUS.get(check.code, 422), check.code, check.message)
    signins = signins_of(request)

    def verified(w: DbSession) -> Started:
        user = w.get(models.User, actor.user_id)
        assert user is not None  # the token's sign-in was checked
        audit.record(w, entry, utcnow())
        return signins.face_verified(w, actor, user, utcnow())

    return signed_in_answer(await db.transact(verified))


def face_check_entry(
    actor: Actor, origin: audit.Origin, check: FaceCheck, subject: str
) -> audit.Entry:
    """The audit row of a face check: who, which check, how it went, the distance."""
    return audit.Entry(
        "face_check",
        "ok" if check.ok else "refused",
        origin,
        method="face",
        reason=check.code,
        user_id=actor.user_id,
        council_id=actor.council_id,
        subject=subject,
        distance=check.distance,
    )


routes = [
    Route("/api/deputies/{id:digits}/face", face_status, methods=["GET"]),
    Route("/api/deputies/{id:digits}/face", enrol, methods=["POST"]),
    Route("/api/deputies/{id:digits}/face", remove, methods=["DELETE"]),
    Route("/api/auth/face/challenge", face_challenge, methods=["POST"]),
    Route("/api/auth/face", face_signin, methods=["POST"]),
]
