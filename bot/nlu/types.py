"""Small value types shared by the NLU components."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class LanguageGuess:
    """A detected language: an ISO 639-1 code (or ``"und"``) and a confidence in [0, 1]."""

    code: str
    confidence: float


class CrisisVerdict(enum.Enum):
    """What the crisis check made of a message."""

    NONE = "none"
    CHECK = "check"  # not a crisis, but close: the bot adds a safety question to its answer
    CRISIS = "crisis"  # emergency information first
