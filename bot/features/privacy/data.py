"""A user's data: exported as one JSON document (GDPR art. 15, 20), erased completely (art. 17).

Each feature contributes its own part through `registry.privacy_exporters` / `registry.privacy_erasers`;
this module holds the foundation tables' part (profile, conversation state, message log, inbox, audit
log) and the order: feature erasers first, then a sweep of every table that still refers to the user,
then the user row itself.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.context import Context
from bot.core.registry import Registry
from bot.db.base import Base
from bot.db.models import AuditEntry, ConversationState, InboxUpdate, MessageLog, User
from bot.staff import audit

log = logging.getLogger(__name__)

# Rows that must outlive an erased user for the project's statistics (e.g. a closed ticket and its rating)
# are re-pointed to this one shared placeholder user, which identifies nobody.
ERASED_CHANNEL = "erased"
ERASED_EXTERNAL_ID = "erased"
ERASED_LABEL = "erased"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def erased_placeholder(session: Session, now: datetime) -> User:
    """The shared placeholder user that anonymised rows point to (created once)."""
    query = select(User).where(User.channel == ERASED_CHANNEL, User.external_id == ERASED_EXTERNAL_ID)
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():  # two erasures at once: the second finds the first one's row
            row = User(channel=ERASED_CHANNEL, external_id=ERASED_EXTERNAL_ID, created_at=now, last_seen_at=now)
            session.add(row)
        return row
    except IntegrityError:
        found = session.scalar(query)
        assert found is not None
        return found


# ---------------------------------------------------------------------- export
def export_foundation(session: Session, user: User) -> dict[str, Any]:
    """Profile, where the user is in a conversation, and the message texts kept for counsellors."""
    state = session.get(ConversationState, user.id)
    messages = session.scalars(
        select(MessageLog).where(MessageLog.user_id == user.id).order_by(MessageLog.created_at, MessageLog.id)
    ).all()
    return {
        "profile": {
            "channel": user.channel,
            "telegram_user_id" if user.channel == "telegram" else "user_id": user.external_id,
            "language": user.language,
            "consent_given_at": iso(user.consent_at),
            "consent_notice_version": user.consent_version,
            "consent_refused_at": iso(user.consent_refused_at),
            "first_contact_at": iso(user.created_at),
            "last_contact_at": iso(user.last_seen_at),
            "blocked_the_bot_at": iso(user.blocked_at),
        },
        "conversation": {
            "flow": state.flow if state else None,
            "step": state.step if state else None,
            "variables": dict(state.vars or {}) if state else {},
        },
        "messages": [{"at": iso(row.created_at), "direction": row.direction, "text": row.text} for row in messages],
        "scheduled_messages": _export_outbox(session, user),
    }


def _export_outbox(session: Session, user: User) -> list[dict[str, Any]]:
    """Reminders and notices planned for the user (the outbox), with what became of them."""
    from bot.outbox_models import OutboxMessage

    if not inspect(session.connection()).has_table(OutboxMessage.__tablename__):
        return []
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == user.id).order_by(OutboxMessage.due_at)
    ).all()
    return [
        {"kind": row.kind, "due_at": iso(row.due_at), "status": row.status, "sent_at": iso(row.sent_at)} for row in rows
    ]


def export_user(session: Session, user: User, registry: Registry, now: datetime) -> dict[str, Any]:
    """Everything kept about `user`, as one JSON-able document."""
    document: dict[str, Any] = {
        "about": "Data that the Aito bot keeps about you (GDPR articles 15 and 20).",
        "generated_at": iso(now),
    }
    for exporter in registry.privacy_exporters:
        for section, data in exporter(session, user).items():
            if section in document:
                raise ValueError(f"privacy export section {section!r} is produced twice")
            document[section] = data
    return document


def export_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False, default=str).encode("utf-8")


# ---------------------------------------------------------------------- erasure
def erase_foundation(ctx: Context) -> dict[str, int]:
    """Message log, unfinished inbox rows that carry the user's updates, and their label in the audit log."""
    session, user = ctx.session, ctx.user
    counts: dict[str, int] = {}
    result = session.execute(delete(MessageLog).where(MessageLog.user_id == user.id))
    counts["message_log"] = _rowcount(result)

    # Updates not yet done hold the raw update (their text and Telegram id) or replies addressed to them.
    # The update being handled now is recorded by the engine after this, without its payload.
    mention = re.compile(rf"(?<![\w-]){re.escape(user.external_id)}(?![\w-])")
    scrubbed = 0
    for row in session.scalars(select(InboxUpdate).where(InboxUpdate.status.in_(("received", "handled")))):
        if row.update_id == ctx.incoming.idempotency_key:
            continue
        if mention.search(json.dumps([row.payload, row.replies], ensure_ascii=False)):
            row.status, row.payload, row.replies, row.done_at = "done", None, None, ctx.now
            scrubbed += 1
    counts["inbox_updates"] = scrubbed

    # The audit log keeps what staff did, but no longer to whom: the user's pseudonymous label goes.
    label = user.label
    entries = session.scalars(
        select(AuditEntry).where(
            (AuditEntry.target == label)
            | (AuditEntry.actor == label)
            | cast(AuditEntry.details, String).contains(label)
        )
    ).all()
    for entry in entries:
        entry.target = ERASED_LABEL if entry.target == label else entry.target
        entry.actor = ERASED_LABEL if entry.actor == label else entry.actor
        entry.details = {k: (ERASED_LABEL if v == label else v) for k, v in (entry.details or {}).items()}
    counts["audit_log"] = len(entries)
    return counts


def sweep_references(session: Session, user_id: int) -> dict[str, int]:
    """Delete whatever still points at the user in any mapped table: the safety net behind the erasers.

    A table whose foreign key has no ON DELETE CASCADE would otherwise make the erasure fail, and one that
    a feature forgot would keep a trace.
    """
    counts: dict[str, int] = {}
    users = User.__table__
    existing = set(inspect(session.connection()).get_table_names())  # a model may be ahead of its migration
    for table in reversed(Base.metadata.sorted_tables):
        if table is users or table.name not in existing:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is users:
                result = session.execute(delete(table).where(fk.parent == user_id))
                if _rowcount(result):
                    counts[table.name] = counts.get(table.name, 0) + _rowcount(result)
    return counts


def erase_user(ctx: Context, *, actor: str = "family") -> dict[str, int]:
    """Erase everything about ctx.user in this transaction. Returns rows affected per table (no ids).

    `actor` is who asked: the family themselves, or "cli" when the coordinator answers a request.
    """
    session, user = ctx.session, ctx.user
    session.flush()  # the engine's own changes to the user row first, so that nothing re-creates it later
    counts: dict[str, int] = {}
    for eraser in ctx.services.registry.privacy_erasers:
        for table, count in eraser(ctx).items():
            counts[table] = counts.get(table, 0) + count
    for table, count in sweep_references(session, user.id).items():
        counts[table] = counts.get(table, 0) + count
    session.execute(delete(ConversationState).where(ConversationState.user_id == user.id))
    session.execute(delete(User).where(User.id == user.id))
    counts["users"] = 1
    # The engine still holds these objects for the rest of this turn: detach them, so that nothing it
    # does to them afterwards (moving to a step) is written back.
    for obj in (ctx.state, user):
        if obj in session:
            session.expunge(obj)
    # Accountability without identity: that an erasure happened, and how much it removed.
    audit(session, actor, "privacy.erase", None, **{k: v for k, v in sorted(counts.items()) if v})
    log.info("a user's data was erased (%d tables touched)", len([v for v in counts.values() if v]))
    return counts


def withdraw_consent(session: Session, user: User, now: datetime) -> int:
    """Consent withdrawn (art. 7(3)): stop keeping texts, and delete those kept so far."""
    user.consent_at = None
    user.consent_version = None
    user.consent_refused_at = now
    result = session.execute(delete(MessageLog).where(MessageLog.user_id == user.id))
    return _rowcount(result)


def reassign_to_placeholder(session: Session, table: Any, column: Any, user_id: int, now: datetime) -> int:
    """Anonymise rows kept for statistics: point them at the placeholder instead of the user."""
    placeholder = erased_placeholder(session, now)
    result = session.execute(update(table).where(column == user_id).values({column.key: placeholder.id}))
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
