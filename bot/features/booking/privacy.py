"""Booking's part of privacy: export a family's bookings, erase them, and forget old ones.

Hooked into `registry.privacy_exporters`, `privacy_erasers` and `retention_hooks` (the privacy feature
runs them). Erasing a future booking frees its slot and tells the counsellor, like a cancellation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.core.context import Context
from bot.db.models import User
from bot.features.booking import notify
from bot.features.booking.models import Booking, Slot
from bot.features.booking.service import cancel_booking, future_bookings, lock_family

# The longest meeting a slot may have (models.Slot's check): after this long from its start, any meeting is over.
MEETING_OVER = timedelta(minutes=480)

if TYPE_CHECKING:
    from bot.features.booking.feature import BookingFeature


def export_bookings(session: Session, user: User) -> dict[str, Any]:
    rows = session.scalars(
        select(Booking).where(Booking.user_id == user.id).order_by(Booking.created_at, Booking.id)
    ).unique()
    return {
        "bookings": [
            {
                "starts_at": booking.slot.starts_at.isoformat(),
                "minutes": booking.slot.minutes,
                "how": booking.slot.mode,
                "municipality": booking.slot.municipality,
                "place": booking.slot.place,
                "topic": booking.topic,
                "interpreter": booking.interpreter,
                "language": booking.language,
                "phone": booking.phone,
                "status": booking.status,
                "booked_at": booking.created_at.isoformat(),
                "ended_at": booking.ended_at.isoformat() if booking.ended_at else None,
            }
            for booking in rows
        ]
    }


def make_eraser(feature: BookingFeature) -> Any:
    def erase_bookings(ctx: Context) -> dict[str, int]:
        lock_family(ctx.session, ctx.user.id)
        for booking in future_bookings(ctx.session, ctx.user.id, ctx.now):
            # The counsellor must know the time is free again; the reminder must not go out.
            cancel_booking(booking, by="family", now=ctx.now)
            feature.reminders.cancel(ctx.session, booking)
            ctx.send(notify.to_counsellor(ctx.session, feature.texts, feature.tz, feature.places, booking, "cancelled"))
        result = ctx.session.execute(delete(Booking).where(Booking.user_id == ctx.user.id))
        return {"bookings": int(getattr(result, "rowcount", 0) or 0)}

    return erase_bookings


def make_retention(retention_days: int) -> Any:
    def forget_old_bookings(session: Session, now: datetime) -> dict[str, int]:
        """Bookings (topic, interpreter) are kept as long as message texts: until `retention_days` after
        the meeting. Old slots with no bookings left go with them. A family's phone number only until the
        meeting is over."""
        over = select(Slot.id).where(Slot.starts_at < now - MEETING_OVER)
        phones = session.execute(
            update(Booking).where(Booking.phone.is_not(None), Booking.slot_id.in_(over)).values(phone=None)
        )
        cutoff = now - timedelta(days=retention_days)
        old_slots = select(Slot.id).where(Slot.starts_at < cutoff)
        bookings = session.execute(delete(Booking).where(Booking.slot_id.in_(old_slots)))
        still_used = select(Booking.slot_id)
        slots = session.execute(delete(Slot).where(Slot.starts_at < cutoff, Slot.id.not_in(still_used)))
        return {
            "booking_phones": int(getattr(phones, "rowcount", 0) or 0),
            "bookings": int(getattr(bookings, "rowcount", 0) or 0),
            "booking_slots": int(getattr(slots, "rowcount", 0) or 0),
        }

    return forget_old_bookings
