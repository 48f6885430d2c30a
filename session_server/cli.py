"""`kengash`: every admin task, from serving to importing a roster."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from session_server.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

app = typer.Typer(help="E-Kengash Live: live council sessions.", no_args_is_help=True)
council_app = typer.Typer(help="Councils and their rosters.", no_args_is_help=True)
app.add_typer(council_app, name="council")
err = Console(stderr=True)

# uvicorn closes a socket whose frame exceeds this with 1009; the hub refuses smaller
# oversized frames itself with a nack.
WS_MAX_SIZE = 2 * 1024 * 1024


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
    from session_server import demo_pki
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
            # The demo CA and the chair's signing certificate, for signing decisions.
            async with db.read() as session:
                chairs = await demo_data.chairs(session)
            for name, pinfl in chairs:
                demo_pki.ensure_signer(settings.var_dir, name, pinfl)
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


@council_app.command("rules")
def council_rules(
    council: Annotated[str, typer.Option(help="The council's full name")],
    rules_file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="[FILE.yaml]",
            help="The new reglament; without it, the current one is printed",
        ),
    ] = None,
) -> None:
    """Set a council's reglament from YAML (validated, all or nothing), or print it.

    Votes opened after the change follow it, on every running server, without a
    restart; a vote already open keeps the rule it opened with."""
    from session_server.council import RosterError, parse_rules, rules_yaml, set_rules

    try:
        rules = None if rules_file is None else parse_rules(rules_file.read_text("utf-8"))
        result = asyncio.run(
            _in_database(
                Settings(), lambda db: set_rules(db, council, rules), write=rules is not None
            )
        )
    except RosterError as exc:
        _refuse("reglament refused, nothing changed:", str(exc).splitlines())
    typer.echo(rules_yaml(result), nl=False)
    if rules is not None:
        _done(f"the reglament of {council} is changed; votes opened from now on follow it")


session_app = typer.Typer(help="Sittings and their agendas.", no_args_is_help=True)
app.add_typer(session_app, name="session")


@session_app.command("schedule")
def session_schedule(
    council: Annotated[str, typer.Option(help="The council's full name")],
    agenda_file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, metavar="AGENDA.yaml"),
    ],
) -> None:
    """Schedule a sitting from an agenda file (YAML: title, date, number?, items with
    title, rapporteur and their draft decisions), validated, all or nothing."""
    from session_server.council import RosterError, parse_agenda, schedule_from

    try:
        agenda = parse_agenda(agenda_file.read_text("utf-8"))
        session_id = asyncio.run(
            _in_database(Settings(), lambda db: schedule_from(db, council, agenda).id, write=True)
        )
    except RosterError as exc:
        _refuse("agenda refused, nothing scheduled:", str(exc).splitlines())
    drafts = sum(1 for item in agenda.items if item.draft)
    _done(
        f"sitting {session_id} scheduled for {agenda.on}: {len(agenda.items)} items, "
        f"{drafts} with a draft decision"
    )


# --- users: who signs in ----------------------------------------------------------------

user_app = typer.Typer(
    help="Who signs in: staff, and the users deputies sign in as.", no_args_is_help=True
)
app.add_typer(user_app, name="user")

T = TypeVar("T")


def _refuse(heading: str, problems: list[str]) -> NoReturn:
    from rich.markup import escape

    # One problem per line, never wrapped: a line number and its reason stay together.
    err.print(f"[red]{escape(heading)}[/red]", soft_wrap=True)
    for problem in problems:
        err.print(f"  {escape(problem)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def _done(message: str) -> None:
    from rich.markup import escape

    err.print(f"[green]{escape(message)}[/green]", soft_wrap=True)


async def _in_database(settings: Settings, work: Callable[[OrmSession], T], write: bool) -> T:
    from session_server.db.engine import Database

    db = Database(settings.database_url)
    try:
        if write:
            return await db.transact(work)
        async with db.read() as session:
            return await session.run_sync(work)
    finally:
        await db.dispose()


def _run(heading: str, work: Callable[[OrmSession], T], write: bool = True) -> T:
    """Run `work` in one transaction; a refusal prints every problem and exits 2."""
    from sqlalchemy.exc import IntegrityError

    from session_server.staff import StaffError

    try:
        return asyncio.run(_in_database(Settings(), work, write))
    except StaffError as exc:
        _refuse(heading, exc.problems)
    except IntegrityError as exc:
        # The checks passed, then the database's unique keys refused: another change
        # took the same login or PINFL in between. The first line only: PostgreSQL's
        # DETAIL line repeats the value, which may be a PINFL.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "constraint"
        _refuse(
            heading,
            [
                f"the database refused the change ({reason}); another change may have taken "
                "the same login or PINFL meanwhile. Run the command again"
            ],
        )


@user_app.command("add")
def user_add(
    login: Annotated[
        str | None, typer.Option(help="a-z 0-9 . _ -, up to 64; for --deputy: default d<ID>")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(help="secretary, operator or admin; with --deputy: deputy (default) or chair"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Full name (staff)")] = None,
    pinfl: Annotated[str | None, typer.Option(help="The 14-digit PINFL (staff)")] = None,
    council: Annotated[
        int | None, typer.Option(help="Council id: secretary needs one, admin has none")
    ] = None,
    deputy: Annotated[
        int | None, typer.Option(help="Make the user of this deputy of the roster (id)")
    ] = None,
) -> None:
    """Add a member of staff, or (--deputy) the user a deputy signs in as."""
    from session_server import staff

    heading = "user refused, nothing written:"
    if deputy is not None:
        # The deputy's row holds their name, council and PINFL: nothing to give twice.
        given = [
            f"--{o}"
            for o, v in (("name", name), ("pinfl", pinfl), ("council", council))
            if v is not None
        ]
        if given:
            _refuse(heading, [f"{', '.join(given)}: a deputy's user takes them from the roster"])
        deputy_id, deputy_role = deputy, (role or "deputy").strip().lower()
        user = _run(heading, lambda db: staff.add_deputy_user(db, deputy_id, deputy_role, login))
    else:
        missing = [
            f"--{o}"
            for o, v in (("login", login), ("role", role), ("name", name), ("pinfl", pinfl))
            if v is None
        ]
        if missing:
            _refuse(heading, [f"missing {', '.join(missing)} (or --deputy DEPUTY_ID)"])
        assert login is not None and role is not None and name is not None and pinfl is not None
        try:
            entry = staff.staff_entry(login, role, name, pinfl, council)
        except staff.StaffError as exc:
            _refuse(heading, exc.problems)
        user = _run(heading, lambda db: staff.add_staff(db, entry))
    where = "no council" if user.council_id is None else f"council {user.council_id}"
    _done(f"user {user.login} added: {user.role}, {where}")


@user_app.command("list")
def user_list(
    council: Annotated[int | None, typer.Option(help="Only this council's users (id)")] = None,
    role: Annotated[str | None, typer.Option(help="Only this role")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Removed users too, with a column saying which")
    ] = False,
    show_pinfl: Annotated[
        bool, typer.Option("--show-pinfl", help="The whole PINFL (personal data)")
    ] = False,
) -> None:
    """One line per user: login, role, council, name, PINFL (last 4 digits), tab-separated."""
    from session_server import staff

    listed = _run(
        "cannot list:",
        lambda db: staff.list_users(db, council, role, include_removed=all_),
        write=False,
    )
    for user in listed:
        print(user.line(show_pinfl=show_pinfl, show_state=all_))


@user_app.command("remove")
def user_remove(
    login: Annotated[str, typer.Argument(metavar="LOGIN", help="The user's login")],
) -> None:
    """Remove a user: they can no longer sign in, and their open sign-ins end now."""
    from session_server import staff
    from session_server.db.models import utcnow

    removal = _run(
        "not removed, nothing written:", lambda db: staff.remove_user(db, login, utcnow())
    )
    _done(f"user {login} removed; {removal.sign_ins_ended} open sign-in(s) ended")


@user_app.command("import")
def user_import(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    council: Annotated[
        int | None,
        typer.Option(help="Council id for secretary and operator rows without one"),
    ] = None,
) -> None:
    """Import staff from a CSV (login,role,name,pinfl[,council]); all or nothing."""
    from session_server import staff

    heading = "staff file refused, nothing imported:"
    try:
        parsed = staff.parse_staff_csv(csv_file.read_bytes(), council)
    except staff.StaffError as exc:
        _refuse(heading, exc.problems)

    def write(db: OrmSession) -> staff.ImportSummary:
        if council is not None:
            staff.require_council(db, council)
        return staff.import_staff(db, parsed)

    summary = _run(heading, write)
    _done(f"staff: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged")


ledger_app = typer.Typer(help="The public ledger of votes and decisions.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("verify")
def ledger_verify(
    url: Annotated[str, typer.Argument(help="the site, e.g. https://live.kengash.example.uz")],
    state: Annotated[
        Path | None,
        typer.Option(help="a file keeping the checkpoint seen last time: checks consistency"),
    ] = None,
    entry: Annotated[
        list[int] | None, typer.Option(help="check only these entries, by inclusion proof")
    ] = None,
    vkey: Annotated[str | None, typer.Option(help="the verifier key to trust")] = None,
) -> None:
    """Check a server's public ledger from outside: the checkpoint's signature, every
    entry against the public API and the tree, and with --state that the log only grew."""
    import httpx

    from session_server.ledger.verify import LedgerProblem, verify

    console = Console()
    try:
        with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as http:
            verify(http, vkey=vkey, entries=entry or None, state=state, report=console.print)
    except LedgerProblem as exc:
        err.print(f"[red]ledger NOT verified:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print("[green]ledger verified[/green]")


@ledger_app.command("key")
def ledger_key(
    name: Annotated[
        str, typer.Argument(help="the key's name, e.g. live.kengash.example.uz/ledger")
    ],
) -> None:
    """Make a new checkpoint key: the signer key (for KENGASH_LEDGER_KEY) and its
    verifier key (to publish)."""
    import tlog

    try:
        signer, verifier = tlog.make_key(name)
    except tlog.NoteError as exc:
        err.print(f"[red]not a key name:[/red] {exc}")
        raise typer.Exit(2) from exc
    print(f"KENGASH_LEDGER_KEY={signer}")
    print(f"verifier key: {verifier}")


def main() -> None:
    app()
