"""The town a family names in a message: "when is the meeting in Tornio", "milloin on ryhmä Tervolassa",
"وين الاجتماع في كيمي", "когда встреча в Кеми".

Built from data only: the municipality names of `content/groups.yml` in all six languages, the file's
`also_written:` spellings, and the Finnish case endings after the Finnish name (Kemissä, Kemiin, Torniosta).
A town added to the file is recognised without a change here.

Whole words only: "Kemijärvi", "Keminmaa" and "kemia" (chemistry) name no town here, and "Ylitornio" is not
Tornio. A longer name wins over a name inside it: "Yli-Tornio" (two words) is Ylitornio when the file lists that
spelling, not Ylitornio and Tornio. Between two towns, one written as its name and one only through a Finnish
case ending, the name wins: in "Simon from Tornio", "Simon" is a person before it is Simo's genitive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.nlu.intents import normalize, strip_diacritics

# Finnish case endings (folded: "ssä" is written "ssa") and clitics that may follow a Finnish town name.
# The bare partitive -a/-ä is left out on purpose: "Kemi" + "a" is "kemia" (chemistry), and "kemiä" folds to
# the same letters. The illative repeats the name's last vowel (Kemiin, Tornioon, Tervolaan): see _inflected.
FINNISH_ENDINGS = ("n", "ssa", "sta", "s", "lla", "lta", "lle", "na", "ksi", "ta")
FINNISH_CLITICS = ("", "kin", "kaan", "han", "ko", "pa")
# One-letter Arabic prepositions and conjunctions written together with the next word: بكيمي "in Kemi",
# لتورنيو "to Tornio", وكيمي "and Kemi".
ARABIC_PROCLITICS = ("و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل")
VOWELS = frozenset("aeiouy")
# A spelling that ends with "-" in the file is a Finnish stem: the endings follow it (Rovanieme-: Rovaniemellä).
STEM_MARK = "-"

WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without diacritics or Arabic letter variants: "Kemissä" → "kemissa", "كيمى" → "كيمي".

    The intent model's normalisation, so a town is spelt the way the NLU reads the rest of the message."""
    return strip_diacritics(normalize(text))


def words(text: str) -> list[str]:
    """The folded words of `text`; punctuation, hyphens and apostrophes separate words."""
    return WORD.findall(fold(text))


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in word)


def _inflected(stem: str) -> set[str]:
    """A Finnish stem with its case endings and clitics, the stem itself included."""
    endings = set(FINNISH_ENDINGS)
    if stem[-1:] in VOWELS:
        endings.add(stem[-1] + "n")  # illative: Kemi → Kemiin, Tornio → Tornioon
    forms = {stem + ending for ending in ("", *endings)}
    return {form + clitic for form in forms for clitic in FINNISH_CLITICS}


@dataclass(frozen=True)
class TownNames:
    """Every way of writing each town, as sequences of word choices: a name of several words matches the
    same number of words in a row, each one of the choices at its place."""

    # (word choices, key, the last word's uninflected spellings)
    forms: tuple[tuple[tuple[frozenset[str], ...], str, frozenset[str]], ...] = field(default=())

    @classmethod
    def build(
        cls, municipalities: Mapping[str, Mapping[str, str]], spellings: Mapping[str, Iterable[str]] | None = None
    ) -> TownNames:
        """From the file's names (key → language → name) and its other spellings (key → spellings)."""
        forms: list[tuple[tuple[frozenset[str], ...], str, frozenset[str]]] = []
        for key, names in municipalities.items():
            written = [(name, language == "fi") for language, name in names.items()]
            for spelling in (spellings or {}).get(key, ()):
                spelling = spelling.strip()
                written.append((spelling.rstrip(STEM_MARK), spelling.endswith(STEM_MARK)))
            for name, finnish in written:
                choices = [{part} for part in words(name)]
                if not choices:
                    continue
                last = next(iter(choices[-1]))
                bases = frozenset(choices[-1])
                if finnish and not _is_arabic(last):
                    choices[-1] |= _inflected(last)
                first = next(iter(choices[0]))
                if _is_arabic(first):
                    choices[0] |= {prefix + first for prefix in ARABIC_PROCLITICS}
                    if len(choices) == 1:
                        bases = frozenset(choices[0])  # "بكيمي" (in Kemi) is the name as written
                form = (tuple(frozenset(choice) for choice in choices), key, bases)
                if form not in forms:
                    forms.append(form)
        return cls(tuple(forms))

    def _spans(self, text: str) -> list[tuple[int, int, str, bool]]:
        """(start, end, key, as written) of every town name in `text`; "as written": not through a Finnish
        case ending. A name inside a longer one counts only as the longer one."""
        tokens = words(text)
        spans: list[tuple[int, int, str, bool]] = []
        for choices, key, bases in self.forms:
            for start in range(len(tokens) - len(choices) + 1):
                if all(tokens[start + i] in choice for i, choice in enumerate(choices)):
                    spans.append((start, start + len(choices), key, tokens[start + len(choices) - 1] in bases))
        return [
            span
            for span in spans
            if not any(s <= span[0] and span[1] <= e and e - s > span[1] - span[0] for s, e, _, _ in spans)
        ]

    def named(self, text: str) -> set[str]:
        """The keys of every town that `text` names."""
        return {key for _, _, key, _ in self._spans(text)}

    def find(self, text: str) -> str | None:
        """The one town that `text` names; None when it names none, or several ("Kemi or Tornio?"). Of several,
        the one town written as its name beside others only inflected ("Simon from Tornio") is that one."""
        spans = self._spans(text)
        found = {key for _, _, key, _ in spans}
        if len(found) > 1:
            found = {key for _, _, key, written in spans if written}
        return found.pop() if len(found) == 1 else None
