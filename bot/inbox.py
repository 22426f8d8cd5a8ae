"""The update inbox: every update is written down before it is acted on, and marked done after.

python-telegram-bot acknowledges updates before handlers finish (SPEC reliability notes), so this table,
keyed by `update_id`, is what makes a crash or a redelivery harmless: the core records "handled" together
with the effects and the replies to send; the channel marks "done" once the replies are out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.core.messages import Reply, reply_from_json
from bot.db.base import utcnow
from bot.db.database import Database
from bot.db.models import InboxUpdate


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, update_id: int, payload: dict[str, Any]) -> bool:
        """Write the update down. False when it was seen before (a redelivery)."""
        try:
            with self.db.session() as session:
                session.add(InboxUpdate(update_id=update_id, payload=payload, status="received", attempts=0))
            return True
        except IntegrityError:
            return False

    def status(self, update_id: int) -> str | None:
        with self.db.sessions() as session:
            return session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == update_id))

    def mark_done(self, update_id: int) -> None:
        with self.db.session() as session:
            row = session.get(InboxUpdate, update_id)
            if row is not None:
                row.status, row.payload, row.replies, row.done_at = "done", None, None, utcnow()

    def unfinished(self) -> list[tuple[int, str, dict[str, Any] | None, list[Reply]]]:
        """Updates a crash interrupted: (id, status, raw update if not yet handled, replies if not yet sent)."""
        with self.db.sessions() as session:
            rows = session.scalars(
                select(InboxUpdate)
                .where(InboxUpdate.status.in_(("received", "handled")))
                .order_by(InboxUpdate.update_id)
            ).all()
            return [
                (row.update_id, row.status, row.payload, [reply_from_json(r) for r in row.replies or []])
                for row in rows
            ]

    def prune(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Forget done updates once Telegram can no longer redeliver them (it keeps them 24 h)."""
        with self.db.session() as session:
            result = session.execute(
                delete(InboxUpdate).where(InboxUpdate.status == "done", InboxUpdate.received_at < utcnow() - older_than)
            )
            return int(getattr(result, "rowcount", 0) or 0)
