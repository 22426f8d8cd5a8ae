"""An old button pressed while choosing from a list keeps the family's place instead of starting over."""

from __future__ import annotations

from datetime import timedelta

from tests.test_booking_conversations import (  # noqa: F401  (world is a fixture)
    add_counsellor,
    add_slot,
    family,
    t,
    world,
)


def test_an_old_day_button_at_the_topic_step_shows_the_topics_again(world) -> None:  # noqa: F811
    add_slot(world, add_counsellor(world), timedelta(days=2))
    client = family(world, "stale-day", "en")
    client.send("/menu")
    client.click(t("en", "menu.book"))
    client.click_nth(0)  # the place
    old_day = client.buttons[0].payload
    client.click_nth(0)  # the day
    client.click_nth(0)  # the time: now at "What would you like to talk about?"
    client.press(old_day)
    assert t("en", "errors.stale_button") in client.text
    assert t("en", "booking.topic.health") in [button.label for button in client.buttons]
    client.click(t("en", "booking.topic.health"))  # the booking goes on where it was
    assert t("en", "booking.interpreter_no") in [button.label for button in client.buttons]
