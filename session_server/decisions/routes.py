"""The decisions register over HTTP: search, one decision, its PDF, the bytes the chair
signs and the signature; the chair's signing. Each handler's docstring after `---` is
its OpenAPI description."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, column, func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import documents
from session_server import demo_pki
from session_server.auth.tokens import Actor
from session_server.commands.decisions import MAX_PKCS7_CHARS
from session_server.db import models
from session_server.db.engine import Database
from session_server.decisions import search
from session_server.decisions.signing import decision_bytes
from session_server.http import ApiError, caller, path_id, query_id, read_json
from session_server.ledger.log import LedgerLog
from session_server.minutes import rule_text
from session_server.rendering import Renderer

MAX_PER_PAGE = 100
COUNT_CAP = 10_000
_NUMBER = re.compile(r"[^\x00-\x1f]{1,64}")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_query", f"{name} must be a date, YYYY-MM-DD") from exc


def _whole(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not low <= int(raw) <= high:
        raise ApiError(400, "bad_query", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang", "uz-Latn")
    if lang not in documents.LANGUAGES:
        known = ", ".join(documents.LANGUAGES)
        raise ApiError(400, "bad_query", f"lang must be one of {known}")
    return lang


# On SQLite the FTS5 index drives the search. Alone, its rowids come newest first from
# the index itself, so a count stops at the cap and a page reads only its own rows. With
# other filters, the `+` keeps SQLite from looking rows up by the (often long) list of
# matches, and lets the date or council index lead, testing each row against the list.
_FTS = "SELECT rowid FROM decisions_fts WHERE decisions_fts MATCH :match"
_FTS_COUNT = text(f"SELECT count(*) FROM ({_FTS} LIMIT :cap)")
_FTS_PAGE = text(f"{_FTS} ORDER BY rowid DESC LIMIT :limit OFFSET :offset")
_FTS_FILTER = text(f"+decisions.id IN ({_FTS})")


def _postgres_matching(terms: list[str]) -> Any:
    return func.to_tsvector("simple", models.Decision.search_text).op("@@")(
        func.to_tsquery("simple", search.tsquery(terms))
    )


async def list_decisions(request: Request) -> JSONResponse:
    """
    ---
    summary: Search the decisions register (words, council, dates, number)
    parameters:
      - {name: q, in: query, schema: {type: string, maxLength: 200}}
      - {name: council, in: query, schema: {type: integer, minimum: 1}}
      - {name: session, in: query, schema: {type: integer, minimum: 1}}
      - {name: from, in: query, schema: {type: string, format: date}}
      - {name: to, in: query, schema: {type: string, format: date}}
      - {name: number, in: query, schema: {type: string, maxLength: 64}}
      - {name: page, in: query, schema: {type: integer, minimum: 1, default: 1}}
      - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 20}}
    responses:
      200: {description: "{items: [{id, number, title, council, ...}], total, page, per_page}"}
      400: {description: "bad_query, query_too_long, page_out_of_range"}
    """
    q = request.query_params.get("q", "")
    if len(q) > search.MAX_QUERY_CHARS:
        raise ApiError(400, "query_too_long", f"q: at most {search.MAX_QUERY_CHARS} characters")
    council = query_id(request, "council")
    sitting = query_id(request, "session")
    start, end = _date(request, "from"), _date(request, "to")
    number = request.query_params.get("number")
    if number is not None and number != "" and not _NUMBER.fullmatch(number):
        raise ApiError(400, "bad_query", "number: 1 to 64 printable characters")
    page = _whole(request, "page", 1, 1, 100_000)
    per_page = _whole(request, "per_page", 20, 1, MAX_PER_PAGE)
    db = _db(request)
    conditions: list[Any] = []
    if council is not None:
        conditions.append(models.Decision.council_id == council)
    if sitting is not None:
        conditions.append(models.Decision.session_id == sitting)
    if start is not None:
        conditions.append(models.Decision.adopted_on >= start)
    if end is not None:
        conditions.append(models.Decision.adopted_on <= end)
    if number:
        conditions.append(models.Decision.number == number)
    terms = search.words(q)
    fts_alone = None  # the FTS5 query, where it is the only condition
    if terms and db.engine.dialect.name == "sqlite":
        if conditions:
            conditions.append(_FTS_FILTER.bindparams(match=search.fts5_query(terms)))
        else:
            fts_alone = search.fts5_query(terms)
    elif terms:
        conditions.append(_postgres_matching(terms))
    async with db.read() as session:
        # Counted up to COUNT_CAP: past that "10,000 or more" is all a reader needs,
        # and counting a word found in most decisions would cost more than the page.
        if fts_alone is not None:
            count = _FTS_COUNT.bindparams(match=fts_alone, cap=COUNT_CAP + 1)
            counted = (await session.execute(count)).scalar() or 0
        else:
            found = select(models.Decision.id).where(*conditions).limit(COUNT_CAP + 1)
            counted = await session.scalar(select(func.count()).select_from(found.subquery())) or 0
        total, more = min(counted, COUNT_CAP), counted > COUNT_CAP
        if page > 1 and (page - 1) * per_page >= total and not more:
            raise ApiError(400, "page_out_of_range", f"page {page}: there are {total} results")
        listing = (
            select(
                models.Decision,
                models.Council.name,
                models.Session.number,
                models.DecisionSignature.decision_id,
            )
            .join(models.Council, models.Council.id == models.Decision.council_id)
            .join(models.Session, models.Session.id == models.Decision.session_id)
            .outerjoin(
                models.DecisionSignature,
                models.DecisionSignature.decision_id == models.Decision.id,
            )
            # Newest first: ids grow as decisions are formed, and an index (the primary
            # key, or FTS5's rowids) gives them in that order, so a page stops early.
            .order_by(models.Decision.id.desc())
        )
        if fts_alone is not None:
            matches = _FTS_PAGE.bindparams(
                match=fts_alone, limit=per_page, offset=(page - 1) * per_page
            ).columns(column("rowid", Integer))
            listing = listing.where(models.Decision.id.in_(matches))
        else:
            # The page's ids first, from the indexes alone; then only those rows joined.
            ids = (
                select(models.Decision.id)
                .where(*conditions)
                .order_by(models.Decision.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
            listing = listing.where(models.Decision.id.in_(ids.scalar_subquery()))
        rows = await session.execute(listing)
        items = [
            {
                "id": d.id,
                "number": d.number,
                "title": d.title,
                "council": {"id": d.council_id, "name": council_name},
                "session": {"id": d.session_id, "number": session_number},
                "adopted_on": d.adopted_on.isoformat(),
                "state": "signed" if signed else "adopted",
            }
            for d, council_name, session_number, signed in rows
        ]
    return JSONResponse(
        {"items": items, "total": total, "more": more, "page": page, "per_page": per_page}
    )


async def _decision(request: Request) -> dict[str, Any]:
    decision_id = path_id(request, "decision")
    ledger: LedgerLog = request.app.state.ledger
    async with _db(request).read() as db:
        d = await db.get(models.Decision, decision_id)
        if d is None:
            raise ApiError(404, "not_found", f"there is no decision {decision_id}")
        council = await db.get(models.Council, d.council_id)
        sitting = await db.get(models.Session, d.session_id)
        item = await db.get(models.AgendaItem, d.agenda_item_id)
        vote = await db.get(models.Vote, d.vote_id)
        signature = await db.get(models.DecisionSignature, d.id)
        assert council and sitting and item and vote  # foreign keys
    where = await ledger.entries_of([("decision", d.id), ("vote", d.vote_id), ("signature", d.id)])
    outcome = vote.outcome or {}
    return {
        "id": d.id,
        "number": d.number,
        "title": d.title,
        "text": d.text,
        "council": {"id": council.id, "name": council.name},
        "session": {
            "id": sitting.id,
            "number": sitting.number,
            "title": sitting.title,
            "date": sitting.scheduled_for.isoformat(),
        },
        "item": {"id": item.id, "position": item.position, "title": item.title},
        "vote": {
            "id": vote.id,
            "counts": outcome.get("counts"),
            "result": outcome.get("result"),
            "present": outcome.get("present"),
            "seats": outcome.get("seats"),
            "rule": rule_text(outcome.get("rule") or vote.rule),
        },
        "adopted_on": d.adopted_on.isoformat(),
        "adopted_at": models.iso(d.adopted_at),
        "state": "signed" if signature else "adopted",
        "signature": None
        if signature is None
        else {
            "signer": signature.signer_name,
            "serial": signature.serial,
            "signed_at": models.iso(signature.signed_at),
        },
        "ledger": {
            "decision": where.get(("decision", d.id)),
            "vote": where.get(("vote", d.vote_id)),
            "signature": where.get(("signature", d.id)),
        },
    }


async def get_decision(request: Request) -> JSONResponse:
    """
    ---
    summary: One decision, with its vote, signature and where its entries are in the ledger
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: "{id, number, title, text, council, session, vote, signature, ledger}"}
      404: {description: no such decision}
    """
    return JSONResponse(await _decision(request))


def public_url(request: Request, path: str) -> str:
    base: str = request.app.state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + path


async def decision_pdf(request: Request) -> Response:
    """
    ---
    summary: The decision as PDF, with a QR code that opens its verification page
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      - {name: lang, in: query, schema: {type: string, enum: [uz-Latn, uz-Cyrl, ru, en]}}
    responses:
      200: {description: application/pdf}
      404: {description: no such decision}
    """
    lang = lang_of(request)
    d = await _decision(request)
    data = {
        "council": d["council"]["name"],
        "number": d["number"],
        "title": d["title"],
        "text": d["text"],
        "adopted_on": d["adopted_on"],
        "session": {"number": d["session"]["number"], "title": d["session"]["title"]},
        "vote": {
            "counts": [{"option": o, "votes": n} for o, n in (d["vote"]["counts"] or {}).items()],
            "present": d["vote"]["present"],
            "seats": d["vote"]["seats"],
            "rule": d["vote"]["rule"],
            "result": d["vote"]["result"],
        },
        "signature": d["signature"],
        "ledger": {"index": d["ledger"]["decision"]},
        "url": public_url(request, f"/decisions/{d['id']}"),
    }
    return await pdf(request, documents.render_decision, data, lang, f"decision-{d['id']}.pdf")


async def pdf(
    request: Request, render: Any, data: dict[str, Any], lang: str, name: str
) -> Response:
    renderer: Renderer = request.app.state.renderer
    body = await renderer.render(render, data, lang)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def canonical_json(request: Request) -> Response:
    """
    ---
    summary: The decision's canonical bytes (RFC 8785 JSON), which the chair signs
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: application/json, the exact bytes}
      404: {description: no such decision}
    """
    decision_id = path_id(request, "decision")
    content = await decision_bytes(_db(request), decision_id)
    if content is None:
        raise ApiError(404, "not_found", f"there is no decision {decision_id}")
    return Response(content, media_type="application/json")


async def signature_file(request: Request) -> Response:
    """
    ---
    summary: The chair's detached PKCS#7 signature over the canonical bytes (DER)
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: application/pkcs7-signature}
      404: {description: "not_found, or not_signed: the decision awaits its signature"}
    """
    decision_id = path_id(request, "decision")
    async with _db(request).read() as db:
        if await db.get(models.Decision, decision_id) is None:
            raise ApiError(404, "not_found", f"there is no decision {decision_id}")
        signature = await db.get(models.DecisionSignature, decision_id)
    if signature is None:
        raise ApiError(404, "not_signed", "the decision awaits the chair's signature")
    return Response(
        signature.pkcs7,
        media_type="application/pkcs7-signature",
        headers={"Content-Disposition": f'attachment; filename="decision-{decision_id}.p7s"'},
    )


class SignatureBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    pkcs7: str = Field(min_length=1, max_length=MAX_PKCS7_CHARS)


# How a refused decision.sign reads over HTTP.
_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "not_the_chair": 403,
    "already_signed": 409,
    "signing_unavailable": 503,
    "unavailable": 503,
}


async def _sign(request: Request, actor: Actor, decision_id: int, pkcs7: str) -> JSONResponse:
    async with _db(request).read() as db:
        d = await db.get(models.Decision, decision_id)
    if d is None:
        raise ApiError(404, "not_found", f"there is no decision {decision_id}")
    hub = request.app.state.hub
    answer = await hub.dispatcher.execute(
        actor,
        f"sign:{decision_id}:{uuid.uuid4().hex}",
        "decision.sign",
        {"session": d.session_id, "decision": decision_id, "pkcs7": pkcs7},
    )
    if answer["type"] != "ack":
        error = answer["error"]
        raise ApiError(_STATUS.get(error["code"], 400), error["code"], error["message"])
    return JSONResponse(answer["result"])


def _chair(actor: Actor) -> Actor:
    if actor.role != "chair":
        raise ApiError(403, "forbidden", "only the chair signs decisions")
    return actor


async def sign(request: Request) -> JSONResponse:
    """
    ---
    summary: The chair signs a decision (a detached PKCS#7 over its canonical bytes, from E-IMZO)
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [pkcs7]
            properties: {pkcs7: {type: string, description: base64 DER, detached}}
    responses:
      200: {description: "{decision, signed: true}"}
      400: {description: "bad_pkcs7, bad_signature, untrusted_certificate, ..."}
      403: {description: "forbidden (not the chair), not_the_chair (someone else's certificate)"}
      409: {description: already_signed}
    """
    actor = _chair(await caller(request))
    decision_id = path_id(request, "decision")
    body = await read_json(request, SignatureBody, limit=MAX_PKCS7_CHARS + 1024)
    return await _sign(request, actor, decision_id, body.pkcs7)


async def sign_demo(request: Request) -> JSONResponse:
    """
    ---
    summary: The chair signs with the demo certificate (only while KENGASH_DEMO=1)
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: "{decision, signed: true}"}
      404: {description: "demo_off, not_found"}
    """
    settings = request.app.state.settings
    if not settings.demo or settings.environment == "production":
        raise ApiError(404, "demo_off", "demo signing is only for KENGASH_DEMO=1")
    actor = _chair(await caller(request))
    decision_id = path_id(request, "decision")
    content = await decision_bytes(_db(request), decision_id)
    if content is None:
        raise ApiError(404, "not_found", f"there is no decision {decision_id}")
    async with _db(request).read() as db:
        chair = await db.get(models.Deputy, actor.deputy_id) if actor.deputy_id else None
    if chair is None:
        raise ApiError(403, "forbidden", "only a chair who is a deputy signs decisions")
    der = demo_pki.sign_detached(settings.var_dir, chair.full_name, chair.pinfl, content)
    return await _sign(request, actor, decision_id, base64.b64encode(der).decode())


routes = [
    Route("/api/decisions", list_decisions, methods=["GET"]),
    Route("/api/decisions/{id:digits}", get_decision, methods=["GET"]),
    Route("/api/decisions/{id:digits}/decision.pdf", decision_pdf, methods=["GET"]),
    Route("/api/decisions/{id:digits}/canonical.json", canonical_json, methods=["GET"]),
    Route("/api/decisions/{id:digits}/signature.p7s", signature_file, methods=["GET"]),
    Route("/api/decisions/{id:digits}/signature", sign, methods=["POST"]),
    Route("/api/decisions/{id:digits}/signature/demo", sign_demo, methods=["POST"]),
]
