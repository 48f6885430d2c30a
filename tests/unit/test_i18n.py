"""The pages' translations (static/js/i18n/): every text in all four languages with the
same placeholders, Uzbek Latin written with its own letters (oʻ and gʻ with U+02BB, not
an apostrophe), and every key the pages name literally defined."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static" / "js"
I18N = STATIC / "i18n"
LANGUAGES = ("uz-Latn", "uz-Cyrl", "ru", "en")
# The general texts are i18n/<lang>.js; each group of others has a folder of its own.
GROUPS = ["", *sorted(p.name for p in I18N.iterdir() if p.is_dir())]

_ENTRY = re.compile(r'(?:"([^"\\]+)"|\b([A-Za-z_]\w*))\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def dictionary(group: str, lang: str) -> dict[str, str]:
    path = I18N / group / f"{lang}.js" if group else I18N / f"{lang}.js"
    text = path.read_text(encoding="utf-8")
    body = text.split("export default {", 1)[1]
    entries: dict[str, str] = {}
    for quoted, bare, value in _ENTRY.findall(body):
        key = quoted or bare
        assert key not in entries, f"{path.name}: {key} twice"
        entries[key] = value
    assert entries, f"no texts read from {path}"
    return entries


@pytest.mark.parametrize("group", GROUPS)
def test_every_text_is_in_every_language_with_the_same_placeholders(group: str) -> None:
    dictionaries = {lang: dictionary(group, lang) for lang in LANGUAGES}
    english = dictionaries["en"]
    for lang, texts in dictionaries.items():
        assert set(texts) == set(english), (
            f"{group or 'general'}/{lang}: missing {sorted(set(english) - set(texts))}, "
            f"extra {sorted(set(texts) - set(english))}"
        )
        for key, text in texts.items():
            assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(english[key])), (
                f"{group or 'general'}/{lang}: {key} has other placeholders than in English"
            )
            assert text.strip(), f"{group or 'general'}/{lang}: {key} is empty"


@pytest.mark.parametrize("group", GROUPS)
def test_uzbek_latin_writes_o_and_g_with_the_turned_comma(group: str) -> None:
    for key, text in dictionary(group, "uz-Latn").items():
        wrong = re.findall(r"[oOgG]['‘’`ʼ]", _PLACEHOLDER.sub("", text))
        assert not wrong, f"{group or 'general'}/uz-Latn: {key} writes {wrong} (use ʻ, U+02BB)"


def test_the_groups_do_not_define_a_text_twice() -> None:
    seen: dict[str, str] = {}
    for group in GROUPS:
        for key in dictionary(group, "en"):
            assert key not in seen, f"{key} is in both {seen[key] or 'general'} and {group}"
            seen[key] = group


# Where the pages name a key literally: t("…"), tx("…"), "data-i18n": "…" and the like.
_USED = re.compile(
    r'(?:\b(?:t|tx|say|showError|info)\(\s*|"data-i18n(?:-placeholder|-title|-aria-label)?":\s*)'
    r'"([a-z_]+(?:\.[a-z0-9_]+)*)"'
)


def test_every_key_the_pages_name_is_defined() -> None:
    known = {key for group in GROUPS for key in dictionary(group, "en")}
    missing: dict[str, list[str]] = {}
    for path in STATIC.rglob("*.js"):
        if I18N in path.parents:
            continue
        for key in _USED.findall(path.read_text(encoding="utf-8")):
            if key not in known:
                missing.setdefault(str(path.relative_to(STATIC)), []).append(key)
    assert not missing, f"texts not in static/js/i18n: {missing}"
