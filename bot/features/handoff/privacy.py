"""The handoff feature's part of /mydata (export), /delete (erasure) and retention.

Tickets carry no message text; the relayed messages do (only with consent). On erasure the relayed
messages go, an active ticket is closed (its counsellor is told, its card shows it), and the tickets themselves
are kept for statistics only as anonymous rows pointing at the privacy feature's placeholder user. What stays
of a relayed message is only the id of its copy in the staff group (no text, no kind), so that a counsellor
who answers it later hears that the request is closed instead of nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.core.context import Context
from bot.db.models import User
from bot.features.handoff.desk import IN, OUT, STAFF, HandoffDesk
from bot.features.handoff.models import Ticket, TicketMessage, TicketStatus


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def export_tickets(session: Session, user: User) -> dict[str, Any]:
    """The family's requests for a person, with the messages relayed for them (texts only if kept)."""
    tickets = session.scalars(select(Ticket).where(Ticket.user_id == user.id).order_by(Ticket.id)).all()
    exported = []
    for ticket in tickets:
        messages = session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id, TicketMessage.direction.in_((IN, OUT)))
            .order_by(TicketMessage.id)
        ).all()
        exported.append(
            {
                "request": ticket.id,
                "language": ticket.language,
                "topics": ticket.topic_list,
                "urgent": ticket.urgent,
                "reason": ticket.reason,
                "status": ticket.status,
                "opened": _iso(ticket.created_at),
                "taken_by_a_counsellor": _iso(ticket.claimed_at),
                "closed": _iso(ticket.closed_at),
                "rating": ticket.rating,
                "messages": [
                    {
                        "from": "you" if m.direction == "in" else "counsellor",
                        "media": m.media,
                        "text": m.text,
                        "at": _iso(m.created_at),
                    }
                    for m in messages
                ],
            }
        )
    return {"counsellor_requests": exported}


def erase_tickets(desk: HandoffDesk, ctx: Context) -> dict[str, int]:
    session, user = ctx.session, ctx.user
    ids = list(session.scalars(select(Ticket.id).where(Ticket.user_id == user.id)))
    if not ids:
        return {}
    ours = TicketMessage.ticket_id.in_(ids)
    deleted = _rowcount(session.execute(delete(TicketMessage).where(ours, TicketMessage.staff_message_id.is_(None))))
    blanked = _rowcount(
        session.execute(
            update(TicketMessage)
            .where(ours)
            .values(text=None, media=None, direction=STAFF)
            .execution_options(synchronize_session=False)
        )
    )
    counts = {"ticket_messages": deleted + blanked}
    closed = list(session.scalars(select(Ticket).where(Ticket.id.in_(ids), Ticket.status != TicketStatus.CLOSED)))
    for ticket in closed:
        ticket.status, ticket.closed_at, ticket.closed_by = TicketStatus.CLOSED.value, ctx.now, "family"
        desk.staff_notice(ctx, ticket, "family_erased")
    session.flush()
    try:
        from bot.features.privacy.data import reassign_to_placeholder
    except ImportError:  # without the privacy feature there is no placeholder: the tickets go too
        counts["tickets"] = _rowcount(session.execute(delete(Ticket).where(Ticket.id.in_(ids))))
        return counts
    counts["tickets"] = reassign_to_placeholder(session, Ticket, Ticket.user_id, user.id, ctx.now)
    for ticket in closed:  # drawn once the family is the placeholder: "data deleted", not its label
        session.refresh(ticket)
        desk.refresh_card(ctx, ticket)
    return counts


def purge_expired(desk: HandoffDesk, session: Session, now: datetime) -> dict[str, int]:
    """Relayed messages older than RETENTION_DAYS, and those of tickets closed CLOSED_TICKET_RETENTION_DAYS ago."""
    settings = desk.services.settings
    cutoff = now - timedelta(days=settings.retention_days)
    closed_cutoff = now - timedelta(days=settings.closed_ticket_retention_days)
    long_closed = select(Ticket.id).where(Ticket.status == TicketStatus.CLOSED, Ticket.closed_at < closed_cutoff)
    result = session.execute(
        delete(TicketMessage).where((TicketMessage.created_at < cutoff) | TicketMessage.ticket_id.in_(long_closed))
    )
    return {"ticket_messages": _rowcount(result)}


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
