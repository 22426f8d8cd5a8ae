"""When a group meets: weekly or every-second-week schedules turned into concrete meetings.

Pure functions. A schedule is wall-clock time in the group's time zone (Europe/Helsinki): a Tuesday
17:00 meeting is at 17:00 local time in winter and in summer, so its UTC time moves by an hour at the
daylight-saving changes (in 2026: Sunday 29 March and Sunday 25 October). The results are aware UTC
datetimes, as stored. Wall-clock times that do not exist (the hour skipped in spring) move forward by
the gap; times that happen twice (the repeated hour in autumn) mean the first of the two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION = re.compile(r"^\s*(\d+)\s*(d|h|min|m)\s*$")


@dataclass(frozen=True)
class Meeting:
    """One planned meeting of a schedule: its local date, and its start and end in UTC."""

    day: date
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class WeeklySchedule:
    """Every `every_weeks` weeks on `weekday` (0 = Monday) at `start` local time, for `duration`.

    `anchor` is one date on which the group meets; with `every_weeks` = 2 it fixes which weeks.
    """

    weekday: int
    start: time
    duration: timedelta
    every_weeks: int = 1
    anchor: date | None = None
    active_from: date | None = None
    active_until: date | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) … 6 (Sunday)")
        if self.every_weeks not in (1, 2, 3, 4):
            raise ValueError("every_weeks must be 1 … 4")
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        if self.anchor is not None and self.anchor.weekday() != self.weekday:
            raise ValueError("the anchor date must fall on the schedule's weekday")

    @property
    def first_day(self) -> date:
        """The reference meeting day from which weeks are counted."""
        if self.anchor is not None:
            return self.anchor
        start = self.active_from or date(2000, 1, 3)  # a Monday: any fixed day keeps the count stable
        return start + timedelta(days=(self.weekday - start.weekday()) % 7)

    def meets_on(self, day: date) -> bool:
        if day.weekday() != self.weekday:
            return False
        if self.active_from is not None and day < self.active_from:
            return False
        if self.active_until is not None and day > self.active_until:
            return False
        return ((day - self.first_day).days // 7) % self.every_weeks == 0


def local_start(day: date, start: time, zone: tzinfo) -> datetime:
    """The UTC instant of `start` on `day` in `zone`, DST-correct.

    zoneinfo reads a skipped wall-clock time with the offset before the change; converting to UTC and
    back turns 03:30 on 29 March 2026 into 04:30 summer time, which is what a clock on the wall shows.
    """
    naive = datetime.combine(day, start)
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def meetings(schedule: WeeklySchedule, zone: tzinfo, window_start: datetime, window_end: datetime) -> list[Meeting]:
    """Meetings of `schedule` that start in [window_start, window_end), in order."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("naive datetime")
    # Local days to look at: one day of margin each side covers any UTC offset.
    day = window_start.astimezone(zone).date() - timedelta(days=1)
    last = window_end.astimezone(zone).date() + timedelta(days=1)
    day += timedelta(days=(schedule.weekday - day.weekday()) % 7)
    found: list[Meeting] = []
    while day <= last:
        if schedule.meets_on(day):
            starts = local_start(day, schedule.start, zone)
            if window_start <= starts < window_end:
                found.append(Meeting(day, starts, starts + schedule.duration))
        day += timedelta(days=7)
    return found


def parse_weekday(value: str | int) -> int:
    """ "tuesday" / "Tue" / 1 → 1."""
    if isinstance(value, int):
        if 0 <= value <= 6:
            return value
        raise ValueError(f"weekday {value} is not 0 … 6")
    text = value.strip().lower()
    for index, name in enumerate(WEEKDAY_NAMES):
        if len(text) >= 3 and name.startswith(text):
            return index
    raise ValueError(f"unknown weekday {value!r} (write e.g. tuesday)")


def parse_clock(value: str, *, bare_hour: bool = False) -> time:
    """ "17:00" or "17.00" → 17:00 (24-hour clock); with `bare_hour` (typed by staff) also "17". The groups
    file keeps to the full form."""
    match = re.fullmatch(r"\s*(\d{1,2})(?:[:.](\d{2}))?\s*", str(value))
    if not match or (match.group(2) is None and not bare_hour):
        raise ValueError(f"time {value!r} is not like 17:00")
    if int(match.group(1)) > 23 or int(match.group(2) or 0) > 59:
        raise ValueError(f"time {value!r} is not like 17:00")
    return time(int(match.group(1)), int(match.group(2) or 0))


def parse_day(text: str, today: date) -> date:
    """A day as staff type it: "2026-12-03", "3.12.2026", "3.12.26", or "3.12." / "3.12" (the next such day,
    `today` included) → a date. Raises ValueError for anything else, 31.2. included."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.?(?:(?<=\.)(\d{4}|\d{2}))?", text)
    if not match:
        raise ValueError(text)
    day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    if year:
        return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    candidate = date(today.year, month, day)
    return candidate if candidate >= today else date(today.year + 1, month, day)


# Words that may stand between the day and the time ("3.12. klo 17"), as people write it.
CLOCK_WORDS = frozenset({"klo", "kello", "at"})


def parse_day_time(words: Sequence[str], today: date) -> tuple[date, time, int]:
    """A day and a time at the start of `words` ("3.12.", "17.30" or "3.12.", "klo", "17"): the day, the time,
    and how many words they took. The one parser for the staff group and the command line."""
    if len(words) < 2:
        raise ValueError("a day and a time are needed")
    day = parse_day(words[0], today)
    used = 2 if words[1].lower() in CLOCK_WORDS else 1
    if len(words) <= used:
        raise ValueError("a time is needed")
    return day, parse_clock(words[used], bare_hour=True), used + 1


def parse_duration(value: str | int) -> timedelta:
    """ "24h", "90min", "2d" (or minutes as a number) → a timedelta."""
    if isinstance(value, int):
        return timedelta(minutes=value)
    match = _DURATION.match(str(value).lower())
    if not match:
        raise ValueError(f"duration {value!r} is not like 24h, 90min or 2d")
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return timedelta(days=amount)
    if unit == "h":
        return timedelta(hours=amount)
    return timedelta(minutes=amount)
