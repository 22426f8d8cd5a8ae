"""Language detection for short, mixed, family-typed messages.

Families write "asante", "neuvola xagee ku taal?", "salam, mata el ijtima3?" or "privet, kogda
vstrecha?". General detectors fail on exactly these: too few letters, Finnish names inside other
languages, Arabic and Russian in Latin letters. So the decision is layered:

1. Script first. Arabic script is Arabic unless Persian/Urdu/Pashto letters or words say otherwise;
   Cyrillic is Russian unless Ukrainian/Bulgarian/Serbian letters or words say otherwise; Ge'ez,
   Armenian, Devanagari and the rest are languages we do not serve and are named as such.
2. Finnish place names and loanwords (Kela, neuvola, Tornio ...) are masked: they appear in every
   language here, so they only count as weak evidence for Finnish.
3. Per-language lexicons (greetings, thanks, yes/no, function and domain words), including
   Arabizi and Russian translit, and a rule for Arabizi digits (3 = ع, 7 = ح ...).
4. A character n-gram naive Bayes over langdetect's language profiles, scored deterministically
   over every n-gram (langdetect samples n-grams at random; seeding only makes that repeatable),
   restricted to the languages of the message's script. The profiles of the served languages are
   mixed with n-gram counts of the project's own `nlu_data/` (the domain, typos included), and
   romanized Arabic and Russian get profiles of their own from transliterated training data.
5. A small discriminative character n-gram model (scikit-learn, trained on `nlu_data/`) that only
   separates the served languages, once the n-gram evidence says the text is one of them.
6. Context priors (stored language, Telegram's language_code, recent messages) are added last, with
   a weight that settles short or ambiguous messages and is outweighed by clear evidence.

Everything trainable is built once and cached on disk keyed by a hash of its inputs, so that
start-up costs a pickle load (tens of milliseconds), not a training run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import math
import operator
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from bot.nlu import model_cache
from bot.nlu.types import LanguageGuess

log = logging.getLogger(__name__)

SERVED: tuple[str, ...] = ("fi", "en", "ar", "ru", "so", "sw")
UNDETERMINED = "und"
LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
_CACHE_FORMAT = 4

# Pseudo-languages of the Latin-script model: Arabic and Russian written in Latin letters.
AR_LATN = "ar-latn"
RU_LATN = "ru-latn"
_REPORTED_AS = {AR_LATN: "ar", RU_LATN: "ru", "zh-cn": "zh", "zh-tw": "zh"}

# langdetect profiles considered per script. Latin: the served languages and the Latin-script
# languages families or their neighbours may write (Swedish from Haparanda, Turkish, French ...).
_LATIN_PROFILES = tuple(
    "en fi so sw af ca cs cy da de es et fr hr hu id it lt lv nl no pl pt ro sk sl sq sv tl tr vi".split()
)
_ARABIC_PROFILES = ("ar", "fa", "ur")
_CYRILLIC_PROFILES = ("ru", "uk", "bg", "mk")
_LATIN_OWN = ("fi", "en", "so", "sw", AR_LATN, RU_LATN, "ku")

# Scripts of languages we do not serve: named by a default language (ISO 639-1) when the script
# practically belongs to one, else undetermined.
_SCRIPT_DEFAULT = {
    "armenian": "hy",
    "georgian": "ka",
    "hebrew": "he",
    "greek": "el",
    "devanagari": "hi",
    "bengali": "bn",
    "gurmukhi": "pa",
    "gujarati": "gu",
    "oriya": "or",
    "tamil": "ta",
    "telugu": "te",
    "kannada": "kn",
    "malayalam": "ml",
    "sinhala": "si",
    "thai": "th",
    "lao": "lo",
    "tibetan": "bo",
    "myanmar": "my",
    "khmer": "km",
    "hangul": "ko",
    "kana": "ja",
    "han": "zh",
    "thaana": "dv",
    "mongolian": "mn",
}

_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"),
    (0x0370, 0x03FF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0700, 0x074F, "syriac"),
    (0x0750, 0x077F, "arabic"),
    (0x0780, 0x07BF, "thaana"),
    (0x07C0, 0x07FF, "nko"),
    (0x0870, 0x08FF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"),
    (0x0B00, 0x0B7F, "oriya"),
    (0x0B80, 0x0BFF, "tamil"),
    (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"),
    (0x0D00, 0x0D7F, "malayalam"),
    (0x0D80, 0x0DFF, "sinhala"),
    (0x0E00, 0x0E7F, "thai"),
    (0x0E80, 0x0EFF, "lao"),
    (0x0F00, 0x0FFF, "tibetan"),
    (0x1000, 0x109F, "myanmar"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x1200, 0x139F, "ethiopic"),
    (0x13A0, 0x13FF, "cherokee"),
    (0x1780, 0x17FF, "khmer"),
    (0x1800, 0x18AF, "mongolian"),
    (0x1C80, 0x1C8F, "cyrillic"),
    (0x1E00, 0x1EFF, "latin"),
    (0x2D30, 0x2D7F, "tifinagh"),
    (0x2D80, 0x2DDF, "ethiopic"),
    (0x2DE0, 0x2DFF, "cyrillic"),
    (0x3040, 0x30FF, "kana"),
    (0x3130, 0x318F, "hangul"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xA640, 0xA69F, "cyrillic"),
    (0xA720, 0xA7FF, "latin"),
    (0xAB00, 0xAB2F, "ethiopic"),
    (0xAC00, 0xD7AF, "hangul"),
    (0xF900, 0xFAFF, "han"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0xFF21, 0xFF5A, "latin"),
)

_URL = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+|@\w+", re.IGNORECASE)
# Harakat, Quranic marks and tatweel carry no language signal and would split words.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_DIGITS = re.compile(r"\d")
_RUN3 = re.compile(r"(.)\1{2,}")
_LATIN_FOLD = str.maketrans({"ø": "o", "æ": "ae", "ł": "l", "đ": "d", "ı": "i", "ß": "ss", "’": "'"})
_ARABIC_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ئ": "ي", "ة": "ه", "ؤ": "و", "ک": "ك"}
)
# Arabizi: a letter-digit (3 = ع, 7 = ح, 2 = ء, 5 = خ, 9 = ص/ق, 6 = ط, 8 = غ) inside a word.
_ARABIZI_DIGIT = re.compile(r"(?:[a-z][235679]|[235679][a-z])")
# Digits in words that are not Arabizi: quantities, times, ordinals and English text-speak.
_NOT_ARABIZI = re.compile(
    r"^(?:\d+(?:st|nd|rd|th|am|pm|h|hr|hrs|min|mins|kg|km|cm|mm|m|x|k|g|gb|mb|v|e|eur|kpl|pv|klo|v)"
    r"|2day|2morrow|2moro|2morow|2nite|2night|b4|gr8|l8r|l8|m8|w8|h8|2u|4u|u2|me2|any1|some1|no1"
    r"|2gether|4ever|str8|sk8|2go|4get|4got|g2g|b2b|2x|3x|5g|4g|3g|mp3|mp4)$"
)
# Somali definite articles and an English possessive on a masked Finnish name ("Kelada", "Kela's").
_FOREIGN_SUFFIX = re.compile(r"^(.+?)(?:-?(?:da|dda|ga|ka|ta|ha|sha|a|dii|gii|kii|tii)|'s|-s)$")

_SAME_SCRIPT_LANGS = {
    "latin": tuple(dict.fromkeys(_LATIN_PROFILES + _LATIN_OWN)),
    "arabic": ("ar", "fa", "ur", "ps", "ku"),
    "cyrillic": ("ru", "uk", "bg", "mk", "sr", "be", "kk", "ky", "mn", "tg"),
    "ethiopic": ("am", "ti"),
}

# Letters that occur in one language (or family) of a script and not in its served language.
_LETTER_EVIDENCE: dict[str, dict[str, tuple[str, float]]] = {
    "arabic": {
        **{ch: ("fa", 1.2) for ch in "پچژگ"},
        **{ch: ("fa", 0.45) for ch in "یک\u200c"},
        **{ch: ("ur", 2.0) for ch in "ٹڈڑںےۓہھ"},
        **{ch: ("ps", 2.0) for ch in "ټډړږښګڼۍېځڅ"},
        **{ch: ("ku", 2.0) for ch in "ەڕڵۆێۊ"},
        **{ch: ("ar", 0.45) for ch in "ةىيك"},
    },
    "cyrillic": {
        **{ch: ("uk", 3.0) for ch in "їєґ"},
        "і": ("uk", 2.0),
        "ў": ("be", 4.0),
        **{ch: ("sr", 4.0) for ch in "ђћ"},
        **{ch: ("mk", 4.0) for ch in "ѓќѕ"},
        **{ch: ("sr", 2.0) for ch in "јљњџ"},
        **{ch: ("kk", 3.0) for ch in "әғқңұһ"},
        **{ch: ("mn", 1.5) for ch in "өү"},
        **{ch: ("tg", 3.0) for ch in "ӣӯҳҷ"},
        **{ch: ("ru", 2.0) for ch in "ыэё"},
        "ъ": ("bg", 0.8),
    },
    "ethiopic": {
        **{chr(c): ("ti", 3.0) for c in range(0x1250, 0x125E)},  # ቐ-series: Tigrinya only
        **{chr(c): ("ti", 1.5) for c in range(0x12B8, 0x12BF)},  # ኸ-series
        "ኣ": ("ti", 1.0),
        "ዕ": ("ti", 0.4),
        "አ": ("am", 1.0),
        **{chr(c): ("am", 0.8) for c in range(0x1238, 0x1240)},  # ሸ-series, common in Amharic
    },
}


# Word endings that tell Ukrainian from Russian when no letter does: infinitives in -ти (Russian
# -ть), -ння nouns (Russian -ние), -ою instrumentals, -ють verbs; Russian -ый/-ые/-ие/-ая/-ое.
_CYRILLIC_ENDINGS = (
    (re.compile(r"^\w{2,}(?:[аиуя]ти|ння|ою|ють)$"), "uk"),
    (re.compile(r"^\w{2,}(?:ый|ые|ие|ая|ое|ешь)$"), "ru"),
)
_ENDING_EXCEPTIONS = frozenset({"кстати", "некстати", "объясняю"})


@dataclass(frozen=True)
class _Weights:
    """Tunable weights of the evidence, on a log-odds scale."""

    ngram: float = 0.55  # per n-gram log-likelihood, before the length cap
    ngram_cap: float = 3.0  # an n-gram profile alone can never beat this many lexicon words ...
    ngram_cap_per_token: float = 1.6  # ... and grows with length up to that
    lexicon: float = 3.0  # per lexicon word
    arabizi_digit: float = 1.6
    masked_name: float = 0.35  # a Finnish name or loanword: weak evidence for Finnish
    letters: float = 1.0  # per script-specific letter
    domain: float = 1.0  # the discriminative model's log-probability among served languages ...
    domain_cap: float = 2.5  # ... which can cost a language at most this much
    prior_user: float = 1.4
    prior_telegram: float = 0.8
    prior_recent: float = 0.45  # per recent message, the last three count
    unserved_min: float = 0.8  # an unserved language needs this much lead over the served ones
    ending: float = 0.8  # per Ukrainian or Russian word ending (Cyrillic)
    script_default: float = 0.8  # Arabic script is Arabic, Cyrillic Russian, unless shown otherwise


WEIGHTS = _Weights()


@functools.lru_cache(maxsize=8192)
def _script_of(ch: str) -> str | None:
    """The script of a letter (None for anything else); memoised, as messages reuse few characters."""
    code = ord(ch)
    if code < 0x41:
        return None
    for low, high, name in _SCRIPT_RANGES:
        if low <= code <= high:
            return name if ch.isalpha() else None
        if code < low:
            return None
    return None


def fold_latin(word: str) -> str:
    """Lower-case and drop diacritics: families often type "kylla" for "kyllä"."""
    word = word.lower().translate(_LATIN_FOLD)
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip("'-")


def fold_arabic(word: str) -> str:
    """Arabic normalisation: alef forms, ya/alef maqsura, ta marbuta, Persian ya/kaf."""
    return _ARABIC_MARKS.sub("", word).translate(_ARABIC_FOLD)


def fold_word(word: str, script: str) -> str:
    """The lexicon key of `word` in `script`."""
    if script == "latin":
        return fold_latin(word)
    if script == "arabic":
        return fold_arabic(word)
    return word.lower().replace("ё", "е")


def _elongation_variants(key: str) -> tuple[str, ...]:
    """ "asanteee" → "asantee", "asante": families stretch words for emphasis."""
    if not _RUN3.search(key):
        return (key,)
    return (key, _RUN3.sub(r"\1\1", key), _RUN3.sub(r"\1", key))


# --------------------------------------------------------------------------------------------
# Lexicons


@dataclass
class Lexicon:
    """Words per language, keyed by their folded form; a word may belong to several languages."""

    words: dict[str, dict[str, float]] = field(default_factory=dict)
    masked: frozenset[str] = frozenset()
    sources: tuple[tuple[str, str], ...] = ()  # (language, word as written), for the n-gram profiles

    @classmethod
    def load(cls, directory: Path = LEXICON_DIR) -> Lexicon:
        """Read `lang-*.txt` and `finnish-names.txt` from `directory`."""
        words: dict[str, dict[str, float]] = {}
        sources: list[tuple[str, str]] = []
        for path in sorted(directory.glob("lang-*.txt")):
            language = path.stem.removeprefix("lang-")
            for entry in _entries(path):
                word, _, weight_text = entry.rpartition(":") if ":" in entry else (entry, "", "")
                weight = float(weight_text) if weight_text else 1.0
                script = _script_of_word(word)
                if script is None:
                    continue
                key = fold_word(word, script)
                if not key:
                    continue
                sources.append((language, word))
                per_language = words.setdefault(key, {})
                # The smallest weight wins: an explicit down-weighting must not be undone by a
                # repeat of the word elsewhere in the file.
                per_language[language] = min(weight, per_language.get(language, weight))
        masked = frozenset(fold_latin(w) for w in _entries(directory / "finnish-names.txt"))
        return cls(words, masked, tuple(sources))

    def lookup(self, key: str) -> dict[str, float] | None:
        for variant in _elongation_variants(key):
            hit = self.words.get(variant)
            if hit:
                return hit
        if "-" in key:  # "chto-to", "hei-hei": fall back to the first part with a known word
            for part in key.split("-"):
                hit = self.words.get(part)
                if hit:
                    return hit
        return None

    def is_masked(self, key: str) -> bool:
        """True for a Finnish name or loanword, bare or with a Somali article ("Kelada")."""
        if key in self.masked:
            return True
        match = _FOREIGN_SUFFIX.match(key)
        if match and match.group(1) in self.masked:
            return True
        return "-" in key and all(part in self.masked for part in key.split("-") if part)


def _entries(path: Path) -> Iterable[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        yield from line.split("#", 1)[0].split()


def _script_of_word(word: str) -> str | None:
    for ch in word:
        script = _script_of(ch)
        if script is not None:
            return script
    return None


# --------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    text: str
    key: str  # the lexicon key: folded, see `fold_word`
    script: str
    letters: int
    ngram: str  # the letters as the n-gram models see them (digits and marks dropped)


# Words longer than this are not memoised: a pasted blob must not fill the memo.
_MEMO_WORD_CHARS = 40
_MEMO_SIZE = 16384

_T = TypeVar("_T")


def _memoised(function: Callable[[str], _T]) -> Callable[[str], _T]:
    """`function` of a word, memoised: messages reuse the same few thousand words all day."""
    cached = functools.lru_cache(maxsize=_MEMO_SIZE)(function)

    def call(word: str) -> _T:
        return cached(word) if len(word) <= _MEMO_WORD_CHARS else function(word)

    return call


def _tokens(text: str) -> list[_Token]:
    text = unicodedata.normalize("NFC", text)
    text = _URL.sub(" ", text)
    text = _ARABIC_MARKS.sub("", text).replace("\u200c", " ")
    tokens = []
    for word in _TOKEN.findall(text):
        token = _token(word)
        if token is not None:
            tokens.append(token)
    return tokens


def _make_token(word: str) -> _Token | None:
    """The token of one word; None for a word without letters (a number)."""
    if word.isascii():
        # Most words: every ASCII letter is Latin script, and nothing else in ASCII is a letter.
        script, letters = "latin", sum(map(str.isalpha, word))
        if not letters:
            return None
    else:
        counts: Counter[str] = Counter()
        for ch in word:
            found = _script_of(ch)
            if found is not None:
                counts[found] += 1
        if not counts:
            return None
        script, letters = counts.most_common(1)[0]
    return _Token(word, fold_word(word, script), script, letters, _ngram_word(word, script))


_token = _memoised(_make_token)


def _word_ngrams(word: str) -> list[str]:
    """langdetect's n-grams of one word: 1-3 grams of " word ", without the bare space."""
    padded = f" {word} "
    grams = list(word)
    grams.extend(_substrings(padded, 2))
    grams.extend(_substrings(padded, 3))
    return grams


def _substrings(text: str, n: int) -> Iterable[str]:
    """Every substring of length `n`, in order; sliced in C (map over slices), not a Python loop."""
    return map(text.__getitem__, map(slice, range(len(text) - n + 1), range(n, len(text) + 1)))


def _ngram_word(text: str, script: str) -> str:
    """The letters of a word as the n-gram models see them (digits and marks dropped)."""
    if script == "latin":
        word = text.lower().replace("’", "'")
        word = "".join(ch for ch in word if ch.isalpha())
    elif script == "arabic":
        # langdetect folds Farsi yeh into Arabic yeh; letters decide Persian separately.
        word = _ARABIC_MARKS.sub("", text).replace("ی", "ي")
    else:
        word = text.lower()
    return _RUN3.sub(r"\1\1", word)


# --------------------------------------------------------------------------------------------
# N-gram profiles


@dataclass
class NgramModel:
    """Log-probabilities of character n-grams per language, one table per script."""

    languages: dict[str, tuple[str, ...]]  # script -> languages (columns)
    vocab: dict[str, dict[str, int]]  # script -> n-gram -> row
    logp: dict[str, np.ndarray]  # script -> rows x languages, float32
    floor: dict[str, np.ndarray]  # script -> per-language log of the smoothing floor

    def loglik(self, script: str, words: Sequence[str]) -> tuple[np.ndarray, int]:
        """Summed log-likelihood of the words' n-grams per language, and how many were known."""
        return self.loglik_rows(script, [row for w in words for row in self.word_rows(script, w)])

    def word_rows(self, script: str, word: str) -> tuple[int, ...]:
        """The table rows of a word's known n-grams, repeats included (each one counts)."""
        return tuple(row for row in map(self.vocab[script].get, _word_ngrams(word)) if row is not None)

    def loglik_rows(self, script: str, rows: list[int]) -> tuple[np.ndarray, int]:
        """`loglik` from the words' rows (see `word_rows`), which the detector memoises per word."""
        table = self.logp[script]
        if not rows:
            return np.zeros(table.shape[1], dtype=np.float64), 0
        return table[rows].sum(axis=0, dtype=np.float64), len(rows)


def _load_langdetect_profile(name: str) -> dict[str, float]:
    """langdetect's profile as probabilities per n-gram length, case folded."""
    import json

    path = _langdetect_profiles() / name
    data = json.loads(path.read_text(encoding="utf-8"))
    totals = data["n_words"]
    probs: dict[str, float] = {}
    for gram, count in data["freq"].items():
        if not 1 <= len(gram) <= 3:
            continue
        length = len(gram)
        gram = gram.lower()
        if len(gram) != length:  # "İ" lower-cases to two code points
            continue
        if name in _ARABIC_PROFILES:
            gram = gram.replace("ی", "ي")
        probs[gram] = probs.get(gram, 0.0) + count / totals[length - 1]
    return probs


def _count_profile(words: Iterable[str]) -> dict[str, float]:
    counts: list[Counter[str]] = [Counter(), Counter(), Counter()]
    for word in words:
        for gram in _word_ngrams(word):
            counts[len(gram) - 1][gram] += 1
    probs: dict[str, float] = {}
    for by_length in counts:
        total = sum(by_length.values())
        for gram, count in by_length.items():
            if count >= 1:
                probs[gram] = count / total
    return probs


def _build_ngram_model(own_text: dict[str, dict[str, list[str]]]) -> NgramModel:
    """Mix langdetect's profiles with the project's own words per script and language."""
    plan = {
        "latin": (_LATIN_PROFILES, _LATIN_OWN),
        "arabic": (_ARABIC_PROFILES, ("ar",)),
        "cyrillic": (_CYRILLIC_PROFILES, ("ru",)),
    }
    languages: dict[str, tuple[str, ...]] = {}
    vocab: dict[str, dict[str, int]] = {}
    logp: dict[str, np.ndarray] = {}
    floor: dict[str, np.ndarray] = {}
    for script, (profile_names, own_names) in plan.items():
        columns = tuple(dict.fromkeys(profile_names + own_names))
        profiles: list[dict[str, float]] = []
        for lang in columns:
            general = _load_langdetect_profile(lang) if lang in profile_names else {}
            own_words = own_text.get(script, {}).get(lang, [])
            own = _count_profile(own_words) if own_words else {}
            if general and own:
                # Our data is the domain (typos, loanwords, short questions); Wikipedia is the
                # language at large. Equal parts keep each from dominating the other.
                mixed = {g: 0.5 * p for g, p in general.items()}
                for g, p in own.items():
                    mixed[g] = mixed.get(g, 0.0) + 0.5 * p
                profiles.append(mixed)
            else:
                profiles.append(general or own)
        grams = sorted({g for profile in profiles for g in profile})
        index = {g: i for i, g in enumerate(grams)}
        table = np.zeros((len(grams), len(columns)), dtype=np.float64)
        for j, profile in enumerate(profiles):
            for g, p in profile.items():
                table[index[g], j] = p
        # langdetect's smoothing: alpha 0.5 over a base frequency of 10,000.
        smoothing = 0.5 / 10000
        languages[script] = columns
        vocab[script] = index
        logp[script] = np.log(table + smoothing).astype(np.float32)
        floor[script] = np.full(len(columns), math.log(smoothing), dtype=np.float32)
    return NgramModel(languages, vocab, logp, floor)


# --------------------------------------------------------------------------------------------
# Discriminative model over the served languages (Latin script)


@dataclass
class DomainModel:
    """A linear model over binary character n-gram features, exported from scikit-learn."""

    languages: tuple[str, ...]
    vocab: dict[str, int]
    weights: np.ndarray  # features x languages
    bias: np.ndarray

    def log_proba(self, words: Sequence[str]) -> np.ndarray | None:
        return self.log_proba_rows([self.word_rows(word) for word in words])

    def word_rows(self, word: str) -> tuple[int, ...]:
        """The feature rows of one word, each once, in the order the features are generated."""
        return tuple(dict.fromkeys(row for row in map(self.vocab.get, _domain_features(word)) if row is not None))

    def log_proba_rows(self, per_word: Sequence[tuple[int, ...]]) -> np.ndarray | None:
        """Log-probabilities per language from the words' rows (see `word_rows`, memoised per word)."""
        # Features are binary over the whole message. Adding the rows word by word, in order, gives
        # the set the same insertion order, so the float sum below is the same to the last bit.
        rows: set[int] = set()
        for word_rows in per_word:
            rows.update(word_rows)
        if not rows:
            return None
        # Binary features, L2-normalised, as in training.
        scores = self.weights[list(rows)].sum(axis=0, dtype=np.float64) / math.sqrt(len(rows)) + self.bias
        scores -= scores.max()
        return scores - math.log(float(np.exp(scores).sum()))


_DOMAIN_MIN_EXAMPLES = 40


def _domain_features(word: str) -> list[str]:
    padded = f" {word} "
    grams: list[str] = []
    for n in (1, 2, 3, 4):
        grams.extend(_substrings(padded, n))
    return list(filter(str.strip, grams))


def _train_domain_model(texts: dict[str, list[str]]) -> DomainModel | None:
    """Logistic regression on character 1-4-grams; scikit-learn only at training time."""
    # A class learnt from a handful of examples would only add noise to the n-gram profiles.
    texts = {lang: [t for t in items if t.strip()] for lang, items in texts.items()}
    texts = {lang: items for lang, items in texts.items() if len(items) >= _DOMAIN_MIN_EXAMPLES}
    pairs = [(text, lang) for lang, items in texts.items() for text in items]
    if len(texts) < 2:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier

    def analyzer(text: str) -> list[str]:
        return [g for word in text.split() for g in _domain_features(word)]

    vectorizer = TfidfVectorizer(analyzer=analyzer, binary=True, use_idf=False, min_df=2)
    features = vectorizer.fit_transform([t for t, _ in pairs])
    labels = [lang for _, lang in pairs]
    # Logistic loss by SGD (one-vs-rest) trains in well under a second; lbfgs took ten here.
    model = SGDClassifier(loss="log_loss", alpha=2e-5, max_iter=60, tol=1e-4, random_state=0)
    model.fit(features, labels)
    languages = tuple(str(c) for c in model.classes_)
    weights = model.coef_.T.astype(np.float32)
    if len(languages) == 2:
        weights = np.hstack([-weights / 2, weights / 2])
        bias = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    else:
        bias = model.intercept_.astype(np.float64)
    vocab = {str(g): int(i) for g, i in vectorizer.vocabulary_.items()}
    return DomainModel(languages, vocab, np.ascontiguousarray(weights), bias)


# --------------------------------------------------------------------------------------------
# Training data


def _training_files(nlu_data_dir: Path | None) -> list[Path]:
    if nlu_data_dir is None:
        return []
    train = nlu_data_dir / "train"
    if not train.is_dir():
        return []
    return sorted(p for p in train.iterdir() if p.suffix in {".yml", ".yaml"} and p.is_file())


def _read_examples(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        log.warning("cannot read %s for language detection", path.name)
        return []
    texts: list[str] = []
    for item in data.get("nlu") or [] if isinstance(data, dict) else []:
        raw = item.get("examples") if isinstance(item, dict) else None
        if isinstance(raw, str):
            texts.extend(line.strip()[1:].strip() for line in raw.splitlines() if line.strip()[:1] == "-")
        elif isinstance(raw, list):
            texts.extend(str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in raw)
    # Rasa entity markup "[Kemi](place)" → "Kemi".
    return [re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", r"\1\2", t) for t in texts if t]


_RU_TRANSLIT = (
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
        "щ": "shch", "ъ": "", "ы": "y", "ь": "'", "э": "e", "ю": "yu", "я": "ya",
    },
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z",
        "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "ш": "sh",
        "щ": "sch", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "ju", "я": "ja",
    },
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
        "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh",
        "щ": "sh", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    },
)  # fmt: skip


def transliterate_russian(text: str, scheme: int = 0) -> str:
    """Russian in Latin letters, in one of the spellings people type (0: scholarly-ish)."""
    table = _RU_TRANSLIT[scheme % len(_RU_TRANSLIT)]
    out = []
    for ch in text:
        low = ch.lower()
        out.append(table.get(low, ch) if low in table else ch)
    return "".join(out)


@dataclass
class _TrainingText:
    """Words per script and language for the n-gram profiles, texts for the domain model."""

    profile_words: dict[str, dict[str, list[str]]]
    domain_texts: dict[str, list[str]]


def _collect_training_text(files: Sequence[Path], lexicon: Lexicon) -> _TrainingText:
    words: dict[str, dict[str, list[str]]] = {"latin": {}, "arabic": {}, "cyrillic": {}}
    domain: dict[str, list[str]] = {}

    def add(script: str, lang: str, items: Iterable[str]) -> None:
        words[script].setdefault(lang, []).extend(items)

    for path in files:
        language = path.stem.split(".")[0].split("-")[0]
        if language not in SERVED:
            continue
        native = {"ar": "arabic", "ru": "cyrillic"}.get(language, "latin")
        for text in _read_examples(path):
            tokens = [t for t in _tokens(text) if not (t.script == "latin" and lexicon.is_masked(t.key))]
            if not tokens:
                continue
            scripts = {t.script for t in tokens}
            if scripts == {native}:
                if native == "latin" and _belongs_elsewhere(tokens, language, lexicon):
                    continue  # "hei" and "salam" in the English file are not English
                add(native, language, (t.ngram for t in tokens))
                if native == "latin":
                    domain.setdefault(language, []).append(" ".join(t.ngram for t in tokens))
                if language == "ru":
                    for scheme in range(len(_RU_TRANSLIT)):
                        latin = transliterate_russian(" ".join(t.text for t in tokens), scheme)
                        latin_tokens = [t for t in _tokens(latin) if t.script == "latin"]
                        add("latin", RU_LATN, (t.ngram for t in latin_tokens))
                        domain.setdefault(RU_LATN, []).append(" ".join(t.ngram for t in latin_tokens))
            elif scripts == {"latin"} and language in {"ar", "ru"}:
                pseudo = AR_LATN if language == "ar" else RU_LATN
                if _belongs_elsewhere(tokens, pseudo, lexicon):
                    continue
                add("latin", pseudo, (t.ngram for t in tokens))
                domain.setdefault(pseudo, []).append(" ".join(t.ngram for t in tokens))

    # The lexicons are typical words too; they matter most where training data is thin.
    for lang, word in lexicon.sources:
        script = _script_of_word(word)
        if script == "latin" and lang in _LATIN_OWN:
            add("latin", lang, [_RUN3.sub(r"\1\1", word.lower())])
        elif script == "cyrillic" and lang == "ru":
            add("cyrillic", lang, [word.lower()])
    return _TrainingText(words, domain)


def _belongs_elsewhere(tokens: Sequence[_Token], language: str, lexicon: Lexicon) -> bool:
    """True when the lexicons give the example's words to another language rather than this one."""
    votes: defaultdict[str, float] = defaultdict(float)
    for token in tokens:
        hit = lexicon.lookup(token.key)
        if hit:
            total = max(1.0, sum(hit.values()))
            for lang, weight in hit.items():
                votes[lang] += weight / total
    if not votes:
        return False
    own = votes.get(language, 0.0)
    return max(votes.values()) > own


# --------------------------------------------------------------------------------------------
# Cache


@dataclass
class _Models:
    lexicon: Lexicon  # cached too: unpickling it takes a fifth of the time of reading the files
    ngrams: NgramModel
    domain: DomainModel | None


def default_cache_dir() -> Path:
    """`AITO_CACHE_DIR`, else the user's cache directory (as in `bot.settings.Settings`)."""
    configured = os.environ.get("AITO_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "aito-bot"


def _langdetect_profiles() -> Path:
    """langdetect's profile directory, found without importing the package (start-up time)."""
    spec = importlib.util.find_spec("langdetect")
    if spec is None or spec.origin is None:
        raise RuntimeError("langdetect is not installed")
    return Path(spec.origin).resolve().parent / "profiles"


def _cache_key(files: Sequence[Path], lexicon_dir: Path) -> str:
    digest = hashlib.sha256()
    digest.update(f"format={_CACHE_FORMAT};".encode())
    profiles = _langdetect_profiles()
    for name in sorted({*_LATIN_PROFILES, *_ARABIC_PROFILES, *_CYRILLIC_PROFILES}):
        stat = (profiles / name).stat()
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    digest.update(Path(__file__).read_bytes())
    # What Lexicon.load reads.
    for path in [*sorted(lexicon_dir.glob("lang-*.txt")), lexicon_dir / "finnish-names.txt"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _load_or_build(files: Sequence[Path], lexicon_dir: Path, cache_dir: Path | None) -> _Models:
    key = _cache_key(files, lexicon_dir)

    def build() -> _Models:
        lexicon = Lexicon.load(lexicon_dir)
        text = _collect_training_text(files, lexicon)
        return _Models(lexicon, _build_ngram_model(text.profile_words), _train_domain_model(text.domain_texts))

    path = model_cache.path_for(cache_dir, "language", key) if cache_dir is not None else None
    return model_cache.load_or_build(path, _Models, build, what="language model")[0]


# --------------------------------------------------------------------------------------------
# The detector


class LanguageDetector:
    """Detects the language of a message; see the module docstring for how."""

    def __init__(
        self,
        nlu_data_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        weights: _Weights = WEIGHTS,
    ) -> None:
        self.weights = weights
        files = _training_files(nlu_data_dir)
        models = _load_or_build(files, LEXICON_DIR, cache_dir if cache_dir else default_cache_dir())
        self.lexicon = models.lexicon
        self.ngrams = models.ngrams
        self.domain = models.domain
        # Per-word work, memoised: what a word is (masked, its lexicon entry, its n-gram rows)
        # never changes while the detector lives, and most of a message is words seen before.
        self._is_masked = _memoised(self.lexicon.is_masked)
        self._lookup = _memoised(self.lexicon.lookup)
        self._ngram_rows = {
            script: _memoised(functools.partial(self.ngrams.word_rows, script)) for script in self.ngrams.vocab
        }
        self._domain_rows = _memoised(self.domain.word_rows if self.domain is not None else _no_rows)
        served = self.domain.languages if self.domain is not None else ()
        self._latin_unserved = tuple(lang for lang in _SAME_SCRIPT_LANGS["latin"] if lang not in served)

    def detect(
        self,
        text: str,
        *,
        user_language: str | None = None,
        telegram_language: str | None = None,
        recent: Sequence[str] = (),
    ) -> LanguageGuess:
        """The language of `text`: a served code, another ISO 639-1 code, or "und".

        `user_language` (the stored choice), `telegram_language` (Telegram's language_code) and
        `recent` (the latest messages' texts or detected codes) are priors: they decide short or
        ambiguous messages and never outweigh clear evidence.
        """
        scores = self.evidence(text)
        if not scores:
            return LanguageGuess(UNDETERMINED, 0.0)
        priors = self._priors(user_language, telegram_language, recent)
        return self._decide(scores, priors)

    # -- evidence ------------------------------------------------------------------------------

    def evidence(self, text: str) -> dict[str, float]:
        """Log-odds-like scores per candidate language; empty when there is nothing to judge."""
        tokens = _tokens(text)
        if not tokens:
            return {}
        masked: list[_Token] = []
        content: list[_Token] = []
        for token in tokens:
            if token.script == "latin" and self._is_masked(token.key):
                masked.append(token)
            else:
                content.append(token)
        if not content:
            # Only Finnish names: Finnish, but barely (a prior outweighs it), and the confidence says
            # so because the other served languages stay in the running.
            return {**dict.fromkeys(SERVED, 0.0), "fi": self.weights.masked_name * len(masked)}
        letters: Counter[str] = Counter()
        for token in content:
            letters[token.script] += token.letters
        script = letters.most_common(1)[0][0]
        own = [t for t in content if t.script == script]
        if script == "latin":
            scores = self._latin(own)
            if masked:
                scores["fi"] = scores.get("fi", 0.0) + self.weights.masked_name * len(masked)
            return scores
        if script in ("arabic", "cyrillic", "ethiopic"):
            return self._other_script(script, own)
        default = _SCRIPT_DEFAULT.get(script)
        if script == "han" and letters.get("kana"):
            default = "ja"
        return {default or UNDETERMINED: 10.0}

    def _lexicon_votes(self, tokens: Sequence[_Token]) -> dict[str, float]:
        votes: defaultdict[str, float] = defaultdict(float)
        for token in tokens:
            hit = self._lookup(token.key)
            if not hit:
                continue
            total = max(1.0, sum(hit.values()))
            for lang, weight in hit.items():
                votes[lang] += weight / total
        return votes

    def _ngram_scores(self, script: str, words: Sequence[str], n_tokens: int) -> dict[str, float]:
        word_rows = self._ngram_rows[script]
        ll, known = self.ngrams.loglik_rows(script, [row for word in words for row in word_rows(word)])
        if not known:
            return {}
        w = self.weights
        scaled = w.ngram * (ll - ll.max()) / math.sqrt(known)
        cap = min(w.ngram_cap, w.ngram_cap_per_token * max(1, n_tokens))
        scaled = np.maximum(scaled, -cap)
        # tolist(): Python floats in one call, not one numpy scalar per language.
        return dict(zip(self.ngrams.languages[script], scaled.tolist(), strict=True))

    def _latin(self, tokens: Sequence[_Token]) -> dict[str, float]:
        w = self.weights
        words = [t.ngram for t in tokens]
        words = [x for x in words if x]
        scores: dict[str, float] = dict.fromkeys(_SAME_SCRIPT_LANGS["latin"], 0.0)
        ngram_scores = self._ngram_scores("latin", words, len(tokens))
        votes = self._lexicon_votes(tokens)
        if not ngram_scores and not votes:
            return {}
        scores.update(ngram_scores)
        for lang, count in votes.items():
            if lang in scores:
                scores[lang] += w.lexicon * count
        digits = sum(
            1
            for t in tokens
            if _DIGITS.search(t.key) and _ARABIZI_DIGIT.search(t.key) and not _NOT_ARABIZI.match(t.key)
        )
        scores[AR_LATN] += w.arabizi_digit * digits
        if self.domain is not None and words:
            served = self.domain.languages
            best_served = max(scores[lang] for lang in served)
            best_other = max(scores[lang] for lang in self._latin_unserved)
            # The domain model knows only the served languages: it may refine a choice among them,
            # never turn an unserved message into a served one.
            if best_served >= best_other - 1.0:
                log_proba = self.domain.log_proba_rows([self._domain_rows(word) for word in words])
                if log_proba is not None:
                    # Relative to the model's favourite, so that it reorders the served languages
                    # without lowering them all against unserved ones.
                    relative = (log_proba - log_proba.max()).tolist()
                    for lang, value in zip(served, relative, strict=True):
                        scores[lang] += w.domain * max(value, -w.domain_cap)
        return scores

    def _other_script(self, script: str, tokens: Sequence[_Token]) -> dict[str, float]:
        w = self.weights
        scores: dict[str, float] = dict.fromkeys(_SAME_SCRIPT_LANGS[script], 0.0)
        words = [t.ngram for t in tokens]
        if script in self.ngrams.vocab:
            for lang, value in self._ngram_scores(script, words, len(tokens)).items():
                scores[lang] = value
            # Languages without a profile here are judged by letters and words alone.
            floor = min(scores.values())
            for lang in scores:
                if lang not in self.ngrams.languages[script]:
                    scores[lang] = floor
        for lang, votes in self._lexicon_votes(tokens).items():
            if lang in scores:
                scores[lang] += w.lexicon * votes
        evidence = _LETTER_EVIDENCE.get(script, {})
        seen: defaultdict[str, float] = defaultdict(float)
        for token in tokens:
            for ch in token.text:
                hit = evidence.get(ch)
                if hit:
                    seen[hit[0]] += hit[1]
        for lang, value in seen.items():
            # Letters saturate: the tenth "ی" proves little more than the third.
            scores[lang] = scores.get(lang, 0.0) + w.letters * 3.0 * math.tanh(value / 3.0)
        if script == "cyrillic":
            for token in tokens:
                if token.key in _ENDING_EXCEPTIONS or self._lookup(token.key):
                    continue  # a known word already counted
                for pattern, lang in _CYRILLIC_ENDINGS:
                    if pattern.match(token.key):
                        scores[lang] += w.ending
                        break
        served = {"arabic": "ar", "cyrillic": "ru"}.get(script)
        if served:
            scores[served] += w.script_default
        return scores

    # -- priors and decision -------------------------------------------------------------------

    def _priors(
        self, user_language: str | None, telegram_language: str | None, recent: Sequence[str]
    ) -> dict[str, float]:
        w = self.weights
        priors: defaultdict[str, float] = defaultdict(float)
        if user_language:
            priors[_base_code(user_language)] += w.prior_user
        if telegram_language:
            priors[_base_code(telegram_language)] += w.prior_telegram
        for item in list(recent)[-3:]:
            code = _base_code(item) if _looks_like_code(item) else None
            if code is None:
                guess = self._decide(self.evidence(item), {}) if item.strip() else None
                code = guess.code if guess and guess.confidence >= 0.6 else None
            if code and code != UNDETERMINED:
                priors[code] += w.prior_recent
        return priors

    def _decide(self, scores: dict[str, float], priors: dict[str, float]) -> LanguageGuess:
        if not scores:
            return LanguageGuess(UNDETERMINED, 0.0)
        combined: dict[str, float] = {}
        for lang, value in scores.items():
            code = _REPORTED_AS.get(lang, lang)
            if code not in combined or value > combined[code]:
                combined[code] = value
        if UNDETERMINED in combined:
            return LanguageGuess(UNDETERMINED, 0.0)
        # A prior lifts its language to just below weak evidence before adding its weight, so that
        # "ok" from an Arabic-speaking user is Arabic even though no profile knows "ok" as Arabic;
        # against a lexicon word or more (scores above 1) it cannot win.
        # A prior counts only for the languages the message's script allows: "مرحبا" from a user who
        # chose English is Arabic, however sure the bot is of their English.
        anchor = min(max(combined.values()), 1.0) - 0.5
        for code, bonus in priors.items():
            if code in combined:
                combined[code] = max(combined[code], anchor) + bonus
        ranked = sorted(combined.items(), key=operator.itemgetter(1), reverse=True)
        served = next(((c, s) for c, s in ranked if c in SERVED), None)
        unserved = next(((c, s) for c, s in ranked if c not in SERVED), None)
        # An unserved language must win clearly: a served language that is nearly as likely is the
        # better answer for a family (and the bot still offers the language menu).
        if unserved is not None and (served is None or unserved[1] >= served[1] + self.weights.unserved_min):
            best, best_score = unserved
        elif served is not None:
            best, best_score = served
        else:
            return LanguageGuess(UNDETERMINED, 0.0)
        others = [s for c, s in ranked[:8] if c != best]
        peak = max(best_score, *others) if others else best_score
        total = sum(math.exp(x - peak) for x in others) + math.exp(best_score - peak)
        confidence = math.exp(best_score - peak) / total
        if best_score <= 0.0:
            confidence *= 0.5  # only the n-gram profile speaks for it: a guess, and it says so
        return LanguageGuess(best, round(confidence, 4))


def _no_rows(word: str) -> tuple[int, ...]:
    return ()


def _base_code(code: str) -> str:
    """ "en-US" / "pt_BR" / "ZH-hans" → "en" / "pt" / "zh"."""
    return re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]


def _looks_like_code(item: str) -> bool:
    return bool(re.fullmatch(r"[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})?", item.strip())) and (
        _base_code(item) in SERVED or _base_code(item) == UNDETERMINED or len(item.strip()) == 2
    )
