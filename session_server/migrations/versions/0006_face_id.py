"""Face ID: sealed face templates, face-verified sign-ins, face checks on votes and in
the audit trail, challenges that name whom they are for

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_templates",
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["deputy_id"], ["deputies.id"]),
        sa.ForeignKeyConstraint(["enrolled_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("deputy_id"),
    )
    # Plain ADD COLUMN, which SQLite does in place: a batch would copy `votes`, and the
    # ballots' foreign keys refuse the DROP of the old copy.
    op.add_column(
        "sign_ins", sa.Column("face_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("auth_challenges", sa.Column("subject", sa.JSON(), nullable=True))
    op.add_column("votes", sa.Column("face_check", sa.String(length=8), nullable=True))
    op.add_column(
        "audit_events",
        sa.Column("subject", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column("audit_events", sa.Column("distance", sa.Float(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35 and later), for the same reason as above.
    op.drop_column("audit_events", "distance")
    op.drop_column("audit_events", "subject")
    op.drop_column("votes", "face_check")
    op.drop_column("auth_challenges", "subject")
    op.drop_column("sign_ins", "face_verified_at")
    op.drop_table("face_templates")
