"""Checking a server's public ledger from outside, as anyone can (`kengash ledger
verify URL`): only the public endpoints and the tests' own kind of verifier (tlog).

1. The checkpoint's signature, under the server's published key (or one given).
2. The entries: each one's bytes rebuilt from the public API (a vote from
   `GET /api/votes/{id}`, a decision from `GET /api/decisions/{id}`, a signature from
   the decision and its `signature.p7s`) must be the bytes in the log; then either the
   whole tree recomputed from all entries must give the checkpoint's root, or, for the
   entries asked for, their inclusion proofs must.
3. With a state file: the consistency of this checkpoint with the one seen last time,
   so a rewritten or removed entry shows even where nobody looks at it."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import rfc8785

import tlog
from tlog import proofs, tree

Report = Callable[[str], None]


class LedgerProblem(Exception):
    """The ledger does not check out: the message says where."""


@dataclass
class Outcome:
    checkpoint: tlog.Checkpoint
    key_name: str
    entries_checked: int
    consistent_with: int | None  # the size seen last time, if any
    notes: list[str] = field(default_factory=list)


def vote_entry(v: dict[str, Any]) -> dict[str, Any]:
    """A vote's ledger entry, from GET /api/votes/{id}."""
    return {
        "type": "kengash.vote/v1",
        "id": v["id"],
        "council": {"id": v["council"]["id"], "name": v["council"]["name"]},
        "session": {"id": v["session"]["id"], "number": v["session"]["number"]},
        "item": v["item"]["id"],
        "question": v["question"],
        "kind": v["kind"],
        "secret": v["secret"],
        "draft": v["draft"],
        "opened_at": v["opened_at"],
        "closed_at": v["closed_at"],
        "result": v["result"],
        "ballots": v["ballots"],
    }


def decision_entry(d: dict[str, Any]) -> dict[str, Any]:
    """A decision's ledger entry, from GET /api/decisions/{id}."""
    return {
        "type": "kengash.decision/v1",
        "id": d["id"],
        "council": {"id": d["council"]["id"], "name": d["council"]["name"]},
        "session": {"id": d["session"]["id"], "number": d["session"]["number"]},
        "item": d["item"]["id"],
        "vote": d["vote"]["id"],
        "number": d["number"],
        "title": d["title"],
        "text": d["text"],
        "adopted_on": d["adopted_on"],
        "adopted_at": d["adopted_at"],
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class LedgerClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def get(self, path: str, **params: Any) -> httpx.Response:
        try:
            answer = self.http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise LedgerProblem(f"{path}: {exc}") from exc
        if answer.status_code != 200:
            raise LedgerProblem(f"{path}: HTTP {answer.status_code} {answer.text[:200]}")
        return answer

    def rebuilt(self, body: bytes) -> bytes:
        """The entry's bytes as the public API says they should be."""
        try:
            entry = json.loads(body)
            kind = entry["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerProblem("an entry that is not one of ours") from exc
        if kind == "kengash.vote/v1":
            return rfc8785.dumps(vote_entry(self.get(f"/api/votes/{entry['id']}").json()))
        if kind == "kengash.decision/v1":
            return rfc8785.dumps(decision_entry(self.get(f"/api/decisions/{entry['id']}").json()))
        if kind == "kengash.decision-signature/v1":
            decision = entry["decision"]
            signed = self.get(f"/api/decisions/{decision}").json()
            decision_bytes = rfc8785.dumps(decision_entry(signed))
            pkcs7 = self.get(f"/api/decisions/{decision}/signature.p7s").content
            return rfc8785.dumps(
                {
                    "type": kind,
                    "decision": decision,
                    "decision_sha256": _b64(hashlib.sha256(decision_bytes).digest()),
                    "signer": signed["signature"]["signer"],
                    "serial": signed["signature"]["serial"],
                    "signed_at": signed["signature"]["signed_at"],
                    "pkcs7": _b64(pkcs7),
                }
            )
        raise LedgerProblem(f"an entry of an unknown type {kind!r}")


def verify(
    http: httpx.Client,
    *,
    vkey: str | None = None,
    entries: list[int] | None = None,
    state: Path | None = None,
    report: Report = lambda line: None,
) -> Outcome:
    client = LedgerClient(http)
    known = json.loads(state.read_text()) if state is not None and state.exists() else None
    published = client.get("/ledger/vkey").text.strip()
    key = vkey or (known["vkey"] if known else published)
    if key != published:
        raise LedgerProblem(
            "the server's key is not the one expected: "
            f"{published!r} (expected {key!r}); if the operator announced a new key, "
            "check it and pass it with --vkey"
        )
    try:
        verifier = tlog.Verifier.from_vkey(key)
    except tlog.NoteError as exc:
        raise LedgerProblem(f"not a verifier key: {exc}") from exc
    note = client.get("/ledger/checkpoint").content
    try:
        checkpoint, names = tlog.open_checkpoint(note, [verifier])
    except (tlog.NoteError, tlog.CheckpointError) as exc:
        raise LedgerProblem(f"the checkpoint does not check out: {exc}") from exc
    report(f"checkpoint: {checkpoint.origin}, {checkpoint.size} entries, signed by {names[0]}")
    size = checkpoint.size
    if entries is None:
        leaves = []
        for index in range(size):
            leaves.append(tlog.leaf_hash(_entry(client, index)))
        nodes = tree.append(0, leaves, {})
        if tree.root(size, nodes) != checkpoint.root:
            raise LedgerProblem("the entries do not make the checkpoint's root")
        checked = size
    else:
        for index in entries:
            if not 0 <= index < size:
                raise LedgerProblem(f"entry {index}: the log has {size} entries")
            body = _entry(client, index)
            proof = client.get("/ledger/proof/inclusion", index=index, size=size).json()
            try:
                proofs.verify_inclusion(
                    index,
                    size,
                    tlog.leaf_hash(body),
                    [base64.b64decode(h) for h in proof["proof"]],
                    checkpoint.root,
                )
            except proofs.ProofError as exc:
                raise LedgerProblem(f"entry {index} is not in the tree: {exc}") from exc
        checked = len(entries)
    report(f"entries: {checked} checked against the public API and the root")
    consistent_with = None
    if known is not None:
        old, old_root = int(known["size"]), base64.b64decode(known["root"])
        if known.get("origin") != checkpoint.origin:
            raise LedgerProblem(f"the log's origin changed from {known.get('origin')!r}")
        if old > size:
            raise LedgerProblem(f"the log shrank from {old} to {size} entries")
        proof = client.get("/ledger/proof/consistency", old=old, new=size).json()
        try:
            proofs.verify_consistency(
                old,
                size,
                old_root,
                checkpoint.root,
                [base64.b64decode(h) for h in proof["proof"]],
            )
        except proofs.ProofError as exc:
            raise LedgerProblem(
                f"today's checkpoint is not an extension of the one seen before ({old}): {exc}"
            ) from exc
        consistent_with = old
        report(f"consistent with the checkpoint seen before ({old} entries)")
    if state is not None:
        state.write_text(
            json.dumps(
                {
                    "origin": checkpoint.origin,
                    "size": size,
                    "root": _b64(checkpoint.root),
                    "vkey": key,
                    "checkpoint": note.decode(),
                },
                indent=2,
            )
        )
    return Outcome(checkpoint, names[0], checked, consistent_with)


def _entry(client: LedgerClient, index: int) -> bytes:
    body = client.get(f"/ledger/entries/{index}").content
    if client.rebuilt(body) != body:
        raise LedgerProblem(f"entry {index} differs from what the public API shows")
    return body
