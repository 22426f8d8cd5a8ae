"""The embedded intent classifier: reading Rasa YAML, normalisation, training, ranking, cache."""

from __future__ import annotations

import math
import os
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bot.nlu import intents, model_cache
from bot.nlu.intents import (
    INTENTS,
    IntentClassifier,
    TrainingConfig,
    cache_key,
    cache_path,
    load_examples,
    normalize,
    read_rasa_nlu,
    strip_diacritics,
)
from bot.nlu.types import CrisisVerdict

ROOT = Path(__file__).resolve().parent.parent
NLU_DATA = ROOT / "nlu_data"

FIXTURE = {
    "en": {
        "greet": ["hi", "hello", "hey there", "good morning", "hello friend", "hi bot", "hey", "morning!"],
        "thanks": ["thanks", "thank you", "thank you so much", "many thanks", "thx", "thanks a lot"],
        "group_schedule": [
            "when is the group",
            "when does the group meet",
            "what time is the meeting in kemi",
            "where is the group meeting",
            "next group meeting?",
            "group schedule tornio",
        ],
        "topic_school": [
            "my child's school",
            "how does daycare work",
            "wilma messages from teacher",
            "homework help",
            "school starts when",
            "pre-school for my son",
        ],
    },
    "fi": {
        "greet": ["moi", "hei", "terve", "hyvää huomenta", "moikka", "hei hei kaikille", "päivää"],
        "thanks": ["kiitos", "kiitos paljon", "kiitti", "suuri kiitos", "kiitoksia", "kiitos avusta"],
        "group_schedule": [
            "milloin ryhmä on",
            "missä ryhmä kokoontuu",
            "ryhmän aikataulu",
            "mihin aikaan tapaaminen on kemissä",
            "seuraava ryhmätapaaminen",
            "milloin on seuraava ryhmä",
        ],
        "topic_school": [
            "lapsen koulu",
            "päiväkoti",
            "wilma viesti opettajalta",
            "läksyt",
            "esikoulu pojalle",
            "koulun alkaminen",
        ],
    },
}


def write_fixture(directory: Path, data: dict[str, dict[str, list[str]]] = FIXTURE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for language, by_intent in data.items():
        lines = ['version: "3.1"', "nlu:"]
        for intent, examples in by_intent.items():
            lines += [f"- intent: {intent}", "  examples: |"]
            lines += [f"    - {example}" for example in examples]
        (directory / f"{language}.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.fixture
def train_dir(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "train")


@pytest.fixture(scope="module")
def fixture_classifier(tmp_path_factory: pytest.TempPathFactory) -> IntentClassifier:
    directory = write_fixture(tmp_path_factory.mktemp("nlu") / "train")
    return IntentClassifier.train(load_examples(directory))


# --- reading Rasa YAML --------------------------------------------------------------------------


def test_reads_rasa_yaml_with_entities_lists_and_non_intent_items(tmp_path: Path) -> None:
    path = tmp_path / "so.yml"
    path.write_text(
        textwrap.dedent(
            """\
            version: "3.1"
            nlu:
            - intent: group_schedule
              examples: |
                - goormee kulanka [Kemi](place)?
                - kulanka [Tornio]{"entity": "place"} waa goorma
                -
            - synonym: Kemi
              examples: |
                - kemi
            - regex: phone
              examples: |
                - \\d{10}
            - intent: thanks
              examples:
                - text: mahadsanid
                  metadata: {sentiment: positive}
            """
        ),
        encoding="utf-8",
    )
    examples = read_rasa_nlu(path)
    assert [(e.text, e.intent, e.language) for e in examples] == [
        ("goormee kulanka Kemi?", "group_schedule", "so"),
        ("kulanka Tornio waa goorma", "group_schedule", "so"),
        ("mahadsanid", "thanks", "so"),
    ]


# --- normalisation ------------------------------------------------------------------------------


def test_normalize_folds_case_arabic_variants_and_stretching() -> None:
    assert normalize("KIITOOOOS") == "kiitoos"
    # hamza seats → bare alef, ta marbuta → ha, alef maqsura → ya, harakat and tatweel dropped
    assert normalize("أهلاً") == "اهلا"
    assert normalize("إجتماع") == normalize("اجتماع")
    assert normalize("مدرسة") == "مدرسه"
    assert normalize("مستشفى") == "مستشفي"
    assert normalize("شـــكرا") == "شكرا"
    assert normalize("الساعة ٣") == "الساعه 3"


def test_strip_diacritics_is_a_parallel_view() -> None:
    assert strip_diacritics("päiväkoti") == "paivakoti"
    assert strip_diacritics("всё") == "все"
    assert strip_diacritics("plain ascii") == "plain ascii"


def test_typed_without_diacritics_still_matches(fixture_classifier: IntentClassifier) -> None:
    assert fixture_classifier.classify("paivakoti", "fi")[0][0] == "topic_school"
    assert fixture_classifier.classify("KIITOS!!!", "fi")[0][0] == "thanks"


# --- training and ranking -----------------------------------------------------------------------


def test_learns_the_fixture(fixture_classifier: IntentClassifier) -> None:
    assert fixture_classifier.classify("when is the next group meeting", "en")[0][0] == "group_schedule"
    assert fixture_classifier.classify("milloin ryhmä kokoontuu?", "fi")[0][0] == "group_schedule"
    assert fixture_classifier.classify("thank you!", "en")[0][0] == "thanks"
    assert fixture_classifier.classify("hei", None)[0][0] == "greet"


def test_ranking_shape(fixture_classifier: IntentClassifier) -> None:
    ranking = fixture_classifier.classify("wilma homework", "en")
    names = [name for name, _ in ranking]
    scores = [score for _, score in ranking]
    assert sorted(names) == sorted(fixture_classifier.intents)
    assert len(set(names)) == len(names)
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert sum(scores) == pytest.approx(1.0, abs=1e-6)
    assert all(isinstance(name, str) and isinstance(score, float) for name, score in ranking)


def test_intents_come_in_contract_order(fixture_classifier: IntentClassifier) -> None:
    assert fixture_classifier.intents == tuple(i for i in INTENTS if i in fixture_classifier.intents)


@pytest.mark.parametrize("text", ["", "   ", "?!", "x" * 20_000, "🙂", "٣٣٣"])
def test_odd_input_still_gives_a_ranking(fixture_classifier: IntentClassifier, text: str) -> None:
    ranking = fixture_classifier.classify(text, None)
    assert len(ranking) == len(fixture_classifier.intents)
    assert sum(score for _, score in ranking) == pytest.approx(1.0, abs=1e-6)


def test_confidence_is_lower_for_gibberish(fixture_classifier: IntentClassifier) -> None:
    clear = fixture_classifier.classify("thank you so much", "en")[0][1]
    unclear = fixture_classifier.classify("qzxv plorf", "en")[0][1]
    assert clear > 0.5
    assert unclear < clear


def test_training_is_deterministic(train_dir: Path) -> None:
    examples = load_examples(train_dir)
    first = IntentClassifier.train(examples).classify("milloin ryhmä", "fi")
    second = IntentClassifier.train(examples).classify("milloin ryhmä", "fi")
    assert first == second


def test_single_intent_and_two_intents_train(tmp_path: Path) -> None:
    one = write_fixture(tmp_path / "one", {"en": {"greet": ["hi", "hello", "hey"]}})
    assert IntentClassifier.train(load_examples(one)).classify("hi")[0] == ("greet", 1.0)
    two = write_fixture(
        tmp_path / "two",
        {"en": {"greet": ["hi", "hello", "hey", "hiya"], "thanks": ["thanks", "thank you", "thx", "ty"]}},
    )
    classifier = IntentClassifier.train(load_examples(two))
    assert classifier.classify("thank you")[0][0] == "thanks"
    assert classifier.classify("hello")[0][0] == "greet"


def test_no_examples_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError):
        IntentClassifier.load_or_train(empty, tmp_path / "cache")


def _reference_weigh(
    blocks: dict[str, Counter[str]], vocabulary: dict[str, dict[str, int]], idf: np.ndarray, weights: dict[str, float]
) -> dict[int, float]:
    """Tf-idf per block the slow, obvious way: known terms only, sublinear tf, L2 per block, scaled."""
    out: dict[int, float] = {}
    for block, counts in blocks.items():
        known = {vocabulary[block][t]: c for t, c in counts.items() if t in vocabulary.get(block, {})}
        raw = {col: (1.0 + math.log(c)) * float(idf[col]) for col, c in known.items()}
        norm = math.sqrt(sum(v * v for v in raw.values()))
        out.update({col: v / norm * weights.get(block, 1.0) for col, v in raw.items()})
    return out


def test_weigh_matches_the_reference(fixture_classifier: IntentClassifier) -> None:
    model = fixture_classifier.model
    texts = ["milloin ryhmä on kemissä?", "thank you thank you", "xyzzy", "", "wilma homework help please"]
    for text in texts:
        blocks = intents.extract_features(text, None, model.config)
        blocks["c"]["an unseen term"] = 2  # unknown terms must not count towards a block's norm
        columns, values = intents.weigh(blocks, model.vocabulary, model.idf, model.config.block_weights)
        expected = _reference_weigh(blocks, model.vocabulary, model.idf, model.config.block_weights)
        assert len(columns) == len(set(columns.tolist())) == len(expected)
        assert values.dtype == np.float32
        got = dict(zip(columns.tolist(), values.tolist(), strict=True))
        assert got == pytest.approx(expected, rel=1e-5)


# --- cache --------------------------------------------------------------------------------------


def test_cache_miss_trains_and_hit_loads(train_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = IntentClassifier.load_or_train(train_dir, cache)
    assert not first.from_cache
    assert cache_path(cache, cache_key(train_dir)).is_file()
    second = IntentClassifier.load_or_train(train_dir, cache)
    assert second.from_cache
    assert second.classify("kiitos", "fi") == first.classify("kiitos", "fi")


def test_cache_hit_does_not_train(train_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    IntentClassifier.load_or_train(train_dir, cache)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("trained despite a valid cache")

    monkeypatch.setattr(intents, "train_model", refuse)
    assert IntentClassifier.load_or_train(train_dir, cache).from_cache


def test_changed_data_invalidates_the_cache(train_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    IntentClassifier.load_or_train(train_dir, cache)
    old_key = cache_key(train_dir)
    path = train_dir / "en.yml"
    path.write_text(path.read_text(encoding="utf-8") + "    - yo bot\n", encoding="utf-8")
    assert cache_key(train_dir) != old_key
    retrained = IntentClassifier.load_or_train(train_dir, cache)
    assert not retrained.from_cache
    assert IntentClassifier.load_or_train(train_dir, cache).from_cache


def test_added_or_removed_language_file_invalidates(train_dir: Path) -> None:
    key = cache_key(train_dir)
    (train_dir / "sw.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    assert cache_key(train_dir) != key
    (train_dir / "sw.yml").unlink()
    assert cache_key(train_dir) == key


def test_changed_config_or_code_invalidates(train_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache_key(train_dir)
    assert cache_key(train_dir, TrainingConfig(c=2.0)) != key
    monkeypatch.setattr(intents, "MODEL_FORMAT", intents.MODEL_FORMAT + 1)
    assert cache_key(train_dir) != key


def test_corrupt_cache_is_a_miss(train_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = cache_path(cache, cache_key(train_dir))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a pickle")
    classifier = IntentClassifier.load_or_train(train_dir, cache)
    assert not classifier.from_cache
    assert IntentClassifier.load_or_train(train_dir, cache).from_cache


def test_unwritable_cache_still_works(train_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    classifier = IntentClassifier.load_or_train(train_dir, blocker / "cache")
    assert classifier.classify("moi", "fi")[0][0] == "greet"


def test_old_models_are_pruned(train_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    models = cache / model_cache.SUBDIR
    models.mkdir(parents=True)
    for i in range(10):
        stale = models / f"intents-{i:04x}.pkl"
        stale.write_bytes(b"")
        two_hours_ago = time.time() - 7200 + i
        os.utime(stale, (two_hours_ago, two_hours_ago))
    recent = models / "intents-abc1.pkl"  # another process may still be using one written a minute ago
    recent.write_bytes(b"")
    os.utime(recent, (time.time() - 60, time.time() - 60))
    other = models / "intents-extra-0001.pkl"  # another cache's file whose name starts alike is not touched
    other.write_bytes(b"")
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    IntentClassifier.load_or_train(train_dir, cache)
    remaining = sorted(p.name for p in models.glob("intents-*.pkl"))
    assert recent.name in remaining and other.name in remaining
    assert len(remaining) == model_cache.KEEP_NEWEST + 1  # the newest four, and the other cache's file
    assert cache_path(cache, cache_key(train_dir)).name in remaining


# --- the project's own data ---------------------------------------------------------------------


def _real_data_available() -> bool:
    train = NLU_DATA / "train"
    return train.is_dir() and len(list(train.glob("*.yml"))) >= 1 and len(load_examples(train)) >= 100


@pytest.fixture(scope="module")
def real_classifier(tmp_path_factory: pytest.TempPathFactory) -> IntentClassifier:
    if not _real_data_available():
        pytest.skip("nlu_data/train has no training data yet")
    return IntentClassifier.load_or_train(NLU_DATA / "train", tmp_path_factory.mktemp("cache"))


def test_real_data_uses_only_contract_intents(real_classifier: IntentClassifier) -> None:
    assert set(real_classifier.intents) <= set(INTENTS)


def _macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Macro-F1 over the gold labels, computed as bench/nlu_compare.py does."""
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def test_macro_f1_helper() -> None:
    assert _macro_f1(["a", "a", "b"], ["a", "a", "b"]) == 1.0
    # a: tp 1, fn 1 → 2/3; b: tp 1, fp 1 → 2/3
    assert _macro_f1(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(2 / 3)
    assert _macro_f1(["a", "b"], ["b", "a"]) == 0.0


def test_real_data_held_out_macro_f1_meets_the_target(real_classifier: IntentClassifier) -> None:
    test_dir = NLU_DATA / "test"
    examples = load_examples(test_dir) if test_dir.is_dir() else []
    if len(examples) < 50:
        pytest.skip("nlu_data/test has no held-out split yet")
    # No language hint, exactly as bench/nlu_compare.py measures it (Rasa gets none either).
    predicted = [real_classifier.classify(e.text)[0][0] for e in examples]
    gold = [e.intent for e in examples]
    # Issue 3's target for the embedded NLU: macro-F1 >= 0.90 on the held-out split.
    assert _macro_f1(gold, predicted) >= 0.90
    # And no language may be left far behind the others (the weakest is about 0.87 today).
    for language in sorted({e.language for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.language == language]
        assert _macro_f1([gold[i] for i in idx], [predicted[i] for i in idx]) >= 0.85, language


def test_test_split_never_seen_in_training() -> None:
    if not _real_data_available() or not (NLU_DATA / "test").is_dir():
        pytest.skip("nlu_data has no train/test split yet")
    train = {(e.language, normalize(e.text)) for e in load_examples(NLU_DATA / "train")}
    test = {(e.language, normalize(e.text)) for e in load_examples(NLU_DATA / "test")}
    overlap = train & test
    assert len(overlap) <= 0.02 * max(len(test), 1), sorted(overlap)[:10]


# --- the pipeline -------------------------------------------------------------------------------


class FakeDetector:
    def __init__(self, code: str = "fi", confidence: float = 0.9) -> None:
        self.code = code
        self.confidence = confidence
        self.calls: list[tuple[str, dict[str, object]]] = []

    def detect(self, text, *, user_language=None, telegram_language=None, recent=()):
        from bot.nlu.types import LanguageGuess

        self.calls.append((text, {"user": user_language, "telegram": telegram_language, "recent": tuple(recent)}))
        return LanguageGuess(self.code, self.confidence)


class FakeCrisis:
    def __init__(self, verdict: CrisisVerdict = CrisisVerdict.NONE) -> None:
        self.verdict = verdict
        self.calls: list[tuple[str, str | None]] = []

    def assess(self, text, language=None):
        self.calls.append((text, language))
        return self.verdict


class RecordingClassifier:
    def __init__(self, inner: IntentClassifier) -> None:
        self.inner = inner
        self.languages: list[str | None] = []

    def classify(self, text, language=None):
        self.languages.append(language)
        return self.inner.classify(text, language)


def test_understand_runs_detection_crisis_and_intent(fixture_classifier: IntentClassifier) -> None:
    from bot.nlu.pipeline import NLU

    detector, crisis = FakeDetector("fi", 0.8), FakeCrisis()
    nlu = NLU(detector, crisis, fixture_classifier)
    result = nlu.understand("milloin ryhmä on?", user_language="so", telegram_language="en")
    assert detector.calls == [("milloin ryhmä on?", {"user": "so", "telegram": "en", "recent": ()})]
    assert crisis.calls == [("milloin ryhmä on?", "fi")]
    assert (result.language, result.language_confidence) == ("fi", 0.8)
    assert result.intent == "group_schedule"
    assert result.intent_confidence == result.ranking[0][1]
    assert len(result.ranking) == len(fixture_classifier.intents)
    assert result.top(3) == result.ranking[:3]
    assert result.crisis is False


def test_crisis_flag_is_independent_of_the_intent(fixture_classifier: IntentClassifier) -> None:
    from bot.nlu.pipeline import NLU

    result = NLU(FakeDetector("en"), FakeCrisis(CrisisVerdict.CRISIS), fixture_classifier).understand("hello")
    assert result.crisis is True and result.crisis_check is False
    assert result.intent == "greet"


def test_a_message_close_to_a_crisis_is_marked_for_a_safety_question(fixture_classifier: IntentClassifier) -> None:
    from bot.nlu.pipeline import NLU

    result = NLU(FakeDetector("en"), FakeCrisis(CrisisVerdict.CHECK), fixture_classifier).understand("hello")
    assert (result.crisis, result.crisis_check, result.intent) == (False, True, "greet")
    result = NLU(FakeDetector("en"), FakeCrisis(), fixture_classifier).understand("hello")
    assert (result.crisis, result.crisis_check) == (False, False)


def test_blank_message_claims_nothing(fixture_classifier: IntentClassifier) -> None:
    from bot.nlu.pipeline import NLU

    crisis = FakeCrisis(CrisisVerdict.CRISIS)
    result = NLU(FakeDetector("und", 0.0), crisis, fixture_classifier).understand("   ")
    assert (result.intent, result.intent_confidence, result.crisis, result.ranking) == ("out_of_scope", 0.0, False, ())
    assert crisis.calls == []


def test_undetermined_language_falls_back_to_the_users(fixture_classifier: IntentClassifier) -> None:
    from bot.nlu.pipeline import NLU

    classifier = RecordingClassifier(fixture_classifier)
    crisis = FakeCrisis()
    result = NLU(FakeDetector("und", 0.1), crisis, classifier).understand("ok", user_language="sw")
    assert result.language == "und"
    assert classifier.languages == ["sw"]
    assert crisis.calls == [("ok", None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello when is the meeting", "group_schedule"),
        ("مرحبا أحتاج مساعدة في كيلا", "topic_money"),
        ("السلام عليكم متى اجتماع المجموعة", "group_schedule"),
        ("salaan waxaan rabaa ballan", "book_guidance"),
        # A greeting alone, or with small talk, stays a greeting.
        ("hello there my friend", "greet"),
        ("hello bot how r u", "greet"),
        ("habari yako rafiki", "greet"),
        ("привет как дела", "greet"),
        ("hei", "greet"),
    ],
)
def test_a_request_after_a_greeting_is_the_message(real_classifier: IntentClassifier, text: str, expected: str) -> None:
    from bot.nlu.pipeline import NLU

    assert NLU(FakeDetector("en"), FakeCrisis(), real_classifier).understand(text).intent == expected


async def test_understand_async(fixture_classifier: IntentClassifier) -> None:
    from bot.nlu.pipeline import NLU

    result = await NLU(FakeDetector("en"), FakeCrisis(), fixture_classifier).understand_async("thanks a lot")
    assert result.intent == "thanks"


def test_build_nlu_selects_the_backend(tmp_path: Path) -> None:
    pytest.importorskip("bot.nlu.language")
    pytest.importorskip("bot.nlu.crisis")
    from bot.nlu.intents import IntentClassifier as Embedded
    from bot.nlu.pipeline import build_nlu
    from bot.nlu.rasa import RasaIntentClassifier
    from bot.settings import Settings

    if not _real_data_available():
        pytest.skip("nlu_data/train has no training data yet")
    embedded = build_nlu(Settings(nlu_backend="embedded", cache_dir=tmp_path))
    assert isinstance(embedded.classifier, Embedded)
    rasa = build_nlu(Settings(nlu_backend="rasa", rasa_url="http://127.0.0.1:9", cache_dir=tmp_path))
    assert isinstance(rasa.classifier, RasaIntentClassifier)
    assert isinstance(rasa.classifier.fallback, Embedded)
    assert rasa.classifier.fallback.from_cache  # the embedded model trained above is reused
    assert rasa.understand("kiitos paljon").intent == "thanks"  # Rasa is down: the fallback answers
    with pytest.raises(ValueError, match="NLU_BACKEND"):
        build_nlu(Settings(nlu_backend="watson", cache_dir=tmp_path))
