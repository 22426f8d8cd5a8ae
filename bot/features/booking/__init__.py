"""Booking individual and family guidance: counsellors publish slots, families book, move and cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.registry import Registry
    from bot.core.services import Services


def register(registry: Registry, services: Services) -> None:
    # Imported here so that `bot.db.all_models` can load the models without the conversation core.
    from bot.features.booking.feature import register as register_feature

    register_feature(registry, services)
