"""Small value types shared by the NLU components."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LanguageGuess:
    """A detected language: an ISO 639-1 code (or ``"und"``) and a confidence in [0, 1]."""

    code: str
    confidence: float
