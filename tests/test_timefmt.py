"""Dates and times as each language writes them (bot/timefmt.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.timefmt import (
    format_clock,
    format_datetime,
    format_day_month,
    format_duration,
    format_span,
    swahili_reading,
)

HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.mark.parametrize(
    ("language", "clock", "expected"),
    [
        ("fi", time(9, 0), "9.00"),  # Finnish writes no leading zero
        ("fi", time(17, 30), "17.30"),
        ("en", time(9, 0), "09:00"),
        ("ar", time(8, 5), "08:05"),
    ],
)
def test_clock(language: str, clock: time, expected: str) -> None:
    assert format_clock(language, clock) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fi", "1.12."),
        ("en", "1 Dec"),
        ("ar", "1 ديسمبر"),
        ("ru", "1 декабря"),
        ("so", "1 Diseembar"),
        ("sw", "1 Desemba"),
    ],
)
def test_a_date_without_its_weekday(language: str, expected: str) -> None:
    assert format_day_month(language, date(2026, 12, 1)) == expected


def test_a_finnish_morning_time_in_a_date() -> None:
    assert format_datetime("fi", datetime(2026, 12, 1, 7, 45, tzinfo=ZoneInfo("UTC")), HELSINKI) == "ti 1.12. klo 9.45"


@pytest.mark.parametrize(
    ("clock", "reading"),
    [
        (time(6, 0), "saa 12 asubuhi"),
        (time(9, 30), "saa 3:30 asubuhi"),
        (time(13, 0), "saa 7 mchana"),
        (time(15, 45), "saa 9:45 alasiri"),
        (time(18, 0), "saa 12 jioni"),
        (time(0, 0), "saa 6 usiku"),
    ],
)
def test_swahili_time_is_counted_from_six_in_the_morning(clock: time, reading: str) -> None:
    assert swahili_reading(clock) == reading


def test_a_swahili_text_gives_the_clock_time_and_its_swahili_reading() -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=ZoneInfo("UTC"))  # 17:00 in Helsinki
    assert format_datetime("sw", start, HELSINKI) == "Jumanne, 1 Desemba, 17:00 (saa 11 jioni)"
    end = datetime(2026, 12, 1, 15, 45, tzinfo=ZoneInfo("UTC"))
    assert format_span("sw", start, end, HELSINKI) == "Jumanne, 1 Desemba, 17:00–17:45 (saa 11 jioni)"
    assert format_span("fi", start, end, HELSINKI) == "ti 1.12. klo 17.00–17.45"


@pytest.mark.parametrize(
    ("language", "minutes", "expected"),
    [
        ("fi", 3840, "2 vrk 16 h"),  # a weekend's wait: not "3840 min"
        ("en", 3840, "2 d 16 h"),
        ("fi", 4156, "2 vrk 21 h"),  # rounded down: 2 d 21 h 16 min
        ("fi", 2880, "2 vrk"),  # no "0 h"
        ("fi", 61, "1 h 1 min"),
        ("en", 60, "1 h"),
        ("fi", 16, "16 min"),
        ("en", 0, "0 min"),
        ("sw", 3840, "siku 2 saa 16"),  # Swahili puts the unit first
        ("ru", 75, "1 ч 15 мин"),
        ("xx", 90, "1 h 30 min"),  # an unknown language: English
    ],
)
def test_duration(language: str, minutes: int, expected: str) -> None:
    assert format_duration(language, timedelta(minutes=minutes, seconds=59)) == expected
