"""The handoff feature's settings: office hours, re-alert interval, staff language.

Read from `Settings` (environment or `.env`): `OFFICE_HOURS` (`mon-fri 08:00-16:00`), `PUBLIC_HOLIDAYS`
(`FI`: the country's public holidays, Christmas Eve and Midsummer Eve included; empty: none), `HOLIDAYS`
(extra local days off, `2026-12-28,2026-12-29`), `HANDOFF_REALERT_MINUTES` (15), `STAFF_LANGUAGE` (`fi`). The
defaults match the project: weekdays 8–16 Europe/Helsinki except Finnish holidays, re-alert after 15 minutes,
staff read Finnish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from bot.features.handoff.public_holidays import country_code, national_holidays
from bot.settings import SERVED_LANGUAGES, Settings

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OfficeHours:
    """When counsellors answer: weekdays (0 = Monday), a daily opening and closing time, days off.

    Days off are a country's public holidays (`public_holidays`, an ISO code; empty: none) and the extra
    local ones in `holidays`.
    """

    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    timezone: str = "Europe/Helsinki"
    holidays: frozenset[date] = frozenset()
    public_holidays: str = "FI"

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_holidays", country_code(self.public_holidays))

    def is_day_off(self, day: date) -> bool:
        """Whether `day` (a local date) is a public holiday or an extra day off."""
        return day in self.holidays or day in national_holidays(self.public_holidays, day.year)

    @classmethod
    def parse(
        cls, spec: str, *, timezone: str = "Europe/Helsinki", holidays: str = "", public_holidays: str = "FI"
    ) -> OfficeHours:
        """`mon-fri 08:00-16:00` (or `mon,wed,fri 9-15`); extra days off as `2026-12-28,2026-12-29`; a
        country code for public holidays (`FI`, empty for none)."""
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
            public_holidays=public_holidays,
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
                settings.office_hours,
                timezone=settings.timezone,
                holidays=settings.holidays,
                public_holidays=settings.public_holidays,
            ),
            realert_minutes=settings.handoff_realert_minutes,
            staff_language=settings.staff_language,
        )


def _time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))
