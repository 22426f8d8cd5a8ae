"""Conversation transcripts as data: tests/conversations/*.yml, run against the core through the test client.

A transcript has a `language` (whose strings the checks refer to), an optional Telegram `language_hint`,
and `steps`, each one of:
  user: text            — the family writes
  media: sticker        — the family sends media
  click: label part     — press the button whose label contains this text
  click_key: text.key   — press the button labelled with this string (in the transcript's language)
  says: text.key        — the bot's last answer contains this string
  says_text: text       — the bot's last answer contains this literal text
  buttons: [text.key]   — the last answer offers buttons with these strings
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.messages import MediaKind
from bot.core.texts import Texts
from bot.settings import ROOT
from tests.client import plain

TRANSCRIPTS = sorted((Path(__file__).parent / "conversations").glob("*.yml"))
TEXTS = Texts.load(ROOT / "content" / "strings")


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(make_client, path: Path) -> None:
    script: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    language = script["language"]
    client = make_client(user_id=path.stem, language_hint=script.get("language_hint"))

    def string(key: str) -> str:
        return plain(TEXTS.get(language, key))

    for number, step in enumerate(script["steps"], 1):
        where = f"{path.name} step {number}: {step}"
        ((action, value),) = step.items()
        if action == "user":
            client.send(str(value))
        elif action == "media":
            client.send_media(MediaKind(value))
        elif action == "click":
            client.click(str(value))
        elif action == "click_key":
            client.click(string(value))
        elif action == "says":
            assert string(value) in client.text, f"{where}\nbot said: {client.text}"
        elif action == "says_text":
            assert str(value) in client.text, f"{where}\nbot said: {client.text}"
        elif action == "buttons":
            labels = [plain(b.label) for b in client.buttons]
            for key in value:
                assert string(key) in labels, f"{where}\nbuttons: {labels}"
        else:
            raise AssertionError(f"{where}: unknown action {action!r}")


def test_there_are_transcripts_in_at_least_three_languages() -> None:
    languages = {yaml.safe_load(p.read_text(encoding="utf-8"))["language"] for p in TRANSCRIPTS}
    assert len(languages) >= 3, languages
