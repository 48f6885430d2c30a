"""Records shaped as the server hands them to documents/, for the tests and the benchmark."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

TZ = timezone(timedelta(hours=5))  # Tashkent
START = datetime(2025, 3, 12, 10, 0, tzinfo=TZ)
CHOICES = ["yes", "yes", "no", "abstain", "yes", "not voting", "absent"]

# Typst markup that must print literally wherever user text goes.
INJECTIONS = [
    '#import "x"',
    "$x^2$",
    "*bold*",
    "[bracket]",
    "back\\slash",
    "<label>",
    "@ref",
    "// not a comment",
    '#panic("boom")',
    "_under_",
]
UZ_LATN = "Oʻzbekiston gʻalla"
UZ_CYRL = "Ўзбекистон қарор ғалла ҳоким"
RUSSIAN = "Съезд объявил решение"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def deputy(n: int) -> str:
    return f"Deputat{n:03d} Familiyev"


def named(count: int) -> list[dict[str, Any]]:
    return [
        {"seat": n, "deputy": deputy(n), "choice": CHOICES[n % len(CHOICES)]}
        for n in range(1, count + 1)
    ]


def counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"option": option, "votes": sum(1 for r in rows if r["choice"] == option)}
        for option in ("yes", "no", "abstain")
    ]


def protocol(deputies: int = 60, **changes: Any) -> dict[str, Any]:
    rows = named(deputies)
    record: dict[str, Any] = {
        "council": "Toshkent shahar Xalq deputatlari Kengashi",
        "session": {"number": 7, "title": f"Navbatdagi sessiya {UZ_LATN}", "date": "2025-03-12"},
        "item": {"position": 3, "title": f"{UZ_CYRL} тўғрисида"},
        "question": f"{RUSSIAN}: принять проект в целом",
        "kind": "simple",
        "secret": False,
        "face_check": "match",
        "state": "closed",
        "cancel_reason": None,
        "opened_at": iso(START),
        "closed_at": iso(START + timedelta(minutes=2, seconds=30)),
        "rule": ">= 1/2 of seats + 1",
        "present": deputies - 5,
        "seats": deputies,
        "base_value": deputies,
        "threshold": deputies // 2 + 1,
        "result": "adopted",
        "counts": counts(rows),
        "named": rows,
        "receipts": None,
        "url": "https://kengash.example.uz/votes/1234",
    }
    record.update(changes)
    return record


def minutes(items: int = 20, deputies: int = 60, speeches: int = 80) -> dict[str, Any]:
    """A four-hour sitting: `items` items of equal length, each with one named vote and
    an even share of the `speeches`."""
    per_item = timedelta(hours=4) / items
    agenda = []
    spoken = 0
    for i in range(items):
        begin = START + per_item * i
        share = speeches * (i + 1) // items - spoken
        speakers = [
            {
                "deputy": deputy((spoken + s) % deputies + 1),
                "topic": f"Masala {i + 1} boʻyicha fikr {s + 1}",
                "from": iso(begin + timedelta(minutes=2 * s)),
                "to": iso(begin + timedelta(minutes=2 * s + 1, seconds=45)),
                "seconds": 105,
            }
            for s in range(share)
        ]
        spoken += share
        rows = [{"deputy": r["deputy"], "choice": r["choice"]} for r in named(deputies)]
        agenda.append(
            {
                "position": i + 1,
                "title": f"Kun tartibi masalasi {i + 1}: {UZ_LATN}",
                "started_at": iso(begin),
                "ended_at": iso(begin + per_item),
                "speakers": speakers,
                "votes": [
                    {
                        "question": f"Masala {i + 1} boʻyicha qaror loyihasini qabul qilish",
                        "kind": "simple",
                        "secret": False,
                        "rule": ">= 1/2 of present + 1",
                        "opened_at": iso(begin + per_item - timedelta(minutes=3)),
                        "closed_at": iso(begin + per_item - timedelta(minutes=1)),
                        "state": "closed",
                        "result": "adopted",
                        "present": deputies - 2,
                        "counts": counts(named(deputies)),
                        "named": rows,
                        "cancel_reason": None,
                    }
                ],
                "decisions": [{"number": f"7-{i + 1}", "title": f"Masala {i + 1} toʻgʻrisida"}],
            }
        )
    return {
        "council": "Toshkent shahar Xalq deputatlari Kengashi",
        "session": {
            "number": 7,
            "title": "Navbatdagi sessiya",
            "date": "2025-03-12",
            "opened_at": iso(START),
            "closed_at": iso(START + timedelta(hours=4)),
            "state": "closed",
        },
        "attendance": {
            "seats": deputies + 2,
            "deputies": [
                {
                    "seat": n,
                    "deputy": deputy(n),
                    "periods": [
                        {
                            "from": iso(START),
                            "to": iso(START + timedelta(hours=2)),
                            "mode": "chamber" if n % 4 else "remote",
                        },
                        {
                            "from": iso(START + timedelta(hours=2, minutes=10)),
                            "to": None,
                            "mode": "chamber",
                        },
                    ],
                }
                for n in range(1, deputies + 1)
            ],
            "absent": ["Yoʻqov Absent", "Boʻlmagan Deputat"],
        },
        "agenda": agenda,
    }


def decision(signed: bool = True, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "council": "Toshkent shahar Xalq deputatlari Kengashi",
        "number": "7-3",
        "title": f"{UZ_LATN} xaridi toʻgʻrisida",
        "text": f"{UZ_LATN} yetishtirish boʻyicha.\n\n{UZ_CYRL}.\n{RUSSIAN}.",
        "adopted_on": "2025-03-12",
        "session": {"number": 7, "title": "Navbatdagi sessiya"},
        "vote": {
            "counts": [
                {"option": "yes", "votes": 41},
                {"option": "no", "votes": 3},
                {"option": "abstain", "votes": 2},
            ],
            "present": 46,
            "seats": 60,
            "rule": ">= 1/2 of seats + 1",
            "result": "adopted",
        },
        "signature": {
            "signer": "Raisov Rais Raisovich",
            "signed_at": "2025-03-12T15:40:00+05:00",
            "serial": "7A3F00C1D2E3",
        }
        if signed
        else None,
        "ledger": {"index": 42 if signed else None},
        "url": "https://kengash.example.uz/verify/decisions/7-3?h=3b9f0c2a1d",
    }
    record.update(changes)
    return record
