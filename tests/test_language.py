"""Language detection: script rules, Arabizi, translit, masking, priors, unserved languages, und."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest

from bot.core.engine import LANGUAGE_SWITCH_CONFIDENCE
from bot.nlu import language
from bot.nlu.language import SERVED, LanguageDetector, Lexicon, fold_latin, transliterate_russian
from bot.nlu.types import LanguageGuess

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> LanguageDetector:
    """Without nlu_data: the rules and langdetect's profiles alone must already hold."""
    return LanguageDetector(None, cache_dir=tmp_path_factory.mktemp("language-cache"))


@pytest.fixture(scope="module")
def trained_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("language-cache-trained")


@pytest.fixture(scope="module")
def trained(trained_cache: Path) -> LanguageDetector:
    """With the project's nlu_data (whatever of it exists), as the bot runs."""
    return LanguageDetector(ROOT / "nlu_data", cache_dir=trained_cache)


def code(detector: LanguageDetector, text: str, **context: object) -> str:
    return detector.detect(text, **context).code  # type: ignore[arg-type]


# -- scripts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("شكرا", "ar"),
        ("متى الاجتماع؟", "ar"),
        ("أريد أن أتحدث مع شخص", "ar"),
        ("من میخواهم با یک نفر صحبت کنم", "fa"),  # Persian letters ی ک and words
        ("پسرم مریض است", "fa"),
        ("مجھے مدد چاہیے", "ur"),  # Urdu letters ھ ے
        ("спасибо", "ru"),
        ("когда встреча?", "ru"),
        ("привіт, коли зустріч?", "uk"),  # і
        ("дякую", "uk"),  # no Ukrainian letter, a Ukrainian word
        ("я хочу поговорити з людиною", "uk"),  # Ukrainian infinitive -ти
        ("здравей, благодаря", "bg"),
        ("ስብሰባው መቼ ነው?", "am"),
        ("ኣኼባ መዓስ እዩ?", "ti"),  # ኣ and ኸ-series
        ("բարև", "hy"),
        ("გამარჯობა", "ka"),
        ("שלום", "he"),
        ("नमस्ते", "hi"),
        ("你好", "zh"),
        ("こんにちは", "ja"),
        ("ευχαριστώ", "el"),
    ],
)
def test_script_decides_first(detector: LanguageDetector, text: str, expected: str) -> None:
    assert code(detector, text) == expected


def test_cyrillic_without_evidence_is_russian(detector: LanguageDetector) -> None:
    # Russian is the served Cyrillic language: a neutral short word stays Russian.
    for text in ("ага", "понятно", "ок", "так"):
        assert code(detector, text) == "ru", text


def test_mixed_script_follows_the_majority(detector: LanguageDetector) -> None:
    assert code(detector, "moi привет как дела") == "ru"
    assert code(detector, "ok شكرا كثير") == "ar"


# -- romanized Arabic and Russian ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "salam, mata el ijtima3?",
        "3ndi so2al 3an el madrase",
        "shukran habibi",
        "ana bidi maw3id ma3 el doctor",
        "inshallah bukra",
        "marhaba, kifak?",
        "wein maktab Kela?",
    ],
)
def test_arabizi(detector: LanguageDetector, text: str) -> None:
    assert code(detector, text) == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "privet, kogda vstrecha?",
        "spasibo bolshoe",
        "mne nuzhen vrach dlya rebenka",
        "zdravstvuyte, pomogite pozhaluysta",
        "kak zapisatsya na kursy finskogo",
        "gde nahoditsya neuvola?",
    ],
)
def test_russian_translit(detector: LanguageDetector, text: str) -> None:
    assert code(detector, text) == "ru"


def test_digits_in_english_are_not_arabizi(detector: LanguageDetector) -> None:
    assert code(detector, "see you 2day at 5pm") == "en"
    assert code(detector, "thx 4 help, the meeting is at 10am") == "en"


# -- Finnish names and loanwords -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("neuvola xagee ku taal?", "so"),
        ("Kela lagu ma", "so"),
        ("xagge ku taala neuvolada", "so"),  # Somali article on a Finnish name
        ("nataka kujua kuhusu Kela pesa", "sw"),
        ("ofisi ya te-toimisto iko wapi", "sw"),
        ("where is neuvola in Tornio?", "en"),
        ("где находится neuvola в Кеми?", "ru"),
        ("وين مكتب Kela في تورنيو؟", "ar"),
        ("tarvitsen apua Kelan hakemuksen kanssa", "fi"),
    ],
)
def test_finnish_names_do_not_pull_to_finnish(detector: LanguageDetector, text: str, expected: str) -> None:
    assert code(detector, text) == expected


def test_names_alone_are_weak_finnish(detector: LanguageDetector) -> None:
    guess = detector.detect("Kela Tornio?")
    assert guess.code == "fi"
    assert guess.confidence < 0.5
    # ... and the stored language wins over them.
    assert code(detector, "Kela Tornio?", user_language="so") == "so"


# -- priors --------------------------------------------------------------------------------------


def test_priors_decide_short_ambiguous_messages(detector: LanguageDetector) -> None:
    assert code(detector, "ok", user_language="so") == "so"
    assert code(detector, "ok", user_language="ar") == "ar"
    assert code(detector, "Kela?", user_language="sw") == "sw"
    assert code(detector, "так", telegram_language="uk") == "uk"
    assert code(detector, "ok", recent=["fi", "fi"]) == "fi"
    assert code(detector, "ok", recent=["kiitos paljon", "milloin ryhmä kokoontuu?"]) == "fi"


def test_priors_never_override_clear_evidence(detector: LanguageDetector) -> None:
    assert code(detector, "kiitos paljon", user_language="so") == "fi"
    assert code(detector, "asante sana", user_language="en", telegram_language="en") == "sw"
    assert code(detector, "mahadsanid walaal", user_language="ar", telegram_language="ar") == "so"
    assert code(detector, "спасибо большое", user_language="fi", recent=["fi", "fi", "fi"]) == "ru"
    # An unserved language is named even when the stored language is a served one.
    assert code(detector, "tack så mycket för hjälpen", user_language="fi") == "sv"


def test_priors_count_only_for_languages_the_script_allows(detector: LanguageDetector) -> None:
    # A family that chose English and writes in Arabic or Cyrillic letters is offered the switch: English
    # cannot be written in those letters, so the stored choice does not pull the confidence down.
    for text, expected in (("سلام", "ar"), ("مرحبا", "ar"), ("привет", "ru"), ("когда", "ru")):
        guess = detector.detect(text, user_language="en", recent=["en", "en"])
        assert guess.code == expected
        assert guess.confidence >= LANGUAGE_SWITCH_CONFIDENCE, text
    assert code(detector, "да", user_language="fi") == "ru"


def test_telegram_codes_with_regions(detector: LanguageDetector) -> None:
    assert code(detector, "ok", telegram_language="en-US") == "en"
    assert code(detector, "ok", telegram_language="so-SO") == "so"
    # A prior alone never makes an answer unserved: "ok" is no Portuguese evidence.
    assert code(detector, "ok", telegram_language="pt_BR") in SERVED


# -- unserved languages and und ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "tack så mycket",
        "hej, när är mötet?",
        "merci beaucoup",
        "je voudrais parler à quelqu'un",
        "teşekkürler",
        "merhaba, toplantı ne zaman?",
        "дякую",
        "де знаходиться школа?",
        "ممنون",
        "مرسی خیلی ممنون",
        "አመሰግናለሁ",
        "የቐንየለይ",
        "danke schön",
        "ich brauche Hilfe mit Kela",
        "gracias",
        "aitäh",
        "grazie mille",
        "dziękuję bardzo",
        "obrigado",
    ],
)
def test_unserved_languages_are_not_served(detector: LanguageDetector, text: str) -> None:
    assert code(detector, text) not in SERVED


@pytest.mark.parametrize("text", ["", "   ", "👍", "😊😊🙏", "123 456", "!!!", "?", "https://example.org/x"])
def test_nothing_to_judge_is_und(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == LanguageGuess("und", 0.0)
    assert detector.detect(text, user_language="fi").code == "und"


def test_confidence_is_a_probability(detector: LanguageDetector) -> None:
    for text in ("kiitos", "ok", "asante sana", "privet", "I need help with school", "xyzzy qwrt", "Kela"):
        guess = detector.detect(text)
        assert 0.0 <= guess.confidence <= 1.0
    assert detector.detect("milloin seuraava ryhmä kokoontuu Kemissä?").confidence > 0.8
    assert detector.detect("ok").confidence < 0.8


# -- data sets and the trained model -------------------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.parametrize("name", ["language_dev.tsv", "language_dev2.tsv"])
@pytest.mark.parametrize("which", ["detector", "trained"])
def test_dev_sets(request: pytest.FixtureRequest, name: str, which: str) -> None:
    detector: LanguageDetector = request.getfixturevalue(which)
    rows = _rows(name)
    served = [r for r in rows if r["lang"] in SERVED]
    unserved = [r for r in rows if r["lang"] not in SERVED]
    answers = {r["text"]: code(detector, r["text"]) for r in rows}
    wrong = [(r["lang"], r["text"], answers[r["text"]]) for r in served if answers[r["text"]] != r["lang"]]
    accepted = [(r["lang"], r["text"]) for r in unserved if answers[r["text"]] in SERVED]
    assert len(wrong) <= 0.02 * len(served), wrong
    assert len(accepted) <= 0.05 * len(unserved), accepted


def test_cache_is_reused_and_survives_corruption(tmp_path: Path) -> None:
    first = LanguageDetector(None, cache_dir=tmp_path)
    files = list((tmp_path / "nlu").glob("language-*.pkl"))
    assert len(files) == 1
    started = time.perf_counter()
    second = LanguageDetector(None, cache_dir=tmp_path)
    assert time.perf_counter() - started < 1.0
    assert second.detect("asante sana") == first.detect("asante sana")
    files[0].write_bytes(b"not a pickle")
    third = LanguageDetector(None, cache_dir=tmp_path)
    assert third.detect("asante sana") == first.detect("asante sana")


def test_cached_lexicon_follows_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lexicon is cached with the models; editing a word list must invalidate both."""
    lexicons = tmp_path / "lexicons"
    lexicons.mkdir()
    for path in [*language.LEXICON_DIR.glob("lang-*.txt"), language.LEXICON_DIR / "finnish-names.txt"]:
        shutil.copy(path, lexicons / path.name)
    monkeypatch.setattr(language, "LEXICON_DIR", lexicons)
    before = LanguageDetector(None, cache_dir=tmp_path / "cache")
    assert before.lexicon.lookup("blorpwok") is None
    with (lexicons / "lang-sw.txt").open("a", encoding="utf-8") as handle:
        handle.write("\nblorpwok\n")
    after = LanguageDetector(None, cache_dir=tmp_path / "cache")
    assert after.lexicon.lookup("blorpwok") == {"sw": 1.0}
    assert code(after, "blorpwok blorpwok") == "sw"
    assert len(list((tmp_path / "cache" / "nlu").glob("language-*.pkl"))) == 2


def test_missing_or_empty_training_data(tmp_path: Path) -> None:
    (tmp_path / "data" / "train").mkdir(parents=True)
    detector = LanguageDetector(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert detector.domain is None
    assert code(detector, "asante sana") == "sw"
    assert code(LanguageDetector(tmp_path / "absent", cache_dir=tmp_path / "cache"), "kiitos") == "fi"


def test_training_data_in_another_language_is_not_learnt(tmp_path: Path) -> None:
    """A "hei" in the English file is a greeting people type, not English."""
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    (train / "en.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hei\n    - moi\n    - hello there\n'
        "    - good morning\n- intent: thanks\n  examples: |\n    - thank you so much\n    - thanks a lot\n",
        encoding="utf-8",
    )
    (train / "fi.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hyvää huomenta\n    - moikka kaikille\n'
        "- intent: thanks\n  examples: |\n    - kiitos paljon\n    - kiitti avusta\n",
        encoding="utf-8",
    )
    detector = LanguageDetector(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert code(detector, "hei") == "fi"
    assert code(detector, "moi") == "fi"


def test_helpers() -> None:
    assert fold_latin("Kyllä") == "kylla"
    assert fold_latin("Teşekkür") == "tesekkur"
    assert transliterate_russian("привет, когда встреча?") == "privet, kogda vstrecha?"
    assert transliterate_russian("жена", 1) == "jena"
    lexicon = Lexicon.load()
    assert lexicon.is_masked("kela") and lexicon.is_masked("neuvolada") and lexicon.is_masked("te-toimisto")
    assert not lexicon.is_masked("kiitos")


def test_word_memos_do_not_change_an_answer(
    trained: LanguageDetector, trained_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-word work is memoised; answers must be exactly those computed without any memo."""
    texts = [r["text"] for r in _rows("language_dev.tsv")]
    texts += ["moi " + "a" * 5000, "kiitos " * 300, "asanteee sanaaa", "Kelada 3arfa", "ok ok ok"]
    warm = [trained.detect(text, user_language="ar") for text in texts]  # memos filled by now

    monkeypatch.setattr(language, "_memoised", lambda function: function)
    monkeypatch.setattr(language, "_token", language._make_token)
    plain = LanguageDetector(ROOT / "nlu_data", cache_dir=trained_cache)  # the same models, from the cache
    assert [plain.detect(text, user_language="ar") for text in reversed(texts)] == warm[::-1]


def test_fast_enough(detector: LanguageDetector) -> None:
    texts = [r["text"] for r in _rows("language_dev.tsv")]
    started = time.perf_counter()
    for text in texts:
        detector.detect(text)
    elapsed = time.perf_counter() - started
    # The target is 2,000/s; a loaded test machine gets a wide margin.
    assert len(texts) / elapsed > 500
