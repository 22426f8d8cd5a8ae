"""`python -m bot admin privacy …` and `admin retention`: for the coordinator answering a request that came
by mail or phone (GDPR art. 12(3): within a month), and for running retention by hand. All audited."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.messages import Incoming, Recipient, UserRef, reply_to_json
from bot.db.models import ConversationState, InboxUpdate, User
from bot.settings import Settings
from bot.staff import CLI_ACTOR, audit


class _NoNLU:
    """The command line understands no free text; building the real NLU would only cost time."""

    def understand(self, text: str, **_kwargs: Any) -> Any:
        raise RuntimeError("no NLU on the command line")


def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    privacy = sub.add_parser("privacy", help="export or erase one person's data (GDPR requests)")
    psub = privacy.add_subparsers(dest="privacy_command")
    export = psub.add_parser("export", help="write a person's data as JSON")
    export.add_argument("--telegram-id", required=True, help="the person's Telegram user id")
    export.add_argument("--output", type=Path, help="a file to write (default: standard output)")
    export.set_defaults(handler=_export)
    erase = psub.add_parser("erase", help="erase all of a person's data (as /delete does)")
    erase.add_argument("--telegram-id", required=True, help="the person's Telegram user id")
    erase.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    erase.set_defaults(handler=_erase)
    retention = sub.add_parser("retention", help="delete message texts older than RETENTION_DAYS now")
    retention.set_defaults(handler=_retention)


def _services(settings: Settings) -> Any:
    from bot.app import build_services

    return build_services(settings, nlu=_NoNLU())


def _find(session: Session, telegram_id: str) -> User | None:
    return session.scalar(select(User).where(User.channel == "telegram", User.external_id == str(telegram_id).strip()))


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.features.privacy.data import export_json, export_user

    services = _services(settings)
    now = services.clock()
    with services.db.session() as session:
        user = _find(session, args.telegram_id)
        if user is None:
            print("no data is kept for this Telegram id", file=sys.stderr)
            return 1
        document = export_json(export_user(session, user, services.registry, now))
        audit(session, CLI_ACTOR, "privacy.export", user.label)
    if args.output:
        args.output.write_bytes(document)
        print(f"written to {args.output}")
    else:
        sys.stdout.buffer.write(document + b"\n")
    return 0


def _erase(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_conversation
    from bot.core.context import Context
    from bot.features.privacy.data import erase_user

    if not args.yes:
        print("erasing cannot be undone: add --yes", file=sys.stderr)
        return 2
    services = _services(settings)
    conversation = build_conversation(services)
    now = services.clock()
    with services.db.session() as session:
        user = _find(session, args.telegram_id)
        if user is None:
            print("no data is kept for this Telegram id", file=sys.stderr)
            return 1
        state = session.get(ConversationState, user.id) or ConversationState(user_id=user.id, vars={})
        incoming = Incoming(UserRef(user.channel, user.external_id))
        ctx = Context(session, user, state, incoming, services, conversation, now)
        counts = erase_user(ctx, actor=CLI_ACTOR)
        notices = [r for r in ctx.replies if r.to is not None and r.to != Recipient(user=incoming.user)]
        if notices:
            # The running bot sends replies that an inbox row holds as "handled" (see TelegramChannel.
            # finish_unfinished); a negative id cannot collide with Telegram's update ids.
            session.add(
                InboxUpdate(
                    update_id=-time.time_ns() // 1000,
                    received_at=now,
                    status="handled",
                    attempts=1,
                    replies=[reply_to_json(r) for r in notices],
                )
            )
    touched = ", ".join(f"{table} {count}" for table, count in sorted(counts.items()) if count)
    print(f"erased ({touched}); {len(notices)} notice(s) to staff will be sent by the running bot")
    return 0


def _retention(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.features.privacy.retention import run_retention
    from bot.inbox import Inbox

    services = _services(settings)
    counts = run_retention(services)
    pruned = Inbox(services.db).prune()
    with services.db.session() as session:
        audit(session, CLI_ACTOR, "privacy.retention", None, **{k: v for k, v in counts.items() if v})
    print("retention done: " + ", ".join(f"{t} {c}" for t, c in sorted({**counts, "inbox pruned": pruned}.items())))
    return 0
