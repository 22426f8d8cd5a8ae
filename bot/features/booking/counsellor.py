"""The counsellor's side, in a private chat with the bot: `/slots` → publish a slot step by step
(day → start → length → mode → municipality → place → confirm), see one's slots, cancel one.

Only listed, active counsellors get past `/slots` (`bot.staff.counsellor_by_telegram_id`), and every
later step checks again (a counsellor may be removed mid-way). Every change is audited.

Flow variables: st_day (YYYY-MM-DD), st_start (HH:MM), st_len (minutes), st_mode, st_mun, st_place,
st_slot (the slot opened from the list).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, TypeVar

from bot.core.context import Context, Option
from bot.core.registry import Registry
from bot.db.models import Counsellor, User
from bot.features.booking import notify, present
from bot.features.booking.models import Slot
from bot.features.booking.service import active_booking_of, cancel_slot, counsellor_slots, publish, recent_places
from bot.features.booking.slots import MUNICIPALITIES, SlotError, SlotSpec, local_instant, parse_time
from bot.staff import actor_label, audit, counsellor_by_telegram_id
from bot.timefmt import format_clock, format_day

if TYPE_CHECKING:
    from bot.features.booking.feature import BookingFeature

STAFF_VARS = ("st_day", "st_start", "st_len", "st_mode", "st_mun", "st_place", "st_slot")
DAYS_AHEAD = 21
FIRST_HOUR, LAST_HOUR = 8, 18
LENGTHS = (30, 45, 60, 90)
MAX_PLACE = 200
REFUSED = "main.menu"
STAFF_MENU = "booking.staff"
T = TypeVar("T")


def current_counsellor(ctx: Context) -> Counsellor | None:
    """The counsellor writing, if they are one: only a Telegram id can be checked against the list."""
    if ctx.user.channel != notify.TELEGRAM:
        return None
    return counsellor_by_telegram_id(ctx.session, ctx.user.external_id)


def register_counsellor(registry: Registry, feature: BookingFeature) -> None:
    texts, tz, towns = feature.texts, feature.tz, feature.places

    def reset(ctx: Context) -> None:
        ctx.state.vars = {k: v for k, v in ctx.vars.items() if k not in STAFF_VARS}

    def refuse(ctx: Context, action: str) -> str:
        """Not (or no longer) a counsellor: answered like any unknown command, and written down."""
        audit(ctx.session, "unlisted", action)
        reset(ctx)
        ctx.say(ctx.t("errors.unknown_command"))
        return REFUSED if ctx.user.language else "onboarding.language"

    def staff(ctx: Context, action: str = "slots.refused") -> Counsellor | str:
        """The guard of every staff step: the counsellor writing, or (refused, audited as `action`) the
        step to go to. Checked on each step, not once: a counsellor may be removed mid-way."""
        counsellor = current_counsellor(ctx)
        return counsellor if counsellor is not None else refuse(ctx, action)

    def staff_with(
        ctx: Context, action: str, load: Callable[[Context, Counsellor], T | None]
    ) -> tuple[Counsellor, T] | str:
        """`staff`, then what the step works on (`load`: the counsellor's own slot, the slot being
        published); when that is gone or incomplete, back to the staff menu."""
        counsellor = staff(ctx, action)
        if isinstance(counsellor, str):
            return counsellor
        loaded = load(ctx, counsellor)
        return (counsellor, loaded) if loaded is not None else STAFF_MENU

    registry.staff_private_commands.append("slots")  # listed by /help in the staff group

    @registry.command("slots")
    def slots_command(ctx: Context, _argument: str) -> str:
        counsellor = staff(ctx)
        if isinstance(counsellor, str):
            return counsellor
        if ctx.user.language is None:
            # Staff skip the families' onboarding; without a language, typed times would meet its gate.
            ctx.user.language = notify.counsellor_language(ctx.session, counsellor)
        reset(ctx)
        return STAFF_MENU

    @registry.action("staff_guard")
    def staff_guard(ctx: Context) -> str | None:
        refused = staff(ctx)
        return refused if isinstance(refused, str) else None

    # ------------------------------------------------------------------ overview
    @registry.action("staff_overview")
    def staff_overview(ctx: Context) -> str | None:
        counsellor = staff(ctx)
        if isinstance(counsellor, str):
            return counsellor
        reset(ctx)
        slots = counsellor_slots(ctx.session, counsellor.id, ctx.now, limit=12)
        if not slots:
            ctx.say(ctx.t("booking.staff_none"))
            return None
        lines = [ctx.t("booking.staff_title")]
        lines.extend(slot_line(ctx, slot) for slot in slots)
        ctx.say("\n".join(lines))
        return None

    def slot_line(ctx: Context, slot: Slot) -> str:
        booked = active_booking_of(ctx.session, slot.id) is not None
        mark = "👪" if booked else "🟢"
        return f"{mark} {present.MODE_ICONS[slot.mode]} {present.when_text(ctx.language, slot, tz)}"

    @registry.condition("staff_has_slots")
    def staff_has_slots(ctx: Context) -> bool:
        counsellor = current_counsellor(ctx)
        return counsellor is not None and bool(counsellor_slots(ctx.session, counsellor.id, ctx.now, limit=1))

    # ------------------------------------------------------------------ publishing, step by step
    def today(ctx: Context) -> date:
        return ctx.now.astimezone(tz).date()

    @registry.provider("staff_days")
    def staff_days(ctx: Context) -> list[Option]:
        first = today(ctx)
        return [
            Option(day.isoformat(), format_day(ctx.language, day))
            for day in (first + timedelta(days=n) for n in range(DAYS_AHEAD))
        ]

    @registry.action("staff_set_day")
    def staff_set_day(ctx: Context, choice: str) -> str | None:
        if isinstance(refused := staff(ctx), str):
            return refused
        ctx.set_var("st_day", choice)
        return None

    def day(ctx: Context) -> date | None:
        try:
            return date.fromisoformat(str(ctx.vars.get("st_day")))
        except ValueError:
            return None

    def start_instant(ctx: Context, at: time) -> datetime | None:
        chosen = day(ctx)
        return local_instant(chosen, at, tz) if chosen is not None else None

    @registry.provider("staff_times")
    def staff_times(ctx: Context) -> list[Option]:
        options = []
        for minutes in range(FIRST_HOUR * 60, LAST_HOUR * 60, 30):
            at = time(minutes // 60, minutes % 60)
            instant = start_instant(ctx, at)
            if instant is not None and instant > ctx.now:
                options.append(Option(f"{at:%H%M}", format_clock(ctx.language, at)))
        return options

    def set_start(ctx: Context, at: time) -> str | None:
        if isinstance(refused := staff(ctx), str):
            return refused
        instant = start_instant(ctx, at)
        if instant is None or instant <= ctx.now:
            ctx.say(ctx.t("booking.staff_past"))
            return "booking.staff_start"
        ctx.set_var("st_start", f"{at:%H:%M}")
        return "booking.staff_length"

    @registry.action("staff_set_start")
    def staff_set_start(ctx: Context, choice: str) -> str | None:
        return set_start(ctx, time(int(choice[:2]), int(choice[2:])))

    @registry.input("staff_typed_start")
    def staff_typed_start(ctx: Context, text: str) -> str | None:
        at = parse_time(text)
        if at is None:
            ctx.say(ctx.t("booking.staff_time_format"))
            return "booking.staff_start"
        return set_start(ctx, at)

    @registry.provider("staff_lengths")
    def staff_lengths(ctx: Context) -> list[Option]:
        return [Option(str(n), ctx.t("booking.minutes", minutes=n)) for n in LENGTHS]

    @registry.action("staff_set_length")
    def staff_set_length(ctx: Context, choice: str) -> None:
        ctx.set_var("st_len", int(choice))

    @registry.action("staff_set_mode")
    def staff_set_mode(ctx: Context, mode: str) -> str | None:
        if isinstance(refused := staff(ctx), str):
            return refused
        ctx.set_var("st_mode", mode)
        if mode != "in_person":
            ctx.pop_var("st_mun")
            ctx.pop_var("st_place")
        return None

    @registry.provider("staff_municipalities")
    def staff_municipalities(ctx: Context) -> list[Option]:
        counsellor = current_counsellor(ctx)
        own = counsellor.municipality_list if counsellor else []
        ordered = [m for m in MUNICIPALITIES if m in own] + [m for m in MUNICIPALITIES if m not in own]
        return [Option(name, f"📍 {towns.name(name, ctx.language)}") for name in ordered]

    @registry.action("staff_set_municipality")
    def staff_set_municipality(ctx: Context, choice: str) -> None:
        ctx.set_var("st_mun", choice)
        ctx.pop_var("st_place")

    def places(ctx: Context) -> list[str]:
        counsellor = current_counsellor(ctx)
        municipality = ctx.vars.get("st_mun")
        if counsellor is None or not municipality:
            return []
        return recent_places(ctx.session, counsellor.id, str(municipality))

    @registry.provider("staff_recent_places")
    def staff_recent_places(ctx: Context) -> list[Option]:
        return [Option(f"p{i}", f"🏢 {name[:60]}") for i, name in enumerate(places(ctx))]

    @registry.action("staff_set_recent_place")
    def staff_set_recent_place(ctx: Context, choice: str) -> None:
        known = places(ctx)
        index = int(choice[1:])
        ctx.set_var("st_place", known[index] if index < len(known) else None)

    @registry.input("staff_typed_place")
    def staff_typed_place(ctx: Context, text: str) -> str | None:
        if isinstance(refused := staff(ctx), str):
            return refused
        ctx.set_var("st_place", " ".join(text.split())[:MAX_PLACE] or None)
        return "booking.staff_confirm"

    @registry.action("staff_set_no_place")
    def staff_set_no_place(ctx: Context) -> None:
        ctx.pop_var("st_place")

    def spec(ctx: Context, counsellor: Counsellor) -> SlotSpec | None:
        raw_start = ctx.vars.get("st_start")
        at = parse_time(str(raw_start)) if raw_start else None
        minutes, mode = ctx.vars.get("st_len"), ctx.vars.get("st_mode")
        if at is None or not isinstance(minutes, int) or mode not in ("in_person", "phone", "video"):
            return None
        instant = start_instant(ctx, at)
        if instant is None:
            return None
        in_person = mode == "in_person"
        municipality = ctx.vars.get("st_mun") if in_person else None
        if in_person and municipality not in MUNICIPALITIES:
            return None
        return SlotSpec(
            starts_at=instant,
            minutes=minutes,
            mode=str(mode),
            municipality=municipality,
            place=ctx.vars.get("st_place") if in_person else None,
            languages=tuple(counsellor.language_list),
        )

    @registry.action("staff_summary")
    def staff_summary(ctx: Context) -> str | None:
        found = staff_with(ctx, "slots.refused", spec)
        if isinstance(found, str):
            return found
        _counsellor, wanted = found
        preview = Slot(
            starts_at=wanted.starts_at,
            minutes=wanted.minutes,
            mode=wanted.mode,
            municipality=wanted.municipality,
            place=wanted.place,
        )
        ctx.say(
            ctx.t(
                "booking.staff_summary",
                when=present.when_text(ctx.language, preview, tz),
                icon=present.MODE_ICONS[preview.mode],
                where=present.where_text(texts, ctx.language, preview, towns),
            )
        )
        return None

    @registry.action("staff_publish")
    def staff_publish(ctx: Context) -> str:
        found = staff_with(ctx, "slot.publish.refused", spec)
        if isinstance(found, str):
            return found
        counsellor, wanted = found
        if wanted.starts_at <= ctx.now:
            ctx.say(ctx.t("booking.staff_past"))
            return "booking.staff_start"
        try:
            slot, created = publish(ctx.session, counsellor, wanted, now=ctx.now)
        except SlotError:
            ctx.say(ctx.t("booking.staff_overlap"))
            return "booking.staff_start"
        if created:
            audit(ctx.session, actor_label(counsellor), "slot.publish", f"slot:{slot.id}", via="telegram")
        ctx.values["when"] = present.when_text(ctx.language, slot, tz)
        for key in ("st_start", "st_len"):
            ctx.pop_var(key)  # keep the day, mode and place: the next slot is often the same day, same place
        return "booking.staff_published"

    # ------------------------------------------------------------------ one slot, cancelling
    @registry.provider("staff_slot_list")
    def staff_slot_list(ctx: Context) -> list[Option]:
        counsellor = current_counsellor(ctx)
        if counsellor is None:
            return []
        slots = counsellor_slots(ctx.session, counsellor.id, ctx.now)
        return [Option(str(slot.id), slot_line(ctx, slot)) for slot in slots]

    @registry.action("staff_pick_slot")
    def staff_pick_slot(ctx: Context, choice: str) -> None:
        ctx.set_var("st_slot", int(choice))

    def own_slot(ctx: Context, counsellor: Counsellor) -> Slot | None:
        slot_id = ctx.vars.get("st_slot")
        slot = ctx.session.get(Slot, slot_id) if isinstance(slot_id, int) else None
        if slot is None or slot.counsellor_id != counsellor.id or slot.status != "open":
            return None
        return slot

    @registry.action("staff_show_slot")
    def staff_show_slot(ctx: Context) -> str | None:
        found = staff_with(ctx, "slots.refused", own_slot)
        if isinstance(found, str):
            return found
        _counsellor, slot = found
        booking = active_booking_of(ctx.session, slot.id)
        where = present.where_text(
            texts, ctx.language, slot, towns, phone=booking.phone if booking else None, staff=True
        )
        lines = [
            ctx.t(
                "booking.staff_slot",
                when=present.when_text(ctx.language, slot, tz),
                icon=present.MODE_ICONS[slot.mode],
                where=where,
            )
        ]
        if booking is None:
            lines.append(ctx.t("booking.staff_slot_free"))
        else:
            family = ctx.session.get(User, booking.user_id)
            lines.append(
                ctx.t(
                    "booking.staff_slot_booked",
                    family=family.label if family else "?",
                    language=present.language_name(booking.language),
                    topic=present.topic_text(texts, ctx.language, booking.topic),
                    interpreter=present.interpreter_text(texts, ctx.language, booking.interpreter),
                )
            )
        ctx.say("\n".join(lines))
        return None

    @registry.action("staff_ask_cancel")
    def staff_ask_cancel(ctx: Context) -> str | None:
        found = staff_with(ctx, "slots.refused", own_slot)
        if isinstance(found, str):
            return found
        _counsellor, slot = found
        booked = active_booking_of(ctx.session, slot.id) is not None
        ctx.set_var("st_booked", booked)  # what the counsellor was asked about: checked again on "yes"
        key = "booking.staff_cancel_booked" if booked else "booking.staff_cancel_free"
        ctx.say(ctx.t(key, when=present.when_text(ctx.language, slot, tz)))
        return None

    @registry.action("staff_cancel_slot")
    def staff_cancel_slot(ctx: Context) -> str:
        found = staff_with(ctx, "slot.cancel.refused", own_slot)
        if isinstance(found, str):
            return found
        counsellor, slot = found
        if ctx.pop_var("st_booked") is False and active_booking_of(ctx.session, slot.id) is not None:
            # Asked about a free time, and a family booked it meanwhile: ask again, about a booked time.
            return "booking.staff_cancel_confirm"
        cancelled, booking = cancel_slot(ctx.session, slot.id, now=ctx.now)
        if cancelled is None:
            return STAFF_MENU
        audit(ctx.session, actor_label(counsellor), "slot.cancel", f"slot:{slot.id}", booked=booking is not None)
        if booking is not None:
            feature.reminders.cancel(ctx.session, booking)
            message = notify.to_family_cancelled(ctx.session, texts, tz, towns, booking)
            if message is not None:
                ctx.send(message)
            ctx.say(ctx.t("booking.staff_cancelled_family"))
        else:
            ctx.say(ctx.t("booking.staff_cancelled"))
        return STAFF_MENU
