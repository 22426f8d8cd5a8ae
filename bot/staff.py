"""Who is staff, and the audit log of what staff do."""

from __future__ import annotations

import argparse
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
    listing = csub.add_parser("list", help="list counsellors")
    listing.set_defaults(handler=_list)
    audit_parser = sub.add_parser("audit", help="read the audit log of staff actions")
    audit_parser.add_argument("--limit", type=int, default=50)
    audit_parser.set_defaults(handler=_audit)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    unknown = [code for code in languages if code not in (*SERVED_LANGUAGES, "sv")]
    if unknown:
        print(f"unknown language code(s): {', '.join(unknown)}")
        return 2
    with admin_session(settings) as session:
        row = session.scalar(select(Counsellor).where(Counsellor.telegram_id == args.telegram_id))
        if row is None:
            row = Counsellor(telegram_id=args.telegram_id, name=args.name)
            session.add(row)
        row.name, row.active = args.name, True
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


def _list(_args: argparse.Namespace, settings: Settings) -> int:
    with admin_session(settings, write=False) as session:
        for row in session.scalars(select(Counsellor).order_by(Counsellor.id)):
            state = "active" if row.active else "inactive"
            print(f"{row.id}\t{row.name}\t{row.languages}\t{row.municipalities}\t{state}")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    with admin_session(settings, write=False) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(args.limit)).all()
        for row in reversed(rows):
            print(f"{row.at:%Y-%m-%d %H:%M:%S}Z\t{row.actor}\t{row.action}\t{row.target or '-'}\t{row.details or ''}")
    return 0
