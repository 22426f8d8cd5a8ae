"""Messages about a booking to someone other than the person pressing the button.

The counsellor hears of every new, moved and cancelled booking; a family whose meeting the counsellor
cancels hears of it with an offer to book again. They are replies with an explicit recipient, decided in
the same transaction as the change, so the inbox sends them even after a crash.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.messages import Button, Recipient, Reply, UserRef
from bot.core.texts import Texts
from bot.db.models import Counsellor, User
from bot.features.booking.models import Booking
from bot.features.booking.places import PlaceNames
from bot.features.booking.present import booking_values, language_name, when_text
from bot.settings import SERVED_LANGUAGES

TELEGRAM = "telegram"
# The family's buttons under a notice: an entry step of the booking flow, so they work from any state.
NOTICE_STEP = "booking.notice"


def counsellor_ref(counsellor: Counsellor) -> UserRef:
    return UserRef(TELEGRAM, str(counsellor.telegram_id))


def counsellor_language(session: Session, counsellor: Counsellor) -> str:
    """The language the counsellor chose in the bot, else Finnish or English from their list."""
    chosen = session.scalar(
        select(User.language).where(User.channel == TELEGRAM, User.external_id == str(counsellor.telegram_id))
    )
    if chosen in SERVED_LANGUAGES:
        return str(chosen)
    spoken = counsellor.language_list
    return "fi" if "fi" in spoken or not spoken else ("en" if "en" in spoken else "fi")


def to_counsellor(
    session: Session,
    texts: Texts,
    tz: ZoneInfo,
    places: PlaceNames,
    booking: Booking,
    event: str,
    previous: Booking | None = None,
) -> Reply:
    """`event` is new | moved | cancelled. The family appears only by its pseudonymous label."""
    counsellor = booking.slot.counsellor
    language = counsellor_language(session, counsellor)
    family = session.get(User, booking.user_id)
    values = booking_values(texts, language, booking, tz, places, staff=True)
    values["family"] = family.label if family else "?"
    values["language"] = language_name(booking.language)
    values["old"] = when_text(language, previous.slot, tz) if previous is not None else ""
    text = texts.get(language, f"booking.staff_notice.{event}", **values)
    return Reply(text=text, to=Recipient(user=counsellor_ref(counsellor)))


def to_family_cancelled(
    session: Session, texts: Texts, tz: ZoneInfo, places: PlaceNames, booking: Booking
) -> Reply | None:
    """The counsellor cancelled: say so kindly and offer to book again (or None if the family is gone)."""
    family = session.get(User, booking.user_id)
    if family is None:
        return None
    language = family.language or "en"
    values = booking_values(texts, language, booking, tz, places)
    text = texts.get(language, "booking.cancelled_by_counsellor", **values)
    buttons = (
        (Button(texts.get(language, "booking.book_again"), f"{NOTICE_STEP}:book"),),
        (Button(texts.get(language, "common.menu"), f"{NOTICE_STEP}:menu"),),
    )
    return Reply(text=text, buttons=buttons, to=Recipient(user=UserRef(family.channel, family.external_id)))
