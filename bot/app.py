"""The composition root: the one place where settings, database, NLU, flows and features are wired."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType

from bot.core.engine import Conversation
from bot.core.flows import Flows, Names
from bot.core.registry import Registry
from bot.core.services import Services, Understands
from bot.core.texts import Texts
from bot.db.database import Database
from bot.features import booking, groups, guide, handoff, menu, onboarding, privacy, staff_help, stats
from bot.settings import Settings

log = logging.getLogger(__name__)

# Order matters only where a feature takes over an intent or media kind from an earlier one, and for
# staff_help, which answers the staff-group commands no earlier feature took: it comes last.
FEATURES: tuple[ModuleType, ...] = (
    onboarding,
    menu,
    guide,
    booking,
    handoff,
    privacy,
    groups,
    stats,
    staff_help,
)


class ConfigurationError(RuntimeError):
    pass


def flow_names(registry: Registry, texts: Texts) -> Names:
    return Names(
        actions=frozenset(registry.actions),
        conditions=frozenset(registry.conditions),
        providers=frozenset(registry.providers),
        inputs=frozenset(registry.inputs),
        text_keys=frozenset(texts.by_language["en"]),
    )


def build_services(
    settings: Settings,
    *,
    nlu: Understands | None = None,
    migrate: bool = True,
    clock: Callable[..., object] | None = None,
) -> Services:
    """Everything the core needs, checked: flows and strings are validated before anything runs."""
    texts = Texts.load(settings.content_dir / "strings")
    flows = Flows.load(settings.flows_dir)
    database = Database(settings.database_url)
    if migrate:
        database.migrate()
    if nlu is None:
        from bot.nlu.pipeline import build_nlu  # heavy: load only when a real NLU is wanted

        nlu = build_nlu(settings)
    services = Services(settings=settings, db=database, texts=texts, flows=flows, registry=Registry(), nlu=nlu)
    if clock is not None:
        services.clock = clock  # type: ignore[assignment]
    for feature in FEATURES:
        feature.register(services.registry, services)
    problems = flows.validate(flow_names(services.registry, texts)) + texts.problems()
    if problems:
        raise ConfigurationError("flows or strings are broken:\n" + "\n".join(problems))
    return services


def build_conversation(services: Services) -> Conversation:
    return Conversation(services)
