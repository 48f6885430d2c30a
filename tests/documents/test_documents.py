"""documents/: every PDF is read back (pdftotext -layout and pypdf) and checked for what
it must say, in each language, with user text that looks like Typst markup."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdf
import pytest

from documents import LANGUAGES, render_decision, render_minutes, render_protocol
from documents.labels import LABELS
from tests.documents import samples

PDFTOTEXT = shutil.which("pdftotext") or "/usr/bin/pdftotext"
PDFTOPPM = shutil.which("pdftoppm") or "/usr/bin/pdftoppm"


def layout_text(pdf: bytes) -> str:
    done = subprocess.run(
        [PDFTOTEXT, "-layout", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def flat(text: str) -> str:
    """Whitespace collapsed: a phrase wrapped over two lines or spread over table columns
    still reads as one."""
    return re.sub(r"\s+", " ", text)


def texts(pdf: bytes) -> tuple[str, str]:
    """(pdftotext's text, pypdf's text), each with whitespace collapsed."""
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    via_pypdf = "\n".join(page.extract_text() or "" for page in reader.pages)
    return flat(layout_text(pdf)), flat(via_pypdf)


def assert_says(pdf: bytes, *phrases: str) -> str:
    poppler, via_pypdf = texts(pdf)
    for phrase in phrases:
        assert flat(phrase) in poppler, f"pdftotext lacks {phrase!r}"
        assert flat(phrase) in via_pypdf, f"pypdf lacks {phrase!r}"
    return poppler


def pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


# --- scripts and languages ------------------------------------------------------------


def test_protocol_scripts_come_out_exactly() -> None:
    pdf = render_protocol(samples.protocol(), "uz-Latn")
    assert_says(pdf, samples.UZ_LATN, samples.UZ_CYRL, samples.RUSSIAN)
    assert "\u02bb" in samples.UZ_LATN  # the test string itself is the real letter


def test_fonts_are_embedded_and_only_the_chosen_ones() -> None:
    pdf = render_protocol(samples.protocol(), "ru")
    done = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True)
    if done.returncode != 0:  # pdffonts reads files only on some poppler versions
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            done = subprocess.run(["pdffonts", f.name], capture_output=True, check=True)
    report = done.stdout.decode()
    assert "LibertinusSerif" in report
    assert "NewCM" not in report  # no fallback font was needed for any glyph


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_each_language_labels(lang: str) -> None:
    labels = LABELS[lang]
    protocol = render_protocol(samples.protocol(), lang)
    text = assert_says(
        protocol,
        labels["vote_protocol"],
        labels["counts"],
        labels["named"],
        labels["present_label"],
        f"{labels['page']} 1 {labels['of']} 2",
        f"{labels['page']} 2 {labels['of']} 2",
    )
    yes = {"en": "yes", "uz-Latn": "yoqlab", "uz-Cyrl": "ёқлаб", "ru": "за"}
    assert yes[lang] in text
    minutes = render_minutes(samples.minutes(items=2, deputies=5, speeches=3), lang)
    assert_says(minutes, labels["minutes"], labels["attendance"], labels["speakers"])
    decision = render_decision(samples.decision(), lang)
    assert_says(decision, labels["decision_no"].format(number="7-3"), labels["signed_by"])


def test_choice_words_are_translated() -> None:
    record = samples.protocol(
        5,
        named=[
            {"seat": 1, "deputy": "Bir", "choice": "yes"},
            {"seat": 2, "deputy": "Ikki", "choice": "no"},
            {"seat": 3, "deputy": "Uch", "choice": "abstain"},
            {"seat": 4, "deputy": "Toʻrt", "choice": "absent"},
            {"seat": 5, "deputy": "Besh", "choice": "not voting"},
            {"seat": None, "deputy": "Olti", "choice": "blank"},
            {"seat": 7, "deputy": "Yetti", "choice": "Nomzod Nomzodov"},
        ],
    )
    text = layout_text(render_protocol(record, "ru"))
    rows = {line.split()[2]: line for line in text.splitlines() if len(line.split()) > 2}
    assert rows["Bir"].rstrip().endswith("за")
    assert rows["Ikki"].rstrip().endswith("против")
    assert rows["Uch"].rstrip().endswith("воздержался")
    assert rows["Toʻrt"].rstrip().endswith("отсутствовал")
    assert rows["Besh"].rstrip().endswith("не голосовал")
    assert "пустой бюллетень" in text
    assert "Nomzod Nomzodov" in text  # a candidate's name is shown as given
    text = layout_text(render_protocol(record, "uz-Cyrl"))
    assert "ёқлаб" in text and "қарши" in text and "бетараф" in text


def test_bad_lang_raises() -> None:
    for bad in ("uz", "de", "", "EN", "uz-latn"):
        with pytest.raises(ValueError, match="language"):
            render_protocol(samples.protocol(), bad)
        with pytest.raises(ValueError):
            render_minutes(samples.minutes(items=1, deputies=1, speeches=0), bad)
        with pytest.raises(ValueError):
            render_decision(samples.decision(), bad)


# --- injection ------------------------------------------------------------------------


def test_markup_in_user_text_renders_literally() -> None:
    evil = " ".join(samples.INJECTIONS)
    pdf = render_protocol(
        samples.protocol(
            5,
            council=evil,
            question=evil,
            item={"position": 1, "title": evil},
            session={"number": 1, "title": evil, "date": "2025-01-01"},
            named=[{"seat": 1, "deputy": evil, "choice": evil}],
            url="https://x.example/#import?a=$b$",
        ),
        "en",
    )
    text = assert_says(pdf, *samples.INJECTIONS, "https://x.example/#import?a=$b$")
    # In every place, not only one of them (the council line is upper-cased).
    assert text.count('#panic("boom")') >= 4
    minutes = samples.minutes(items=1, deputies=2, speeches=1)
    minutes["agenda"][0]["title"] = evil
    minutes["agenda"][0]["speakers"][0]["topic"] = evil
    minutes["attendance"]["absent"] = [evil]
    assert_says(render_minutes(minutes, "en"), *samples.INJECTIONS)
    decision = render_decision(samples.decision(title=evil, text=f"{evil}\n{evil}"), "en")
    assert_says(decision, *samples.INJECTIONS)


def test_quotes_and_escapes_in_json_survive() -> None:
    tricky = 'Say "hi" \\ then } ] ) \u2028 and \\u0041 not an escape'
    pdf = render_decision(samples.decision(title=tricky), "en")
    assert_says(pdf, 'Say "hi" \\ then } ] )', "and \\u0041 not an escape")


# --- protocol -------------------------------------------------------------------------


def test_named_vote_of_60_lists_every_deputy() -> None:
    pdf = render_protocol(samples.protocol(60), "uz-Latn")
    text = assert_says(pdf, *(samples.deputy(n) for n in range(1, 61)))
    assert "Ovoz berish bayonnomasi" in text
    assert "qabul qilindi" in text
    assert "https://kengash.example.uz/votes/1234" in text
    assert "12.03.2025 10:00" in text and "12.03.2025 10:02" in text


def test_200_deputies_span_pages_with_the_header_repeated() -> None:
    pdf = render_protocol(samples.protocol(200), "en")
    n = pages(pdf)
    assert n >= 4
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    for page in reader.pages[1:]:
        assert re.search(r"No\.\s+Seat\s+Deputy\s+Vote", page.extract_text())
    assert_says(pdf, *(samples.deputy(k) for k in range(1, 201)), f"Page {n} of {n}")


def test_secret_vote_with_receipts_and_cancelled_state() -> None:
    receipts = [
        {"receipt": f"R-{k:04d}-abcd", "choice": "yes" if k % 2 else "no"} for k in range(30)
    ]
    pdf = render_protocol(
        samples.protocol(
            10,
            secret=True,
            named=None,
            receipts=receipts,
            state="cancelled",
            cancel_reason="Texnik nosozlik",
            result=None,
            closed_at=None,
            face_check=None,
        ),
        "uz-Latn",
    )
    text = assert_says(
        pdf,
        "Byulleten kvitansiyalari",
        "R-0000-abcd",
        "R-0029-abcd",
        "yashirin",
        "bekor qilingan",
        "Texnik nosozlik",
    )
    assert "Deputatlar qanday ovoz berdi" not in text  # no named list for a secret vote


def test_pending_chair_protocol() -> None:
    pdf = render_protocol(samples.protocol(4, state="pending_chair", result="pending_chair"), "en")
    assert_says(pdf, "awaiting the chair's decision")


def test_empty_and_none_values_do_not_break() -> None:
    record: dict[str, Any] = {
        "council": "",
        "session": {"number": 1, "title": "", "date": ""},
        "item": {"position": 1, "title": ""},
        "question": "",
        "kind": "",
        "secret": False,
        "face_check": None,
        "state": "closed",
        "cancel_reason": None,
        "opened_at": "",
        "closed_at": None,
        "rule": "",
        "present": 0,
        "seats": 0,
        "base_value": None,
        "threshold": None,
        "result": None,
        "counts": [],
        "named": [],
        "receipts": None,
        "url": None,
    }
    assert_says(render_protocol(record, "en"), "Vote protocol", "Page 1 of 1")
    assert_says(render_protocol({}, "en"), "Vote protocol")
    empty_minutes = {"council": "K", "session": {}, "attendance": {}, "agenda": []}
    assert_says(render_minutes(empty_minutes, "ru"), "Протокол сессии")
    assert_says(render_decision({"url": ""}, "en"), "awaiting the chair's signature")


def test_dataclass_records_are_accepted() -> None:
    @dataclass
    class Item:
        position: int
        title: str

    @dataclass
    class Record:
        council: str
        item: Item
        question: str

    pdf = render_protocol(Record("Dataclass Kengashi", Item(2, "Band"), "Savol?"), "en")
    assert_says(pdf, "Agenda item 2. Band", "Savol?")


# --- minutes --------------------------------------------------------------------------


def test_minutes_show_every_item_speaker_and_vote() -> None:
    record = samples.minutes(items=5, deputies=12, speeches=11)
    pdf = render_minutes(record, "uz-Latn")
    phrases = ["Sessiya bayonnomasi", "Yoʻqov Absent", "Boʻlmagan Deputat", "10:00–12:00"]
    for entry in record["agenda"]:
        phrases.append(f"{entry['position']}. {entry['title']}")
        for speech in entry["speakers"]:
            phrases.append(speech["topic"])
        for vote in entry["votes"]:
            phrases.append(vote["question"])
        for decision in entry["decisions"]:
            phrases.append(f"Qaror № {decision['number']} — {decision['title']}")
    phrases += [samples.deputy(n) for n in range(1, 13)]
    text = assert_says(pdf, *phrases)
    assert text.count("Masala 1 boʻyicha fikr") == 2  # 11 speeches over 5 items: 2 in item 1
    assert "1:45" in text  # a speech's duration
    assert "masofadan" in text and "zalda" in text


def test_minutes_of_a_full_sitting() -> None:
    record = samples.minutes(items=20, deputies=60, speeches=80)
    pdf = render_minutes(record, "en")
    text = assert_says(pdf, "Minutes of the session")
    assert text.count("Masala ") >= 80  # every speech's topic (and each vote's question)
    for n in range(1, 21):
        assert f"Masala {n} boʻyicha qaror loyihasini qabul qilish" in text
        assert f"Decision No. 7-{n} — " in text
    assert pages(pdf) > 10


def test_minutes_vote_without_named_list_and_open_times() -> None:
    record = samples.minutes(items=1, deputies=3, speeches=1)
    vote = record["agenda"][0]["votes"][0]
    vote.update(
        named=None,
        secret=True,
        state="cancelled",
        cancel_reason="Kvorum yoʻq",
        result=None,
        closed_at=None,
        present=None,
    )
    record["agenda"][0]["speakers"][0].update(to=None, seconds=None)
    record["agenda"][0]["ended_at"] = None
    pdf = render_minutes(record, "ru")
    assert_says(pdf, "тайное", "отменено", "Kvorum yoʻq", "10:00–…")


# --- decision -------------------------------------------------------------------------


def test_signed_decision() -> None:
    pdf = render_decision(samples.decision(), "uz-Latn")
    text = assert_says(
        pdf,
        "Qaror № 7-3",
        samples.UZ_LATN,
        samples.UZ_CYRL,
        samples.RUSSIAN,
        "Raisov Rais Raisovich",
        "12.03.2025 15:40",
        "7A3F00C1D2E3",
        "№ 42",
        "https://kengash.example.uz/verify/decisions/7-3?h=3b9f0c2a1d",
    )
    assert "imzosi kutilmoqda" not in text


def test_unsigned_decision_awaits_the_signature() -> None:
    for lang, words in {
        "en": "Adopted, awaiting the chair's signature",
        "uz-Latn": "Qabul qilingan, raisning imzosi kutilmoqda",
        "uz-Cyrl": "Қабул қилинган, раиснинг имзоси кутилмоқда",
        "ru": "Принято, ожидает подписи председателя",
    }.items():
        pdf = render_decision(samples.decision(signed=False), lang)
        assert_says(pdf, words, LABELS[lang]["ledger_pending"])


def test_long_decision_text_runs_over_pages() -> None:
    paragraph = "Kengash qaror qiladi: " + "soʻz " * 400
    text = "\n".join(f"{k}. {paragraph}" for k in range(1, 6))  # ~10,000 characters
    assert len(text) > 10_000
    pdf = render_decision(samples.decision(text=text), "uz-Latn")
    assert pages(pdf) >= 3
    assert_says(pdf, "5. Kengash qaror qiladi:", "Sahifa 1 /")


def qr_payloads(pdf: bytes) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "d.pdf"
        source.write_bytes(pdf)
        subprocess.run([PDFTOPPM, "-r", "150", "-png", source, Path(tmp) / "p"], check=True)
        found: list[str] = []
        for png in sorted(Path(tmp).glob("p*.png")):
            with Image.open(png) as image:
                found += [b.text for b in zxingcpp.read_barcodes(image)]
        return found


def test_qr_code_decodes_to_the_url() -> None:
    decision = samples.decision()
    assert qr_payloads(render_decision(decision, "en")) == [decision["url"]]
    # A short URL must still be a full QR code (not a Micro QR phones cannot read).
    assert qr_payloads(render_decision(samples.decision(url="https://k.uz/d/1"), "ru")) == [
        "https://k.uz/d/1"
    ]


def test_decision_without_url_has_no_qr() -> None:
    pdf = render_decision(samples.decision(url=None), "en")
    assert qr_payloads(pdf) == []


# --- concurrency ----------------------------------------------------------------------


def test_renders_in_threads_at_once() -> None:
    """One compiler per thread: the binding refuses concurrent use of one compiler."""
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            results.append(render_protocol(samples.protocol(20, question=f"Savol {n}"), "en"))
        except BaseException as e:  # collected and re-raised in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6
    assert_says(results[0], "Vote protocol")


def test_same_record_same_bytes() -> None:
    """No creation date or random id in the PDF: a re-render is byte-identical."""
    record = samples.decision()
    assert render_decision(record, "en") == render_decision(record, "en")
