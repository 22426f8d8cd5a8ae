"""Shared pieces of the handoff tests: a small NLU, a settable clock, strings, the staff group's ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.texts import Texts
from bot.settings import ROOT
from tests.fakes import FixedUnderstanding

TEXTS = Texts.load(ROOT / "content" / "strings")
HELSINKI = ZoneInfo("Europe/Helsinki")
STAFF_CHAT = -1001234
COUNSELLOR = 7001
STRANGER = 7002
# A Wednesday morning (counsellors at work) and a Saturday (they are not), Helsinki time.
WEDNESDAY_10 = datetime(2026, 11, 4, 10, 0, tzinfo=HELSINKI)
SATURDAY_11 = datetime(2026, 11, 7, 11, 0, tzinfo=HELSINKI)
MONDAY_0030 = datetime(2026, 11, 9, 0, 30, tzinfo=HELSINKI)  # before the office opens that day


def t(language: str, key: str, **values: object) -> str:
    return TEXTS.get(language, key, **values)


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class HandoffNLU:
    """Asks for a person in Swahili, English or Finnish; a crisis in Arabic or English; school, a topic of the
    guide, with confidence; nothing else."""

    PERSON = ("mtu", "person", "ihminen", "human")
    CRISIS = ("أقتل نفسي", "kill myself")
    SCHOOL = ("shule", "school")

    def understand(
        self, text: str, *, user_language: str | None = None, telegram_language: str | None = None
    ) -> FixedUnderstanding:
        lowered = text.lower()
        language = "ar" if any("\u0600" <= ch <= "\u06ff" for ch in text) else (user_language or "en")
        crisis = any(word in lowered for word in self.CRISIS)
        if "cannot go on" in lowered:  # close to a crisis: the answer carries a safety question
            ranking = (("out_of_scope", 0.3),)
            return FixedUnderstanding(text, language, 0.6, "out_of_scope", 0.3, False, ranking, crisis_check=True)
        if any(word in lowered for word in self.PERSON):
            ranking = (
                (("human_handoff", 0.9), ("topic_school", 0.3)) if "shule" in lowered else (("human_handoff", 0.9),)
            )
            return FixedUnderstanding(text, language, 0.6, "human_handoff", 0.9, crisis, ranking)
        if any(word in lowered for word in self.SCHOOL):
            return FixedUnderstanding(text, language, 0.6, "topic_school", 0.9, crisis, (("topic_school", 0.9),))
        return FixedUnderstanding(text, language, 0.6, "out_of_scope", 0.3, crisis, (("out_of_scope", 0.3),))
