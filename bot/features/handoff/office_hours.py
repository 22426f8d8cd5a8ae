"""When counsellors are at work, and when an unclaimed ticket is due a re-alert: pure functions of `now`."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.features.handoff.config import OfficeHours

MAX_DAYS_AHEAD = 60  # a safety bound for a calendar without any working day
# A request for a person this close to closing time is, for what the family is told, out of hours: the
# next opening and the emergency numbers rather than "today until 16:00". A new request is announced at
# once and again after 15 minutes (HANDOFF_REALERT_MINUTES); in its last half hour the office can rarely
# take it and answer, and "soon" at 15:55 on a Friday would mean Monday, without the numbers.
CLOSING_MARGIN = timedelta(minutes=30)


def is_working_day(hours: OfficeHours, local: datetime) -> bool:
    """Whether the local date of `local` is one of the weekdays and neither a public nor an extra holiday."""
    return local.weekday() in hours.weekdays and not hours.is_day_off(local.date())


def is_open(now: datetime, hours: OfficeHours) -> bool:
    local = now.astimezone(ZoneInfo(hours.timezone))
    return is_working_day(hours, local) and hours.opens <= local.time() < hours.closes


def answers_today(now: datetime, hours: OfficeHours, *, margin: timedelta = CLOSING_MARGIN) -> bool:
    """Whether a family asking now can be told that a counsellor answers today: open, and not closing within
    `margin`. Only for what the family is told; re-alerts for counsellors follow `is_open`."""
    if not is_open(now, hours):
        return False
    return now + margin < closing_on(hours, now.astimezone(ZoneInfo(hours.timezone)))


def opening_on(hours: OfficeHours, local: datetime) -> datetime:
    """Opening time on the local date of `local` (DST-correct: built from the wall clock)."""
    return datetime.combine(local.date(), hours.opens, tzinfo=ZoneInfo(hours.timezone))


def closing_on(hours: OfficeHours, local: datetime) -> datetime:
    return datetime.combine(local.date(), hours.closes, tzinfo=ZoneInfo(hours.timezone))


def next_opening(now: datetime, hours: OfficeHours) -> datetime:
    """The next moment counsellors start work, strictly after `now` when they are not at work now."""
    zone = ZoneInfo(hours.timezone)
    local = now.astimezone(zone)
    for days in range(MAX_DAYS_AHEAD + 1):
        day = (local + timedelta(days=days)).replace(hour=12, minute=0, second=0, microsecond=0)
        if not is_working_day(hours, day):
            continue
        opening = opening_on(hours, day)
        if opening > now:
            return opening
    raise ValueError("office hours have no working day in the next two months")


def realert_due(
    *,
    created_at: datetime,
    last_alert_at: datetime | None,
    urgent: bool,
    now: datetime,
    hours: OfficeHours,
    interval: timedelta,
) -> bool:
    """Whether an unclaimed ticket should be announced again now.

    Urgent tickets are re-alerted every `interval`, day and night. Others only while counsellors are at
    work, counting from the later of the last alert and today's opening, so that a request from the night
    is announced `interval` after the office opens rather than at once.
    """
    since = last_alert_at or created_at
    if urgent:
        return now - since >= interval
    if not is_open(now, hours):
        return False
    opening = opening_on(hours, now.astimezone(ZoneInfo(hours.timezone)))
    return now - max(since, opening) >= interval
