"""Wiring of the booking feature: flows' names, commands, intents, the deep link, reminders, town names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.core.context import Context
from bot.core.registry import Registry
from bot.core.services import Services
from bot.core.texts import Texts
from bot.features.booking.counsellor import register_counsellor
from bot.features.booking.family import register_family
from bot.features.booking.places import TOWNS_FILE, PlaceNames
from bot.features.booking.privacy import export_bookings, make_eraser, make_retention
from bot.features.booking.reminders import BookingReminders
from bot.features.booking.service import BookingConfig
from bot.features.booking.typed import TypedWords
from bot.outbox import delivery_for

if TYPE_CHECKING:
    from bot.nlu.pipeline import Understanding

NAME = "booking"


@dataclass
class BookingFeature:
    """What the booking feature keeps for the process (in `services.features["booking"]`)."""

    texts: Texts
    tz: ZoneInfo
    config: BookingConfig
    reminders: BookingReminders
    places: PlaceNames
    typed: TypedWords


def register(registry: Registry, services: Services) -> None:
    config = BookingConfig.from_settings(services.settings)
    places = PlaceNames.load(services.settings.content_dir / TOWNS_FILE)
    feature = BookingFeature(
        texts=services.texts,
        tz=ZoneInfo(services.settings.timezone),
        config=config,
        reminders=BookingReminders(config, places),
        places=places,
        typed=TypedWords.build(services.texts),
    )
    services.features[NAME] = feature
    registry.features.add(NAME)
    delivery_for(services)  # reminders go out through the process's one delivery engine
    register_family(registry, feature)
    register_counsellor(registry, feature)
    registry.privacy_exporters.append(export_bookings)
    registry.privacy_erasers.append(make_eraser(feature))
    registry.retention_hooks.append(make_retention(services.settings.retention_days))
    registry.checks.append(lambda: list(feature.typed.problems))

    def to_booking(ctx: Context) -> str:
        return "booking.start" if ctx.user.language else "onboarding.language"

    def to_my_bookings(ctx: Context) -> str:
        return "booking.mine" if ctx.user.language else "onboarding.language"

    @registry.intent("book_guidance")
    def book_guidance(ctx: Context, _understanding: Understanding) -> str:
        return to_booking(ctx)

    @registry.intent("cancel_booking")
    def cancel_booking(ctx: Context, _understanding: Understanding) -> str:
        return to_my_bookings(ctx)

    @registry.deep_link("book")
    def book_link(ctx: Context, _rest: str) -> str:
        return to_booking(ctx)

    @registry.command("mybookings")
    def my_bookings(ctx: Context, _argument: str) -> str:
        return to_my_bookings(ctx)

    if "mybookings" not in registry.menu_commands:
        registry.menu_commands.append("mybookings")
