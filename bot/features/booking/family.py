"""The family's side: book (place → day → time → topic → interpreter → confirm), "My bookings", move, cancel.

Flow variables (persisted with the conversation state, small, no texts):
  bk_place  a municipality or "remote"      bk_day   YYYY-MM-DD (local)    bk_slot  the chosen slot id
  bk_topic  a TOPICS id                     bk_interp a language code, "other" or "" (none)
  bk_move   the booking being moved         bk_pick  the booking opened in "My bookings"
  bk_done   the booking just confirmed
Every id read back from them (or from a button) is checked again against the database.

An answer typed instead of pressed (a town, a day, a time, a topic, an interpreter's language) is matched to the
options on offer (`typed.py`, `places.py`) and does what pressing that option does, read from the flow. A town, day
or time that is recognised but not on offer, or on offer several times (two Tuesdays), keeps the family at the step:
a short line says so and the step's buttons come again. Only text that is no such answer goes to the intent model.

Moving a booking has its own heading and confirm button (steps `move_where`, `confirm_move`): `where` and
`confirm` send a family that is moving there, so every way back into them (a "Back" button, a lost race) fits.
"""

from __future__ import annotations

import html
from datetime import date, time
from typing import TYPE_CHECKING

from bot.core.context import Context, Option
from bot.core.engine import INTENT_THRESHOLD
from bot.core.flows import FlowError
from bot.core.messages import Attachment
from bot.core.phones import phones_in
from bot.core.registry import Registry
from bot.core.texts import LANGUAGE_NAMES
from bot.features.booking import notify, present
from bot.features.booking.ics import booking_ics, cancelled_ics
from bot.features.booking.models import Booking, Slot
from bot.features.booking.service import (
    TOPICS,
    Outcome,
    book,
    cancel_booking,
    free_slots,
    future_bookings,
    lock_family,
    move_history,
    own_future_booking,
    places_with_free_slots,
)
from bot.features.booking.slots import MUNICIPALITIES, REMOTE
from bot.features.booking.typed import answer_allowed, asks, languages_named, read_time
from bot.settings import SERVED_LANGUAGES

if TYPE_CHECKING:
    from bot.features.booking.feature import BookingFeature

FLOW = "booking"
FLOW_VARS = (
    "bk_place",
    "bk_day",
    "bk_slot",
    "bk_topic",
    "bk_interp",
    "bk_interp_auto",
    "bk_phone",
    "bk_move",
    "bk_pick",
    "bk_done",
)
MAX_DAYS = 10
NEXT_FREE = 6
NO_INTERPRETER = ""
OTHER_LANGUAGE = "other"  # an interpreter in a language the bot does not serve: the counsellor asks which
FINNISH = "fi"


# The guide's topic intents and the booking topics they name.
TOPIC_OF_INTENT = {
    "topic_family": "family",
    "topic_school": "school",
    "topic_health": "health",
    "topic_mental_health": "wellbeing",
    "topic_money": "money",
    "topic_housing": "housing",
    "topic_work_study": "work",
}


def register_family(registry: Registry, feature: BookingFeature) -> None:
    texts, tz, config, towns, typed = feature.texts, feature.tz, feature.config, feature.places, feature.typed

    def reset(ctx: Context) -> None:
        ctx.state.vars = {k: v for k, v in ctx.vars.items() if k not in FLOW_VARS}

    def place(ctx: Context) -> str | None:
        chosen = ctx.vars.get("bk_place")
        return chosen if chosen in (*MUNICIPALITIES, REMOTE) else None

    def chosen_day(ctx: Context) -> date | None:
        try:
            return date.fromisoformat(str(ctx.vars.get("bk_day")))
        except ValueError:
            return None

    def moving(ctx: Context) -> Booking | None:
        move = ctx.vars.get("bk_move")
        return own_future_booking(ctx.session, ctx.user.id, move, ctx.now) if move else None

    def chosen_slot(ctx: Context) -> Slot | None:
        slot_id = ctx.vars.get("bk_slot")
        return ctx.session.get(Slot, int(slot_id)) if isinstance(slot_id, int) else None

    def can_book_more(ctx: Context) -> bool:
        return ctx.user.has_consent and len(future_bookings(ctx.session, ctx.user.id, ctx.now)) < config.max_future

    def press(ctx: Context, step_id: str, choice: str) -> str:
        """What pressing the option `choice` at `step_id` does, read from the flow (its action, then its next
        step): a typed answer and the button it stands for cannot drift apart."""
        step = ctx.services.flows.step(f"{FLOW}.{step_id}")
        on = step.on_option
        if on is None:
            raise FlowError(f"{step.ref}: a typed answer needs the step's on_option")
        redirect = registry.actions[on.action](ctx, choice, **on.args) if on.action else None
        return redirect or on.next or ""

    def again(ctx: Context, step_id: str, key: str, **values: object) -> str:
        """Stay at `step_id` after a typed answer that names something not on offer, or several things: a short
        line (`key`) and the step's question and buttons again. Understood, so no "talk to a person?" follows."""
        ctx.say(ctx.t(f"booking.{key}", **values))
        return f"{FLOW}.{step_id}"

    # ------------------------------------------------------------------ starting
    @registry.action("booking_start")
    def booking_start(ctx: Context) -> str | None:
        reset(ctx)
        if not ctx.user.has_consent:
            return "booking.needs_consent"
        if not can_book_more(ctx):
            return "booking.limit"
        if not places_with_free_slots(ctx.session, ctx.now, config):
            return "booking.none_free"
        return None

    @registry.action("booking_limit_values")
    def booking_limit_values(ctx: Context) -> None:
        ctx.values["max"] = config.max_future

    @registry.action("booking_ask_consent")
    def booking_ask_consent(ctx: Context) -> str:
        # After "I agree", onboarding opens this deep link: the family lands back in booking.
        ctx.set_var("after_onboarding", "book")
        return "onboarding.consent"

    @registry.condition("booking_has_bookings")
    def booking_has_bookings(ctx: Context) -> bool:
        return bool(future_bookings(ctx.session, ctx.user.id, ctx.now))

    registry.guesses["cancel_booking"] = booking_has_bookings

    @registry.condition("booking_can_book_more")
    def booking_can_book_more(ctx: Context) -> bool:
        return can_book_more(ctx)

    # ------------------------------------------------------------------ place, day, time
    @registry.action("booking_check_places")
    def booking_check_places(ctx: Context, move: bool = False) -> str | None:
        if not places_with_free_slots(ctx.session, ctx.now, config):
            return "booking.none_free"
        if move != (moving(ctx) is not None):
            return "booking.move_where" if not move else "booking.where"
        return None

    @registry.provider("booking_places")
    def booking_places(ctx: Context) -> list[Option]:
        return [
            Option(name, ctx.t("booking.remote") if name == REMOTE else f"📍 {towns.name(name, ctx.language)}")
            for name in places_with_free_slots(ctx.session, ctx.now, config)
        ]

    @registry.action("booking_choose_place")
    def booking_choose_place(ctx: Context, choice: str) -> None:
        ctx.set_var("bk_place", choice)
        ctx.pop_var("bk_day")

    @registry.input("booking_place_typed")
    def booking_place_typed(ctx: Context, text: str) -> str | None:
        """A place typed instead of pressed: "Kemi", "Kemissä", "في كيمي", "by phone"."""
        if not answer_allowed(ctx.understanding, text):
            return None
        offered = places_with_free_slots(ctx.session, ctx.now, config)
        named = towns.towns.named(text)
        if typed.remote_named(text):
            if named:
                return None  # "Kemi or by phone?" is a question, not an answer
            return press(ctx, "where", REMOTE) if REMOTE in offered else again(ctx, "where", "typed_remote_not_free")
        town = towns.named(text, [name for name in offered if name != REMOTE])
        if town is not None:
            return press(ctx, "where", town)
        if len(named) == 1:  # one town, with no free times: "in Tervola", "Simo"
            return again(ctx, "where", "typed_place_not_free", town=towns.name(named.pop(), ctx.language))
        return None

    def days(ctx: Context) -> list[date]:
        found: list[date] = []
        for slot in free_slots(ctx.session, ctx.now, config, place=place(ctx)):
            day = slot.starts_at.astimezone(tz).date()
            if day not in found:
                found.append(day)
            if len(found) >= MAX_DAYS:
                break
        return found

    @registry.action("booking_check_days")
    def booking_check_days(ctx: Context) -> str | None:
        if place(ctx) is None:
            return "booking.where"
        if not days(ctx):
            ctx.say(ctx.t("booking.place_full"))
            return "booking.where"
        return None

    @registry.provider("booking_days")
    def booking_days(ctx: Context) -> list[Option]:
        from bot.timefmt import format_day

        return [Option(day.isoformat(), f"📅 {format_day(ctx.language, day)}") for day in days(ctx)]

    @registry.action("booking_choose_day")
    def booking_choose_day(ctx: Context, choice: str) -> str | None:
        ctx.set_var("bk_day", choice)
        # An old day button pressed before a place was chosen: the place first (its times are the place's).
        return "booking.where" if place(ctx) is None else None

    @registry.input("booking_day_typed")
    def booking_day_typed(ctx: Context, text: str) -> str | None:
        """A day typed instead of pressed: "tiistaina", "1.12.", "tomorrow", "الثلاثاء"; one of the days on offer."""
        if not answer_allowed(ctx.understanding, text):
            return None
        reading = typed.read_day(text, days(ctx), ctx.now.astimezone(tz).date())
        if reading.choice is not None:
            step = press(ctx, "day", reading.choice.isoformat())
            # "tiistaina klo 13": the time too, when it is one of that day's.
            timed = read_time(text, offered_times(ctx))
            return press(ctx, "time", timed.choice) if timed.choice is not None else step
        if reading.named:
            return again(ctx, "day", "typed_days_several" if reading.matches else "typed_day_not_free")
        # "klo 13" before a day: the day of the one free time at that hour.
        slots = free_slots(ctx.session, ctx.now, config, place=place(ctx))
        offered_days = set(days(ctx))
        timed = read_time(
            text, [(str(s.id), s.starts_at.astimezone(tz).time()) for s in slots if local_day(s) in offered_days]
        )
        if not timed.named:
            return None
        if timed.choice is None:
            return again(ctx, "day", "typed_time_which_day" if timed.matches else "typed_time_not_free")
        chosen = next(slot for slot in slots if str(slot.id) == timed.choice)
        press(ctx, "day", local_day(chosen).isoformat())
        return press(ctx, "time", timed.choice)

    def local_day(slot: Slot) -> date:
        return slot.starts_at.astimezone(tz).date()

    def offered_times(ctx: Context) -> list[tuple[str, time]]:
        return [(str(slot.id), slot.starts_at.astimezone(tz).time()) for slot in times(ctx)]

    def times(ctx: Context) -> list[Slot]:
        day = chosen_day(ctx)
        if day is None:
            return []
        return free_slots(ctx.session, ctx.now, config, place=place(ctx), day=day, tz=tz)

    @registry.action("booking_check_times")
    def booking_check_times(ctx: Context) -> str | None:
        if chosen_day(ctx) is None:
            return "booking.day"
        if not times(ctx):
            ctx.say(ctx.t("booking.day_full"))
            return "booking.day"
        return None

    @registry.provider("booking_times")
    def booking_times(ctx: Context) -> list[Option]:
        remote = place(ctx) == REMOTE
        return [Option(str(s.id), present.time_label(ctx.language, s, tz, with_mode=remote)) for s in times(ctx)]

    @registry.action("booking_choose_time")
    def booking_choose_time(ctx: Context, choice: str) -> str:
        ctx.set_var("bk_slot", int(choice))  # the engine (or a typed answer) checked it is one of the offered ids
        if "bk_topic" in ctx.vars and "bk_interp" in ctx.vars:
            return "booking.confirm"  # moving, or a second try after a lost race: the rest is known
        return "booking.topic"

    @registry.input("booking_time_typed")
    def booking_time_typed(ctx: Context, text: str) -> str | None:
        """A time typed instead of pressed: "10:30", "10.30", "klo 10", "١٠:٣٠"; one of the free times on offer."""
        if not answer_allowed(ctx.understanding, text):
            return None
        reading = read_time(text, offered_times(ctx))
        if reading.choice is not None:
            return press(ctx, "time", reading.choice)
        if not reading.named:
            return None
        return again(ctx, "time", "typed_times_several" if reading.matches else "typed_time_not_free")

    # ------------------------------------------------------------------ topic and interpreter
    @registry.provider("booking_topics")
    def booking_topics(ctx: Context) -> list[Option]:
        return [Option(topic, present.topic_text(texts, ctx.language, topic)) for topic in TOPICS]

    @registry.action("booking_choose_topic")
    def booking_choose_topic(ctx: Context, choice: str) -> None:
        ctx.set_var("bk_topic", choice)

    @registry.input("booking_topic_typed")
    def booking_topic_typed(ctx: Context, text: str) -> str | None:
        """A topic typed at "What would you like to talk about?" ("money problems"): that topic, not the
        guide's page on it, which would leave the booking half-made. A button's own words ("здоровье" for
        "🏥 Здоровье") come first; the intent model misreads some of them."""
        u = ctx.understanding
        topic = typed.topic_named(text) if answer_allowed(u, text) else None
        if topic is None and u is not None and u.intent_confidence >= INTENT_THRESHOLD and not asks(text):
            topic = TOPIC_OF_INTENT.get(u.intent)
        if topic is None:
            return None
        booking_choose_topic(ctx, topic)
        return "booking.interpreter"

    @registry.action("booking_interpreter_question")
    def booking_interpreter_question(ctx: Context) -> str | None:
        if speaks_family_language(ctx, chosen_slot(ctx)):
            # The counsellors speak Finnish, and this one the family's language too: nothing to ask. Marked as
            # the bot's answer, not the family's: another counsellor's time asks again (booking_summary).
            ctx.set_var("bk_interp", NO_INTERPRETER)
            ctx.set_var("bk_interp_auto", True)
            return "booking.confirm"
        ctx.values["language"] = ctx.language_name(ctx.language)
        return None

    def speaks_family_language(ctx: Context, slot: Slot | None) -> bool:
        return ctx.language == FINNISH or (slot is not None and ctx.language in slot.language_list)

    def interpreter_settled(ctx: Context, slot: Slot) -> bool:
        """Whether the interpreter answer still fits `slot`: a time with another counsellor may change it."""
        if ctx.vars.get("bk_interp_auto") and not speaks_family_language(ctx, slot):
            ctx.pop_var("bk_interp")  # skipped for a counsellor who spoke their language: this one does not
            ctx.pop_var("bk_interp_auto")
            return False
        if ctx.vars.get("bk_interp") == ctx.language and speaks_family_language(ctx, slot):
            ctx.set_var("bk_interp", NO_INTERPRETER)  # asked for one in their own language: not needed now
            ctx.set_var("bk_interp_auto", True)
        return True

    @registry.action("booking_set_interpreter")
    def booking_set_interpreter(ctx: Context, need: bool) -> None:
        ctx.pop_var("bk_interp_auto")
        ctx.set_var("bk_interp", ctx.language if need else NO_INTERPRETER)
        text = ctx.incoming.text
        if need and ctx.incoming.payload is None and text and answer_allowed(ctx.understanding, text):
            # A typed yes that names the language ("yes, Arabic please"): an interpreter in that language.
            named = languages_named(text)
            if len(named) == 1 and named <= {option.id for option in booking_interpreter_languages(ctx)}:
                booking_choose_interpreter(ctx, named.pop())

    @registry.provider("booking_interpreter_languages")
    def booking_interpreter_languages(ctx: Context) -> list[Option]:
        options = [Option(code, LANGUAGE_NAMES[code]) for code in SERVED_LANGUAGES if code != "fi"]
        return [*options, Option(OTHER_LANGUAGE, ctx.t("booking.interpreter_other_language"))]

    @registry.action("booking_choose_interpreter")
    def booking_choose_interpreter(ctx: Context, choice: str) -> None:
        ctx.pop_var("bk_interp_auto")
        ctx.set_var("bk_interp", choice)

    @registry.input("booking_interpreter_typed")
    def booking_interpreter_typed(ctx: Context, text: str) -> str | None:
        """A language typed instead of pressed: "Arabic", "عربي", "af soomaali". The intent model reads a language's
        name as a wish to change the bot's language, which would leave the booking half-made."""
        if not answer_allowed(ctx.understanding, text):
            return None
        named = languages_named(text)
        offered = {option.id for option in booking_interpreter_languages(ctx)}
        if len(named) == 1 and named <= offered:
            return press(ctx, "interpreter_language", named.pop())
        u = ctx.understanding
        unknown = u is None or u.intent == "out_of_scope" or u.intent_confidence < INTENT_THRESHOLD
        if not named and unknown and ctx.state.step == "interpreter_language" and len(text.split()) <= 3:
            # A language not on the list ("Kinyarwanda", "tigrinja"): the list's last choice, "another
            # language", whose counsellor asks which.
            return press(ctx, "interpreter_language", OTHER_LANGUAGE)
        return None

    def interpreter(ctx: Context) -> str | None:
        return ctx.vars.get("bk_interp") or None

    # ------------------------------------------------------------------ a phone or video meeting: the number
    def phone(ctx: Context) -> str | None:
        return str(ctx.vars.get("bk_phone") or "") or None

    @registry.action("booking_phone_question")
    def booking_phone_question(ctx: Context) -> str | None:
        slot = chosen_slot(ctx)
        if slot is None or not slot.remote:
            return "booking.confirm"
        ctx.say(ctx.t(f"booking.phone_question.{slot.mode}"))
        return None

    @registry.input("booking_phone_typed")
    def booking_phone_typed(ctx: Context, text: str) -> str | None:
        """A number; several numbers or digits that are no number keep the question with a line; words
        without digits ("what is Kela") are a question, answered with the way back."""
        numbers = phones_in(text)
        if len(numbers) == 1:
            ctx.set_var("bk_phone", numbers[0])
            return "booking.confirm"  # or confirm_move: the summary knows
        if len(numbers) > 1:
            return again(ctx, "phone", "phone_several")
        if not any(ch.isdigit() for ch in text) or not answer_allowed(ctx.understanding, text):
            return None
        return again(ctx, "phone", "phone_invalid")

    @registry.input("booking_summary_typed")
    def booking_summary_typed(ctx: Context, text: str) -> str | None:
        """A new number typed under a phone or video meeting's summary: it replaces the one shown."""
        slot = chosen_slot(ctx)
        numbers = phones_in(text)
        if slot is None or not slot.remote or len(numbers) != 1:
            return None
        ctx.set_var("bk_phone", numbers[0])
        return "booking.confirm"

    @registry.action("booking_in_person")
    def booking_in_person(ctx: Context) -> str:
        """No number for a phone or video meeting: why one was asked, and the places to meet instead."""
        ctx.pop_var("bk_slot")
        ctx.say(ctx.t("booking.in_person_note"))
        return "booking.where"

    @registry.condition("booking_has_phone")
    def booking_has_phone(ctx: Context) -> bool:
        slot = chosen_slot(ctx)
        return slot is not None and slot.remote and phone(ctx) is not None

    @registry.action("booking_forget_phone")
    def booking_forget_phone(ctx: Context) -> None:
        ctx.pop_var("bk_phone")

    # ------------------------------------------------------------------ confirming
    @registry.action("booking_summary")
    def booking_summary(ctx: Context, move: bool = False) -> str | None:
        slot = chosen_slot(ctx)
        if slot is None or ctx.vars.get("bk_topic") not in TOPICS or "bk_interp" not in ctx.vars:
            return "booking.start"
        # Every way to the summary passes here (a new booking, a move, "another time", an earlier list): what
        # the chosen time needs is asked here.
        if not interpreter_settled(ctx, slot):
            return "booking.interpreter"
        if slot.remote and phone(ctx) is None:
            return "booking.phone"
        old = moving(ctx)
        if move != (old is not None):
            return "booking.confirm_move" if not move else "booking.confirm"
        values: dict[str, object] = {
            "when": present.when_text(ctx.language, slot, tz),
            "where": present.where_text(texts, ctx.language, slot, towns, phone=phone(ctx)),
            "icon": present.MODE_ICONS[slot.mode],
            "topic": present.topic_text(texts, ctx.language, ctx.vars["bk_topic"]),
            "interpreter": present.interpreter_text(texts, ctx.language, interpreter(ctx)),
        }
        if old is not None:
            values["old"] = present.when_text(ctx.language, old.slot, tz)
            ctx.say(ctx.t("booking.summary_move", **values))
        else:
            ctx.say(ctx.t("booking.summary", **values))
        return None

    @registry.action("booking_confirm")
    def booking_confirm(ctx: Context) -> str:
        slot_id = ctx.vars.get("bk_slot")
        topic = ctx.vars.get("bk_topic")
        if not isinstance(slot_id, int) or topic not in TOPICS:
            return "booking.start"
        old = moving(ctx)
        if ctx.vars.get("bk_move") and old is None:
            ctx.say(ctx.t("booking.gone"))
            return "booking.mine"
        if not ctx.user.has_consent:
            return "booking.needs_consent"
        result = book(
            ctx.session,
            user=ctx.user,
            slot_id=slot_id,
            topic=str(topic),
            interpreter=interpreter(ctx),
            language=ctx.language,
            now=ctx.now,
            config=config,
            move_from=old,
            phone=phone(ctx),
        )
        if result.outcome is Outcome.LIMIT:
            return "booking.limit"
        if result.outcome is not Outcome.BOOKED or result.booking is None:
            ctx.values["reason"] = result.outcome.value
            ctx.pop_var("bk_slot")
            return "booking.taken"
        booking = result.booking
        ctx.session.refresh(booking)  # loads the slot and counsellor for the messages below
        ctx.values["reminded"] = feature.reminders.plan(ctx.session, booking, ctx.now)
        if result.previous is not None:
            feature.reminders.cancel(ctx.session, result.previous)
            ctx.send(notify.to_counsellor(ctx.session, texts, tz, towns, booking, "moved", result.previous))
            if result.previous.slot.counsellor_id != booking.slot.counsellor_id:
                ctx.send(notify.to_counsellor(ctx.session, texts, tz, towns, result.previous, "cancelled"))
        else:
            ctx.send(notify.to_counsellor(ctx.session, texts, tz, towns, booking, "new"))
        reset(ctx)
        ctx.set_var("bk_done", booking.id)
        ctx.values["moved"] = result.previous is not None
        return "booking.done"

    @registry.action("booking_show_confirmation")
    def booking_show_confirmation(ctx: Context) -> str | None:
        booking = own_future_booking(ctx.session, ctx.user.id, ctx.vars.get("bk_done"), ctx.now)
        if booking is None:
            return "booking.mine"
        values = present.booking_values(texts, ctx.language, booking, tz, towns)
        key = "booking.moved" if ctx.values.get("moved") else "booking.booked"
        lines = [ctx.t(key, **values), ""]
        if ctx.values.get("reminded"):
            lines.append(ctx.t("booking.reminder_promise", hours=f"{config.reminder_hours:g}"))
        lines.append(ctx.t("booking.calendar_hint"))
        text = "\n".join(lines)
        first, moves = move_history(ctx.session, booking)
        attachment = booking_ics(
            booking,
            title=html.unescape(ctx.t("booking.ics_title")),
            location=calendar_location(ctx, booking),
            description=html.unescape(ctx.t("booking.ics_description", topic=values["topic"])),
            now=ctx.now,
            first_id=first.id,
            sequence=moves,
        )
        ctx.say(text, attachment=attachment)
        return None

    def calendar_location(ctx: Context, booking: Booking) -> str:
        """Strings are Telegram HTML; a calendar file wants plain text. An in-person meeting's location is the
        address as the map and the door write it (the Finnish town), so that the calendar app can find it."""
        where = present.where_plain(towns, FINNISH, booking.slot)
        return where or html.unescape(str(present.where_text(texts, ctx.language, booking.slot, towns)))

    @registry.action("booking_show_taken")
    def booking_show_taken(ctx: Context) -> None:
        reason = ctx.values.get("reason", Outcome.TAKEN.value)
        key = "booking.taken" if reason == Outcome.TAKEN.value else "booking.closed"
        ctx.say(ctx.t(key) + "\n" + ctx.t("booking.next_free" if next_free(ctx) else "booking.none_free"))

    def next_free(ctx: Context) -> list[Slot]:
        slots = free_slots(ctx.session, ctx.now, config, place=place(ctx), limit=NEXT_FREE)
        return slots or free_slots(ctx.session, ctx.now, config, limit=NEXT_FREE)

    @registry.provider("booking_next_free")
    def booking_next_free(ctx: Context) -> list[Option]:
        return [
            Option(
                str(s.id),
                f"{present.day_label(ctx.language, s, tz)} {present.time_label(ctx.language, s, tz)}"
                f" {present.MODE_ICONS[s.mode]}",
            )
            for s in next_free(ctx)
        ]

    @registry.action("booking_abandon")
    def booking_abandon(ctx: Context) -> str:
        reset(ctx)
        ctx.say(ctx.t("booking.abandoned"))
        return "main.menu"

    # ------------------------------------------------------------------ my bookings
    @registry.action("booking_show_mine")
    def booking_show_mine(ctx: Context) -> None:
        for key in ("bk_move", "bk_pick", "bk_slot", "bk_topic", "bk_interp"):
            ctx.pop_var(key)
        mine = future_bookings(ctx.session, ctx.user.id, ctx.now)
        if not mine:
            ctx.say(ctx.t("booking.mine_none"))
            return
        lines = [ctx.t("booking.mine_title")]
        for booking in mine:
            values = present.booking_values(texts, ctx.language, booking, tz, towns)
            lines.append(ctx.t("booking.mine_line", **values))
        ctx.say("\n\n".join(lines))

    @registry.provider("booking_my_list")
    def booking_my_list(ctx: Context) -> list[Option]:
        return [
            Option(str(b.id), f"{present.MODE_ICONS[b.slot.mode]} {present.when_text(ctx.language, b.slot, tz)}")
            for b in future_bookings(ctx.session, ctx.user.id, ctx.now)
        ]

    @registry.action("booking_pick")
    def booking_pick(ctx: Context, choice: str) -> None:
        ctx.set_var("bk_pick", int(choice))

    def picked(ctx: Context) -> Booking | None:
        return own_future_booking(ctx.session, ctx.user.id, ctx.vars.get("bk_pick"), ctx.now)

    @registry.action("booking_show_one")
    def booking_show_one(ctx: Context) -> str | None:
        booking = picked(ctx)
        if booking is None:
            ctx.say(ctx.t("booking.gone"))
            return "booking.mine"
        ctx.say(ctx.t("booking.one", **present.booking_values(texts, ctx.language, booking, tz, towns)))
        return None

    @registry.action("booking_start_move")
    def booking_start_move(ctx: Context) -> str:
        booking = picked(ctx)
        if booking is None:
            ctx.say(ctx.t("booking.gone"))
            return "booking.mine"
        ctx.set_var("bk_move", booking.id)
        ctx.set_var("bk_topic", booking.topic)
        ctx.set_var("bk_interp", booking.interpreter or NO_INTERPRETER)
        if booking.phone:
            ctx.set_var("bk_phone", booking.phone)
        if booking.interpreter is None and speaks_family_language(ctx, booking.slot):
            ctx.set_var("bk_interp_auto", True)  # not asked then: asked if the new time's counsellor differs
        if not places_with_free_slots(ctx.session, ctx.now, config):
            ctx.say(ctx.t("booking.none_free"))
            return "booking.manage"
        return "booking.where"

    @registry.action("booking_ask_cancel")
    def booking_ask_cancel(ctx: Context) -> str | None:
        booking = picked(ctx)
        if booking is None:
            ctx.say(ctx.t("booking.gone"))
            return "booking.mine"
        ctx.say(ctx.t("booking.cancel_question", when=present.when_text(ctx.language, booking.slot, tz)))
        return None

    @registry.action("booking_cancel")
    def booking_cancel(ctx: Context) -> str:
        lock_family(ctx.session, ctx.user.id)
        booking = picked(ctx)
        if booking is None:
            ctx.say(ctx.t("booking.gone"))
            return "booking.mine"
        ctx.session.refresh(booking)
        if booking.status != "active":
            ctx.say(ctx.t("booking.gone"))
            return "booking.mine"
        cancel_booking(booking, by="family", now=ctx.now)
        feature.reminders.cancel(ctx.session, booking)
        ctx.send(notify.to_counsellor(ctx.session, texts, tz, towns, booking, "cancelled"))
        ctx.pop_var("bk_pick")
        first, moves = move_history(ctx.session, booking)
        ctx.values["calendar"] = cancelled_ics(
            booking,
            title=html.unescape(ctx.t("booking.ics_title")),
            location=calendar_location(ctx, booking),
            now=ctx.now,
            first_id=first.id,
            sequence=moves + 1,
        )
        return "booking.cancelled"

    @registry.action("booking_show_cancelled")
    def booking_show_cancelled(ctx: Context) -> None:
        """ "Your meeting is cancelled", with the calendar file that takes it out of the phone's calendar."""
        attachment = ctx.values.get("calendar")
        if isinstance(attachment, Attachment):
            ctx.say(f"{ctx.t('booking.cancelled')}\n\n{ctx.t('booking.cancel_calendar_hint')}", attachment=attachment)
        else:
            ctx.say(ctx.t("booking.cancelled"))
