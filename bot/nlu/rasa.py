"""Rasa backend: intent ranking from a Rasa server's `/model/parse`, with the embedded NLU as fallback.

A Rasa server takes about ten seconds to start and can be restarted or down at any time; the bot
must keep answering meanwhile. So every failure (refused connection, timeout, non-200, malformed
answer) falls back to the embedded classifier, and Rasa is left alone for a back-off period that
doubles on each further failure (1 s up to 30 s), instead of making each message wait for a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from bot.nlu.pipeline import IntentRanking

log = logging.getLogger(__name__)

# Rasa's FallbackClassifier puts this label on top when unsure; the core has its own low-confidence
# rule (top choices as buttons), which needs the real ranking underneath, so the label is dropped.
RASA_FALLBACK_INTENT = "nlu_fallback"


class RasaUnavailable(Exception):
    """Rasa did not give a usable answer; the caller falls back."""


class RasaIntentClassifier:
    """Intent ranking from Rasa, falling back to another classifier while Rasa is down or starting."""

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        fallback: IntentRanking,
        timeout: float = 2.0,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.fallback = fallback
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._token = token
        self._clock = clock
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout))
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._backoff = 0.0  # 0 while Rasa is healthy
        self.last_source = "none"  # "rasa" or "fallback": for logs, tests and benchmarks

    @property
    def healthy(self) -> bool:
        """False while in back-off after a failure."""
        with self._lock:
            return self._backoff == 0.0

    def classify(self, text: str, language: str | None = None) -> list[tuple[str, float]]:
        """Rasa's ranking when it answers in time, the fallback's otherwise."""
        attempt = self._attempt()
        if attempt is not None:
            try:
                ranking = self.parse(text)
            except RasaUnavailable as exc:
                self._record_failure(str(exc), probe=attempt)
            else:
                self._record_success()
                self.last_source = "rasa"
                return ranking
        self.last_source = "fallback"
        return self.fallback.classify(text, language)

    def parse(self, text: str) -> list[tuple[str, float]]:
        """One `/model/parse` call; raises RasaUnavailable on any failure."""
        params = {"token": self._token} if self._token else None
        try:
            response = self._client.post(f"{self.url}/model/parse", params=params, json={"text": text})
        except httpx.TimeoutException as exc:
            raise RasaUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code in (401, 403):
            raise RasaUnavailable(f"HTTP {response.status_code}: check RASA_TOKEN")
        if response.status_code != 200:
            # 409 is Rasa's "no model loaded yet" while it starts; 5xx an internal error.
            raise RasaUnavailable(f"HTTP {response.status_code}")
        try:
            return ranking_from_rasa(response.json())
        except (ValueError, TypeError, KeyError) as exc:
            raise RasaUnavailable("malformed answer") from exc

    def _attempt(self) -> bool | None:
        """None: do not call Rasa now. False: a normal call. True: the one probe after a back-off.

        After the back-off only one caller probes; the others keep using the fallback meanwhile.
        """
        with self._lock:
            if self._backoff == 0.0:
                return False
            now = self._clock()
            if now < self._retry_at:
                return None
            self._retry_at = now + self._backoff  # a slow probe keeps the others on the fallback
            return True

    def _record_failure(self, reason: str, *, probe: bool) -> None:
        with self._lock:
            first = self._backoff == 0.0
            if first:
                self._backoff = self.min_backoff
            elif probe:
                self._backoff = min(self._backoff * 2, self.max_backoff)
            # else: a call that started while Rasa looked healthy; the back-off is already running
            # and concurrent failures of one outage must not escalate it.
            self._retry_at = self._clock() + self._backoff
        # The URL is logged without its query: it would carry the token.
        if first:
            log.warning("Rasa at %s unavailable (%s): using the embedded NLU", self.url, reason)
        else:
            log.debug("Rasa still unavailable (%s); next try in %.0f s", reason, self._backoff)

    def _record_success(self) -> None:
        with self._lock:
            recovered = self._backoff != 0.0
            self._backoff = 0.0
            self._retry_at = 0.0
        if recovered:
            log.info("Rasa at %s is answering again", self.url)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def ranking_from_rasa(payload: Any) -> list[tuple[str, float]]:
    """Intent ranking from a `/model/parse` answer, most likely first, without `nlu_fallback`."""
    if not isinstance(payload, dict):
        raise TypeError("answer is not an object")
    entries = payload.get("intent_ranking") or []
    ranking = [
        (str(entry["name"]), float(entry["confidence"]))
        for entry in entries
        if entry.get("name") and entry["name"] != RASA_FALLBACK_INTENT
    ]
    if not ranking:
        intent = payload.get("intent") or {}
        if intent.get("name") and intent["name"] != RASA_FALLBACK_INTENT:
            ranking = [(str(intent["name"]), float(intent.get("confidence") or 0.0))]
    if not ranking:
        raise ValueError("no intent in answer")
    ranking.sort(key=lambda pair: pair[1], reverse=True)
    return ranking
