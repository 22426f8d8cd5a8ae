"""Which of a topic's sections a message's own words point to: one intent, "work and studies", covers two
sections, and "I want to study Finnish" means the language section, "etsin töitä" the work section.

The words are data: `guide.choose_words.<section id>` in `content/strings/guide.<lang>.yml`, comma-separated
and never shown. An entry is a word ("cv"), a stem ending in "*" that matches every word beginning with it
("opiskel*": opiskella, opiskelemaan; "финск*": финский, финского, финскому), or words in a row, each of which
may be a stem ("te-toimisto*"). Entries and messages are compared in the intent model's normalisation (`fold`:
lower case, no diacritics, Arabic letter variants folded), so "työ" matches "tyo" too. An Arabic word is also
tried without the conjunction, preposition, future marker or article written onto it ("واللغة", "بالفنلندي",
"للعمل"), so entries name the bare word ("لغة").

Every language's words count whatever language the family chose: families mix them ("suomen kurssi" in an
Arabic chat). A message points to a section when it has that section's words and none of the other sections'
of the same choice; with both or neither, the family picks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.texts import Texts
from bot.features.groups.towns import words
from bot.settings import SERVED_LANGUAGES

CHOOSE_WORDS = "guide.choose_words"
STEM_MARK = "*"
MIN_STEM = 3  # a shorter stem begins too many unrelated words
# Written onto an Arabic word: a conjunction (و, ف), then a preposition with or without the article, the
# future marker or the article alone. Each that fits is tried: "للغة" (for the language) is ل + اللغة with the
# article's lam merged into the word's, so it is "لغة" without "ل", not without "لل".
ARABIC_CONJUNCTIONS = ("و", "ف")
ARABIC_PROCLITICS = ("بال", "كال", "لل", "ال", "ب", "ل", "ك", "س")
ARABIC_MIN_REST = 2


@dataclass(frozen=True)
class Part:
    """One word of an entry: the folded word, or a stem that any word beginning with it matches."""

    text: str
    stem: bool

    def matches(self, word: str) -> bool:
        return word.startswith(self.text) if self.stem else word == self.text


Entry = tuple[Part, ...]


def parse_entry(raw: str) -> Entry | None:
    """An entry of a `guide.choose_words` list as folded parts; None if it is not a word, a stem of at least
    MIN_STEM letters, or words in a row."""
    parts: list[Part] = []
    for chunk in raw.split():
        stem = chunk.endswith(STEM_MARK)
        core = chunk.removesuffix(STEM_MARK)
        folded = words(core)
        if not folded or STEM_MARK in core:
            return None
        parts.extend(Part(word, False) for word in folded[:-1])
        parts.append(Part(folded[-1], stem))
    if not parts or any(part.stem and len(part.text) < MIN_STEM for part in parts):
        return None
    return tuple(parts)


def _is_arabic(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff"


def word_forms(word: str) -> frozenset[str]:
    """`word`, and for an Arabic word the word without what is written onto it: "واللغه" → "اللغه", "لغه"."""
    if not _is_arabic(word):
        return frozenset({word})
    bases = [word]
    if word[0] in ARABIC_CONJUNCTIONS and len(word) - 1 >= ARABIC_MIN_REST:
        bases.append(word[1:])
    for rest in list(bases):
        bases.extend(
            rest[len(clitic) :]
            for clitic in ARABIC_PROCLITICS
            if rest.startswith(clitic) and len(rest) - len(clitic) >= ARABIC_MIN_REST
        )
    return frozenset(bases)


def message_words(text: str) -> list[frozenset[str]]:
    """The folded words of a message, each with its other forms (Arabic without proclitics)."""
    return [word_forms(word) for word in words(text)]


def contains(found: Sequence[frozenset[str]], entry: Entry) -> bool:
    """Whether the message's words hold `entry`'s parts in a row."""
    width = len(entry)
    return any(
        all(any(part.matches(form) for form in found[start + i]) for i, part in enumerate(entry))
        for start in range(len(found) - width + 1)
    )


@dataclass(frozen=True)
class SectionWords:
    """The entries of every section that shares an intent with another, all six languages together."""

    entries: dict[str, tuple[Entry, ...]]  # section id → entries
    problems: tuple[str, ...] = ()

    @classmethod
    def build(cls, texts: Texts, choices: Iterable[Sequence[str]]) -> SectionWords:
        """From `guide.choose_words.<id>` of the sections in `choices` (each the sections one intent covers).

        `problems` names a missing list, a bad entry, and an entry that would point to two sections of one
        choice (those the content check reports)."""
        choices = [tuple(choice) for choice in choices]
        entries: dict[str, tuple[Entry, ...]] = {}
        problems: list[str] = []
        for section_id in dict.fromkeys(section for choice in choices for section in choice):
            key = f"{CHOOSE_WORDS}.{section_id}"
            if not texts.has(key):
                problems.append(f"content/strings/guide.en.yml: {key} is missing: the words that point to it")
                continue
            found: list[Entry] = []
            for language in SERVED_LANGUAGES:
                for raw in texts.get(language, key).split(","):
                    entry = parse_entry(raw)
                    if entry is None:
                        problems.append(
                            f"content/strings/guide.{language}.yml: {key}: {raw.strip()!r} is not a word, "
                            f"a stem of {MIN_STEM} or more letters ending in {STEM_MARK!r}, or words in a row"
                        )
                    elif entry not in found:
                        found.append(entry)
            entries[section_id] = tuple(found)
        built = cls(entries)
        for choice in choices:
            for section_id in choice:
                for entry in entries.get(section_id, ()):
                    sample = " ".join(part.text for part in entry)
                    others = [other for other in built.pointed(sample, choice) if other != section_id]
                    if others:
                        problems.append(
                            f"content/strings: {CHOOSE_WORDS}: {sample!r} ({section_id}) also points to {others}"
                        )
        return cls(entries, tuple(problems))

    def pointed(self, text: str, among: Sequence[str]) -> list[str]:
        """The sections of `among` whose words `text` has, in `among`'s order."""
        found = message_words(text)
        return [
            section_id
            for section_id in among
            if any(contains(found, entry) for entry in self.entries.get(section_id, ()))
        ]

    def choose(self, text: str, among: Sequence[str]) -> str | None:
        """The one section of `among` that `text` points to; None when it points to several or to none."""
        pointed = self.pointed(text, among)
        return pointed[0] if len(pointed) == 1 else None
