"""The update inbox: every update is written down before it is acted on, and marked done after.

python-telegram-bot acknowledges updates before handlers finish (SPEC reliability notes), so this table,
keyed by `update_id`, is what makes a crash or a redelivery harmless: the core records "handled" together
with the effects and the replies to send; the channel marks "done" once the replies are out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.messages import Reply, reply_from_json, reply_to_json
from bot.db.base import utcnow
from bot.db.database import Database
from bot.db.models import InboxUpdate


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    # record and mark_done run for every update: plain statements on a connection, without an ORM session
    # (its unit of work and identity map cost about a millisecond of CPU per update, for nothing here).
    def record(self, update_id: int, payload: dict[str, Any]) -> bool:
        """Write the update down. False when it was seen before (a redelivery)."""
        try:
            with self.db.engine.begin() as connection:
                connection.execute(
                    insert(InboxUpdate).values(
                        update_id=update_id, payload=payload, status="received", attempts=0, received_at=utcnow()
                    )
                )
            return True
        except IntegrityError:
            return False

    def status(self, update_id: int) -> str | None:
        with self.db.sessions() as session:
            return session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == update_id))

    def mark_done(self, update_id: int) -> None:
        with self.db.engine.begin() as connection:  # one UPDATE, no read first
            connection.execute(
                update(InboxUpdate)
                .where(InboxUpdate.update_id == update_id)
                .values(status="done", payload=None, replies=None, done_at=utcnow())
            )

    def keep_unsent(self, update_id: int, replies: list[Reply]) -> None:
        """Some replies could not be sent: keep only those, so that the retry sends nothing twice.

        Each must name its recipient (the retry has no original update to answer).
        """
        with self.db.session() as session:
            session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.update_id == update_id)
                .values(status="handled", payload=None, replies=[reply_to_json(r) for r in replies])
            )

    def unfinished(
        self, handled_before: datetime | None = None
    ) -> list[tuple[int, str, dict[str, Any] | None, list[Reply]]]:
        """Updates a crash interrupted: (id, status, raw update if not yet handled, replies if not yet sent).

        `handled_before`: handled updates only if received before then (younger ones may be being sent by
        another worker). A received update is always safe to take: the core handles it once.
        """
        handled = InboxUpdate.status == "handled"
        if handled_before is not None:
            handled = and_(handled, InboxUpdate.received_at < handled_before)
        with self.db.sessions() as session:
            rows = session.scalars(
                select(InboxUpdate)
                .where(or_(InboxUpdate.status == "received", handled))
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
