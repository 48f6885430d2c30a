"""The demo council a newcomer gets from `make run`: a district Kengash with a full
roster, its staff, and today's sitting with a six-item agenda."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as DbSession

from session_server.council import (
    AgendaEntry,
    DraftDecision,
    RosterRow,
    get_or_create_council,
    import_roster,
    schedule_session,
)
from session_server.db import models
from voting import CouncilRules

COUNCIL = "Toshkent shahri Yunusobod tumani xalq deputatlari Kengashi"
REGION = "Toshkent shahri"
RULES = CouncilRules.model_validate(
    {
        "seats": 35,
        "quorum": {"numerator": 1, "denominator": 2, "strict": True},
        "vote_kinds": {
            "simple": {"numerator": 1, "denominator": 2, "base": "present", "strict": True},
            "absolute": {"numerator": 1, "denominator": 2, "base": "seats", "strict": True},
            "qualified": {"numerator": 2, "denominator": 3, "base": "seats", "strict": False},
            "election": {
                "numerator": 1,
                "denominator": 2,
                "base": "seats",
                "strict": True,
                "secret": True,
            },
        },
        "ties": "fails",
        "ballot_changes_until_close": True,
        "face_check_per_ballot": False,
        "timer_seconds": 60,
    }
)

# Surname, given name, father's name: "Karimov Jasur Anvar oʻgʻli" is the official order.
_MEN = [
    ("Karimov", "Jasur", "Anvar"),
    ("Toshmatov", "Bekzod", "Rustam"),
    ("Yusupov", "Sardor", "Olim"),
    ("Rahimov", "Otabek", "Shavkat"),
    ("Nazarov", "Sherzod", "Baxtiyor"),
    ("Xolmatov", "Ulugʻbek", "Ravshan"),
    ("Ergashev", "Dilshod", "Farhod"),
    ("Qodirov", "Aziz", "Murod"),
    ("Usmonov", "Temur", "Akmal"),
    ("Saidov", "Jamshid", "Ilhom"),
    ("Mirzayev", "Rustam", "Ibrohim"),
    ("Abdullayev", "Doniyor", "Hamid"),
    ("Sobirov", "Islom", "Gʻayrat"),
    ("Ismoilov", "Nodir", "Sanjar"),
    ("Haydarov", "Akbar", "Zafar"),
    ("Tursunov", "Shohruh", "Erkin"),
    ("Jurayev", "Behruz", "Qahramon"),
    ("Fayzullayev", "Alisher", "Oybek"),
]
_WOMEN = [
    ("Karimova", "Dilnoza", "Bahodir"),
    ("Yoʻldosheva", "Malika", "Komil"),
    ("Rasulova", "Nigora", "Sobir"),
    ("Sharipova", "Gulnora", "Abdurahmon"),
    ("Ahmedova", "Zulfiya", "Rahmat"),
    ("Mahmudova", "Feruza", "Toʻlqin"),
    ("Hasanova", "Shahnoza", "Nurali"),
    ("Qosimova", "Madina", "Jahongir"),
    ("Nematova", "Dildora", "Shuhrat"),
    ("Olimova", "Sevara", "Anvar"),
    ("Umarova", "Kamola", "Botir"),
    ("Islomova", "Mohira", "Dilmurod"),
    ("Xoʻjayeva", "Gulchehra", "Asqar"),
    ("Valiyeva", "Nodira", "Ulugʻbek"),
    ("Poʻlatova", "Barno", "Sherali"),
]
_FACTIONS = [
    "OʻzLiDeP",
    "Milliy tiklanish",
    "Adolat SDP",
    "Xalq demokratik partiyasi",
    "Ekologik partiya",
]
_DISTRICTS = [f"{n}-saylov okrugi" for n in range(1, 36)]


def _draft(title: str, *points: str) -> DraftDecision:
    return DraftDecision(
        title=title,
        text="\n".join(
            ["Tuman xalq deputatlari Kengashi qaror qiladi:"]
            + [f"{n}. {point}" for n, point in enumerate(points, 1)]
        ),
    )


AGENDA = [
    AgendaEntry(
        title="2027-yil uchun tuman budjeti loyihasi toʻgʻrisida",
        rapporteur="Moliya boʻlimi boshligʻi S. Rasulova",
        draft=_draft(
            "2027-yil uchun tuman budjeti toʻgʻrisida",
            "2027-yil uchun tuman budjeti daromadlar va xarajatlar boʻyicha tasdiqlansin.",
            "Moliya boʻlimi budjet ijrosi haqida har chorakda Kengashga axborot bersin.",
            "Mazkur qarorning ijrosini nazorat qilish budjet komissiyasiga yuklansin.",
        ),
    ),
    AgendaEntry(
        title="Tuman hokimining 2026-yil 9 oyi yakunlari boʻyicha ijtimoiy-iqtisodiy "
        "rivojlanish haqidagi hisoboti",
        rapporteur="Tuman hokimi A. Qodirov",
        draft=_draft(
            "Tuman hokimining hisoboti toʻgʻrisida",
            "Tuman hokimining hisoboti maʼlumot uchun qabul qilinsin.",
            "Hokimlik aniqlangan kamchiliklarni bartaraf etish choralarini koʻrsin.",
        ),
    ),
    AgendaEntry(
        title="Obodonlashtirish va koʻkalamzorlashtirish dasturi toʻgʻrisida",
        rapporteur="Obodonlashtirish boshqarmasi",
        draft=_draft(
            "Obodonlashtirish va koʻkalamzorlashtirish dasturi toʻgʻrisida",
            "2027-yilgi obodonlashtirish dasturi tasdiqlansin.",
            "Mahallalarda 5 000 tup daraxt koʻchati ekilsin.",
        ),
    ),
    AgendaEntry(
        title="Maktabgacha taʼlim tashkilotlari tarmogʻini kengaytirish toʻgʻrisida",
        rapporteur="Taʼlim boʻlimi",
        draft=_draft(
            "Maktabgacha taʼlim tarmogʻini kengaytirish toʻgʻrisida",
            "Uchta yangi maktabgacha taʼlim tashkiloti ochish rejasi maʼqullansin.",
        ),
    ),
    AgendaEntry(title="Deputatlik soʻrovlari ijrosi haqida", rapporteur="Kengash kotibiyati"),
    AgendaEntry(
        title="Doimiy komissiyalar tarkibiga oʻzgartirishlar kiritish toʻgʻrisida",
        rapporteur="Mandat komissiyasi",
    ),
]


@dataclass(frozen=True)
class DemoUser:
    login: str
    role: str
    full_name: str


def _full_name(surname: str, given: str, father: str, female: bool) -> str:
    return f"{surname} {given} {father} {'qizi' if female else 'oʻgʻli'}"


def roster() -> list[RosterRow]:
    """33 deputies for 35 seats: two seats are vacant, as happens between by-elections."""
    people = [(*m, False) for m in _MEN] + [(*w, True) for w in _WOMEN]
    rows = []
    for seat, (surname, given, father, female) in enumerate(people, start=1):
        born = date(1965 + seat % 30, 1 + seat % 12, 1 + seat % 28)
        gender = 4 if female else 3
        pinfl = f"{gender}{born:%d%m%y}26{seat:03d}{(seat * 7) % 10}{seat % 10}"[:14]
        rows.append(
            RosterRow(
                full_name=_full_name(surname, given, father, female),
                pinfl=pinfl,
                seat=seat,
                district=_DISTRICTS[seat - 1],
                faction=_FACTIONS[seat % len(_FACTIONS)],
            )
        )
    return rows


STAFF = [
    DemoUser("secretary", "secretary", "Nazarova Lola Shavkat qizi"),
    DemoUser("operator", "operator", "Aliyev Sanjar Botir oʻgʻli"),
    DemoUser("admin", "admin", "Tizim administratori"),
]


def is_seeded(db: DbSession) -> bool:
    return bool(db.scalar(select(func.count()).select_from(models.Council)))


def seed(db: DbSession, today: date) -> models.Session:
    council = get_or_create_council(db, COUNCIL, RULES, REGION)
    import_roster(db, council, roster())
    deputies = list(
        db.scalars(
            select(models.Deputy)
            .where(models.Deputy.council_id == council.id)
            .order_by(models.Deputy.seat_no)
        )
    )
    chair, others = deputies[0], deputies[1:]
    db.add(
        models.User(
            login="chair",
            role="chair",
            full_name=chair.full_name,
            council_id=council.id,
            deputy_id=chair.id,
        )
    )
    for d in others:
        db.add(
            models.User(
                login=f"deputy{d.seat_no:02d}",
                role="deputy",
                full_name=d.full_name,
                council_id=council.id,
                deputy_id=d.id,
            )
        )
    for s in STAFF:
        db.add(
            models.User(
                login=s.login,
                role=s.role,
                full_name=s.full_name,
                council_id=None if s.role == "admin" else council.id,
            )
        )
    return schedule_session(
        db, council, "Yunusobod tumani Kengashining navbatdagi sessiyasi", today, AGENDA
    )


async def demo_users(db: AsyncSession) -> list[DemoUser]:
    users = await db.scalars(select(models.User).order_by(models.User.id))
    return [DemoUser(u.login, u.role, u.full_name) for u in users]


async def chairs(db: AsyncSession) -> list[tuple[str, str]]:
    """(full name, PINFL) of every chair who is a deputy: whom the demo lets sign."""
    rows = await db.execute(
        select(models.Deputy.full_name, models.Deputy.pinfl)
        .join(models.User, models.User.deputy_id == models.Deputy.id)
        .where(models.User.role == "chair")
    )
    return [(name, pinfl) for name, pinfl in rows]
