"""A stand-in NLU with fixed answers, for tests about the engine and channels rather than understanding."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FixedUnderstanding:
    text: str
    language: str
    language_confidence: float
    intent: str
    intent_confidence: float
    crisis: bool
    ranking: tuple[tuple[str, float], ...]
    crisis_check: bool = False


class KeywordNLU:
    """Understands a handful of English keywords; everything else is out of scope."""

    RULES = {
        "hello": "greet",
        "thanks": "thanks",
        "menu": "help",
        "language": "change_language",
        "bye": "goodbye",
    }

    def understand(
        self, text: str, *, user_language: str | None = None, telegram_language: str | None = None
    ) -> FixedUnderstanding:
        lowered = text.lower()
        language = user_language or "en"
        crisis = "kill myself" in lowered or "he hits me" in lowered
        check = "cannot go on" in lowered  # close to a crisis: the answer carries a safety question
        for word, intent in self.RULES.items():
            if word in lowered:
                return FixedUnderstanding(text, language, 0.9, intent, 0.95, crisis, ((intent, 0.95),), check)
        return FixedUnderstanding(
            text, language, 0.9, "out_of_scope", 0.3, crisis, (("out_of_scope", 0.3), ("help", 0.2)), check
        )
