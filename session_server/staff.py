"""Who signs in: the council's staff, and the users deputies sign in as (`kengash user`).

The rules and the CSV reading are plain functions; the writes run in the caller's
transaction (`Database.transact`), as the roster import does, and check everything
before they write anything: a refused change writes nothing."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from session_server.auth import audit
from session_server.db import models
from session_server.db.models import iso

# Lowercase only: logins are typed on tablets and compared exactly. The first character
# is a letter or digit: `kengash user remove -x` would read a login "-x" as an option.
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# [0-9], not \d: \d also matches other scripts' digits, which no certificate carries.
PINFL = re.compile(r"[1-6][0-9]{13}")
# A 14-digit cell a spreadsheet saved as a number: 3.01017E+13.
_SCIENTIFIC = re.compile(r"[0-9]+([.,][0-9]+)?[eE]\+?[0-9]+")

STAFF_ROLES = ("secretary", "operator", "admin")
DEPUTY_ROLES = ("deputy", "chair")
USER_ROLES = DEPUTY_ROLES + STAFF_ROLES
NAME_MIN, NAME_MAX = 3, 200

COLUMNS = ("login", "role", "name", "pinfl", "council")
REQUIRED_COLUMNS = COLUMNS[:4]

# The end reason of sign-ins a removal ends, and the reason on its audit row.
USER_REMOVED = "user_removed"


class StaffError(Exception):
    """A refused change: nothing was written. One problem per entry."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class StaffEntry:
    """A member of staff as they should be: validated, not yet compared with the database."""

    login: str
    role: str
    name: str
    pinfl: str
    council_id: int | None


def mask_pinfl(pinfl: str) -> str:
    """Personal data: only the last four digits, enough to tell two people apart."""
    return "*" * (len(pinfl) - 4) + pinfl[-4:]


def login_problem(login: str) -> str | None:
    if LOGIN.fullmatch(login):
        return None
    return (
        f"login {login!r}: 1-64 characters a-z, 0-9, '.', '_' and '-', the first a letter or digit"
    )


def pinfl_problem(pinfl: str) -> str | None:
    if PINFL.fullmatch(pinfl):
        return None
    # The bad value is not echoed: it is likely a mistyped personal number.
    if not pinfl:
        return "PINFL: empty"
    hint = ""
    if _SCIENTIFIC.fullmatch(pinfl):
        hint = " (a spreadsheet turned it into a number: format the column as text)"
    return f"PINFL: 14 digits 0-9, the first 1-6; got {len(pinfl)} characters{hint}"


def name_problem(name: str) -> str | None:
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return f"name: {NAME_MIN}-{NAME_MAX} characters, got {len(name)}"
    # Tabs and line breaks would break `user list`'s one line per user.
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        return "name: no tabs, line breaks or other control characters"
    return None


def role_problem(role: str, council_id: int | None) -> str | None:
    if role in DEPUTY_ROLES:
        return (
            f"role {role}: a deputy's user is made from the roster: "
            "kengash user add --deputy DEPUTY_ID"
        )
    if role not in STAFF_ROLES:
        return f"role {role!r}: one of {', '.join(STAFF_ROLES)}"
    if role == "secretary" and council_id is None:
        return "role secretary: needs a council (--council, or the council column)"
    if role == "admin" and council_id is not None:
        return "role admin: belongs to no council; give none"
    return None


def staff_entry(login: str, role: str, name: str, pinfl: str, council_id: int | None) -> StaffEntry:
    """Check one member of staff on their own; raise StaffError with every problem."""
    login, role, name, pinfl = login.strip(), role.strip().lower(), name.strip(), pinfl.strip()
    problems = [
        p
        for p in (
            login_problem(login),
            role_problem(role, council_id),
            name_problem(name),
            pinfl_problem(pinfl),
        )
        if p
    ]
    if problems:
        raise StaffError(problems)
    return StaffEntry(login, role, name, pinfl, council_id)


# --- the staff CSV -------------------------------------------------------------------


def _delimiter(header: str) -> str:
    # Excel in Russian and Uzbek locales separates with ';' (there ',' is the decimal
    # point); the header alone says which, since no column name holds either.
    return ";" if header.count(";") > header.count(",") else ","


@dataclass(frozen=True)
class StaffFile:
    """A staff CSV as read: its good rows and, by line, what is wrong with the others.
    The database's objections are added to the same list (`import_staff`), so one run
    names every bad row."""

    rows: list[tuple[int, StaffEntry]]
    problems: list[tuple[int, str]]


def parse_staff_csv(data: bytes, default_council: int | None = None) -> StaffFile:
    """Read a staff CSV (header: login,role,name,pinfl[,council]).

    `default_council` is the council of secretary and operator rows whose council cell is
    empty; admin rows never get it. A file that cannot be read as a whole (not UTF-8, a
    bad header) raises StaffError; bad rows are in the result's problems."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StaffError(
            [f'the file is not UTF-8 text (byte {exc.start}); save it as "CSV UTF-8"']
        ) from exc
    if not text.strip():
        raise StaffError(["the file is empty"])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]))
    rows: list[tuple[int, StaffEntry]] = []
    problems: list[tuple[int, str]] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
        bad_header = _header_problems(header)
        if bad_header:
            raise StaffError(bad_header)
        last_line = reader.line_num
        for fields in reader:
            # A record may span lines (a quoted line break): it starts after the last one.
            line, last_line = last_line + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue  # blank lines, and the ';;;;' rows spreadsheets leave at the end
            try:
                rows.append((line, _row_entry(header, fields, default_council)))
            except StaffError as exc:
                problems.extend((line, p) for p in exc.problems)
    except csv.Error as exc:
        raise StaffError([f"line {reader.line_num}: not CSV: {exc}"]) from exc
    problems.extend(_repeats(rows))
    if not rows and not problems:
        raise StaffError(["the file has a header but no rows"])
    return StaffFile(rows, problems)


def _header_problems(header: Sequence[str]) -> list[str]:
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(f"line 1: the header lacks {', '.join(missing)}")
    # An unknown column is refused, not ignored: `council_id` for `council` would
    # otherwise drop every row's council without a word.
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        problems.append(
            f"line 1: unknown column(s) {', '.join(repr(c) for c in unknown)}; "
            f"the columns are {', '.join(COLUMNS)}"
        )
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.append(f"line 1: repeated column(s) {', '.join(repeated)}")
    return problems


def _row_entry(
    header: Sequence[str], fields: Sequence[str], default_council: int | None
) -> StaffEntry:
    extra = [f for f in fields[len(header) :] if f.strip()]
    if extra:
        raise StaffError([f"{len(fields)} fields, the header has {len(header)}"])
    cells = dict(zip(header, [*fields, *[""] * (len(header) - len(fields))], strict=False))
    role = cells["role"].strip().lower()
    council_cell = cells.get("council", "").strip()
    council_id: int | None = None
    if council_cell:
        if not council_cell.isascii() or not council_cell.isdigit() or int(council_cell) < 1:
            raise StaffError([f"council {council_cell!r}: a council's id, a whole number"])
        council_id = int(council_cell)
    elif role in ("secretary", "operator"):
        council_id = default_council
    return staff_entry(cells["login"], role, cells["name"], cells["pinfl"], council_id)


def _repeats(rows: Sequence[tuple[int, StaffEntry]]) -> list[tuple[int, str]]:
    problems = []
    for label, key in (("login", "login"), ("PINFL", "pinfl")):
        first: dict[str, int] = {}
        for line, entry in rows:
            value = getattr(entry, key)
            if value in first:
                shown = value if key == "login" else mask_pinfl(value)
                problems.append((line, f"{label} {shown} repeats line {first[value]}"))
            else:
                first[value] = line
    return problems


# --- the database ---------------------------------------------------------------------


def _when(moment: datetime | None) -> str | None:
    return iso(moment.replace(microsecond=0)) if moment else None


def _removed(user: models.User) -> str:
    return f"removed {_when(user.removed_at)}"


def _pinfl_conflicts(
    entry: StaffEntry,
    users_by_pinfl: dict[str, models.User],
    deputies_by_pinfl: dict[str, models.Deputy],
) -> list[str]:
    """Who else holds the entry's PINFL: a sign-in by PINFL must find one person only."""
    problems = []
    shown = mask_pinfl(entry.pinfl)
    holder = users_by_pinfl.get(entry.pinfl)
    if holder is not None and holder.login != entry.login:
        if holder.removed_at is not None:
            # The removed row keeps its PINFL, so the audit trail still says who it was.
            problems.append(
                f"PINFL {shown} is user {holder.login}'s ({_removed(holder)}); a removed "
                "user keeps their PINFL"
            )
        else:
            problems.append(f"PINFL {shown} is already user {holder.login}'s")
    deputy = deputies_by_pinfl.get(entry.pinfl)
    if deputy is not None:
        problems.append(
            f"PINFL {shown} is deputy {deputy.id}'s (council {deputy.council_id}): a deputy "
            f"signs in as their deputy row (kengash user add --deputy {deputy.id}); a deputy "
            "who is also staff is not supported"
        )
    return problems


def _lookups(
    db: DbSession, entries: Sequence[StaffEntry]
) -> tuple[dict[str, models.User], dict[str, models.User], dict[str, models.Deputy], set[int]]:
    logins = [e.login for e in entries]
    pinfls = [e.pinfl for e in entries]
    councils = {e.council_id for e in entries if e.council_id is not None}
    by_login = {
        u.login: u for u in db.scalars(select(models.User).where(models.User.login.in_(logins)))
    }
    by_pinfl = {
        u.pinfl: u
        for u in db.scalars(select(models.User).where(models.User.pinfl.in_(pinfls)))
        if u.pinfl is not None
    }
    deputies = {
        d.pinfl: d for d in db.scalars(select(models.Deputy).where(models.Deputy.pinfl.in_(pinfls)))
    }
    known = set(db.scalars(select(models.Council.id).where(models.Council.id.in_(councils))))
    return by_login, by_pinfl, deputies, known


def require_council(db: DbSession, council_id: int) -> None:
    if db.get(models.Council, council_id) is None:
        raise StaffError([f"council {council_id} does not exist"])


def add_staff(db: DbSession, entry: StaffEntry) -> models.User:
    """Add a member of staff. Runs in the caller's transaction."""
    by_login, by_pinfl, deputies, councils = _lookups(db, [entry])
    problems = []
    taken = by_login.get(entry.login)
    if taken is not None:
        problems.append(_login_taken(taken))
    if entry.council_id is not None and entry.council_id not in councils:
        problems.append(f"council {entry.council_id} does not exist")
    problems.extend(_pinfl_conflicts(entry, by_pinfl, deputies))
    if problems:
        raise StaffError(problems)
    user = models.User(
        login=entry.login,
        role=entry.role,
        full_name=entry.name,
        council_id=entry.council_id,
        pinfl=entry.pinfl,
    )
    db.add(user)
    db.flush()
    return user


def _login_taken(user: models.User) -> str:
    if user.removed_at is not None:
        # Audit rows and logs name users by login: one login, one person, for good.
        return f"login {user.login} belonged to a user {_removed(user)}; logins are not reused"
    return f"login {user.login} is taken"


def add_deputy_user(
    db: DbSession, deputy_id: int, role: str = "deputy", login: str | None = None
) -> models.User:
    """Make the user a deputy of the roster signs in as. The PINFL stays on the deputy's
    row (a roster import may correct it); the user has none of its own."""
    if role not in DEPUTY_ROLES:
        raise StaffError([f"role {role!r}: a deputy's user is one of {', '.join(DEPUTY_ROLES)}"])
    deputy = db.get(models.Deputy, deputy_id)
    if deputy is None:
        raise StaffError([f"deputy {deputy_id} does not exist"])
    login = f"d{deputy.id}" if login is None else login
    bad_login = login_problem(login)
    if bad_login:
        raise StaffError([bad_login])
    problems = []
    existing = db.scalar(select(models.User).where(models.User.deputy_id == deputy.id))
    if existing is not None:
        state = f" ({_removed(existing)})" if existing.removed_at is not None else ""
        problems.append(f"deputy {deputy.id} already has user {existing.login}{state}")
    taken = db.scalar(select(models.User).where(models.User.login == login))
    if taken is not None:
        problems.append(_login_taken(taken) + "; choose another with --login")
    staff = db.scalar(select(models.User).where(models.User.pinfl == deputy.pinfl))
    if staff is not None:
        problems.append(
            f"deputy {deputy.id}'s PINFL {mask_pinfl(deputy.pinfl)} is staff user "
            f"{staff.login}'s: a deputy who is also staff is not supported"
        )
    if problems:
        raise StaffError(problems)
    user = models.User(
        login=login,
        role=role,
        full_name=deputy.full_name,
        council_id=deputy.council_id,
        deputy_id=deputy.id,
    )
    db.add(user)
    db.flush()
    return user


@dataclass(frozen=True)
class Removal:
    user_id: int
    sign_ins_ended: int


def remove_user(db: DbSession, login: str, now: datetime) -> Removal:
    """Remove a user: the row stays (the audit trail names it), every open sign-in ends,
    and the audit trail records it. Runs in the caller's transaction."""
    user = db.scalar(select(models.User).where(models.User.login == login))
    if user is None:
        raise StaffError([f"there is no user {login!r}"])
    if user.removed_at is not None:
        raise StaffError([f"user {login} was already {_removed(user)}"])
    user.removed_at = now
    # Every process notices an ended sign-in within seconds and closes its sockets.
    open_ids = list(
        db.scalars(
            select(models.SignIn.id).where(
                models.SignIn.user_id == user.id, models.SignIn.ended_at.is_(None)
            )
        )
    )
    if open_ids:
        db.execute(
            update(models.SignIn)
            .where(models.SignIn.id.in_(open_ids))
            .values(ended_at=now, end_reason=USER_REMOVED)
        )
    # No one signed in acted: the command line has no user of its own.
    audit.record(
        db,
        audit.Entry(
            "sign_ins_ended",
            "ok",
            audit.Origin(),
            reason=USER_REMOVED,
            user_id=user.id,
            council_id=user.council_id,
        ),
        now,
    )
    db.flush()
    return Removal(user.id, len(open_ids))


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int
    unchanged: int


def import_staff(db: DbSession, staff_file: StaffFile) -> ImportSummary:
    """Add new logins and update existing staff (role, name, council, and the PINFL where no
    one else holds it). Every row is checked before anything is written; the file's own
    problems and the database's are reported together, by line."""
    rows = staff_file.rows
    by_login, by_pinfl, deputies, councils = _lookups(db, [e for _, e in rows])
    problems = list(staff_file.problems)
    for line, entry in rows:
        user = by_login.get(entry.login)
        if user is not None and user.removed_at is not None:
            problems.append((line, _login_taken(user)))
        elif user is not None and user.deputy_id is not None:
            problems.append(
                (
                    line,
                    f"login {user.login} is deputy {user.deputy_id}'s user; the staff import "
                    "does not change deputies' users",
                )
            )
        if entry.council_id is not None and entry.council_id not in councils:
            problems.append((line, f"council {entry.council_id} does not exist"))
        problems.extend((line, p) for p in _pinfl_conflicts(entry, by_pinfl, deputies))
    if problems:
        problems.sort(key=lambda p: p[0])  # stable: a line's problems keep their order
        raise StaffError(f"line {line}: {problem}" for line, problem in problems)
    added = updated = unchanged = 0
    for _, entry in rows:
        user = by_login.get(entry.login)
        if user is None:
            db.add(
                models.User(
                    login=entry.login,
                    role=entry.role,
                    full_name=entry.name,
                    council_id=entry.council_id,
                    pinfl=entry.pinfl,
                )
            )
            added += 1
            continue
        now = (user.role, user.full_name, user.council_id, user.pinfl)
        wanted = (entry.role, entry.name, entry.council_id, entry.pinfl)
        if now == wanted:
            unchanged += 1
            continue
        user.role, user.full_name, user.council_id, user.pinfl = wanted
        updated += 1
    db.flush()
    return ImportSummary(added, updated, unchanged)


@dataclass(frozen=True)
class Listed:
    login: str
    role: str
    council_id: int | None
    name: str
    # The user's own (staff) or the deputy's row's: what they sign in with.
    pinfl: str | None
    removed_at: datetime | None

    def line(self, show_pinfl: bool = False, show_state: bool = False) -> str:
        pinfl = "-" if self.pinfl is None else self.pinfl if show_pinfl else mask_pinfl(self.pinfl)
        council = "-" if self.council_id is None else str(self.council_id)
        fields = [self.login, self.role, council, self.name, pinfl]
        if show_state:
            fields.append(
                "active" if self.removed_at is None else f"removed {_when(self.removed_at)}"
            )
        return "\t".join(fields)


def list_users(
    db: DbSession,
    council_id: int | None = None,
    role: str | None = None,
    include_removed: bool = False,
) -> list[Listed]:
    """Users ordered by council (none first), then login."""
    if role is not None and role not in USER_ROLES:
        raise StaffError([f"role {role!r}: one of {', '.join(USER_ROLES)}"])
    if council_id is not None:
        require_council(db, council_id)
    query = select(models.User, models.Deputy.pinfl).outerjoin(
        models.Deputy, models.User.deputy_id == models.Deputy.id
    )
    if council_id is not None:
        query = query.where(models.User.council_id == council_id)
    if role is not None:
        query = query.where(models.User.role == role)
    if not include_removed:
        query = query.where(models.User.removed_at.is_(None))
    listed = [
        Listed(u.login, u.role, u.council_id, u.full_name, u.pinfl or deputy_pinfl, u.removed_at)
        for u, deputy_pinfl in db.execute(query).tuples()
    ]
    # Sorted here: SQLite and PostgreSQL put NULL councils at opposite ends.
    listed.sort(key=lambda u: (u.council_id is not None, u.council_id or 0, u.login))
    return listed
