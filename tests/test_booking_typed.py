"""Booking answers typed instead of pressed ("Kemissä", "tomorrow", "klo 11", "١١:٠٠", "عربي") act as the button
would; anything else still reaches the intent model. Towns are shown in the reader's language ("📍 كيمي")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.db.models import User
from bot.features.booking.models import Booking
from bot.features.booking.places import PlaceNames
from bot.features.booking.present import interpreter_text, where_text
from bot.features.booking.reminders import outbox_values
from bot.features.booking.typed import TypedWords, answer_allowed, languages_named, read_time, time_named
from bot.outbox import render
from bot.settings import ROOT
from tests.client import BotClient, plain
from tests.fakes import FixedUnderstanding
from tests.test_booking_conversations import (
    COUNSELLOR_TELEGRAM_ID,
    HKI,
    TEXTS,
    BookingNLU,
    family,
    t,
    to_counsellor,
)
from tests.test_booking_service import World, active_bookings, add_counsellor, add_slot, build_world

TOWNS = PlaceNames.load(ROOT / "content" / "groups.yml")
WORDS = TypedWords.build(TEXTS)
MONDAY = date(2026, 3, 2)  # the tests' clock: Monday 2 March 2026, 08:00 in Helsinki
TUESDAY, WEDNESDAY, THURSDAY, NEXT_TUESDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 3, 8))


# What the real intent model says about some bare answers: confidently something else.
MISREAD = {
    "11:00": "topic_family",
    "١١:٠٠": "topic_family",
    "الأربعاء": "change_language",
    "عربي": "change_language",
    "Arabic": "change_language",
    "tuesday": "change_language",
    "friday": "topic_family",
    "9:15": "topic_family",
    "klo 14": "topic_family",
    "здоровье": "topic_mental_health",  # the Health button's own label (the model: 0.58 wellbeing)
    "money problems": "topic_family",
    "yes, Arabic please": "affirm",
    "peru": "cancel_booking",  # "cancel": as the real model reads it
    "lopeta": "reminders_off",  # "stop"
    "no": "deny",
    "what is Kela?": "topic_money",  # a question about a topic, not the booking's topic
    "in Tervola": "topic_health",
}


class TypedNLU(BookingNLU):
    """The booking tests' NLU, misreading bare answers as the real model does."""

    def understand(self, text: str, **kwargs: object) -> FixedUnderstanding:
        if text in MISREAD:
            intent = MISREAD[text]
            language = str(kwargs.get("user_language") or "en")
            return FixedUnderstanding(text, language, 0.9, intent, 1.0, False, ((intent, 1.0),))
        return super().understand(text, **kwargs)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(f"sqlite:///{tmp_path / 'booking.db'}", tmp_path, nlu=TypedNLU())
    yield built
    built.services.db.dispose()


def slots(world: World) -> dict[str, int]:
    """Free times in Kemi on Tuesday (10:00) and Wednesday (11:00, 14:00), and by phone on Thursday (9:00)."""
    counsellor = add_counsellor(world)
    return {
        "tue 10": add_slot(world, counsellor, timedelta(days=1, hours=2)),
        "wed 11": add_slot(world, counsellor, timedelta(days=2, hours=3)),
        "wed 14": add_slot(world, counsellor, timedelta(days=2, hours=6)),
        "thu 9 phone": add_slot(world, counsellor, timedelta(days=3, hours=1), mode="phone"),
    }


def at_the_place_step(world: World, language: str, user: str = "f1") -> BotClient:
    client = family(world, user, language)
    client.click(t(language, "menu.book"))
    assert t(language, "booking.where").split("\n")[0] in client.text
    return client


def asks(client: BotClient, language: str, key: str) -> bool:
    return t(language, key).split("\n")[0] in client.text


# ---------------------------------------------------------------------- typed answers in a conversation
@pytest.mark.parametrize(
    ("language", "place", "day", "hour", "interpreter", "interpreter_code"),
    [
        ("en", "in Kemi please", "wednesday", "11:00", "Somali", "so"),
        ("ar", "في كيمي", "الأربعاء", "١١:٠٠", "عربي", "ar"),
        ("fi", "Kemissä", "keskiviikkona", "klo 11", None, None),
        ("ru", "в Кеми", "в среду", "11.00", "по-русски", "ru"),
        ("so", "Kemi", "Arbacada", "11", "af soomaali", "so"),
        ("sw", "Kemi", "Jumatano", "saa 11:00", "Kiswahili", "sw"),
    ],
)
def test_typed_place_day_time_and_interpreter_language_act_as_their_buttons(
    world: World,
    language: str,
    place: str,
    day: str,
    hour: str,
    interpreter: str | None,
    interpreter_code: str | None,
) -> None:
    wanted = slots(world)["wed 11"]
    client = at_the_place_step(world, language)
    client.send(place)
    assert asks(client, language, "booking.choose_day"), client.text
    client.send(day)
    assert asks(client, language, "booking.choose_time"), client.text
    client.send(hour)
    assert asks(client, language, "booking.choose_topic"), client.text
    client.click(t(language, "booking.topic.school"))
    if interpreter is not None:
        client.click(t(language, "booking.interpreter_other"))
        client.send(interpreter)
    client.click(t(language, "booking.confirm"))
    (booking,) = active_bookings(world)
    assert (booking.slot_id, booking.topic, booking.interpreter) == (wanted, "school", interpreter_code)


def test_tomorrow_a_date_and_phone_or_video_are_understood(world: World) -> None:
    made = slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("tomorrow")
    assert asks(client, "en", "booking.choose_time")
    client.send("10")  # the only free time in that hour
    client.click(t("en", "booking.topic.money"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    assert [b.slot_id for b in active_bookings(world)] == [made["tue 10"]]

    other = at_the_place_step(world, "fi", user="f2")
    other.send("puhelimitse")
    assert asks(other, "fi", "booking.choose_day")
    other.send("to 5.3.")
    other.send("9.00")
    assert asks(other, "fi", "booking.choose_topic")
    other.click(t("fi", "booking.topic.work"))
    other.send("puh 040 123 4567")  # the number to call
    other.click(t("fi", "booking.confirm"))
    assert made["thu 9 phone"] in [b.slot_id for b in active_bookings(world)]


def test_a_typed_day_while_moving_keeps_the_topic(world: World) -> None:
    made = slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("tuesday")
    client.send("10:00")
    client.click(t("en", "booking.topic.family"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    client.send("/mybookings")
    client.click_nth(0)
    client.click(t("en", "booking.move"))
    client.send("Kemi")
    client.send("4 March")
    client.send("2 pm")
    move = t("en", "booking.summary_move", old="", when="", icon="", where="", topic="", interpreter="").split("\n")[0]
    assert move in client.text, "topic and interpreter are known: straight to the check"
    client.click(t("en", "booking.confirm_move"))
    assert [(b.slot_id, b.topic) for b in active_bookings(world)] == [(made["wed 14"], "family")]


def test_ambiguous_unoffered_and_other_messages_still_go_to_the_intent_model(world: World) -> None:
    slots(world)
    add_slot(world, add_counsellor(world, COUNSELLOR_TELEGRAM_ID + 1), timedelta(days=8, hours=2))  # a 2nd Tuesday
    client = at_the_place_step(world, "en")
    client.send("Kemi or Tornio?")
    assert not asks(client, "en", "booking.choose_day"), "two towns: a question, not an answer"
    client.send("/start book")
    client.send("Kemi")
    client.send("tuesday")
    assert not asks(client, "en", "booking.choose_time"), "two Tuesdays are on offer"
    client.send("ti 3.3.")  # the Finnish way, with the date: one of the two Tuesdays
    assert asks(client, "en", "booking.choose_time")
    client.send("12:00")  # nothing free at noon
    assert not asks(client, "en", "booking.choose_topic")
    client.send("/start book")
    client.send("Kemi")
    client.send("please cancel my meeting on Wednesday")  # a confident cancel_booking wins over the day
    assert t("en", "booking.mine_none") in client.text
    assert active_bookings(world) == []


def test_a_typed_time_that_someone_else_booked_meanwhile_is_not_taken(world: World) -> None:
    made = slots(world)
    slow = at_the_place_step(world, "en", user="slow")
    slow.send("Kemi")
    slow.send("tomorrow")
    assert "10:00" in [plain(b.label).removeprefix("🕘 ") for b in slow.buttons]
    quick = at_the_place_step(world, "en", user="quick")
    quick.send("Kemi")
    quick.send("tomorrow")
    quick.send("10:00")
    quick.click(t("en", "booking.topic.health"))
    quick.click(t("en", "booking.interpreter_no"))
    quick.click(t("en", "booking.confirm"))
    slow.send("10:00")
    assert not asks(slow, "en", "booking.choose_topic"), "only a time that is still free is taken"
    assert [b.slot_id for b in active_bookings(world)] == [made["tue 10"]]


# ---------------------------------------------------------------------- towns in the reader's language
def test_towns_are_shown_in_the_familys_language_everywhere(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))
    add_slot(world, counsellor, timedelta(days=3), municipality="Simo")  # a town without a group
    client = at_the_place_step(world, "ar")
    labels = [plain(b.label) for b in client.buttons]
    assert "📍 كيمي" in labels and "📍 سيمو" in labels, labels
    assert not any("Kemi" in label for label in labels)
    client.click("📍 كيمي")
    client.click_nth(0)
    client.click_nth(0)
    client.click(t("ar", "booking.topic.health"))
    client.click(t("ar", "booking.interpreter_yes"))
    assert "كيمي، Perhekeskus, Valtakatu 1" in client.text, "the summary"
    assert "Kemi" not in client.text
    client.click(t("ar", "booking.confirm"))
    assert "كيمي" in client.text and "Kemi" not in client.text, "the confirmation"
    (calendar_file,) = [r.attachment for r in client.last if r.attachment is not None]
    event = Calendar.from_ical(calendar_file.content).walk("VEVENT")[0]
    assert str(event.get("location")) == "Kemi, Perhekeskus, Valtakatu 1", "an address the map can find"
    client.send("/mybookings")
    assert "كيمي" in client.text and "Kemi" not in client.text
    assert "Kemi" in plain(to_counsellor(client)[-1].text), "the counsellor reads Finnish"
    with world.services.db.sessions() as session:
        (booking,) = session.scalars(select(Booking)).unique().all()
        values = outbox_values(booking, TOWNS)
        reminder = {
            language: plain(render(TEXTS, language, HKI, "booking.reminder", values, []).text)
            for language in ("ar", "ru", "fi")
        }
        assert "كيمي، Perhekeskus" in reminder["ar"] and "Кеми, Perhekeskus" in reminder["ru"]
        assert "Kemi, Perhekeskus" in reminder["fi"]


def test_russian_sees_the_town_in_cyrillic(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = at_the_place_step(world, "ru")
    assert "📍 Кеми" in [plain(b.label) for b in client.buttons]
    client.send("Кеми")
    client.click_nth(0)
    client.click_nth(0)
    client.click(t("ru", "booking.topic.money"))
    client.click(t("ru", "booking.interpreter_no"))
    assert "Кеми, Perhekeskus" in client.text


def test_a_counsellor_reads_the_town_in_their_own_language(world: World) -> None:
    add_slot(world, add_counsellor(world), timedelta(days=2))
    with world.session() as session:
        session.add(
            User(
                channel="telegram",
                external_id=str(COUNSELLOR_TELEGRAM_ID),
                language="ar",
                created_at=world.clock.now,
                last_seen_at=world.clock.now,
            )
        )
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.click_nth(0)
    client.click_nth(0)
    client.click(t("en", "booking.topic.money"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    assert "كيمي" in plain(to_counsellor(client)[-1].text)
    staff = BotClient(world.conversation, user_id=str(COUNSELLOR_TELEGRAM_ID), channel="telegram")
    staff.send("/slots")
    staff.click(t("ar", "booking.staff_new"))
    staff.click_nth(0)
    staff.click_nth(0)
    staff.click_nth(0)
    staff.click(t("ar", "booking.mode.in_person"))
    assert "📍 كيمي" in [plain(b.label) for b in staff.buttons]


# ---------------------------------------------------------------------- the recognisers, as pure functions
def test_town_names_fold_case_and_diacritics_and_keep_unknown_ones() -> None:
    assert [TOWNS.name(stored, "ar") for stored in ("Kemi", "KEMI", "tornio", "Keminmaa")] == [
        "كيمي",
        "كيمي",
        "تورنيو",
        "Keminmaa",  # not in content/groups.yml: as stored
    ]
    assert TOWNS.name("Kemi", "ru") == "Кеми" and TOWNS.name("Kemi", "fi") == "Kemi"
    offered = ["Kemi", "Tornio", "Simo"]
    assert [TOWNS.named(text, offered) for text in ("Kemissä", "بكيمي", "в Кеми", "Simossa", "Torniosta")] == [
        "Kemi",
        "Kemi",
        "Kemi",
        "Simo",
        "Tornio",
    ]
    assert [TOWNS.named(text, offered) for text in ("Kemijärvi", "Kemi or Tornio", "Tervola", "kemia")] == [None] * 4


def test_where_text_escapes_what_staff_typed() -> None:
    slot = type("SlotLike", (), {"mode": "in_person", "municipality": "Kemi", "place": "Talo <B> & co"})()
    assert where_text(TEXTS, "ar", slot, TOWNS) == "كيمي، Talo &lt;B&gt; &amp; co"  # type: ignore[arg-type]
    unknown = type("SlotLike", (), {"mode": "in_person", "municipality": "<Simo>", "place": None})()
    assert where_text(TEXTS, "ar", unknown, TOWNS) == "&lt;Simo&gt;"  # type: ignore[arg-type]


OFFERED_DAYS = [TUESDAY, WEDNESDAY, THURSDAY, NEXT_TUESDAY]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("wednesday", WEDNESDAY),
        ("keskiviikkona", WEDNESDAY),
        ("ke 4.3.", WEDNESDAY),
        ("4.3.", WEDNESDAY),
        ("Wed 4 Mar", WEDNESDAY),
        ("4 March", WEDNESDAY),
        ("الأربعاء", WEDNESDAY),
        ("يوم الخميس", THURSDAY),
        ("в среду", WEDNESDAY),
        ("5 марта", THURSDAY),
        ("Arbacada", WEDNESDAY),
        ("Alhamisi", THURSDAY),
        ("to", THURSDAY),
        ("huomenna", TUESDAY),
        ("tomorrow", TUESDAY),
        ("غدا", TUESDAY),
        ("завтра", TUESDAY),
        ("berri", TUESDAY),
        ("kesho", TUESDAY),
        ("ti 10.3.", NEXT_TUESDAY),
        ("٤.٣.", WEDNESDAY),
        # not one offered day
        ("tuesday", None),
        ("tiistaina", None),
        ("ti", None),
        ("today", None),
        ("friday", None),
        ("wednesday or thursday", None),
        ("torstai 4.3.", None),
        ("I want to cancel", None),
        ("10.30", None),
    ],
)
def test_a_typed_day(text: str, day: date | None) -> None:
    assert WORDS.day_named(text, OFFERED_DAYS, MONDAY) == day


OFFERED_TIMES = [("a", time(9)), ("b", time(10, 30)), ("c", time(14)), ("d", time(14, 45))]


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("10:30", "b"),
        ("10.30", "b"),
        ("klo 10", "b"),
        ("at 10", "b"),
        ("١٠:٣٠", "b"),
        ("١٠٫٣٠", "b"),
        ("۱۰:۳۰", "b"),
        ("10", "b"),
        ("klo 9.00", "a"),
        ("в 9", "a"),
        ("14:45", "d"),
        ("2.45 pm", "d"),
        # not one offered time
        ("14", None),
        ("at 2", None),
        ("12:00", None),
        ("10 or 14", None),
        ("1.12.", None),
        ("no", None),
    ],
)
def test_a_typed_time(text: str, choice: str | None) -> None:
    assert time_named(text, OFFERED_TIMES) == choice


def test_phone_or_video_and_languages_are_recognised() -> None:
    assert all(WORDS.remote_named(text) for text in ("by phone", "puhelimitse", "بالهاتف", "по телефону", "simu"))
    assert not WORDS.remote_named("Kemi")
    assert [languages_named(text) for text in ("arabic", "عربي", "af soomaali", "in Arabic please")] == [
        {"ar"},
        {"ar"},
        {"so"},
        {"ar"},
    ]
    assert languages_named("Finnish and Arabic") == {"fi", "ar"}, "two: the handler takes neither"


def test_typed_words_have_no_clashes() -> None:
    assert WORDS.problems == ()


def test_what_counts_as_an_answer() -> None:
    def said(intent: str, confidence: float) -> FixedUnderstanding:
        return FixedUnderstanding("", "en", 0.9, intent, confidence, False, ())

    assert answer_allowed(None, "Kemi")
    assert answer_allowed(said("topic_family", 1.0), "14:00"), "the model is not trusted on a bare answer"
    assert not answer_allowed(said("cancel_booking", 0.95), "cancel Tuesday")
    assert not answer_allowed(said("topic_health", 0.9), "I need a doctor in Kemi on Tuesday")
    assert answer_allowed(said("book_guidance", 0.9), "I would like to meet in Kemi")
    assert not answer_allowed(None, "word " * 9)


# ---------------------------------------------------------------------- a day, time or place not on offer: stay
def day_labels(client: BotClient) -> list[str]:
    return [plain(b.label) for b in client.buttons if plain(b.label).startswith("📅")]


def test_a_weekday_offered_in_several_weeks_asks_which_one_and_keeps_the_booking(world: World) -> None:
    made = slots(world)
    add_slot(world, add_counsellor(world, COUNSELLOR_TELEGRAM_ID + 1), timedelta(days=8, hours=2))  # a 2nd Tuesday
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    offered = day_labels(client)
    client.send("tuesday")  # the intent model reads it as a wish to change the language
    assert t("en", "booking.typed_days_several") in client.text
    assert asks(client, "en", "booking.choose_day") and day_labels(client) == offered, "the same day buttons again"
    client.send("friday")  # not on offer
    assert t("en", "booking.typed_day_not_free") in client.text and day_labels(client) == offered
    client.send("3.3.")  # a right answer after two misses: understood, no "talk to a person?"
    assert asks(client, "en", "booking.choose_time"), client.text
    client.send("10:00")
    client.click(t("en", "booking.topic.family"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    assert [b.slot_id for b in active_bookings(world)] == [made["tue 10"]]


@pytest.mark.parametrize(
    ("language", "several", "unoffered"),
    [
        ("fi", "tiistaina", "maanantaina"),
        ("ar", "الثلاثاء", "الاثنين"),
        ("ru", "во вторник", "в понедельник"),
        ("so", "Talaado", "Isniin"),
        ("sw", "Jumanne", "Jumatatu"),
    ],
)
def test_an_unclear_day_keeps_the_step_in_every_language(
    world: World, language: str, several: str, unoffered: str
) -> None:
    slots(world)
    add_slot(world, add_counsellor(world, COUNSELLOR_TELEGRAM_ID + 1), timedelta(days=8, hours=2))  # a 2nd Tuesday
    client = at_the_place_step(world, language)
    client.send("Kemi")
    client.send(several)
    assert t(language, "booking.typed_days_several") in client.text, client.text
    assert asks(client, language, "booking.choose_day")
    client.send(unoffered)
    assert t(language, "booking.typed_day_not_free") in client.text, client.text
    assert asks(client, language, "booking.choose_day")


def test_a_time_not_on_offer_or_in_an_hour_with_two_times_keeps_the_step(world: World) -> None:
    made = slots(world)
    add_slot(world, add_counsellor(world, COUNSELLOR_TELEGRAM_ID + 1), timedelta(days=2, hours=3, minutes=45))
    client = at_the_place_step(world, "fi")
    client.send("Kemissä")
    client.send("ke 4.3.")
    assert asks(client, "fi", "booking.choose_time")
    times = [plain(b.label) for b in client.buttons]
    client.send("9:15")
    assert t("fi", "booking.typed_time_not_free") in client.text
    assert asks(client, "fi", "booking.choose_time") and [plain(b.label) for b in client.buttons] == times
    client.send("klo 11")  # 11:00 and 11:45 are free
    assert t("fi", "booking.typed_times_several") in client.text
    client.send("klo 14")  # the only time at two: understood after two misses
    assert asks(client, "fi", "booking.choose_topic"), client.text
    client.click(t("fi", "booking.topic.money"))
    client.click(t("fi", "booking.confirm"))
    assert [b.slot_id for b in active_bookings(world)] == [made["wed 14"]]


def test_a_town_or_phone_without_free_times_keeps_the_place_step(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=2))  # Kemi only: nothing in Tervola, nothing by phone
    client = at_the_place_step(world, "ru")
    client.send("в Терволе")
    assert t("ru", "booking.typed_place_not_free", town="Тервола") in client.text, client.text
    assert asks(client, "ru", "booking.where")
    client.send("по телефону")
    assert t("ru", "booking.typed_remote_not_free") in client.text
    english = at_the_place_step(world, "en", user="f2")
    english.send("in Tervola")
    assert t("en", "booking.typed_place_not_free", town="Tervola") in english.text
    english.send("Kemi")
    assert asks(english, "en", "booking.choose_day")


def test_a_question_or_a_wish_to_leave_still_goes_to_the_intent_model(world: World) -> None:
    slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("please cancel my meeting on Friday")  # a confident cancel_booking wins over the day
    assert t("en", "booking.mine_none") in client.text
    assert t("en", "booking.typed_day_not_free") not in client.text


# ---------------------------------------------------------------------- interpreter and topic
@pytest.mark.parametrize(
    ("language", "typed", "code"),
    [("en", "Arabic", "ar"), ("ar", "عربي", "ar"), ("en", "yes, Arabic please", "ar"), ("ru", "сомалийский", "so")],
)
def test_a_language_named_at_the_interpreter_question_is_the_interpreters(
    world: World, language: str, typed: str, code: str
) -> None:
    slots(world)
    client = at_the_place_step(world, language)
    client.send("Kemi")
    client.click_nth(0)
    client.click_nth(0)
    client.click(t(language, "booking.topic.school"))
    assert t(language, "booking.interpreter_yes") in [plain(b.label) for b in client.buttons]
    client.send(typed)
    assert t(language, "booking.confirm") in [plain(b.label) for b in client.buttons], client.text
    assert t(language, f"language_names.{code}") in client.text, "named in the family's language"
    client.click(t(language, "booking.confirm"))
    assert [b.interpreter for b in active_bookings(world)] == [code]


@pytest.mark.parametrize(
    ("language", "typed", "topic"),
    [
        ("ru", "здоровье", "health"),
        ("en", "money problems", "money"),
        ("ar", "الصحة", "health"),
        ("sw", "Pesa", "money"),
    ],
)
def test_a_typed_topic_is_matched_to_the_buttons_labels_first(
    world: World, language: str, typed: str, topic: str
) -> None:
    slots(world)
    client = at_the_place_step(world, language)
    client.send("Kemi")
    client.click_nth(0)
    client.click_nth(0)
    client.send(typed)
    assert t(language, "booking.interpreter_yes") in [plain(b.label) for b in client.buttons], client.text
    client.click(t(language, "booking.interpreter_no"))
    client.click(t(language, "booking.confirm"))
    assert [b.topic for b in active_bookings(world)] == [topic]


def test_topic_labels_are_read_without_emoji_case_or_diacritics() -> None:
    assert [WORDS.topic_named(text) for text in ("здоровье", "ЗДОРОВЬЕ", "🏥 Health", "Työ ja opiskelu")] == [
        "health",
        "health",
        "health",
        "work",
    ]
    assert WORDS.topic_named("money problems") == "money", "a label's words inside a short answer"
    assert WORDS.topic_named("family health") is None, "two topics: the intent model decides"
    assert WORDS.topic_named("проблемы с деньгами") is None, "an inflected word is the intent model's job"


def test_the_interpreters_language_is_named_in_the_readers_language() -> None:
    assert [interpreter_text(TEXTS, lang, "ar") for lang in ("en", "ru", "fi", "ar")] == [
        "Arabic",
        "арабский",
        "arabia",
        "العربية",
    ]
    assert interpreter_text(TEXTS, "so", "so") == "Af-Soomaaliga"


def test_readings_say_whether_a_day_or_time_was_named() -> None:
    several = WORDS.read_day("tuesday", OFFERED_DAYS, MONDAY)
    assert several.named and several.matches == (TUESDAY, NEXT_TUESDAY) and several.choice is None
    unoffered = WORDS.read_day("friday", OFFERED_DAYS, MONDAY)
    assert unoffered.named and unoffered.matches == ()
    assert not WORDS.read_day("I want to cancel", OFFERED_DAYS, MONDAY).named
    assert read_time("9:15", OFFERED_TIMES).named and read_time("9:15", OFFERED_TIMES).matches == ()
    assert read_time("14", OFFERED_TIMES).matches == ("c", "d")
    assert not read_time("talk to a person", OFFERED_TIMES).named


@pytest.mark.parametrize(
    ("language", "typed", "wanted"),
    [
        ("fi", "keskiviikkona klo 14", "wed 14"),  # a day and its time at once
        ("fi", "klo 14", "wed 14"),  # a time before any day: the one day it is free
        ("ar", "الساعة ١٤", "wed 14"),
        ("en", "10am", "tue 10"),
    ],
)
def test_a_time_typed_at_the_day_question_chooses_its_day_too(
    world: World, language: str, typed: str, wanted: str
) -> None:
    made = slots(world)
    client = at_the_place_step(world, language)
    client.send("Kemi")
    client.send(typed)
    assert asks(client, language, "booking.choose_topic"), client.text
    client.click(t(language, "booking.topic.school"))
    if language != "fi":
        client.click(t(language, "booking.interpreter_no"))
    client.click(t(language, "booking.confirm"))
    assert [booking.slot_id for booking in active_bookings(world)] == [made[wanted]]


def test_a_time_free_on_several_days_or_on_none_keeps_the_day_question(world: World) -> None:
    counsellor = add_counsellor(world)
    add_slot(world, counsellor, timedelta(days=1, hours=2))  # Tuesday 10:00
    add_slot(world, counsellor, timedelta(days=2, hours=2))  # Wednesday 10:00
    client = at_the_place_step(world, "fi")
    client.send("Kemi")
    client.send("klo 10")
    assert asks(client, "fi", "booking.typed_time_which_day") and asks(client, "fi", "booking.choose_day")
    client.send("klo 13")
    assert asks(client, "fi", "booking.typed_time_not_free") and asks(client, "fi", "booking.choose_day")
    assert active_bookings(world) == []


@pytest.mark.parametrize("typed", ["peru", "lopeta"])
def test_a_typed_stop_at_the_summary_stops_the_booking(world: World, typed: str) -> None:
    slots(world)
    client = at_the_place_step(world, "fi")
    client.send("Kemi")
    client.send("tiistaina klo 10")
    client.click(t("fi", "booking.topic.school"))
    assert t("fi", "booking.confirm") in [button.label for button in client.buttons]
    client.send(typed)
    assert asks(client, "fi", "booking.abandoned") and active_bookings(world) == []


def test_a_language_off_the_list_at_the_interpreter_question_is_another_language(world: World) -> None:
    slots(world)
    client = at_the_place_step(world, "sw")
    client.send("Kemi")
    client.send("Jumanne saa 10")
    client.click(t("sw", "booking.topic.school"))
    client.click(t("sw", "booking.interpreter_other"))
    client.send("Kinyarwanda")
    assert t("sw", "booking.confirm") in [button.label for button in client.buttons], client.text
    client.click(t("sw", "booking.confirm"))
    assert [booking.interpreter for booking in active_bookings(world)] == ["other"]
