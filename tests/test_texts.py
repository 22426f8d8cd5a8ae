"""UI strings: the same keys and placeholders in all six languages, and markup Telegram accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.texts import Safe, TextError, Texts, isolate_numbers, markup_problem, plural_form, plural_groups
from bot.settings import ROOT, SERVED_LANGUAGES


def test_project_strings_are_complete_in_every_language() -> None:
    texts = Texts.load(ROOT / "content" / "strings")
    assert texts.problems() == []
    plurals = plural_groups(texts.by_language["en"])

    def keys(language: str) -> set[str]:
        """Every key, a plural text once (its forms differ by language: "few" in Russian)."""
        table = texts.by_language[language]
        return {key.rpartition(".")[0] if key.rpartition(".")[0] in plurals else key for key in table}

    for language in SERVED_LANGUAGES:
        assert keys(language) == keys("en")
        assert all(f"{group}.other" in texts.by_language[language] for group in plurals)


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


@pytest.mark.parametrize(
    ("language", "counts"),
    [
        ("fi", {"one": [1], "other": [0, 2, 5, 11, 21, 101]}),
        ("en", {"one": [1], "other": [0, 2, 11, 21]}),
        ("ru", {"one": [1, 21, 101], "few": [2, 3, 4, 22, 104], "many": [0, 5, 11, 12, 14, 25, 111]}),
        ("ar", {"zero": [0], "one": [1], "two": [2], "few": [3, 10, 103], "many": [11, 99, 111], "other": [100, 102]}),
        ("so", {"one": [1], "other": [0, 2]}),
        ("sw", {"one": [1], "other": [0, 2]}),
    ],
)
def test_plural_forms_follow_each_languages_rules(language: str, counts: dict[str, list[int]]) -> None:
    for form, numbers in counts.items():
        assert [plural_form(language, n) for n in numbers] == [form] * len(numbers), (language, form)


def test_a_plural_text_takes_the_form_of_its_count(tmp_path: Path) -> None:
    forms = {
        "en": 'weeks:\n  one: "{count} week"\n  other: "{count} weeks"\n',
        "fi": 'weeks:\n  one: "{count} viikko"\n  other: "{count} viikkoa"\n',
        "ru": (
            'weeks:\n  one: "{count} неделя"\n  few: "{count} недели"\n  many: "{count} недель"\n'
            '  other: "{count} недели"\n'
        ),
        "ar": 'weeks:\n  one: "أسبوع واحد"\n  two: "أسبوعان"\n  other: "{count} أسبوع"\n',
    }
    for language in SERVED_LANGUAGES:
        (tmp_path / f"{language}.yml").write_text(forms.get(language, 'weeks:\n  other: "{count} x"\n'), "utf-8")
    texts = Texts.load(tmp_path)
    assert texts.problems() == [], "Russian's few/many, Arabic's two and a language with only `other` are fine"
    assert texts.has("weeks")
    assert [texts.get("fi", "weeks", count=n) for n in (1, 2)] == ["1 viikko", "2 viikkoa"]
    assert [texts.get("en", "weeks", count=n) for n in (1, 8)] == ["1 week", "8 weeks"]
    assert [texts.get("ru", "weeks", count=n) for n in (1, 3, 5, 21)] == [
        "1 неделя",
        "3 недели",
        "5 недель",
        "21 неделя",
    ]
    assert texts.get("ar", "weeks", count=2) == "أسبوعان" and "5" in texts.get("ar", "weeks", count=5)  # few: other
    assert texts.get("so", "weeks", count=1) == "1 x", "a form the language does not have: its `other`"
    with pytest.raises(KeyError):
        texts.get("fi", "weeks")  # a plural text needs its count


def test_a_plural_text_without_other_or_with_a_stray_placeholder_is_reported(tmp_path: Path) -> None:
    for language in SERVED_LANGUAGES:
        (tmp_path / f"{language}.yml").write_text('n:\n  one: "{count} a"\n  other: "{count} b"\n', "utf-8")
    (tmp_path / "ru.yml").write_text('n:\n  one: "{count} a"\n  few: "{name} b"\n', "utf-8")
    problems = Texts.load(tmp_path).problems()
    assert "content/strings (ru): missing key 'n.other'" in problems
    assert any("(ru): 'n.few' has placeholders ['name']" in p for p in problems)
