"""The chair's signature over a decision, checked before `decision.sign` is queued.

The signature is a detached PKCS#7 over the decision's canonical bytes (its ledger
entry, ledger/entries.py), checked by the same verifier interface as an E-IMZO sign-in:
E-IMZO-SERVER, or local CMS verification against trusted CAs. Whose signature it is the
handler decides (the signer's PINFL must be the chair's)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import ValidationError

from session_server.auth.tokens import Actor
from session_server.commands.base import CommandError
from session_server.commands.decisions import ChairSignature, SignArgs
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.ledger.entries import canonical, decision_entry
from session_server.signatures.base import SignatureError, Verifier, VerifierUnavailable


async def decision_bytes(db: Database, decision_id: int) -> bytes | None:
    """What the chair signs: the decision's canonical entry; None if there is none."""
    async with db.read() as session:
        decision = await session.get(models.Decision, decision_id)
        if decision is None:
            return None
        sitting = await session.get(models.Session, decision.session_id)
        council = await session.get(models.Council, decision.council_id)
        assert sitting is not None and council is not None
        return canonical(decision_entry(decision, sitting, council))


class DecisionSigning:
    def __init__(self, db: Database, verifier: Verifier | None) -> None:
        self.db = db
        self.verifier = verifier

    async def prepare(self, actor: Actor, raw: Any) -> tuple[Any, object | None]:
        try:
            args = SignArgs.model_validate(raw)
        except ValidationError:
            return raw, None  # the dispatcher answers invalid_args with the details
        if self.verifier is None:
            raise CommandError(
                "signing_unavailable", "no signature verifier is configured on this server"
            )
        try:
            pkcs7 = base64.b64decode(args.pkcs7, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CommandError("bad_pkcs7", "pkcs7: not base64") from exc
        if not pkcs7:
            raise CommandError("bad_pkcs7", "pkcs7: the signature is missing")
        async with self.db.read() as db:
            sitting = await db.get(models.Session, args.session)
        if sitting is None:
            return raw, None  # the dispatcher answers not_found
        if actor.role not in ("admin", "system") and actor.council_id != sitting.council_id:
            # As the handler would, before a signature of another council is looked at.
            raise CommandError("forbidden", "this session belongs to another council")
        content = await decision_bytes(self.db, args.decision)
        if content is None:
            return raw, None  # the handler answers not_found
        try:
            verified = await self.verifier.verify_detached(pkcs7, content)
        except SignatureError as exc:
            raise CommandError(exc.code, exc.message) from exc
        except VerifierUnavailable as exc:
            raise CommandError("unavailable", "the signature could not be checked now") from exc
        signer = verified.signer
        evidence = ChairSignature(
            decision_id=args.decision,
            pkcs7=pkcs7,
            signer_pinfl=signer.pinfl,
            signer_name=signer.name,
            serial=signer.serial,
            signed_at=verified.signed_at or utcnow(),
        )
        # The handler needs no second copy of the signature in its arguments.
        return {**args.model_dump(), "pkcs7": ""}, evidence
