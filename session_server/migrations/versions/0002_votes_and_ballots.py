"""votes and ballots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:21:47.772710
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("motion", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("ballots", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["agenda_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_votes_session_id"), ["session_id"], unique=False)

    op.create_table(
        "ballot_boxes",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("ballots", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vote_id"],
            ["votes.id"],
        ),
        sa.PrimaryKeyConstraint("vote_id"),
    )
    op.create_table(
        "named_ballots",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deputy_id"],
            ["deputies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["vote_id"],
            ["votes.id"],
        ),
        sa.PrimaryKeyConstraint("vote_id", "deputy_id"),
    )
    op.create_table(
        "vote_participants",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deputy_id"],
            ["deputies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["vote_id"],
            ["votes.id"],
        ),
        sa.PrimaryKeyConstraint("vote_id", "deputy_id"),
    )


def downgrade() -> None:

    op.drop_table("vote_participants")
    op.drop_table("named_ballots")
    op.drop_table("ballot_boxes")
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_votes_session_id"))

    op.drop_table("votes")
