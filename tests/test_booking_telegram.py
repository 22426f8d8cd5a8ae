"""End to end over HTTP: the real python-telegram-bot Application against the local Bot API server.

A counsellor publishes a slot step by step in a private chat (/slots), a family books it, the family gets
the confirmation and the .ics file, the counsellor is told; a stranger's /slots is refused and audited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.texts import Texts
from bot.db.database import Database
from bot.db.models import AuditEntry, Counsellor
from bot.features.booking.models import Booking, Slot
from bot.settings import ROOT
from bot.testing.fake_bot_api import FakeBotApi, Sent
from bot.timefmt import format_day
from tests.client import plain
from tests.conftest import make_settings
from tests.fakes import KeywordNLU
from tests.telegram_harness import running_bot

TEXTS = Texts.load(ROOT / "content" / "strings")
HKI = ZoneInfo("Europe/Helsinki")
COUNSELLOR = 4440001
FAMILY = 5550002
STRANGER = 5550003


def t(key: str, /, **values: object) -> str:
    return plain(TEXTS.get("en", key, **values))


async def next_message(api: FakeBotApi, chat: int, before: int, containing: str) -> Sent:
    """The first message to `chat` after the first `before` ones whose text contains `containing`."""

    def found() -> Sent | None:
        return next((s for s in api.messages_to(chat)[before:] if containing in s.text), None)

    return await api.wait_for(found)  # type: ignore[no-any-return]


async def press(api: FakeBotApi, chat: int, message: Sent, label: str, expect: str) -> Sent:
    before = len(api.messages_to(chat))
    await api.user_presses(chat, message, label)
    return await next_message(api, chat, before, expect)


async def say(api: FakeBotApi, chat: int, text: str, expect: str) -> Sent:
    before = len(api.messages_to(chat))
    await api.user_says(chat, text)
    return await next_message(api, chat, before, expect)


async def test_a_counsellor_publishes_a_slot_in_telegram_and_a_family_books_it(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    database = Database(sqlite_url)
    database.migrate()
    with database.session() as session:
        session.add(Counsellor(telegram_id=COUNSELLOR, name="Anna", languages="en", municipalities="Kemi"))
    database.dispose()
    day = (datetime.now(UTC).astimezone(HKI) + timedelta(days=2)).date()

    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        # ---- a stranger's /slots is refused like any unknown command
        await say(api, STRANGER, "/slots", t("errors.unknown_command"))

        # ---- the counsellor, step by step
        overview = await say(api, COUNSELLOR, "/slots", t("booking.staff_none"))
        days = await press(api, COUNSELLOR, overview, t("booking.staff_new"), t("booking.staff_day"))
        times = await press(api, COUNSELLOR, days, format_day("en", day), t("booking.staff_start").split(" 🕘")[0])
        lengths = await press(api, COUNSELLOR, times, "10:00", t("booking.staff_length"))
        modes = await press(api, COUNSELLOR, lengths, t("booking.minutes", minutes=45), t("booking.staff_mode"))
        towns = await press(api, COUNSELLOR, modes, t("booking.mode.in_person"), t("booking.staff_municipality"))
        await press(api, COUNSELLOR, towns, "Kemi", t("booking.staff_place").split(" 🏢")[0])
        summary = await say(api, COUNSELLOR, "Perhekeskus <Valtakatu 1>", "Publish this slot?")
        assert "Perhekeskus &lt;Valtakatu 1&gt;" in summary.text, "staff-typed text is escaped in HTML"
        await press(api, COUNSELLOR, summary, t("booking.staff_publish"), "✅ Published")
        with bot.services.db.sessions() as session:
            (slot,) = session.scalars(select(Slot)).unique().all()
            assert slot.starts_at.astimezone(HKI) == datetime(day.year, day.month, day.day, 10, tzinfo=HKI)
            assert (slot.minutes, slot.mode, slot.municipality) == (45, "in_person", "Kemi")
            assert slot.place == "Perhekeskus <Valtakatu 1>"
            actions = session.scalars(select(AuditEntry.action)).all()
            assert "slot.publish" in actions and "slots.refused" in actions

        # ---- a family books it
        await api.user_says(FAMILY, "/start")
        greeting = await next_message(api, FAMILY, 0, "Please choose your language")
        consent = await press(api, FAMILY, greeting, "English", "Do you agree?")
        menu = await press(api, FAMILY, consent, "✅", t("menu.title"))
        where = await press(api, FAMILY, menu, t("menu.book"), "Where would you like to meet?")
        days_offered = await press(api, FAMILY, where, "Kemi", t("booking.choose_day"))
        times_offered = await press(api, FAMILY, days_offered, format_day("en", day), t("booking.choose_time"))
        topics = await press(api, FAMILY, times_offered, "10:00", t("booking.choose_topic"))
        # Anna speaks English: no interpreter question for an English-speaking family.
        check = await press(api, FAMILY, topics, t("booking.topic.health"), "Shall I book it?")
        before_counsellor = len(api.messages_to(COUNSELLOR))
        await press(api, FAMILY, check, t("booking.confirm"), "Booked!")
        documents = [s for s in api.messages_to(FAMILY) if s.method == "sendDocument"]
        assert len(documents) == 1 and documents[0].params.get("_filename") == "aito-booking.ics"
        assert b"BEGIN:VCALENDAR" in documents[0].params["document"]
        notice = await next_message(api, COUNSELLOR, before_counsellor, "New booking")
        assert "F-0" in notice.text and str(FAMILY) not in notice.text
        with bot.services.db.sessions() as session:
            (booking,) = session.scalars(select(Booking)).unique().all()
            assert (booking.slot_id, booking.status, booking.topic) == (slot.id, "active", "health")

        # ---- the counsellor sees it booked, and cancels it: the family is told and offered a new time
        overview = await say(api, COUNSELLOR, "/slots", "Your upcoming slots")
        assert "👪" in overview.text
        listing = await press(api, COUNSELLOR, overview, t("booking.staff_list"), t("booking.staff_list_title"))
        details = await press(api, COUNSELLOR, listing, "👪", "Booked by family")
        question = await press(api, COUNSELLOR, details, t("booking.staff_cancel_slot"), "This slot is booked")
        before_family = len(api.messages_to(FAMILY))
        await press(api, COUNSELLOR, question, t("booking.staff_cancel_yes"), t("booking.staff_cancelled_family"))
        sorry = await next_message(api, FAMILY, before_family, "the counsellor had to cancel")
        assert t("booking.book_again") in sorry.button_labels
        await press(api, FAMILY, sorry, t("booking.book_again"), t("booking.none_free").split(" 😔")[0])
