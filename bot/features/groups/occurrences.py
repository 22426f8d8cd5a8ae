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
# What staff may type for each reason code, in any case: the code, and the words Finnish-speaking staff use
# (the usage texts list them in the staff language). Families get the code's text in their own language.
REASON_WORDS: dict[str, str] = {
    word: code
    for code, words in {
        "holiday": ("holiday", "loma", "lomat", "pyhä", "pyhäpäivä", "juhlapyhä", "arkipyhä"),
        "illness": ("illness", "sairaus", "sairastuminen", "sairas", "sairaana", "sairastunut", "sairasloma"),
        "weather": ("weather", "sää", "keli", "sääolot", "myrsky", "pakkanen", "liukkaus"),
        "other": ("other", "muu", "muu syy", "muut syyt"),
    }.items()
    for word in words
}
# A meeting can be moved to start only between these local times: "3" for 15.00 is a typing mistake, and
# no group meets in the night. The group's own scheduled time is always allowed.
MEETING_HOURS = (time(7, 0), time(22, 0))
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


def reason_code(reason: str) -> str | None:
    """The reason code staff meant ("Sairaus", "loma", "weather" → illness, holiday, weather); no reason at all
    (or only signs, "-") is `other`; free text is None."""
    words = " ".join(reason.casefold().split()).strip(".!")
    if not any(ch.isalpha() for ch in words):
        return "other"  # "-" or "?" would reach families as the reason
    return REASON_WORDS.get(words)


def reason_value(reason: str) -> object:
    """A known reason code is shown translated; anything else as staff wrote it."""
    code = reason_code(reason)
    return nested(f"groups.reason.{code}") if code else reason.strip()


class OccurrenceError(ValueError):
    """Why a staff change was refused; `key` is a string key for the reply, `values` fill it in (aware
    datetimes and times are formatted by whoever shows the reply, in its language)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


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
    _refuse_if_started(occurrence, now)
    group = session.get(Group, occurrence.group_id)
    assert group is not None
    occurrence.status = CANCELLED
    occurrence.reason = _stored_reason(reason)
    occurrence.changed_at = now
    cancel_pending(session, occurrence_ref(occurrence.id))
    following = next_happening(session, group.id, occurrence.starts_at)
    values: dict[str, object] = {
        "name": localized(group.names),
        "when": moment(occurrence.starts_at),
        "reason": reason_value(reason),
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
    session: Session,
    occurrence: Occurrence,
    new_start: datetime,
    reason: str,
    actor: str,
    now: datetime,
    *,
    zone: tzinfo,
    reinstate: bool = False,
) -> int:
    """Move one meeting to `new_start` (UTC): reminders are planned again for the new time, and every
    subscriber is told now (with RSVP buttons: earlier answers were for the old time).

    Refused (OccurrenceError) for a meeting that has started (as for a cancellation), a new time in the past
    or outside MEETING_HOURS, and a time when another meeting of the same group is on. A cancelled meeting
    is moved only with `reinstate`: it takes place after all, at `new_start`, and subscribers are told so
    (a cancelled meeting brought back by a plain move would read "moved" to families told it is off).
    """
    group = session.get(Group, occurrence.group_id)
    assert group is not None
    _refuse_if_started(occurrence, now)
    if occurrence.status == CANCELLED and not reinstate:
        raise OccurrenceError("groups.staff.move_cancelled", id=occurrence.id, when=occurrence.starts_at)
    if occurrence.status != CANCELLED and reinstate:
        raise OccurrenceError("groups.staff.not_cancelled", id=occurrence.id)
    if new_start <= now:
        raise OccurrenceError("groups.staff.in_the_past")
    local = new_start.astimezone(zone).time()
    if new_start != occurrence.original_start and not MEETING_HOURS[0] <= local <= MEETING_HOURS[1]:
        raise OccurrenceError("groups.staff.odd_hour", clock=local, earliest=MEETING_HOURS[0], latest=MEETING_HOURS[1])
    if new_start == occurrence.starts_at and not reinstate:
        raise OccurrenceError("groups.staff.same_time", id=occurrence.id, when=new_start)
    length = occurrence.ends_at - occurrence.starts_at
    other = _meeting_during(session, group, occurrence, new_start, new_start + length, now, zone)
    if other is not None:
        raise OccurrenceError("groups.staff.overlap", id=other.id, when=other.starts_at)
    old_start = occurrence.starts_at
    occurrence.starts_at = new_start
    occurrence.ends_at = new_start + length
    occurrence.status = SCHEDULED if reinstate and new_start == occurrence.original_start else MOVED
    occurrence.reason = None if reinstate else _stored_reason(reason)
    occurrence.revision += 1
    occurrence.changed_at = now
    occurrence.planned = {}
    cancel_pending(session, occurrence_ref(occurrence.id))
    session.execute(delete(Rsvp).where(Rsvp.occurrence_id == occurrence.id))
    values: dict[str, object] = {"name": localized(group.names), "when": moment(new_start), "place": group.address}
    if not reinstate:
        values.update(old=moment(old_start), reason=reason_value(reason))
    kind = "group.reinstated" if reinstate else "group.moved"
    messages = _notices(
        session,
        group,
        occurrence,
        kind=kind,
        key="groups.reinstated_notice" if reinstate else "groups.moved_notice",
        values=values,
        now=now,
        expires_at=new_start,
        with_rsvp=True,
    )
    queued = queue(session, messages, now)
    audit(
        session,
        actor,
        "groups.reinstate_occurrence" if reinstate else "groups.move_occurrence",
        occurrence_ref(occurrence.id),
        group=group.id,
        **({} if reinstate else {"reason": _reason_kind(reason)}),
        notices=queued,
        old=old_start.isoformat(),
        new=new_start.isoformat(),
    )
    return queued


def _refuse_if_started(occurrence: Occurrence, now: datetime) -> None:
    """A meeting that has started can be neither cancelled nor moved: families may be on their way."""
    if occurrence.starts_at <= now:
        raise OccurrenceError("groups.staff.already_started", id=occurrence.id, when=occurrence.starts_at)


def _meeting_during(
    session: Session, group: Group, occurrence: Occurrence, start: datetime, end: datetime, now: datetime, zone: tzinfo
) -> Occurrence | None:
    """Another meeting of the group (not cancelled) that would be on at some time in [start, end)."""
    # The schedule's meetings up to the new time become rows now (rows are made some weeks ahead only): so
    # they are seen here, and none is generated later on top of the moved one.
    ensure_occurrences(session, group, now, zone, horizon=max(HORIZON, end - now + timedelta(days=1)), force=True)
    return session.scalar(
        select(Occurrence)
        .where(
            Occurrence.group_id == group.id,
            Occurrence.id != occurrence.id,
            Occurrence.status != CANCELLED,
            Occurrence.starts_at < end,
            Occurrence.ends_at > start,
        )
        .order_by(Occurrence.starts_at)
        .limit(1)
    )


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
    """What the audit log keeps of a reason: the code (`other` when none was given), or just "text" (free
    text could name someone)."""
    return reason_code(reason) or "text"


def _stored_reason(reason: str) -> str | None:
    """The reason kept on the meeting: its code, or the text as written (at most 200 characters)."""
    if not reason.strip():
        return None
    return reason_code(reason) or reason.strip()[:200]
