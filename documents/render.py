"""Records in, PDF bytes out: vote protocols, minutes of a sitting, decisions.

Python turns a record into a "view": every value already formatted as display text
(dates, HH:MM times, translated code words, numbers). The view goes to the Typst template
as ONE JSON string in `sys.inputs.data`; the templates place its strings as content, so
user text is never parsed as Typst markup and cannot inject anything.

Compilation releases the GIL (see bench/documents.py), so the server can render in a
thread pool. One `typst.Compiler` cannot be used by two threads at once (the binding
raises "Already borrowed"), hence one cached compiler per thread.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import segno
import typst

from documents.labels import LABELS, LANGUAGES, code

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "—"

_local = threading.local()


def _compiler() -> Any:
    """This thread's compiler, made on first use. Only the fonts embedded in the binding
    (ignore_system_fonts): the same PDF on every machine, and no font scan per start."""
    compiler = getattr(_local, "compiler", None)
    if compiler is None:
        compiler = typst.Compiler(root=str(TEMPLATES), ignore_system_fonts=True)
        _local.compiler = compiler
    return compiler


def _compile(template: str, view: dict[str, Any]) -> bytes:
    pdf = _compiler().compile(
        input=str(TEMPLATES / template),
        sys_inputs={"data": json.dumps(view, ensure_ascii=False)},
        # No tagged-PDF structure tree: it made the minutes ten times larger (1.2 MB
        # against 120 kB for a 20-item sitting) and protocols several times slower.
        pdf_tags=False,
    )
    assert isinstance(pdf, bytes)
    return pdf


# --- reading records leniently --------------------------------------------------------


def _record(obj: object) -> dict[str, Any]:
    """A mapping or a dataclass instance as a plain dict (nested ones too)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    if obj is None:
        return {}
    raise TypeError(f"expected a mapping or a dataclass, not {type(obj).__name__}")


def _list(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes | Mapping):
        return []
    return [_record(v) for v in value]


def _text(value: object, default: str = DASH) -> str:
    if value is None or value == "":
        return default
    return str(value)


def _date(value: object) -> str:
    """YYYY-MM-DD (or a full ISO time) as DD.MM.YYYY; anything else as given."""
    if not isinstance(value, str) or not value:
        return _text(value)
    try:
        return date.fromisoformat(value[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return value


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _time(value: object) -> str:
    """HH:MM in the offset the ISO string carries (the council's local time)."""
    moment = _parse(value)
    return moment.strftime("%H:%M") if moment else _text(value)


def _datetime(value: object) -> str:
    moment = _parse(value)
    return moment.strftime("%d.%m.%Y %H:%M") if moment else _text(value)


def _span(start: object, end: object) -> str | None:
    if not start and not end:
        return None
    return f"{_time(start) if start else '…'}–{_time(end) if end else '…'}"


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return DASH
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _check_lang(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {sorted(LANGUAGES)}")
    return LABELS[lang]


def _base_view(lang: str, council: object, doc_title: str) -> dict[str, Any]:
    language = LANGUAGES[lang]
    return {
        "lang": language.lang,
        "region": language.region,
        "labels": LABELS[lang],
        "council": _text(council, ""),
        "doc_title": doc_title,
    }


def _counts(lang: str, counts: object) -> list[list[str]]:
    return [
        [code(lang, "option", _text(c.get("option"))), _text(c.get("votes"), "0")]
        for c in _list(counts)
    ]


def _choice(lang: str, value: object) -> str:
    return code(lang, "choice", _text(value))


def _code(lang: str, group: str, value: object) -> str | None:
    return None if value is None or value == "" else code(lang, group, str(value))


def _session_line(labels: dict[str, str], session: dict[str, Any], with_date: bool) -> str:
    parts = [labels["session_no"].format(number=_text(session.get("number"), "?"))]
    if session.get("title"):
        parts.append(str(session["title"]))
    if with_date and session.get("date"):
        parts.append(_date(session["date"]))
    return " — ".join(parts)


def _present_of(labels: dict[str, str], present: object, seats: object) -> str:
    return labels["present_of"].format(present=_text(present, "?"), seats=_text(seats, "?"))


# --- the documents --------------------------------------------------------------------


def render_protocol(protocol: Mapping[str, Any] | Any, lang: str) -> bytes:
    """The protocol of one vote as PDF bytes (shape: documents.shapes.Protocol)."""
    labels = _check_lang(lang)
    p = _record(protocol)
    session, item = _record(p.get("session")), _record(p.get("item"))
    item_line = f"{labels['agenda_item']} {_text(item.get('position'), '?')}. " + _text(
        item.get("title"), ""
    )
    fields: list[list[str]] = [
        [labels["question"], _text(p.get("question"))],
        [labels["kind"], code(lang, "kind", _text(p.get("kind")))],
        [labels["ballot"], labels["ballot_secret" if p.get("secret") else "ballot_named"]],
        [labels["face_check"], _code(lang, "face_check", p.get("face_check")) or labels["none"]],
        [labels["opened"], _datetime(p.get("opened_at"))],
        [labels["closed"], _datetime(p.get("closed_at"))],
        [labels["rule"], _text(p.get("rule"))],
        [labels["present_label"], _present_of(labels, p.get("present"), p.get("seats"))],
    ]
    if p.get("base_value") is not None:
        fields.append([labels["base_value"], str(p["base_value"])])
    if p.get("threshold") is not None:
        fields.append([labels["threshold"], str(p["threshold"])])
    fields.append([labels["state"], code(lang, "state", _text(p.get("state")))])
    if p.get("cancel_reason"):
        fields.append([labels["cancel_reason"], str(p["cancel_reason"])])

    named = p.get("named")
    receipts = p.get("receipts")
    view = _base_view(lang, p.get("council"), labels["vote_protocol"])
    view |= {
        "title": labels["vote_protocol"],
        "lines": [_session_line(labels, session, with_date=True), item_line],
        "fields": fields,
        "counts": _counts(lang, p.get("counts")),
        "result": _code(lang, "result", p.get("result")),
        "named": None
        if named is None
        else [
            [
                str(n),
                _text(r.get("seat"), ""),
                _text(r.get("deputy")),
                _choice(lang, r.get("choice")),
            ]
            for n, r in enumerate(_list(named), 1)
        ],
        "receipts": None
        if receipts is None
        else [
            [str(n), _text(r.get("receipt")), _choice(lang, r.get("choice"))]
            for n, r in enumerate(_list(receipts), 1)
        ],
        "url": p.get("url") or None,
    }
    return _compile("protocol.typ", view)


def _periods(lang: str, periods: object) -> str:
    return "; ".join(
        f"{_span(x.get('from'), x.get('to')) or DASH} {code(lang, 'mode', _text(x.get('mode')))}"
        for x in _list(periods)
    ) or DASH


def _minutes_vote(lang: str, labels: dict[str, str], v: dict[str, Any]) -> dict[str, Any]:
    fields = [
        [labels["kind"], code(lang, "kind", _text(v.get("kind")))],
        [labels["ballot"], labels["ballot_secret" if v.get("secret") else "ballot_named"]],
        [labels["rule"], _text(v.get("rule"))],
        [labels["time"], _span(v.get("opened_at"), v.get("closed_at")) or DASH],
    ]
    if v.get("present") is not None:
        fields.append([labels["present_label"], str(v["present"])])
    fields.append([labels["state"], code(lang, "state", _text(v.get("state")))])
    if v.get("cancel_reason"):
        fields.append([labels["cancel_reason"], str(v["cancel_reason"])])
    named = v.get("named")
    return {
        "question": _text(v.get("question")),
        "fields": fields,
        "counts": _counts(lang, v.get("counts")),
        "result": _code(lang, "result", v.get("result")),
        "named": None
        if named is None
        else [
            [str(n), _text(r.get("deputy")), _choice(lang, r.get("choice"))]
            for n, r in enumerate(_list(named), 1)
        ],
    }


def render_minutes(minutes: Mapping[str, Any] | Any, lang: str) -> bytes:
    """The minutes of a sitting as PDF bytes (shape: documents.shapes.Minutes)."""
    labels = _check_lang(lang)
    m = _record(minutes)
    session = _record(m.get("session"))
    attendance = _record(m.get("attendance"))
    deputies = _list(attendance.get("deputies"))
    absent = [str(a) for a in attendance.get("absent") or [] if a]

    agenda = []
    for entry in _list(m.get("agenda")):
        agenda.append(
            {
                "heading": f"{_text(entry.get('position'), '?')}. {_text(entry.get('title'), '')}",
                "times": _span(entry.get("started_at"), entry.get("ended_at")),
                "speakers": [
                    [
                        str(n),
                        _text(s.get("deputy")),
                        _text(s.get("topic")),
                        _span(s.get("from"), s.get("to")) or DASH,
                        _duration(s.get("seconds")),
                    ]
                    for n, s in enumerate(_list(entry.get("speakers")), 1)
                ],
                "votes": [_minutes_vote(lang, labels, v) for v in _list(entry.get("votes"))],
                "decisions": [
                    f"{labels['decision_no'].format(number=_text(d.get('number'), '?'))}"
                    f" — {_text(d.get('title'), '')}"
                    for d in _list(entry.get("decisions"))
                ],
            }
        )

    view = _base_view(lang, m.get("council"), labels["minutes"])
    view |= {
        "title": labels["minutes"],
        "lines": [_session_line(labels, session, with_date=True)],
        "fields": [
            [labels["session_opened"], _datetime(session.get("opened_at"))],
            [labels["session_closed"], _datetime(session.get("closed_at"))],
            [labels["state"], code(lang, "state", _text(session.get("state")))],
        ],
        "attendance": {
            "fields": [
                [labels["seats"], _text(attendance.get("seats"))],
                [labels["registered"], str(len(deputies))],
            ],
            "rows": [
                [
                    str(n),
                    _text(d.get("seat"), ""),
                    _text(d.get("deputy")),
                    _periods(lang, d.get("periods")),
                ]
                for n, d in enumerate(deputies, 1)
            ],
            "absent": ", ".join(absent) if absent else None,
        },
        "agenda": agenda,
    }
    return _compile("minutes.typ", view)


def qr_svg(url: str) -> str:
    """`url` as a QR code in SVG. Always a full QR code (segno.make would pick a Micro QR
    for short data, which phone cameras do not read); level M survives a worn print."""
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(buffer, kind="svg", scale=4, border=4, xmldecl=False)
    return buffer.getvalue().decode("utf-8")


def render_decision(decision: Mapping[str, Any] | Any, lang: str) -> bytes:
    """A decision with the QR code of its verification page (shape:
    documents.shapes.Decision). Unsigned: "adopted, awaiting the chair's signature"."""
    labels = _check_lang(lang)
    d = _record(decision)
    session, vote = _record(d.get("session")), _record(d.get("vote"))
    signature = _record(d.get("signature")) if d.get("signature") else None
    ledger = _record(d.get("ledger"))
    url = _text(d.get("url"), "")
    heading = labels["decision_no"].format(number=_text(d.get("number"), "?"))
    # Newlines separate paragraphs; blank lines are not empty paragraphs.
    text = _text(d.get("text"), "")
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]

    view = _base_view(lang, d.get("council"), heading)
    view |= {
        "title": heading,
        "lines": [
            _session_line(labels, session, with_date=False),
            f"{labels['adopted_on']}: {_date(d.get('adopted_on'))}",
        ],
        "decision_title": _text(d.get("title"), ""),
        "paragraphs": paragraphs,
        "vote_fields": [
            [labels["present_label"], _present_of(labels, vote.get("present"), vote.get("seats"))],
            [labels["rule"], _text(vote.get("rule"))],
            [labels["result"], _code(lang, "result", vote.get("result")) or DASH],
        ],
        "counts": _counts(lang, vote.get("counts")),
        "signature": None
        if signature is None
        else [
            [labels["signed_by"], _text(signature.get("signer"))],
            [labels["signed_at"], _datetime(signature.get("signed_at"))],
            [labels["serial"], _text(signature.get("serial"))],
        ],
        "awaiting": labels["awaiting_signature"],
        "ledger": [
            [
                labels["ledger"],
                f"№ {ledger['index']}"
                if ledger.get("index") is not None
                else labels["ledger_pending"],
            ]
        ],
        "url": url or None,
        "qr": qr_svg(url) if url else None,
    }
    return _compile("decision.typ", view)
