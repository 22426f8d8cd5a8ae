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

Each file may also list `checks:`, distress that is not by itself a crisis ("I can't go on anymore",
"en jaksa enää", "siwezi kuendelea tena"): such a message is answered as usual, and the bot adds its
safety question (are you safe right now? 112, and a button for help now). A crisis pattern of any
language wins over a check.

Speed: the detector indexes every pattern by literal strings one of which any text it matches
must contain, and runs (and compiles) only the patterns whose strings occur in the message. The
index is cached on disk next to the NLU models, keyed by the lexicon files and this module, so
that a start neither parses the YAML nor compiles some 700 regular expressions.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import importlib
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.nlu import model_cache

log = logging.getLogger(__name__)

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
CATEGORIES: tuple[str, ...] = ("self_harm", "violence", "child", "medical", "fire", "threat")
CHECK = "check"  # the index's category of a `checks:` entry: not a crisis, a reason to ask

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
    """One language's guards and patterns per category, compiled (which also checks them)."""

    language: str
    guards: tuple[re.Pattern[str], ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (category, pattern), in category order
    checks: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_file(cls, path: Path) -> CrisisRules:
        """Read one lexicon; an unknown category or term, or a bad regex, raises ValueError naming it."""
        import yaml  # not at module level: a start from the cached index reads no YAML

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
        checks = tuple(_compile(p, path, terms) for p in data.get("checks") or [])
        return cls(language, guards, patterns, checks)


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


def load_rules(lexicon_dir: Path = LEXICON_DIR) -> dict[str, CrisisRules]:
    """Every language's rules from `crisis-*.yml`, by language, in file-name order; checked."""
    rules: dict[str, CrisisRules] = {}
    for path in _lexicon_files(lexicon_dir):
        loaded = CrisisRules.from_file(path)
        rules[loaded.language] = loaded
    return rules


def _lexicon_files(lexicon_dir: Path) -> list[Path]:
    return sorted(lexicon_dir.glob("crisis-*.yml"))


# --------------------------------------------------------------------------------------------
# The index: which patterns can match a given text at all

_GRAM = 3  # literal strings are at least this long where that is possible ...
_KEY = 5  # ... and indexed by up to this many of their first characters
_PREFIX_MAX = 24  # a literal string longer than this is precise enough
_PREFIXES_MAX = 64  # alternatives per string; with more, they are cut shorter
# Stands for "a word starts here" (a \b before a letter) while a prefix is still empty.
_WORD_START = "\x00"
_WORD_CHAR = re.compile(r"\w")


class _TooMany(Exception):
    """A pattern has more literal starts than are worth listing in full."""


def _required_strings(source: str) -> tuple[str, ...] | None:
    r"""Literal strings one of which every text that `source` matches contains; None if there are none.

    With some 600 patterns, running each over every message was most of the NLU's time, and
    compiling them all most of its start-up: the detector compiles and runs only the patterns one
    of whose required strings occurs in the message. The strings are the literal start of some
    part that every match goes through (the whole pattern, the rest after a `\d+`, each branch of
    an alternation ...), whichever is most selective. A literal start runs until the first wide
    character class, repeat or look-around (at most `_PREFIX_MAX` characters); alternations,
    optional parts and classes of a few characters give one string per way through.

    A `\b` before a letter becomes a leading space ("\bhe" → " he", which "the" does not
    contain): in normalised text every word is preceded by a space (see `normalise`; guards
    replace what they match by a space, which keeps that true).
    """
    try:
        # The regex parser is internal to `re`; without it every pattern is simply always run.
        sre_constants = importlib.import_module("re._constants")
        sre_parse = importlib.import_module("re._parser")
    except ImportError:  # pragma: no cover - older or other Pythons
        return None
    try:
        parsed = sre_parse.parse(source)
    except Exception:  # pragma: no cover - compiled already, so anything here only costs speed
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None  # its literals need not be the characters it matches
    required = _required(_plain(parsed, sre_constants), sre_constants)
    return tuple(sorted(required)) if required else None


_TEXT = "text"  # pseudo-opcode of `_plain`: a run of literal characters, as one string


def _plain(parsed: Any, sre: Any) -> list[tuple[Any, Any]]:
    """The parsed regex as plain lists, with runs of literals joined: the parser's own objects
    are slow to index, and the walks below visit every part many times."""
    items: list[tuple[Any, Any]] = []
    for op, arg in parsed:
        if op is sre.LITERAL and items and items[-1][0] == _TEXT:
            items[-1] = (_TEXT, items[-1][1] + chr(arg))
            continue
        if op is sre.LITERAL:
            op, arg = _TEXT, chr(arg)
        elif op is sre.BRANCH:
            arg = (arg[0], [_plain(branch, sre) for branch in arg[1]])
        elif op is sre.SUBPATTERN:
            arg = (*arg[:-1], _plain(arg[-1], sre))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            arg = (arg[0], arg[1], _plain(arg[2], sre))
        items.append((op, arg))
    return items


def _required(items: list[tuple[Any, Any]], sre: Any) -> set[str] | None:
    """The most selective set of strings one of which every match of the sequence `items` contains."""
    options: list[set[str]] = []
    for position, (op, arg) in enumerate(items):
        # Every match of the sequence goes through each of its items: the literal start of the
        # rest from here on, or what an item itself requires, must occur. After a literal or a
        # `\b` the rest is only ever a shorter, less telling version of the start before it.
        if position == 0 or items[position - 1][0] not in (_TEXT, sre.AT):
            starts = _starts(items[position:], sre)
            if starts:
                options.append(starts)
        inner: set[str] | None = None
        if op is sre.BRANCH:
            per_branch = [_required(branch, sre) for branch in arg[1]]
            if all(per_branch):
                inner = set().union(*per_branch)  # type: ignore[arg-type]
        elif op is sre.SUBPATTERN and not arg[1] & re.IGNORECASE:
            inner = _required(arg[-1], sre)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and arg[0] >= 1:
            inner = _required(arg[2], sre)
        if inner:
            options.append(inner)
    # Longer strings are rarer in messages; of equally long ones, fewer alternatives are cheaper.
    return max(options, key=lambda strings: (min(map(len, strings)), -len(strings)), default=None)


def _starts(items: list[tuple[Any, Any]], sre: Any) -> set[str] | None:
    """The literal strings every match of the sequence `items` starts with; None if it may start anywhere."""
    # Long alternations multiply: shorter prefixes are fewer, and the first three characters of
    # all alternatives are always few enough (and still selective).
    for longest in (_PREFIX_MAX, 12, 8, 6, 4, _GRAM):
        try:
            prefixes = _literal_starts(items, sre, longest, None if longest == _GRAM else _PREFIXES_MAX)
            break
        except _TooMany:
            continue
    if not prefixes or "" in prefixes or _WORD_START in prefixes:
        return None
    return prefixes


def _literal_starts(items: list[tuple[Any, Any]], sre: Any, longest: int, most: int | None) -> set[str]:
    """The prefixes (up to `longest` characters) of a `_plain` regex; _TooMany past `most` of them."""

    def extend(prefixes: set[str], continuations: Iterable[str]) -> set[str]:
        extended = {_extended(p, c)[: max(longest, len(p))] for p in prefixes for c in continuations}
        if most is not None and len(extended) > most:
            raise _TooMany
        return extended

    def walk(items: list[tuple[Any, Any]], prefixes: set[str]) -> tuple[set[str], bool]:
        """Extend `prefixes` along `items`; the flag says whether extension may go on after them."""
        for op, arg in items:
            if all(len(p) >= longest for p in prefixes):
                return prefixes, False
            if op is sre.AT:
                if arg is sre.AT_BOUNDARY:
                    prefixes = {p or _WORD_START for p in prefixes}
                continue  # zero-width: \b, ^
            if op == _TEXT:
                prefixes = extend(prefixes, (arg,))
                continue
            if op is sre.IN and all(o is sre.LITERAL for o, _ in arg):
                prefixes = extend(prefixes, [chr(a) for _, a in arg])  # "e[in]" is the parser's "ei|en"
                continue
            if op is sre.SUBPATTERN:
                if arg[1] & re.IGNORECASE:
                    return prefixes, False  # (?i:...)
                prefixes, go_on = walk(arg[-1], prefixes)
                if not go_on:
                    return prefixes, False
                continue
            branches: list[list[tuple[Any, Any]]] = []
            if op is sre.BRANCH:
                branches = arg[1]
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and arg[0] == 0 and arg[1] == 1:
                branches = [arg[2], []]  # optional: it, or nothing
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and arg[0] >= 1:
                prefixes, _ = walk(arg[2], prefixes)  # at least once: its start is the start
                return prefixes, False
            if not branches:
                return prefixes, False  # a wider class, a category, a look-around: stop here
            merged: set[str] = set()
            go_on = True
            for branch in branches:
                extended, branch_go_on = walk(branch, set(prefixes))
                merged |= extended
                go_on = go_on and branch_go_on
            if most is not None and len(merged) > most:
                raise _TooMany
            if not go_on:
                return merged, False
            prefixes = merged
        return prefixes, True

    prefixes, _ = walk(items, {""})
    return prefixes


def _extended(prefix: str, text: str) -> str:
    if prefix == _WORD_START:
        return " " + text if _WORD_CHAR.match(text) else text
    return prefix + text


@dataclass(frozen=True)
class _Index:
    """Every guard and pattern as regex source, with an index from required strings to entries.

    Entries are the guards of all languages, then the patterns: languages in detector order, each
    language's patterns in category order. Only strings, numbers and containers, so that it loads
    from the cache without compiling a single regex.
    """

    key: str  # the cache key it was built for
    languages: tuple[str, ...]
    sources: tuple[str, ...]
    categories: tuple[str, ...]  # "guard" for a guard
    entry_languages: tuple[str, ...]
    guard_count: int
    by_key: dict[str, tuple[tuple[int, str], ...]]  # a string's first `_KEY` characters → (entry, string)
    keys: frozenset[str]  # the keys of by_key of `_GRAM` characters or more ...
    key_lengths: tuple[int, ...]  # ... and their lengths
    short_keys: tuple[str, ...]  # keys shorter than `_GRAM`: looked for one by one
    always: tuple[int, ...]  # entries without a required string: run on every message

    @classmethod
    def build(cls, key: str, rules: Iterable[CrisisRules]) -> _Index:
        ordered = list(rules)
        entries = [("guard", r.language, g.pattern) for r in ordered for g in r.guards]
        guard_count = len(entries)
        entries += [(category, r.language, p.pattern) for r in ordered for category, p in r.patterns]
        entries += [(CHECK, r.language, p.pattern) for r in ordered for p in r.checks]
        by_key: dict[str, list[tuple[int, str]]] = {}
        always: list[int] = []
        for number, (_, _, source) in enumerate(entries):
            strings = _required_strings(source)
            if strings is None:
                always.append(number)
                continue
            for string in strings:
                by_key.setdefault(string[:_KEY], []).append((number, string))
        keys = frozenset(k for k in by_key if len(k) >= _GRAM)
        return cls(
            key=key,
            languages=tuple(r.language for r in ordered),
            sources=tuple(source for _, _, source in entries),
            categories=tuple(category for category, _, _ in entries),
            entry_languages=tuple(language for _, language, _ in entries),
            guard_count=guard_count,
            by_key={k: tuple(items) for k, items in by_key.items()},
            keys=keys,
            key_lengths=tuple(sorted({len(k) for k in keys})),
            short_keys=tuple(sorted(k for k in by_key if len(k) < _GRAM)),
            always=tuple(always),
        )

    def candidates(self, text: str) -> list[int]:
        """Numbers of the entries that could match somewhere in `text`, in entry order."""
        found = set(self.always)
        size = len(text)
        hits = [k for k in self.short_keys if k in text]
        for length in self.key_lengths:
            # Every substring of this length, sliced in C (map over slice objects), not in a Python loop.
            hits.extend(self.keys.intersection(map(text.__getitem__, map(slice, range(size), range(length, size + 1)))))
        by_key = self.by_key
        for k in hits:
            for number, string in by_key[k]:
                if number not in found and string in text:
                    found.add(number)
        return sorted(found)

    def in_order(self, numbers: list[int], hint: str | None) -> list[int]:
        """Pattern entries with the hinted language's first, each part in entry order."""
        if hint not in self.languages:
            return numbers
        languages = self.entry_languages
        return [n for n in numbers if languages[n] == hint] + [n for n in numbers if languages[n] != hint]


# --------------------------------------------------------------------------------------------
# Cache

_CACHE_FORMAT = 1


def _cache_key(files: Iterable[Path]) -> str:
    """A hash of the lexicon files, this module's source and the Python version (its regex parser)."""
    digest = hashlib.sha256()
    digest.update(f"format={_CACHE_FORMAT};python={sys.version_info[:2]};".encode())
    digest.update(Path(__file__).read_bytes())
    for path in files:
        digest.update(f"{path.name}:".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


class CrisisDetector:
    """Flags messages that need emergency information at once, in all served languages.

    With a `cache_dir` the index of the lexicons is kept on disk (keyed by their content), and a
    start reads it instead of parsing and compiling every pattern; patterns are then compiled
    when a message first makes them a candidate. Without one, the lexicons are read every time.
    Either way a lexicon that fails its checks raises at construction: an index is only ever
    written for lexicons that passed them.
    """

    def __init__(self, lexicon_dir: Path = LEXICON_DIR, *, cache_dir: Path | None = None) -> None:
        self._lexicon_dir = lexicon_dir
        files = _lexicon_files(lexicon_dir)
        key = _cache_key(files)
        path = model_cache.path_for(cache_dir, "crisis-index", key) if cache_dir is not None else None

        def build() -> _Index:
            rules = load_rules(lexicon_dir)
            self.__dict__["rules"] = rules  # read and compiled already: `rules` need not do it again
            return _Index.build(key, rules.values())

        index, _ = model_cache.load_or_build(path, _Index, build, what="crisis index")
        self._index = index
        # Filled on first use; two threads compiling the same pattern at once only do it twice.
        self._compiled: list[re.Pattern[str] | None] = [None] * len(index.sources)

    @functools.cached_property
    def rules(self) -> dict[str, CrisisRules]:
        """Each language's guards and patterns, compiled from the files: for tests and review."""
        return load_rules(self._lexicon_dir)

    def is_crisis(self, text: str, language: str | None = None) -> bool:
        """True when the message needs emergency help now; the hinted language is checked first."""
        return self.category(text, language) is not None

    def category(self, text: str, language: str | None = None) -> str | None:
        """ "self_harm" | "violence" | "child" | "medical" | "fire" | "threat", or None."""
        match = self.match(text, language)
        return match[0] if match else None

    def match(self, text: str, language: str | None = None) -> tuple[str, str, str] | None:
        """(category, language of the pattern, the matched words), or None: for tests and review."""
        return self.scan(text, language)[0]

    def scan(self, text: str, language: str | None = None) -> tuple[tuple[str, str, str] | None, bool]:
        """`match`, and whether a `checks:` entry matched (only when no crisis pattern did)."""
        if not text or not text.strip():
            return None, False
        index = self._index
        normalised = normalise(text)
        numbers = index.candidates(normalised)
        first_pattern = bisect.bisect_left(numbers, index.guard_count)
        # Guards of every language apply to every message: an idiom is an idiom in a mixed message.
        guarded = normalised
        for number in numbers[:first_pattern]:
            guarded = self._pattern(number).sub(" ", guarded)
        if guarded != normalised:
            numbers = index.candidates(guarded)
            first_pattern = bisect.bisect_left(numbers, index.guard_count)
        hint = (language or "").split("-")[0].lower() or None
        close = False
        for number in index.in_order(numbers[first_pattern:], hint):
            category = index.categories[number]
            if category == CHECK:
                close = close or self._pattern(number).search(guarded) is not None
                continue
            found = self._pattern(number).search(guarded)
            if found:
                return (category, index.entry_languages[number], found.group(0).strip()), False
        return None, close

    def _pattern(self, number: int) -> re.Pattern[str]:
        pattern = self._compiled[number]
        if pattern is None:
            pattern = self._compiled[number] = re.compile(self._index.sources[number])
        return pattern
