"""The update inbox: every update is written down before it is acted on, and marked done after.

python-telegram-bot acknowledges updates before handlers finish (SPEC reliability notes), so this table,
keyed by `update_id`, is what makes a crash or a redelivery harmless: the core records "handled" together
with the effects and the replies to send; the channel marks "done" once the replies are out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.messages import Reply, reply_from_json, reply_to_json
from bot.db.base import utcnow
from bot.db.database import Database
from bot.db.models import InboxUpdate

# Every update passes through these statements (recorded, locked and marked handled by the core, done):
# plain statements, built once, on a connection without an ORM session. Its unit of work and identity
# map, and building a statement anew, cost more than the database's own work here.
INBOX = cast(Table, InboxUpdate.__table__)
RECORD = insert(INBOX).values(
    update_id=bindparam("key"),
    payload=bindparam("raw", type_=INBOX.c.payload.type),
    status="received",
    attempts=0,
    received_at=bindparam("now", type_=INBOX.c.received_at.type),
)
LOCKED_STATUS = select(INBOX.c.status).where(INBOX.c.update_id == bindparam("key")).with_for_update()
HANDLED = (
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("key"))
    .values(
        status="handled",
        payload=None,
        replies=bindparam("stored", type_=INBOX.c.replies.type),
        attempts=INBOX.c.attempts + 1,
    )
)
# For updates that reached the core without a channel recording them first.
HANDLED_UNRECORDED = insert(INBOX).values(
    update_id=bindparam("key"),
    received_at=bindparam("now", type_=INBOX.c.received_at.type),
    status="handled",
    payload=None,
    replies=bindparam("stored", type_=INBOX.c.replies.type),
    attempts=1,
)
MARK_DONE = (
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("key"))
    .values(status="done", payload=None, replies=None, done_at=bindparam("now", type_=INBOX.c.done_at.type))
)


def locked_status(connection: Connection, update_id: int) -> str | None:
    """The update's status, its row locked until the transaction ends; None if it was never recorded."""
    status: str | None = connection.execute(LOCKED_STATUS, {"key": update_id}).scalar()
    return status


def write_handled(
    connection: Connection, update_id: int, replies: list[dict[str, Any]], now: datetime, *, recorded: bool
) -> None:
    """Handled, with the replies still to send, in the transaction of the update's effects. The raw
    update (with the user's text) is not kept once handled."""
    statement = HANDLED if recorded else HANDLED_UNRECORDED
    connection.execute(statement, {"key": update_id, "stored": replies, "now": now})


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, update_id: int, payload: dict[str, Any]) -> bool:
        """Write the update down. False when it was seen before (a redelivery)."""
        try:
            with self.db.single_statement() as connection:
                connection.execute(RECORD, {"key": update_id, "raw": payload, "now": utcnow()})
            return True
        except IntegrityError:
            return False

    def status(self, update_id: int) -> str | None:
        with self.db.sessions() as session:
            return session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == update_id))

    def mark_done(self, *update_ids: int) -> None:
        """Every reply of these updates is out. One transaction for all (the channel batches them)."""
        if not update_ids:
            return
        now = utcnow()
        with self.db.engine.begin() as connection:  # UPDATEs only, no read first
            connection.execute(MARK_DONE, [{"key": update_id, "now": now} for update_id in update_ids])

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
