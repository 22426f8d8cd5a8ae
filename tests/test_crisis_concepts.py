"""The cross-lingual concept lexicons (bot/nlu/crisis_concepts.py) and their use as crisis-model features."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu import crisis_model
from bot.nlu.crisis import normalise
from bot.nlu.crisis_concepts import ConceptLexicon, concept_files
from bot.nlu.crisis_model import features

ROOT = Path(__file__).resolve().parent.parent
CRISIS_DATA = ROOT / "nlu_data" / "crisis"
SERVED = ("ar", "en", "fi", "ru", "so", "sw")


def _lexicon(tmp_path: Path, **files: str) -> ConceptLexicon:
    for language, text in files.items():
        (tmp_path / f"{language}.yml").write_text(text, encoding="utf-8")
    return ConceptLexicon.from_files(sorted(tmp_path.glob("*.yml")))


def _concepts(lexicon: ConceptLexicon, text: str) -> set[str]:
    return lexicon.concepts(normalise(text).split())


@pytest.fixture(scope="module")
def project() -> ConceptLexicon:
    return ConceptLexicon.from_files(concept_files(CRISIS_DATA))


def test_every_served_language_has_a_lexicon_of_the_same_concepts(project: ConceptLexicon) -> None:
    assert [p.stem for p in concept_files(CRISIS_DATA)] == sorted(SERVED)
    # from_files refuses files whose concepts differ (and empty concepts); most name whole words.
    assert len({c for group in project.words.values() for c in group}) >= 70


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("I just want to die", "death_die"),
        ("en jaksa enää, haluan kuolla", "death_die"),  # the stem kuoll*/kuole*
        ("olen vain taakka teille", "burden"),
        ("والموت ارحم من هذا", "death_die"),  # conjunction and article attached to the word
        ("не хочу больше жить", "live_life"),
    ],
)
def test_the_project_lexicons_find_concepts_in_real_phrasing(project: ConceptLexicon, text: str, concept: str) -> None:
    assert concept in _concepts(project, text)


def test_words_stems_and_phrases_match_as_written(tmp_path: Path) -> None:
    lexicon = _lexicon(
        tmp_path,
        en="concepts:\n  end: ['give up', 'over']\n  death: ['die', 'dying']\n",
        fi="concepts:\n  end: ['loppu*']\n  death: ['kuole*']\n",
    )
    assert _concepts(lexicon, "I will give up") == {"end"}
    assert _concepts(lexicon, "give me the bread, up there") == set()  # a phrase only as a sequence
    assert _concepts(lexicon, "haluan kuolla") == set()  # kuolla does not begin with kuole
    assert _concepts(lexicon, "kuolen pois, kaikki loppuu") == {"death", "end"}
    assert _concepts(lexicon, "a diet is not dying") == {"death"}  # whole words: "diet" is not "die"
    assert _concepts(lexicon, "Game OVER!!!") == {"end"}  # normalised like the crisis lexicons


def test_arabic_words_are_also_matched_without_their_attached_particles(tmp_path: Path) -> None:
    lexicon = _lexicon(tmp_path, ar="concepts:\n  death: ['موت']\n  rope: ['حبل*']\n")
    assert _concepts(lexicon, "الموت") == {"death"}
    assert _concepts(lexicon, "وبالحبل") == {"rope"}
    assert _concepts(lexicon, "فالموت") == {"death"}
    assert _concepts(lexicon, "مو") == set()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"en": "concepts:\n  a: [x]\n  b: [y]\n", "fi": "concepts:\n  a: [x]\n"}, "differ"),
        ({"en": "concepts:\n  a: ['di*']\n"}, "not a word, a phrase or a stem"),
        ({"en": "concepts:\n  a: ['give up*']\n"}, "not a word, a phrase or a stem"),
        ({"en": "concepts:\n  a: ['!!!']\n"}, "not a word, a phrase or a stem"),
        ({"en": "concepts:\n  a: []\n"}, "no entries"),
    ],
)
def test_a_bad_lexicon_is_refused_naming_the_problem(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _lexicon(tmp_path, **files)


def test_concepts_become_model_features_shared_across_languages(project: ConceptLexicon) -> None:
    assert "#death_die" in features("I want to die", project)
    assert "#death_die" in features("nataka kufa tu", project)
    assert not any(f.startswith("#") for f in features("I want to die"))  # without a lexicon: none


def test_changing_a_concept_file_changes_the_model_cache_key(tmp_path: Path) -> None:
    data = tmp_path / "nlu_data"
    (data / "crisis" / "concepts").mkdir(parents=True)
    (data / "crisis" / "crisis_written.tsv").write_text("lang\tlabel\tcategory\tsource\ttext\n", encoding="utf-8")
    concepts = data / "crisis" / "concepts" / "en.yml"
    concepts.write_text("concepts:\n  death: [die]\n", encoding="utf-8")
    before = crisis_model.cache_key(data)
    concepts.write_text("concepts:\n  death: [die, dying]\n", encoding="utf-8")
    assert crisis_model.cache_key(data) != before
