"""The typed bundle of long-lived objects the core hands to every action (no module globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.flows import Flows
from bot.core.registry import Registry
from bot.core.texts import Texts
from bot.db.database import Database
from bot.leader import Leadership
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.nlu.pipeline import Understanding


class Understands(Protocol):
    def understand(
        self, text: str, *, user_language: str | None = None, telegram_language: str | None = None
    ) -> Understanding: ...


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    db: Database
    texts: Texts
    flows: Flows
    registry: Registry
    nlu: Understands
    clock: Callable[[], datetime] = system_clock
    # Feature services (guide library, group calendar, …) by feature name, set by each feature's `setup`.
    features: dict[str, Any] = field(default_factory=dict)
    # Which process runs the scheduled jobs (reminders, retention, ticket escalation): one at a time.
    leadership: Leadership = field(init=False)

    def __post_init__(self) -> None:
        self.leadership = Leadership(self.db)
