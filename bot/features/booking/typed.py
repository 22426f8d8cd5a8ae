"""Typed answers to the booking's questions, matched to the buttons on offer: "Kemissä", "في كيمي", "by phone",
"tiistaina", "1.12.", "tomorrow", "klo 10", "١٠:٣٠", "عربي".

Pure functions of the text and of what the step offers. `day_named` and `time_named` return one offered choice or
None; `read_day` and `read_time` also say whether the text is a day or a time at all, so that a day that is on
offer several times (two Tuesdays) or not at all ("Monday", "9:15") keeps the family at the step with its buttons,
while text that names no day or time ("I want to cancel") goes to the intent model as before.

Weekday and month names come from `bot.timefmt`, the forms that dates print; the other ways families write a
day ("tiistaina", "в среду", "Talaadada"), "today", "tomorrow" and "by phone" are data in
`content/strings/booking.<lang>.yml` (`booking.typed.*`, comma-separated). Every language's words are understood
whatever language the family chose: families mix them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Generic, Protocol, TypeVar

from bot.core.engine import INTENT_THRESHOLD
from bot.core.phones import ascii_digits
from bot.core.texts import LANGUAGE_WORDS, Texts, language_named
from bot.features.booking.service import TOPICS
from bot.features.groups.towns import ARABIC_PROCLITICS, fold
from bot.settings import SERVED_LANGUAGES
from bot.timefmt import MONTHS, WEEKDAYS, WEEKDAYS_SHORT

# Monday first, as `date.weekday()` counts; the keys of `booking.typed.weekday.*`.
WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TYPED = "booking.typed"
# A typed answer is short. A longer message that the intent model reads confidently as something else
# ("can I change my Tuesday meeting to another day") is left to it.
SHORT_ANSWER_WORDS = 4
MAX_ANSWER_WORDS = 8
ANSWER_INTENTS = frozenset({"book_guidance", "affirm", "out_of_scope", "greet", "thanks"})
# Asked for even in a few words ("cancel Tuesday", "talk to a person"): never taken as an answer. Other
# confident intents are not trusted on bare answers: the model reads "14:00" as a family topic, and "الأربعاء"
# (Wednesday) as a wish to change the language.
AWAY_INTENTS = frozenset({"cancel_booking", "human_handoff", "privacy_delete"})
# A time: 10:30, 10.30, ١٠٫٣٠ (the Arabic decimal separator). Not part of a date such as 1.12.2026.
CLOCK = re.compile(r"(?<![\d.:])(\d{1,2})[:.](\d{2})(?![.:]?\d)(\s*[ap]\.?\s?m\b\.?)?", re.IGNORECASE)
# Not a digit inside a word: Arabizi writes letters with digits ("sa3a", the hour, is not 3 o'clock).
HOUR = re.compile(r"(?<![\w.:])(\d{1,2})(?![\d]|[.:]\d)(\s*[ap]\.?\s?m\b\.?)?", re.IGNORECASE)
# A date: 1.12., 1.12, 1/12, 1.12.2026, and ISO 2026-12-01.
DAY_MONTH = re.compile(r"(?<![\d.:/])(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2}))?(?![\d:]|[./]\d)")
ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
ORDINAL = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$")
WORD = re.compile(r"[^\W_]+")
# The Finnish short weekdays ("ti 1.12.") are also common words ("to", "la", "su"): a day only alone or
# with a date.
FINNISH_SHORT = {fold(name): day for day, name in enumerate(WEEKDAYS_SHORT["fi"])}
ENGLISH = "en"
ENGLISH_MONTHS = {fold(name): month + 1 for month, name in enumerate(MONTHS[ENGLISH])}
NOON = 12
Choice = TypeVar("Choice")


class Understood(Protocol):
    """What the engine's NLU said about the message (`bot.nlu.pipeline.Understanding`)."""

    @property
    def intent(self) -> str: ...

    @property
    def intent_confidence(self) -> float: ...


@dataclass(frozen=True)
class Reading(Generic[Choice]):
    """What a typed answer says about the options on offer: whether it names a day (or a time) at all, and the
    offered options it fits (none: not offered; several: which one?)."""

    named: bool
    matches: tuple[Choice, ...] = ()

    @property
    def choice(self) -> Choice | None:
        """The one offered option the text names, or None."""
        return self.matches[0] if len(self.matches) == 1 else None


def tokens(text: str) -> list[str]:
    """Folded words (the intent model's normalisation), digits as 0-9."""
    return WORD.findall(fold(ascii_digits(text)))


def _variants(token: str) -> set[str]:
    """A word, and for Arabic the word without a one-letter preposition written onto it ("بالهاتف", "والخميس")."""
    found = {token}
    if any("\u0600" <= ch <= "\u06ff" for ch in token):
        found |= {token[len(p) :] for p in ARABIC_PROCLITICS if token.startswith(p) and len(token) - len(p) > 2}
    return found


def answer_allowed(understanding: Understood | None, text: str) -> bool:
    """Whether `text` may be read as an answer to the step's question rather than left to the intent model."""
    count = len(tokens(text))
    if count == 0 or count > MAX_ANSWER_WORDS:
        return False
    u = understanding
    if u is None or u.intent_confidence < INTENT_THRESHOLD:
        return True
    if u.intent in AWAY_INTENTS:
        return False
    return count <= SHORT_ANSWER_WORDS or u.intent in ANSWER_INTENTS


def asks(text: str) -> bool:
    """A question ("what is Kela?", "ما هي كيلا؟"), not an answer to the step's question."""
    return "?" in text or "؟" in text


def _phrases(listed: Iterable[str]) -> set[tuple[str, ...]]:
    return {tuple(words) for item in listed if (words := tokens(item))}


def _contains(found: list[str], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(
        all(phrase[i] in _variants(found[start + i]) for i in range(width)) for start in range(len(found) - width + 1)
    )


@dataclass(frozen=True)
class TypedWords:
    """The words of `booking.typed.*` in all six languages, with `bot.timefmt`'s day and month names."""

    weekdays: dict[tuple[str, ...], int]
    today: frozenset[tuple[str, ...]]
    tomorrow: frozenset[tuple[str, ...]]
    remote: frozenset[tuple[str, ...]]
    # folded month name as dates print it (any language) → month (1-12); English full names: see _month
    months: dict[str, int]
    problems: tuple[str, ...] = ()
    # the words of a topic button's label in any language, without its emoji ("здоровье") → topic
    topics: dict[tuple[str, ...], str] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: Texts) -> TypedWords:
        def listed(key: str) -> list[str]:
            return [w.strip() for lang in SERVED_LANGUAGES for w in texts.get(lang, f"{TYPED}.{key}").split(",")]

        weekdays: dict[tuple[str, ...], int] = {}
        problems: list[str] = []
        for day, key in enumerate(WEEKDAY_KEYS):
            names = [table[day] for table in WEEKDAYS.values()] + [WEEKDAYS_SHORT[ENGLISH][day]]
            for phrase in _phrases([*names, *listed(f"weekday.{key}")]):
                if weekdays.setdefault(phrase, day) != day:
                    problems.append(f"content/strings: {TYPED}.weekday: {' '.join(phrase)!r} names two weekdays")
        today, tomorrow = _phrases(listed("today")), _phrases(listed("tomorrow"))
        for phrase in (today & tomorrow) | ((today | tomorrow) & set(weekdays)):
            problems.append(f"content/strings: {TYPED}: {' '.join(phrase)!r} names two different days")
        months = {fold(name): month + 1 for table in MONTHS.values() for month, name in enumerate(table)}
        topics: dict[tuple[str, ...], str] = {}
        for topic in TOPICS:
            for lang in SERVED_LANGUAGES:
                phrase = tuple(tokens(texts.get(lang, f"booking.topic.{topic}")))
                if phrase and topics.setdefault(phrase, topic) != topic:
                    problems.append(f"content/strings: booking.topic: {' '.join(phrase)!r} names two topics")
        return cls(
            weekdays,
            frozenset(today),
            frozenset(tomorrow),
            frozenset(_phrases(listed("remote"))),
            months,
            tuple(problems),
            topics,
        )

    # ------------------------------------------------------------------ topic
    def topic_named(self, text: str) -> str | None:
        """The topic whose button label `text` is, in any language and without the emoji ("здоровье" is
        "🏥 Здоровье"), or else the one topic whose label's words it contains ("money problems"); None otherwise."""
        found = tokens(text)
        exact = self.topics.get(tuple(found))
        if exact is not None:
            return exact
        inside = {topic for phrase, topic in self.topics.items() if _contains(found, phrase)}
        return inside.pop() if len(inside) == 1 else None

    # ------------------------------------------------------------------ place
    def remote_named(self, text: str) -> bool:
        """ "by phone", "videolla", "بالهاتف": phone or video instead of a town."""
        found = tokens(text)
        return any(_contains(found, phrase) for phrase in self.remote)

    # ------------------------------------------------------------------ day
    def _month(self, word: str) -> int | None:
        if word in self.months:
            return self.months[word]
        return ENGLISH_MONTHS.get(word[:3]) if word.isascii() and word.isalpha() else None  # "december"

    def _dates(self, text: str, found: list[str]) -> set[tuple[int, int, int | None]]:
        """(day, month, year or None) of every date in the text: 1.12., 2026-12-01, "3 Dec", "3 декабря"."""
        plain = ascii_digits(text)
        dates: set[tuple[int, int, int | None]] = set()
        for match in DAY_MONTH.finditer(plain):
            day, month_number, year = int(match.group(1)), int(match.group(2)), match.group(3)
            if 1 <= day <= 31 and 1 <= month_number <= 12:  # "14.30" is a time, not the 14th of a 30th month
                dates.add((day, month_number, (int(year) % 100) if year else None))
        for match in ISO_DATE.finditer(plain):
            dates.add((int(match.group(3)), int(match.group(2)), int(match.group(1)) % 100))
        for i, word in enumerate(found):
            number = ORDINAL.match(word)
            if number is None:
                continue
            for j in (i - 1, i + 1):
                month = self._month(found[j]) if 0 <= j < len(found) else None
                if month is not None:
                    dates.add((int(number.group(1)), month, None))
        return dates

    def day_named(self, text: str, offered: Sequence[date], today: date) -> date | None:
        """The one offered day that `text` names by weekday, date, "today" or "tomorrow", or None."""
        return self.read_day(text, offered, today).choice

    def read_day(self, text: str, offered: Sequence[date], today: date) -> Reading[date]:
        """The offered days that `text` fits. Two weekdays or two dates ("Tuesday or Wednesday") fit each
        offered day that either names: the family is asked which one."""
        found = tokens(text)
        weekdays = {day for phrase, day in self.weekdays.items() if _contains(found, phrase)}
        dates = self._dates(text, found)
        if found and found[0] in FINNISH_SHORT and (len(found) == 1 or dates):
            weekdays.add(FINNISH_SHORT[found[0]])
        relative = {today + timedelta(days=1) for phrase in self.tomorrow if _contains(found, phrase)}
        relative |= {today for phrase in self.today if _contains(found, phrase)}
        if not (weekdays or dates or relative):
            return Reading(named=False)

        def fits(day: date) -> bool:
            return (
                (not weekdays or day.weekday() in weekdays)
                and (not dates or any(_is_date(day, wanted) for wanted in dates))
                and (not relative or day in relative)
            )

        return Reading(named=True, matches=tuple(day for day in offered if fits(day)))


def _is_date(day: date, wanted: tuple[int, int, int | None]) -> bool:
    d, m, y = wanted
    return (day.day, day.month) == (d, m) and (y is None or day.year % 100 == y)


# ---------------------------------------------------------------------- time
def _clock_times(text: str) -> set[tuple[int, int | None, bool]]:
    """(hour, minute or None for "klo 10", afternoon) of every time in the text."""
    plain = ascii_digits(text)
    found: set[tuple[int, int | None, bool]] = set()

    def afternoon(marker: str | None) -> bool:
        return marker is not None and marker.strip().lower().startswith("p")

    for match in CLOCK.finditer(plain):
        found.add((int(match.group(1)), int(match.group(2)), afternoon(match.group(3))))
    rest = CLOCK.sub(" ", plain)
    for match in HOUR.finditer(rest):
        found.add((int(match.group(1)), None, afternoon(match.group(2))))
    return {(hour, minute, pm) for hour, minute, pm in found if hour <= 24 and (minute is None or minute < 60)}


def time_named(text: str, offered: Sequence[tuple[str, time]]) -> str | None:
    """The one offered start time that `text` names, as its option id: "10:30", "10.30", "klo 10", "at 10",
    "١٠:٣٠". An hour alone must be the only offered time in that hour. Counsellors meet in the daytime, so
    "at 2" is 14:00 when nothing starts at two in the night."""
    return read_time(text, offered).choice


def read_time(text: str, offered: Sequence[tuple[str, time]]) -> Reading[str]:
    """The offered start times (option ids) that `text` fits: "klo 9" fits 9:00 and 9:45; "9:15" none."""
    times = _clock_times(text)
    if not times:
        return Reading(named=False)
    matches: list[str] = []
    for hour, minute, pm in sorted(times, key=lambda found: (found[0], found[1] or 0, found[2])):
        hour = hour + NOON if pm and hour < NOON else hour

        def at(h: int, minute: int | None = minute) -> list[str]:
            return [c for c, start in offered if start.hour == h and (minute is None or start.minute == minute)]

        fitting = at(hour)
        if not fitting and 0 < hour < NOON and not pm:
            fitting = at(hour + NOON)
        matches.extend(choice for choice in fitting if choice not in matches)
    return Reading(named=True, matches=tuple(matches))


# ---------------------------------------------------------------------- interpreter
def languages_named(text: str) -> set[str]:
    """The served languages that `text` names: "Arabic", "عربي", "af soomaali", "in Arabic please"."""
    whole = language_named(text)
    if whole is not None:
        return {whole}
    parts = text.split()
    longest = max(len(word.split()) for words in LANGUAGE_WORDS.values() for word in words)
    return {
        code
        for width in range(1, longest + 1)
        for start in range(len(parts) - width + 1)
        if (code := language_named(" ".join(parts[start : start + width]))) is not None
    }
