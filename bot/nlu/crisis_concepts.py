"""Cross-lingual concepts (nlu_data/crisis/concepts/<lang>.yml) as features of the crisis model.

The n-gram model of bot/nlu/crisis_model.py learns each language's words from that language's
training messages only, and a crisis phrased with a synonym nobody wrote into the training data looks
new to it. The concept lexicons name, per language, the words of some 70 concepts (dying, a burden, a
rope, not breathing, a slight fever, an exam, a joke...), so a message also carries features such as
"#death_die" that are shared by all six languages: what the model learns about a concept from the
Finnish messages counts for a Somali message that uses a word of it too.

Entries are matched on the crisis lexicons' normalised text: a word, a phrase of a few words, or a
stem ending in "*" that matches any word beginning with it. Arabic attaches conjunctions,
prepositions and the article to the word ("والموت"), so those are also tried without them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.nlu.crisis import normalise

CONCEPT_SUBDIR = "concepts"  # under nlu_data/crisis
FEATURE_PREFIX = "#"  # "#death_die": apart from words ("=") and character n-grams (which hold no "#")
MIN_STEM = 3  # a shorter stem matches too many unrelated words

_ARABIC_FIRST, _ARABIC_LAST = "\u0621", "\u064a"  # hamza … yeh: the letters, after folding
# Proclitics as they are written attached: a conjunction (و, ف), then a preposition, the future marker
# or the article (with or without a preposition). Longest first, so that "بال" is tried before "ب".
_ARABIC_CONJUNCTIONS = ("و", "ف")
_ARABIC_PROCLITICS = ("بال", "لل", "كال", "ال", "ب", "ل", "ك", "س")
_ARABIC_MIN_REST = 2


def concept_files(crisis_dir: Path) -> list[Path]:
    """The concept lexicons, one per language, in a stable order."""
    directory = crisis_dir / CONCEPT_SUBDIR
    return sorted(directory.glob("*.yml")) if directory.is_dir() else []


def _arabic_bases(word: str) -> list[str]:
    """`word` and, for an Arabic word, the word without its attached proclitics."""
    if not _ARABIC_FIRST <= word[0] <= _ARABIC_LAST:
        return [word]
    bases = [word]
    if word[0] in _ARABIC_CONJUNCTIONS and len(word) > _ARABIC_MIN_REST:
        bases.append(word[1:])
    for rest in list(bases):
        for clitic in _ARABIC_PROCLITICS:  # longest first: "بال" leaves "ب" untried
            if rest.startswith(clitic) and len(rest) - len(clitic) >= _ARABIC_MIN_REST:
                bases.append(rest[len(clitic) :])
                break
    return bases


@dataclass(frozen=True)
class ConceptLexicon:
    """Words, stems and phrases of every language, each mapped to the concepts it expresses."""

    words: dict[str, frozenset[str]]
    stems: dict[str, frozenset[str]]
    # By their first two words ("i want"): a common first word alone begins hundreds of phrases.
    phrases: dict[tuple[str, str], tuple[tuple[tuple[str, ...], frozenset[str]], ...]]
    longest_stem: int
    # The first MIN_STEM letters of every stem: most words begin otherwise, and need no stem lookup.
    stem_heads: frozenset[str]

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> ConceptLexicon:
        """Read the lexicons; a file whose concepts differ from the others', or a bad entry, raises ValueError."""
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where built in: ten times faster
        words: dict[str, set[str]] = {}
        stems: dict[str, set[str]] = {}
        phrases: dict[tuple[str, ...], set[str]] = {}
        names: set[str] | None = None
        for path in paths:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
            concepts = data.get("concepts") or {}
            if names is not None and set(concepts) != names:
                differ = sorted(set(concepts) ^ names)
                raise ValueError(f"{path.name}: its concepts differ from the other languages' ({differ[:5]})")
            names = set(concepts)
            for concept, entries in concepts.items():
                if not entries:
                    raise ValueError(f"{path.name}: concept {concept!r} has no entries")
                for entry in map(str, entries):
                    stem = entry.endswith("*")
                    tokens = tuple(normalise(entry.removesuffix("*")).split())
                    if not tokens or (stem and (len(tokens) > 1 or len(tokens[0]) < MIN_STEM)):
                        raise ValueError(f"{path.name}: {concept}: {entry!r} is not a word, a phrase or a stem")
                    if len(tokens) > 1:
                        phrases.setdefault(tokens, set()).add(concept)
                    else:
                        (stems if stem else words).setdefault(tokens[0], set()).add(concept)
        by_start: dict[tuple[str, str], list[tuple[tuple[str, ...], frozenset[str]]]] = {}
        for tokens, concepts_of_phrase in phrases.items():
            by_start.setdefault((tokens[0], tokens[1]), []).append((tokens, frozenset(concepts_of_phrase)))
        return cls(
            words={w: frozenset(c) for w, c in words.items()},
            stems={s: frozenset(c) for s, c in stems.items()},
            phrases={start: tuple(p) for start, p in by_start.items()},
            longest_stem=max(map(len, stems), default=0),
            stem_heads=frozenset(stem[:MIN_STEM] for stem in stems),
        )

    def concepts(self, words: list[str]) -> set[str]:
        """The concepts that the (normalised) words of a message express."""
        found: set[str] = set()
        for word in words:
            for base in _arabic_bases(word):
                hit = self.words.get(base)
                if hit:
                    found |= hit
                if base[:MIN_STEM] in self.stem_heads:
                    for end in range(MIN_STEM, min(len(base), self.longest_stem) + 1):
                        hit = self.stems.get(base[:end])
                        if hit:
                            found |= hit
        for position, start in enumerate(itertools.pairwise(words)):
            for tokens, concepts_of_phrase in self.phrases.get(start, ()):
                if len(tokens) == 2 or tuple(words[position : position + len(tokens)]) == tokens:
                    found |= concepts_of_phrase
        return found

    def features(self, words: list[str]) -> list[str]:
        """The concepts of a message as model features."""
        return [FEATURE_PREFIX + concept for concept in self.concepts(words)]
