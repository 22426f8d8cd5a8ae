"""The outbox table: every scheduled message (reminders, cancellations) is a row before it is sent.

See `bot.outbox` for how rows are planned, claimed and sent, and what each status means.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow

PENDING = "pending"  # waiting for due_at
SENDING = "sending"  # claimed: the HTTP call may be in flight (or was, if the process died)
SENT = "sent"
BLOCKED = "blocked"  # Telegram said 403: the user blocked the bot
EXPIRED = "expired"  # not sent before expires_at (the meeting had started)
FAILED = "failed"  # Telegram refused it (400) or it kept failing
CANCELLED = "cancelled"  # no longer wanted (the meeting was cancelled or moved)
FINAL = (SENT, BLOCKED, EXPIRED, FAILED, CANCELLED)


class OutboxMessage(Base):
    """One message to one user, rendered in the user's language when it is sent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique per logical message (e.g. `group.reminder:<subscription>:<occurrence>:<revision>:24h`):
    # planning the same message twice inserts nothing.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # What the message is about (e.g. `occurrence:12`), so that a feature can cancel what is still pending.
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    # How to render it: a string key, values (see bot.outbox.render) and buttons [[text key, payload]].
    text_key: Mapped[str] = mapped_column(String(80))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    buttons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(64))  # an exception type, never a text
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
