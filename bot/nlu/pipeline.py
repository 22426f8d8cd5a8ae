"""Understanding a free-text message: language detection → crisis check → intent ranking.

`build_nlu(settings)` is what the composition root calls; it picks the embedded classifier or the
Rasa backend (which falls back to the embedded one) from `settings.nlu_backend`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.nlu.types import CrisisVerdict

if TYPE_CHECKING:
    from bot.nlu.types import LanguageGuess
    from bot.settings import Settings

log = logging.getLogger(__name__)

UNKNOWN_LANGUAGE = "und"
# What an empty or symbol-free message is: nothing to classify, so nothing is claimed about it.
NO_INTENT = "out_of_scope"
# A greeting before a question ("hello when is the meeting", "مرحبا أحتاج مساعدة في كيلا") reads as a
# greeting: the greeting words are the strongest features of the message. When the words after the
# first one or two are, on their own, almost certainly a request, that request is the message. The
# threshold leaves every greeting of the held-out split a greeting ("hello bot how r u" gives help at 0.94).
GREETING = "greet"
AFTER_GREETING_CONFIDENCE = 0.95
AFTER_GREETING_MIN_WORDS = 3
SOCIAL_INTENTS = frozenset({"greet", "goodbye", "thanks", "affirm", "deny", "out_of_scope"})


class LanguageDetecting(Protocol):
    """What the pipeline needs from bot.nlu.language.LanguageDetector."""

    def detect(
        self,
        text: str,
        *,
        user_language: str | None = None,
        telegram_language: str | None = None,
        recent: Sequence[str] = (),
    ) -> LanguageGuess: ...


class CrisisDetecting(Protocol):
    """What the pipeline needs from a crisis detector (bot.nlu.crisis_model.CombinedCrisisDetector)."""

    def assess(self, text: str, language: str | None = None) -> CrisisVerdict: ...


class IntentRanking(Protocol):
    """An intent classifier: the embedded one or the Rasa client."""

    def classify(self, text: str, language: str | None = None) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class Understanding:
    """What the NLU made of one message. `ranking` holds every intent, most likely first."""

    text: str
    language: str
    language_confidence: float
    intent: str
    intent_confidence: float
    crisis: bool
    ranking: tuple[tuple[str, float], ...]
    # Not a crisis, but close enough that the bot adds a safety question to its answer.
    crisis_check: bool = False

    def top(self, n: int = 3) -> tuple[tuple[str, float], ...]:
        """The `n` most likely intents, for the low-confidence buttons."""
        return self.ranking[:n]


class NLU:
    """The NLU pipeline. Stateless per call and safe to share between handlers."""

    def __init__(
        self,
        language_detector: LanguageDetecting,
        crisis_detector: CrisisDetecting,
        classifier: IntentRanking,
    ) -> None:
        self.language_detector = language_detector
        self.crisis_detector = crisis_detector
        self.classifier = classifier

    def understand(
        self,
        text: str,
        *,
        user_language: str | None = None,
        telegram_language: str | None = None,
        recent: Sequence[str] = (),
    ) -> Understanding:
        """Detect the language, check for a crisis, then rank intents.

        The crisis check runs on every message, whatever the intent, because a family in danger
        rarely phrases it as a request; it gets the detected language to pick its lexicon.
        """
        guess = self.language_detector.detect(
            text, user_language=user_language, telegram_language=telegram_language, recent=recent
        )
        language = guess.code or UNKNOWN_LANGUAGE
        if not _has_content(text):
            return Understanding(text, language, float(guess.confidence), NO_INTENT, 0.0, False, ())
        verdict = self.crisis_detector.assess(text, language=None if language == UNKNOWN_LANGUAGE else language)
        # The intent model is multilingual, so an undetected language is no reason to skip it; the
        # user's stored language is the better hint then.
        hint = language if language != UNKNOWN_LANGUAGE else user_language
        ranking = tuple(self.classifier.classify(text, hint))
        if ranking and ranking[0][0] == GREETING:
            ranking = self._request_after_greeting(text, hint) or ranking
        intent, confidence = ranking[0] if ranking else (NO_INTENT, 0.0)
        return Understanding(
            text=text,
            language=language,
            language_confidence=float(guess.confidence),
            intent=intent,
            intent_confidence=float(confidence),
            crisis=verdict is CrisisVerdict.CRISIS,
            ranking=ranking,
            crisis_check=verdict is CrisisVerdict.CHECK,
        )

    def _request_after_greeting(self, text: str, hint: str | None) -> tuple[tuple[str, float], ...] | None:
        """The ranking of the words after an opening greeting, when they are clearly a request."""
        words = text.split()
        if len(words) < AFTER_GREETING_MIN_WORDS:
            return None
        best: tuple[tuple[str, float], ...] | None = None
        for skipped in (1, 2):  # "hello …", "good morning …", "السلام عليكم …"
            ranking = tuple(self.classifier.classify(" ".join(words[skipped:]), hint))
            if not ranking or ranking[0][0] in SOCIAL_INTENTS or ranking[0][1] < AFTER_GREETING_CONFIDENCE:
                continue
            if best is None or ranking[0][1] > best[0][1]:
                best = ranking
        return best

    async def understand_async(
        self,
        text: str,
        *,
        user_language: str | None = None,
        telegram_language: str | None = None,
        recent: Sequence[str] = (),
    ) -> Understanding:
        """`understand` in a worker thread: the Rasa backend may block for up to its timeout."""
        import asyncio  # not at module level: `python -m bot parse` never needs it

        return await asyncio.to_thread(
            self.understand,
            text,
            user_language=user_language,
            telegram_language=telegram_language,
            recent=recent,
        )


def _has_content(text: str) -> bool:
    """True when there is anything to classify: a letter, digit or symbol such as an emoji."""
    return any(not ch.isspace() for ch in text)


def build_nlu(settings: Settings) -> NLU:
    """The NLU the settings ask for: `embedded` (default) or `rasa` (with embedded fallback)."""
    # Imported here so that `import bot.nlu.pipeline` stays cheap and the Rasa client (httpx) is
    # only loaded when configured.
    from bot.nlu.crisis_model import CombinedCrisisDetector
    from bot.nlu.intents import IntentClassifier
    from bot.nlu.language import LanguageDetector

    backend = settings.nlu_backend.strip().lower()
    if backend not in {"embedded", "rasa"}:
        raise ValueError(f"NLU_BACKEND must be 'embedded' or 'rasa', not {settings.nlu_backend!r}")
    # The embedded model is loaded in both cases: with Rasa it is the fallback, and loading it now
    # (from the cache, or by training once) keeps a Rasa outage from costing a training run later.
    embedded = IntentClassifier.load_or_train(settings.nlu_data_dir / "train", settings.cache_dir)
    classifier: IntentRanking = embedded
    if backend == "rasa":
        from bot.nlu.rasa import RasaIntentClassifier

        classifier = RasaIntentClassifier(settings.rasa_url, settings.rasa_token, fallback=embedded)
    detector = LanguageDetector(settings.nlu_data_dir, cache_dir=settings.cache_dir)
    # Crisis = the lexicons OR the learned model (bot/nlu/crisis_model.py), both cached.
    crisis = CombinedCrisisDetector.load(settings.nlu_data_dir, cache_dir=settings.cache_dir)
    return NLU(detector, crisis, classifier)
