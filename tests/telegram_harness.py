"""Runs the real python-telegram-bot Application against the local Bot API server, in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from telegram.ext import Application

from bot.app import build_conversation, build_services
from bot.channels.telegram import TelegramChannel, build_application
from bot.core.services import Services, Understands
from bot.settings import Settings
from bot.testing.fake_bot_api import FakeBotApi


@dataclass
class RunningBot:
    application: Application  # type: ignore[type-arg]
    channel: TelegramChannel
    services: Services


@asynccontextmanager
async def running_bot(settings: Settings, api: FakeBotApi, nlu: Understands) -> AsyncIterator[RunningBot]:
    """Start like `run_polling` does (post_init included), stop in reverse order."""
    settings = Settings(**{**settings.__dict__, "telegram_api_base_url": api.base_url})
    services = build_services(settings, nlu=nlu)
    application, channel = build_application(services, build_conversation(services))
    await application.initialize()
    await channel.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1, drop_pending_updates=False)
    await application.start()
    try:
        yield RunningBot(application, channel, services)
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)  # as run_polling does on the way out
        services.db.dispose()
