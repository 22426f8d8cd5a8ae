"""Staff commands in the Telegram staff group: see occurrences and RSVP counts, cancel, move or reinstate one
meeting, and record how many came to a meeting (`/attended NUMBER COUNT`).

Only listed counsellors (`bot.staff.counsellor_by_telegram_id`) may use them; every use, and every refused
attempt, is audited. Only counts are shown, never who answered; attendance is a head count, never who came.
Everything is answered in the staff language (`STAFF_LANGUAGE`, as ticket cards and `/stats`), whoever types:
the staff group reads one language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot import timefmt
from bot.core.context import Context
from bot.core.messages import Recipient, Reply
from bot.core.registry import Registry
from bot.core.texts import Safe
from bot.db.models import Counsellor
from bot.features.groups.models import CANCELLED, Group, Occurrence
from bot.features.groups.occurrences import (
    MAX_ATTENDED,
    MEETING_HOURS,
    OccurrenceError,
    cancel_occurrence,
    ensure_occurrences,
    move_occurrence,
    occurrence_ref,
    reason_code,
    record_attendance,
    rsvp_counts,
)
from bot.features.groups.schedule import local_start, parse_day_time
from bot.staff import actor_label, audit, counsellor_by_telegram_id, typed_number

if TYPE_CHECKING:
    from bot.features.groups.feature import GroupsService

LISTED_DAYS = 14
RECENT_DAYS = 14  # `/attended` alone lists the meetings that started this long ago at most
StaffHandler = Callable[[Context, Counsellor, str], None]
# A meeting number or a head count as staff type it: decimal digits in any script (int() reads them all), and
# few enough that a meeting number stays inside PostgreSQL's INTEGER.
WHOLE_NUMBER = re.compile(r"\d{1,9}")


def whole_number(text: str) -> int | None:
    """A number as typed, "12", "#12" or "١٢" → 12; anything else, a sign or a fraction included → None."""
    text = text.strip().removeprefix("#")
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


def reply(ctx: Context, text: str) -> None:
    """Answer in the staff group, in the topic (thread) the command came from."""
    ctx.send(
        Reply(
            text=text,
            to=Recipient(staff=True, thread_id=ctx.incoming.thread_id, reply_to=ctx.incoming.message_id),
        )
    )


def register_staff_commands(registry: Registry, groups: GroupsService) -> None:
    staff_language = groups.services.settings.staff_language

    def t(key: str, **values: object) -> str:
        return groups.services.texts.get(staff_language, key, **values)

    def when(moment: datetime) -> str:
        return groups.when(staff_language, moment)

    def group_name(ctx: Context, occurrence: Occurrence) -> str:
        group = ctx.session.get(Group, occurrence.group_id)
        return group.name(staff_language) if group else occurrence.group_id

    def shown(value: object) -> object:
        """A value of a refusal: times in the staff language, anything else as it is."""
        if isinstance(value, datetime):
            return when(value)
        if isinstance(value, time):
            return timefmt.format_clock(staff_language, value)
        return value

    def refusal(error: OccurrenceError) -> str:
        return t(error.key, max=MAX_ATTENDED, **{name: shown(value) for name, value in error.values.items()})

    def with_reason_note(text: str, reason: str) -> str:
        """Free text that is no reason code reaches families as written, whatever language they read."""
        if reason_code(reason) is None:
            return "\n".join([text, t("groups.staff.reason_as_written")])
        return text

    def find(ctx: Context, argument: str) -> Occurrence | None:
        number = typed_number(argument.split()[0]) if argument.split() else None
        return ctx.session.get(Occurrence, number) if number is not None else None

    def new_time(ctx: Context, argument: str) -> tuple[datetime, str] | None:
        """The new start typed after the meeting number ("12 3.12. 17.30 reason") and the rest of the text
        (the reason, as written); None if no day and time can be read there."""
        words = argument.split()
        try:
            day, clock, used = parse_day_time(words[1:], ctx.now.astimezone(groups.zone).date())
        except ValueError:
            return None
        rest = argument.split(maxsplit=1 + used)
        return local_start(day, clock, groups.zone), rest[1 + used] if len(rest) > 1 + used else ""

    def occurrence_lines(ctx: Context, occurrences: list[Occurrence], *, attendance: bool = False) -> list[str]:
        """One line per meeting: when, group, status and RSVPs, then its subscribers or (past meetings) head
        count ("not recorded" when none was entered: 0 would say that nobody came)."""
        lines = []
        for occurrence in occurrences:
            counts = rsvp_counts(ctx.session, occurrence)
            last: dict[str, object]
            if attendance:
                recorded = occurrence.attended
                last = {"attended": Safe(t("groups.staff.not_recorded")) if recorded is None else recorded}
            else:
                last = {"subscribers": counts.subscribers}
            lines.append(
                t(
                    "groups.staff.attended_line" if attendance else "groups.staff.occurrence_line",
                    id=occurrence.id,
                    when=when(occurrence.starts_at),
                    group=group_name(ctx, occurrence),
                    status=Safe(t(f"groups.staff.status.{occurrence.status}")),
                    coming=counts.coming,
                    not_coming=counts.not_coming,
                    **last,
                )
            )
        return lines

    def occurrences(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        group_id = argument.strip().lower() or None
        for group in ctx.session.scalars(select(Group).where(Group.active.is_(True))):
            ensure_occurrences(ctx.session, group, ctx.now, groups.zone)
        query = select(Occurrence).where(
            Occurrence.ends_at > ctx.now, Occurrence.starts_at < ctx.now + timedelta(days=LISTED_DAYS)
        )
        if group_id:
            query = query.where(Occurrence.group_id == group_id)
        rows = list(ctx.session.scalars(query.order_by(Occurrence.starts_at)))
        audit(ctx.session, actor_label(counsellor), "groups.occurrences", group_id)
        if not rows:
            reply(ctx, t("groups.staff.none", days=LISTED_DAYS))
            return
        title = t("groups.staff.occurrences_title", days=LISTED_DAYS)
        reply(ctx, "\n".join([title, *occurrence_lines(ctx, rows)]))

    def rsvps(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        occurrence = find(ctx, argument)
        if occurrence is None:
            reply(ctx, t("groups.staff.usage_rsvps"))
            return
        audit(ctx.session, actor_label(counsellor), "groups.rsvps", occurrence_ref(occurrence.id))
        reply(ctx, occurrence_lines(ctx, [occurrence])[0])

    def cancel(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        occurrence = find(ctx, argument)
        reason = argument.split(maxsplit=1)[1] if len(argument.split(maxsplit=1)) > 1 else ""
        if occurrence is None or not reason.strip():
            reply(ctx, t("groups.staff.usage_cancel"))
            return
        try:
            told = cancel_occurrence(ctx.session, occurrence, reason, actor_label(counsellor), ctx.now)
        except OccurrenceError as error:
            reply(ctx, refusal(error))
            return
        ctx.after_commit.append(groups.delivery.wake)  # notices go out now, not at the next tick
        done = t("groups.staff.cancelled", id=occurrence.id, when=when(occurrence.starts_at), count=told)
        reply(ctx, with_reason_note(done, reason))

    def move(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        occurrence = find(ctx, argument)
        typed = new_time(ctx, argument) if occurrence is not None else None
        if occurrence is None or typed is None:
            earliest, latest = (timefmt.format_clock(staff_language, hour) for hour in MEETING_HOURS)
            reply(ctx, t("groups.staff.usage_move", earliest=earliest, latest=latest))
            return
        new_start, reason = typed
        old_start = occurrence.starts_at
        try:
            told = move_occurrence(
                ctx.session, occurrence, new_start, reason, actor_label(counsellor), ctx.now, zone=groups.zone
            )
        except OccurrenceError as error:
            reply(ctx, refusal(error))
            return
        ctx.after_commit.append(groups.delivery.wake)
        done = t(
            "groups.staff.moved",
            id=occurrence.id,
            group=group_name(ctx, occurrence),
            old=when(old_start),
            when=when(new_start),
            count=told,
        )
        reply(ctx, with_reason_note(done, reason))

    def reinstate(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        """`/reinstate_occurrence NUMBER [DAY TIME]`: a cancelled meeting takes place after all, at its own
        time or at the one given."""
        occurrence = find(ctx, argument)
        words = argument.split()
        typed = new_time(ctx, argument) if occurrence is not None and len(words) > 1 else None
        if occurrence is None or (len(words) > 1 and (typed is None or typed[1])):
            reply(ctx, t("groups.staff.usage_reinstate"))
            return
        new_start = typed[0] if typed else occurrence.starts_at
        try:
            told = move_occurrence(
                ctx.session,
                occurrence,
                new_start,
                "",
                actor_label(counsellor),
                ctx.now,
                zone=groups.zone,
                reinstate=True,
            )
        except OccurrenceError as error:
            reply(ctx, refusal(error))
            return
        ctx.after_commit.append(groups.delivery.wake)
        reply(
            ctx,
            t(
                "groups.staff.reinstated",
                id=occurrence.id,
                group=group_name(ctx, occurrence),
                when=when(new_start),
                count=told,
            ),
        )

    def attended(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        parts = argument.split()
        if not parts:
            # The meeting has ended by the time its count is entered, so /occurrences no longer lists it:
            # this list gives the numbers, and the counts already recorded.
            rows = list(
                ctx.session.scalars(
                    select(Occurrence)
                    .where(
                        Occurrence.starts_at <= ctx.now,
                        Occurrence.starts_at > ctx.now - timedelta(days=RECENT_DAYS),
                        Occurrence.status != CANCELLED,
                    )
                    .order_by(Occurrence.starts_at)
                )
            )
            audit(ctx.session, actor_label(counsellor), "groups.attendance_list", None)
            usage = t("groups.staff.usage_attended", max=MAX_ATTENDED)
            if not rows:
                reply(ctx, "\n".join([t("groups.staff.attended_none", days=RECENT_DAYS), "", usage]))
                return
            title = t("groups.staff.attended_title", days=RECENT_DAYS)
            reply(ctx, "\n".join([title, *occurrence_lines(ctx, rows, attendance=True), "", usage]))
            return
        number = whole_number(parts[0])
        if number is None or len(parts) != 2:
            reply(ctx, t("groups.staff.usage_attended", max=MAX_ATTENDED))
            return
        occurrence = ctx.session.get(Occurrence, number)
        if occurrence is None:
            reply(ctx, t("groups.staff.no_such_meeting", id=number, days=RECENT_DAYS))
            return
        count = None if parts[1].startswith("#") else whole_number(parts[1])  # "#" marks a meeting number
        if count is None:
            reply(ctx, t("groups.staff.attended_bad_count", max=MAX_ATTENDED))
            return
        try:
            previous = record_attendance(ctx.session, occurrence, count, actor_label(counsellor), ctx.now)
        except OccurrenceError as error:
            reply(ctx, refusal(error))
            return
        values: dict[str, object] = {
            "id": occurrence.id,
            "when": when(occurrence.starts_at),
            "group": group_name(ctx, occurrence),
            "count": count,
        }
        if previous is None or previous == count:
            reply(ctx, t("groups.staff.attended_saved", **values))
        else:
            reply(ctx, t("groups.staff.attended_corrected", previous=previous, **values))

    handlers: dict[str, StaffHandler] = {
        "occurrences": occurrences,
        "rsvps": rsvps,
        "cancel_occurrence": cancel,
        "move_occurrence": move,
        "reinstate_occurrence": reinstate,
        "attended": attended,
    }

    def intercept(ctx: Context) -> bool:
        if not ctx.incoming.staff_chat:
            return False
        command = ctx.incoming.command
        if command is None or command[0] not in handlers:
            return False
        name, argument = command
        counsellor = (
            counsellor_by_telegram_id(ctx.session, ctx.user.external_id) if ctx.user.channel == "telegram" else None
        )
        if counsellor is None:
            audit(ctx.session, "unlisted", f"groups.{name}", None, refused=True)
            reply(ctx, t("groups.staff.not_staff"))
            return True
        handlers[name](ctx, counsellor, argument)
        return True

    registry.interceptors.append(intercept)
    registry.staff_group_commands.extend(handlers)  # for /help in the staff group
