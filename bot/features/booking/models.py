"""Booking tables: the times counsellors publish (slots) and the families' bookings of them.

"A slot is booked at most once" is the database's promise, not the code's: a partial unique index on
`bookings.slot_id WHERE status = 'active'` (both SQLite and PostgreSQL have partial indexes) lets any
number of cancelled or moved bookings point at a slot, but only one active one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, utcnow
from bot.db.models import Counsellor

SLOT_STATUSES = ("open", "cancelled")
BOOKING_STATUSES = ("active", "cancelled", "moved")
ACTIVE = "active"


class Slot(Base):
    """A time a counsellor offers: when, how long, how (in person / phone / video) and where."""

    __tablename__ = "booking_slots"
    __table_args__ = (
        # A counsellor cannot publish the same start twice (makes CSV and recurring imports idempotent).
        UniqueConstraint("counsellor_id", "starts_at"),
        CheckConstraint("minutes > 0 AND minutes <= 480", name="minutes_range"),
        CheckConstraint("mode IN ('in_person', 'phone', 'video')", name="mode_known"),
        CheckConstraint("status IN ('open', 'cancelled')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))  # in_person | phone | video
    municipality: Mapped[str | None] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(200))
    languages: Mapped[str] = mapped_column(String(64), default="")  # comma-separated codes the counsellor speaks
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]

    counsellor: Mapped[Counsellor] = relationship(lazy="joined", innerjoin=True)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)

    @property
    def remote(self) -> bool:
        return self.mode != "in_person"

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]


class Booking(Base):
    """One family's booking of one slot. Cancelled and moved bookings stay as history (no texts in them)."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_active_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        CheckConstraint("status IN ('active', 'cancelled', 'moved')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("booking_slots.id"), index=True)
    # Erasing a user (privacy) erases their bookings with them.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    topic: Mapped[str] = mapped_column(String(16))
    interpreter: Mapped[str | None] = mapped_column(String(8))  # a language code, or None: not needed
    language: Mapped[str] = mapped_column(String(8))  # the family's language when they booked, for the counsellor
    # A phone or video meeting: the number the counsellor calls or texts the link to. Cleared once the meeting
    # is over, and when the booking is cancelled (bot/features/booking/privacy.py, service.py).
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]  # when it was cancelled or moved
    ended_by: Mapped[str | None] = mapped_column(String(16))  # family | counsellor
    moved_to_id: Mapped[int | None] = mapped_column(Integer)

    slot: Mapped[Slot] = relationship(lazy="joined", innerjoin=True)
