"""A group's meetings as an iCalendar file (.ics), for "Add to calendar".

One recurring event in the group's own time zone (calendar apps then keep 17:00 at 17:00 across the
daylight-saving changes), with the cancelled meetings left out (EXDATE) and the moved ones replaced
(an override with RECURRENCE-ID). The UID is stable, so importing a newer file updates the old one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo

import icalendar

from bot.features.groups.models import CANCELLED, MOVED, Group, Occurrence
from bot.features.groups.occurrences import schedule_of
from bot.features.groups.schedule import local_start, meetings

PRODID = "-//aito-bot//group meetings//EN"
BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def event_uid(group: Group) -> str:
    return f"group-{group.id}@aito-bot"


def group_calendar(
    group: Group, occurrences: Iterable[Occurrence], language: str, zone: tzinfo, now: datetime, description: str = ""
) -> bytes:
    """The .ics bytes for `group` as seen in `language`; `occurrences` carry staff changes to show."""
    schedule = schedule_of(group)
    first = _first_meeting(group, zone, now)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", group.name(language))
    if first is None:
        return calendar.to_ical()
    start_local = first.astimezone(zone)
    duration = schedule.duration
    event = _event(group, language, start_local, start_local + duration, now, description)
    rule: dict[str, object] = {"freq": "weekly", "byday": BYDAY[schedule.weekday]}
    if schedule.every_weeks > 1:
        rule["interval"] = schedule.every_weeks
    if schedule.active_until is not None:
        last = local_start(schedule.active_until, schedule.start, zone)
        rule["until"] = last.astimezone(UTC)
    event.add("rrule", rule)
    overrides: list[icalendar.Event] = []
    excluded: list[datetime] = []
    for occurrence in occurrences:
        if occurrence.group_id != group.id or occurrence.original_start < first:
            continue
        original_local = occurrence.original_start.astimezone(zone)
        if occurrence.status == CANCELLED:
            excluded.append(original_local)
        elif occurrence.status == MOVED:
            moved = _event(
                group,
                language,
                occurrence.starts_at.astimezone(zone),
                occurrence.ends_at.astimezone(zone),
                now,
                description,
            )
            moved.add("recurrence-id", original_local)
            moved.add("sequence", occurrence.revision)
            overrides.append(moved)
    if excluded:
        event.add("exdate", excluded)
    calendar.add_component(event)
    for override in overrides:
        calendar.add_component(override)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(
    group: Group, language: str, start: datetime, end: datetime, now: datetime, description: str
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", event_uid(group))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("summary", group.name(language))
    event.add("location", group.address)
    text = "\n\n".join(part for part in (group.directions(language), description) if part)
    if text:
        event.add("description", text)
    event.add("dtstart", start)
    event.add("dtend", end)
    return event


def _first_meeting(group: Group, zone: tzinfo, now: datetime) -> datetime | None:
    """The first meeting the calendar starts from: the next one from a week ago (recent past included)."""
    found = meetings(schedule_of(group), zone, now - timedelta(days=7), now + timedelta(days=7 * 9))
    return found[0].starts_at if found else None
