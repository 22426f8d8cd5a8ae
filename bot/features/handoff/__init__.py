"""Handoff to human counsellors through the Telegram staff group (tickets, relay, re-alerts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.registry import Registry
    from bot.core.services import Services


def register(registry: Registry, services: Services) -> None:
    # Imported here so that `bot.db.all_models` can import the models without pulling in the feature.
    from bot.features.handoff.feature import register as register_feature

    register_feature(registry, services)
