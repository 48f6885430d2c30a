"""secret ballots as rows; command ids bound to their arguments

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00

A secret vote's ballot box was one JSON document rewritten with every ballot: each
version, kept by SQLite's WAL and PostgreSQL's dead rows, showed which receipt the last
ballot added. Now each ballot is one row, written once, keyed by its receipt (without a
rowid on SQLite, so the file keeps them in receipt order).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_SECRET_BALLOTS = sa.table(
    "secret_ballots", sa.column("vote_id"), sa.column("receipt"), sa.column("choice", sa.JSON)
)
_BALLOT_BOXES = sa.table("ballot_boxes", sa.column("vote_id"), sa.column("ballots", sa.JSON))


def _document(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value)


def upgrade() -> None:
    op.create_table(
        "secret_ballots",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=16), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"]),
        sa.PrimaryKeyConstraint("vote_id", "receipt"),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    boxes = bind.execute(sa.text("SELECT vote_id, ballots FROM ballot_boxes")).all()
    op.bulk_insert(
        _SECRET_BALLOTS,
        [
            {"vote_id": vote_id, "receipt": receipt, "choice": choice}
            for vote_id, ballots in boxes
            for receipt, choice in sorted(_document(ballots).items())
        ],
    )
    op.drop_table("ballot_boxes")
    with op.batch_alter_table("command_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("args_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("command_results", schema=None) as batch_op:
        batch_op.drop_column("args_digest")
    op.create_table(
        "ballot_boxes",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("ballots", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"]),
        sa.PrimaryKeyConstraint("vote_id"),
    )
    bind = op.get_bind()
    boxes: dict[int, dict[str, Any]] = {}
    for vote_id, receipt, choice in bind.execute(
        sa.text("SELECT vote_id, receipt, choice FROM secret_ballots ORDER BY vote_id, receipt")
    ):
        boxes.setdefault(vote_id, {})[receipt] = _document(choice)
    op.bulk_insert(_BALLOT_BOXES, [{"vote_id": v, "ballots": b} for v, b in boxes.items()])
    op.drop_table("secret_ballots")
