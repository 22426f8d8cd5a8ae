"""/privacy, /mydata, /delete (and the `privacy_delete` intent), consent withdrawal, and retention."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.core.context import Context
from bot.core.engine import INTENT_THRESHOLD, NOT_OFFERED
from bot.core.messages import Attachment, Button
from bot.core.registry import Registry
from bot.core.services import Services
from bot.core.texts import LANGUAGE_NAMES, Safe
from bot.features.privacy.data import (
    erase_foundation,
    erase_user,
    export_foundation,
    export_json,
    export_user,
    withdraw_consent,
)
from bot.features.privacy.retention import run_retention
from bot.inbox import Inbox
from bot.leader import run_when_leading

log = logging.getLogger(__name__)
RETENTION_EVERY_SECONDS = 3600
MENU_COMMANDS = ("privacy", "mydata", "delete")
# The text the delete question shows this turn instead of the question itself (after a typed answer).
DELETE_TEXT = "delete_text"
# Typed at the delete question, these get "nothing was deleted" rather than an answer that leaves it:
# a yes, small talk, and "delete my data" again.
NOT_ANSWERED_HERE = NOT_OFFERED | {"privacy_delete"}


def register(registry: Registry, services: Services) -> None:
    registry.features.add("privacy")
    registry.privacy_exporters.insert(0, export_foundation)  # the profile first in the document
    registry.privacy_erasers.append(erase_foundation)
    # Features whose privacy hooks live in their own package's privacy.py without being registered there.
    try:
        from bot.features.groups.privacy import register_privacy as register_groups_privacy
    except ImportError:  # a deployment without the groups feature
        pass
    else:
        register_groups_privacy(registry)
    for name in MENU_COMMANDS:
        if name not in registry.menu_commands:
            registry.menu_commands.append(name)

    @registry.command("privacy")
    def privacy(_ctx: Context, _argument: str) -> str:
        return "privacy.info"

    @registry.command("mydata")
    def mydata(_ctx: Context, _argument: str) -> str:
        return "privacy.export"

    @registry.command("delete")
    def delete(_ctx: Context, _argument: str) -> str:
        return "privacy.confirm_delete"

    @registry.intent("privacy_delete")
    def privacy_delete(_ctx: Context, _understanding: Any) -> str:
        return "privacy.confirm_delete"

    # Erasing everything is asked for, never suggested as a guess at an unclear message.
    registry.guesses["privacy_delete"] = lambda _ctx: False

    @registry.action("privacy_overview")
    def privacy_overview(ctx: Context) -> None:
        ctx.values["days"] = services.settings.retention_days
        ctx.values["ticket_days"] = services.settings.closed_ticket_retention_days
        # Never "you gave your consent" to a family that refused it or has not answered yet.
        key = "privacy.consent_given" if ctx.user.has_consent else "privacy.consent_missing"
        ctx.values["consent"] = Safe(ctx.t(key))

    @registry.condition("lacks_consent")
    def lacks_consent(ctx: Context) -> bool:
        return not ctx.user.has_consent

    @registry.action("delete_question")
    def delete_question(ctx: Context) -> None:
        """Delete everything? Or, after a typed answer, that nothing was deleted (`delete_typed`)."""
        ctx.say(ctx.t(ctx.values.get(DELETE_TEXT) or "privacy.delete_confirm"))

    @registry.input("delete_typed")
    def delete_typed(ctx: Context, _text: str) -> str | None:
        """Typed at the delete question: only the button erases, so a "yes", or anything unclear, is told
        that nothing was deleted, below the buttons again. A question the bot answers is answered."""
        u = ctx.understanding
        if u is not None and u.intent_confidence >= INTENT_THRESHOLD and u.intent not in NOT_ANSWERED_HERE:
            return None
        ctx.values[DELETE_TEXT] = "privacy.delete_typed"
        return "confirm_delete"

    @registry.action("export_my_data")
    def export_my_data(ctx: Context) -> None:
        document = export_user(ctx.session, ctx.user, registry, ctx.now)
        attachment = Attachment(f"aito-my-data-{ctx.now:%Y-%m-%d}.json", export_json(document), "application/json")
        ctx.say(ctx.t("privacy.export_ready"), attachment=attachment)

    @registry.action("erase_my_data")
    def erase_my_data(ctx: Context) -> None:
        language = ctx.language
        erase_user(ctx)
        # The user no longer exists: one message in the language they used, and a way to start again.
        start_again = services.flows.step("onboarding.language").payload(language)
        label = services.texts.get(language, "privacy.start_again")
        ctx.say(
            services.texts.get(language, "privacy.deleted"),
            buttons=((Button(f"{label} ({LANGUAGE_NAMES.get(language, language)})", start_again),),),
        )

    @registry.action("withdraw_consent")
    def withdraw(ctx: Context) -> str:
        withdraw_consent(ctx.session, ctx.user, ctx.now)
        ctx.say(ctx.t("privacy.withdrawn"))
        return "main.menu"

    def retention_job_hook(application: Any, channel: Any) -> None:
        if application.job_queue is None or not services.settings.run_scheduler:
            return
        inbox = Inbox(services.db)

        async def retention(_context: Any) -> None:
            try:
                await asyncio.to_thread(run_retention, services)
                await asyncio.to_thread(inbox.prune)
            except Exception as error:  # the next run tries again; a failed pass loses nothing
                log.warning("retention pass failed: %s", type(error).__name__)

        # One retention pass at a time, in the scheduler process (two would race on the same deletions).
        run_when_leading(
            application,
            services.leadership,
            retention,
            interval=RETENTION_EVERY_SECONDS,
            first=120,
            name="privacy-retention",
        )

    registry.telegram_hooks.append(retention_job_hook)
