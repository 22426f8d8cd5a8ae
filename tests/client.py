"""A test client for the core with the shape of aiogram_dialog's: send, click, look at the last replies."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from bot.core.engine import Conversation
from bot.core.messages import Button, Incoming, MediaKind, Reply, UserRef

TAGS = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    return html.unescape(TAGS.sub("", text))


@dataclass
class BotClient:
    conversation: Conversation
    user_id: str = "1001"
    language_hint: str | None = None
    channel: str = "test"
    last: list[Reply] = field(default_factory=list)
    others: list[Reply] = field(default_factory=list)

    @property
    def user(self) -> UserRef:
        return UserRef(self.channel, self.user_id)

    def _handle(self, incoming: Incoming) -> list[Reply]:
        replies = self.conversation.handle(incoming)
        assert replies or incoming.staff_chat, "the core must always answer"
        self.last = [r for r in replies if r.to is None]
        self.others.extend(r for r in replies if r.to is not None)
        return self.last

    def send(self, text: str) -> list[Reply]:
        return self._handle(Incoming(self.user, text=text, language_hint=self.language_hint))

    def send_media(self, kind: MediaKind, caption: str | None = None) -> list[Reply]:
        return self._handle(Incoming(self.user, media=kind, text=caption, language_hint=self.language_hint))

    def press(self, payload: str) -> list[Reply]:
        return self._handle(Incoming(self.user, payload=payload, language_hint=self.language_hint))

    @property
    def buttons(self) -> list[Button]:
        return [b for reply in self.last for row in reply.buttons for b in row]

    def button(self, label_part: str) -> Button:
        for button in self.buttons:
            if label_part.lower() in plain(button.label).lower():
                return button
        raise AssertionError(f"no button with {label_part!r}; buttons: {[b.label for b in self.buttons]}")

    def click(self, label_part: str) -> list[Reply]:
        return self.press(self.button(label_part).payload)

    def click_nth(self, index: int) -> list[Reply]:
        return self.press(self.buttons[index].payload)

    @property
    def text(self) -> str:
        return "\n".join(plain(r.text) for r in self.last)
