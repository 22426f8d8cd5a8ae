"""Who is staff, and the audit log of what staff do."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.database import Database
from bot.db.models import AuditEntry, Counsellor
from bot.settings import SERVED_LANGUAGES, Settings

CLI_ACTOR = "cli"  # who the audit log names for actions taken on the command line
NAME_CHARS = 100  # Counsellor.name's column


def typed_number(text: str) -> int | None:
    """A number a counsellor typed ("12", "#12", Arabic-Indic digits), or None for anything else.

    `isdecimal`, not `isdigit`: "²" is a digit that int() refuses. At most nine digits, so that a
    forged huge number never reaches the database as an out-of-range integer.
    """
    head = text.strip().lstrip("#")
    return int(head) if head.isdecimal() and len(head) <= 9 else None


def counsellor_by_telegram_id(session: Session, telegram_id: int | str) -> Counsellor | None:
    """The active counsellor with this Telegram id, or None: the one check behind every staff action."""
    try:
        tid = int(telegram_id)
    except (TypeError, ValueError):
        return None
    return session.scalar(select(Counsellor).where(Counsellor.telegram_id == tid, Counsellor.active.is_(True)))


def audit(session: Session, actor: str, action: str, target: str | None = None, **details: Any) -> None:
    """Record a staff action (or a refused attempt). Never put message texts or names in `details`."""
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, target=target, details=details))


def actor_label(counsellor: Counsellor | None) -> str:
    return f"counsellor:{counsellor.id}" if counsellor is not None else "unlisted"


# ---------------------------------------------------------------------- command line
@contextmanager
def admin_session(settings: Settings, *, write: bool = True) -> Iterator[Session]:
    """The database for one `admin` command: migrated first (an admin command may be the first thing run
    against a new database), then one transaction, committed when the block ends and rolled back on an
    error; `write=False` only reads. The engine is closed afterwards."""
    db = Database(settings.database_url)
    db.migrate()
    try:
        opened = db.session() if write else db.sessions()
        with opened as session:
            yield session
    finally:
        db.dispose()


def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    counsellor = sub.add_parser("counsellor", help="the list of counsellors")
    csub = counsellor.add_subparsers(dest="counsellor_command")
    add = csub.add_parser("add", help="add or update a counsellor")
    add.add_argument("--telegram-id", type=int, required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--languages", default="fi,en", help="comma-separated, e.g. fi,en,ar")
    add.add_argument("--municipalities", default="", help="comma-separated, e.g. Kemi,Tornio")
    add.set_defaults(handler=_add)
    remove = csub.add_parser("remove", help="deactivate a counsellor")
    remove.add_argument("--telegram-id", type=int, required=True)
    remove.set_defaults(handler=_remove)
    duty = csub.add_parser("duty", help="on duty: private alerts of urgent requests (on), or none (off)")
    duty.add_argument("--telegram-id", type=int, required=True)
    duty.add_argument("state", choices=("on", "off"), help="on: private alerts of urgent requests; off: none")
    duty.set_defaults(handler=_duty)
    listing = csub.add_parser("list", help="list counsellors (with the Telegram ids the other commands take)")
    listing.set_defaults(handler=_list)
    audit_parser = sub.add_parser("audit", help="read the audit log of staff actions")
    audit_parser.add_argument("--limit", type=int, default=50)
    audit_parser.set_defaults(handler=_audit)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    name = " ".join(args.name.split())
    if not name:
        # Families read it: "👋 Anna from our team is here now".
        print("--name cannot be empty: families see it when the counsellor takes their request", file=sys.stderr)
        return 2
    if len(name) > NAME_CHARS:
        print(f"--name is too long (at most {NAME_CHARS} characters)", file=sys.stderr)
        return 2
    if args.telegram_id <= 0:
        # Telegram ids of people are positive; groups and channels have negative ones.
        print(
            "--telegram-id must be a person's Telegram id, a positive number (a negative one is a group's)",
            file=sys.stderr,
        )
        return 2
    languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    unknown = [code for code in languages if code not in (*SERVED_LANGUAGES, "sv")]
    if unknown:
        print(f"unknown language code(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    with admin_session(settings) as session:
        row = session.scalar(select(Counsellor).where(Counsellor.telegram_id == args.telegram_id))
        if row is None:
            row = Counsellor(telegram_id=args.telegram_id, name=name)
            session.add(row)
        row.name, row.active = name, True
        row.languages = ",".join(languages)
        row.municipalities = ",".join(m.strip() for m in args.municipalities.split(",") if m.strip())
        session.flush()
        audit(session, CLI_ACTOR, "counsellor.add", f"counsellor:{row.id}")
        print(f"counsellor {row.id} saved")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    with admin_session(settings) as session:
        row = session.scalar(select(Counsellor).where(Counsellor.telegram_id == args.telegram_id))
        if row is None:
            print("no such counsellor")
            return 1
        row.active = False
        audit(session, CLI_ACTOR, "counsellor.remove", f"counsellor:{row.id}")
    print("counsellor deactivated")
    return 0


def _duty(args: argparse.Namespace, settings: Settings) -> int:
    on_duty = args.state == "on"
    with admin_session(settings) as session:
        row = session.scalar(select(Counsellor).where(Counsellor.telegram_id == args.telegram_id))
        if row is None:
            print("no such counsellor (see `admin counsellor list`)", file=sys.stderr)
            return 1
        row.on_duty = on_duty
        audit(session, CLI_ACTOR, "counsellor.duty", f"counsellor:{row.id}", on_duty=on_duty)
        inactive = "" if row.active else " (inactive: no alerts until added again)"
    print(f"counsellor {'on' if on_duty else 'off'} duty{inactive}")
    return 0


LIST_COLUMNS = ("id", "telegram_id", "name", "languages", "municipalities", "active", "on_duty")


def _list(_args: argparse.Namespace, settings: Settings) -> int:
    """One counsellor a line, tab-separated under a header: `remove` and `duty` take the Telegram id."""
    with admin_session(settings, write=False) as session:
        rows = session.scalars(select(Counsellor).order_by(Counsellor.id)).all()
        if not rows:
            print("no counsellors yet: add one with `admin counsellor add --telegram-id N --name NAME`")
            return 0
        print("\t".join(LIST_COLUMNS))
        for row in rows:
            flags = ("yes" if row.active else "no", "yes" if row.on_duty else "no")
            print(
                "\t".join(
                    (str(row.id), str(row.telegram_id), row.name, row.languages, row.municipalities or "-", *flags)
                )
            )
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    with admin_session(settings, write=False) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(args.limit)).all()
        for row in reversed(rows):
            print(f"{row.at:%Y-%m-%d %H:%M:%S}Z\t{row.actor}\t{row.action}\t{row.target or '-'}\t{row.details or ''}")
    return 0
