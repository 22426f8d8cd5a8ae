"""Occurrences: generated from each group's schedule, cancelled or moved by staff (with notices), and the head
count of each meeting once it has started."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db.models import User
from bot.features.groups.models import (
    CANCELLED,
    COMING,
    HAPPENING,
    MOVED,
    NOT_COMING,
    SCHEDULED,
    Group,
    Occurrence,
    Rsvp,
    Subscription,
)
from bot.features.groups.schedule import WeeklySchedule, meetings, parse_clock
from bot.outbox import Message, cancel_pending, localized, moment, nested, queue
from bot.staff import audit

HORIZON = timedelta(days=70)  # how far ahead meetings exist as rows (lists, RSVPs, calendar exceptions)
REASON_CODES = ("holiday", "illness", "weather", "other")
MAX_ATTENDED = 500  # more than any room the groups meet in: a larger number is a typing mistake


def schedule_of(group: Group) -> WeeklySchedule:
    start = parse_clock(group.start_time)
    return WeeklySchedule(
        weekday=group.weekday,
        start=time(start.hour, start.minute),
        duration=timedelta(minutes=group.duration_minutes),
        every_weeks=group.every_weeks,
        anchor=group.anchor,
        active_from=group.active_from,
        active_until=group.active_until,
    )


def occurrence_ref(occurrence_id: int) -> str:
    return f"occurrence:{occurrence_id}"


def rsvp_row(occurrence_id: int) -> list[tuple[str, str]]:
    """The "coming" / "can't come" buttons: payloads of the `groups.reminder` step, checked again when pressed."""
    return [
        ("groups.rsvp_yes", f"groups.reminder:y{occurrence_id}"),
        ("groups.rsvp_no", f"groups.reminder:n{occurrence_id}"),
    ]


def ensure_occurrences(
    session: Session, group: Group, now: datetime, zone: tzinfo, *, horizon: timedelta = HORIZON, force: bool = False
) -> int:
    """Make sure every meeting of the next `horizon` exists as a row. Idempotent, safe between processes."""
    if not group.active:
        return 0
    end = now + horizon
    if not force:
        latest = session.scalar(select(func.max(Occurrence.original_start)).where(Occurrence.group_id == group.id))
        if latest is not None and latest >= end - timedelta(days=14):
            return 0  # generated recently enough; saves a query per tick and per list
    planned = meetings(schedule_of(group), zone, now - timedelta(days=1), end)
    if not planned:
        return 0
    rows = [
        {
            "group_id": group.id,
            "original_start": m.starts_at,
            "starts_at": m.starts_at,
            "ends_at": m.ends_at,
            "status": SCHEDULED,
            "revision": 0,
            "planned": {},
        }
        for m in planned
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Occurrence)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["group_id", "original_start"])
        .returning(Occurrence.id)
    )
    return len(session.execute(statement).all())


def drop_unscheduled(session: Session, group: Group, now: datetime, zone: tzinfo) -> int:
    """After a schedule change: remove future meetings that staff did not touch and the schedule no longer has."""
    wanted = {m.starts_at for m in meetings(schedule_of(group), zone, now, now + HORIZON * 2)}
    stale = [
        occurrence
        for occurrence in session.scalars(
            select(Occurrence).where(
                Occurrence.group_id == group.id,
                Occurrence.starts_at > now,
                Occurrence.status == SCHEDULED,
            )
        )
        if occurrence.original_start not in wanted
    ]
    for occurrence in stale:
        cancel_pending(session, occurrence_ref(occurrence.id))
        session.execute(delete(Rsvp).where(Rsvp.occurrence_id == occurrence.id))
        session.delete(occurrence)
    return len(stale)


def upcoming(session: Session, group_id: str, now: datetime, *, limit: int = 10) -> list[Occurrence]:
    """Meetings that have not ended yet, cancelled ones included, soonest first."""
    return list(
        session.scalars(
            select(Occurrence)
            .where(Occurrence.group_id == group_id, Occurrence.ends_at > now)
            .order_by(Occurrence.starts_at)
            .limit(limit)
        )
    )


def next_happening(session: Session, group_id: str, now: datetime) -> Occurrence | None:
    """The next meeting that will take place (not cancelled) and has not started yet."""
    return session.scalar(
        select(Occurrence)
        .where(Occurrence.group_id == group_id, Occurrence.starts_at > now, Occurrence.status.in_(HAPPENING))
        .order_by(Occurrence.starts_at)
        .limit(1)
    )


def active_subscriptions(session: Session, group_id: str) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription)
            .join(User, User.id == Subscription.user_id)
            .where(Subscription.group_id == group_id, Subscription.active.is_(True), User.blocked_at.is_(None))
            .order_by(Subscription.id)
        )
    )


@dataclass(frozen=True)
class RsvpCounts:
    coming: int
    not_coming: int
    subscribers: int


def rsvp_counts(session: Session, occurrence: Occurrence) -> RsvpCounts:
    answers = dict(
        session.execute(
            select(Rsvp.answer, func.count()).where(Rsvp.occurrence_id == occurrence.id).group_by(Rsvp.answer)
        ).all()
    )
    subscribers = session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.group_id == occurrence.group_id, Subscription.active.is_(True))
    )
    return RsvpCounts(int(answers.get(COMING, 0)), int(answers.get(NOT_COMING, 0)), int(subscribers or 0))


def reason_value(reason: str) -> object:
    """A known reason code is shown translated; anything else as staff wrote it."""
    code = reason.strip().lower()
    return nested(f"groups.reason.{code}") if code in REASON_CODES else reason.strip()


class OccurrenceError(ValueError):
    """Why a staff change was refused; `key` is a string key for the reply."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _notices(
    session: Session,
    group: Group,
    occurrence: Occurrence,
    *,
    kind: str,
    key: str,
    values: dict[str, object],
    now: datetime,
    expires_at: datetime,
    with_rsvp: bool,
) -> list[Message]:
    buttons: list[list[tuple[str, str]]] = []
    if with_rsvp:
        buttons.append(rsvp_row(occurrence.id))
    buttons.append([("groups.my_groups", "groups.reminder:mine"), ("common.menu", "groups.reminder:menu")])
    return [
        Message(
            key=f"{kind}:{subscription.id}:{occurrence.id}:{occurrence.revision}",
            user_id=subscription.user_id,
            kind=kind,
            text_key=key,
            values=values,
            buttons=buttons,
            due_at=now,
            expires_at=expires_at,
            ref=occurrence_ref(occurrence.id),
        )
        for subscription in active_subscriptions(session, group.id)
    ]


def cancel_occurrence(session: Session, occurrence: Occurrence, reason: str, actor: str, now: datetime) -> int:
    """Cancel one meeting: withdraw its reminders, tell every subscriber now. Returns notices queued."""
    if occurrence.status == CANCELLED:
        raise OccurrenceError("groups.staff.already_cancelled")
    if occurrence.starts_at <= now:
        raise OccurrenceError("groups.staff.in_the_past")
    group = session.get(Group, occurrence.group_id)
    assert group is not None
    occurrence.status = CANCELLED
    occurrence.reason = reason.strip()[:200] or None
    occurrence.changed_at = now
    cancel_pending(session, occurrence_ref(occurrence.id))
    following = next_happening(session, group.id, occurrence.starts_at)
    values: dict[str, object] = {
        "name": localized(group.names),
        "when": moment(occurrence.starts_at),
        "reason": reason_value(reason) if reason.strip() else nested("groups.reason.other"),
        "next": moment(following.starts_at) if following else nested("groups.no_meeting_planned"),
    }
    messages = _notices(
        session,
        group,
        occurrence,
        kind="group.cancelled",
        key="groups.cancelled_notice",
        values=values,
        now=now,
        expires_at=occurrence.starts_at,
        with_rsvp=False,
    )
    queued = queue(session, messages, now)
    audit(
        session,
        actor,
        "groups.cancel_occurrence",
        occurrence_ref(occurrence.id),
        group=group.id,
        reason=_reason_kind(reason),
        notices=queued,
    )
    return queued


def move_occurrence(
    session: Session, occurrence: Occurrence, new_start: datetime, reason: str, actor: str, now: datetime
) -> int:
    """Move one meeting to `new_start` (UTC): reminders are planned again for the new time, and every
    subscriber is told now (with RSVP buttons: earlier answers were for the old time)."""
    if new_start <= now:
        raise OccurrenceError("groups.staff.in_the_past")
    if max(occurrence.starts_at, occurrence.original_start) + timedelta(days=1) <= now:
        raise OccurrenceError("groups.staff.in_the_past")
    group = session.get(Group, occurrence.group_id)
    assert group is not None
    old_start = occurrence.starts_at
    length = occurrence.ends_at - occurrence.starts_at
    occurrence.starts_at = new_start
    occurrence.ends_at = new_start + length
    occurrence.status = MOVED
    occurrence.reason = reason.strip()[:200] or None
    occurrence.revision += 1
    occurrence.changed_at = now
    occurrence.planned = {}
    # A meeting may be moved up to a day after it started; a head count entered meanwhile was for a meeting
    # that, as it turns out, is still to come (the RSVPs go for the same reason).
    cleared = occurrence.attended
    occurrence.attended = None
    cancel_pending(session, occurrence_ref(occurrence.id))
    session.execute(delete(Rsvp).where(Rsvp.occurrence_id == occurrence.id))
    values: dict[str, object] = {
        "name": localized(group.names),
        "old": moment(old_start),
        "when": moment(new_start),
        "place": group.address,
        "reason": reason_value(reason) if reason.strip() else nested("groups.reason.other"),
    }
    messages = _notices(
        session,
        group,
        occurrence,
        kind="group.moved",
        key="groups.moved_notice",
        values=values,
        now=now,
        expires_at=new_start,
        with_rsvp=True,
    )
    queued = queue(session, messages, now)
    audit(
        session,
        actor,
        "groups.move_occurrence",
        occurrence_ref(occurrence.id),
        group=group.id,
        reason=_reason_kind(reason),
        notices=queued,
        old=old_start.isoformat(),
        new=new_start.isoformat(),
        **({"attended_cleared": cleared} if cleared is not None else {}),
    )
    return queued


def record_attendance(session: Session, occurrence: Occurrence, count: int, actor: str, now: datetime) -> int | None:
    """Store how many came to a meeting that has started (adults and children together); a new count replaces
    an earlier one. Audited each time, with the count it replaced. Returns that earlier count, or None."""
    if not 0 <= count <= MAX_ATTENDED:
        raise OccurrenceError("groups.staff.attended_bad_count")
    if occurrence.status == CANCELLED:
        raise OccurrenceError("groups.staff.attended_cancelled")
    if occurrence.starts_at > now:
        raise OccurrenceError("groups.staff.attended_not_started")
    previous = occurrence.attended
    occurrence.attended = count
    audit(
        session,
        actor,
        "groups.attendance",
        occurrence_ref(occurrence.id),
        group=occurrence.group_id,
        count=count,
        previous=previous,
    )
    return previous


def _reason_kind(reason: str) -> str:
    """What the audit log keeps of a reason: the code, or just "text" (free text could name someone)."""
    code = reason.strip().lower()
    return code if code in REASON_CODES else "text"
