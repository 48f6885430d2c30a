"""Ingest keys: a sitting's bearer tokens for WHIP publishers (OBS Studio), kept hashed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ingest_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("stored", sa.String(100), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_used_at", UTC_TIME, nullable=True),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_index("ix_ingest_keys_session_id", "ingest_keys", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_ingest_keys_session_id", "ingest_keys")
    op.drop_table("ingest_keys")
