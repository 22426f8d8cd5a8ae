"""Crisis detection: positives and near-misses in all six languages, guards, normalisation, files."""

from __future__ import annotations

import csv
import pickle
import shutil
from pathlib import Path

import pytest
import yaml

from bot.nlu import crisis
from bot.nlu.crisis import CATEGORIES, LEXICON_DIR, CrisisDetector, CrisisRules, normalise

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


# Found by driving the bot as families would (QA, 2026-11-30): each was missed before.
@pytest.mark.parametrize(
    ("lang", "text", "category"),
    [
        ("en", "I want to die", "self_harm"),
        ("ar", "لا أحد سيفتقدني لو رحلت", "self_harm"),
        ("ar", "badi mout", "self_harm"),
        ("ar", "ibni ma 3am yetnaffas", "medical"),
        ("ru", "muzh menya byot", "violence"),
        ("ru", "ya hochu umeret", "self_harm"),
        ("ru", "rebenok ne dyshit", "child"),
    ],
)
def test_crises_found_by_qa_are_flagged(detector: CrisisDetector, lang: str, text: str, category: str) -> None:
    assert detector.category(text, lang) == category


@pytest.mark.parametrize(
    ("lang", "text", "asks"),
    [
        ("en", "I can't go on anymore", True),
        ("en", "I can't go on anymore with this queue", False),
        ("fi", "en jaksa enää", True),
        ("fi", "en jaksa enää odottaa bussia", False),
        ("ar", "لم أعد أستطيع التحمل", True),
        ("ar", "لم أعد أستطيع تحمل البرد", False),
        ("ru", "я больше не могу", True),
        ("ru", "больше не могу ждать ответа от Kela", False),
        ("sw", "siwezi kuendelea tena", True),
        ("sw", "siwezi kuendelea na kozi", False),
        ("so", "rajo ma lihi", True),
        ("en", "I want to die", False),  # a crisis, not a question
    ],
)
def test_distress_alone_is_a_reason_to_ask(detector: CrisisDetector, lang: str, text: str, asks: bool) -> None:
    assert detector.scan(text, lang)[1] is asks
    if asks:
        assert detector.match(text, lang) is None  # asked about, not treated as a crisis


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


def _full_scan(detector: CrisisDetector, text: str, language: str | None) -> tuple[str, str, str] | None:
    """What `match` must answer, without the index: every guard, then every pattern, hint first."""
    guarded = normalise(text)
    for rules in detector.rules.values():
        for guard in rules.guards:
            guarded = guard.sub(" ", guarded)
    ordered = sorted(detector.rules.values(), key=lambda rules: rules.language != language)  # stable
    for rules in ordered:
        for category, pattern in rules.patterns:
            found = pattern.search(guarded)
            if found:
                return category, rules.language, found.group(0).strip()
    return None


@pytest.mark.parametrize("hint", [None, "en", "ar", "so", "fi-FI"])
def test_index_answers_as_a_full_scan_with_every_hint(detector: CrisisDetector, hint: str | None) -> None:
    """Same category, pattern language and words as running every pattern in the hinted order."""
    language = hint.split("-")[0] if hint else None
    for _, _, text in DEV:
        assert detector.match(text, hint) == _full_scan(detector, text, language), text


def test_every_match_contains_one_of_its_required_strings(detector: CrisisDetector) -> None:
    """The invariant the index rests on, for every pattern and guard on every message that it matches."""
    index = detector._index
    required: dict[int, list[str]] = {}
    for items in index.by_key.values():
        for number, string in items:
            required.setdefault(number, []).append(string)
    texts = [normalise(text) for _, _, text in DEV]
    matched = 0
    for number, source in enumerate(index.sources):
        if number in index.always:
            continue
        pattern = crisis.re.compile(source)
        for text in texts:
            if pattern.search(text):
                matched += 1
                assert any(string in text for string in required[number]), (source, text)
    assert matched > len(texts) / 2  # the check did check something


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"\bhe hits\b", (" he hits",)),  # a word start is a space in normalised text: not "the hits"
        (r"\b(?:very )?sick\b", (" sick", " very sick")),
        (r"\b\d+ ?vuotias", ("vuotias",)),  # what follows a wide start
        (r"\w+ burns", (" burns",)),
        (r"(?:ابني|بنتي)\b.{0,20}ضايع", ("ضايع",)),  # as long as either start, and one string
        (r"(?:ابني|بنتي)\b.{0,20}(?:ضايع|ضايعه)", ("ابني", "بنتي")),
        (r"\b(?:ei|en) jaksa", (" ei jaksa", " en jaksa")),  # the parser writes "e[in]"
        (r"\w+", None),
        (r"(?i)\bfire\b", None),  # its literals are not what it matches
        (r"\b(?:fire|\w+ly)\b", ("fire", "ly")),  # each branch its own
        (r"\b(?:fire|\w+)\b", None),  # one branch could be any word
    ],
)
def test_required_strings(source: str, expected: tuple[str, ...] | None) -> None:
    assert crisis._required_strings(source) == expected


def _lexicon_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "lexicons"
    directory.mkdir()
    for path in LEXICON_DIR.glob("crisis-*.yml"):
        shutil.copy(path, directory / path.name)
    return directory


def _cached(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "nlu").glob("crisis-index-*.pkl"))


def test_the_index_is_cached_and_a_lexicon_edit_invalidates_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lexicons, cache_dir = _lexicon_copy(tmp_path), tmp_path / "cache"
    first = CrisisDetector(lexicons, cache_dir=cache_dir)
    assert len(_cached(cache_dir)) == 1
    assert first.category("blorptastic wibble") is None

    def no_reading(directory: Path) -> dict[str, CrisisRules]:
        raise AssertionError("a start from the cache must not read the lexicons")

    with monkeypatch.context() as patched:
        patched.setattr(crisis, "load_rules", no_reading)
        from_cache = CrisisDetector(lexicons, cache_dir=cache_dir)
        for _, _, text in DEV:
            assert from_cache.match(text) == first.match(text), text

    path = lexicons / "crisis-en.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["patterns"]["fire"].append(r"\bblorptastic wibble\b")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = CrisisDetector(lexicons, cache_dir=cache_dir)
    assert edited.category("blorptastic wibble!") == "fire"
    assert len(_cached(cache_dir)) == 2  # keyed by content; the old one goes when an hour stale


def test_a_corrupt_or_foreign_cache_file_is_a_miss(tmp_path: Path) -> None:
    lexicons, cache_dir = _lexicon_copy(tmp_path), tmp_path / "cache"
    CrisisDetector(lexicons, cache_dir=cache_dir)
    [path] = _cached(cache_dir)
    good = path.read_bytes()
    for junk in (b"", b"not a pickle", good[: len(good) // 2], pickle.dumps({"some": "thing"})):
        path.write_bytes(junk)
        detector = CrisisDetector(lexicons, cache_dir=cache_dir)
        assert detector.category("I want to kill myself", "en") == "self_harm"
        assert not detector.is_crisis("when is the group meeting")
        assert path.read_bytes() == good  # rebuilt and written again


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    detector = CrisisDetector(_lexicon_copy(tmp_path), cache_dir=blocker)
    assert detector.category("the kitchen is on fire", "en") == "fire"


def test_a_bad_lexicon_fails_even_when_an_index_is_cached(tmp_path: Path) -> None:
    lexicons, cache_dir = _lexicon_copy(tmp_path), tmp_path / "cache"
    CrisisDetector(lexicons, cache_dir=cache_dir)
    (lexicons / "crisis-xx.yml").write_text("patterns:\n  fire:\n    - '(unclosed'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad pattern"):
        CrisisDetector(lexicons, cache_dir=cache_dir)
    assert len(_cached(cache_dir)) == 1  # nothing cached for lexicons that failed


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


# --------------------------------------------------------------------------------------------
# Benchmark sets (bench/data, see its README): the dev set is what the lexicons were tuned on,
# the held-out sets were never used for tuning. Their floors are the figures reached, so that a
# lexicon change that loses crises or adds false alarms on unseen messages fails here.

BENCH = Path(__file__).resolve().parent.parent / "bench" / "data"
SERVED = ("ar", "en", "fi", "ru", "so", "sw")
# file: (lowest recall, highest false-positive rate) on its messages, language as hint
HELD_OUT_FLOORS: dict[str, tuple[float, float]] = {
    "crisis_heldout_test.tsv": (0.75, 0.04),  # reached 150/197 = 0.761, 6/156 = 3.8%
    "crisis_heldout_test2.tsv": (0.48, 0.07),  # reached 76/156 = 0.487, 10/150 = 6.7% (above target)
    "crisis_heldout_test3.tsv": (0.55, 0.05),  # reached 83/150 = 0.553, 7/150 = 4.7%
    "crisis_heldout_test4.tsv": (0.51, 0.08),  # reached 112/216 = 0.519, 13/168 = 7.7% (above target)
    "crisis_heldout_test5.tsv": (0.25, 0.08),  # reached 273/1037 = 0.263, 66/934 = 7.1% (above target)
}


def _bench_rows(name: str) -> list[dict[str, str]]:
    with (BENCH / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _recall_and_false_positives(detector: CrisisDetector, rows: list[dict[str, str]]) -> tuple[float, float]:
    crises = [r for r in rows if r["label"] == "crisis"]
    near = [r for r in rows if r["label"] == "near_miss"]
    found = sum(detector.is_crisis(r["text"], r["lang"]) for r in crises)
    flagged = sum(detector.is_crisis(r["text"], r["lang"]) for r in near)
    return found / len(crises), flagged / len(near)


@pytest.mark.parametrize("name", ["crisis_tuning_dev.tsv", *HELD_OUT_FLOORS])
def test_bench_sets_are_labelled_and_large_enough(name: str) -> None:
    rows = _bench_rows(name)
    for row in rows:
        assert row["lang"] in SERVED, row
        assert (row["label"], row["category"] == "none") in {("crisis", False), ("near_miss", True)}, row
        assert row["category"] in {*CATEGORIES, "none"}, row
    for lang in SERVED:
        crises = [r for r in rows if r["lang"] == lang and r["label"] == "crisis"]
        assert len(crises) >= 25, lang
        assert len([r for r in rows if r["lang"] == lang and r["label"] == "near_miss"]) >= 25, lang
        assert {r["category"] for r in crises} == set(CATEGORIES), lang
    texts = [(r["lang"], r["text"]) for r in rows]
    assert len(texts) == len(set(texts)), "duplicate messages"


def test_held_out_sets_share_no_message_with_the_dev_set() -> None:
    dev = {r["text"] for r in _bench_rows("crisis_tuning_dev.tsv")}
    for name in HELD_OUT_FLOORS:
        assert not dev & {r["text"] for r in _bench_rows(name)}, name


_DEV_ROWS = _bench_rows("crisis_tuning_dev.tsv")


@pytest.mark.parametrize(
    ("lang", "label", "text"), [(r["lang"], r["label"], r["text"]) for r in _DEV_ROWS], ids=lambda v: v[:40]
)
def test_bench_dev_set_is_caught_exactly(detector: CrisisDetector, lang: str, label: str, text: str) -> None:
    """The lexicons were tuned on the dev set: every crisis caught, no near-miss flagged."""
    assert detector.is_crisis(text, lang) == (label == "crisis"), detector.match(text, lang)


@pytest.mark.parametrize(("name", "floors"), HELD_OUT_FLOORS.items())
def test_held_out_recall_and_false_positives_stay_at_the_level_reached(
    detector: CrisisDetector, name: str, floors: tuple[float, float]
) -> None:
    recall, false_positives = _recall_and_false_positives(detector, _bench_rows(name))
    lowest_recall, highest_false_positives = floors
    assert recall >= lowest_recall, f"{name}: recall {recall:.3f}"
    assert false_positives <= highest_false_positives, f"{name}: false positives {false_positives:.1%}"


def test_first_tuned_set_meets_the_targets(detector: CrisisDetector) -> None:
    recall, false_positives = _recall_and_false_positives(detector, _bench_rows("crisis.tsv"))
    assert recall >= 0.98 and false_positives <= 0.05, (recall, false_positives)


def test_index_matches_a_full_scan_on_the_bench_sets(detector: CrisisDetector) -> None:
    """New patterns (look-arounds, optional starts) must not fall through the start-prefix index."""
    guards = [g for rules in detector.rules.values() for g in rules.guards]
    patterns = [p for rules in detector.rules.values() for _, p in rules.patterns]
    for name in ("crisis.tsv", "crisis_tuning_dev.tsv", *HELD_OUT_FLOORS):
        for row in _bench_rows(name):
            guarded = normalise(row["text"])
            for guard in guards:
                guarded = guard.sub(" ", guarded)
            assert detector.is_crisis(row["text"]) == any(p.search(guarded) for p in patterns), row["text"]
