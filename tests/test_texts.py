"""UI strings: the same keys and placeholders in all six languages, and markup Telegram accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.texts import Safe, TextError, Texts, isolate_numbers, markup_problem
from bot.settings import ROOT, SERVED_LANGUAGES


def test_project_strings_are_complete_in_every_language() -> None:
    texts = Texts.load(ROOT / "content" / "strings")
    assert texts.problems() == []
    english = set(texts.by_language["en"])
    for language in SERVED_LANGUAGES:
        assert set(texts.by_language[language]) == english


# Finland's numbers a family in danger needs (checked 2026-11): emergency, MIELI crisis helpline, Nollalinja
# (violence in close relationships), the medical helpline, the Poison Information Centre.
EMERGENCY_NUMBERS = ("112", "09 2525 0111", "080 005 005", "116 117", "0800 147 111")


@pytest.mark.parametrize("key", ["crisis.info", "emergency.info"])
def test_the_emergency_texts_give_every_number_in_every_language(key: str) -> None:
    texts = Texts.load(ROOT / "content" / "strings")
    for language in SERVED_LANGUAGES:
        text = texts.by_language[language][key]
        assert [number for number in EMERGENCY_NUMBERS if number not in text] == [], language


def test_missing_key_and_placeholder_mismatch_are_reported(tmp_path: Path) -> None:
    for language in SERVED_LANGUAGES:
        (tmp_path / f"{language}.yml").write_text('a: "Hi {name}"\nb: "x"\n', encoding="utf-8")
    (tmp_path / "so.yml").write_text('a: "Salaan {magac}"\n', encoding="utf-8")
    problems = Texts.load(tmp_path).problems()
    assert "content/strings (so): missing key 'b'" in problems
    assert any("(so): 'a' has placeholders ['magac']" in p for p in problems)


def test_a_key_defined_twice_is_an_error(tmp_path: Path) -> None:
    for language in SERVED_LANGUAGES:
        (tmp_path / f"{language}.yml").write_text('a: "x"\n', encoding="utf-8")
    (tmp_path / "feature.fi.yml").write_text('a: "y"\n', encoding="utf-8")
    with pytest.raises(TextError, match="defined twice"):
        Texts.load(tmp_path)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<b>hi</b>", True),
        ("a &amp; b", True),
        ("<a href='x'>x</a>", False),
        ("<b>open", False),
        ("1 < 2", False),
        ("a & b", False),
        ("<b><i>x</i></b>", True),
        ("<b><i>x</b></i>", False),
    ],
)
def test_markup_check(text: str, ok: bool) -> None:
    assert (markup_problem(text) is None) == ok


def test_values_are_escaped_unless_safe() -> None:
    texts = Texts({code: {"k": "Hi {name}"} for code in SERVED_LANGUAGES})
    assert texts.get("en", "k", name="<script>&") == "Hi &lt;script&gt;&amp;"
    assert texts.get("en", "k", name=Safe("<b>x</b>")) == "Hi <b>x</b>"
    assert texts.get("xx", "k", name="a") == "Hi a"  # unknown language falls back to English


def test_phone_numbers_are_isolated_in_arabic() -> None:
    assert isolate_numbers("اتصلوا 09 2525 0111") == "اتصلوا \u206609 2525 0111\u2069"
    assert isolate_numbers("\u2066116 117\u2069") == "\u2066116 117\u2069"  # not twice
    texts = Texts({code: {"k": "call 116 117"} for code in SERVED_LANGUAGES})
    assert "\u2066" in texts.get("ar", "k") and "\u2066" not in texts.get("en", "k")


def test_a_typed_language_name_is_recognised_in_the_forms_families_write_it() -> None:
    from bot.core.texts import LANGUAGE_NAMES, language_named

    for code, name in LANGUAGE_NAMES.items():
        assert language_named(name) == code  # the button's own label, typed
    typed = {
        "english!": "en",
        "Af-Soomaali": "so",
        "عربي": "ar",
        "по-русски": "ru",
        "KISWAHILI.": "sw",
        "suomeksi 🙂": "fi",
    }
    for text, code in typed.items():
        assert language_named(text) == code, text
    for text in ("I speak English and a little Finnish", "somali shop", "", "🙂", "hello"):
        assert language_named(text) is None, text  # a sentence is the detector's job, not this list's
