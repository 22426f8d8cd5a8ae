"""The handoff feature's settings: office hours, re-alert interval, staff language.

Read from `Settings` (environment or `.env`): `OFFICE_HOURS` (`mon-fri 08:00-16:00`), `HOLIDAYS`
(`2026-12-24,2026-12-25`), `HANDOFF_REALERT_MINUTES` (15), `STAFF_LANGUAGE` (`fi`). The defaults match the
project: weekdays 8–16 Europe/Helsinki, re-alert after 15 minutes, staff read Finnish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from bot.settings import SERVED_LANGUAGES, Settings

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OfficeHours:
    """When counsellors answer: weekdays (0 = Monday), a daily opening and closing time, holidays."""

    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    timezone: str = "Europe/Helsinki"
    holidays: frozenset[date] = frozenset()

    @classmethod
    def parse(cls, spec: str, *, timezone: str = "Europe/Helsinki", holidays: str = "") -> OfficeHours:
        """`mon-fri 08:00-16:00` (or `mon,wed,fri 9-15`); holidays as `2026-12-24,2026-12-25`."""
        days_part, _, hours_part = spec.strip().partition(" ")
        weekdays: set[int] = set()
        for chunk in days_part.lower().split(","):
            first, _, last = chunk.partition("-")
            start = WEEKDAY_NAMES.index(first[:3])
            end = WEEKDAY_NAMES.index(last[:3]) if last else start
            weekdays.update(range(start, end + 1))
        opens_text, _, closes_text = hours_part.strip().partition("-")
        return cls(
            weekdays=frozenset(weekdays),
            opens=_time(opens_text),
            closes=_time(closes_text),
            timezone=timezone,
            holidays=frozenset(date.fromisoformat(d.strip()) for d in holidays.split(",") if d.strip()),
        )


@dataclass(frozen=True)
class HandoffConfig:
    office_hours: OfficeHours = field(default_factory=OfficeHours)
    realert_minutes: int = 15
    # The language of ticket cards and notices in the staff group (counsellors read Finnish or English).
    staff_language: str = "fi"
    # How many recent messages (consent given) a ticket card shows.
    recent_messages: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> HandoffConfig:
        """Raises ValueError for a staff language the bot does not serve or office hours it cannot read."""
        if settings.staff_language not in SERVED_LANGUAGES:
            raise ValueError(f"STAFF_LANGUAGE must be one of {', '.join(SERVED_LANGUAGES)}")
        return cls(
            office_hours=OfficeHours.parse(
                settings.office_hours, timezone=settings.timezone, holidays=settings.holidays
            ),
            realert_minutes=settings.handoff_realert_minutes,
            staff_language=settings.staff_language,
        )


def _time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))
