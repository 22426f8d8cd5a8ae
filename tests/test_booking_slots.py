"""Slot maths as pure functions of an injected `now`: recurring availability, DST, closing, CSV rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.features.booking.slots import (
    SlotError,
    SlotSpec,
    check_spec,
    is_bookable,
    local_instant,
    overlaps,
    parse_slots_csv,
    parse_time,
    parse_weekday,
    recurring_starts,
)

HKI = ZoneInfo("Europe/Helsinki")
TUESDAY = 1
MONDAY_MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Monday 2 March 2026, 08:00 in Helsinki


def local(moment: datetime) -> str:
    return moment.astimezone(HKI).strftime("%a %Y-%m-%d %H:%M")


def test_tuesdays_nine_to_twelve_in_45_minute_slots_for_four_weeks() -> None:
    starts = recurring_starts(
        weekday=TUESDAY, start=time(9), end=time(12), minutes=45, weeks=4, now=MONDAY_MORNING, tz=HKI
    )
    assert len(starts) == 16
    assert [local(s) for s in starts[:4]] == [
        "Tue 2026-03-03 09:00",
        "Tue 2026-03-03 09:45",
        "Tue 2026-03-03 10:30",
        "Tue 2026-03-03 11:15",
    ]
    assert local(starts[-1]) == "Tue 2026-03-24 11:15"
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in starts), "stored in UTC"
    assert starts == sorted(starts)


def test_the_local_grid_survives_the_spring_and_autumn_clock_changes() -> None:
    # Sundays around 29 March 2026 (clocks forward) and 25 October 2026 (clocks back).
    spring = recurring_starts(
        weekday=6,
        start=time(10),
        end=time(11),
        minutes=60,
        weeks=3,
        now=datetime(2026, 3, 20, tzinfo=UTC),
        tz=HKI,
    )
    assert [local(s) for s in spring] == ["Sun 2026-03-22 10:00", "Sun 2026-03-29 10:00", "Sun 2026-04-05 10:00"]
    assert [s.hour for s in spring] == [8, 7, 7], "UTC+2 before, UTC+3 after"
    autumn = recurring_starts(
        weekday=6,
        start=time(10),
        end=time(11),
        minutes=60,
        weeks=2,
        now=datetime(2026, 10, 20, tzinfo=UTC),
        tz=HKI,
    )
    assert [local(s) for s in autumn] == ["Sun 2026-10-25 10:00", "Sun 2026-11-01 10:00"]
    assert [s.hour for s in autumn] == [8, 8]


def test_a_time_that_does_not_exist_is_skipped_and_a_repeated_one_is_taken_once() -> None:
    assert local_instant(date(2026, 3, 29), time(3, 30), HKI) is None
    night = recurring_starts(
        weekday=6,
        start=time(2, 30),
        end=time(4, 30),
        minutes=30,
        weeks=1,
        now=datetime(2026, 3, 28, tzinfo=UTC),
        tz=HKI,
    )
    assert [local(s) for s in night] == ["Sun 2026-03-29 02:30", "Sun 2026-03-29 04:00"]
    repeated = local_instant(date(2026, 10, 25), time(3, 30), HKI)
    assert repeated == datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "the first 03:30 (summer time)"


def test_past_starts_are_left_out_when_today_is_the_weekday() -> None:
    tuesday_ten = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki
    starts = recurring_starts(
        weekday=TUESDAY, start=time(9), end=time(12), minutes=45, weeks=1, now=tuesday_ten, tz=HKI
    )
    assert [local(s) for s in starts] == ["Tue 2026-03-03 10:30", "Tue 2026-03-03 11:15"]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": 600}, "minutes"),
        ({"weeks": 0}, "weeks"),
        ({"end": time(8)}, "end"),
        ({"weekday": 7}, "weekday"),
    ],
)
def test_impossible_recurrences_are_refused(kwargs: dict[str, object], problem: str) -> None:
    arguments: dict[str, object] = {
        "weekday": TUESDAY,
        "start": time(9),
        "end": time(12),
        "minutes": 45,
        "weeks": 4,
        "now": MONDAY_MORNING,
        "tz": HKI,
        **kwargs,
    }
    with pytest.raises(SlotError, match=problem):
        recurring_starts(**arguments)  # type: ignore[arg-type]


def test_slots_closing_within_the_configured_hours_are_not_bookable() -> None:
    now = MONDAY_MORNING
    assert not is_bookable(now - timedelta(hours=1), now, 12)
    assert not is_bookable(now + timedelta(hours=11, minutes=59), now, 12)
    assert is_bookable(now + timedelta(hours=12, minutes=1), now, 12)
    assert is_bookable(now + timedelta(hours=3), now, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9:15", time(9, 15)), ("09.15", time(9, 15)), (" 14:30 ", time(14, 30)), ("0:00", time(0))],
)
def test_times_are_read_as_staff_write_them(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["9", "9:7", "25:00", "9:61", "9:13", "nine", "", "9:15pm"])
def test_other_times_are_refused(text: str) -> None:
    assert parse_time(text) is None


def test_weekdays_in_english_finnish_and_numbers() -> None:
    assert parse_weekday("tue") == parse_weekday("Tuesday") == parse_weekday("ti") == parse_weekday("2") == 1
    assert parse_weekday("torstai") == parse_weekday("thu") == 3
    with pytest.raises(SlotError):
        parse_weekday("someday")


def test_overlap() -> None:
    start = MONDAY_MORNING
    assert overlaps(start, 45, start + timedelta(minutes=30), 45)
    assert not overlaps(start, 45, start + timedelta(minutes=45), 45), "back to back is fine"


def test_check_spec_refuses_what_a_family_could_not_use() -> None:
    later = MONDAY_MORNING + timedelta(days=1)
    check_spec(SlotSpec(later, 45, "in_person", "Kemi", "Perhekeskus"), MONDAY_MORNING)
    check_spec(SlotSpec(later, 30, "phone", None, None), MONDAY_MORNING)
    for bad, reason in [
        (SlotSpec(MONDAY_MORNING - timedelta(minutes=1), 45, "phone", None, None), "past"),
        (SlotSpec(later, 45, "in_person", None, None), "municipality"),
        (SlotSpec(later, 45, "in_person", "Rovaniemi", None), "municipality"),
        (SlotSpec(later, 45, "carrier pigeon", None, None), "mode"),
        (SlotSpec(later, 45, "phone", None, None, ("xx",)), "language"),
    ]:
        with pytest.raises(SlotError, match=reason):
            check_spec(bad, MONDAY_MORNING)


def test_csv_rows_are_read_with_every_problem_reported_by_line() -> None:
    text = (
        "\ufeffcounsellor_telegram_id;date;start;minutes;mode;municipality;place;languages\n"
        "4440001;2026-03-10;9.00;45;in_person;kemi;Perhekeskus, Valtakatu 1;fi,en,ar\n"
        ";;;;;;;\n"
        "4440001;2026-03-10;10:00;45;phone;;;\n"
        "4440001;10.3.2026;9.00;45;phone;;;\n"
        "4440001;2026-03-01;9.00;45;phone;;;\n"
        "x;2026-03-10;9.00;45;phone;;;\n"
        "4440001;2026-03-29;03:30;45;phone;;;\n"
    )
    rows, problems = parse_slots_csv(text, tz=HKI, now=MONDAY_MORNING)
    assert [row.line for row in rows] == [2, 4]
    first = rows[0].spec
    assert (first.municipality, first.place) == ("Kemi", "Perhekeskus, Valtakatu 1")
    assert first.languages == ("fi", "en", "ar")
    assert local(first.starts_at) == "Tue 2026-03-10 09:00"
    assert rows[1].spec.mode == "phone" and rows[1].spec.municipality is None
    assert [p.split(":")[0] for p in problems] == ["line 5", "line 6", "line 7", "line 8"]
    assert "past" in problems[1] and "does not exist" in problems[3]


def test_a_csv_without_the_needed_columns_is_refused_whole() -> None:
    rows, problems = parse_slots_csv("date,start\n2026-03-10,9:00\n", tz=HKI, now=MONDAY_MORNING)
    assert rows == [] and "missing column" in problems[0]
