"""How a booking or a slot is written in a given language: when, where, topic, interpreter.

Used for the family (their language), for the counsellor (theirs) and for messages rendered later. Towns are
named in the reader's language (`places.PlaceNames`); what staff typed about the place is shown as typed.
Dates and times come from `bot.timefmt`, the project's one place for "as their language writes them".
"""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from bot.core.texts import LANGUAGE_NAMES, Safe, Texts
from bot.features.booking.models import Booking, Slot
from bot.features.booking.places import PlaceNames
from bot.timefmt import format_date, format_span, format_time

MODE_ICONS = {"in_person": "📍", "phone": "📞", "video": "💻"}
# Between the town and the place (Arabic has its own comma).
LIST_SEPARATORS = {"ar": "، "}


def when_text(language: str, slot: Slot, tz: ZoneInfo) -> str:
    """ "ti 3.12. klo 9.00–9.45", "Tue 3 Dec, 09:00–09:45"."""
    return format_span(language, slot.starts_at, slot.ends_at, tz)


def day_label(language: str, slot: Slot, tz: ZoneInfo) -> str:
    return format_date(language, slot.starts_at, tz)


def time_label(language: str, slot: Slot, tz: ZoneInfo, *, with_mode: bool = False) -> str:
    label = f"🕘 {format_time(language, slot.starts_at, tz)}"
    return f"{label} {MODE_ICONS[slot.mode]}" if with_mode else label


def town_text(places: PlaceNames, language: str, slot: Slot) -> str:
    """The slot's municipality as `language` writes it ("كيمي"), plain text."""
    return places.name(slot.municipality, language) if slot.municipality else ""


def where_plain(places: PlaceNames, language: str, slot: Slot) -> str | None:
    """An in-person slot's town and place, plain text ("كيمي، Perhekeskus"); None for phone and video.

    The place stays as staff typed it: it is an address, written as on the door and on the map."""
    if slot.mode != "in_person":
        return None
    town = town_text(places, language, slot)
    separator = LIST_SEPARATORS.get(language, ", ") if town != slot.municipality else ", "
    return separator.join(part for part in (town, slot.place) if part)


def where_text(
    texts: Texts, language: str, slot: Slot, places: PlaceNames, *, phone: str | None = None, staff: bool = False
) -> Safe:
    """HTML: the place is staff-typed text, so it is escaped here. A phone or video meeting says who calls
    whom, to the family or (`staff`) to the counsellor, with the family's number when there is one."""
    plain = where_plain(places, language, slot)
    if plain is not None:
        return Safe(html.escape(plain, quote=False))
    described = texts.get(language, f"booking.{'staff_mode_desc' if staff else 'mode_desc'}.{slot.mode}")
    return Safe(f"{described} · {html.escape(phone)}" if phone else described)


def topic_text(texts: Texts, language: str, topic: str) -> str:
    return texts.get(language, f"booking.topic.{topic}")


def interpreter_text(texts: Texts, language: str, code: str | None) -> str:
    """The interpreter's language as the reader's language names it ("Arabic", "арабский"), not its endonym."""
    if code is None:
        return texts.get(language, "booking.interpreter_none")
    if code in LANGUAGE_NAMES:
        return texts.get(language, f"language_names.{code}")
    return texts.get(language, "booking.interpreter_ask")


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "?")


def booking_values(
    texts: Texts, language: str, booking: Booking, tz: ZoneInfo, places: PlaceNames, *, staff: bool = False
) -> dict[str, object]:
    """The placeholders every booking message shares; `staff` for the counsellor's messages."""
    slot = booking.slot
    return {
        "when": when_text(language, slot, tz),
        "where": where_text(texts, language, slot, places, phone=booking.phone, staff=staff),
        "icon": MODE_ICONS[slot.mode],
        "topic": topic_text(texts, language, booking.topic),
        "interpreter": interpreter_text(texts, language, booking.interpreter),
    }
