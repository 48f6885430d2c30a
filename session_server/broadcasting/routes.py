"""WHIP (RFC 9725) over HTTP: `POST /whip/{session}` takes the publisher's SDP offer and
answers `201 Created` with the answer and the resource's `Location`; `DELETE` on that
resource ends the broadcast; `OPTIONS` says what is accepted (and answers CORS
preflights: publishers send bearer tokens, never cookies). Each handler's docstring
after `---` is its OpenAPI description."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broadcast import chapters, ingest_keys
from broadcast.hls import parse as parse_playlist
from broadcast.resources import ResourceError
from broadcast.sdp import MAX_OFFER_BYTES, Offer, Role, SdpError, inspect_offer
from broadcast.segmenter import RECORDING_PLAYLIST
from session_server.auth.tokens import Actor
from session_server.broadcasting import keys
from session_server.broadcasting.audience import Audience
from session_server.broadcasting.ice import ice_links
from session_server.broadcasting.media_process import MediaProcess, MediaRecordings
from session_server.db import models
from session_server.db.engine import Database
from session_server.http import ApiError, bearer_token, caller, path_id, read_body
from session_server.settings import Settings

SDP = "application/sdp"
PUBLISHERS = frozenset({"operator", "chair", "admin"})
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Expose-Headers": "Location, Link",
}


async def _media(request: Request, operation: str, *args: Any) -> Any:
    """An operation of the media process; its refusals as HTTP problems."""
    media: MediaProcess = request.app.state.media
    try:
        return await media.call(operation, *args)
    except ResourceError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc


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


def _ingest_key(request: Request) -> str | None:
    """The bearer token when it is one of our ingest keys (OBS sends the key so)."""
    token = bearer_token(request)
    return token if token is not None and ingest_keys.well_formed(token) else None


async def _publisher(request: Request, session_id: int) -> str:
    """Who publishes, as the resource's owner: the sitting's ingest key (401 if it is
    not one), or the signed-in operator, chair or admin of the sitting's council."""
    key = _ingest_key(request)
    actor: Actor | None = None
    if key is not None:
        owner = await keys.key_owner(request, session_id, key)
    else:
        actor = _may_publish(await caller(request))
        owner = actor.key
    db: Database = request.app.state.db
    async with db.read() as session:
        sitting = await session.get(models.Session, session_id)
    if sitting is None:
        raise ApiError(404, "not_found", f"there is no session {session_id}")
    if actor is not None and actor.role != "admin" and actor.council_id != sitting.council_id:
        raise ApiError(403, "forbidden", "this session belongs to another council")
    if sitting.state == "closed":
        raise ApiError(409, "session_closed", "the sitting is closed")
    return owner


def _with_ice_links(response: Response, settings: Settings) -> Response:
    # One header per server: OBS and browsers' WHIP clients read them one a line.
    for link in ice_links(settings):
        response.headers.append("Link", link)
    return response


async def _offer(request: Request, role: Role) -> tuple[str, Offer]:
    """The request's SDP offer, checked before any WebRTC work (aiortc then reads the
    text itself): 415, 413, 400, 422 or 406 as `inspect_offer` finds."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != SDP:
        raise ApiError(415, "unsupported_media_type", f"send the offer as {SDP}")
    body = await read_body(request, limit=MAX_OFFER_BYTES)
    try:
        offer = inspect_offer(body, role=role)
    except SdpError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return body.decode(), offer


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
      401: {description: "bad_token: not a valid token, nor an ingest key of this sitting"}
      403: {description: "forbidden: no token, or not the operator or chair of this council"}
      406: {description: "no_usable_codec: no H.264 or VP8 video, or no Opus audio"}
      409: {description: "busy: another publisher is live; session_closed"}
      415: {description: "unsupported_media_type: not application/sdp"}
      422: {description: "no_video: the offer sends no video"}
    """
    session_id = path_id(request, "session", "session")
    owner = await _publisher(request, session_id)
    body, _ = await _offer(request, "publish")
    location, answer = await _media(request, "publish", session_id, owner, body)
    headers = {"Location": location, **_CORS}
    created = Response(answer, 201, media_type=SDP, headers=headers)
    return _with_ice_links(created, request.app.state.settings)


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
    key = _ingest_key(request)
    if key is not None:  # published with a key: only that key ends it
        owner = await keys.key_owner(request, session_id, key)
    else:
        owner = _may_publish(await caller(request)).key
    resource_id = request.path_params["resource"]
    await _media(request, "stop_publisher", session_id, resource_id, owner)
    return Response(status_code=200, headers=_CORS)


async def options(request: Request) -> Response:
    """
    ---
    summary: What a WHIP or WHEP endpoint accepts (and CORS preflights)
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      204: {description: "Accept-Post: application/sdp; Link: the STUN and TURN servers"}
    """
    accepts = Response(
        status_code=204, headers={"Accept-Post": SDP, "Allow": "POST, OPTIONS", **_CORS}
    )
    return _with_ice_links(accepts, request.app.state.settings)


async def watch(request: Request) -> Response:
    """
    ---
    summary: Watch a sitting with low delay (WHEP)
    description: "The body is the viewer's recvonly SDP offer (application/sdp) with its
      ICE candidates (no trickle); the answer comes back. Anyone may watch: the
      broadcast is public. H.264 Constrained Baseline and Opus."
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
    requestBody:
      content:
        application/sdp:
          schema: {type: string}
    responses:
      201: {description: "the SDP answer; Location: the resource to DELETE"}
      400: {description: bad_sdp}
      404: {description: "not_live: the sitting is not on air now; not_found"}
      406: {description: "no_usable_codec: the offer cannot take H.264 Constrained Baseline"}
      415: {description: "unsupported_media_type: not application/sdp"}
      422: {description: "no_video: the offer receives no video"}
      429: {description: "too_many: too many players from this address, or on this server"}
    """
    session_id = path_id(request, "session", "session")
    body, offer = await _offer(request, "play")
    address = request.client.host if request.client is not None else ""
    location, answer = await _media(
        request, "watch", session_id, address, body, offer.audio is not None
    )
    headers = {"Location": location, **_CORS}
    created = Response(answer, 201, media_type=SDP, headers=headers)
    return _with_ice_links(created, request.app.state.settings)


async def leave(request: Request) -> Response:
    """
    ---
    summary: Stop watching (WHEP); the resource's URL is its only credential
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: resource, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: the viewer's connection ended}
      404: {description: "not_found: no such resource on this sitting"}
    """
    session_id = path_id(request, "session", "session")
    await _media(request, "leave", session_id, request.path_params["resource"])
    return Response(status_code=200, headers=_CORS)


_HLS_FILE = re.compile(r"(index|recording)\.m3u8|seg-[0-9]{6}\.ts|chapters\.vtt")
_PLAYLIST = "application/vnd.apple.mpegurl"


async def hls(request: Request) -> Response:
    """
    ---
    summary: A sitting's HLS (RFC 8216) - live playlist, recording, segments, chapters
    parameters:
      - {name: session, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: name, in: path, required: true, schema: {type: string}}
    responses:
      200:
        description: "index.m3u8 (live), recording.m3u8, seg-NNNNNN.ts (video/mp2t),
          chapters.vtt (the recording's WebVTT chapters)"
      404: {description: "not_live: nothing was broadcast yet; not_found"}
    """
    session_id = path_id(request, "session", "session")
    name = request.path_params["name"]
    if not _HLS_FILE.fullmatch(name):
        raise ApiError(404, "not_found", "no such file")
    recordings: MediaRecordings = request.app.state.recordings
    path = recordings.folder / str(session_id) / name
    if name == "chapters.vtt":
        return await _chapters(recordings.folder / str(session_id) / RECORDING_PLAYLIST)
    if name.endswith(".ts"):
        segment = recordings.segment(session_id, name)
        if segment is None:
            raise ApiError(404, "not_found", "no such segment")
        # A segment never changes: a CDN keeps it.
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        return Response(segment, media_type="video/mp2t", headers={**headers, **_CORS})
    # A playlist changes every segment: a CDN may keep it for a second at most. It is
    # read whole, at once: the segmenter replaces it (a rename) every second, and a file
    # response would send the length of one version and the bytes of the next.
    # (A read of a file of a few kilobytes the segmenter has just written: from the page
    # cache, quicker than a hop to a thread and back, which would also take the
    # interpreter from the loop.)
    try:
        text = path.read_bytes()
    except OSError as exc:  # none yet (or, left by hand, something else of that name)
        raise ApiError(404, "not_live", "this sitting has not been broadcast yet") from exc
    if name == "index.m3u8":  # a player following the live broadcast
        audience: Audience = request.app.state.audience
        address = request.client.host if request.client is not None else ""
        audience.playlist_fetched(session_id, address, request.headers.get("user-agent", ""))
    headers = {"Cache-Control": "public, max-age=1"}
    return Response(text, media_type=_PLAYLIST, headers={**headers, **_CORS})


async def _chapters(recording: Path) -> Response:
    """The recording's chapter marks as WebVTT, timed from its first segment."""
    try:
        text = await run_in_threadpool(recording.read_text, encoding="utf-8")
    except FileNotFoundError:
        text = None
    vtt = chapters.recording_webvtt(parse_playlist(text)) if text is not None else None
    if vtt is None:
        raise ApiError(404, "not_live", "this sitting has not been broadcast yet")
    # Like the playlists: it grows with the recording.
    headers = {"Cache-Control": "public, max-age=1", **_CORS}
    return Response(vtt, media_type="text/vtt; charset=utf-8", headers=headers)


routes = [
    Route("/whip/{session:digits}", publish, methods=["POST"]),
    Route("/whip/{session:digits}", options, methods=["OPTIONS"]),
    Route("/whip/{session:digits}/{resource}", stop, methods=["DELETE"]),
    Route("/whep/{session:digits}", watch, methods=["POST"]),
    Route("/whep/{session:digits}", options, methods=["OPTIONS"]),
    Route("/whep/{session:digits}/{resource}", leave, methods=["DELETE"]),
    Route("/hls/{session:digits}/{name}", hls, methods=["GET"]),
]
