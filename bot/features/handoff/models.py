"""Handoff tables: tickets (a family's request for a person) and the messages relayed for them.

A ticket holds no message text; relayed texts are kept in `ticket_messages` only when the family has
given consent, and are deleted after the retention period (`purge_relayed_texts`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class TicketStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class TicketReason(StrEnum):
    REQUEST = "request"  # the family asked for a person
    MISUNDERSTOOD = "misunderstood"  # offered after two misunderstood messages, and accepted
    CRISIS = "crisis"  # opened automatically after the emergency information
    MEDIA = "media"  # a voice message, photo or document the family wanted a counsellor to see


class Ticket(Base):
    """One request for a person: open → claimed → closed."""

    __tablename__ = "tickets"
    __table_args__ = (
        # At most one ticket per family that is not closed: a second request joins the first.
        Index(
            "uq_tickets_active_user",
            "user_id",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    topics: Mapped[str] = mapped_column(String(200), default="")  # comma-separated topic ids
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(16), default=TicketReason.REQUEST.value)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.OPEN.value, index=True)
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(16))  # counsellor | family
    # Where the ticket lives in the staff group: its forum topic (if the group has topics) and its card.
    staff_thread_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_alert_at: Mapped[datetime | None]
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)

    @property
    def topic_list(self) -> list[str]:
        return [topic for topic in self.topics.split(",") if topic]

    @property
    def active(self) -> bool:
        return self.status != TicketStatus.CLOSED


class TicketMessage(Base):
    """A message relayed for a ticket, in either direction.

    The row links a message in the staff group to its ticket (so a counsellor's reply finds the family);
    `text` is kept only with the family's consent and is deleted with the retention period.
    """

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in: family → staff | out: staff → family
    media: Mapped[str | None] = mapped_column(String(16))  # a MediaKind value, or None for text
    text: Mapped[str | None] = mapped_column(Text)
    # The id of the copy in the staff group (set when the channel reports it), for reply routing.
    staff_message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
