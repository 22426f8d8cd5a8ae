"""The town a family names in a message: "when is the meeting in Tornio", "milloin on ryhmä Tervolassa",
"وين الاجتماع في كيمي", "когда встреча в Кеми".

Built from data only: the municipality names of `content/groups.yml` in all six languages, the file's
`also_written:` spellings, and the Finnish case endings after the Finnish name (Kemissä, Kemiin, Torniosta).
A town added to the file is recognised without a change here.

Whole words only: "Kemijärvi", "Keminmaa" and "kemia" (chemistry) name no town here, and "Ylitornio" is not
Tornio. A longer name wins over a name inside it: "Yli-Tornio" (two words) is Ylitornio when the file lists that
spelling, not Ylitornio and Tornio.
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

    forms: tuple[tuple[tuple[frozenset[str], ...], str], ...] = field(default=())

    @classmethod
    def build(
        cls, municipalities: Mapping[str, Mapping[str, str]], spellings: Mapping[str, Iterable[str]] | None = None
    ) -> TownNames:
        """From the file's names (key → language → name) and its other spellings (key → spellings)."""
        forms: list[tuple[tuple[frozenset[str], ...], str]] = []
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
                if finnish and not _is_arabic(last):
                    choices[-1] |= _inflected(last)
                first = next(iter(choices[0]))
                if _is_arabic(first):
                    choices[0] |= {prefix + first for prefix in ARABIC_PROCLITICS}
                form = (tuple(frozenset(choice) for choice in choices), key)
                if form not in forms:
                    forms.append(form)
        return cls(tuple(forms))

    def named(self, text: str) -> set[str]:
        """The keys of every town that `text` names; a name inside a longer one counts only as the longer one."""
        tokens = words(text)
        spans: list[tuple[int, int, str]] = []
        for choices, key in self.forms:
            for start in range(len(tokens) - len(choices) + 1):
                if all(tokens[start + i] in choice for i, choice in enumerate(choices)):
                    spans.append((start, start + len(choices), key))
        return {
            key
            for start, end, key in spans
            if not any(s <= start and end <= e and e - s > end - start for s, e, _ in spans)
        }

    def find(self, text: str) -> str | None:
        """The one town that `text` names; None when it names none, or several ("Kemi or Tornio?")."""
        found = self.named(text)
        return found.pop() if len(found) == 1 else None
