"""Group schedules as pure functions: Europe/Helsinki wall-clock times across the 2026 DST changes,
every-second-week parity, and dates written the way each language writes them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot import timefmt
from bot.features.groups.catalog import check_catalog, load_catalog, parse_catalog
from bot.features.groups.schedule import (
    WeeklySchedule,
    local_start,
    meetings,
    parse_clock,
    parse_day,
    parse_day_time,
    parse_duration,
    parse_weekday,
)
from bot.settings import ROOT

HELSINKI = ZoneInfo("Europe/Helsinki")
TUESDAY, SATURDAY, SUNDAY = 1, 5, 6


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(weekday: int, start: str, minutes: int = 90, **extra: object) -> WeeklySchedule:
    return WeeklySchedule(weekday=weekday, start=parse_clock(start), duration=timedelta(minutes=minutes), **extra)  # type: ignore[arg-type]


def test_a_tuesday_evening_group_stays_at_17_local_when_summer_time_starts() -> None:
    found = meetings(weekly(TUESDAY, "17:00"), HELSINKI, utc(2026, 3, 20), utc(2026, 4, 10))
    assert [m.starts_at for m in found] == [utc(2026, 3, 24, 15), utc(2026, 3, 31, 14), utc(2026, 4, 7, 14)]
    assert {m.starts_at.astimezone(HELSINKI).time() for m in found} == {time(17, 0)}
    assert all(m.ends_at - m.starts_at == timedelta(minutes=90) for m in found)


def test_sunday_meetings_on_the_days_the_clocks_change() -> None:
    spring = meetings(weekly(SUNDAY, "12:00"), HELSINKI, utc(2026, 3, 21), utc(2026, 4, 1))
    assert [m.starts_at for m in spring] == [utc(2026, 3, 22, 10), utc(2026, 3, 29, 9)]  # EET +2 → EEST +3
    autumn = meetings(weekly(SUNDAY, "12:00"), HELSINKI, utc(2026, 10, 17), utc(2026, 10, 28))
    assert [m.starts_at for m in autumn] == [utc(2026, 10, 18, 9), utc(2026, 10, 25, 10)]  # EEST +3 → EET +2
    assert {m.starts_at.astimezone(HELSINKI).hour for m in spring + autumn} == {12}


def test_a_skipped_hour_moves_forward_and_a_repeated_hour_means_the_first() -> None:
    # 29 March 2026: 03:00 → 04:00, so 03:30 does not exist; a wall clock shows 04:30.
    gap = local_start(date(2026, 3, 29), time(3, 30), HELSINKI)
    assert gap == utc(2026, 3, 29, 1, 30)
    assert gap.astimezone(HELSINKI).time() == time(4, 30)
    # 25 October 2026: 04:00 → 03:00, so 03:30 happens twice; the first (summer time) is meant.
    fold = local_start(date(2026, 10, 25), time(3, 30), HELSINKI)
    assert fold == utc(2026, 10, 25, 0, 30)
    found = meetings(weekly(SUNDAY, "03:30", 60), HELSINKI, utc(2026, 10, 20), utc(2026, 11, 3))
    assert [m.starts_at for m in found] == [utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30)]
    # Elapsed time across the change: the meeting still lasts exactly 60 minutes.
    assert all(m.ends_at - m.starts_at == timedelta(hours=1) for m in found)


def test_every_second_week_keeps_its_weeks_across_both_changes() -> None:
    schedule = weekly(SATURDAY, "12:00", 120, every_weeks=2, anchor=date(2026, 1, 10))
    march = meetings(schedule, HELSINKI, utc(2026, 3, 14), utc(2026, 4, 12))
    assert [m.day for m in march] == [date(2026, 3, 21), date(2026, 4, 4)]  # not 28 March (week 11 is odd)
    assert [m.starts_at for m in march] == [utc(2026, 3, 21, 10), utc(2026, 4, 4, 9)]
    october = meetings(schedule, HELSINKI, utc(2026, 10, 10), utc(2026, 11, 8))
    assert [m.day for m in october] == [date(2026, 10, 17), date(2026, 10, 31)]
    assert [m.starts_at for m in october] == [utc(2026, 10, 17, 9), utc(2026, 10, 31, 10)]
    # The whole year: every meeting is 14 days after the previous one, at 12:00 local.
    year = meetings(schedule, HELSINKI, utc(2026, 1, 1), utc(2027, 1, 1))
    assert all((b.day - a.day).days == 14 for a, b in itertools.pairwise(year))
    assert {m.starts_at.astimezone(HELSINKI).time() for m in year} == {time(12, 0)}
    assert len(year) == 26


def test_active_range_and_window_edges() -> None:
    schedule = weekly(TUESDAY, "17:00", active_from=date(2026, 3, 25), active_until=date(2026, 4, 14))
    found = meetings(schedule, HELSINKI, utc(2026, 3, 1), utc(2026, 5, 1))
    assert [m.day for m in found] == [date(2026, 3, 31), date(2026, 4, 7), date(2026, 4, 14)]
    # The window is [start, end): a meeting starting exactly at the end is not in it.
    assert meetings(weekly(TUESDAY, "17:00"), HELSINKI, utc(2026, 3, 31, 14), utc(2026, 4, 7, 14)) == [
        meetings(weekly(TUESDAY, "17:00"), HELSINKI, utc(2026, 3, 31), utc(2026, 4, 1))[0]
    ]
    with pytest.raises(ValueError):
        meetings(weekly(TUESDAY, "17:00"), HELSINKI, datetime(2026, 3, 1), utc(2026, 4, 1))  # noqa: DTZ001


def test_schedule_parsing_and_checks() -> None:
    assert parse_weekday("Tuesday") == 1 and parse_weekday("sun") == 6 and parse_weekday(0) == 0
    assert parse_clock("17.30") == time(17, 30)
    assert parse_duration("24h") == timedelta(hours=24) and parse_duration("90min") == timedelta(minutes=90)
    for bad in ("tu", "someday"):
        with pytest.raises(ValueError):
            parse_weekday(bad)
    with pytest.raises(ValueError):
        parse_clock("25:00")
    with pytest.raises(ValueError):
        parse_clock("17")  # the groups file keeps to the full form; staff may type the hour alone


def test_days_and_times_as_staff_type_them_in_the_staff_group_and_the_command_line() -> None:
    today = date(2026, 11, 4)
    for typed in ("3.12", "3.12.", "3.12.2026", "3.12.26", "03.12.2026", "2026-12-03"):
        assert parse_day(typed, today) == date(2026, 12, 3), typed
    assert parse_day("3.1", today) == date(2027, 1, 3), "the next such day"
    assert parse_day("4.11.", today) == today
    for bad in ("32.12.2026", "31.2.", "3.12.226", "3.1226", "3-12", "tomorrow", "12/3"):
        with pytest.raises(ValueError):
            parse_day(bad, today)
    for typed, clock in (("17", time(17)), ("7", time(7)), ("17.30", time(17, 30)), ("17:30", time(17, 30))):
        assert parse_clock(typed, bare_hour=True) == clock, typed
    assert parse_day_time(["3.12", "17"], today) == (date(2026, 12, 3), time(17), 2)
    assert parse_day_time(["3.12.", "klo", "17.30", "sairaus"], today) == (date(2026, 12, 3), time(17, 30), 3)
    for words in ([], ["3.12."], ["3.12.", "klo"], ["3.12.", "24"], ["17", "3.12."], ["3.12.", "5pm"]):
        with pytest.raises(ValueError):
            parse_day_time(words, today)
    with pytest.raises(ValueError):
        WeeklySchedule(weekday=1, start=time(17), duration=timedelta(minutes=60), anchor=date(2026, 1, 10))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fi", "ti 1.12. klo 17.00"),
        ("en", "Tue 1 Dec, 17:00"),
        ("ar", "الثلاثاء 1 ديسمبر، 17:00"),
        ("ru", "вторник, 1 декабря, 17:00"),
        ("so", "Talaado, 1 Diseembar, 17:00"),
        ("sw", "Jumanne, 1 Desemba, 17:00 (saa 11 jioni)"),
    ],
)
def test_dates_are_written_the_way_each_language_writes_them(language: str, expected: str) -> None:
    assert timefmt.format_datetime(language, utc(2026, 12, 1, 15), HELSINKI) == expected


def test_summer_times_are_shown_in_summer_time() -> None:
    assert timefmt.format_datetime("en", utc(2026, 3, 29, 9), HELSINKI) == "Sun 29 Mar, 12:00"
    assert timefmt.format_time("fi", utc(2026, 10, 25, 10), HELSINKI) == "12.00"
    assert timefmt.format_date("ru", utc(2026, 10, 25, 10), HELSINKI) == "воскресенье, 25 октября"
    with pytest.raises(ValueError):
        timefmt.format_datetime("en", datetime(2026, 1, 1), HELSINKI)  # noqa: DTZ001


def test_the_sample_groups_file_is_valid_and_marked_as_samples() -> None:
    path = ROOT / "content" / "groups.yml"
    assert check_catalog(path) == []
    catalog = load_catalog(path)
    assert catalog.sample and all(group.sample for group in catalog.groups)
    assert {g.municipality for g in catalog.groups} == {"kemi", "tornio", "tervola"}
    assert {g.audience for g in catalog.groups} >= {"mothers", "fathers", "young", "families"}
    assert any(g.schedule.every_weeks == 2 for g in catalog.groups)
    assert [label for label, _ in catalog.reminders] == ["24h", "2h"]
    assert "SAMPLE" in path.read_text(encoding="utf-8")


def test_problems_in_the_groups_file_are_named() -> None:
    raw = {
        "municipalities": {"kemi": {"fi": "Kemi"}},
        "groups": [
            {"id": "Bad Id"},
            {"id": "x", "municipality": "oulu", "audience": "cats", "schedule": {"weekday": "tuesday", "start": "17"}},
            {
                "id": "y",
                "municipality": "kemi",
                "address": "a",
                "schedule": {"weekday": "saturday", "start": "12:00", "duration_minutes": 60, "every_weeks": 2},
            },
        ],
    }
    problems = "\n".join(parse_catalog(raw, "groups.yml")[1])
    assert "municipality 'kemi': missing language(s) en, ar, ru, so, sw" in problems
    assert "id 'Bad Id' must be" in problems
    assert "group 'x': schedule: time '17' is not like 17:00" in problems
    assert "municipality 'oulu' is not listed" in problems
    assert "audience 'cats'" in problems
    assert "group 'y': an every-2-weeks group needs schedule.first_date" in problems


@pytest.mark.parametrize("language", ["fi", "en", "ar", "ru", "so", "sw"])
def test_the_groups_intro_promises_no_rhythm_that_a_group_does_not_keep(language: str) -> None:
    # The Tervola group meets every second week: "we meet every week" was untrue there, and "every second week"
    # would be untrue for the others. Each group's own rhythm is on its page (schedule_weekly, schedule_biweekly).
    assert {group.schedule.every_weeks for group in load_catalog(ROOT / "content" / "groups.yml").groups} == {1, 2}
    strings = yaml.safe_load((ROOT / "content" / "strings" / f"groups.{language}.yml").read_text(encoding="utf-8"))
    intro = strings["groups"]["choose_municipality"].casefold()
    for key in ("schedule_weekly", "schedule_biweekly"):
        rhythm = strings["groups"][key].split(":")[0].casefold()  # "Every week: {weekday}, …" → "every week"
        assert rhythm not in intro, (language, rhythm)
