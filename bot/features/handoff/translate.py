"""Machine translation of a family's message for the counsellor: an interface and a LibreTranslate client.

Without `TRANSLATE_URL` nothing is translated and nothing leaves the bot. With it, the text goes to a
LibreTranslate-compatible server (`POST /translate` with q, source, target) that the association runs
or trusts; the counsellor sees the original with the translation beside it, marked as machine-made.
"""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 3.0  # the relay waits for this at most: a slow server must not hold up the conversation


class Translator(Protocol):
    def translate(self, text: str, source: str, target: str) -> str | None:
        """The translation, or None when there is none (not configured, same language, or a failure)."""
        ...


class NoTranslation:
    """The default: nothing is sent anywhere."""

    def translate(self, text: str, source: str, target: str) -> str | None:
        return None


class LibreTranslateClient:
    """A client for LibreTranslate's `/translate` (also what compatible servers offer)."""

    def __init__(
        self, base_url: str, *, api_key: str = "", timeout: float = TIMEOUT_SECONDS, client: httpx.Client | None = None
    ) -> None:
        self.url = base_url.rstrip("/") + "/translate"
        self.api_key = api_key
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout))

    def translate(self, text: str, source: str, target: str) -> str | None:
        if not text.strip() or source == target or source == "und":
            return None
        body: dict[str, str] = {"q": text, "source": source, "target": target, "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            translated = response.json().get("translatedText")
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            # Never log the text; the kind of failure is enough to see that the server is down.
            log.warning("machine translation failed: %s", type(error).__name__)
            return None
        if not isinstance(translated, str) or not translated.strip():
            return None
        return translated.strip()

    def close(self) -> None:
        self._client.close()


def build_translator(translate_url: str, api_key: str = "") -> Translator:
    """LibreTranslate when a URL is configured, otherwise no translation at all."""
    if not translate_url:
        return NoTranslation()
    return LibreTranslateClient(translate_url, api_key=api_key)
