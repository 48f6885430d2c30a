"""Decisions: drafts on agenda items and votes, the decisions register with full-text
search, the chair's signatures, and the public ledger (entries, tree nodes, head)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("agenda_items", sa.Column("draft_title", sa.Text(), nullable=True))
    op.add_column("agenda_items", sa.Column("draft_text", sa.Text(), nullable=True))
    op.add_column("votes", sa.Column("draft", sa.JSON(), nullable=True))
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("council_id", sa.Integer(), sa.ForeignKey("councils.id"), nullable=False),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), sa.ForeignKey("agenda_items.id"), nullable=False),
        sa.Column("vote_id", sa.Integer(), sa.ForeignKey("votes.id"), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("adopted_on", sa.Date(), nullable=False),
        sa.Column("adopted_at", UTC_TIME, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.UniqueConstraint("council_id", "number"),
        sa.UniqueConstraint("vote_id"),
    )
    op.create_index("ix_decisions_council_id", "decisions", ["council_id"])
    op.create_index("ix_decisions_session_id", "decisions", ["session_id"])
    op.create_index("ix_decisions_adopted_on", "decisions", ["adopted_on"])
    op.create_index("ix_decisions_number", "decisions", ["number"])
    op.create_index("ix_decisions_council_dates", "decisions", ["council_id", "adopted_on"])
    op.create_table(
        "decision_signatures",
        sa.Column("decision_id", sa.Integer(), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("pkcs7", sa.LargeBinary(), nullable=False),
        sa.Column("signer_name", sa.String(300), nullable=False),
        sa.Column("serial", sa.String(80), nullable=False),
        sa.Column("signed_at", UTC_TIME, nullable=False),
        sa.Column("signed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("appended_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("kind", "ref"),
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("made_at", UTC_TIME, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        # An external-content FTS5 index over the folded search text, kept by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE decisions_fts USING fts5("
            "search_text, content='decisions', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER decisions_fts_insert AFTER INSERT ON decisions BEGIN "
            "INSERT INTO decisions_fts(rowid, search_text) VALUES (new.id, new.search_text); "
            "END"
        )
        op.execute(
            "CREATE TRIGGER decisions_fts_delete AFTER DELETE ON decisions BEGIN "
            "INSERT INTO decisions_fts(decisions_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER decisions_fts_update AFTER UPDATE ON decisions BEGIN "
            "INSERT INTO decisions_fts(decisions_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO decisions_fts(rowid, search_text) VALUES (new.id, new.search_text); "
            "END"
        )
    else:
        op.execute(
            "CREATE INDEX ix_decisions_search ON decisions "
            "USING gin (to_tsvector('simple', search_text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER decisions_fts_{trigger}")
        op.execute("DROP TABLE decisions_fts")
    op.drop_table("ledger_head")
    op.drop_table("ledger_nodes")
    op.drop_table("ledger_entries")
    op.drop_table("decision_signatures")
    op.drop_table("decisions")
    op.drop_column("votes", "draft")
    op.drop_column("agenda_items", "draft_text")
    op.drop_column("agenda_items", "draft_title")
