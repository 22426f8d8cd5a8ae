"""Staff commands in the Telegram staff group: see occurrences and RSVP counts, cancel or move one meeting, and
record how many came to a meeting (`/attended NUMBER COUNT`).

Only listed counsellors (`bot.staff.counsellor_by_telegram_id`) may use them; every use, and every refused
attempt, is audited. Only counts are shown, never who answered; attendance is a head count, never who came.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.core.context import Context
from bot.core.messages import Recipient, Reply
from bot.core.registry import Registry
from bot.core.texts import Safe
from bot.db.models import Counsellor
from bot.features.groups.models import CANCELLED, Group, Occurrence
from bot.features.groups.occurrences import (
    MAX_ATTENDED,
    OccurrenceError,
    cancel_occurrence,
    ensure_occurrences,
    move_occurrence,
    occurrence_ref,
    record_attendance,
    rsvp_counts,
)
from bot.features.groups.schedule import local_start, parse_clock
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


def parse_day(text: str, today: date) -> date:
    """A day as typed, "2026-12-03", "3.12.2026" or "3.12." (the next such day) → a date."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})?", text)
    if not match:
        raise ValueError(text)
    day, month = int(match.group(1)), int(match.group(2))
    if match.group(3):
        return date(int(match.group(3)), month, day)
    candidate = date(today.year, month, day)
    return candidate if candidate >= today else date(today.year + 1, month, day)


def reply(ctx: Context, text: str) -> None:
    """Answer in the staff group, in the topic (thread) the command came from."""
    ctx.send(
        Reply(
            text=text,
            to=Recipient(staff=True, thread_id=ctx.incoming.thread_id, reply_to=ctx.incoming.message_id),
        )
    )


def attended_value(ctx: Context, occurrence: Occurrence) -> object:
    """The recorded head count, or "not recorded" (0 would be a different statement: nobody came)."""
    if occurrence.attended is None:
        return Safe(ctx.t("groups.staff.not_recorded"))
    return occurrence.attended


def occurrence_lines(
    ctx: Context, groups: GroupsService, occurrences: list[Occurrence], *, attendance: bool = False
) -> list[str]:
    """One line per meeting: when, group, status and RSVPs, then its subscribers or (past meetings) head count."""
    lines = []
    for occurrence in occurrences:
        group = ctx.session.get(Group, occurrence.group_id)
        counts = rsvp_counts(ctx.session, occurrence)
        last = {"attended": attended_value(ctx, occurrence)} if attendance else {"subscribers": counts.subscribers}
        lines.append(
            ctx.t(
                "groups.staff.attended_line" if attendance else "groups.staff.occurrence_line",
                id=occurrence.id,
                when=groups.when(ctx.language, occurrence.starts_at),
                group=group.name(ctx.language) if group else occurrence.group_id,
                status=Safe(ctx.t(f"groups.staff.status.{occurrence.status}")),
                coming=counts.coming,
                not_coming=counts.not_coming,
                **last,
            )
        )
    return lines


def register_staff_commands(registry: Registry, groups: GroupsService) -> None:
    def find(ctx: Context, argument: str) -> Occurrence | None:
        number = typed_number(argument.split()[0]) if argument.split() else None
        return ctx.session.get(Occurrence, number) if number is not None else None

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
            reply(ctx, ctx.t("groups.staff.none", days=LISTED_DAYS))
            return
        title = ctx.t("groups.staff.occurrences_title", days=LISTED_DAYS)
        reply(ctx, "\n".join([title, *occurrence_lines(ctx, groups, rows)]))

    def rsvps(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        occurrence = find(ctx, argument)
        if occurrence is None:
            reply(ctx, ctx.t("groups.staff.usage_rsvps"))
            return
        audit(ctx.session, actor_label(counsellor), "groups.rsvps", occurrence_ref(occurrence.id))
        reply(ctx, occurrence_lines(ctx, groups, [occurrence])[0])

    def cancel(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        occurrence = find(ctx, argument)
        reason = argument.split(maxsplit=1)[1] if len(argument.split(maxsplit=1)) > 1 else ""
        if occurrence is None or not reason.strip():
            reply(ctx, ctx.t("groups.staff.usage_cancel"))
            return
        try:
            told = cancel_occurrence(ctx.session, occurrence, reason, actor_label(counsellor), ctx.now)
        except OccurrenceError as error:
            reply(ctx, ctx.t(error.key))
            return
        ctx.after_commit.append(groups.delivery.wake)  # notices go out now, not at the next tick
        reply(
            ctx,
            ctx.t(
                "groups.staff.cancelled",
                id=occurrence.id,
                when=groups.when(ctx.language, occurrence.starts_at),
                count=told,
            ),
        )

    def move(ctx: Context, counsellor: Counsellor, argument: str) -> None:
        parts = argument.split(maxsplit=3)
        occurrence = find(ctx, argument)
        if occurrence is None or len(parts) < 3:
            reply(ctx, ctx.t("groups.staff.usage_move"))
            return
        try:
            day = parse_day(parts[1], ctx.now.astimezone(groups.zone).date())
            clock = parse_clock(parts[2] if ":" in parts[2] or "." in parts[2] else f"{parts[2]}:00")
        except ValueError:
            reply(ctx, ctx.t("groups.staff.usage_move"))
            return
        new_start = local_start(day, clock, groups.zone)
        try:
            told = move_occurrence(
                ctx.session, occurrence, new_start, parts[3] if len(parts) > 3 else "", actor_label(counsellor), ctx.now
            )
        except OccurrenceError as error:
            reply(ctx, ctx.t(error.key))
            return
        ctx.after_commit.append(groups.delivery.wake)
        reply(ctx, ctx.t("groups.staff.moved", id=occurrence.id, when=groups.when(ctx.language, new_start), count=told))

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
            usage = ctx.t("groups.staff.usage_attended", max=MAX_ATTENDED)
            if not rows:
                reply(ctx, "\n".join([ctx.t("groups.staff.attended_none", days=RECENT_DAYS), "", usage]))
                return
            title = ctx.t("groups.staff.attended_title", days=RECENT_DAYS)
            reply(ctx, "\n".join([title, *occurrence_lines(ctx, groups, rows, attendance=True), "", usage]))
            return
        number = whole_number(parts[0])
        if number is None or len(parts) != 2:
            reply(ctx, ctx.t("groups.staff.usage_attended", max=MAX_ATTENDED))
            return
        occurrence = ctx.session.get(Occurrence, number)
        if occurrence is None:
            reply(ctx, ctx.t("groups.staff.no_such_meeting", id=number, days=RECENT_DAYS))
            return
        count = None if parts[1].startswith("#") else whole_number(parts[1])  # "#" marks a meeting number
        if count is None:
            reply(ctx, ctx.t("groups.staff.attended_bad_count", max=MAX_ATTENDED))
            return
        try:
            previous = record_attendance(ctx.session, occurrence, count, actor_label(counsellor), ctx.now)
        except OccurrenceError as error:
            reply(ctx, ctx.t(error.key, max=MAX_ATTENDED))
            return
        group = ctx.session.get(Group, occurrence.group_id)
        values: dict[str, object] = {
            "id": occurrence.id,
            "when": groups.when(ctx.language, occurrence.starts_at),
            "group": group.name(ctx.language) if group else occurrence.group_id,
            "count": count,
        }
        if previous is None or previous == count:
            reply(ctx, ctx.t("groups.staff.attended_saved", **values))
        else:
            reply(ctx, ctx.t("groups.staff.attended_corrected", previous=previous, **values))

    handlers: dict[str, StaffHandler] = {
        "occurrences": occurrences,
        "rsvps": rsvps,
        "cancel_occurrence": cancel,
        "move_occurrence": move,
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
            reply(ctx, ctx.t("groups.staff.not_staff"))
            return True
        handlers[name](ctx, counsellor, argument)
        return True

    registry.interceptors.append(intercept)
