"""`python -m bot chat`: the whole bot in a terminal, on the same core and database as Telegram."""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable
from typing import TextIO

from bot.core.engine import Conversation
from bot.core.messages import Button, Incoming, MediaKind, Reply, UserRef

TAG = re.compile(r"</?(b|i|u|s|code)>")
MEDIA_WORDS = {f":{kind.value}": kind for kind in MediaKind}


def plain(text: str) -> str:
    """Telegram HTML as terminal text."""
    return html.unescape(TAG.sub("", text))


class ConsoleChannel:
    """Buttons are numbered; typing a number presses one. `:sticker`, `:voice` … send media."""

    def __init__(
        self,
        conversation: Conversation,
        *,
        user: str = "local",
        language_hint: str | None = None,
        out: TextIO = sys.stdout,
    ) -> None:
        self.conversation = conversation
        self.user = UserRef("console", user)
        self.language_hint = language_hint
        self.out = out
        self.buttons: list[Button] = []

    def incoming_for(self, line: str) -> Incoming:
        line = line.strip()
        if line.isdecimal() and 1 <= int(line) <= len(self.buttons):
            return Incoming(self.user, payload=self.buttons[int(line) - 1].payload, language_hint=self.language_hint)
        if line.lower() in MEDIA_WORDS:
            return Incoming(self.user, media=MEDIA_WORDS[line.lower()], language_hint=self.language_hint)
        return Incoming(self.user, text=line, language_hint=self.language_hint)

    def send(self, line: str) -> list[Reply]:
        replies = [r for r in self.conversation.handle(self.incoming_for(line)) if r.to is None]
        self.show(replies)
        return replies

    def show(self, replies: list[Reply]) -> None:
        self.buttons = []
        for reply in replies:
            self.out.write("\n" + plain(reply.text) + "\n")
            if reply.attachment is not None:
                self.out.write(f"📎 {reply.attachment.filename} ({len(reply.attachment.content)} bytes)\n")
            for row in reply.buttons:
                for button in row:
                    self.buttons.append(button)
                    self.out.write(f"  [{len(self.buttons)}] {plain(button.label)}\n")
        self.out.flush()

    def run(self, read: Callable[[str], str] = input) -> int:
        self.out.write("aito-bot: type a message, a button number, /start, or :sticker :voice :photo. Ctrl-D quits.\n")
        self.send("/start")
        while True:
            try:
                line = read("> ")
            except (EOFError, KeyboardInterrupt):
                self.out.write("\n")
                return 0
            if line.strip():
                self.send(line)
