"""The groups feature's part of /mydata (export) and /delete (erasure): subscriptions and RSVPs.

Reminders waiting in the outbox for the family are the privacy feature's (foundation) business; they go
with the user row. `register_privacy` is idempotent, so the groups feature may call it too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.core.context import Context
from bot.core.registry import Registry
from bot.db.models import User
from bot.features.groups.models import Group, Occurrence, Rsvp, Subscription


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def export_groups(session: Session, user: User) -> dict[str, Any]:
    language = user.language or "en"
    subscriptions = session.execute(
        select(Subscription, Group)
        .join(Group, Group.id == Subscription.group_id)
        .where(Subscription.user_id == user.id)
        .order_by(Subscription.id)
    ).all()
    rsvps = session.execute(
        select(Rsvp, Occurrence, Group)
        .join(Occurrence, Occurrence.id == Rsvp.occurrence_id)
        .join(Group, Group.id == Occurrence.group_id)
        .where(Rsvp.user_id == user.id)
        .order_by(Rsvp.id)
    ).all()
    return {
        "group_reminders": [
            {
                "group": group.name(language),
                "reminders_on": subscription.active,
                "since": _iso(subscription.subscribed_at),
                "stopped": _iso(subscription.ended_at),
            }
            for subscription, group in subscriptions
        ],
        "group_answers": [
            {
                "group": group.name(language),
                "meeting_starts_at": _iso(occurrence.starts_at),
                "answer": rsvp.answer,
                "answered_at": _iso(rsvp.answered_at),
            }
            for rsvp, occurrence, group in rsvps
        ],
    }


def erase_groups(ctx: Context) -> dict[str, int]:
    session, user_id = ctx.session, ctx.user.id
    rsvps = session.execute(delete(Rsvp).where(Rsvp.user_id == user_id))
    subscriptions = session.execute(delete(Subscription).where(Subscription.user_id == user_id))
    return {
        "group_rsvps": int(getattr(rsvps, "rowcount", 0) or 0),
        "group_subscriptions": int(getattr(subscriptions, "rowcount", 0) or 0),
    }


def register_privacy(registry: Registry) -> None:
    if export_groups not in registry.privacy_exporters:
        registry.privacy_exporters.append(export_groups)
    if erase_groups not in registry.privacy_erasers:
        registry.privacy_erasers.append(erase_groups)
