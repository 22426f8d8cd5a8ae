"""Crisis detection: does a message need emergency help now?

Per-language regular expressions (`lexicons/crisis-<lang>.yml`) over normalised text, for suicidal
thoughts and self-harm, domestic violence and abuse, a child in danger, a medical emergency, fire
and an immediate threat. Patterns, not a trained model: a missed crisis costs far more than a
needless emergency notice, every pattern can be read and reviewed by a counsellor, and a new
phrasing is fixed by adding a line, not by collecting data.

Each file also has guards: idioms that look like a crisis and are not ("dying to learn Finnish",
"this homework is killing me lol"). A guard removes the words it matches before the patterns run,
so that an idiom next to a real crisis ("... and my husband hits me") still counts.

All languages are checked, the hinted one first: families mix languages, and the language guess
of a short, distressed message can be wrong.
"""

from __future__ import annotations

import functools
import importlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
CATEGORIES: tuple[str, ...] = ("self_harm", "violence", "child", "medical", "fire", "threat")

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ئ": "ي", "ة": "ه", "ؤ": "و", "ک": "ك"}
)
_LATIN_EXTRA = str.maketrans({"ø": "o", "æ": "ae", "ł": "l", "đ": "d", "ı": "i", "ß": "ss"})
_APOSTROPHES = re.compile(r"['’`ʼ´]")
_NON_WORD = re.compile(r"[^\w]+")
_RUN3 = re.compile(r"(\w)\1{2,}")
_SPACES = re.compile(r"\s+")


def _latin_base_letters() -> dict[int, str]:
    """Accented Latin letters → their base letter ("ä" → "a"), as one translation table."""
    table: dict[int, str] = {}
    for low, high in ((0x00C0, 0x024F), (0x1E00, 0x1EFF)):
        for code in range(low, high + 1):
            base = unicodedata.normalize("NFD", chr(code))[0]
            if base != chr(code):
                table[code] = base
    return table


_LATIN_BASE = _latin_base_letters()


def fold(text: str) -> str:
    """Diacritics off Latin letters, Arabic letter variants unified, ё → е. Keeps regex syntax intact."""
    text = unicodedata.normalize("NFC", text).translate(_LATIN_EXTRA).translate(_LATIN_BASE)
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_FOLD)
    return text.replace("ё", "е").replace("Ё", "Е")


def normalise(text: str) -> str:
    """The text the patterns see: folded, lower-case, words separated by single spaces, padded.

    Apostrophes vanish ("don't" → "dont", Somali "go'day" → "goday"), other punctuation and emoji
    become spaces, and letters stretched for emphasis shrink back ("heeelp" → "help").
    """
    text = _RUN3.sub(r"\1", fold(text).lower())
    text = _APOSTROPHES.sub("", text)
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    return f" {_SPACES.sub(' ', text).strip()} "


@dataclass(frozen=True)
class CrisisRules:
    """One language's guards and patterns per category, compiled."""

    language: str
    guards: tuple[re.Pattern[str], ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (category, pattern), in category order

    @classmethod
    def from_file(cls, path: Path) -> CrisisRules:
        # libyaml's loader, where built in, reads these files in a tenth of the time.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        language = str(data.get("language") or path.stem.removeprefix("crisis-"))
        terms = {str(k): _alternatives(v) for k, v in (data.get("terms") or {}).items()}
        guards = tuple(_compile(p, path, terms) for p in data.get("guards") or [])
        by_category = data.get("patterns") or {}
        unknown = set(by_category) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"{path.name}: unknown crisis categories {sorted(unknown)}")
        patterns = tuple(
            (category, _compile(p, path, terms)) for category in CATEGORIES for p in by_category.get(category) or []
        )
        return cls(language, guards, patterns)


_TERM = re.compile(r"\{([a-z_]+)\}")


def _alternatives(value: object) -> str:
    """A term is a list of alternatives (or one regex string); `{name}` in a pattern expands to it."""
    if isinstance(value, list):
        return "(?:" + "|".join(str(v) for v in value) + ")"
    return f"(?:{value})"


def _compile(pattern: str, path: Path, terms: dict[str, str]) -> re.Pattern[str]:
    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in terms:
            raise ValueError(f"{path.name}: unknown term {{{name}}} in {pattern!r}")
        return terms[name]

    source = _TERM.sub(expand, str(pattern))
    try:
        # Patterns are normalised like the text: folded and without apostrophes.
        return re.compile(_APOSTROPHES.sub("", fold(source)))
    except re.error as error:
        raise ValueError(f"{path.name}: bad pattern {pattern!r}: {error}") from error


_PREFIX = 3


@functools.lru_cache(maxsize=4096)
def _start_prefixes(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Every string (up to 3 characters) that a match of `pattern` can start with, or None if any.

    The detector runs only the patterns whose possible starts occur in the message: with some
    600 patterns, scanning each one over every message was most of the NLU's time.
    """
    try:
        # The regex parser is internal to `re`; without it the index simply runs every pattern.
        sre_constants = importlib.import_module("re._constants")
        sre_parse = importlib.import_module("re._parser")
    except ImportError:  # pragma: no cover - older or other Pythons
        return None
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - anything unexpected only costs speed
        return None

    def walk(items: list[tuple[object, object]], prefixes: set[str]) -> tuple[set[str], bool]:
        """Extend `prefixes` along `items`; the flag says whether extension may go on after them."""
        for op, arg in items:
            if all(len(p) >= _PREFIX for p in prefixes):
                return prefixes, False
            if op is sre_constants.AT:
                continue  # zero-width: \b, ^
            if op is sre_constants.LITERAL:
                prefixes = {p + chr(arg) if len(p) < _PREFIX else p for p in prefixes}  # type: ignore[arg-type]
                continue
            if op is sre_constants.SUBPATTERN:
                prefixes, go_on = walk(list(arg[-1]), prefixes)  # type: ignore[index]
                if not go_on:
                    return prefixes, False
                continue
            if op is sre_constants.BRANCH:
                merged: set[str] = set()
                go_on = True
                for branch in arg[1]:  # type: ignore[index]
                    extended, branch_go_on = walk(list(branch), set(prefixes))
                    merged |= extended
                    go_on = go_on and branch_go_on
                if not go_on:
                    return merged, False
                prefixes = merged
                continue
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                low: int = arg[0]  # type: ignore[index]
                body: list[tuple[object, object]] = list(arg[2])  # type: ignore[index]
                if low >= 1:
                    prefixes, _ = walk(body, prefixes)
                return prefixes, False
            return prefixes, False  # a character class, a category, any character: stop here
        return prefixes, True

    prefixes, _ = walk(list(parsed), {""})
    if not prefixes or "" in prefixes:
        return None
    return frozenset(prefixes)


@dataclass(frozen=True)
class _Indexed:
    """Patterns (in their order) with an index from possible match starts to pattern numbers."""

    patterns: tuple[tuple[str, str, re.Pattern[str]], ...]  # (category, language, pattern)
    by_start: dict[str, tuple[int, ...]]
    always: tuple[int, ...]

    @classmethod
    def build(cls, patterns: list[tuple[str, str, re.Pattern[str]]]) -> _Indexed:
        by_start: dict[str, list[int]] = {}
        always: list[int] = []
        for number, (_, _, pattern) in enumerate(patterns):
            starts = _start_prefixes(pattern)
            if starts is None:
                always.append(number)
                continue
            for start in starts:
                by_start.setdefault(start, []).append(number)
        return cls(tuple(patterns), {k: tuple(v) for k, v in by_start.items()}, tuple(always))

    def candidates(self, text: str) -> list[int]:
        """Numbers of the patterns that could match somewhere in `text`, in pattern order."""
        found: set[int] = set(self.always)
        index = self.by_start
        grams = {text[i : i + n] for n in range(1, _PREFIX + 1) for i in range(len(text) - n + 1)}
        for gram in grams.intersection(index):
            found.update(index[gram])
        return sorted(found)


class CrisisDetector:
    """Flags messages that need emergency information at once, in all served languages."""

    def __init__(self, lexicon_dir: Path = LEXICON_DIR) -> None:
        files = sorted(lexicon_dir.glob("crisis-*.yml"))
        self.rules: dict[str, CrisisRules] = {}
        for path in files:
            rules = CrisisRules.from_file(path)
            self.rules[rules.language] = rules
        # Guards of every language apply to every message: an idiom is an idiom in a mixed message.
        self._guards = _Indexed.build([("guard", r.language, g) for r in self.rules.values() for g in r.guards])
        self._by_hint: dict[str | None, _Indexed] = {}

    def is_crisis(self, text: str, language: str | None = None) -> bool:
        """True when the message needs emergency help now; the hinted language is checked first."""
        return self.category(text, language) is not None

    def category(self, text: str, language: str | None = None) -> str | None:
        """ "self_harm" | "violence" | "child" | "medical" | "fire" | "threat", or None."""
        match = self.match(text, language)
        return match[0] if match else None

    def match(self, text: str, language: str | None = None) -> tuple[str, str, str] | None:
        """(category, language of the pattern, the matched words), or None: for tests and review."""
        if not text or not text.strip():
            return None
        normalised = normalise(text)
        for number in self._guards.candidates(normalised):
            normalised = self._guards.patterns[number][2].sub(" ", normalised)
        hint = (language or "").split("-")[0].lower() or None
        indexed = self._by_hint.get(hint)
        if indexed is None:
            ordered = [(c, r.language, p) for r in self._ordered(hint) for c, p in r.patterns]
            indexed = self._by_hint[hint] = _Indexed.build(ordered)
        for number in indexed.candidates(normalised):
            category, pattern_language, pattern = indexed.patterns[number]
            found = pattern.search(normalised)
            if found:
                return category, pattern_language, found.group(0).strip()
        return None

    def _ordered(self, language: str | None) -> list[CrisisRules]:
        hinted = self.rules.get((language or "").split("-")[0].lower())
        rest = [rules for rules in self.rules.values() if rules is not hinted]
        return [hinted, *rest] if hinted else rest
