"""The reminder planner: on each tick, queue the reminders that have become due (24 h and 2 h before, by default).

Rules (each reminder is an outbox row with a unique key, so planning twice queues nothing twice):
- A reminder kind is due at `start - offset`; it is queued at or after that time and expires at the start.
- When several kinds are due at once (after downtime), only the one closest to the start is sent.
- A reminder that fell due while no process planned (the bot was down) and whose meeting has started
  since is still queued, already past its `expires_at`: the sender records it `expired` and never sends
  it, so the outbox says what became of every reminder (issue 9). Meetings that started up to
  MISSED_LOOKBACK ago are looked at for this.
- Subscribers get only reminders that fell due after they subscribed (they have just seen the date),
  and after a move or a reinstatement, only reminders that fell due after it (the notice told them already).
- `Occurrence.planned` remembers up to when subscriptions were considered for each kind, so a tick
  looks only at subscriptions made since (with a margin for transactions that committed late).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import User
from bot.features.groups.models import HAPPENING, Group, Occurrence, Subscription
from bot.features.groups.occurrences import ensure_occurrences, occurrence_ref, rsvp_row
from bot.outbox import Message, localized, moment, queue

COMMIT_SLACK = timedelta(minutes=5)
# How long after a meeting's start a planner still records its missed reminders as expired: covers a
# restart after a day's downtime; the markers in `Occurrence.planned` keep it to one query per meeting.
MISSED_LOOKBACK = timedelta(days=1)


def reminder_key(subscription_id: int, occurrence: Occurrence, label: str) -> str:
    return f"group.reminder:{subscription_id}:{occurrence.id}:{occurrence.revision}:{label}"


def reminder_buttons(occurrence_id: int) -> list[list[tuple[str, str]]]:
    """RSVP and "stop" buttons: payloads of the `groups.reminder` step, checked again when pressed."""
    return [rsvp_row(occurrence_id), [("groups.rsvp_stop", f"groups.reminder:u{occurrence_id}")]]


def plan_reminders(session: Session, now: datetime, *, offsets: tuple[tuple[str, timedelta], ...], zone: tzinfo) -> int:
    """Queue the reminders due now; returns how many rows were added."""
    for group in session.scalars(select(Group).where(Group.active.is_(True))).all():
        ensure_occurrences(session, group, now, zone)
    if not offsets:
        return 0
    longest = max(offset for _label, offset in offsets)
    occurrences = session.scalars(
        select(Occurrence)
        .join(Group, Group.id == Occurrence.group_id)
        .where(
            Group.active.is_(True),
            Occurrence.status.in_(HAPPENING),
            Occurrence.starts_at > now - MISSED_LOOKBACK,
            Occurrence.starts_at <= now + longest,
        )
        .order_by(Occurrence.starts_at)
    ).all()
    added = 0
    for occurrence in occurrences:
        due = [(label, offset) for label, offset in offsets if occurrence.starts_at - offset <= now]
        if not due:
            continue
        label, offset = min(due, key=lambda item: item[1])
        added += _plan_one(session, occurrence, label, occurrence.starts_at - offset, now)
    return added


def _plan_one(session: Session, occurrence: Occurrence, label: str, due_at: datetime, now: datetime) -> int:
    marker = occurrence.planned.get(label)
    since = datetime.fromisoformat(marker) - COMMIT_SLACK if marker else None
    if since is not None and since >= due_at:
        return 0  # everyone who could get this reminder has been considered
    if occurrence.changed_at is not None and due_at < occurrence.changed_at:  # moved or reinstated: told then
        occurrence.planned = {**occurrence.planned, label: now.isoformat()}
        return 0
    query = (
        select(Subscription.id, Subscription.user_id)
        .join(User, User.id == Subscription.user_id)
        .where(
            Subscription.group_id == occurrence.group_id,
            Subscription.active.is_(True),
            Subscription.subscribed_at <= due_at,
            User.blocked_at.is_(None),
        )
    )
    if since is not None:
        query = query.where(Subscription.subscribed_at > since)
    subscribers = session.execute(query).all()
    group = session.get(Group, occurrence.group_id)
    assert group is not None
    values = {"name": localized(group.names), "when": moment(occurrence.starts_at), "place": group.address}
    buttons = reminder_buttons(occurrence.id)
    messages = [
        Message(
            key=reminder_key(subscription_id, occurrence, label),
            user_id=user_id,
            kind="group.reminder",
            text_key="groups.reminder",
            values=values,
            buttons=buttons,
            due_at=due_at,
            expires_at=occurrence.starts_at,
            ref=occurrence_ref(occurrence.id),
        )
        for subscription_id, user_id in subscribers
    ]
    occurrence.planned = {**occurrence.planned, label: now.isoformat()}
    return queue(session, messages, now)
