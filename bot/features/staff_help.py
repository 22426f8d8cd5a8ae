"""`/help` in the staff group, and a one-line answer to a command nothing there knows.

Each feature answers its own staff-group commands (in its interceptor) and lists them in
`Registry.staff_group_commands`, a counsellor's private-chat commands in `staff_private_commands`. This
feature comes last (`bot.app.FEATURES`): /help lists what the others registered, and a command none of them
took gets "unknown command, see /help" (or, for a command of the private chat, where it works). All in the
staff language (`STAFF_LANGUAGE`), as cards and /stats are.

Only listed counsellors are answered. Chat between counsellors (no command) stays unanswered, and so does
anyone not on the list: the staff commands themselves refuse and audit strangers, and a stranger need not
learn which commands exist. A command addressed to another bot (`/queue@other_bot`) never gets here: the
Telegram channel drops it.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Recipient, Reply
from bot.core.registry import Registry
from bot.core.services import Services
from bot.staff import counsellor_by_telegram_id

COMMAND = "help"


def register(registry: Registry, services: Services) -> None:
    staff_language = services.settings.staff_language
    texts = services.texts

    def t(key: str, **values: object) -> str:
        return texts.get(staff_language, key, **values)

    def described(name: str) -> str:
        key = f"staff.help.{name}"
        return t(key) if texts.has(key) else f"/{name}"  # `content check` reports the missing string

    def help_text() -> str:
        lines = [t("staff.help_title"), *(described(name) for name in registry.staff_group_commands)]
        if registry.staff_private_commands:
            lines += ["", t("staff.help_private"), *(described(name) for name in registry.staff_private_commands)]
        return "\n".join(lines)

    def unanswered_command(ctx: Context) -> bool:
        incoming = ctx.incoming
        command = incoming.command
        if not incoming.staff_chat or incoming.payload is not None or incoming.media is not None or command is None:
            return False
        listed = ctx.user.channel == "telegram" and counsellor_by_telegram_id(ctx.session, ctx.user.external_id)
        if not listed:
            return True  # nothing for people not on the list
        name = command[0]
        if name == COMMAND:
            text = help_text()
        elif name in registry.commands:
            text = t("staff.private_only", command=f"/{name}")  # /slots, /start: the private chat's commands
        else:
            text = t("staff.unknown_command", command=f"/{name}")
        ctx.send(Reply(text=text, to=Recipient(staff=True, thread_id=incoming.thread_id, reply_to=incoming.message_id)))
        return True

    registry.interceptors.append(unanswered_command)

    def check() -> list[str]:
        return [
            f"content/strings: /{name} is a staff command, but there is no staff.help.{name} text for /help"
            for name in (*registry.staff_group_commands, *registry.staff_private_commands)
            if not texts.has(f"staff.help.{name}")
        ]

    registry.checks.append(check)
