"""Slot maths as pure functions of an injected `now`: recurring availability, CSV rows, what is bookable.

Times are entered and shown in local time (Europe/Helsinki) and stored in UTC. A wall-clock time that
does not exist (the spring-forward hour) is skipped rather than silently shifted; an ambiguous one (the
repeated autumn hour) takes its first occurrence.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.settings import SERVED_LANGUAGES

MUNICIPALITIES: tuple[str, ...] = ("Kemi", "Tornio", "Tervola", "Simo", "Ylitornio")
MODES: tuple[str, ...] = ("in_person", "phone", "video")
REMOTE = "remote"  # the family's choice "by phone or video", in place of a municipality
MAX_MINUTES = 480
WEEKDAYS = {
    # English and Finnish abbreviations, and ISO numbers (Monday = 1), for the command line.
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("ma", "ti", "ke", "to", "pe", "la", "su"))},
    **{str(i + 1): i for i in range(7)},
}
TIME_TEXT = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")


class SlotError(ValueError):
    """A slot description that cannot be published; the message says why, for staff."""


@dataclass(frozen=True)
class SlotSpec:
    """A slot to publish, before it is in the database."""

    starts_at: datetime  # aware, UTC
    minutes: int
    mode: str
    municipality: str | None
    place: str | None
    languages: tuple[str, ...] = ()

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None when that time does not exist (DST gap)."""
    local = datetime.combine(day, at, tzinfo=tz).replace(fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def parse_time(text: str) -> time | None:
    """'9:15', '09.15' → 09:15; None for anything else (minutes must be a multiple of 5)."""
    match = TIME_TEXT.match(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59 or minute % 5:
        return None
    return time(hour, minute)


def parse_weekday(text: str) -> int:
    key = text.strip().lower()[:3]
    if key not in WEEKDAYS:
        key = key[:2]
    if key not in WEEKDAYS:
        raise SlotError(f"unknown weekday {text!r} (use mon…sun, ma…su or 1…7)")
    return WEEKDAYS[key]


def recurring_starts(
    *, weekday: int, start: time, end: time, minutes: int, weeks: int, now: datetime, tz: ZoneInfo
) -> list[datetime]:
    """Back-to-back slot starts on one weekday, from `start` until `end` (the last slot ends by `end`),
    on each such day in the `weeks` weeks from today (local), later than `now`.

    "Tuesdays 9–12 in 45-minute slots for 4 weeks" is `weekday=1, start=9:00, end=12:00, minutes=45,
    weeks=4`: four Tuesdays × 9:00, 9:45, 10:30, 11:15.
    """
    if minutes <= 0 or minutes > MAX_MINUTES:
        raise SlotError(f"a slot must last 1–{MAX_MINUTES} minutes")
    if weeks <= 0 or weeks > 52:
        raise SlotError("weeks must be 1–52")
    if not 0 <= weekday <= 6:
        raise SlotError("weekday must be 0 (Monday) … 6 (Sunday)")
    if end <= start:
        raise SlotError("the end must be after the start")
    today = now.astimezone(tz).date()
    first = today + timedelta(days=(weekday - today.weekday()) % 7)
    starts: list[datetime] = []
    for week in range(weeks):
        day = first + timedelta(weeks=week)
        for at in _times_between(start, end, minutes):
            instant = local_instant(day, at, tz)
            if instant is not None and instant > now:
                starts.append(instant)
    return starts


def _times_between(start: time, end: time, minutes: int) -> Iterator[time]:
    """Wall-clock starts: a slot is a length of the day's clock, so DST days keep the same local grid."""
    cursor = start.hour * 60 + start.minute
    last = end.hour * 60 + end.minute
    while cursor + minutes <= last:
        yield time(cursor // 60, cursor % 60)
        cursor += minutes


def bookable_after(now: datetime, close_hours: float) -> datetime:
    """The earliest start a family may still book: slots starting sooner are closed."""
    return now + timedelta(hours=close_hours)


def is_bookable(starts_at: datetime, now: datetime, close_hours: float) -> bool:
    return starts_at > bookable_after(now, close_hours)


def check_spec(spec: SlotSpec, now: datetime) -> None:
    """Refuse what a family could never use, with a reason staff understand."""
    if spec.starts_at.tzinfo is None:
        raise SlotError("the start time has no time zone")
    if spec.starts_at <= now:
        raise SlotError("the time is in the past")
    if spec.mode not in MODES:
        raise SlotError(f"unknown mode {spec.mode!r} (use {', '.join(MODES)})")
    if not 0 < spec.minutes <= MAX_MINUTES:
        raise SlotError(f"a slot must last 1–{MAX_MINUTES} minutes")
    if spec.mode == "in_person" and spec.municipality not in MUNICIPALITIES:
        raise SlotError(f"an in-person slot needs a municipality ({', '.join(MUNICIPALITIES)})")
    if spec.municipality is not None and spec.municipality not in MUNICIPALITIES:
        raise SlotError(f"unknown municipality {spec.municipality!r} (use {', '.join(MUNICIPALITIES)})")
    unknown = [code for code in spec.languages if code not in (*SERVED_LANGUAGES, "sv")]
    if unknown:
        raise SlotError(f"unknown language code(s): {', '.join(unknown)}")


def overlaps(a_start: datetime, a_minutes: int, b_start: datetime, b_minutes: int) -> bool:
    return a_start < b_start + timedelta(minutes=b_minutes) and b_start < a_start + timedelta(minutes=a_minutes)


def normalise_municipality(text: str) -> str | None:
    """'kemi' → 'Kemi'; '' → None; anything unknown is returned as typed (check_spec refuses it)."""
    text = text.strip()
    if not text:
        return None
    for name in MUNICIPALITIES:
        if name.lower() == text.lower():
            return name
    return text


def normalise_mode(text: str) -> str:
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    return {
        "in_person": "in_person",
        "person": "in_person",
        "office": "in_person",
        "phone": "phone",
        "video": "video",
        "puhelin": "phone",
        "paikan_paalla": "in_person",
        "lasna": "in_person",
    }.get(key, key)


CSV_COLUMNS = ("counsellor_telegram_id", "date", "start", "minutes", "mode", "municipality", "place", "languages")


@dataclass(frozen=True)
class CsvRow:
    line: int
    counsellor_telegram_id: int
    spec: SlotSpec


def parse_slots_csv(text: str, *, tz: ZoneInfo, now: datetime) -> tuple[list[CsvRow], list[str]]:
    """Rows of `slots.csv` and every problem (`line N: …`). Staff fix all problems before anything is saved.

    Columns: counsellor_telegram_id, date (YYYY-MM-DD), start (HH:MM, local time), minutes,
    mode (in_person | phone | video), municipality, place, languages (optional, e.g. `fi,en,ar`).
    """
    sample = text.lstrip("\ufeff")
    first_line = sample.split("\n", 1)[0]
    # Spreadsheets in Finnish locale save with ';': take whichever separator the header uses most.
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.DictReader(io.StringIO(sample), delimiter=delimiter)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in CSV_COLUMNS[:5] if name not in header]
    if missing:
        return [], [f"line 1: missing column(s): {', '.join(missing)} (expected {', '.join(CSV_COLUMNS)})"]
    rows: list[CsvRow] = []
    problems: list[str] = []
    for number, raw in enumerate(reader, start=2):
        record = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(record.values()):
            continue
        try:
            rows.append(CsvRow(number, *_csv_row(record, tz, now)))
        except SlotError as error:
            problems.append(f"line {number}: {error}")
    return rows, problems


def _csv_row(record: dict[str, str], tz: ZoneInfo, now: datetime) -> tuple[int, SlotSpec]:
    try:
        counsellor = int(record["counsellor_telegram_id"])
    except ValueError:
        raise SlotError("counsellor_telegram_id must be a number") from None
    try:
        day = date.fromisoformat(record["date"])
    except ValueError:
        raise SlotError(f"date {record['date']!r} is not YYYY-MM-DD") from None
    at = parse_time(record["start"])
    if at is None:
        raise SlotError(f"start {record['start']!r} is not HH:MM")
    try:
        minutes = int(record["minutes"])
    except ValueError:
        raise SlotError("minutes must be a number") from None
    instant = local_instant(day, at, tz)
    if instant is None:
        raise SlotError(f"{day} {at:%H:%M} does not exist in {tz.key} (clocks go forward)")
    languages = tuple(code.strip() for code in record.get("languages", "").replace(";", ",").split(",") if code.strip())
    spec = SlotSpec(
        starts_at=instant,
        minutes=minutes,
        mode=normalise_mode(record["mode"]),
        municipality=normalise_municipality(record.get("municipality", "")),
        place=record.get("place") or None,
        languages=languages,
    )
    check_spec(spec, now)
    return counsellor, spec


def local_days(starts: Iterable[datetime], tz: ZoneInfo) -> list[date]:
    """The distinct local dates of some instants, in order."""
    return sorted({start.astimezone(tz).date() for start in starts})
