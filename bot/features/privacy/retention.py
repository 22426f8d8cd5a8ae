"""Retention: message texts are deleted once they are older than `RETENTION_DAYS` (default 90).

The work is a plain function of `now`, so that it can be tested without waiting; the Telegram channel runs
it hourly as a JobQueue job in the one process that runs the scheduler.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from bot.core.registry import Registry
from bot.db.models import InboxUpdate, MessageLog
from bot.settings import Settings

log = logging.getLogger(__name__)


def purge_expired(session: Session, now: datetime, settings: Settings, registry: Registry) -> dict[str, int]:
    """Delete what has outlived its retention period; returns rows affected per table."""
    cutoff = now - timedelta(days=settings.retention_days)
    counts: dict[str, int] = {}
    result = session.execute(delete(MessageLog).where(MessageLog.created_at < cutoff))
    counts["message_log"] = _rowcount(result)
    # An update that could never be finished keeps its raw text in the inbox: give up on it at the latest
    # when its text would have been deleted anyway (normally the inbox retries it within seconds).
    result = session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.status.in_(("received", "handled")), InboxUpdate.received_at < cutoff)
        .values(status="expired", payload=None, replies=None, done_at=now)
    )
    counts["inbox_updates"] = _rowcount(result)
    for hook in registry.retention_hooks:
        for table, count in hook(session, now).items():
            counts[table] = counts.get(table, 0) + count
    return counts


def run_retention(services: Any, now: datetime | None = None) -> dict[str, int]:
    """One retention pass in its own transaction (the scheduled job, and `admin retention`)."""
    moment = now or services.clock()
    counts: dict[str, int] = services.db.transaction(
        lambda session: purge_expired(session, moment, services.settings, services.registry)
    )
    if any(counts.values()):
        log.info("retention: %s", ", ".join(f"{table} {count}" for table, count in sorted(counts.items()) if count))
    return counts


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
