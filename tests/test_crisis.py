"""Crisis detection: positives and near-misses in all six languages, guards, normalisation, files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.nlu.crisis import CATEGORIES, CrisisDetector, CrisisRules, normalise

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector()


def _rows(name: str) -> list[tuple[str, str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["lang"], r["label"], r["text"]) for r in reader]


DEV = _rows("crisis_dev.tsv") + _rows("crisis_dev2.tsv")


@pytest.mark.parametrize(("lang", "text"), [(lang, text) for lang, label, text in DEV if label == "crisis"])
def test_crisis_messages_are_flagged(detector: CrisisDetector, lang: str, text: str) -> None:
    assert detector.is_crisis(text, lang)
    assert detector.is_crisis(text)  # the language guess may be wrong or missing


@pytest.mark.parametrize(("lang", "text"), [(lang, text) for lang, label, text in DEV if label == "near_miss"])
def test_near_misses_are_not_flagged(detector: CrisisDetector, lang: str, text: str) -> None:
    assert not detector.is_crisis(text, lang), detector.match(text, lang)
    assert not detector.is_crisis(text), detector.match(text)


@pytest.mark.parametrize(
    ("lang", "text", "category"),
    [
        ("en", "I want to kill myself", "self_harm"),
        ("en", "my husband beats me", "violence"),
        ("en", "I can't find my son anywhere, he is 6", "child"),
        ("en", "my father is not breathing", "medical"),
        ("en", "the kitchen is on fire", "fire"),
        ("en", "a man with a knife is at our door", "threat"),
        ("fi", "haluan kuolla", "self_harm"),
        ("fi", "mieheni lyö minua", "violence"),
        ("fi", "vauva ei hengitä", "medical"),
        ("fi", "asunnossa on tulipalo", "fire"),
        ("ru", "хочу покончить с собой", "self_harm"),
        ("ru", "муж бьет меня", "violence"),
        ("ru", "у нас пожар", "fire"),
        ("ar", "بدي اقتل حالي", "self_harm"),
        ("ar", "زوجي يضربني", "violence"),
        ("ar", "في حريق بالبيت", "fire"),
        ("so", "waxaan doonayaa inaan is dilo", "self_harm"),
        ("so", "ninkaygu wuu i garaacaa", "violence"),
        ("so", "ilmaha ma neefsanayo", "medical"),
        ("sw", "nataka kujiua", "self_harm"),
        ("sw", "mume wangu ananipiga", "violence"),
        ("sw", "mtoto hapumui", "medical"),
        ("sw", "kuna moto jikoni", "fire"),
    ],
)
def test_categories(detector: CrisisDetector, lang: str, text: str, category: str) -> None:
    assert detector.category(text, lang) == category


def test_idioms_are_guarded_but_do_not_hide_a_crisis(detector: CrisisDetector) -> None:
    assert not detector.is_crisis("I'm dying to learn Finnish")
    assert not detector.is_crisis("this homework is killing me lol")
    assert not detector.is_crisis("haha that video killed me lol")
    assert not detector.is_crisis("Tää läksy tappaa mut 😂")
    assert not detector.is_crisis("الواجب عم يقتلني")
    assert not detector.is_crisis("умираю со смеху")
    assert detector.category("I'm dying to learn Finnish but my husband hits me") == "violence"


def test_normalisation_is_forgiving(detector: CrisisDetector) -> None:
    # Finnish without diacritics, shouting and stretched letters.
    assert detector.is_crisis("en halua enaa elaa")
    assert detector.is_crisis("EN HALUA ENÄÄ ELÄÄ!!!")
    assert detector.is_crisis("heeelp my baby is not breathiiing")
    # Arabic letter variants: alef with hamza or without, ta marbuta or ha.
    assert detector.is_crisis("أريد أن أموت")
    assert detector.is_crisis("اريد ان اموت")
    assert detector.is_crisis("حالة طارئة")
    # Russian ё written or not.
    assert detector.is_crisis("он убьёт меня")
    assert detector.is_crisis("он убьет меня")
    assert normalise("Don't  GO!! Kyllä") == " dont go kylla "


def test_nothing_is_no_crisis(detector: CrisisDetector) -> None:
    for text in ("", "   ", "👍", "ok", "kiitos", "hello"):
        assert not detector.is_crisis(text)
        assert detector.category(text) is None


def test_hinted_language_goes_first(detector: CrisisDetector) -> None:
    match = detector.match("mtoto hapumui", "sw")
    assert match is not None and match[1] == "sw"
    assert detector.match("mtoto hapumui", "fi") is not None  # still found under a wrong hint


def test_index_matches_every_pattern_as_a_full_scan_would(detector: CrisisDetector) -> None:
    """The start-prefix index only skips patterns that cannot match."""
    guards = [g for rules in detector.rules.values() for g in rules.guards]
    patterns = [p for rules in detector.rules.values() for _, p in rules.patterns]
    for _, _, text in DEV:
        guarded = normalise(text)
        for guard in guards:
            guarded = guard.sub(" ", guarded)
        expected = any(p.search(guarded) for p in patterns)
        assert detector.is_crisis(text) == expected, text


def test_rules_files_are_checked(tmp_path: Path) -> None:
    bad_category = tmp_path / "crisis-xx.yml"
    bad_category.write_text("patterns:\n  nonsense:\n    - 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown crisis categories"):
        CrisisRules.from_file(bad_category)
    bad_regex = tmp_path / "crisis-yy.yml"
    bad_regex.write_text("patterns:\n  fire:\n    - '(unclosed'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad pattern"):
        CrisisRules.from_file(bad_regex)
    bad_term = tmp_path / "crisis-zz.yml"
    bad_term.write_text("patterns:\n  fire:\n    - '{nothing} burns'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown term"):
        CrisisRules.from_file(bad_term)


def test_every_served_language_has_every_category(detector: CrisisDetector) -> None:
    assert set(detector.rules) == {"fi", "en", "ar", "ru", "so", "sw"}
    for rules in detector.rules.values():
        assert {category for category, _ in rules.patterns} == set(CATEGORIES), rules.language
