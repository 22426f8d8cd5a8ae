"""Office hours and re-alerts as pure functions of an injected `now` (DST dates included)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.features.handoff.config import HandoffConfig, OfficeHours
from bot.features.handoff.office_hours import CLOSING_MARGIN, answers_today, is_open, next_opening, realert_due
from bot.features.handoff.public_holidays import national_holidays
from bot.settings import Settings
from tests.handoff_support import HELSINKI

HOURS = OfficeHours()
FIFTEEN = timedelta(minutes=15)


def helsinki(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        (helsinki(2026, 11, 4, 7, 59), False),
        (helsinki(2026, 11, 4, 8, 0), True),
        (helsinki(2026, 11, 4, 15, 59), True),
        (helsinki(2026, 11, 4, 16, 0), False),
        (helsinki(2026, 11, 7, 11, 0), False),  # Saturday
        (helsinki(2026, 3, 30, 8, 30), True),  # the Monday after the spring change
    ],
)
def test_is_open(now: datetime, open_: bool) -> None:
    assert is_open(now, HOURS) is open_


def test_is_open_uses_helsinki_time_whatever_the_zone_of_now() -> None:
    from datetime import UTC

    assert is_open(datetime(2026, 11, 4, 6, 30, tzinfo=UTC), HOURS)  # 08:30 in Helsinki (UTC+2)
    assert not is_open(datetime(2026, 7, 1, 13, 30, tzinfo=UTC), HOURS)  # 16:30 in Helsinki (UTC+3)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (helsinki(2026, 11, 4, 17, 0), helsinki(2026, 11, 5, 8, 0)),  # evening → next morning
        (helsinki(2026, 11, 6, 16, 30), helsinki(2026, 11, 9, 8, 0)),  # Friday evening → Monday
        (helsinki(2026, 11, 4, 6, 0), helsinki(2026, 11, 4, 8, 0)),  # early morning → today
        (helsinki(2026, 3, 28, 12, 0), helsinki(2026, 3, 30, 8, 0)),  # over the spring DST change (29 March)
        (helsinki(2026, 10, 24, 12, 0), helsinki(2026, 10, 26, 8, 0)),  # over the autumn DST change (25 Oct)
    ],
)
def test_next_opening(now: datetime, expected: datetime) -> None:
    opening = next_opening(now, HOURS)
    assert opening == expected and opening.utcoffset() == expected.utcoffset()


def test_holidays_are_not_working_days() -> None:
    hours = OfficeHours.parse("mon-fri 08:00-16:00", holidays="2026-12-24,2026-12-25", public_holidays="")
    assert next_opening(helsinki(2026, 12, 23, 17, 0), hours) == helsinki(2026, 12, 28, 8, 0)
    assert not is_open(helsinki(2026, 12, 24, 10, 0), hours)
    assert is_open(helsinki(2026, 12, 23, 10, 0), hours)


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        (helsinki(2026, 12, 25, 11, 0), False),  # Christmas Day, a Friday
        (helsinki(2026, 12, 24, 11, 0), False),  # Christmas Eve, a Thursday: offices close
        (helsinki(2027, 6, 25, 11, 0), False),  # Midsummer Eve 2027: the Friday between 19 and 25 June
        (helsinki(2027, 6, 24, 11, 0), True),  # the Thursday before it is an ordinary day
        (helsinki(2026, 6, 19, 11, 0), False),  # Midsummer Eve 2026
        (helsinki(2027, 3, 29, 11, 0), False),  # Easter Monday
        (helsinki(2027, 3, 26, 11, 0), False),  # Good Friday
        (helsinki(2027, 12, 6, 11, 0), False),  # Independence Day, a Monday
        (helsinki(2027, 1, 6, 11, 0), False),  # Epiphany, a Wednesday
        (helsinki(2026, 5, 14, 11, 0), False),  # Ascension Day
        (helsinki(2026, 11, 30, 11, 0), True),  # an ordinary Monday
        (helsinki(2026, 12, 28, 11, 0), True),  # the Monday after Christmas
    ],
)
def test_finnish_public_holidays_are_days_off_by_default(now: datetime, open_: bool) -> None:
    assert is_open(now, HOURS) is open_
    assert is_open(now, HandoffConfig.from_settings(Settings()).office_hours) is open_


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (helsinki(2026, 12, 23, 17, 0), helsinki(2026, 12, 28, 8, 0)),  # over Christmas Eve and Day
        (helsinki(2027, 3, 25, 17, 0), helsinki(2027, 3, 30, 8, 0)),  # over Good Friday to Easter Tuesday
        (helsinki(2027, 6, 24, 16, 30), helsinki(2027, 6, 28, 8, 0)),  # over Midsummer
        (helsinki(2027, 12, 31, 16, 30), helsinki(2028, 1, 3, 8, 0)),  # into the next year's calendar
    ],
)
def test_next_opening_skips_public_holidays(now: datetime, expected: datetime) -> None:
    assert next_opening(now, HOURS) == expected


def test_the_finnish_calendar_has_christmas_eve_and_midsummer_eve() -> None:
    """Not statutory holidays, but days Finnish offices close: the `holidays` library counts them as public
    holidays of Finland. Should an upgrade move them elsewhere, add them in public_holidays.py."""
    for year in range(2025, 2041):
        days = national_holidays("FI", year)
        assert date(year, 12, 24) in days
        midsummer_eve = next(date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4)
        assert midsummer_eve in days
        assert date(year, 12, 6) in days and date(year, 12, 25) in days


def test_extra_holidays_add_to_the_national_ones() -> None:
    hours = OfficeHours.parse("mon-fri 08:00-16:00", holidays="2026-12-28,2026-12-29")
    assert not is_open(helsinki(2026, 12, 25, 10, 0), hours), "the national calendar still counts"
    assert not is_open(helsinki(2026, 12, 28, 10, 0), hours)
    assert next_opening(helsinki(2026, 12, 23, 17, 0), hours) == helsinki(2026, 12, 30, 8, 0)


def test_public_holidays_of_another_country_or_none() -> None:
    none = OfficeHours.parse("mon-fri 08:00-16:00", public_holidays="")
    assert is_open(helsinki(2026, 12, 25, 10, 0), none)
    germany = OfficeHours.parse("mon-fri 08:00-16:00", public_holidays=" de ")
    assert germany.public_holidays == "DE"
    assert is_open(helsinki(2026, 12, 24, 10, 0), germany)  # Christmas Eve is a working day there
    assert not is_open(helsinki(2026, 12, 25, 10, 0), germany)
    with pytest.raises(ValueError, match="PUBLIC_HOLIDAYS"):
        OfficeHours.parse("mon-fri 08:00-16:00", public_holidays="XX")


def test_the_holiday_calendar_is_built_once_per_year_not_per_call() -> None:
    national_holidays.cache_clear()
    start = helsinki(2026, 1, 1, 12, 0)
    for hour in range(2000):
        is_open(start + timedelta(hours=hour), HOURS)
        next_opening(start + timedelta(hours=hour), HOURS)
    assert national_holidays.cache_info().misses == 1  # 2000 hours from 1 January stay in 2026


@pytest.mark.parametrize(
    ("now", "today", "opening"),
    [
        (helsinki(2026, 11, 6, 15, 55), False, helsinki(2026, 11, 9, 8, 0)),  # Friday 15:55 → Monday
        (helsinki(2026, 11, 6, 15, 30), False, helsinki(2026, 11, 9, 8, 0)),  # 30 minutes before closing
        (helsinki(2026, 11, 6, 15, 29), True, helsinki(2026, 11, 9, 8, 0)),
        (helsinki(2026, 11, 4, 15, 45), False, helsinki(2026, 11, 5, 8, 0)),  # Wednesday → Thursday
        (helsinki(2027, 12, 3, 15, 55), False, helsinki(2027, 12, 7, 8, 0)),  # Monday is Independence Day
        (helsinki(2026, 11, 4, 10, 0), True, helsinki(2026, 11, 5, 8, 0)),
        (helsinki(2026, 11, 7, 11, 0), False, helsinki(2026, 11, 9, 8, 0)),  # Saturday
    ],
)
def test_just_before_closing_the_family_is_not_told_today(now: datetime, today: bool, opening: datetime) -> None:
    assert CLOSING_MARGIN == timedelta(minutes=30)
    assert answers_today(now, HOURS) is today
    assert next_opening(now, HOURS) == opening


def test_office_hours_and_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OFFICE_HOURS", "mon,wed-thu 9:30-15")
    monkeypatch.setenv("HANDOFF_REALERT_MINUTES", "20")
    monkeypatch.setenv("STAFF_LANGUAGE", "en")
    missing = tmp_path / "missing.env"
    config = HandoffConfig.from_settings(Settings.from_env(env_file=missing))
    assert config.office_hours.weekdays == frozenset({0, 2, 3})
    assert (config.office_hours.opens, config.office_hours.closes) == (time(9, 30), time(15, 0))
    assert config.realert_minutes == 20 and config.staff_language == "en"
    monkeypatch.setenv("STAFF_LANGUAGE", "de")
    with pytest.raises(ValueError):
        HandoffConfig.from_settings(Settings.from_env(env_file=missing))
    monkeypatch.delenv("OFFICE_HOURS")
    monkeypatch.delenv("STAFF_LANGUAGE")
    assert HandoffConfig.from_settings(Settings.from_env(env_file=missing)).office_hours == OfficeHours(
        holidays=frozenset(), public_holidays="FI"
    )
    assert OfficeHours.parse("mon-fri 8-16", holidays="2026-12-06").holidays == frozenset({date(2026, 12, 6)})


def test_public_holidays_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    monkeypatch.delenv("PUBLIC_HOLIDAYS", raising=False)
    assert Settings.from_env(env_file=missing).public_holidays == "FI"
    monkeypatch.setenv("PUBLIC_HOLIDAYS", "")  # set but empty: none
    hours = HandoffConfig.from_settings(Settings.from_env(env_file=missing)).office_hours
    assert hours.public_holidays == "" and is_open(helsinki(2026, 12, 25, 10, 0), hours)
    monkeypatch.setenv("PUBLIC_HOLIDAYS", "se")
    assert HandoffConfig.from_settings(Settings.from_env(env_file=missing)).office_hours.public_holidays == "SE"
    monkeypatch.setenv("PUBLIC_HOLIDAYS", "Finland")
    with pytest.raises(ValueError, match="PUBLIC_HOLIDAYS"):
        HandoffConfig.from_settings(Settings.from_env(env_file=missing))


def test_a_dotenv_file_and_settings_overrides_reach_the_handoff_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "OFFICE_HOURS",
        "HOLIDAYS",
        "PUBLIC_HOLIDAYS",
        "HANDOFF_REALERT_MINUTES",
        "STAFF_LANGUAGE",
        "TIMEZONE",
    ):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(
        "OFFICE_HOURS=tue-fri 09:00-15:30\nHOLIDAYS=2026-12-24\nHANDOFF_REALERT_MINUTES=30\nSTAFF_LANGUAGE=en\n",
        encoding="utf-8",
    )
    config = HandoffConfig.from_settings(Settings.from_env(env_file=env_file))
    assert config.office_hours.weekdays == frozenset({1, 2, 3, 4})
    assert (config.office_hours.opens, config.office_hours.closes) == (time(9, 0), time(15, 30))
    assert config.office_hours.holidays == frozenset({date(2026, 12, 24)})
    assert (config.realert_minutes, config.staff_language) == (30, "en")
    # The environment wins over the file, and an override wins over both.
    monkeypatch.setenv("HANDOFF_REALERT_MINUTES", "45")
    assert HandoffConfig.from_settings(Settings.from_env(env_file=env_file)).realert_minutes == 45
    overridden = Settings.from_env(env_file=env_file, staff_language="ar", timezone="Europe/Moscow")
    config = HandoffConfig.from_settings(overridden)
    assert config.staff_language == "ar" and config.office_hours.timezone == "Europe/Moscow"


def due(created: datetime, now: datetime, *, urgent: bool = False, last: datetime | None = None) -> bool:
    return realert_due(created_at=created, last_alert_at=last, urgent=urgent, now=now, hours=HOURS, interval=FIFTEEN)


def test_realert_after_fifteen_minutes_during_office_hours() -> None:
    created = helsinki(2026, 11, 4, 10, 0)
    assert not due(created, created + timedelta(minutes=14))
    assert due(created, created + FIFTEEN)
    assert not due(created, created + timedelta(minutes=20), last=created + FIFTEEN)
    assert due(created, created + timedelta(minutes=30), last=created + FIFTEEN)


def test_night_requests_are_realerted_fifteen_minutes_after_opening_urgent_ones_at_once() -> None:
    night = helsinki(2026, 11, 4, 22, 0)
    assert not due(night, night + timedelta(hours=2))
    assert not due(night, helsinki(2026, 11, 5, 8, 10))
    assert due(night, helsinki(2026, 11, 5, 8, 15))
    assert due(night, night + FIFTEEN, urgent=True)
    assert not due(night, night + timedelta(minutes=20), urgent=True, last=night + FIFTEEN)


def test_realerts_ignore_the_closing_margin_and_wait_over_holidays() -> None:
    created = helsinki(2026, 11, 6, 15, 40)  # a Friday, inside the margin: counsellors are still reminded
    assert due(created, helsinki(2026, 11, 6, 15, 55))
    christmas = helsinki(2026, 12, 24, 10, 0)  # nobody is at work: only urgent requests are announced again
    assert not due(christmas, christmas + timedelta(hours=2))
    assert not due(christmas, helsinki(2026, 12, 28, 8, 10))
    assert due(christmas, helsinki(2026, 12, 28, 8, 15))
    assert due(christmas, christmas + FIFTEEN, urgent=True)
