"""Families book, move and cancel in their own language (BotClient against the core); counsellors are told;
a counsellor's cancellation reaches the family with an offer to book again; reminders go through the outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.core.messages import Reply, UserRef
from bot.core.texts import LANGUAGE_NAMES, Texts
from bot.db.models import AuditEntry
from bot.features.booking.models import Booking
from bot.features.booking.places import PlaceNames
from bot.features.booking.privacy import make_retention
from bot.outbox import OutboxSender, render
from bot.outbox_models import OutboxMessage
from bot.settings import ROOT, SERVED_LANGUAGES
from bot.timefmt import format_datetime, format_span
from tests.client import BotClient, plain
from tests.fakes import FixedUnderstanding, KeywordNLU
from tests.test_booking_service import (
    COUNSELLOR_TELEGRAM_ID,
    World,
    active_bookings,
    add_counsellor,
    add_slot,
    build_world,
)

TEXTS = Texts.load(ROOT / "content" / "strings")
TOWNS = PlaceNames.load(ROOT / "content" / "groups.yml")
HKI = ZoneInfo("Europe/Helsinki")
COUNSELLOR = UserRef("telegram", str(COUNSELLOR_TELEGRAM_ID))


def t(lang: str, key: str, /, **values: object) -> str:
    return plain(TEXTS.get(lang, key, **values))


def town(language: str, municipality: str = "Kemi") -> str:
    """A place button's town as the family's language writes it ("كيمي")."""
    return TOWNS.name(municipality, language)


class BookingNLU(KeywordNLU):
    """The keyword NLU plus the two booking intents."""

    RULES = {**KeywordNLU.RULES, "appointment": "book_guidance", "cancel my": "cancel_booking"}
    # An unclear message whose likeliest intent is the bookings, then two guide topics.
    UNSURE = (("cancel_booking", 0.3), ("topic_health", 0.2), ("topic_money", 0.1), ("topic_housing", 0.05))

    def understand(self, text: str, **kwargs: object) -> FixedUnderstanding:
        if text.startswith("the time"):
            return FixedUnderstanding(text, "en", 0.9, "cancel_booking", 0.3, False, self.UNSURE)
        if text in ("yes", "نعم"):
            return FixedUnderstanding(text, "en", 0.9, "affirm", 0.97, False, (("affirm", 0.97),))
        if text == "money problems":
            return FixedUnderstanding(text, "en", 0.9, "topic_money", 0.9, False, (("topic_money", 0.9),))
        for word in ("appointment", "cancel my"):
            if word in text.lower():
                intent = self.RULES[word]
                return FixedUnderstanding(text, "en", 0.9, intent, 0.95, False, ((intent, 0.95),))
        return super().understand(text, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(f"sqlite:///{tmp_path / 'booking.db'}", tmp_path, nlu=BookingNLU())
    yield built
    built.services.db.dispose()


def family(world: World, user_id: str, language: str, *, consent: bool = True) -> BotClient:
    client = BotClient(world.conversation, user_id=user_id)
    client.send("/start")
    client.click(LANGUAGE_NAMES[language])
    client.click("✅" if consent else "🙅")
    return client


def to_counsellor(client: BotClient) -> list[Reply]:
    return [r for r in client.others if r.to is not None and r.to.user == COUNSELLOR]


def to_first_free_time(client: BotClient, language: str, *, place: str = "Kemi") -> None:
    """From the menu to "What would you like to talk about?", at the first free time of `place`."""
    client.send("/menu")
    client.click(t(language, "menu.book"))
    assert t(language, "booking.where").split("\n")[0] in client.text
    client.click(f"📍 {town(language, place)}")
    client.click_nth(0)  # the first day
    client.click_nth(0)  # the first time


def book_first_free(client: BotClient, language: str, *, place: str = "Kemi", topic: str = "health") -> None:
    to_first_free_time(client, language, place=place)
    client.click(t(language, f"booking.topic.{topic}"))
    if language != "fi":  # Finnish speakers are not asked about an interpreter
        named = t(language, f"language_names.{language}")  # in a sentence: the name in the family's language
        assert t(language, "booking.interpreter", language=named) in client.text
        client.click(t(language, "booking.interpreter_yes"))
    assert t(language, "booking.confirm") in [plain(b.label) for b in client.buttons]
    client.click(t(language, "booking.confirm"))


# ---------------------------------------------------------------------- book, move, cancel in every language
@pytest.mark.parametrize("language", SERVED_LANGUAGES)
def test_book_move_and_cancel_in_the_familys_language(world: World, language: str) -> None:
    counsellor = add_counsellor(world)
    first = add_slot(world, counsellor, timedelta(days=2, hours=3))  # Wed 4 March, 11:00 in Helsinki
    second = add_slot(world, counsellor, timedelta(days=3, hours=1), mode="video")
    client = family(world, f"family-{language}", language)

    # ---- book
    book_first_free(client, language)
    with world.services.db.sessions() as session:
        booking = session.scalar(select(Booking))
        assert booking is not None and (booking.slot_id, booking.status) == (first, "active")
        assert (booking.topic, booking.language) == ("health", language)
        assert booking.interpreter == (None if language == "fi" else language)
        starts_at, ends_at = booking.slot.starts_at, booking.slot.ends_at
    when = format_span(language, starts_at, ends_at, HKI)
    assert when in client.text, "the date and time as the family's language writes them"
    assert (
        t(language, "booking.booked", when="X", where="Y", icon="", topic="", interpreter="").split("\n")[0]
        in client.text
    )
    assert t(language, "booking.reminder_promise", hours="24") in client.text
    confirmation = client.last[-1]
    assert confirmation.attachment is not None and confirmation.attachment.mime_type == "text/calendar"
    event = Calendar.from_ical(confirmation.attachment.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == starts_at
    assert event.decoded("dtend") == starts_at + timedelta(minutes=45)
    assert str(event.get("summary")) == t(language, "booking.ics_title")
    notices = to_counsellor(client)
    assert len(notices) == 1 and plain(notices[0].text).startswith("📅 Uusi varaus"), "in the counsellor's Finnish"
    assert "F-0" in notices[0].text and f"family-{language}" not in notices[0].text, "pseudonymous label only"

    # ---- move (from My bookings)
    client.send("/mybookings")
    assert t(language, "booking.mine_title").split("\n")[0] in client.text
    client.click_nth(0)
    client.click(t(language, "booking.move"))
    client.click(t(language, "booking.remote"))
    client.click_nth(0)
    client.click_nth(0)
    assert t(language, "booking.phone_question.video") in client.text, "a video meeting needs a number to text"
    client.send("040 123 4567")
    assert (
        t(language, "booking.summary_move", old="", when="", icon="", where="", topic="", interpreter="").split("\n")[0]
        in client.text
    )
    assert t(language, "booking.topic.health") in client.text, "the move shows what stays: the topic, the interpreter"
    client.click(t(language, "booking.confirm_move"))
    assert t(language, "booking.moved", when="", icon="", where="").split("\n")[0] in client.text
    with world.services.db.sessions() as session:
        rows = session.scalars(select(Booking).order_by(Booking.id)).unique().all()
        assert [(b.slot_id, b.status) for b in rows] == [(first, "moved"), (second, "active")]
        assert rows[1].topic == "health", "moving keeps the topic and the interpreter"
    assert "🔄" in to_counsellor(client)[-1].text

    # ---- cancel
    client.send("/mybookings")
    client.click_nth(0)
    client.click(t(language, "booking.cancel"))
    assert t(language, "booking.cancel_yes") in [plain(b.label) for b in client.buttons]
    client.click(t(language, "booking.cancel_yes"))
    assert t(language, "booking.cancelled") in client.text
    assert active_bookings(world) == []
    assert "❌" in to_counsellor(client)[-1].text
    client.send("/mybookings")
    assert t(language, "booking.mine_none") in client.text


def test_counsellor_notices_are_in_the_counsellors_language(world: World) -> None:
    counsellor = add_counsellor(world, languages="en,ar")
    add_slot(world, counsellor, timedelta(days=2))
    client = family(world, "f1", "so")
    book_first_free(client, "so")
    notice = plain(to_counsellor(client)[0].text)
    assert notice.startswith("📅 New booking"), notice
    assert "Soomaali" in notice and "🏥 Health" in notice, "the family's language and the topic, in English"


# ---------------------------------------------------------------------- ways in
def test_every_way_in_leads_to_booking(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    where = t("en", "booking.where").split("\n")[0]
    client = family(world, "f1", "en")
    assert client.button(t("en", "menu.book"))
    client.send("I need an appointment")  # the book_guidance intent
    assert where in client.text
    client.send("/start book")  # a deep link (e.g. a poster's QR code)
    assert where in client.text
    client.send("please cancel my meeting")  # the cancel_booking intent
    assert t("en", "booking.mine_none") in client.text
    newcomer = BotClient(world.conversation, user_id="new")
    newcomer.send("/start book")
    newcomer.click("English")
    newcomer.click("✅")
    assert where in newcomer.text, "after onboarding the deep link still opens booking"


def test_my_bookings_is_a_guess_only_for_a_family_that_has_one(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "en")
    client.send("the time thing")
    assert t("en", "intent.cancel_booking") not in [plain(b.label) for b in client.buttons]
    book_first_free(client, "en")
    client.send("the time thing")
    assert plain(client.buttons[0].label) == t("en", "intent.cancel_booking")  # the likeliest, first


def test_a_typed_yes_answers_the_interpreter_question_and_books(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "ar")
    to_first_free_time(client, "ar")
    client.click(t("ar", "booking.topic.health"))
    client.send("نعم")  # "Do you need an interpreter?": typed, not pressed
    assert t("ar", "booking.confirm") in [plain(b.label) for b in client.buttons]
    client.send("نعم")  # "Shall I book it?"
    assert len(active_bookings(world)) == 1
    assert active_bookings(world)[0].interpreter == "ar"


def test_a_topic_typed_inside_the_booking_is_the_bookings_topic(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "en")
    to_first_free_time(client, "en")
    client.send("money problems")  # typed at "What would you like to talk about?", not the guide's money page
    assert t("en", "booking.interpreter_yes") in [plain(b.label) for b in client.buttons]
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    assert [booking.topic for booking in active_bookings(world)] == ["money"]


def test_a_question_half_way_is_answered_and_the_booking_waits(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "en")
    client.send("/menu")
    client.click(t("en", "menu.book"))
    client.click(f"📍 {town('en', 'Kemi')}")
    days = client.text
    client.send("money problems")  # a question at "Which day suits you?": answered, and the booking not lost
    assert t("en", "booking.unfinished") in client.text
    assert t("en", "booking.day_full") not in client.text
    assert client.buttons[-1].label == t("en", "booking.continue")
    client.click(t("en", "booking.continue"))
    assert client.text == days, "back at the days of the place chosen before"
    client.click_nth(0)
    client.click_nth(0)
    client.click(t("en", "booking.topic.health"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    assert len(active_bookings(world)) == 1


def test_the_way_back_lapses_once_the_family_is_back_in_the_booking(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "en")
    to_first_free_time(client, "en")
    client.send("money problems")  # the topic: typed inside the booking, no way back needed
    assert t("en", "booking.unfinished") not in client.text
    client.send("thanks")  # leaves the booking at the interpreter question
    back = client.button(t("en", "booking.continue")).payload
    client.press(back)
    assert t("en", "booking.interpreter_yes") in [plain(b.label) for b in client.buttons]
    client.press(back)  # pressed again: the offer was used
    assert t("en", "errors.stale_button") in client.text
    assert active_bookings(world) == []


def test_an_earlier_list_of_the_booking_changes_that_choice(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))
    later = add_slot(world, counsellor, timedelta(days=3, hours=2))
    client = family(world, "f1", "en")
    client.send("/menu")
    client.click(t("en", "menu.book"))
    client.click(f"📍 {town('en', 'Kemi')}")
    second_day = client.buttons[1].payload
    client.click_nth(0)  # the first day: its times
    client.press(second_day)  # the family scrolls up and picks the other day after all
    assert t("en", "errors.stale_button") not in client.text
    assert t("en", "booking.choose_time") in client.text
    client.click_nth(0)  # that day's time
    client.click(t("en", "booking.topic.health"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    assert [booking.slot_id for booking in active_bookings(world)] == [later]
    client.send("/menu")
    client.press(second_day)  # the booking is made: an old list button is stale again
    assert t("en", "errors.stale_button") in client.text
    assert len(active_bookings(world)) == 1


def test_booking_needs_consent_and_offers_it(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "ar", consent=False)
    client.click(t("ar", "menu.book"))  # shown without consent too: booking says why it needs it
    assert t("ar", "booking.needs_consent") in client.text
    client.click(t("ar", "booking.give_consent"))
    client.click("✅")
    assert t("ar", "booking.where").split("\n")[0] in client.text


def test_nothing_free_says_so_kindly_and_offers_a_way_on(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(hours=11))  # closes within 12 hours: not offered
    client = family(world, "f1", "ru")
    client.click(t("ru", "menu.book"))
    assert t("ru", "booking.none_free") in client.text
    assert client.buttons


def test_the_limit_of_future_bookings(world: World, tmp_path: Path) -> None:
    counsellor = add_counsellor(world)
    for days in (2, 3, 4):
        add_slot(world, counsellor, timedelta(days=days))
    client = family(world, "f1", "sw")
    book_first_free(client, "sw")
    book_first_free(client, "sw")
    client.click(t("sw", "booking.my_bookings"))
    assert t("sw", "booking.book_new") not in [plain(b.label) for b in client.buttons]
    client.send("/start book")
    assert t("sw", "booking.limit", max=2) in client.text
    # Configurable: one per family.
    strict = build_world(f"sqlite:///{tmp_path / 'strict.db'}", tmp_path, booking_max_future=1)
    add_slot(strict, add_counsellor(strict), timedelta(days=2))
    add_slot(strict, 1, timedelta(days=3))
    other = family(strict, "f2", "en")
    book_first_free(other, "en")
    other.send("/start book")
    assert t("en", "booking.limit", max=1) in other.text
    strict.services.db.dispose()


def test_the_loser_of_a_race_is_told_kindly_and_shown_the_next_free_times(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))
    later = add_slot(world, counsellor, timedelta(days=3))
    quick, slow = family(world, "quick", "en"), family(world, "slow", "fi")
    for client, language in ((quick, "en"), (slow, "fi")):
        client.click(t(language, "menu.book"))
        client.click("Kemi")
        client.click_nth(0)
        client.click_nth(0)
        client.click(t(language, "booking.topic.money"))
        if language == "en":
            client.click(t(language, "booking.interpreter_no"))
    quick.click(t("en", "booking.confirm"))
    slow.click(t("fi", "booking.confirm"))
    assert t("fi", "booking.taken") in slow.text and t("fi", "booking.next_free") in slow.text
    slow.click_nth(0)  # the next free time; topic and interpreter are remembered
    assert t("fi", "booking.summary", when="", icon="", where="", topic="", interpreter="").split("\n")[0] in slow.text
    slow.click(t("fi", "booking.confirm"))
    assert [b.slot_id for b in active_bookings(world) if b.language == "fi"] == [later]


# ---------------------------------------------------------------------- a counsellor cancels
def test_a_counsellor_cancelling_tells_the_family_and_offers_to_rebook(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))
    add_slot(world, counsellor, timedelta(days=3))
    client = family(world, "5550001", "so")
    book_first_free(client, "so")
    staff = BotClient(world.conversation, user_id=str(COUNSELLOR_TELEGRAM_ID), channel="telegram")
    staff.send("/slots")
    staff.click(t("fi", "booking.staff_list"))
    staff.click("👪")
    staff.click(t("fi", "booking.staff_cancel_slot"))
    assert t("fi", "booking.staff_cancel_booked", when="X").split(".")[0] in staff.text
    staff.click(t("fi", "booking.staff_cancel_yes"))
    assert t("fi", "booking.staff_cancelled_family") in staff.text
    (notice,) = [r for r in staff.others if r.to is not None and r.to.user == client.user]
    assert t("so", "booking.cancelled_by_counsellor", when="X", where="Y").split(" X")[0] in plain(notice.text)
    assert active_bookings(world) == []
    with world.services.db.sessions() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "slot.cancel"))
    # The family presses "book a new time" under the notice, from wherever they are.
    client.send("/menu")
    client.press(notice.buttons[0][0].payload)
    assert t("so", "booking.where").split("\n")[0] in client.text


# ---------------------------------------------------------------------- buttons are not trusted
def test_forged_and_stale_booking_buttons_are_refused(world: World) -> None:
    counsellor = add_counsellor(world)
    first = add_slot(world, counsellor, timedelta(days=2))
    add_slot(world, counsellor, timedelta(days=2, hours=1))
    owner = family(world, "owner", "en")
    book_first_free(owner, "en")
    (booking,) = active_bookings(world)
    thief = family(world, "thief", "en")
    thief.send("/mybookings")
    for forged in [
        f"booking.mine:{booking.id}",
        f"booking.time:{first}",
        "booking.confirm:book",
        "booking.cancel_confirm:yes",
        "booking.staff_confirm:publish",
        f"booking.staff_list:{first}",
        "booking.where:Rovaniemi",
        "booking.time:1 OR 1=1",
    ]:
        thief.press(forged)
        assert thief.buttons, forged
    assert [b.id for b in active_bookings(world)] == [booking.id]
    # A stale confirm button (the family already booked) books nothing twice.
    owner.send("/menu")
    owner.press("booking.confirm:book")
    assert t("en", "errors.stale_button") in owner.text
    assert len(active_bookings(world)) == 1


def test_a_counsellor_asked_about_a_free_time_that_a_family_books_meanwhile_is_asked_again(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2), mode="phone", municipality=None, place=None)
    staff = BotClient(world.conversation, user_id=str(COUNSELLOR_TELEGRAM_ID), channel="telegram")
    staff.send("/slots")
    staff.click(t("fi", "booking.staff_list"))
    staff.click_nth(0)
    staff.click(t("fi", "booking.staff_cancel_slot"))
    assert t("fi", "booking.staff_cancel_free", when="X").split(" X")[0] in staff.text
    yes = staff.button(t("fi", "booking.staff_cancel_yes")).payload
    client = family(world, "5550002", "en")
    book_by_phone(client, "en", "040 765 4321")
    client.click(t("en", "booking.confirm"))  # booked while the counsellor's question about a free time is open
    staff.press(yes)
    assert t("fi", "booking.staff_cancel_booked", when="X").split(".")[0] in staff.text, "asked again, about a booking"
    assert len(active_bookings(world)) == 1
    assert [r for r in staff.others if r.to is not None and r.to.user == client.user] == [], "nothing cancelled"
    staff.send("/slots")
    staff.click(t("fi", "booking.staff_list"))
    staff.click_nth(0)
    assert "040 765 4321" in staff.text and t("fi", "booking.staff_mode_desc.phone") in staff.text


# ---------------------------------------------------------------------- reminders through the outbox
def test_the_reminder_is_queued_rendered_in_the_familys_language_and_withdrawn(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=3))
    add_slot(world, counsellor, timedelta(days=4))
    soon = add_slot(world, counsellor, timedelta(hours=20), municipality="Tornio")
    client = family(world, "f1", "ar")
    book_first_free(client, "ar")
    with world.services.db.sessions() as session:
        (row,) = session.scalars(select(OutboxMessage)).all()
        booking = session.scalar(select(Booking))
        assert booking is not None
        assert row.due_at == booking.slot.starts_at - timedelta(hours=24)
        assert row.expires_at == booking.slot.starts_at
        assert row.user_id == booking.user_id and row.status == "pending"
        reply = render(world.services.texts, "ar", HKI, row.text_key, row.values, row.buttons)
        assert format_datetime("ar", booking.slot.starts_at, HKI) in reply.text
        assert t("ar", "booking.topic.health") in plain(reply.text)
        assert reply.buttons[0][0].payload == "booking.notice:mine"
        first_key = row.key
    # Moving withdraws the old reminder and plans the new one.
    client.send("/mybookings")
    client.click_nth(0)
    client.click(t("ar", "booking.move"))
    client.click(town("ar"))
    client.click_nth(0)  # the only other day
    client.click_nth(0)
    client.click(t("ar", "booking.confirm_move"))
    with world.services.db.sessions() as session:
        statuses = {row.key: row.status for row in session.scalars(select(OutboxMessage))}
    assert statuses[first_key] == "cancelled"
    assert sorted(statuses.values()) == ["cancelled", "pending"]
    # Pressing the reminder's button opens My bookings.
    client.send("/menu")
    client.press("booking.notice:mine")
    assert t("ar", "booking.mine_title").split("\n")[0] in client.text
    # A meeting sooner than the reminder gets none, and the confirmation does not promise one.
    other = family(world, "f2", "en")
    other.click(t("en", "menu.book"))
    other.click("Tornio")
    other.click_nth(0)
    other.click_nth(0)
    other.click(t("en", "booking.topic.other"))
    other.click(t("en", "booking.interpreter_no"))
    other.click(t("en", "booking.confirm"))
    assert t("en", "booking.reminder_promise", hours="24") not in other.text
    with world.services.db.sessions() as session:
        booked = session.scalar(select(Booking).where(Booking.slot_id == soon))
        assert booked is not None
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.ref == f"booking:{booked.id}")) is None
    # Cancelling withdraws the reminder.
    client.send("/mybookings")
    client.click_nth(0)
    client.click(t("ar", "booking.cancel"))
    client.click(t("ar", "booking.cancel_yes"))
    with world.services.db.sessions() as session:
        assert {row.status for row in session.scalars(select(OutboxMessage))} == {"cancelled"}


def test_an_interpreter_in_another_language(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "f1", "en")
    to_first_free_time(client, "en")
    client.click(t("en", "booking.topic.school"))
    client.click(t("en", "booking.interpreter_other"))
    client.click("Soomaali")  # the buttons name each language in itself
    assert "🗣 Interpreter: Somali" in client.text, "the summary names it in English"
    client.click(t("en", "booking.confirm"))
    assert active_bookings(world)[0].interpreter == "so"


# ---------------------------------------------------------------------- privacy: export and erasure
def test_mydata_exports_bookings_and_delete_frees_the_slot_and_tells_the_counsellor(world: World) -> None:
    counsellor = add_counsellor(world)
    slot = add_slot(world, counsellor, timedelta(days=3))
    client = family(world, "f1", "en")
    book_first_free(client, "en")
    client.send("/mydata")
    (document,) = [r.attachment for r in client.last if r.attachment is not None]
    exported = json.loads(document.content)
    rows = [(b["topic"], b["status"], b["municipality"]) for b in exported["bookings"]]
    assert rows == [("health", "active", "Kemi")]

    client.send("/delete")
    client.click(t("en", "privacy.delete_yes"))
    assert "❌" in to_counsellor(client)[-1].text, "the counsellor knows the time is free again"
    with world.services.db.sessions() as session:
        assert session.scalars(select(Booking)).first() is None
        assert session.scalars(select(OutboxMessage)).first() is None, "no reminder to an erased family"
    other = family(world, "f2", "en")
    book_first_free(other, "en")
    assert [b.slot_id for b in active_bookings(world)] == [slot]


def test_old_bookings_are_forgotten_after_the_retention_period(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))
    client = family(world, "f1", "en")
    book_first_free(client, "en")
    forget = make_retention(90)
    with world.session() as session:
        empty = {"booking_phones": 0, "bookings": 0, "booking_slots": 0}
        assert forget(session, world.clock.now + timedelta(days=60)) == empty
        assert forget(session, world.clock.now + timedelta(days=93)) == {**empty, "bookings": 1, "booking_slots": 1}


# ---------------------------------------------------------------------- a phone or video meeting: the number
def book_by_phone(client: BotClient, language: str, number: str) -> None:
    client.send("/menu")
    client.click(t(language, "menu.book"))
    client.click(t(language, "booking.remote"))
    client.click_nth(0)  # the day
    client.click_nth(0)  # the time
    client.click(t(language, "booking.topic.health"))
    client.click(t(language, "booking.interpreter_no"))
    assert t(language, "booking.phone_question.phone") in client.text
    client.send(number)


@pytest.mark.parametrize(
    ("language", "typed", "number"), [("en", "040 123 4567", "040 123 4567"), ("ar", "رقمي ٠٤٠١٢٣٤٥٦٧", "0401234567")]
)
def test_a_phone_meeting_asks_for_the_number_and_the_counsellor_gets_it(
    world: World, language: str, typed: str, number: str
) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2), mode="phone", municipality=None, place=None)
    client = family(world, "f1", language)
    book_by_phone(client, language, "040 12")  # digits, but no number: asked again, still in the booking
    assert t(language, "booking.phone_invalid") in client.text
    assert t(language, "booking.phone_question.phone") in client.text
    client.send(typed)
    assert number in client.text and t(language, "booking.change_phone") in [plain(b.label) for b in client.buttons]
    client.click(t(language, "booking.confirm"))
    (booking,) = active_bookings(world)
    assert booking.phone == number
    assert number in client.text, "the confirmation repeats the number"
    notice = to_counsellor(client)[-1].text
    assert number in notice and t("fi", "booking.staff_mode_desc.phone") in plain(notice)
    assert t("fi", "booking.mode_desc.phone") not in plain(notice), 'not the family\'s wording ("calls you")'
    client.send("/mydata")
    (document,) = [r.attachment for r in client.last if r.attachment is not None]
    assert [b["phone"] for b in json.loads(document.content)["bookings"]] == [number]


def test_the_number_can_be_changed_and_is_kept_when_the_meeting_moves(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2), mode="phone", municipality=None, place=None)
    add_slot(world, counsellor, timedelta(days=3), mode="video", municipality=None, place=None)
    client = family(world, "f1", "en")
    book_by_phone(client, "en", "040 111 1111")
    client.click(t("en", "booking.change_phone"))
    assert t("en", "booking.phone_question.phone") in client.text
    client.send("+358 50 222 2222")
    client.click(t("en", "booking.confirm"))
    assert [b.phone for b in active_bookings(world)] == ["+358 50 222 2222"]
    client.send("/mybookings")
    client.click_nth(0)
    client.click(t("en", "booking.move"))
    client.click(t("en", "booking.remote"))
    client.click_nth(0)  # the one free day: the video meeting
    client.click_nth(0)
    assert "+358 50 222 2222" in client.text, "moving does not ask for the number again"
    client.click(t("en", "booking.confirm_move"))
    (moved,) = active_bookings(world)
    assert (moved.slot.mode, moved.phone) == ("video", "+358 50 222 2222")
    with world.session() as session:
        assert session.scalars(select(Booking.phone).where(Booking.status != "active")).all() == [None]


def test_the_number_is_forgotten_when_the_meeting_is_over_or_cancelled(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2), mode="phone", municipality=None, place=None)
    add_slot(world, counsellor, timedelta(days=3), mode="phone", municipality=None, place=None)
    client = family(world, "f1", "en")
    book_by_phone(client, "en", "040 123 4567")
    client.click(t("en", "booking.confirm"))
    book_by_phone(client, "en", "040 123 4567")
    client.click(t("en", "booking.confirm"))
    client.send("/mybookings")
    client.click_nth(1)  # the later one
    client.click(t("en", "booking.cancel"))
    client.click(t("en", "booking.cancel_yes"))
    forget = make_retention(90)
    with world.session() as session:
        phones = lambda: sorted(str(p) for p in session.scalars(select(Booking.phone)))  # noqa: E731
        assert phones() == ["040 123 4567", "None"], "cancelled: forgotten at once"
        forget(session, world.clock.now + timedelta(days=2, hours=1))
        assert phones() == ["040 123 4567", "None"], "the meeting is still on"
        assert forget(session, world.clock.now + timedelta(days=2, hours=9))["booking_phones"] == 1
        assert phones() == ["None", "None"]


class RecordingTransport:
    """The outbox's transport seam, for the test channel: records what would go to Telegram."""

    channel = "test"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, external_id: str, reply: Reply) -> int:
        self.sent.append((external_id, reply))
        return len(self.sent)


async def test_the_reminder_goes_out_a_day_before_in_the_familys_language(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=3))
    client = family(world, "f1", "ru")
    book_first_free(client, "ru")
    (booking,) = active_bookings(world)
    transport = RecordingTransport()
    sender = OutboxSender(world.services.db, world.services.texts, transport, zone=HKI, clock=world.clock)
    assert (await sender.send_due()).sent == 0, "not due yet"
    world.clock.now = booking.slot.starts_at - timedelta(hours=23, minutes=59)
    assert (await sender.send_due()).sent == 1
    assert (await sender.send_due()).sent == 0, "and only once"
    ((recipient, reply),) = transport.sent
    assert recipient == "f1"
    assert plain(reply.text).startswith(t("ru", "booking.reminder", when="", icon="", where="", topic="").split(":")[0])
    assert format_datetime("ru", booking.slot.starts_at, HKI) in reply.text
    assert [b.payload for row in reply.buttons for b in row] == ["booking.notice:mine", "booking.notice:menu"]


# ---------------------------------------------------------------------- moving and the calendar file
def calendar_event(client: BotClient) -> tuple[str, object]:
    """The METHOD and the event of the calendar file in the last replies."""
    (attachment,) = [r.attachment for r in client.last if r.attachment is not None]
    calendar = Calendar.from_ical(attachment.content)
    return str(calendar.get("method")), calendar.walk("VEVENT")[0]


def test_a_booking_keeps_its_calendar_uid_when_moved_and_cancelling_sends_a_cancel(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))
    later = add_slot(world, counsellor, timedelta(days=3), mode="phone")
    client = family(world, "f1", "en")
    book_first_free(client, "en")
    method, event = calendar_event(client)
    uid = str(event.get("uid"))  # type: ignore[attr-defined]
    assert method == "PUBLISH" and int(event.get("sequence", 0)) == 0  # type: ignore[attr-defined]

    client.send("/mybookings")
    client.click_nth(0)
    client.click(t("en", "booking.move"))
    assert t("en", "booking.where_move").split("\n")[0] in client.text, "a heading that says moving"
    assert t("en", "booking.where").split("\n")[0] not in client.text
    client.click(t("en", "booking.remote"))
    client.click(t("en", "common.back"))  # back to the places: still the move's heading
    assert t("en", "booking.where_move").split("\n")[0] in client.text
    client.click(t("en", "booking.remote"))
    client.click_nth(0)
    client.click_nth(0)
    client.send("040 123 4567")  # the number a phone or video meeting needs
    labels = [plain(b.label) for b in client.buttons]
    assert t("en", "booking.confirm_move") in labels and t("en", "booking.confirm") not in labels
    client.send("yes")  # typed, to the move's own question
    assert t("en", "booking.moved", when="", icon="", where="").split("\n")[0] in client.text
    assert [b.slot_id for b in active_bookings(world)] == [later]
    method, event = calendar_event(client)
    assert str(event.get("uid")) == uid, "the phone replaces the event rather than adding a second one"  # type: ignore[attr-defined]
    assert int(event.get("sequence")) == 1  # type: ignore[attr-defined]

    client.send("/mybookings")
    client.click_nth(0)
    client.click(t("en", "booking.cancel"))
    client.click(t("en", "booking.cancel_yes"))
    assert t("en", "booking.cancelled") in client.text and t("en", "booking.cancel_calendar_hint") in client.text
    method, event = calendar_event(client)
    assert (method, str(event.get("uid")), int(event.get("sequence"))) == ("CANCEL", uid, 2)  # type: ignore[attr-defined]
    assert str(event.get("status")) == "CANCELLED"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("family_language", "asked"), [("ar", False), ("so", True)])
def test_no_interpreter_question_when_the_counsellor_speaks_the_familys_language(
    world: World, family_language: str, asked: bool
) -> None:
    add_slot(world, add_counsellor(world, languages="fi,en,ar"), timedelta(days=2))
    client = family(world, f"family-{family_language}", family_language)
    to_first_free_time(client, family_language)
    client.click(t(family_language, "booking.topic.health"))
    labels = [plain(b.label) for b in client.buttons]
    assert (t(family_language, "booking.interpreter_yes") in labels) is asked
    assert (t(family_language, "booking.confirm") in labels) is not asked
