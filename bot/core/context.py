"""What an action sees while one incoming message is handled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.core.messages import Button, Incoming, Reply
from bot.db.models import ConversationState, User

if TYPE_CHECKING:
    from bot.core.engine import Conversation
    from bot.core.services import Services
    from bot.nlu.pipeline import Understanding


@dataclass(frozen=True)
class Option:
    """A dynamic button: `id` goes into the payload (short, validated again on press), `label` is shown."""

    id: str
    label: str


@dataclass
class Context:
    session: Session
    user: User
    state: ConversationState
    incoming: Incoming
    services: Services
    conversation: Conversation
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    # Values for this turn's text placeholders; may hold `Safe` HTML. Not persisted.
    values: dict[str, Any] = field(default_factory=dict)
    # Work to do after the transaction commits (e.g. notifying another process); never user-visible.
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # What the NLU made of this message (free text only), for interceptors that must still see a crisis.
    understanding: Understanding | None = None
    # The message may hide a crisis: a safety question goes below this turn's answer.
    safety_check: bool = False
    # The step the family was at before pressing a button of another (an entry step): `flow.step`.
    pressed_from: str | None = None
    # This turn shows the emergency information.
    crisis: bool = False

    @property
    def language(self) -> str:
        return self.user.language or "en"

    @property
    def vars(self) -> dict[str, Any]:
        """Per-user flow variables, persisted with the conversation state (keep them small, no texts)."""
        return self.state.vars

    def set_var(self, key: str, value: Any) -> None:
        # JSON columns only notice re-assignment, not in-place changes.
        self.state.vars = {**self.state.vars, key: value}

    def pop_var(self, key: str, default: Any = None) -> Any:
        values = dict(self.state.vars)
        value = values.pop(key, default)
        self.state.vars = values
        return value

    def t(self, key: str, /, **values: object) -> str:
        return self.services.texts.get(self.language, key, **values)

    def language_name(self, code: str) -> str:
        """A language as the user's language names it in a sentence ("Arabic", "арабский"); a code
        outside the six stays as it is."""
        key = f"language_names.{code}"
        return self.t(key) if self.services.texts.has(key) else code

    def say(self, text: str, buttons: tuple[tuple[Button, ...], ...] = (), **kwargs: Any) -> Reply:
        """Queue a reply to the user; `text` is HTML already (use `t` for strings)."""
        reply = Reply(text=text, buttons=buttons, **kwargs)
        self.replies.append(reply)
        return reply

    def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    def go(self, ref: str) -> None:
        """Move to a step now and render it (used by actions that branch)."""
        self.conversation.go(self, ref)
