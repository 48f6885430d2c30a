"""The public ledger over HTTP: the latest checkpoint (a C2SP signed note), the key
that verifies it, each entry's exact bytes, and RFC 9162 inclusion and consistency
proofs with hashes in base64. Anyone may call them; nothing here changes anything."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import tlog
from session_server.http import ApiError
from session_server.ledger.entries import b64
from session_server.ledger.log import LedgerLog

_COUNT = re.compile(r"0|[1-9][0-9]{0,18}")
# The largest index a database integer holds: nineteen digits go past it, and no log
# will ever be that long.
_LARGEST = 2**63 - 1
# Checkpoints change with every append; entries and proofs for a given size never do.
_FRESH = {"Cache-Control": "no-cache"}
_FOREVER = {"Cache-Control": "public, max-age=31536000, immutable"}


def _ledger(request: Request) -> LedgerLog:
    ledger: LedgerLog = request.app.state.ledger
    return ledger


def _count(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        raise ApiError(400, "bad_query", f"{name} is required")
    if not _COUNT.fullmatch(raw):
        raise ApiError(400, "bad_query", f"{name} must be a whole number, 0 or more")
    if int(raw) > _LARGEST:
        raise ApiError(400, "out_of_range", f"{name} is beyond any log")
    return int(raw)


async def checkpoint(request: Request) -> Response:
    """
    ---
    summary: The ledger's latest checkpoint (C2SP tlog-checkpoint, as a signed note)
    responses:
      200: {description: "origin, size, root hash (base64), then the signature line"}
    """
    ledger = _ledger(request)
    head = await ledger.head()
    note = head.checkpoint if head else ledger.empty_checkpoint()
    return Response(note, media_type="text/plain; charset=utf-8", headers=_FRESH)


async def vkey(request: Request) -> Response:
    """
    ---
    summary: The key that verifies the checkpoints (C2SP note verifier key)
    responses:
      200: {description: "name+key id+base64 key, one line"}
    """
    verifier = _ledger(request).signer.verifier()
    return Response(verifier.vkey() + "\n", media_type="text/plain; charset=utf-8")


async def entry(request: Request) -> Response:
    """
    ---
    summary: One ledger entry, the exact bytes whose RFC 9162 leaf hash is in the tree
    parameters:
      - name: index
        in: path
        required: true
        schema: {type: integer, minimum: 0}
    responses:
      200: {description: "RFC 8785 canonical JSON: a vote, a decision or a signature"}
      404: {description: no entry at that index}
    """
    raw = request.path_params["index"]
    index = int(raw) if _COUNT.fullmatch(raw) else None
    found = await _ledger(request).entry(index) if index is not None and index <= _LARGEST else None
    if found is None:
        shown = raw if len(raw) <= 20 else f"{raw[:20]}…"
        raise ApiError(404, "not_found", f"the ledger has no entry {shown}")
    return Response(found.body, media_type="application/json", headers=_FOREVER)


async def inclusion(request: Request) -> JSONResponse:
    """
    ---
    summary: RFC 9162 inclusion proof of entry `index` in the tree of `size` entries
    parameters:
      - {name: index, in: query, required: true, schema: {type: integer, minimum: 0}}
      - {name: size, in: query, required: true, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: "{index, size, leaf_hash, proof: [base64 hashes]}"}
      400: {description: "malformed, or index >= size, or size beyond the log"}
    """
    index, size = _count(request, "index"), _count(request, "size")
    ledger = _ledger(request)
    try:
        proof = await ledger.inclusion(index, size)
    except tlog.RangeError as exc:
        raise ApiError(400, "out_of_range", str(exc)) from exc
    found = await ledger.entry(index)
    assert found is not None  # index < size <= the log's size
    return JSONResponse(
        {
            "index": index,
            "size": size,
            "leaf_hash": b64(tlog.leaf_hash(found.body)),
            "proof": [b64(h) for h in proof],
        },
        headers=_FOREVER,
    )


async def consistency(request: Request) -> JSONResponse:
    """
    ---
    summary: RFC 9162 consistency proof between the trees of `old` and `new` entries
    parameters:
      - {name: old, in: query, required: true, schema: {type: integer, minimum: 0}}
      - {name: new, in: query, required: true, schema: {type: integer, minimum: 0}}
    responses:
      200: {description: "{old, new, proof: [base64 hashes]}"}
      400: {description: "malformed, or old > new, or new beyond the log"}
    """
    old, new = _count(request, "old"), _count(request, "new")
    try:
        proof = await _ledger(request).consistency(old, new)
    except tlog.RangeError as exc:
        raise ApiError(400, "out_of_range", str(exc)) from exc
    return JSONResponse(
        {"old": old, "new": new, "proof": [b64(h) for h in proof]}, headers=_FOREVER
    )


routes = [
    Route("/ledger/checkpoint", checkpoint, methods=["GET"]),
    Route("/ledger/vkey", vkey, methods=["GET"]),
    Route("/ledger/entries/{index}", entry, methods=["GET"]),
    Route("/ledger/proof/inclusion", inclusion, methods=["GET"]),
    Route("/ledger/proof/consistency", consistency, methods=["GET"]),
]
