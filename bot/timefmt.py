"""Dates and times as people write them in each served language ("ti 3.12. klo 17.00", "Tue 3 Dec, 17:00").

Pure functions of an aware datetime, a language and a time zone: storage is UTC, display is local
(Europe/Helsinki by default). No locale database is needed, so output is the same on every machine.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

# Monday first, as `date.weekday()` counts.
WEEKDAYS: dict[str, tuple[str, ...]] = {
    "fi": ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
    "ru": ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"),
    "so": ("Isniin", "Talaado", "Arbaco", "Khamiis", "Jimce", "Sabti", "Axad"),
    "sw": ("Jumatatu", "Jumanne", "Jumatano", "Alhamisi", "Ijumaa", "Jumamosi", "Jumapili"),
}
# Short forms where a language commonly uses them in dates (Finnish and English); others write the day out.
WEEKDAYS_SHORT: dict[str, tuple[str, ...]] = {
    "fi": ("ma", "ti", "ke", "to", "pe", "la", "su"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
# January first; Russian in the genitive, as after a day number ("3 декабря").
MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "ar": (
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ),
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "so": (
        "Janaayo",
        "Febraayo",
        "Maarso",
        "Abriil",
        "Maajo",
        "Juun",
        "Luulyo",
        "Ogosto",
        "Sebtembar",
        "Oktoobar",
        "Nofembar",
        "Diseembar",
    ),
    "sw": (
        "Januari",
        "Februari",
        "Machi",
        "Aprili",
        "Mei",
        "Juni",
        "Julai",
        "Agosti",
        "Septemba",
        "Oktoba",
        "Novemba",
        "Desemba",
    ),
}
FALLBACK = "en"


def _lang(language: str | None) -> str:
    return language if language in WEEKDAYS else FALLBACK


def local(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` on the wall clock of `zone`; refuses naive datetimes (they hide bugs)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(zone)


def weekday_name(language: str | None, weekday: int) -> str:
    """The full name of a weekday (0 = Monday)."""
    return WEEKDAYS[_lang(language)][weekday]


def format_clock(language: str | None, value: time) -> str:
    """9.00 and 17.00 in Finnish (no leading zero, as Finnish writes it), 09:00 and 17:00 elsewhere (24-hour
    clock everywhere: it is what Finnish services use)."""
    if _lang(language) == "fi":
        return f"{value.hour}.{value.minute:02d}"
    return f"{value.hour:02d}:{value.minute:02d}"


# East African Swahili counts the hours from 6 in the morning: 18:00 is "saa 12 jioni", the twelfth hour of
# the day, in the evening. A time after "saa" can be read either way, so a Swahili text gives the clock
# time and its Swahili reading together: "18:00 (saa 12 jioni)". The parts of the day, by the hour they
# start: asubuhi (morning), mchana (midday), alasiri (afternoon), jioni (evening), usiku (night).
SWAHILI_DAY_PARTS: tuple[tuple[int, str], ...] = (
    (4, "asubuhi"),
    (12, "mchana"),
    (15, "alasiri"),
    (17, "jioni"),
    (19, "usiku"),
)


def swahili_reading(value: time) -> str:
    """ "saa 12 jioni" for 18:00, "saa 3:30 asubuhi" for 9:30, "saa 7 mchana" for 13:00."""
    hour = (value.hour - 6) % 12 or 12
    clock = f"{hour}:{value.minute:02d}" if value.minute else str(hour)
    part = "usiku"
    for starts, name in SWAHILI_DAY_PARTS:
        if value.hour >= starts:
            part = name
    return f"saa {clock} {part}"


def format_clock_read(language: str | None, value: time) -> str:
    """A time in a sentence: as `format_clock`, and in Swahili with its Swahili reading, "18:00 (saa 12 jioni)"."""
    if _lang(language) == "sw":
        return f"{format_clock('sw', value)} ({swahili_reading(value)})"
    return format_clock(language, value)


def format_day_month(language: str | None, day: date) -> str:
    """A date without its weekday, for a sentence that names the weekday itself: "1.12.", "1 Dec",
    "1 ديسمبر", "1 декабря", "1 Diseembar", "1 Desemba"."""
    lang = _lang(language)
    if lang == "fi":
        return f"{day.day}.{day.month}."
    return f"{day.day} {MONTHS[lang][day.month - 1]}"


def format_day(language: str | None, day: date) -> str:
    """A day with its weekday: "ti 3.12.", "Tue 3 Dec", "الثلاثاء 3 ديسمبر", "вторник, 3 декабря"."""
    lang = _lang(language)
    weekday = day.weekday()
    if lang == "fi":
        return f"{WEEKDAYS_SHORT['fi'][weekday]} {day.day}.{day.month}."
    if lang == "en":
        return f"{WEEKDAYS_SHORT['en'][weekday]} {day.day} {MONTHS['en'][day.month - 1]}"
    if lang == "ar":
        return f"{WEEKDAYS['ar'][weekday]} {day.day} {MONTHS['ar'][day.month - 1]}"
    return f"{WEEKDAYS[lang][weekday]}, {day.day} {MONTHS[lang][day.month - 1]}"


def format_time(language: str | None, moment: datetime, zone: tzinfo) -> str:
    """Only the local clock time of `moment`."""
    return format_clock(language, local(moment, zone).time())


def format_date(language: str | None, moment: datetime, zone: tzinfo) -> str:
    """Only the local day of `moment`."""
    return format_day(language, local(moment, zone).date())


def format_datetime(language: str | None, moment: datetime, zone: tzinfo) -> str:
    """Day and time: "ti 3.12. klo 17.00", "Tue 3 Dec, 17:00", "Jumanne, 3 Desemba, saa 17:00"."""
    lang = _lang(language)
    when = local(moment, zone)
    day = format_day(lang, when.date())
    clock = format_clock(lang, when.time())
    if lang == "fi":
        return f"{day} klo {clock}"
    if lang == "sw":
        return f"{day}, {format_clock_read(lang, when.time())}"
    if lang == "ar":
        return f"{day}، {clock}"
    return f"{day}, {clock}"


def format_span(language: str | None, start: datetime, end: datetime, zone: tzinfo) -> str:
    """A meeting's day and times: "ti 1.12. klo 10.00–10.45", "Tue 1 Dec, 10:00–10:45",
    "Jumanne, 1 Desemba, 17:00–17:45 (saa 11 jioni)"."""
    lang = _lang(language)
    if lang != "sw":
        return f"{format_datetime(lang, start, zone)}–{format_time(lang, end, zone)}"
    begins = local(start, zone)
    return (
        f"{format_day(lang, begins.date())}, {format_clock(lang, begins.time())}–{format_time(lang, end, zone)}"
        f" ({swahili_reading(begins.time())})"
    )


# How long something has lasted, as staff read it: unit abbreviations as each language writes them after a
# number (Swahili puts the unit first: "siku 2 saa 16"). Days, hours, minutes.
DURATION_UNITS: dict[str, tuple[str, str, str]] = {
    "fi": ("{} vrk", "{} h", "{} min"),
    "en": ("{} d", "{} h", "{} min"),
    "ar": ("{} يوم", "{} ساعة", "{} دقيقة"),
    "ru": ("{} сут.", "{} ч", "{} мин"),
    "so": ("{} maalin", "{} saac", "{} daqiiqo"),
    "sw": ("siku {}", "saa {}", "dakika {}"),
}


def format_duration(language: str | None, length: timedelta) -> str:
    """A length of time in its two largest units, rounded down: "2 vrk 16 h", "5 h 20 min", "45 min" in
    Finnish; "2 d 16 h" in English. A whole day or hour drops the zero: "3 vrk", "1 h"."""
    day, hour, minute = DURATION_UNITS[_lang(language)]
    minutes = max(0, int(length.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        parts = [day.format(days)] + ([hour.format(hours)] if hours else [])
    elif hours:
        parts = [hour.format(hours)] + ([minute.format(minutes)] if minutes else [])
    else:
        parts = [minute.format(minutes)]
    return " ".join(parts)
