"""Migrations carry the data they reshape, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from session_server.db.engine import Database
from session_server.db.migrate import alembic_config, upgrade


async def test_ballot_boxes_become_rows_in_receipt_order(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db.engine, "0003")

        # The rows a vote needs, as revision 0003 had them (today's models have more).
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO councils (id, name, region, rules, created_at)"
                " VALUES (1, 'C', '', '{}', CURRENT_TIMESTAMP)",
                "INSERT INTO sessions (id, council_id, number, title, scheduled_for, state,"
                " last_seq) VALUES (1, 1, 1, 'S', CURRENT_DATE, 'open', 0)",
                "INSERT INTO agenda_items (id, session_id, position, title, rapporteur, state)"
                " VALUES (1, 1, 1, 'I', '', 'current')",
            ):
                await conn.execute(text(statement))
        box = {"ZZZZ000000000000": {"candidates": ["c2"]}, "0000ZZZZ00000000": {"option": "yes"}}
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO votes (id, session_id, agenda_item_id, question, kind, rule,"
                    " secret, motion, state, opened_at, reported_voted)"
                    " VALUES (7, 1, 1, 'Q', 'election', '{}', true, '{}', 'open',"
                    " CURRENT_TIMESTAMP, 0)"
                )
            )
            await conn.execute(
                text("INSERT INTO ballot_boxes (vote_id, ballots) VALUES (7, :box)"),
                {"box": json.dumps(box)},
            )
        await upgrade(db.engine)
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT vote_id, receipt, choice FROM secret_ballots"))
            ).all()
            digests = await conn.execute(text("SELECT args_digest FROM command_results"))
            assert digests.all() == []
        assert [(v, r) for v, r, _ in rows] == [(7, "0000ZZZZ00000000"), (7, "ZZZZ000000000000")]
        assert [json.loads(c) if isinstance(c, str) else c for _, _, c in rows] == [
            {"option": "yes"},
            {"candidates": ["c2"]},
        ]
        # And back: the rows become one document again.
        async with db.engine.begin() as conn:
            await conn.run_sync(_downgrade, "0003")
            (stored,) = (await conn.execute(text("SELECT ballots FROM ballot_boxes"))).one()
        assert (json.loads(stored) if isinstance(stored, str) else stored) == box
    finally:
        await db.dispose()


def _downgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def test_the_migrations_make_the_schema_the_models_describe(database_url: str) -> None:
    """A model changed without its migration (or the other way round) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from session_server.db.models import Base

    db = Database(database_url)
    try:
        await upgrade(db.engine)

        def differences(connection: Connection) -> list[object]:
            # The full-text indexes are the database's own (FTS5, GIN): no model has them.
            def modelled(obj: object, name: str | None, *_: object) -> bool:
                return not (name or "").startswith(("decisions_fts", "ix_decisions_search"))

            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": modelled}
            )
            return list(compare_metadata(context, Base.metadata))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await db.dispose()
