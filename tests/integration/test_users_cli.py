"""`kengash user`: who is staff, managed from the command line, on both databases.

The commands run as a user runs them (a subprocess with KENGASH_DATABASE_URL); every
refusal is checked to exit 2, say why, and leave every table as it was."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session as DbSession

from session_server import staff
from session_server.council import RosterRow, get_or_create_council, import_roster
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.migrate import upgrade
from session_server.db.models import utcnow
from tests.conftest import ROOT, database_in
from voting import CouncilRules

# Deputies' PINFLs: D1, D2 on council A; D3 on council B.
P_D1, P_D2, P_D3 = "41203850260011", "31505790260022", "32002800260033"
# A deputy whose PINFL a member of staff held first (only the roster import can do that).
P_CLASH = "50505050260044"
# Staff.
P_SEC, P_OLD, P_OPS, P_ADM = "40207712601941", "30101652600171", "30305881234567", "50101990000042"

TABLES = ("councils", "deputies", "users", "sign_ins", "audit_events")


@dataclass(frozen=True)
class World:
    url: str
    tmp: Path
    ids: dict[str, int]  # A, B (councils); D1, D2, D3, DCLASH (deputies)

    def fill(self, value: str) -> str:
        return value.format(**self.ids)


async def _seed(url: str, tmp: Path, with_users: bool) -> World:
    db = Database(url)
    await upgrade(db.engine)

    def write(s: DbSession) -> dict[str, int]:
        a = get_or_create_council(s, "Chilonzor tumani Kengashi", CouncilRules(seats=30))
        b = get_or_create_council(s, "Olmazor tumani Kengashi", CouncilRules(seats=30))
        import_roster(
            s,
            a,
            [
                RosterRow(full_name="Qodirova Munisa Anvar qizi", pinfl=P_D1, seat=1),
                RosterRow(full_name="Ўринов Ғайрат Ҳамидович", pinfl=P_D2, seat=2),
            ],
        )
        import_roster(
            s, b, [RosterRow(full_name="Sobirov Islom Gʻayrat oʻgʻli", pinfl=P_D3, seat=1)]
        )
        deputies = {d.pinfl: d.id for d in s.scalars(select(models.Deputy))}
        ids = {"A": a.id, "B": b.id, "D1": deputies[P_D1], "D2": deputies[P_D2]}
        ids["D3"] = deputies[P_D3]
        if with_users:
            entry = staff.staff_entry
            staff.add_staff(
                s, entry("kotiba", "secretary", "Nazarova Lola Shavkat qizi", P_SEC, a.id)
            )
            staff.add_staff(s, entry("eski", "operator", "Eski Xodim Ali oʻgʻli", P_OLD, None))
            staff.remove_user(s, "eski", utcnow())
            staff.add_staff(s, entry("clash", "operator", "Ikki Rolli Odam", P_CLASH, None))
            import_roster(s, b, [RosterRow(full_name="Ikki Rolli Odam", pinfl=P_CLASH, seat=2)])
            ids["DCLASH"] = s.scalars(
                select(models.Deputy.id).where(models.Deputy.pinfl == P_CLASH)
            ).one()
            staff.add_deputy_user(s, ids["D1"])
            staff.add_deputy_user(s, ids["D2"])
            staff.remove_user(s, f"d{ids['D2']}", utcnow())
        return ids

    try:
        ids = await db.transact(write)
    finally:
        await db.dispose()
    return World(url, tmp, ids)


async def _state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    db = Database(url)
    try:
        async with db.read() as s:
            return {
                table: [
                    tuple(r) for r in await s.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
                ]
                for table in TABLES
            }
    finally:
        await db.dispose()


def state(world: World) -> dict[str, list[tuple[Any, ...]]]:
    return asyncio.run(_state(world.url))


def kengash(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KENGASH_DATABASE_URL": world.url,
        "KENGASH_VAR_DIR": str(world.tmp / "var"),
    }
    return subprocess.run(
        [sys.executable, "-m", "session_server", "user", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    result = kengash(world, *args)
    assert result.returncode == 0, result.stderr
    return result


def refused(world: World, args: Sequence[str], expect: Sequence[str]) -> str:
    """Run a command that must be refused: exit 2, every fragment said, nothing written."""
    before = state(world)
    result = kengash(world, *(world.fill(a) for a in args))
    assert result.returncode == 2, (result.stdout, result.stderr)
    for fragment in expect:
        assert world.fill(fragment) in result.stderr, result.stderr
    assert state(world) == before
    return result.stderr


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> World:
    """Two councils and three deputies, no users."""
    return asyncio.run(_seed(database_url, tmp_path, with_users=False))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """For refusals, which change nothing: one database per backend and module, with a
    secretary `kotiba`, a removed operator `eski`, staff `clash` whose PINFL a deputy of
    council B also has, deputy D1's user and deputy D2's removed user."""
    tmp = tmp_path_factory.mktemp("users")
    with ExitStack() as stack:
        url = database_in(stack, tmp, request.param)
        yield asyncio.run(_seed(url, tmp, with_users=True))


def mask(pinfl: str) -> str:
    return "**********" + pinfl[-4:]


# --- adding and listing -------------------------------------------------------------------


def test_add_staff_and_deputies_users_then_list(world: World) -> None:
    a, b = world.ids["A"], world.ids["B"]
    added = ok(
        world,
        "add",
        "--login",
        "kotiba",
        "--role",
        "secretary",
        "--name",
        "Nazarova Lola Shavkat qizi",
        "--pinfl",
        P_SEC,
        "--council",
        str(a),
    )
    assert f"user kotiba added: secretary, council {a}" in added.stderr
    ok(
        world,
        "add",
        "--login",
        "ops",
        "--role",
        "operator",
        "--name",
        "Aliyev Sanjar Botir oʻgʻli",
        "--pinfl",
        P_OPS,
    )
    ok(
        world,
        "add",
        "--login",
        "ops.b",
        "--role",
        "operator",
        "--name",
        "Jurayev Behruz Qahramon",
        "--pinfl",
        "30606661234568",
        "--council",
        str(b),
    )
    # Role and surrounding spaces are forgiven; the login's case is not (see refusals).
    root = ok(
        world,
        "add",
        "--login",
        "root",
        "--role",
        " Admin",
        "--name",
        " Tizim administratori ",
        "--pinfl",
        P_ADM,
    )
    assert "user root added: admin, no council" in root.stderr
    deputy = ok(world, "add", "--deputy", str(world.ids["D1"]))
    assert f"user d{world.ids['D1']} added: deputy, council {a}" in deputy.stderr
    ok(world, "add", "--deputy", str(world.ids["D3"]), "--role", "Chair", "--login", "rais.b")

    d1 = f"d{world.ids['D1']}"
    expected = [
        # No council first, then by council and login.
        f"ops\toperator\t-\tAliyev Sanjar Botir oʻgʻli\t{mask(P_OPS)}",
        f"root\tadmin\t-\tTizim administratori\t{mask(P_ADM)}",
        f"{d1}\tdeputy\t{a}\tQodirova Munisa Anvar qizi\t{mask(P_D1)}",
        f"kotiba\tsecretary\t{a}\tNazarova Lola Shavkat qizi\t{mask(P_SEC)}",
        f"ops.b\toperator\t{b}\tJurayev Behruz Qahramon\t{mask('30606661234568')}",
        f"rais.b\tchair\t{b}\tSobirov Islom Gʻayrat oʻgʻli\t{mask(P_D3)}",
    ]
    listed = ok(world, "list").stdout
    assert listed.splitlines() == expected
    # Personal data: no whole PINFL unless asked for.
    for pinfl in (P_SEC, P_OPS, P_ADM, P_D1, P_D3):
        assert pinfl not in listed
    full = ok(world, "list", "--show-pinfl").stdout.splitlines()
    assert full[3] == f"kotiba\tsecretary\t{a}\tNazarova Lola Shavkat qizi\t{P_SEC}"
    assert full[2].endswith(f"\t{P_D1}")  # a deputy's user: the deputy row's PINFL

    assert ok(world, "list", "--council", str(a)).stdout.splitlines() == expected[2:4]
    assert ok(world, "list", "--role", "operator").stdout.splitlines() == [
        expected[0],
        expected[4],
    ]
    only = ok(world, "list", "--council", str(b), "--role", "chair").stdout
    assert only.splitlines() == [expected[5]]
    # The same order every time, and removed users only with --all.
    assert ok(world, "list").stdout == listed
    assert "removed" not in ok(world, "list", "--all").stdout

    users = {u[1]: u for u in state(world)["users"]}  # by login
    assert users["kotiba"][2:4] == ("secretary", "Nazarova Lola Shavkat qizi")


def test_an_empty_list_prints_nothing(world: World) -> None:
    result = ok(world, "list")
    assert result.stdout == ""


# --- removing -----------------------------------------------------------------------------


async def _add_sign_ins(url: str, rows: list[models.SignIn]) -> None:
    db = Database(url)
    try:
        await db.transact(lambda s: s.add_all(rows))
    finally:
        await db.dispose()


async def _read(
    url: str,
) -> tuple[dict[str, models.SignIn], list[models.AuditEvent], dict[str, models.User]]:
    db = Database(url)
    try:
        async with db.read() as s:
            sign_ins = {r.id: r for r in await s.scalars(select(models.SignIn))}
            audit = list(await s.scalars(select(models.AuditEvent).order_by(models.AuditEvent.id)))
            users = {u.login: u for u in await s.scalars(select(models.User))}
    finally:
        await db.dispose()
    return sign_ins, audit, users


def sign_in(id_: str, user_id: int, now: datetime, **extra: Any) -> models.SignIn:
    return models.SignIn(
        id=id_,
        user_id=user_id,
        method="eimzo",
        started_at=now - timedelta(hours=1),
        expires_at=now + timedelta(hours=11),
        address="10.0.0.7",
        **extra,
    )


def test_remove_ends_open_sign_ins_and_writes_the_audit_trail(world: World) -> None:
    a = world.ids["A"]
    ok(
        world,
        "add",
        "--login",
        "kotiba",
        "--role",
        "secretary",
        "--name",
        "Nazarova Lola Shavkat qizi",
        "--pinfl",
        P_SEC,
        "--council",
        str(a),
    )
    ok(
        world,
        "add",
        "--login",
        "root",
        "--role",
        "admin",
        "--name",
        "Tizim administratori",
        "--pinfl",
        P_ADM,
    )
    _, _, users = asyncio.run(_read(world.url))
    kotiba, root = users["kotiba"].id, users["root"].id
    now = utcnow()
    earlier = now - timedelta(minutes=30)
    asyncio.run(
        _add_sign_ins(
            world.url,
            [
                sign_in("tablet", kotiba, now),
                sign_in("laptop", kotiba, now),
                sign_in("gone", kotiba, now, ended_at=earlier, end_reason="signed_out"),
                sign_in("root1", root, now),
            ],
        )
    )

    before = utcnow()
    removed = ok(world, "remove", "kotiba")
    after = utcnow()
    assert "user kotiba removed; 2 open sign-in(s) ended" in removed.stderr

    sign_ins, audit, users = asyncio.run(_read(world.url))
    when = users["kotiba"].removed_at
    assert when is not None and before <= when <= after
    for id_ in ("tablet", "laptop"):
        assert (sign_ins[id_].ended_at, sign_ins[id_].end_reason) == (when, "user_removed")
    # Ended already: it keeps its own end. Another user's: untouched.
    assert (sign_ins["gone"].ended_at, sign_ins["gone"].end_reason) == (earlier, "signed_out")
    assert sign_ins["root1"].ended_at is None
    [event] = audit
    assert (event.kind, event.outcome, event.reason) == ("sign_ins_ended", "ok", "user_removed")
    assert (event.user_id, event.council_id, event.actor_user_id) == (kotiba, a, None)
    assert event.at == when
    # The row stays, so the trail still names the user.
    assert users["kotiba"].pinfl == P_SEC and users["kotiba"].login == "kotiba"

    assert [line.split("\t")[0] for line in ok(world, "list").stdout.splitlines()] == ["root"]
    everyone = ok(world, "list", "--all").stdout.splitlines()
    stamp = when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert everyone == [
        f"root\tadmin\t-\tTizim administratori\t{mask(P_ADM)}\tactive",
        f"kotiba\tsecretary\t{a}\tNazarova Lola Shavkat qizi\t{mask(P_SEC)}\tremoved {stamp}",
    ]
    assert ok(world, "list", "--all", "--role", "secretary").stdout.splitlines() == everyone[1:]

    refused(world, ["remove", "kotiba"], ["user kotiba was already removed"])
    # The removed row keeps its login and PINFL: neither goes to a new account.
    refused(
        world,
        [
            "add",
            "--login",
            "kotiba2",
            "--role",
            "secretary",
            "--name",
            "Nazarova Lola Shavkat qizi",
            "--pinfl",
            P_SEC,
            "--council",
            str(a),
        ],
        [f"PINFL {mask(P_SEC)} is user kotiba's (removed", "a removed user keeps their PINFL"],
    )
    refused(
        world,
        [
            "add",
            "--login",
            "kotiba",
            "--role",
            "operator",
            "--name",
            "Boshqa Odam Ali",
            "--pinfl",
            "30909901234567",
        ],
        ["login kotiba belonged to a user removed", "logins are not reused"],
    )

    # An admin has no council: neither has the audit row.
    assert "1 open sign-in(s) ended" in ok(world, "remove", "root").stderr
    sign_ins, audit, _ = asyncio.run(_read(world.url))
    assert sign_ins["root1"].end_reason == "user_removed"
    assert (audit[-1].user_id, audit[-1].council_id) == (root, None)


def test_removing_a_deputys_user(world: World) -> None:
    d3 = world.ids["D3"]
    ok(world, "add", "--deputy", str(d3))
    result = ok(world, "remove", f"d{d3}")
    assert "0 open sign-in(s) ended" in result.stderr
    _, audit, users = asyncio.run(_read(world.url))
    assert users[f"d{d3}"].removed_at is not None
    assert (audit[0].council_id, audit[0].reason) == (world.ids["B"], "user_removed")
    refused(world, ["add", "--deputy", str(d3)], [f"deputy {d3} already has user d{d3} (removed"])


# --- importing ----------------------------------------------------------------------------


def test_import_adds_updates_and_counts_the_unchanged(world: World) -> None:
    a, b = world.ids["A"], world.ids["B"]
    first = world.tmp / "staff.csv"
    first.write_text(
        "login,role,name,pinfl,council\n"
        f"kotiba,secretary,Nazarova Lola Shavkat qizi,{P_SEC},\n"
        f'ops,operator,"Aliyev Sanjar Botir oʻgʻli",{P_OPS},{b}\n'
        f"root,admin,Tizim administratori,{P_ADM},\n",
        encoding="utf-8",
    )
    done = ok(world, "import", str(first), "--council", str(a))
    assert "staff: 3 added, 0 updated, 0 unchanged" in done.stderr
    assert ok(world, "list").stdout.splitlines() == [
        f"root\tadmin\t-\tTizim administratori\t{mask(P_ADM)}",  # --council is not an admin's
        f"kotiba\tsecretary\t{a}\tNazarova Lola Shavkat qizi\t{mask(P_SEC)}",
        f"ops\toperator\t{b}\tAliyev Sanjar Botir oʻgʻli\t{mask(P_OPS)}",
    ]
    again = ok(world, "import", str(first), "--council", str(a))
    assert "staff: 0 added, 0 updated, 3 unchanged" in again.stderr

    # As Excel saves it in an Uzbek or Russian locale: ';', a BOM, CRLF, an empty last row.
    new_ops = "30707771234569"
    excel = world.tmp / "excel.csv"
    excel.write_bytes(
        (
            "\ufeffLogin;Role;Name;PINFL\r\n"
            f"kotiba;secretary;Nazarova Lola Shavkat qizi;{P_SEC}\r\n"
            f"ops;operator;Aliyev Sanjar Botir oʻgʻli;{new_ops}\r\n"
            f"root;admin;Tizim administratori, bosh;{P_ADM}\r\n"
            "new.one;operator;Yangi Xodim Ali oʻgʻli;30808881234560\r\n"
            ";;;\r\n"
        ).encode()
    )
    done = ok(world, "import", str(excel), "--council", str(a))
    assert "staff: 1 added, 2 updated, 1 unchanged" in done.stderr
    assert ok(world, "list", "--show-pinfl").stdout.splitlines() == [
        f"root\tadmin\t-\tTizim administratori, bosh\t{P_ADM}",
        f"kotiba\tsecretary\t{a}\tNazarova Lola Shavkat qizi\t{P_SEC}",
        f"new.one\toperator\t{a}\tYangi Xodim Ali oʻgʻli\t30808881234560",
        f"ops\toperator\t{a}\tAliyev Sanjar Botir oʻgʻli\t{new_ops}",
    ]
    # The PINFL ops gave up is free again.
    ok(
        world,
        "add",
        "--login",
        "ops2",
        "--role",
        "operator",
        "--name",
        "Ikkinchi Operator",
        "--pinfl",
        P_OPS,
    )


def test_import_is_all_or_nothing_and_names_every_bad_line(world: World) -> None:
    a, d1, d2 = world.ids["A"], world.ids["D1"], world.ids["D2"]
    ok(
        world,
        "add",
        "--login",
        "kotiba",
        "--role",
        "secretary",
        "--name",
        "Nazarova Lola Shavkat qizi",
        "--pinfl",
        P_SEC,
        "--council",
        str(a),
    )
    ok(world, "add", "--deputy", str(d1))
    ok(
        world,
        "add",
        "--login",
        "eski",
        "--role",
        "operator",
        "--name",
        "Eski Xodim Ali",
        "--pinfl",
        P_OLD,
    )
    ok(world, "remove", "eski")
    lines = [
        "login,role,name,pinfl,council",  # 1
        "good.one,operator,Yaxshi Xodim Ali oʻgʻli,30909901234567,",  # 2
        "Bad,operator,Xato Login Ali,30909901234568,",  # 3
        f"good.two,secretary,Ikkinchi Xodim Vali,30909901234569,{a}",  # 4
        "",  # 5
        'multi,operator,"Ikki',  # 6: a record over two lines starts here
        'qatorli",30909901234570,',  # 7
        "short,secretary,Kotibsiz Xodim Ali,30909901234571,",  # 8
        f"clash,operator,Boshqa Odam Ali,{P_SEC},",  # 9
        f"deputat,operator,Deputat Odam Ali,{P_D2},",  # 10
        "eski,operator,Eski Xodim Ali,30909901234572,",  # 11
        f"d{d1},operator,Deputat Foydalanuvchi,30909901234573,",  # 12
        "good.one,operator,Takror Login Ali,30909901234574,",  # 13
        "far,operator,Uzoq Kengash Xodimi,30909901234575,999",  # 14
        "rais,chair,Rais Ali Vali,30909901234576,",  # 15
        "excel,operator,Excel Xodim Ali,3.09099E+13,",  # 16
        f"admin2,admin,Admin Kengashli Ali,30909901234577,{a}",  # 17
        "extra,operator,Ortiqcha Maydon Ali,30909901234578,,surplus",  # 18
        "council,operator,Harfli Kengash Ali,30909901234579,A1",  # 19
    ]
    path = world.tmp / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    said = refused(
        world,
        ["import", str(path)],
        [
            "staff file refused, nothing imported:",
            "line 3: login 'Bad'",
            "line 6: name: no tabs, line breaks",
            "line 8: role secretary: needs a council",
            f"line 9: PINFL {mask(P_SEC)} is already user kotiba's",
            f"line 10: PINFL {mask(P_D2)} is deputy {d2}'s (council {a})",
            "line 11: login eski belonged to a user removed",
            f"line 12: login d{d1} is deputy {d1}'s user",
            "line 13: login good.one repeats line 2",
            "line 14: council 999 does not exist",
            "line 15: role chair: a deputy's user is made from the roster",
            "line 16: PINFL: 14 digits 0-9, the first 1-6; got 11 characters (a spreadsheet",
            "line 17: role admin: belongs to no council",
            "line 18: 6 fields, the header has 5",
            "line 19: council 'A1': a council's id",
        ],
    )
    reported = [line.split(":")[0].strip() for line in said.splitlines()[1:]]
    numbers = [int(r.removeprefix("line ")) for r in reported]
    assert numbers == sorted(numbers) and 2 not in numbers and 4 not in numbers
    # The good rows 2 and 4 were not written either (refused() compared every table).
    assert "good" not in ok(world, "list").stdout


# --- refusals: every one exits 2, says why and writes nothing -----------------------------

STAFF = ["--login", "new.one", "--role", "operator", "--name", "Yangi Xodim Ali", "--pinfl"]
NEW = "30909901234567"

ADD_REFUSALS: list[tuple[str, list[str], list[str]]] = [
    ("uppercase login", ["--login", "Ali", *STAFF[2:], NEW], ["login 'Ali': 1-64 characters"]),
    ("login with a space", ["--login", "ali vali", *STAFF[2:], NEW], ["login 'ali vali'"]),
    ("login led by a dash", ["--login=-x", *STAFF[2:], NEW], ["the first a letter or digit"]),
    ("65-character login", ["--login", "a" * 65, *STAFF[2:], NEW], ["1-64 characters"]),
    ("empty login", ["--login", "", *STAFF[2:], NEW], ["login '': 1-64"]),
    ("login taken", ["--login", "kotiba", *STAFF[2:], NEW], ["login kotiba is taken"]),
    (
        "login of a removed user",
        ["--login", "eski", *STAFF[2:], NEW],
        ["login eski belonged to a user removed", "logins are not reused"],
    ),
    ("13-digit PINFL", [*STAFF, NEW[:13]], ["PINFL: 14 digits 0-9, the first 1-6; got 13"]),
    ("15-digit PINFL", [*STAFF, NEW + "1"], ["got 15 characters"]),
    ("PINFL led by 7", [*STAFF, "7" + NEW[1:]], ["the first 1-6"]),
    ("PINFL led by 0", [*STAFF, "0" + NEW[1:]], ["the first 1-6"]),
    ("PINFL in other digits", [*STAFF, "٣٠٩٠٩٩٠١٢٣٤٥٦٧"], ["14 digits 0-9"]),
    ("PINFL with a letter", [*STAFF, NEW[:13] + "O"], ["14 digits 0-9"]),
    ("PINFL as a number", [*STAFF, "3.09099E+13"], ["(a spreadsheet turned it into a number"]),
    ("empty PINFL", [*STAFF, ""], ["PINFL: empty"]),
    (
        "PINFL of a deputy",
        [*STAFF, P_D1],
        [
            f"PINFL {mask(P_D1)} is deputy {{D1}}'s (council {{A}})",
            "kengash user add --deputy {D1}",
            "a deputy who is also staff is not supported",
        ],
    ),
    ("PINFL of a user", [*STAFF, P_SEC], [f"PINFL {mask(P_SEC)} is already user kotiba's"]),
    (
        "PINFL of a removed user",
        [*STAFF, P_OLD],
        [f"PINFL {mask(P_OLD)} is user eski's (removed ", "a removed user keeps their PINFL"],
    ),
    (
        "secretary without a council",
        ["--login", "k2", "--role", "secretary", "--name", "Kotib Ali", "--pinfl", NEW],
        ["role secretary: needs a council"],
    ),
    (
        "admin with a council",
        [
            "--login",
            "a2",
            "--role",
            "admin",
            "--name",
            "Admin Ali",
            "--pinfl",
            NEW,
            "--council",
            "{A}",
        ],
        ["role admin: belongs to no council"],
    ),
    (
        "deputy without --deputy",
        ["--login", "d9", "--role", "deputy", "--name", "Deputat Ali", "--pinfl", NEW],
        ["role deputy: a deputy's user is made from the roster: kengash user add --deputy"],
    ),
    (
        "chair without --deputy",
        ["--login", "r9", "--role", "chair", "--name", "Rais Ali", "--pinfl", NEW],
        ["role chair: a deputy's user"],
    ),
    (
        "unknown role",
        ["--login", "v9", "--role", "viewer", "--name", "Kuzatuvchi", "--pinfl", NEW],
        ["role 'viewer': one of secretary, operator, admin"],
    ),
    ("unknown council", [*STAFF, NEW, "--council", "999"], ["council 999 does not exist"]),
    ("council not a number", [*STAFF, NEW, "--council", "A"], ["Invalid value for '--council'"]),
    ("name too short", [*STAFF[:5], "Al", "--pinfl", NEW], ["name: 3-200 characters, got 2"]),
    ("name too long", [*STAFF[:5], "A" * 201, "--pinfl", NEW], ["got 201"]),
    ("name with a tab", [*STAFF[:5], "Ali\tVali", "--pinfl", NEW], ["name: no tabs"]),
    ("missing options", ["--login", "x1", "--role", "operator"], ["missing --name, --pinfl"]),
    ("nothing at all", [], ["missing --login, --role, --name, --pinfl (or --deputy DEPUTY_ID)"]),
    # Deputies' users.
    ("unknown deputy", ["--deputy", "999"], ["deputy 999 does not exist"]),
    ("deputy with a user", ["--deputy", "{D1}"], ["deputy {D1} already has user d{D1}"]),
    (
        "deputy with a removed user",
        ["--deputy", "{D2}", "--login", "d2.new"],
        ["deputy {D2} already has user d{D2} (removed "],
    ),
    (
        "deputy as staff",
        ["--deputy", "{D3}", "--role", "secretary"],
        ["role 'secretary': a deputy's user is one of deputy, chair"],
    ),
    (
        "deputy with staff's options",
        ["--deputy", "{D3}", "--name", "Boshqa Ism", "--pinfl", NEW, "--council", "{A}"],
        ["--name, --pinfl, --council: a deputy's user takes them from the roster"],
    ),
    (
        "deputy under a taken login",
        ["--deputy", "{D3}", "--login", "kotiba"],
        ["login kotiba is taken; choose another with --login"],
    ),
    ("deputy under a bad login", ["--deputy", "{D3}", "--login", "Rais"], ["login 'Rais'"]),
    (
        "deputy who is staff",
        ["--deputy", "{DCLASH}"],
        [f"deputy {{DCLASH}}'s PINFL {mask(P_CLASH)} is staff user clash's"],
    ),
]


@pytest.mark.parametrize(
    ("args", "expect"), [c[1:] for c in ADD_REFUSALS], ids=[c[0] for c in ADD_REFUSALS]
)
def test_add_refusals(populated: World, args: list[str], expect: list[str]) -> None:
    said = refused(populated, ["add", *args], expect)
    # A PINFL in a message is masked; a refused one is not echoed.
    for pinfl in (P_D1, P_SEC, P_OLD, P_CLASH, NEW):
        assert pinfl not in said


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["remove", "nobody"], ["not removed, nothing written:", "there is no user 'nobody'"]),
        (["remove", "eski"], ["user eski was already removed "]),
        (["remove"], ["Missing argument 'LOGIN'"]),
        (["list", "--council", "999"], ["council 999 does not exist"]),
        (["list", "--role", "boss"], ["role 'boss': one of deputy, chair, secretary"]),
        (["import", "/nonexistent/staff.csv"], ["does not exist"]),
    ],
    ids=["unknown user", "removed user", "no login", "unknown council", "unknown role", "no file"],
)
def test_remove_list_and_import_refusals(
    populated: World, args: list[str], expect: list[str]
) -> None:
    refused(populated, args, expect)


IMPORT_REFUSALS: list[tuple[str, bytes, list[str]]] = [
    (
        "missing column",
        b"login,role,name\nx,operator,Ali Vali\n",
        ["line 1: the header lacks pinfl"],
    ),
    (
        "unknown column",
        b"login,role,name,pinfl,council_id\n",
        [
            "line 1: unknown column(s) 'council_id'; "
            "the columns are login, role, name, pinfl, council"
        ],
    ),
    ("repeated column", b"login,role,name,pinfl,name\n", ["line 1: repeated column(s) name"]),
    ("not UTF-8", "login,role,name,pinfl\nali,operator,Ўринов,1\n".encode("cp1251"), ["not UTF-8"]),
    ("empty file", b"", ["the file is empty"]),
    ("header only", b"login,role,name,pinfl\n\n", ["the file has a header but no rows"]),
    (
        "semicolons",
        (
            "login;role;name;pinfl\n"
            f"ok1;operator;Yaxshi Xodim;{NEW}\n"
            "ok2;operator;Al;30909901234568\n"
            f"ok3;operator;Ali Vali;{P_SEC}\n"
        ).encode(),
        ["line 3: name: 3-200 characters", f"line 4: PINFL {mask(P_SEC)} is already user kotiba's"],
    ),
]


@pytest.mark.parametrize(
    ("content", "expect"), [c[1:] for c in IMPORT_REFUSALS], ids=[c[0] for c in IMPORT_REFUSALS]
)
def test_import_refusals(populated: World, content: bytes, expect: list[str]) -> None:
    path = populated.tmp / "refused.csv"
    path.write_bytes(content)
    refused(populated, ["import", str(path)], ["staff file refused, nothing imported:", *expect])


def test_import_refuses_an_unknown_default_council(populated: World) -> None:
    path = populated.tmp / "default.csv"
    path.write_text(
        f"login,role,name,pinfl\nnew.one,operator,Yangi Xodim,{NEW}\n", encoding="utf-8"
    )
    refused(populated, ["import", str(path), "--council", "999"], ["council 999 does not exist"])


def test_a_unique_key_the_checks_missed_is_refused_cleanly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two commands at once can both pass the checks; the database's unique key then
    refuses the second. Its message, not a traceback, and no PINFL from the driver."""
    from typer.testing import CliRunner

    from session_server.cli import app

    ok(
        world,
        "add",
        "--login",
        "kotiba",
        "--role",
        "operator",
        "--name",
        "Nazarova Lola",
        "--pinfl",
        P_SEC,
    )
    before = state(world)
    # As if the other command committed between this one's checks and its write.
    monkeypatch.setattr(staff, "_pinfl_conflicts", lambda *args: [])
    monkeypatch.setenv("KENGASH_DATABASE_URL", world.url)
    monkeypatch.setenv("KENGASH_VAR_DIR", str(world.tmp / "var"))
    result = CliRunner().invoke(
        app,
        [
            "user",
            "add",
            "--login",
            "twin",
            "--role",
            "operator",
            "--name",
            "Egizak Xodim",
            "--pinfl",
            P_SEC,
        ],
    )
    assert result.exit_code == 2, result.output
    assert "the database refused the change" in result.output
    assert "Run the command again" in result.output
    assert P_SEC not in result.output
    assert state(world) == before


# --- the rules on their own (no database) -------------------------------------------------


def test_logins() -> None:
    for good in ("a", "kotiba", "d12", "lola.nazarova", "ops_2", "x-y", "a" * 64, "0"):
        assert staff.login_problem(good) is None, good
    for bad in ("", "Ali", "a b", "-x", ".x", "_x", "a" * 65, "ali@uz", "алі", "ali\n"):
        assert staff.login_problem(bad) is not None, bad


def test_pinfls() -> None:
    for good in ("10000000000000", "69999999999999", P_SEC):
        assert staff.pinfl_problem(good) is None, good
    for bad in (
        "",
        "7" + NEW[1:],
        "0" + NEW[1:],
        NEW[:13],
        NEW + "0",
        f"{NEW}\n",
        "٣" * 14,
        "3" + "٠" * 13,
    ):
        assert staff.pinfl_problem(bad) is not None, bad
    assert "spreadsheet" in (staff.pinfl_problem("3,09099E+13") or "")
    assert staff.mask_pinfl(P_SEC) == "**********1941"


def test_names_and_roles() -> None:
    assert staff.name_problem("Ali") is None and staff.name_problem("A" * 200) is None
    for bad in ("Al", "A" * 201, "Ali\nVali", "Ali\u2028Vali", "Ali\x00"):
        assert staff.name_problem(bad) is not None, repr(bad)
    assert staff.role_problem("operator", None) is None
    assert staff.role_problem("operator", 1) is None
    assert staff.role_problem("secretary", 1) is None
    assert staff.role_problem("admin", None) is None
    entry = staff.staff_entry(" kotiba ", "SECRETARY", " Lola Nazarova ", f" {P_SEC} ", 3)
    assert entry == staff.StaffEntry("kotiba", "secretary", "Lola Nazarova", P_SEC, 3)
    with pytest.raises(staff.StaffError) as caught:
        staff.staff_entry("Bad", "boss", "X", "1", None)
    assert len(caught.value.problems) == 4  # every problem at once


def test_the_csv_reader() -> None:
    parsed = staff.parse_staff_csv(
        (
            "\ufeff LOGIN ; Role;name;pinfl;council\r\n"
            "\r\n"
            f"a1;secretary;Ali Vali;{NEW};\r\n"
            f'"a2";admin;"Vali; Ali";{P_SEC};\r\n'
            f"a3;operator;Soli Ali;{P_OPS};7;;\r\n"
            ";;;;\r\n"
        ).encode(),
        default_council=5,
    )
    assert parsed.problems == []
    assert parsed.rows == [
        (3, staff.StaffEntry("a1", "secretary", "Ali Vali", NEW, 5)),
        # The default council is never an admin's.
        (4, staff.StaffEntry("a2", "admin", "Vali; Ali", P_SEC, None)),
        # Empty trailing fields are what spreadsheets add; they are not extra columns.
        (5, staff.StaffEntry("a3", "operator", "Soli Ali", P_OPS, 7)),
    ]
    # Commas, without a council column: operators take the default, or have none.
    plain = staff.parse_staff_csv(f"login,role,name,pinfl\nb1,operator,Ali Vali,{NEW}\n".encode())
    assert plain.rows == [(2, staff.StaffEntry("b1", "operator", "Ali Vali", NEW, None))]
    # Every bad row, by the line it starts on; the good rows are kept for the database's
    # checks, so one run names every problem.
    mixed = staff.parse_staff_csv(
        (
            "login,role,name,pinfl\n"
            'ok,operator,"Ko\'p\nqatorli\nism",' + NEW + "\n"
            "bad,operator,Ali Vali,123\n"
            f"ok2,operator,Ali Vali,{P_SEC}\n"
            f"ok3,operator,Ali Vali,{P_SEC}\n"
            "short,operator,Ali Vali\n"
        ).encode()
    )
    assert [line for line, _ in mixed.rows] == [6, 7]
    assert mixed.problems == [
        (2, "name: no tabs, line breaks or other control characters"),
        (5, "PINFL: 14 digits 0-9, the first 1-6; got 3 characters"),
        (8, "PINFL: empty"),
        (7, f"PINFL {mask(P_SEC)} repeats line 6"),
    ]
    for data, message in (
        (b"\xff\xfe", "not UTF-8"),
        (b"   \n", "the file is empty"),
        (b"login,role,name,pinfl\n,,,\n", "no rows"),
        (b"Login,Role\n", "the header lacks name, pinfl"),
    ):
        with pytest.raises(staff.StaffError, match=message):
            staff.parse_staff_csv(data)
