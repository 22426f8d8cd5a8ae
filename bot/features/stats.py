"""`/stats` in the staff group: the statistics of the last weeks, counts only (see `bot.stats`).

Only listed counsellors get them, and only in the staff group; every read and every refused attempt is
audited. The report is in the staff language (`STAFF_LANGUAGE`, as ticket cards are). In a private chat the
command gives no figures: a counsellor is pointed to the staff group, anyone else hears that the command is
unknown (families need not learn that staff commands exist).
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from bot.core.context import Context
from bot.core.messages import Recipient, Reply
from bot.core.registry import Registry
from bot.core.services import Services
from bot.staff import actor_label, audit, counsellor_by_telegram_id
from bot.stats import DEFAULT_WEEKS, MAX_WEEKS, compute_statistics, render_html, town_names

log = logging.getLogger(__name__)

COMMAND = "stats"


def register(registry: Registry, services: Services) -> None:
    # The staff group reads one language, the one ticket cards use (STAFF_LANGUAGE, checked by the handoff feature).
    staff_language = services.settings.staff_language
    zone = ZoneInfo(services.settings.timezone)
    towns = town_names(services.settings.content_dir, staff_language)
    registry.features.add("stats")

    def t(key: str, **values: object) -> str:
        return services.texts.get(staff_language, key, **values)

    def reply(ctx: Context, text: str) -> None:
        """Answer in the staff group, in the topic the command came from."""
        ctx.send(
            Reply(
                text=text,
                to=Recipient(staff=True, thread_id=ctx.incoming.thread_id, reply_to=ctx.incoming.message_id),
            )
        )

    def in_staff_group(ctx: Context) -> bool:
        incoming = ctx.incoming
        command = incoming.command
        if not incoming.staff_chat or command is None or command[0] != COMMAND:
            return False
        counsellor = (
            counsellor_by_telegram_id(ctx.session, ctx.user.external_id) if ctx.user.channel == "telegram" else None
        )
        if counsellor is None:
            audit(ctx.session, actor_label(None), "stats.refused", None, where="staff_group")
            log.info("refused /stats from someone who is not a listed counsellor")
            reply(ctx, t("stats.not_staff"))
            return True
        # "/stats 12" shows 12 weeks; anything else (or nothing) the default.
        argument = command[1].strip()
        weeks = int(argument) if argument.isdecimal() and 1 <= int(argument) <= MAX_WEEKS else DEFAULT_WEEKS
        stats = compute_statistics(
            ctx.session, now=ctx.now, zone=zone, language=staff_language, weeks=weeks, towns=towns
        )
        audit(ctx.session, actor_label(counsellor), "stats.read", None, weeks=weeks)
        reply(ctx, render_html(stats, t, staff_language))
        return True

    registry.interceptors.append(in_staff_group)
    registry.staff_group_commands.append(COMMAND)

    @registry.command(COMMAND)
    def in_private_chat(ctx: Context, _argument: str) -> str | None:
        counsellor = (
            counsellor_by_telegram_id(ctx.session, ctx.user.external_id) if ctx.user.channel == "telegram" else None
        )
        audit(ctx.session, actor_label(counsellor), "stats.refused", None, where="private_chat")
        if counsellor is not None:
            ctx.say(ctx.t("stats.staff_group_only"))
            return None
        # Exactly what the engine answers to a command it does not know.
        if ctx.user.language is None:
            return "onboarding.language"
        ctx.say(ctx.t("errors.unknown_command"))
        return "main.help"
