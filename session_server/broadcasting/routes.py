"""WHIP (RFC 9725) over HTTP: `POST /whip/{session}` takes the publisher's SDP offer and
answers `201 Created` with the answer and the resource's `Location`; `DELETE` on that
resource ends the broadcast; `OPTIONS` says what is accepted (and answers CORS
preflights: publishers send bearer tokens, never cookies). Each handler's docstring
after `---` is its OpenAPI description."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from broadcast.resources import ResourceError
from broadcast.sdp import MAX_OFFER_BYTES, SdpError, inspect_offer
from session_server.auth.tokens import Actor
from session_server.broadcasting.ingest import Ingest
from session_server.broadcasting.recording import Recordings
from session_server.db import models
from session_server.db.engine import Database
from session_server.http import ApiError, caller, path_id, read_body

SDP = "application/sdp"
PUBLISHERS = frozenset({"operator", "chair", "admin"})
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Expose-Headers": "Location",
}


def _ingest(request: Request) -> Ingest:
    ingest: Ingest = request.app.state.ingest
    return ingest


def _may_publish(actor: Actor) -> Actor:
    # As everywhere here, no token is a viewer's request (403); 401 means a bad token.
    if actor.role not in PUBLISHERS:
        raise ApiError(
            403,
            "forbidden",
            "publishing needs the operator's or the chair's bearer token",
            {"WWW-Authenticate": "Bearer"},
        )
    return actor


async def _publisher(request: Request, session_id: int) -> Actor:
    """The signed-in operator, chair or admin of the sitting's council."""
    actor = _may_publish(await caller(request))
    db: Database = request.app.state.db
    async with db.read() as session:
        sitting = await session.get(models.Session, session_id)
    if sitting is None:
        raise ApiError(404, "not_found", f"there is no session {session_id}")
    if actor.role != "admin" and actor.council_id != sitting.council_id:
        raise ApiError(403, "forbidden", "this session belongs to another council")
    if sitting.state == "closed":
        raise ApiError(409, "session_closed", "the sitting is closed")
    return actor


async def publish(request: Request) -> Response:
    """
    ---
    summary: Publish a sitting's picture and sound (WHIP, RFC 9725)
    description: The body is the SDP offer (application/sdp); the answer comes back.
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
    requestBody:
      content:
        application/sdp:
          schema: {type: string}
    responses:
      201: {description: "the SDP answer; Location: the resource to DELETE"}
      400: {description: bad_sdp}
      401: {description: "bad_token: not a valid token"}
      403: {description: "forbidden: no token, or not the operator or chair of this council"}
      406: {description: "no_usable_codec: no H.264 or VP8 video, or no Opus audio"}
      409: {description: "busy: another publisher is live; session_closed"}
      415: {description: "unsupported_media_type: not application/sdp"}
      422: {description: "no_video: the offer sends no video"}
    """
    session_id = path_id(request, "session", "session")
    actor = await _publisher(request, session_id)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != SDP:
        raise ApiError(415, "unsupported_media_type", f"send the offer as {SDP}")
    body = await read_body(request, limit=MAX_OFFER_BYTES)
    try:
        inspect_offer(body, role="publish")  # checked here; aiortc reads the text itself
    except SdpError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    try:
        resource, answer = await _ingest(request).publish(session_id, actor.key, body.decode())
    except ResourceError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    except ValueError as exc:
        raise ApiError(400, "bad_sdp", f"the offer was not taken: {exc}") from exc
    return Response(answer, 201, media_type=SDP, headers={"Location": resource.location, **_CORS})


async def stop(request: Request) -> Response:
    """
    ---
    summary: End a WHIP publication (its publisher only)
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: resource, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: the broadcast ended}
      401: {description: bad_token}
      403: {description: "forbidden: someone else's publication"}
      404: {description: "not_found: no such resource"}
    """
    session_id = path_id(request, "session", "session")
    actor = _may_publish(await caller(request))
    resource_id = request.path_params["resource"]
    ingest = _ingest(request)
    known = ingest.resources.get(resource_id)
    if known is None or known.kind != "whip" or known.session != str(session_id):
        raise ApiError(404, "not_found", "there is no such publication")
    if known.owner != actor.key:
        raise ApiError(403, "forbidden", "this publication is someone else's")
    await ingest.stop(resource_id)
    return Response(status_code=200, headers=_CORS)


async def options(request: Request) -> Response:
    """
    ---
    summary: What a WHIP endpoint accepts (and CORS preflights)
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      204: {description: "Accept-Post: application/sdp"}
    """
    return Response(
        status_code=204, headers={"Accept-Post": SDP, "Allow": "POST, OPTIONS", **_CORS}
    )


_HLS_FILE = re.compile(r"(index|recording)\.m3u8|seg-[0-9]{6}\.ts")
_PLAYLIST = "application/vnd.apple.mpegurl"


async def hls(request: Request) -> Response:
    """
    ---
    summary: A sitting's HLS (RFC 8216) - the live playlist, the recording, the segments
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: name, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "index.m3u8 (live), recording.m3u8, seg-NNNNNN.ts (video/mp2t)"}
      404: {description: "not_live: nothing was broadcast yet; not_found"}
    """
    session_id = path_id(request, "session", "session")
    name = request.path_params["name"]
    if not _HLS_FILE.fullmatch(name):
        raise ApiError(404, "not_found", "no such file")
    recordings: Recordings = request.app.state.recordings
    path = recordings.folder / str(session_id) / name
    if not path.is_file():
        if name.endswith(".m3u8"):
            raise ApiError(404, "not_live", "this sitting has not been broadcast yet")
        raise ApiError(404, "not_found", "no such segment")
    if name.endswith(".ts"):
        # A segment never changes: a CDN keeps it.
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        return FileResponse(path, media_type="video/mp2t", headers={**headers, **_CORS})
    # A playlist changes every segment: a CDN may keep it for a second at most.
    headers = {"Cache-Control": "public, max-age=1"}
    return FileResponse(path, media_type=_PLAYLIST, headers={**headers, **_CORS})


routes = [
    Route("/whip/{session:digits}", publish, methods=["POST"]),
    Route("/whip/{session:digits}", options, methods=["OPTIONS"]),
    Route("/whip/{session:digits}/{resource}", stop, methods=["DELETE"]),
    Route("/hls/{session:digits}/{name}", hls, methods=["GET"]),
]
