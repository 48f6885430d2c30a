"""Enrolled faces in the database: sealed on the way in, opened on the way out.

Only descriptors (128 numbers per photo) are kept, sealed with AES-GCM under the face
key and bound to the deputy's id, so a row copied to another deputy does not open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as DbSession

from biometrics import templates
from session_server.db import models
from session_server.db.models import iso


@dataclass(frozen=True)
class Enrolment:
    deputy: int
    samples: int
    enrolled_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "deputy": self.deputy,
            "enrolled": self.enrolled_at is not None,
            "samples": self.samples,
            "enrolled_at": iso(self.enrolled_at),
        }


class FaceStore:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def keep(
        self,
        db: DbSession,
        deputy_id: int,
        descriptors: Sequence[Sequence[float]],
        now: datetime,
        by: int | None,
    ) -> Enrolment:
        """Enrol (or re-enrol: the new samples replace the old) in the caller's transaction."""
        sealed = templates.seal(self._key, deputy_id, descriptors)
        row = db.get(models.FaceTemplate, deputy_id)
        if row is None:
            row = models.FaceTemplate(deputy_id=deputy_id)
            db.add(row)
        row.sealed, row.samples, row.enrolled_at, row.enrolled_by = (
            sealed,
            len(descriptors),
            now,
            by,
        )
        return Enrolment(deputy_id, len(descriptors), now)

    @staticmethod
    def remove(db: DbSession, deputy_id: int) -> bool:
        row = db.get(models.FaceTemplate, deputy_id)
        if row is None:
            return False
        db.delete(row)
        return True

    @staticmethod
    async def enrolment(db: AsyncSession, deputy_id: int) -> Enrolment:
        row = await db.get(models.FaceTemplate, deputy_id)
        if row is None:
            return Enrolment(deputy_id, 0, None)
        return Enrolment(deputy_id, row.samples, row.enrolled_at)

    async def samples(self, db: AsyncSession, deputy_id: int) -> list[list[float]] | None:
        """The deputy's descriptors, or None if they are not enrolled. A row that does not
        open (another key, another deputy's row) raises templates.TemplateError."""
        sealed = await db.scalar(
            select(models.FaceTemplate.sealed).where(models.FaceTemplate.deputy_id == deputy_id)
        )
        if sealed is None:
            return None
        return templates.unseal(self._key, deputy_id, sealed)
