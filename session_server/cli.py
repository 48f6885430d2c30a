"""`kengash`: every admin task, from serving to importing a roster."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from session_server.settings import Settings

app = typer.Typer(help="E-Kengash Live: live council sessions.", no_args_is_help=True)
council_app = typer.Typer(help="Councils and their rosters.", no_args_is_help=True)
app.add_typer(council_app, name="council")
err = Console(stderr=True)

# uvicorn closes a socket whose frame exceeds this with 1009; the hub refuses smaller
# oversized frames itself with a nack.
WS_MAX_SIZE = 1024 * 1024


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: KENGASH_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: KENGASH_PORT")] = None,
    workers: Annotated[int, typer.Option(help="Processes (share the bus)")] = 1,
) -> None:
    """Serve the application (HTTP and WebSocket)."""
    import uvicorn

    from session_server.guard import (
        GuardedHttpToolsProtocol,
        GuardedWebSocketProtocol,
        raise_open_files_limit,
    )

    settings = Settings()
    # Room for the connection cap (session_server/guard.py); workers inherit the limit.
    raise_open_files_limit()
    uvicorn.run(
        "session_server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # httptools and websockets-sansio, with a header deadline and the connection cap.
        http=GuardedHttpToolsProtocol,
        ws=GuardedWebSocketProtocol,
        ws_max_size=WS_MAX_SIZE,
        # Event frames are small and identical for thousands of sockets: compressing them
        # per socket costs more CPU and memory than it saves (docs/performance.md).
        ws_per_message_deflate=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        access_log=False,
    )


async def _migrate(settings: Settings) -> None:
    from session_server.db.engine import Database
    from session_server.db.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    asyncio.run(_migrate(Settings()))
    err.print("[green]database is up to date[/green]")


async def _demo(settings: Settings, list_only: bool) -> None:
    from sqlalchemy.orm import Session as DbSession

    from session_server import demo as demo_data
    from session_server.db.engine import Database

    db = Database(settings.database_url)
    try:
        if not list_only:

            def seed(session: DbSession) -> int | None:
                if demo_data.is_seeded(session):
                    return None
                return demo_data.seed(session, date.today()).id

            sitting = await db.transact(seed)
            if sitting is None:
                err.print("the database already has data; the demo was not seeded again")
            else:
                err.print(f"[green]demo council seeded[/green]; session {sitting}")
        async with db.read() as session:
            users = await demo_data.demo_users(session)
        if list_only:
            for u in users:
                print(f"{u.login}\t{u.role}\t{u.full_name}")
    finally:
        await db.dispose()


@app.command()
def demo(
    list_: Annotated[
        bool, typer.Option("--list", help="Print the demo roster: login, role, name")
    ] = False,
) -> None:
    """Seed the demo council if the database is empty (or list its users)."""
    settings = Settings()
    # Demo users sign in with no password; they must never land in a real database.
    if settings.environment == "production" and not list_:
        err.print(
            "[red]refused: `kengash demo` does not seed a production database "
            "(KENGASH_ENVIRONMENT=production); nothing was written[/red]"
        )
        raise typer.Exit(2)
    asyncio.run(_demo(settings, list_))


async def _import(settings: Settings, text: str, name: str, region: str, seats: int | None) -> str:
    from sqlalchemy import select
    from sqlalchemy.orm import Session as DbSession

    from session_server.council import (
        ImportResult,
        get_or_create_council,
        import_roster,
        parse_roster,
    )
    from session_server.db import models
    from session_server.db.engine import Database
    from voting import CouncilRules

    rows = parse_roster(text)
    db = Database(settings.database_url)
    try:

        def write(session: DbSession) -> ImportResult:
            council = session.scalar(select(models.Council).where(models.Council.name == name))
            if council is None:
                if seats is None:
                    raise typer.BadParameter("a new council needs --seats")
                council = get_or_create_council(session, name, CouncilRules(seats=seats), region)
            return import_roster(session, council, rows)

        result = await db.transact(write)
    finally:
        await db.dispose()
    return f"council {result.council_id}: {result.added} added, {result.updated} updated"


@council_app.command("import")
def council_import(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    council: Annotated[str, typer.Option(help="The council's full name")],
    region: Annotated[str, typer.Option(help="Region, for a new council")] = "",
    seats: Annotated[int | None, typer.Option(help="Seats, for a new council")] = None,
) -> None:
    """Import a roster CSV (full_name,pinfl,seat[,district,faction]); all or nothing."""
    from session_server.council import RosterError

    try:
        message = asyncio.run(
            _import(Settings(), csv_file.read_text(encoding="utf-8"), council, region, seats)
        )
    except RosterError as exc:
        err.print(f"[red]roster refused, nothing imported:[/red]\n{exc}")
        raise typer.Exit(2) from exc
    err.print(f"[green]{message}[/green]")


def main() -> None:
    app()
