"""An old button pressed while choosing from a list keeps the family's place instead of starting over; an old list
of the same unfinished booking changes that choice."""

from __future__ import annotations

from datetime import timedelta

from tests.test_booking_conversations import (  # noqa: F401  (world is a fixture)
    add_counsellor,
    add_slot,
    family,
    t,
    world,
)


def test_an_old_day_button_at_the_topic_step_changes_the_day(world) -> None:  # noqa: F811
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "stale-day", "en")
    client.send("/menu")
    client.click(t("en", "menu.book"))
    client.click_nth(0)  # the place
    old_day = client.buttons[0].payload
    client.click_nth(0)  # the day
    client.click_nth(0)  # the time: now at "What would you like to talk about?"
    client.press(old_day)  # a list further up the unfinished booking: that choice again
    assert t("en", "errors.stale_button") not in client.text
    assert t("en", "booking.choose_time") in client.text


def test_an_old_button_of_another_step_at_the_topic_step_shows_the_topics_again(world) -> None:  # noqa: F811
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "stale-other", "en")
    client.send("/menu")
    client.click(t("en", "menu.book"))
    client.click_nth(0)  # the place
    client.click_nth(0)  # the day
    client.click_nth(0)  # the time: now at "What would you like to talk about?"
    client.press("main.clarify:topic_money")  # under an old "did you mean…?" message
    assert t("en", "errors.stale_button") in client.text
    assert t("en", "booking.topic.health") in [button.label for button in client.buttons]
    client.click(t("en", "booking.topic.health"))  # the booking goes on where it was
    assert t("en", "booking.interpreter_no") in [button.label for button in client.buttons]


def test_an_old_menu_or_my_bookings_button_works_from_anywhere(world) -> None:  # noqa: F811
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "old-ways-in", "en")
    client.send("/menu")
    client.click(t("en", "menu.book"))
    for _ in range(3):
        client.click_nth(0)  # place, day, time
    client.click(t("en", "booking.topic.health"))
    client.click(t("en", "booking.interpreter_no"))
    client.click(t("en", "booking.confirm"))
    old_menu = client.button(t("en", "common.menu")).payload
    old_mine = client.button(t("en", "booking.my_bookings")).payload
    client.click(t("en", "booking.my_bookings"))
    client.click_nth(0)  # the booking: move or cancel?
    client.press(old_menu)  # under the confirmation, two messages up
    assert t("en", "errors.stale_button") not in client.text
    assert t("en", "menu.title") in client.text
    client.press(old_mine)
    assert t("en", "errors.stale_button") not in client.text
    assert t("en", "booking.book_new") in [button.label for button in client.buttons]
    client.press("booking.confirm:book")  # a button that acts stays tied to its message
    assert t("en", "errors.stale_button") in client.text
