"""Who may do what, as docs/protocol.md's tables say: every registered command and every
HTTP endpoint against every role and every kind of bad token, the council boundary, and
who sees a deputy's PINFL. On SQLite and PostgreSQL.

The expectations are read from the tables, not written here: a new command or endpoint
without a row in them fails `test_the_tables_cover_every_command_and_endpoint`."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from session_server import demo
from session_server.app import create_app
from session_server.auth.tokens import ROLES, Actor, TokenError, TokenIssuer
from session_server.commands import REGISTRY
from session_server.council import RosterRow, get_or_create_council, import_roster, schedule_session
from session_server.db import models
from session_server.db.engine import Database
from session_server.db.models import utcnow
from session_server.settings import Settings
from tests.conftest import Server
from tests.wsclient import LiveClient
from voting import CouncilRules

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")

SERVER_ONLY = "system"  # the server's own actor; no token carries it
TOKEN_SALT = "kengash-token"  # session_server/auth/tokens.py
# One demo login per role; the viewer has no token. Council 1 (the demo council).
LOGINS: dict[str, str | None] = {
    "viewer": None,
    "operator": "operator",
    "admin": "admin",
    "secretary": "secretary",
    "deputy": "deputy05",
    "chair": "chair",
}
# The second council's staff, made by the `world` fixture.
C2_CHAIR, C2_SECRETARY = "c2-chair", "c2-secretary"
COUNCIL2 = "Toshkent shahri Chilonzor tumani xalq deputatlari Kengashi"
TOPIC = "Budjet loyihasining 4-moddasi boʻyicha"


# -- the tables in docs/protocol.md -------------------------------------------------------


def table(header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header row is `header`, as cells."""
    lines = PROTOCOL.splitlines()
    assert lines.count(header) == 1, f"docs/protocol.md needs one table headed {header!r}"
    start = lines.index(header) + 2  # past the header and the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert rows, f"the table {header!r} is empty"
    return rows


def names(cell: str) -> list[str]:
    """`chair, system (the vote timer)` -> ["chair", "system"]: remarks in brackets go."""
    plain = re.sub(r"\([^)]*\)", "", cell)
    return [n.strip().strip("`") for n in plain.split(",") if n.strip()]


def roles_in(cell: str, allowed: set[str]) -> frozenset[str]:
    found = frozenset(names(cell))
    assert found and found <= allowed, f"not roles: {sorted(found - allowed)} in {cell!r}"
    return found


def command_table() -> dict[str, frozenset[str]]:
    """Command -> the roles that may send it ("## Commands")."""
    out: dict[str, frozenset[str]] = {}
    for name, roles in table("| command | roles |"):
        out[name.strip("`")] = roles_in(roles, {*ROLES, SERVER_ONLY})
    return out


def audience_table() -> dict[str, str]:
    """Role -> its audience ("## Audiences and redaction")."""
    out: dict[str, str] = {}
    for audience, roles in table("| audience | roles |"):
        for role in roles_in(roles, set(ROLES)):
            assert role not in out, f"{role} is in two audiences"
            out[role] = audience.strip("`")
    return out


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    callers: frozenset[str]  # the roles that may call it
    refusal: tuple[int, str] | None  # (status, code) for everyone else
    reads_token: bool  # a bad token gets 401; otherwise the token is ignored
    field: str | None = None  # a field that only some callers see…
    field_roles: tuple[tuple[str, bool], ...] = ()  # …(role, only for its own council)


def http_table() -> dict[tuple[str, str], Endpoint]:
    """(method, path) -> who may call it ("## HTTP API", "Who may call what")."""
    out: dict[tuple[str, str], Endpoint] = {}
    header = "| method and path | who may call | what others get | a bad or expired token |"
    for paths, who, others, bad in table(header):
        endpoints = re.findall(r"`([A-Z]+) (/[^`]*)`", paths)
        assert endpoints, f"no `METHOD /path` in {paths!r}"
        callers_cell, _, field_cell = who.partition(";")
        callers = (
            frozenset(ROLES)
            if names(callers_cell) == ["anyone"]
            else roles_in(callers_cell, set(ROLES))
        )
        refused = re.fullmatch(r"(\d{3}) `(\w+)`", others)
        assert (refused is None) == (callers == frozenset(ROLES)), (
            f"{paths}: say what the others get as `STATUS `code`` (or — when anyone may call)"
        )
        refusal = None if refused is None else (int(refused[1]), refused[2])
        assert bad.startswith(("401", "ignored")), f"{paths}: a bad token gets 401 or is ignored"
        field: str | None = None
        field_roles: tuple[tuple[str, bool], ...] = ()
        if field_cell:
            match = re.fullmatch(r"\s*`(\w+)` only: (.+)", field_cell)
            assert match, f"{paths}: write a field's audience as '`field` only: role, …'"
            field = match[1]
            field_roles = tuple(
                (role, "(own council)" in entry)
                for entry in match[2].split(",")
                for role in roles_in(entry, set(ROLES))
            )
        for method, path in endpoints:
            key = (method, path)
            assert key not in out, f"{method} {path} has two rows"
            out[key] = Endpoint(
                method, path, callers, refusal, bad.startswith("401"), field, field_roles
            )
    return out


def app_endpoints() -> set[tuple[str, str]]:
    """Every HTTP (method, path) the application serves, from its routes."""
    saved = structlog.get_config()  # create_app configures logging for a server
    try:
        app = create_app(
            Settings(
                database_url="sqlite+aiosqlite:///:memory:",
                secret_key="only-to-list-the-routes",
                log_level="WARNING",
            )
        )
    finally:
        structlog.configure(**saved)
    found: set[tuple[str, str]] = set()
    routes: list[BaseRoute] = list(app.routes)
    for route in routes:
        if isinstance(route, WebSocketRoute):
            # The socket's authorization is the commands table and the 4401 close.
            assert route.path == "/ws", f"a new WebSocket route {route.path}: document it"
        elif isinstance(route, Mount):
            found.add(("GET", f"{route.path}/{{path}}"))
        elif isinstance(route, Route):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            found.update((m, path) for m in route.methods or {"GET"} if m != "HEAD")
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def test_the_tables_cover_every_command_and_endpoint() -> None:
    commands = command_table()
    assert set(commands) == set(REGISTRY), (
        "docs/protocol.md's command table and the registered commands differ: "
        f"missing {sorted(set(REGISTRY) - set(commands))}, "
        f"not registered {sorted(set(commands) - set(REGISTRY))}"
    )
    for name, spec in REGISTRY.items():
        # The live matrix below checks the roles a token can carry; this checks the rest.
        assert commands[name] == spec.roles, f"{name}: documented {sorted(commands[name])}"
    assert any(roles == {SERVER_ONLY} for roles in commands.values()), "no server-only command"
    assert set(audience_table()) == set(ROLES)
    assert set(LOGINS) == set(ROLES)
    served, documented = app_endpoints(), set(http_table())
    assert served == documented, (
        "docs/protocol.md's 'Who may call what' and the application's routes differ: "
        f"undocumented {sorted(served - documented)}, not served {sorted(documented - served)}"
    )


# -- a second council, and sittings to act on ----------------------------------------------


@dataclass(frozen=True)
class World:
    server: Server
    tokens: dict[str, str | None]  # login -> token ("viewer" -> None)
    council1: int
    council2: int
    session1: int  # the demo sitting: open, deputy05 waiting for the floor with TOPIC
    matrix_session: int  # council 1, scheduled, for the command matrix
    matrix_item: int
    council1_deputy: int  # a deputy of council 1 the secretariat registers
    session2: int  # council 2: open, item started, a quorum, vote `open_vote` running
    item2: int
    council2_deputy: int
    closed_vote: int  # council 2, counted: the sample for the vote endpoints
    open_vote: int
    decision: int  # council 1, adopted and signed already: signing it again is refused

    def token(self, role_or_login: str) -> str | None:
        return self.tokens[LOGINS.get(role_or_login, role_or_login) or "viewer"]

    def forged_chair(self) -> str:
        """The chair's token as the test forges it, but sound (see `fresh_forgery`)."""
        chair = self.token("chair")
        assert chair is not None
        return fresh_forgery(self.server.env["KENGASH_SECRET_KEY"], chair)


def _roster2() -> list[RosterRow]:
    people = [
        "Aliyeva Nargiza Rustam qizi",
        "Boboyev Sanjar Olim oʻgʻli",
        "Gʻaniyev Farrux Ilhom oʻgʻli",
        "Davletova Shahlo Karim qizi",
        "Ergashev Anvar Tohir oʻgʻli",
    ]
    return [
        RosterRow(
            full_name=name,
            pinfl=f"5{seat:013d}",  # the demo's start with 3 or 4: no clash
            seat=seat,
            district=f"{seat}-saylov okrugi",
            faction="Adolat SDP",
        )
        for seat, name in enumerate(people, start=1)
    ]


def _make_rows(db: DbSession) -> dict[str, int]:
    council1 = db.scalar(select(models.Council).where(models.Council.name == demo.COUNCIL))
    assert council1 is not None
    matrix = schedule_session(
        db, council1, "Vakolatlarni tekshirish sessiyasi", date.today(), demo.AGENDA[:2]
    )
    rules2 = CouncilRules.model_validate({**demo.RULES.model_dump(mode="json"), "seats": 5})
    council2 = get_or_create_council(db, COUNCIL2, rules2, demo.REGION)
    import_roster(db, council2, _roster2())
    deputies2 = list(
        db.scalars(
            select(models.Deputy)
            .where(models.Deputy.council_id == council2.id)
            .order_by(models.Deputy.seat_no)
        )
    )
    db.add(
        models.User(
            login=C2_CHAIR,
            role="chair",
            full_name=deputies2[0].full_name,
            council_id=council2.id,
            deputy_id=deputies2[0].id,
        )
    )
    db.add(
        models.User(
            login=C2_SECRETARY,
            role="secretary",
            full_name="Qurbonova Dilbar Aziz qizi",
            council_id=council2.id,
        )
    )
    session2 = schedule_session(
        db,
        council2,
        "Chilonzor tumani Kengashining navbatdagi sessiyasi",
        date.today(),
        [("Tuman budjetining ijrosi toʻgʻrisida", "Moliya boʻlimi")],
    )
    db.flush()

    def first_item(session_id: int) -> int:
        item = db.scalar(
            select(models.AgendaItem.id)
            .where(models.AgendaItem.session_id == session_id)
            .order_by(models.AgendaItem.position)
            .limit(1)
        )
        assert item is not None
        return item

    seat7 = db.scalar(
        select(models.Deputy.id).where(
            models.Deputy.council_id == council1.id, models.Deputy.seat_no == 7
        )
    )
    session1 = db.scalar(
        select(models.Session.id)
        .where(models.Session.council_id == council1.id)
        .order_by(models.Session.id)
        .limit(1)
    )
    assert seat7 is not None and session1 is not None
    return {
        "council1": council1.id,
        "council2": council2.id,
        "session1": session1,
        "item1": first_item(session1),
        "matrix_session": matrix.id,
        "matrix_item": first_item(matrix.id),
        "council1_deputy": seat7,
        "session2": session2.id,
        "item2": first_item(session2.id),
        "council2_deputy": deputies2[1].id,
        "c2_present": deputies2[2].id,
        "decision": _signed_decision(db, matrix),
    }


def _signed_decision(db: DbSession, sitting: models.Session) -> int:
    """A decision of the matrix sitting, signed: the sample for the decision endpoints,
    on which no call can change anything (a second signature is refused)."""
    now = utcnow()
    item = db.scalar(select(models.AgendaItem).where(models.AgendaItem.session_id == sitting.id))
    assert item is not None and item.draft_title and item.draft_text
    draft = {"title": item.draft_title, "text": item.draft_text}
    vote = models.Vote(
        session_id=sitting.id,
        agenda_item_id=item.id,
        question=item.draft_title,
        kind="simple",
        rule={},
        secret=False,
        motion={"candidates": [], "max_choices": 1},
        state="closed",
        opened_at=now,
        closed_at=now,
        outcome={"result": "adopted"},
        draft=draft,
    )
    db.add(vote)
    db.flush()
    decision = models.Decision(
        council_id=sitting.council_id,
        session_id=sitting.id,
        agenda_item_id=item.id,
        vote_id=vote.id,
        number=f"{sitting.number}-99/{now.year}",
        running=99,
        title=draft["title"],
        text=draft["text"],
        adopted_on=sitting.scheduled_for,
        adopted_at=now,
        search_text=draft["title"],
    )
    db.add(decision)
    db.flush()
    db.add(
        models.DecisionSignature(
            decision_id=decision.id,
            pkcs7=b"0\x00",
            signer_name="Sample",
            serial="01",
            signed_at=now,
        )
    )
    return decision.id


async def ok(client: LiveClient, name: str, session: int, **args: Any) -> dict[str, Any]:
    answer = await client.command(name, {"session": session, **args})
    assert answer["type"] == "ack", answer
    return answer["result"]  # type: ignore[no-any-return]


async def _build_world(server: Server) -> World:
    database = Database(server.env["KENGASH_DATABASE_URL"])
    try:
        ids = await database.transact(_make_rows)
    finally:
        await database.dispose()
    roles = {login: role for role, login in LOGINS.items() if login is not None}
    roles |= {C2_CHAIR: "chair", C2_SECRETARY: "secretary"}
    tokens: dict[str, str | None] = {"viewer": None}
    async with httpx.AsyncClient(base_url=server.url) as http:
        for login, role in roles.items():
            answer = await http.post("/api/auth/demo", json={"login": login})
            assert answer.status_code == 200, answer.text
            assert answer.json()["user"]["role"] == role, answer.text
            tokens[login] = answer.json()["token"]

    async def client(login: str) -> LiveClient:
        return await LiveClient.open(server.ws_url, tokens[login])

    # Council 2's sitting: open, an item, a quorum (3 of 5), one vote counted, one running.
    s2 = ids["session2"]
    chair2, secretary2 = await client(C2_CHAIR), await client(C2_SECRETARY)
    await ok(chair2, "session.open", s2)
    await ok(chair2, "agenda.start_item", s2, item=ids["item2"])
    await ok(chair2, "attendance.register", s2)
    for deputy_id in (ids["council2_deputy"], ids["c2_present"]):
        await ok(secretary2, "attendance.register", s2, deputy=deputy_id)
    question = "Tuman budjetining ijrosi maʼqullansin"
    closed = await ok(chair2, "vote.open", s2, question=question, kind="simple", timer_seconds=0)
    await ok(chair2, "vote.cast", s2, vote=closed["vote"], choice="yes")
    await ok(chair2, "vote.close", s2, vote=closed["vote"])
    running = await ok(chair2, "vote.open", s2, question="Q2", kind="simple", timer_seconds=0)
    # The demo sitting: open, and deputy05 asks for the floor with a topic.
    s1 = ids["session1"]
    chair, deputy = await client("chair"), await client("deputy05")
    await ok(chair, "session.open", s1)
    await ok(chair, "agenda.start_item", s1, item=ids["item1"])
    await ok(deputy, "attendance.register", s1)
    await ok(deputy, "speaker.request", s1, topic=TOPIC)
    for c in (chair2, secretary2, chair, deputy):
        await c.close()
    return World(
        server=server,
        tokens=tokens,
        council1=ids["council1"],
        council2=ids["council2"],
        session1=s1,
        matrix_session=ids["matrix_session"],
        matrix_item=ids["matrix_item"],
        council1_deputy=ids["council1_deputy"],
        session2=s2,
        item2=ids["item2"],
        council2_deputy=ids["council2_deputy"],
        closed_vote=closed["vote"],
        open_vote=running["vote"],
        decision=ids["decision"],
    )


@pytest.fixture(scope="module")
def world(module_server: Server) -> World:
    return asyncio.run(_build_world(module_server))


# -- bad tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class BadToken:
    name: str
    token: str
    code: str  # what the endpoints that read the caller answer, with status 401


def _payload(serializer: URLSafeTimedSerializer, token: str) -> dict[str, Any]:
    """A token's payload, read without checking its signature."""
    data = serializer.load_payload(token.rsplit(".", 2)[0].encode())
    assert isinstance(data, dict)
    return data


def bad_tokens(secret: str, ttl: int, chair: str, deputy: str) -> list[BadToken]:
    """Every way a token can be wrong, made from real ones (`chair`, `deputy`) with the
    server's key `secret` where a forger would need it."""
    server_key = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)

    class LongAgo(TimestampSigner):
        """Signs as if it were before the token's lifetime (`ttl`) began."""

        def get_timestamp(self) -> int:
            return int(time.time()) - ttl - 3600

    expired = URLSafeTimedSerializer(secret, salt=TOKEN_SALT, signer=LongAgo)
    signed, signature = chair.rsplit(".", 1)
    # The first character holds the signature's first six bits: changing it always counts
    # (the last one holds padding bits that base64 may ignore).
    tampered = f"{signed}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    body, stamp, deputy_signature = deputy.rsplit(".", 2)
    as_admin = {**_payload(server_key, deputy), "role": "admin"}
    unsigned = server_key.dump_payload(as_admin).decode()
    assert unsigned != body
    return [
        BadToken("expired", expired.dumps(_payload(server_key, chair)), "token_expired"),
        BadToken("tampered", tampered, "bad_token"),
        BadToken("role changed, not signed", f"{unsigned}.{stamp}.{deputy_signature}", "bad_token"),
        BadToken(
            "role changed, another key",
            URLSafeTimedSerializer("another-secret-key", salt=TOKEN_SALT).dumps(as_admin),
            "bad_token",
        ),
        # Even under the server's key no token carries the server's own role.
        BadToken(
            "role system",
            server_key.dumps({**_payload(server_key, chair), "role": SERVER_ONLY}),
            "bad_token",
        ),
    ]


def fresh_forgery(secret: str, chair: str) -> str:
    """The chair's payload signed now with the server's key: accepted, which shows that
    the forging in `bad_tokens` is sound and only the part it spoils makes them fail."""
    server_key = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)
    return server_key.dumps(_payload(server_key, chair))


def world_bad_tokens(world: World) -> list[BadToken]:
    chair, deputy = world.token("chair"), world.token("deputy")
    assert chair is not None and deputy is not None
    default_ttl: int = Settings.model_fields["token_ttl_seconds"].default
    ttl = int(world.server.env.get("KENGASH_TOKEN_TTL_SECONDS", default_ttl))
    return bad_tokens(world.server.env["KENGASH_SECRET_KEY"], ttl, chair, deputy)


def test_each_bad_token_fails_for_its_own_reason() -> None:
    """Offline, against the server's token check itself."""
    issuer = TokenIssuer("a-secret", 3600)
    chair = issuer.issue(Actor(role="chair", user_id=1, login="chair", council_id=1, deputy_id=1))
    deputy = issuer.issue(
        Actor(role="deputy", user_id=5, login="deputy05", council_id=1, deputy_id=5)
    )
    assert issuer.verify(fresh_forgery("a-secret", chair)).role == "chair"
    variants = bad_tokens("a-secret", 3600, chair, deputy)
    assert len({v.token for v in variants} | {chair, deputy}) == len(variants) + 2
    for bad in variants:
        with pytest.raises(TokenError) as refused:
            issuer.verify(bad.token)
        assert refused.value.code == bad.code, bad.name


# -- commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What the sample commands act on."""

    session: int
    item: int
    vote: int
    deputy: int  # whom the secretariat registers
    decision: int = 0  # 0: none given; the commands get as far as not finding it


def sample_args(name: str, role: str, target: Target) -> dict[str, Any]:
    """Arguments that pass the command's schema, so that a refusal is about who asks."""
    args: dict[str, dict[str, Any]] = {
        "session.open": {},
        "session.close": {},
        # The secretariat registers others by name; without `deputy` it is refused as
        # "only a deputy may do this", a check of its own (documented with the command).
        "attendance.register": {"deputy": target.deputy} if role == "secretary" else {},
        "agenda.start_item": {"item": target.item},
        "speaker.request": {"topic": "Vakolat tekshiruvi"},
        "speaker.withdraw": {},
        "speaker.grant": {"seconds": 60},
        "speaker.end": {},
        "vote.open": {"question": "Vakolat tekshiruvi", "kind": "simple", "timer_seconds": 0},
        "vote.cast": {"vote": target.vote, "choice": "yes"},
        "vote.close": {"vote": target.vote},
        "vote.decide_tie": {"vote": target.vote, "decision": "yes"},
        "vote.cancel": {"vote": target.vote, "reason": "Vakolat tekshiruvi"},
        "vote.report": {"vote": target.vote},
        "decision.adopt": {"vote": target.vote},
        # Base64, but no signature: refused before the command runs, unless forbidden.
        "decision.sign": {"decision": target.decision or 1, "pkcs7": "MAA="},
        "broadcast.report": {"live": False},
        "broadcast.audience": {"webrtc": 0, "hls": 0},
    }
    assert name in args, f"give the new command {name} sample arguments here"
    full = {"session": target.session, **args[name]}
    REGISTRY[name].args.model_validate(full)  # a refusal must not be about the arguments
    return full


async def answers_to(
    client: LiveClient, commands: list[tuple[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Send the commands all at once; their answers, by command name."""
    ids: dict[str, str] = {}
    for name, args in commands:
        ids[command_id := uuid.uuid4().hex] = name
        await client.send({"type": "cmd", "id": command_id, "cmd": name, "args": args})
    answers: dict[str, dict[str, Any]] = {}
    while len(answers) < len(ids):
        frame = await client.recv()
        if frame["type"] in ("ack", "nack") and frame.get("id") in ids:
            answers[ids[frame["id"]]] = frame
    return answers


async def session_seq(http: httpx.AsyncClient, session: int) -> int:
    answer = await http.get(f"/api/sessions/{session}")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["seq"])


async def refused_and_unchanged(
    http: httpx.AsyncClient,
    client: LiveClient,
    commands: list[tuple[str, dict[str, Any]]],
    who: str,
) -> None:
    """Every command gets `nack` `forbidden`, no event goes out, the log stays as it was."""
    session = commands[0][1]["session"]
    before = await session_seq(http, session)
    seen = len(client.events)
    answers = await answers_to(client, commands)
    wrong = {
        name: answer
        for name, answer in answers.items()
        if answer["type"] != "nack" or answer["error"]["code"] != "forbidden"
    }
    assert not wrong, f"{who}: not refused as forbidden: {wrong}"
    assert client.events[seen:] == [], f"{who}: refused commands made events"
    assert await session_seq(http, session) == before, f"{who}: the log changed"


# The chair last: it opens and then closes the sitting.
ROLE_ORDER = ("viewer", "operator", "admin", "secretary", "deputy", "chair")


async def test_every_command_against_every_role(world: World) -> None:
    table_roles = command_table()
    server_only = sorted(n for n, roles in table_roles.items() if roles <= {SERVER_ONLY})
    assert sorted(ROLE_ORDER) == sorted(ROLES)
    # The vote is another sitting's: the vote commands get as far as not finding it.
    target = Target(
        world.matrix_session, world.matrix_item, world.closed_vote, world.council1_deputy
    )
    async with httpx.AsyncClient(base_url=world.server.url) as http:
        for role in ROLE_ORDER:
            client = await LiveClient.open(world.server.ws_url, world.token(role))
            try:
                await client.subscribe(target.session)
                refused = [n for n in REGISTRY if role not in table_roles[n]]
                assert set(server_only) <= set(refused)
                if refused:
                    await refused_and_unchanged(
                        http,
                        client,
                        [(n, sample_args(n, role, target)) for n in refused],
                        role,
                    )
                # Open first and close last, so that more of them act on an open sitting.
                allowed = sorted(
                    (n for n in REGISTRY if n not in refused),
                    key=lambda n: (n == "session.close", n != "session.open"),
                )
                for name in allowed:
                    answer = await client.command(name, sample_args(name, role, target))
                    # Let through: acted, or refused for the state of the sitting.
                    assert answer["type"] == "ack" or answer["error"]["code"] != "forbidden", (
                        role,
                        name,
                        answer,
                    )
            finally:
                await client.close()


async def test_staff_and_deputies_act_only_in_their_own_council(world: World) -> None:
    """What the table lets a role do, it may do only in its own council's sittings."""
    table_roles = command_table()
    other_council = Target(world.session2, world.item2, world.open_vote, world.council2_deputy)
    council1 = Target(
        world.matrix_session, world.matrix_item, world.closed_vote, world.council1_deputy
    )
    cases = [
        ("chair", "chair", other_council),
        ("secretary", "secretary", other_council),
        ("deputy", "deputy05", other_council),
        ("chair", C2_CHAIR, council1),
        ("secretary", C2_SECRETARY, council1),
    ]
    async with httpx.AsyncClient(base_url=world.server.url) as http:
        for role, login, target in cases:
            client = await LiveClient.open(world.server.ws_url, world.token(login))
            try:
                await client.subscribe(target.session)
                allowed = [n for n in REGISTRY if role in table_roles[n]]
                assert allowed, role
                commands = [(n, sample_args(n, role, target)) for n in allowed]
                await refused_and_unchanged(http, client, commands, f"{login} in another council")
            finally:
                await client.close()
        # Nor through a sitting of one's own council: another council's vote is not there.
        before = await session_seq(http, world.session2)
        own_session = Target(
            world.matrix_session, world.matrix_item, world.open_vote, world.council1_deputy
        )
        for role in ("chair", "deputy"):
            client = await LiveClient.open(world.server.ws_url, world.token(role))
            try:
                on_a_vote = [
                    n
                    for n, spec in REGISTRY.items()
                    if "vote" in spec.args.model_fields and role in table_roles[n]
                ]
                answers = await answers_to(
                    client, [(n, sample_args(n, role, own_session)) for n in on_a_vote]
                )
                assert on_a_vote and set(answers) == set(on_a_vote)
                for name, answer in answers.items():
                    assert answer["type"] == "nack", (role, name, answer)
                    assert answer["error"]["code"] == "not_found", (role, name, answer)
            finally:
                await client.close()
        assert await session_seq(http, world.session2) == before
        vote = (await http.get(f"/api/votes/{world.open_vote}")).json()
        assert vote["state"] == "open", vote


async def _closed_with(url: str, headers: dict[str, str] | None = None) -> int | None:
    """The close code the server ends the socket with, before any frame."""
    async with connect(url, additional_headers=headers) as ws:
        try:
            frame = await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            return None if closed.rcvd is None else closed.rcvd.code
    raise AssertionError(f"the socket stayed open and sent {frame!r}")


async def test_a_bad_token_closes_the_socket_with_4401(world: World) -> None:
    base = world.server.ws_url
    for bad in world_bad_tokens(world):
        assert await _closed_with(f"{base}?token={bad.token}") == 4401, bad.name
        headers = {"Authorization": f"Bearer {bad.token}"}
        assert await _closed_with(base, headers) == 4401, bad.name
    client = await LiveClient.open(base, world.forged_chair())
    try:
        assert (await client.subscribe(world.matrix_session))[-1]["type"] == "subscribed"
        # Known as the chair: a chair-only command passes the role check.
        args = {"session": world.matrix_session, "vote": world.closed_vote}
        answer = await client.command("vote.close", args)
        assert answer["error"]["code"] == "not_found", answer  # not in this sitting
    finally:
        await client.close()


# -- HTTP --------------------------------------------------------------------------------


def sample_url(path: str, world: World, user: int = 0) -> str:
    """The endpoint with real ids, so that an allowed caller gets 200. `user`: a user of
    council 1 whose sign-ins may be ended."""
    values: dict[str, dict[str, Any]] = {
        "/api/users/": {"id": user},
        "/api/deputies/": {"id": world.council1_deputy},
        "/api/councils/": {"id": world.council1},
        "/api/sessions/": {"id": world.session1, "key_id": "0123456789abcdef"},
        "/api/votes/": {"id": world.closed_vote},
        "/api/decisions/": {"id": world.decision},
        "/watch/": {"session": world.session1},
        "/decisions/": {"id": world.decision},
        "/ledger/entries/": {"index": 0},
        "/whip/": {"session": world.session1, "resource": "not-a-publication"},
        "/whep/": {"session": world.session1, "resource": "not-a-player"},
        "/hls/": {"session": world.session1, "name": "index.m3u8"},
        "/static/": {"path": "js/state.js"},
    }
    for prefix, params in values.items():
        if path.startswith(prefix):
            path = path.format(**params)
    assert "{" not in path, f"give the new endpoint {path} sample values here"
    # The world's closed vote is the ledger's first entry.
    queries = {
        "/ledger/proof/inclusion": "?index=0&size=1",
        "/ledger/proof/consistency": "?old=0&new=1",
    }
    return path + queries.get(path, "")


BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/auth/demo"): {"login": "deputy05"},
    ("POST", "/api/auth/eimzo/challenge"): {},
    ("POST", "/api/auth/eimzo"): {"pkcs7": "MAA="},
    ("POST", "/api/auth/sign-out"): {},
    ("POST", "/api/users/{id}/sign-ins/end"): {},
    ("POST", "/api/auth/oneid/handover"): {"code": "0" * 32 + "." + "0" * 32},
    # Not base64: refused before any face work (tests/integration/test_faceid.py does it).
    ("POST", "/api/deputies/{id}/face"): {"images": ["!!!!"]},
    ("POST", "/api/auth/face/challenge"): {},
    ("POST", "/api/auth/face"): {"challenge": "0" * 32, "frames": ["!!!!"]},
    # DER of an empty SEQUENCE: base64, but no signature (refused before the command).
    ("POST", "/api/decisions/{id}/signature"): {"pkcs7": "MAA="},
    ("POST", "/api/decisions/{id}/signature/demo"): {},
    ("POST", "/whip/{session}"): {},  # JSON, not SDP: refused before any WebRTC work
    ("POST", "/api/sessions/{id}/ingest-keys"): {"label": "matrix"},
    ("POST", "/whep/{session}"): {},
}
# What an allowed caller gets where it is not 200: neither E-IMZO nor One ID is set up in
# this world (the same answer for every role: 404 before any argument is read), and a
# sign-out answers 204. tests/integration/test_oneid.py has One ID's endpoints set up.
ALLOWED: dict[tuple[str, str], int] = {
    ("POST", "/api/auth/eimzo/challenge"): 404,
    ("POST", "/api/auth/eimzo"): 404,
    ("GET", "/api/auth/oneid/start"): 404,
    ("GET", "/api/auth/oneid/callback"): 404,
    ("POST", "/api/auth/oneid/handover"): 404,
    ("POST", "/api/auth/sign-out"): 204,
    ("POST", "/api/deputies/{id}/face"): 422,
    ("DELETE", "/api/deputies/{id}/face"): 404,  # nobody is enrolled in this world
    ("POST", "/api/auth/face/challenge"): 409,  # not enrolled
    ("POST", "/api/auth/face"): 422,
    ("POST", "/api/decisions/{id}/signature"): 400,  # bad_pkcs7
    ("POST", "/api/decisions/{id}/signature/demo"): 409,  # already_signed
    ("POST", "/whip/{session}"): 415,  # not application/sdp
    ("DELETE", "/whip/{session}/{resource}"): 404,  # no such publication
    ("OPTIONS", "/whip/{session}"): 204,
    ("POST", "/api/sessions/{id}/ingest-keys"): 201,  # a key each (of at most 5 live)
    ("DELETE", "/api/sessions/{id}/ingest-keys/{key_id}"): 404,  # no such key
    ("POST", "/whep/{session}"): 415,  # not application/sdp
    ("DELETE", "/whep/{session}/{resource}"): 404,  # no such player
    ("OPTIONS", "/whep/{session}"): 204,
    ("GET", "/hls/{session}/{name}"): 404,  # not_live: nothing broadcast in this world
}
# These end the caller's sign-in: each call gets a token of its own.
ENDS_THE_CALLERS_SIGN_IN = {("POST", "/api/auth/sign-out")}


async def test_every_endpoint_against_every_role_and_bad_token(world: World) -> None:
    endpoints = http_table()
    bad = world_bad_tokens(world)
    sessions = (world.session1, world.matrix_session, world.session2)
    async with httpx.AsyncClient(base_url=world.server.url, timeout=10) as http:
        seqs = [await session_seq(http, s) for s in sessions]
        bystander = await http.post("/api/auth/demo", json={"login": "deputy20"})
        user = bystander.json()["user"]["id"]

        async def token_of(e: Endpoint, role: str) -> str | None:
            if (e.method, e.path) not in ENDS_THE_CALLERS_SIGN_IN or role == "viewer":
                return world.token(role)
            answer = await http.post("/api/auth/demo", json={"login": LOGINS[role]})
            return str(answer.json()["token"])

        async def call(e: Endpoint, token: str | None, in_query: bool = False) -> httpx.Response:
            bodiless = e.method in ("GET", "DELETE", "OPTIONS")
            assert bodiless or (e.method, e.path) in BODIES, f"a body for {e.path}"
            url = httpx.URL(sample_url(e.path, world, user))
            query = dict(url.params) | ({"token": token} if token is not None and in_query else {})
            return await http.request(
                e.method,
                url.path,
                json=BODIES.get((e.method, e.path)),
                headers={} if token is None or in_query else {"Authorization": f"Bearer {token}"},
                params=query or None,
            )

        for (method, path), e in sorted(endpoints.items()):
            where = f"{method} {path}"
            for role in ROLES:
                answer = await call(e, await token_of(e, role))
                if role in e.callers:
                    expected = ALLOWED.get((method, path), 200)
                    assert answer.status_code == expected, (where, role, answer.text)
                else:
                    assert e.refusal is not None
                    got = (answer.status_code, answer.json()["error"]["code"])
                    assert got == e.refusal, (where, role, answer.text)
            public = (await call(e, None)).status_code
            for variant in bad:
                for in_query in (False, True):
                    answer = await call(e, variant.token, in_query)
                    how = (where, variant.name, "?token=" if in_query else "header")
                    if e.reads_token:
                        assert answer.status_code == 401, (*how, answer.text)
                        assert answer.json()["error"]["code"] == variant.code, how
                    else:
                        # Ignored: answered as for a caller without a token.
                        assert answer.status_code == public, (*how, answer.text)
        # The refusals and the bad tokens changed nothing.
        assert [await session_seq(http, s) for s in sessions] == seqs
        me = await http.get("/api/me", headers={"Authorization": f"Bearer {world.forged_chair()}"})
        assert me.status_code == 200 and me.json()["role"] == "chair", me.text


async def test_pinfl_only_for_the_councils_secretary_and_admins(world: World) -> None:
    deputies = http_table()[("GET", "/api/councils/{id}/deputies")]
    assert deputies.field == "pinfl" and deputies.field_roles, "the table names who sees pinfl"
    seen = dict(deputies.field_roles)
    logins = [*ROLES, C2_CHAIR, C2_SECRETARY]
    async with httpx.AsyncClient(base_url=world.server.url) as http:
        shown = set()
        for login in logins:
            token = world.token(login)
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            me = (await http.get("/api/me", headers=headers)).json()
            for council in (world.council1, world.council2):
                expected = me["role"] in seen and (
                    not seen[me["role"]] or me["council_id"] == council
                )
                answer = await http.get(f"/api/councils/{council}/deputies", headers=headers)
                assert answer.status_code == 200, answer.text
                rows = answer.json()
                assert rows and all(("pinfl" in d) is expected for d in rows), (login, council)
                if expected:
                    shown.add((login, council))
                    assert all(re.fullmatch(r"[1-6]\d{13}", d["pinfl"]) for d in rows)
    # Both kinds of rule were exercised: a secretary sees only her own council's.
    assert ("secretary", world.council1) in shown and ("secretary", world.council2) not in shown
    assert (C2_SECRETARY, world.council2) in shown and ("admin", world.council2) in shown


async def test_each_role_sees_its_audiences_projection(world: World) -> None:
    """The floor request's topic: members see it, the public sees that it was redacted."""
    for role, audience in audience_table().items():
        client = await LiveClient.open(world.server.ws_url, world.token(role))
        try:
            await client.subscribe(world.session1)
            assert client.state is not None
            [entry] = client.state["speakers"]["queue"]
            if audience == "member":
                assert entry["topic"] == TOPIC and "redacted" not in entry, role
            else:
                assert audience == "public", audience
                assert "topic" not in entry and entry["redacted"] == ["topic"], role
        finally:
            await client.close()


async def test_members_of_another_council_see_the_public_projection(world: World) -> None:
    """A deputy's note to their own chair is not for the chair and clerk of another
    council: in council 1's sitting, council 2's members are the public; an admin is a
    member everywhere."""
    for login, sees_topic in ((C2_CHAIR, False), (C2_SECRETARY, False), ("admin", True)):
        client = await LiveClient.open(world.server.ws_url, world.token(login))
        try:
            await client.subscribe(world.session1)
            assert client.state is not None
            [entry] = client.state["speakers"]["queue"]
            assert ("topic" in entry) is sees_topic, login
            assert ("redacted" in entry) is not sees_topic, login
        finally:
            await client.close()
