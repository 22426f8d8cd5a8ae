"""A family that goes elsewhere half way through a booking, presses old buttons or types what a step did not
ask for: found by a QA pass over the way back to a booking, typed answers and phone meetings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import MessageLog
from tests.client import plain
from tests.fakes import FixedUnderstanding
from tests.test_booking_conversations import family, t
from tests.test_booking_service import World, active_bookings, add_counsellor, add_slot
from tests.test_booking_typed import asks, at_the_place_step, slots, world  # noqa: F401 (fixture)


def labels(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [plain(button.label) for button in client.buttons]


def test_another_counsellors_time_asks_the_interpreter_question_again(world: World) -> None:  # noqa: F811
    speaks_arabic = add_counsellor(world, languages="fi,en,ar")
    other = add_counsellor(world, 7777, languages="fi,ru")
    add_slot(world, speaks_arabic, timedelta(days=1, hours=2))
    wanted = add_slot(world, other, timedelta(days=2, hours=2))
    client = family(world, "f1", "ar")
    client.click(t("ar", "menu.book"))
    client.click_nth(0)  # Kemi
    client.click_nth(0)  # the first day: the counsellor speaks Arabic
    client.click_nth(0)
    client.click(t("ar", "booking.topic.health"))
    assert t("ar", "booking.confirm") in labels(client), "no question: the counsellor speaks Arabic"
    client.click(t("ar", "booking.other_time"))
    client.click_nth(1)  # the other day: a counsellor without Arabic
    client.click_nth(0)
    assert t("ar", "booking.interpreter_yes") in labels(client), "asked again for this counsellor"
    client.click(t("ar", "booking.interpreter_yes"))
    client.click(t("ar", "booking.confirm"))
    assert [(b.slot_id, b.interpreter) for b in active_bookings(world)] == [(wanted, "ar")]


def test_a_time_with_a_dot_at_the_day_question_is_a_time(world: World) -> None:  # noqa: F811
    made = slots(world)
    client = at_the_place_step(world, "fi")
    client.send("Kemi")
    client.send("keskiviikkona kello 14.00")  # not the 14th of a month 0
    assert asks(client, "fi", "booking.choose_topic"), client.text
    client.click(t("fi", "booking.topic.school"))
    client.click(t("fi", "booking.confirm"))
    assert [b.slot_id for b in active_bookings(world)] == [made["wed 14"]]


def phone_step(world: World, language: str = "en"):  # type: ignore[no-untyped-def]  # noqa: F811
    slots(world)
    client = at_the_place_step(world, language)
    client.send("Kemi")
    client.click(t(language, "common.back"))  # from the days back to the places
    client.click(t(language, "booking.remote"))
    client.click_nth(0)
    client.click_nth(0)
    client.click(t(language, "booking.topic.school"))
    if language != "fi":
        client.click(t(language, "booking.interpreter_no"))
    assert asks(client, language, "booking.phone_question.phone")
    return client


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("08.12.2026 sopisi paremmin", "booking.phone_invalid"),  # a date, not a number
        ("040 123 4567 or 050 765 4321", "booking.phone_several"),
    ],
)
def test_what_is_no_phone_number_keeps_the_question(world: World, typed: str, key: str) -> None:  # noqa: F811
    client = phone_step(world)
    client.send(typed)
    assert asks(client, "en", key) and asks(client, "en", "booking.phone_question.phone")
    assert active_bookings(world) == []


def test_a_question_or_a_no_at_the_phone_question_is_not_taken_for_a_bad_number(world: World) -> None:  # noqa: F811
    client = phone_step(world)
    client.send("thanks")  # no digits: not a try at a number
    assert not asks(client, "en", "booking.phone_invalid")
    assert t("en", "booking.continue") in labels(client)
    client.click(t("en", "booking.continue"))
    assert asks(client, "en", "booking.phone_question.phone")
    client.send("no")  # no number: why one is asked, and the places to meet in person
    assert asks(client, "en", "booking.in_person_note")
    assert t("en", "booking.where").split("\n")[0] in client.text


def test_the_number_typed_is_not_kept_in_the_message_log(world: World) -> None:  # noqa: F811
    client = phone_step(world)
    client.send("040 123 4567")
    client.click(t("en", "booking.confirm"))
    with world.session() as session:
        kept = [str(text) for text in session.scalars(select(MessageLog.text))]
    assert kept == ["Kemi"], "what the family typed elsewhere is kept (they agreed), the number is not"


def test_an_older_summary_cannot_book_the_time_chosen_since(world: World) -> None:  # noqa: F811
    made = slots(world)
    client = at_the_place_step(world, "fi")
    client.send("Kemi")
    client.send("tiistaina klo 10")
    client.click(t("fi", "booking.topic.school"))
    old_book = client.button(t("fi", "booking.confirm")).payload
    client.click(t("fi", "booking.other_time"))
    client.send("keskiviikkona klo 11")
    client.press(old_book)  # under the Tuesday summary
    assert t("fi", "errors.stale_button") in client.text
    assert t("fi", "booking.confirm") in labels(client), "the current summary again"
    assert active_bookings(world) == []
    client.click(t("fi", "booking.confirm"))
    assert [b.slot_id for b in active_bookings(world)] == [made["wed 11"]]


def test_a_lapsed_way_back_leaves_the_family_where_they_are(world: World) -> None:  # noqa: F811
    slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("thanks")  # a detour: the way back is offered
    back = client.button(t("en", "booking.continue")).payload
    client.press(back)
    assert asks(client, "en", "booking.choose_day")
    client.click_nth(0)  # now at the times
    client.press(back)  # pressed again: an old button, and the family stays at the times
    assert t("en", "errors.stale_button") in client.text and asks(client, "en", "booking.choose_time")


def test_no_way_back_above_a_safety_question(world: World) -> None:  # noqa: F811
    slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("I cannot go on like this")  # close to a crisis
    assert t("en", "crisis.check") in client.text
    assert t("en", "booking.unfinished") not in client.text


@pytest.mark.parametrize("typed", ["what is Kela?", "thanks"])
def test_a_question_at_the_topic_or_language_question_is_no_answer(world: World, typed: str) -> None:  # noqa: F811
    slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("tuesday at 10")
    client.send(typed)  # at "What would you like to talk about?"
    assert t("en", "booking.confirm") not in labels(client)
    assert t("en", "booking.continue") in labels(client)
    client.click(t("en", "booking.continue"))
    client.click(t("en", "booking.topic.school"))
    client.click(t("en", "booking.interpreter_other"))
    client.send(typed)  # at "Which language?": not "another language"
    assert t("en", "booking.confirm") not in labels(client)


class SwitchingNLU:
    """Everything in Arabic, "نعم" a yes."""

    def understand(self, text: str, **_: object) -> FixedUnderstanding:
        intent = "affirm" if text == "نعم" else "greet"
        return FixedUnderstanding(text, "ar", 0.97, intent, 0.95, False, ((intent, 0.95),))


def test_a_typed_yes_answers_the_language_switch_offer(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(nlu=SwitchingNLU())
    client.send("/start")
    client.click("English")
    client.click("✅")
    client.send("مرحبا")
    assert t("ar", "language.switch_offer_to") in client.text
    client.send("نعم")  # typed, not pressed
    assert t("ar", "onboarding.language_set") in client.text
    assert t("ar", "language.switch_offer_to") not in client.text


@pytest.mark.parametrize("typed", ["lopeta", "peru"])
@pytest.mark.parametrize("steps", [0, 1, 2, 3])  # at the place, the day, the time, the topic
def test_a_typed_stop_anywhere_in_the_booking_leaves_it_and_touches_no_reminder(
    world: World,  # noqa: F811
    typed: str,
    steps: int,
) -> None:
    slots(world)
    client = at_the_place_step(world, "fi")
    for _ in range(steps):
        client.click_nth(0)
    client.send(typed)  # the model reads "lopeta" as reminders_off and "peru" as cancel_booking
    assert t("fi", "menu.title") in client.text
    assert t("fi", "booking.unfinished") not in client.text
    assert active_bookings(world) == []


def test_a_number_typed_outside_the_phone_question_is_not_kept_either(world: World) -> None:  # noqa: F811
    client = phone_step(world)
    client.send("040 123 4567")
    client.send("call my husband ٠٥٠١٢٣٤٥٦٧ instead")  # at the summary: no phone question there
    with world.session() as session:
        kept = [str(text) for text in session.scalars(select(MessageLog.text))]
    assert kept == ["Kemi", "call my husband 📞… instead"]


def test_language_changed_half_way_offers_the_way_back_in_the_new_language(world: World) -> None:  # noqa: F811
    slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("/language")
    assert t("en", "booking.unfinished") not in client.text, "not in the language being left"
    client.click("العربية")
    assert t("ar", "booking.continue") in labels(client)
    client.click(t("ar", "booking.continue"))
    assert asks(client, "ar", "booking.choose_day")


def test_menu_half_way_offers_the_way_back(world: World) -> None:  # noqa: F811
    slots(world)
    client = at_the_place_step(world, "en")
    client.send("Kemi")
    client.send("/menu")
    assert t("en", "menu.title") in client.text and t("en", "booking.continue") in labels(client)


def test_a_new_number_typed_under_the_summary_replaces_the_one_shown(world: World) -> None:  # noqa: F811
    client = phone_step(world)
    client.send("040 123 4567")
    client.send("050 765 4321")  # under the summary, without pressing "Change the number"
    assert "050 765 4321" in client.text and t("en", "booking.confirm") in labels(client)
    client.click(t("en", "booking.confirm"))
    assert [b.phone for b in active_bookings(world)] == ["050 765 4321"]
