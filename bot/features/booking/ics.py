"""The calendar files (.ics) sent with a booking's confirmation and with its cancellation, made with `icalendar`.

A booking keeps one UID for its whole life, moves included (a move makes a new row: the UID is the first row's
id), and each move raises the SEQUENCE: a calendar app that imports the new file replaces the event rather than
adding a second one with a second alarm. A cancellation is the same UID with METHOD:CANCEL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from bot.core.messages import Attachment
from bot.features.booking.models import Booking

PRODID = "-//aito-bot//booking//EN"
FILENAME = "aito-booking.ics"


def booking_uid(first_id: int) -> str:
    """The event's UID, from the id of the booking that a chain of moves started from."""
    return f"booking-{first_id}@aito-bot"


def _event(booking: Booking, *, first_id: int, sequence: int, title: str, location: str, now: datetime) -> Event:
    slot = booking.slot
    event = Event()
    event.add("uid", booking_uid(first_id))
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", slot.starts_at)
    event.add("dtend", slot.ends_at)
    event.add("summary", title)
    event.add("location", location)
    return event


def _attachment(method: str, event: Event) -> Attachment:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add_component(event)
    return Attachment(filename=FILENAME, content=calendar.to_ical(), mime_type="text/calendar")


def booking_ics(
    booking: Booking,
    *,
    title: str,
    location: str,
    description: str,
    now: datetime,
    first_id: int | None = None,
    sequence: int = 0,
) -> Attachment:
    """One event with a reminder the day before. `first_id` is the first booking of a chain of moves (the
    booking itself when it was never moved), `sequence` the number of moves that led to it."""
    event = _event(
        booking,
        first_id=booking.id if first_id is None else first_id,
        sequence=sequence,
        title=title,
        location=location,
        now=now,
    )
    event.add("description", description)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", title)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    return _attachment("PUBLISH", event)


def cancelled_ics(
    booking: Booking, *, title: str, location: str, now: datetime, first_id: int, sequence: int
) -> Attachment:
    """The cancellation of the event `booking_ics` sent: the same UID, a higher SEQUENCE, STATUS:CANCELLED."""
    event = _event(booking, first_id=first_id, sequence=sequence, title=title, location=location, now=now)
    event.add("status", "CANCELLED")
    return _attachment("CANCEL", event)
