"""The read API and demo sign-in (docs/protocol.md "HTTP API"). Each handler's docstring after
`---` is its OpenAPI description, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import documents
from session_server import eventlog, exports, minutes
from session_server.auth.tokens import Actor
from session_server.commands.sections import council_section, session_section
from session_server.db import models
from session_server.db.engine import Database
from session_server.decisions.routes import lang_of, pdf, public_url
from session_server.http import ApiError, caller, path_id, query_id


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _council(c: models.Council, deputies: int | None = None) -> dict[str, Any]:
    out = {**council_section(c), "seats": c.rules.get("seats")}
    if deputies is not None:
        out["deputies"] = deputies
    return out


async def list_councils(request: Request) -> JSONResponse:
    """
    ---
    summary: Councils, with their seats and number of deputies on the roster
    responses:
      200: {description: "[{id, name, region, seats, deputies}]"}
    """
    async with _db(request).read() as db:
        counts = dict(
            (
                await db.execute(
                    select(models.Deputy.council_id, func.count()).group_by(
                        models.Deputy.council_id
                    )
                )
            ).all()
        )
        councils = await db.scalars(select(models.Council).order_by(models.Council.name))
        return JSONResponse([_council(c, counts.get(c.id, 0)) for c in councils])


async def _get_council(db: Any, council_id: int) -> models.Council:
    council = await db.get(models.Council, council_id)
    if council is None:
        raise ApiError(404, "not_found", f"there is no council {council_id}")
    assert isinstance(council, models.Council)
    return council


async def get_council(request: Request) -> JSONResponse:
    """
    ---
    summary: One council with its rules (reglament)
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: "{id, name, region, seats, rules}"}
      404: {description: no such council}
    """
    async with _db(request).read() as db:
        council = await _get_council(db, path_id(request, "council"))
        return JSONResponse({**_council(council), "rules": council.rules})


def _may_see_pinfl(actor: Actor, council_id: int) -> bool:
    return actor.role == "admin" or (actor.role == "secretary" and actor.council_id == council_id)


async def list_deputies(request: Request) -> JSONResponse:
    """
    ---
    summary: A council's deputies by seat; PINFL only for its secretariat and admins
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
      - name: token
        in: query
        description: the bearer token, for clients that cannot send the header
        schema: {type: string}
    responses:
      200: {description: "[{id, name, seat, district, faction}]"}
      401: {description: bad or expired token}
      404: {description: no such council}
    """
    actor = await caller(request)
    council_id = path_id(request, "council")
    async with _db(request).read() as db:
        await _get_council(db, council_id)
        rows = await db.scalars(
            select(models.Deputy)
            .where(models.Deputy.council_id == council_id)
            .order_by(models.Deputy.seat_no)
        )
        with_pinfl = _may_see_pinfl(actor, council_id)
        return JSONResponse(
            [
                {
                    "id": d.id,
                    "name": d.full_name,
                    "seat": d.seat_no,
                    "district": d.district,
                    "faction": d.faction,
                    **({"pinfl": d.pinfl} if with_pinfl else {}),
                }
                for d in rows
            ]
        )


async def list_sessions(request: Request) -> JSONResponse:
    """
    ---
    summary: Sessions, newest first, with council and state
    parameters:
      - name: council
        in: query
        schema: {type: integer, minimum: 1, maximum: 2147483647}
      - name: state
        in: query
        schema: {type: string, enum: [scheduled, open, closed]}
    responses:
      200: {description: "[{id, number, title, date, state, council}]"}
      400: {description: bad filter}
    """
    query = select(models.Session, models.Council).join(models.Council)
    council = query_id(request, "council")
    if council is not None:
        query = query.where(models.Session.council_id == council)
    state = request.query_params.get("state")
    if state is not None:
        if state not in ("scheduled", "open", "closed"):
            raise ApiError(400, "bad_query", "state is one of scheduled, open, closed")
        query = query.where(models.Session.state == state)
    query = query.order_by(models.Session.scheduled_for.desc(), models.Session.id.desc())
    async with _db(request).read() as db:
        rows = (await db.execute(query.limit(200))).all()
        return JSONResponse(
            [{**session_section(s), "council": council_section(c)} for s, c in rows]
        )


async def get_session(request: Request) -> JSONResponse:
    """
    ---
    summary: One session with its agenda; live state comes over /ws
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: "{id, number, title, date, state, council, agenda, seq}"}
      404: {description: no such session}
    """
    session_id = path_id(request, "session")
    async with _db(request).read() as db:
        s = await db.get(models.Session, session_id)
        if s is None:
            raise ApiError(404, "not_found", f"there is no session {session_id}")
        council = await _get_council(db, s.council_id)
        items = await db.scalars(
            select(models.AgendaItem)
            .where(models.AgendaItem.session_id == s.id)
            .order_by(models.AgendaItem.position)
        )
        return JSONResponse(
            {
                **session_section(s),
                "council": council_section(council),
                "seq": s.last_seq,
                "agenda": [
                    {
                        "id": i.id,
                        "position": i.position,
                        "title": i.title,
                        "state": i.state,
                        "draft": {"title": i.draft_title} if i.draft_title else None,
                    }
                    for i in items
                ],
            }
        )


async def _vote_record(request: Request) -> exports.VoteRecord:
    vote_id = path_id(request, "vote")
    async with _db(request).read() as db:
        vote = await db.get(models.Vote, vote_id)
        if vote is None:
            raise ApiError(404, "not_found", f"there is no vote {vote_id}")
        session = await db.get(models.Session, vote.session_id)
        item = await db.get(models.AgendaItem, vote.agenda_item_id)
        assert session is not None and item is not None  # foreign keys
        council = await _get_council(db, session.council_id)
        deputies = await db.scalars(
            select(models.Deputy)
            .where(models.Deputy.council_id == council.id)
            .order_by(models.Deputy.seat_no)
        )
        return exports.VoteRecord(vote, session, council, item, list(deputies))


async def get_vote(request: Request) -> JSONResponse:
    """
    ---
    summary: One vote with its outcome record (recomputable) and published ballots
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: "{id, question, kind, rule, secret, state, result, ballots, ...}"}
      404: {description: no such vote}
    """
    return JSONResponse(exports.vote_json(await _vote_record(request)))


def _closed(record: exports.VoteRecord) -> exports.VoteRecord:
    if record.vote.state in ("open", "pending_chair"):
        raise ApiError(409, "vote_open", "the protocol is made when the vote is closed")
    return record


async def vote_protocol_json(request: Request) -> JSONResponse:
    """
    ---
    summary: The vote protocol as a Popolo vote event (motion, counts, votes by voter)
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: Popolo vote event}
      404: {description: no such vote}
      409: {description: the vote is still open}
    """
    record = _closed(await _vote_record(request))
    return JSONResponse(
        exports.popolo(record),
        headers={"Content-Disposition": f'attachment; filename="vote-{record.vote.id}.json"'},
    )


async def vote_protocol_csv(request: Request) -> Response:
    """
    ---
    summary: The vote protocol as CSV (UTF-8)
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      200: {description: CSV}
      404: {description: no such vote}
      409: {description: the vote is still open}
    """
    record = _closed(await _vote_record(request))
    return Response(
        exports.protocol_csv(record),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="vote-{record.vote.id}.csv"'},
    )


async def vote_protocol_pdf(request: Request) -> Response:
    """
    ---
    summary: The vote protocol as PDF
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: lang, in: query, schema: {type: string, enum: [uz-Latn, uz-Cyrl, ru, en]}}
    responses:
      200: {description: application/pdf}
      404: {description: no such vote}
      409: {description: the vote is still open}
    """
    lang = lang_of(request)
    record = _closed(await _vote_record(request))
    data = exports.protocol_document(record, public_url(request, f"/api/votes/{record.vote.id}"))
    return await pdf(request, documents.render_protocol, data, lang, f"vote-{record.vote.id}.pdf")


async def session_minutes_pdf(request: Request) -> Response:
    """
    ---
    summary: The minutes of a sitting as PDF, built from its event log
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: lang, in: query, schema: {type: string, enum: [uz-Latn, uz-Cyrl, ru, en]}}
    responses:
      200: {description: application/pdf}
      404: {description: no such session}
    """
    lang = lang_of(request)
    session_id = path_id(request, "session")
    async with _db(request).read() as db:
        s = await db.get(models.Session, session_id)
        if s is None:
            raise ApiError(404, "not_found", f"there is no session {session_id}")
        council = await _get_council(db, s.council_id)
        deputies = await db.scalars(
            select(models.Deputy).where(models.Deputy.council_id == council.id)
        )
        items = await db.scalars(
            select(models.AgendaItem).where(models.AgendaItem.session_id == s.id)
        )
        events = await eventlog.read_since(db, s.id)
        data = minutes.minutes(council, s, list(deputies), list(items), events)
    return await pdf(request, documents.render_minutes, data, lang, f"minutes-{s.id}.pdf")


async def my_ballot(request: Request) -> JSONResponse:
    """
    ---
    summary: Has the calling deputy voted in this vote (and, in a named vote, how)?
    description: A secret vote answers only whether; the server keeps no link to the choice.
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: 1, maximum: 2147483647}
      - name: token
        in: query
        description: the bearer token, for clients that cannot send the header
        schema: {type: string}
    responses:
      200: {description: "{vote, voted, choice?}"}
      401: {description: bad or expired token}
      403: {description: not a deputy}
      404: {description: no such vote}
    """
    actor = await caller(request)
    if actor.deputy_id is None:
        raise ApiError(403, "forbidden", "only a deputy has a ballot")
    vote_id = path_id(request, "vote")
    async with _db(request).read() as db:
        vote = await db.get(models.Vote, vote_id)
        if vote is None:
            raise ApiError(404, "not_found", f"there is no vote {vote_id}")
        if vote.secret:
            voted = await db.get(models.VoteParticipant, (vote.id, actor.deputy_id))
            return JSONResponse({"vote": vote.id, "voted": voted is not None})
        ballot = await db.get(models.NamedBallot, (vote.id, actor.deputy_id))
        return JSONResponse(
            {
                "vote": vote.id,
                "voted": ballot is not None,
                **({"choice": ballot.choice} if ballot is not None else {}),
            }
        )


routes = [
    Route("/api/councils", list_councils, methods=["GET"]),
    Route("/api/councils/{id:digits}", get_council, methods=["GET"]),
    Route("/api/councils/{id:digits}/deputies", list_deputies, methods=["GET"]),
    Route("/api/sessions", list_sessions, methods=["GET"]),
    Route("/api/sessions/{id:digits}", get_session, methods=["GET"]),
    Route("/api/votes/{id:digits}", get_vote, methods=["GET"]),
    Route("/api/votes/{id:digits}/mine", my_ballot, methods=["GET"]),
    Route("/api/votes/{id:digits}/protocol.json", vote_protocol_json, methods=["GET"]),
    Route("/api/votes/{id:digits}/protocol.csv", vote_protocol_csv, methods=["GET"]),
    Route("/api/votes/{id:digits}/protocol.pdf", vote_protocol_pdf, methods=["GET"]),
    Route("/api/sessions/{id:digits}/minutes.pdf", session_minutes_pdf, methods=["GET"]),
]
