"""The calendar file (.ics) sent with a booking confirmation, made with `icalendar`."""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from bot.core.messages import Attachment
from bot.features.booking.models import Booking

PRODID = "-//aito-bot//booking//EN"


def booking_ics(booking: Booking, *, title: str, location: str, description: str, now: datetime) -> Attachment:
    """One event with a reminder the day before; the UID stays the same for the booking's lifetime,
    so that a calendar replaces rather than duplicates it when the family imports it again."""
    slot = booking.slot
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"booking-{booking.id}@aito-bot")
    event.add("dtstamp", now)
    event.add("dtstart", slot.starts_at)
    event.add("dtend", slot.ends_at)
    event.add("summary", title)
    event.add("location", location)
    event.add("description", description)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", title)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    calendar.add_component(event)
    return Attachment(filename="aito-booking.ics", content=calendar.to_ical(), mime_type="text/calendar")
