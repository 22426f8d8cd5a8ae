"""The learned crisis signal (bot/nlu/crisis_model.py) and its combination with the lexicons."""

from __future__ import annotations

import csv
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bot.nlu import crisis_model, model_cache
from bot.nlu.crisis import CATEGORIES, CrisisDetector
from bot.nlu.crisis_model import (
    CombinedCrisisDetector,
    CrisisExample,
    CrisisModel,
    choose_threshold,
    features,
    load_or_train,
    load_training_examples,
    read_crisis_tsv,
)
from bot.nlu.intents import load_examples
from bot.nlu.types import CrisisVerdict

ROOT = Path(__file__).resolve().parent.parent
NLU_DATA = ROOT / "nlu_data"
BENCH = ROOT / "bench" / "data"
HELD_OUT = (
    "crisis_heldout_test.tsv",
    "crisis_heldout_test2.tsv",
    "crisis_heldout_test3.tsv",
    "crisis_heldout_test4.tsv",
    "crisis_heldout_test5.tsv",
)

# file: (lowest recall, highest false-positive rate) of the combined detector, language as hint.
# The figures reached, measured after the model and its data were fixed (bench/crisis.py, with the
# written3 training files of nlu_data/crisis, up to 150,000 weights kept and the concept features of
# nlu_data/crisis/concepts); the lexicons alone reached 0.761 / 3.8%, 0.487 / 6.7%, 0.553 / 4.7%,
# 0.519 / 7.7%, 0.263 / 7.1%. Set 4 was written after the others, blind, and measured before the
# written2 files were added (0.708 / 7.7%) and after; set 5 (bench/data/README.md) before and after the
# change of KEEP_FEATURES (0.721 / 10.7%, then 0.778 / 11.5%). Without the concept features the sets
# gave 0.914 / 4.5%, 0.776 / 6.7%, 0.747 / 7.3%, 0.898 / 7.7%, 0.778 / 11.5%.
# All are short of the targets (recall >= 0.98, false positives <= 5%): see the docstring
# of bot/nlu/crisis_model.py. The floors sit a little below the figures, as nlu_data/train (the
# ordinary messages) still grows and retrains the model. Since its folds are fixed by each message's text
# (2026-11-30) the figures above are those of the lexicons' QA additions and the fixed folds: before,
# 0.914 / 4.5%, 0.788 / 6.7%, 0.753 / 7.3%, 0.898 / 7.1%, 0.768 / 10.7%.
COMBINED_FLOORS: dict[str, tuple[float, float]] = {
    "crisis_heldout_test.tsv": (0.91, 0.05),  # reached 184/197 = 0.934, 7/156 = 4.5%
    "crisis_heldout_test2.tsv": (0.80, 0.08),  # reached 129/156 = 0.827, 11/150 = 7.3%
    "crisis_heldout_test3.tsv": (0.75, 0.09),  # reached 117/150 = 0.780, 12/150 = 8.0%
    "crisis_heldout_test4.tsv": (0.87, 0.09),  # reached 194/216 = 0.898, 14/168 = 8.3%
    "crisis_heldout_test5.tsv": (0.77, 0.12),  # reached 821/1037 = 0.792, 107/934 = 11.5% (a hard set)
}
# file: (lowest share of crises, highest share of near-misses) that get the emergency information or the
# safety question (CrisisVerdict.CHECK). Reached: 186/197 = 0.944, 9/156 = 5.8%; 138/156 = 0.885, 14/150 =
# 9.3%; 127/150 = 0.847, 12/150 = 8.0%; 203/216 = 0.940, 15/168 = 8.9%; 889/1037 = 0.857, 130/934 = 13.9%.
REACHED_FLOORS: dict[str, tuple[float, float]] = {
    "crisis_heldout_test.tsv": (0.92, 0.07),
    "crisis_heldout_test2.tsv": (0.86, 0.11),
    "crisis_heldout_test3.tsv": (0.82, 0.10),
    "crisis_heldout_test4.tsv": (0.91, 0.10),
    "crisis_heldout_test5.tsv": (0.83, 0.15),
}
# Ordinary messages asked the safety question or flagged: 4 of 1,380 measured.
ORDINARY_REACHED_MAX = 6
# Ordinary messages of nlu_data/test (none is a crisis) that the combined detector flags: 1 of 1380
# measured (0 before the written3 files and the 0.2% ordinary target; the lexicons alone: 0).
ORDINARY_FLAGGED_MAX = 1


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> CombinedCrisisDetector:
    return CombinedCrisisDetector.load(NLU_DATA, cache_dir=tmp_path_factory.mktemp("crisis-model-cache"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


# --------------------------------------------------------------------------------------------
# Training data


def test_training_data_holds_no_held_out_message() -> None:
    """The held-out figures are estimates only while the model has never seen those messages."""
    training = {e.text.strip().casefold() for e in load_training_examples(NLU_DATA)}
    for name in HELD_OUT:
        held_out = {r["text"].strip().casefold() for r in _rows(BENCH / name)}
        # A count, not the sets: a failure must not print held-out messages for someone to read.
        shared = len(training & held_out)
        assert shared == 0, f"{name}: {shared} messages are in the training data"


def test_training_files_are_labelled_in_every_language() -> None:
    files = crisis_model.crisis_files(NLU_DATA)
    languages = ("ar", "en", "fi", "ru", "so", "sw")
    written2 = [f"crisis_written2_{language}.tsv" for language in languages]
    written3 = [f"crisis_written3_{language}.tsv" for language in languages]
    assert [p.name for p in files] == ["crisis_bench_copy.tsv", "crisis_written.tsv", *written2, *written3]
    examples = [e for path in files for e in read_crisis_tsv(path)]
    for language in ("ar", "en", "fi", "ru", "so", "sw"):
        crises = [e for e in examples if e.language == language and e.crisis]
        assert {e.category for e in crises} == set(CATEGORIES), language
        assert len(crises) >= 20 and sum(e.language == language and not e.crisis for e in examples) >= 20
    texts = [(e.language, e.text) for e in examples]
    assert len(texts) == len(set(texts)), "duplicate messages"


def test_a_bad_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("lang\tlabel\tcategory\tsource\ttext\nen\tcrisis\tnone\twritten\the hits me\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:2"):
        read_crisis_tsv(path)


# --------------------------------------------------------------------------------------------
# Threshold and features


def _example(kind: str) -> CrisisExample:
    return CrisisExample("x", kind == "crisis", "fire" if kind == "crisis" else "none", kind, "en")


def test_threshold_keeps_false_alarms_within_both_targets() -> None:
    examples = [_example("crisis")] * 4 + [_example("near_miss")] * 10 + [_example("ordinary")] * 100
    scores = [2.0, 1.0, 0.5, -1.0] + [0.9, 0.4] + [-2.0] * 8 + [0.6] + [-3.0] * 99
    # 10% of near-misses may be flagged (one: 0.9), no ordinary one: the bound is above 0.6.
    choice = choose_threshold(scores, examples, near_miss_target=0.1, ordinary_target=0.0)
    assert 0.6 < choice.threshold < 1.0
    assert choice.recall == 0.5 and choice.near_miss_false_alarms == 0.1 and choice.ordinary_flagged == 0
    # With one ordinary false alarm allowed, the near-miss bound (just above 0.4) decides.
    choice = choose_threshold(scores, examples, near_miss_target=0.1, ordinary_target=0.01)
    assert 0.4 < choice.threshold < 0.5
    assert choice.recall == 0.75 and choice.near_miss_false_alarms == 0.1 and choice.ordinary_flagged == 1


def test_features_are_normalised_like_the_lexicons() -> None:
    assert features("My HUSBAND hits me!!!") == features("my husband hits me")
    assert "=husband" in features("my husband") and " hus" in features("my husband")
    assert features("") == set() and features("👍") == set()


# --------------------------------------------------------------------------------------------
# Cache


def _small_nlu_data(directory: Path) -> Path:
    """A copy of nlu_data with a quarter of the crisis rows and one language's ordinary messages."""
    (directory / "crisis").mkdir(parents=True)
    (directory / "train").mkdir()
    for path in crisis_model.crisis_files(NLU_DATA):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        (directory / "crisis" / path.name).write_text("".join(lines[:1] + lines[1::4]), encoding="utf-8")
    shutil.copy(NLU_DATA / "train" / "en.yml", directory / "train" / "en.yml")
    return directory


def test_model_is_trained_once_then_loaded_and_retrained_when_data_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _small_nlu_data(tmp_path / "nlu_data")
    cache = tmp_path / "cache"
    trained = load_or_train(data, cache)
    cached = list((cache / model_cache.SUBDIR).glob("crisis-model-*.pkl"))
    assert len(cached) == 1 and trained.weights and trained.threshold > trained.bias - 100

    def no_training(examples: object) -> CrisisModel:
        raise AssertionError("trained again although the cache is current")

    monkeypatch.setattr(crisis_model, "train_model", no_training)
    loaded = load_or_train(data, cache)
    assert loaded.metadata["cache_key"] == trained.metadata["cache_key"]
    assert loaded.weights == trained.weights and loaded.threshold == trained.threshold

    monkeypatch.undo()
    written = data / "crisis" / "crisis_written.tsv"
    written.write_text(
        written.read_text(encoding="utf-8") + "en\tcrisis\tfire\twritten\tthe garage is on fire\n", encoding="utf-8"
    )
    retrained = load_or_train(data, cache)
    assert retrained.metadata["cache_key"] != trained.metadata["cache_key"]
    assert len(list((cache / model_cache.SUBDIR).glob("crisis-model-*.pkl"))) == 2


def test_a_corrupt_cache_file_means_retraining(tmp_path: Path) -> None:
    data = _small_nlu_data(tmp_path / "nlu_data")
    cache = tmp_path / "cache"
    path = crisis_model.cache_path(cache, crisis_model.cache_key(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a pickle")
    model = load_or_train(data, cache)
    assert model.weights
    assert pickle.loads(path.read_bytes()).weights == model.weights


def test_without_crisis_data_the_lexicons_work_alone(tmp_path: Path) -> None:
    detector = CombinedCrisisDetector.load(tmp_path, cache_dir=tmp_path / "cache")
    assert detector.model is None
    assert detector.is_crisis("My husband hits me", "en")
    assert not detector.is_crisis("when is the next group meeting?", "en")


# --------------------------------------------------------------------------------------------
# The combined detector on the project's data


def test_lexicon_match_decides_and_names_the_category(combined: CombinedCrisisDetector) -> None:
    lexicons = CrisisDetector()
    for text in ("My husband hits me", "There is smoke in the flat", "Vauva ei hengitä"):
        assert combined.match(text) == lexicons.match(text)


def test_model_catches_crises_the_lexicons_miss_and_names_a_category(combined: CombinedCrisisDetector) -> None:
    """The written training crises the lexicons miss: the model must catch most of them."""
    written = read_crisis_tsv(NLU_DATA / "crisis" / "crisis_written.tsv")
    missed = [e for e in written if e.crisis and not combined.lexicons.is_crisis(e.text, e.language)]
    assert len(missed) >= 30  # why the model exists
    caught = [e for e in missed if combined.is_crisis(e.text, e.language)]
    assert len(caught) >= 0.8 * len(missed)  # 121 of 121 measured
    for example in caught:
        category, source, _ = combined.match(example.text, example.language) or ("", "", "")
        assert source == "model" and category in CATEGORIES
    right = sum(combined.category(e.text, e.language) == e.category for e in caught)
    assert right >= 0.8 * len(caught)


def test_a_score_just_below_the_threshold_asks_a_safety_question(combined: CombinedCrisisDetector) -> None:
    model = combined.model
    assert model is not None and model.check_threshold < model.threshold
    text = "when is the next group meeting in Kemi?"
    score = model.score(text)

    def with_thresholds(check: float, crisis: float) -> CombinedCrisisDetector:
        return CombinedCrisisDetector(combined.lexicons, replace(model, check_threshold=check, threshold=crisis))

    assert with_thresholds(score - 0.1, score + 0.1).assess(text, "en") is CrisisVerdict.CHECK
    assert with_thresholds(score + 0.1, score + 0.2).assess(text, "en") is CrisisVerdict.NONE
    assert with_thresholds(score - 0.2, score - 0.1).assess(text, "en") is CrisisVerdict.CRISIS
    assert with_thresholds(-100, 100).assess("My husband hits me", "en") is CrisisVerdict.CRISIS  # the lexicons
    assert combined.assess(text, "en") is CrisisVerdict.NONE


def test_distress_named_by_the_lexicons_asks_the_safety_question(combined: CombinedCrisisDetector) -> None:
    assert combined.assess("en jaksa enää", "fi") is CrisisVerdict.CHECK
    assert combined.assess("siwezi kuendelea tena", "sw") is CrisisVerdict.CHECK
    assert combined.assess("I want to die", "en") is CrisisVerdict.CRISIS


def test_ordinary_messages_are_not_flagged(combined: CombinedCrisisDetector) -> None:
    """A false alarm sends emergency numbers to a family asking about a meeting."""
    texts = [e.text for e in load_examples(NLU_DATA / "test")]
    assert len(texts) > 1000
    flagged = sum(combined.is_crisis(text) for text in texts)
    assert flagged <= ORDINARY_FLAGGED_MAX, f"{flagged} ordinary messages flagged"


@pytest.mark.parametrize(("name", "floors"), COMBINED_FLOORS.items())
def test_held_out_figures_stay_at_the_level_reached(
    combined: CombinedCrisisDetector, name: str, floors: tuple[float, float]
) -> None:
    rows = _rows(BENCH / name)
    crises = [r for r in rows if r["label"] == "crisis"]
    near = [r for r in rows if r["label"] == "near_miss"]
    recall = sum(combined.is_crisis(r["text"], r["lang"]) for r in crises) / len(crises)
    false_positives = sum(combined.is_crisis(r["text"], r["lang"]) for r in near) / len(near)
    lowest_recall, highest_false_positives = floors
    assert recall >= lowest_recall, f"{name}: recall {recall:.3f}"
    assert false_positives <= highest_false_positives, f"{name}: false positives {false_positives:.1%}"


@pytest.mark.parametrize(("name", "floors"), REACHED_FLOORS.items())
def test_held_out_crises_reached_with_the_safety_question_stay_at_the_level_reached(
    combined: CombinedCrisisDetector, name: str, floors: tuple[float, float]
) -> None:
    rows = _rows(BENCH / name)

    def reached(row: dict[str, str]) -> bool:
        return combined.assess(row["text"], row["lang"]) is not CrisisVerdict.NONE

    crises = [r for r in rows if r["label"] == "crisis"]
    near = [r for r in rows if r["label"] == "near_miss"]
    recall = sum(map(reached, crises)) / len(crises)
    asked = sum(map(reached, near)) / len(near)
    assert recall >= floors[0], f"{name}: crises reached {recall:.3f}"
    assert asked <= floors[1], f"{name}: near-misses flagged or asked {asked:.1%}"


def test_ordinary_messages_are_rarely_asked_the_safety_question(combined: CombinedCrisisDetector) -> None:
    texts = [e.text for e in load_examples(NLU_DATA / "test")]
    reached = sum(combined.assess(text) is not CrisisVerdict.NONE for text in texts)
    assert reached <= ORDINARY_REACHED_MAX, f"{reached} ordinary messages asked or flagged"


def test_nlu_pipeline_uses_the_combined_detector(tmp_path: Path) -> None:
    from bot.nlu.pipeline import build_nlu
    from bot.settings import Settings

    nlu = build_nlu(Settings(nlu_backend="embedded", cache_dir=tmp_path))
    assert isinstance(nlu.crisis_detector, CombinedCrisisDetector) and nlu.crisis_detector.model is not None
    written = read_crisis_tsv(NLU_DATA / "crisis" / "crisis_written.tsv")
    model_only = next(
        e.text
        for e in written
        if e.crisis and nlu.crisis_detector.signals(e.text, e.language) == (False, True) and e.language == "en"
    )
    assert nlu.understand(model_only).crisis
    assert not nlu.understand("when does the group meet in Kemi?").crisis


def test_scoring_a_message_is_cheap(combined: CombinedCrisisDetector) -> None:
    """Per message well under a millisecond of CPU (about 0.05 ms on the development machine)."""
    import time

    model = combined.model
    assert model is not None
    texts = [e.text for e in load_examples(NLU_DATA / "test")]
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for text in texts:
            model.score(text)
        rounds.append((time.process_time() - started) / len(texts))
    assert sorted(rounds)[2] < 0.0005, f"{sorted(rounds)[2] * 1e6:.0f} µs per message"
