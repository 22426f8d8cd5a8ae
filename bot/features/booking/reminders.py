"""Booking messages that go out later, through the delivery engine (`bot.outbox`): the reminder before
the meeting, and the notice to a family whose booking staff cancelled from the command line.

Rows are rendered in the family's language when they are sent, so the values here are language-free
(`moment`, `nested`, the town in each language); a row's key is unique per booking, so planning twice queues once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.core.texts import LANGUAGE_NAMES
from bot.features.booking.models import Booking
from bot.features.booking.places import PlaceNames
from bot.features.booking.present import MODE_ICONS, where_plain
from bot.features.booking.service import BookingConfig
from bot.outbox import Message, cancel_pending, localized, moment, nested, queue
from bot.settings import SERVED_LANGUAGES

NOTICE_STEP = "booking.notice"


def booking_ref(booking: Booking) -> str:
    return f"booking:{booking.id}"


def outbox_values(booking: Booking, places: PlaceNames) -> dict[str, Any]:
    """The placeholders of a booking message, resolved in the recipient's language at send time."""
    slot = booking.slot
    where: Any
    if slot.mode == "in_person":
        # The town in each language, the place as staff typed it: plain strings, escaped when rendered.
        where = localized({language: where_plain(places, language, slot) or "" for language in SERVED_LANGUAGES})
    else:
        where = nested(f"booking.mode_desc.{slot.mode}")
    interpreter: Any
    if booking.interpreter is None:
        interpreter = nested("booking.interpreter_none")
    elif booking.interpreter in LANGUAGE_NAMES:
        interpreter = LANGUAGE_NAMES[booking.interpreter]  # native names read the same in every language
    else:
        interpreter = nested("booking.interpreter_ask")
    return {
        "when": nested("booking.when_range", start=moment(slot.starts_at), end=moment(slot.ends_at, "time")),
        "where": where,
        "icon": MODE_ICONS[slot.mode],
        "topic": nested(f"booking.topic.{booking.topic}"),
        "interpreter": interpreter,
    }


class BookingReminders:
    """Plans and withdraws a booking's reminder in the caller's transaction."""

    def __init__(self, config: BookingConfig, places: PlaceNames) -> None:
        self.config = config
        self.places = places

    def due_at(self, booking: Booking) -> datetime:
        return booking.slot.starts_at - timedelta(hours=self.config.reminder_hours)

    def plan(self, session: Session, booking: Booking, now: datetime) -> bool:
        """Queue the reminder; False when the meeting is sooner than the reminder would be (the
        confirmation has just said it all)."""
        due = self.due_at(booking)
        if due <= now:
            return False
        message = Message(
            key=f"booking.reminder:{booking.id}",
            user_id=booking.user_id,
            kind="booking.reminder",
            text_key="booking.reminder",
            due_at=due,
            values=outbox_values(booking, self.places),
            buttons=((("booking.my_bookings", f"{NOTICE_STEP}:mine"),), (("common.menu", f"{NOTICE_STEP}:menu"),)),
            expires_at=booking.slot.starts_at,  # a reminder after the start helps nobody
            ref=booking_ref(booking),
        )
        queue(session, [message], now)
        return True

    def cancel(self, session: Session, booking: Booking) -> None:
        cancel_pending(session, booking_ref(booking))

    def family_cancelled(self, session: Session, booking: Booking, now: datetime) -> None:
        """Tell the family their meeting was cancelled by staff, with a button to book again."""
        message = Message(
            key=f"booking.cancelled:{booking.id}",
            user_id=booking.user_id,
            kind="booking.cancelled",
            text_key="booking.cancelled_by_counsellor",
            due_at=now,
            values=outbox_values(booking, self.places),
            buttons=((("booking.book_again", f"{NOTICE_STEP}:book"),), (("common.menu", f"{NOTICE_STEP}:menu"),)),
            expires_at=booking.slot.starts_at,
            ref=f"booking-cancel:{booking.id}",
        )
        queue(session, [message], now)
