"""The command line: one sub-command per entry point in SPEC.md."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from bot.logging_setup import setup_logging
from bot.settings import Settings

# Feature modules that add `admin` sub-commands: each has `add_admin_commands(subparsers)`, whose
# parsers set `handler=fn(args, settings) -> int`.
ADMIN_MODULES: tuple[str, ...] = (
    "bot.staff",
    "bot.backup",
    "bot.features.privacy.admin",
    "bot.features.booking.admin",
    "bot.features.groups.admin",
    "bot.stats",
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["parse"]:
        # Kept free of the rest of the CLI's imports: parse must start fast (SPEC: ≥ 500 lines/s).
        from bot.nlu.parse import main as parse_main

        return parse_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    setup_logging(settings.log_level)
    handler: Callable[[argparse.Namespace, Settings], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    if args.command == "run":
        return handler(args, settings)
    # Every command migrates the database first; alembic's INFO lines ("Context impl SQLiteImpl", each
    # migration) belong in the running bot's log, not in a coordinator's terminal. Problems still show. The
    # level is put back afterwards: main() also runs inside other programs (the tests).
    alembic = logging.getLogger("alembic")
    level = alembic.level
    alembic.setLevel(logging.WARNING)
    try:
        return handler(args, settings)
    finally:
        alembic.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="aito-bot: a family guide chatbot")
    sub = parser.add_subparsers(dest="command")

    chat = sub.add_parser("chat", help="talk to the bot in this terminal (no token needed)")
    chat.add_argument("--user", default="local", help="a name for the console user (several can be tried)")
    chat.add_argument("--language-hint", default=None, help="pretend Telegram reported this language_code")
    chat.set_defaults(handler=run_chat)

    run = sub.add_parser("run", help="run the Telegram bot (long polling, or a webhook if WEBHOOK_URL is set)")
    run.set_defaults(handler=run_telegram)

    sub.add_parser("parse", help="NLU on lines of standard input (see SPEC.md)")

    content = sub.add_parser("content", help="content tools")
    content_sub = content.add_subparsers(dest="content_command")
    check = content_sub.add_parser("check", help="validate content/, flows/ and nlu_data/")
    check.set_defaults(handler=run_content_check)

    admin = sub.add_parser("admin", help="staff and data administration")
    admin_sub = admin.add_subparsers(dest="admin_command")
    migrate = admin_sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=run_migrate)
    for module_name in ADMIN_MODULES:
        module = __import__(module_name, fromlist=["add_admin_commands"])
        module.add_admin_commands(admin_sub)
    return parser


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_conversation, build_services
    from bot.channels.console import ConsoleChannel

    _utf8_stdio()
    services = build_services(settings)
    channel = ConsoleChannel(build_conversation(services), user=args.user, language_hint=args.language_hint)
    return channel.run()


def run_telegram(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.telegram import run

    if not settings.telegram_bot_token:
        print(
            "TELEGRAM_BOT_TOKEN is not set. Try `python -m bot chat` to use the bot without Telegram.", file=sys.stderr
        )
        return 2
    run(settings)
    return 0


def run_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.db.database import Database

    database = Database(settings.database_url)
    try:
        applied = database.migrate()
    finally:
        database.dispose()
    if applied:
        print(f"database is up to date: applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("database is up to date: nothing to apply")
    return 0


def run_content_check(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.content_check import check_all

    problems = check_all(settings)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"content check failed: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("content check passed: flows, strings, guide and NLU data are valid in all six languages")
    return 0


def _utf8_stdio() -> None:
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
