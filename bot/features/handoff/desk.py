"""The help desk: opening, claiming, closing and relaying tickets between a family and the staff group.

Everything here runs inside the transaction of the message being handled and only *decides* replies
(to the family, to the staff group, to a counsellor); the channel sends them. Ticket state lives in the
database alone, so a ticket survives a restart of the bot in every state.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.context import Context
from bot.core.messages import Button, Incoming, MediaKind, Recipient, Reply, UserRef
from bot.core.services import Services
from bot.core.texts import LANGUAGE_NAMES, Safe
from bot.db.models import ConversationState, Counsellor, MessageLog, User
from bot.features.handoff.config import WEEKDAY_NAMES, HandoffConfig
from bot.features.handoff.models import Ticket, TicketMessage, TicketReason, TicketStatus
from bot.features.handoff.office_hours import answers_today, is_open, next_opening, realert_due
from bot.features.handoff.translate import Translator
from bot.staff import actor_label, audit
from bot.timefmt import format_clock, format_clock_read, format_day_month, format_duration

log = logging.getLogger(__name__)
TICKETS = cast(Table, Ticket.__table__)
ACTIVE_TICKET_ID = (
    select(TICKETS.c.id).where(TICKETS.c.user_id == bindparam("user"), TICKETS.c.status != TicketStatus.CLOSED).limit(1)
)

TRACK = "ticket"  # the sent-hook prefix: ticket:card:<ticket id>, ticket:msg:<ticket message id>
PAYLOAD = "ticket"  # staff buttons: ticket:claim:<id>, ticket:close:<id>
MAX_RELAY_CHARS = 3500  # room for the label and a translation inside Telegram's 4096
MAX_TRANSLATION_CHARS = 500
MAX_CARD_LINE = 300
MEDIA_ICONS = {
    MediaKind.PHOTO: "🖼️",
    MediaKind.VOICE: "🎙️",
    MediaKind.AUDIO: "🎵",
    MediaKind.VIDEO: "🎬",
    MediaKind.DOCUMENT: "📄",
    MediaKind.STICKER: "🙂",
}
TELEGRAM = "telegram"  # counsellors are reached on Telegram (Counsellor.telegram_id)


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def fit(text: str, limit: int) -> str:
    """`text` escaped for HTML and cut so that the escaped form stays within `limit` characters."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = text[:limit]
    while len(escape(cut)) > limit - 1:
        cut = cut[: max(0, len(cut) - max(1, (len(escape(cut)) - limit) // 2 + 1))]
    return escape(cut) + "…"


@dataclass
class HandoffDesk:
    services: Services
    config: HandoffConfig
    translator: Translator

    # ------------------------------------------------------------------ lookups and texts
    def active_ticket(self, session: Session, user_id: int) -> Ticket | None:
        """The family's request that is not closed (a unique index allows one).

        Asked for every message a family writes, before anything else in its transaction: a plain
        statement finds the (rare) ticket's id, and only then is the ticket loaded."""
        ticket_id = session.connection().execute(ACTIVE_TICKET_ID, {"user": user_id}).scalar()
        return session.get(Ticket, ticket_id) if ticket_id is not None else None

    def ticket_for_staff_message(self, session: Session, incoming: Incoming) -> Ticket | None:
        """The ticket a message in the staff group belongs to: by its forum topic, or by what it replies to."""
        if incoming.thread_id is not None:
            ticket = session.scalar(
                select(Ticket).where(Ticket.staff_thread_id == incoming.thread_id).order_by(Ticket.id.desc()).limit(1)
            )
            if ticket is not None:
                return ticket
        target = incoming.reply_to_message_id
        if target is None:
            return None
        ticket = session.scalar(select(Ticket).where(Ticket.card_message_id == target).order_by(Ticket.id.desc()))
        if ticket is not None:
            return ticket
        ticket_id = session.scalar(
            select(TicketMessage.ticket_id)
            .where(TicketMessage.staff_message_id == target)
            .order_by(TicketMessage.id.desc())
            .limit(1)
        )
        return session.get(Ticket, ticket_id) if ticket_id is not None else None

    def staff_t(self, key: str, /, **values: object) -> str:
        return self.services.texts.get(self.config.staff_language, f"handoff.staff.{key}", **values)

    def family_t(self, family: User, key: str, /, **values: object) -> str:
        return self.services.texts.get(family.language, key, **values)

    def staff_clock(self, moment: datetime) -> str:
        """A time on a card, as the staff's language writes it ("8.05" in Finnish)."""
        return format_clock(self.config.staff_language, self.local(moment).time())

    def staff_when(self, moment: datetime) -> str:
        """A day and time on a card or in the queue: "30.11. 8.05" in Finnish, "30 Nov 08:05" in English."""
        local = self.local(moment)
        language = self.config.staff_language
        return f"{format_day_month(language, local.date())} {format_clock(language, local.time())}"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.config.office_hours.timezone))

    @staticmethod
    def family_ref(family: User) -> UserRef:
        return UserRef(family.channel, family.external_id)

    def staff_to(self, ticket: Ticket, *, reply_to: int | None = None) -> Recipient:
        """Where a message about `ticket` goes: its forum topic, or the group as a reply to its card."""
        if ticket.staff_thread_id is not None:
            return Recipient(staff=True, thread_id=ticket.staff_thread_id, reply_to=reply_to)
        return Recipient(staff=True, reply_to=reply_to or ticket.card_message_id)

    def staff_notice(self, ctx: Context, ticket: Ticket, key: str, /, **values: object) -> None:
        ctx.send(Reply(text=self.staff_t(key, ticket=ticket.id, **values), to=self.staff_to(ticket)))

    # ------------------------------------------------------------------ what the family is told
    def when_text(self, family: User, now: datetime, *, urgent: bool) -> list[str]:
        """What happens next and when, in the family's language, from the office hours.

        Just before closing (`CLOSING_MARGIN`) the family hears that counsellors stop soon, the next opening and,
        as out of hours, the emergency numbers."""
        hours = self.config.office_hours
        until = format_clock_read(family.language, hours.closes)
        if answers_today(now, hours):
            key = "handoff.urgent_now" if urgent else "handoff.answer_today"
            return [self.family_t(family, key, until=until)]
        closing = is_open(now, hours)
        opening = self.local(next_opening(now, hours))
        day = self.family_t(family, f"handoff.weekday.{WEEKDAY_NAMES[opening.weekday()]}")
        values = {
            "day": day,
            "date": format_day_month(family.language, opening.date()),
            "time": format_clock_read(family.language, opening.time()),
        }
        if closing:
            key = "handoff.urgent_closing" if urgent else "handoff.answer_closing"
            told = [self.family_t(family, key, until=until, **values)]
            return told if urgent else [*told, self.family_t(family, "emergency.info")]
        # Before the office opens, "the next working day: Monday 30.11." read oddly on that Monday.
        today = opening.date() == self.local(now).date()
        if urgent:
            if today:
                return [self.family_t(family, "handoff.urgent_later_today", time=values["time"])]
            return [self.family_t(family, "handoff.urgent_later", **values)]
        if today:
            later = self.family_t(family, "handoff.answer_later_today", time=values["time"])
        else:
            later = self.family_t(family, "handoff.answer_later", **values)
        return [later, self.family_t(family, "emergency.info")]

    def drive_family(self, ctx: Context, ticket: Ticket, ref: str, **values: object) -> None:
        """Move the family (not the person whose message this is) to a step, and send them what it shows."""
        session = ctx.session
        family = session.get(User, ticket.user_id)
        if family is None:
            return
        state = session.get(ConversationState, family.id)
        if state is None:
            state = ConversationState(user_id=family.id, vars={}, misunderstood=0)
            session.add(state)
        ref_user = self.family_ref(family)
        family_ctx = Context(
            session, family, state, Incoming(ref_user), self.services, ctx.conversation, ctx.now, values=dict(values)
        )
        ctx.conversation.go(family_ctx, ref)
        for reply in family_ctx.replies:
            ctx.send(replace(reply, to=Recipient(user=ref_user), edit=False))

    # ------------------------------------------------------------------ opening
    def open(
        self, ctx: Context, *, reason: TicketReason, urgent: bool = False, topics: list[str] | None = None
    ) -> tuple[Ticket, bool]:
        """The family's active ticket, made urgent if asked; a new one (and its card) if there is none."""
        existing = self.active_ticket(ctx.session, ctx.user.id)
        if existing is not None:
            self._merge(ctx, existing, urgent=urgent, topics=topics or [])
            return existing, False
        ticket = Ticket(
            user_id=ctx.user.id,
            language=ctx.language,
            topics=",".join(dict.fromkeys(topics or []))[:200],
            urgent=urgent,
            reason=reason.value,
            status=TicketStatus.OPEN.value,
            created_at=ctx.now,
            alerts=0,
        )
        try:
            with ctx.session.begin_nested():  # a concurrent request from the same family may have won
                ctx.session.add(ticket)
                ctx.session.flush()
        except IntegrityError:
            existing = self.active_ticket(ctx.session, ctx.user.id)
            if existing is None:
                raise
            return existing, False
        log.info("ticket %d opened (%s%s)", ticket.id, reason.value, ", urgent" if urgent else "")
        ctx.send(self.card(ctx.session, ticket, new_topic=True))
        return ticket, True

    def _merge(self, ctx: Context, ticket: Ticket, *, urgent: bool, topics: list[str]) -> None:
        if topics:
            ticket.topics = ",".join(dict.fromkeys([*ticket.topic_list, *topics]))[:200]
        if urgent and not ticket.urgent:
            ticket.urgent = True
            ticket.last_alert_at = None  # re-alerts now follow the urgent rhythm
            log.info("ticket %d is now urgent", ticket.id)

    # ------------------------------------------------------------------ the ticket card
    def card(self, session: Session, ticket: Ticket, *, new_topic: bool = False, edit: bool = False) -> Reply:
        family = session.get(User, ticket.user_id)
        label = family.label if family is not None else "—"
        to = self.staff_to(ticket)
        if edit:
            to = Recipient(staff=True, thread_id=ticket.staff_thread_id)
        elif new_topic:
            urgent = " 🔴" if ticket.urgent else ""
            name = f"#{ticket.id} {LANGUAGE_NAMES.get(ticket.language, ticket.language)} {label}{urgent}"
            to = Recipient(staff=True, new_topic=name[:128])
        return Reply(
            text=self.card_text(session, ticket, family),
            buttons=self.card_buttons(ticket),
            to=to,
            edit=edit,
            track=f"{TRACK}:card:{ticket.id}",
        )

    def card_buttons(self, ticket: Ticket) -> tuple[tuple[Button, ...], ...]:
        claim = Button(self.staff_t("claim"), f"{PAYLOAD}:claim:{ticket.id}")
        close = Button(self.staff_t("close"), f"{PAYLOAD}:close:{ticket.id}")
        if ticket.status == TicketStatus.OPEN:
            return ((claim, close),)
        if ticket.status == TicketStatus.CLAIMED:
            return ((close,),)
        return ()

    def card_text(self, session: Session, ticket: Ticket, family: User | None) -> str:
        language = self.config.staff_language
        texts = self.services.texts
        status = self.staff_t("status_open")
        if ticket.status == TicketStatus.CLAIMED:
            counsellor = session.get(Counsellor, ticket.counsellor_id) if ticket.counsellor_id else None
            name = counsellor.name if counsellor else "?"
            claimed = self.staff_clock(ticket.claimed_at or ticket.created_at)
            status = self.staff_t("status_claimed", name=name, time=claimed)
        elif ticket.status == TicketStatus.CLOSED:
            status = self.staff_t("status_closed", time=self.staff_clock(ticket.closed_at or ticket.created_at))
        topics = ", ".join(self.topic_name(topic) for topic in ticket.topic_list) or self.staff_t("no_topic")
        lines = [
            self.staff_t(
                "card",
                ticket=ticket.id,
                urgency=Safe(self.staff_t("urgent") if ticket.urgent else self.staff_t("normal")),
                language=f"{LANGUAGE_NAMES.get(ticket.language, ticket.language)} ({ticket.language})",
                topics=Safe(topics),
                label=family.label if family is not None else "—",
                reason=Safe(texts.get(language, f"handoff.staff.reason_{ticket.reason}")),
                opened=self.staff_when(ticket.created_at),
                status=Safe(status),
            )
        ]
        recent = self.recent_messages(session, family)
        if recent:
            lines.append(self.staff_t("recent"))
            lines.extend(f"• {fit(text, MAX_CARD_LINE)}" for text in recent)
        return "\n".join(lines)

    def topic_name(self, topic: str) -> str:
        """A topic id as HTML in the staff language."""
        texts = self.services.texts
        if texts.has(f"intent.{topic}"):
            return texts.get(self.config.staff_language, f"intent.{topic}")
        guide = self.services.features.get("guide")
        if topic.startswith("guide:") and guide is not None:
            section = guide.get(self.config.staff_language, topic.removeprefix("guide:"))
            if section is not None:
                return escape(f"{section.icon} {section.title}")
        return escape(topic)

    def recent_messages(self, session: Session, family: User | None) -> list[str]:
        """The family's last few messages to the bot: only with their consent (nothing is kept otherwise)."""
        if family is None or not family.has_consent:
            return []
        rows = session.scalars(
            select(MessageLog.text)
            .where(MessageLog.user_id == family.id, MessageLog.direction == "in")
            .order_by(MessageLog.id.desc())
            .limit(self.config.recent_messages)
        ).all()
        return list(reversed(rows))

    # ------------------------------------------------------------------ relaying
    def relay_from_family(
        self, ctx: Context, ticket: Ticket, *, text: str | None, media: MediaKind | None, media_ref: str | None
    ) -> None:
        """Copy a family's message (text or media by file id) to the ticket's place in the staff group."""
        family = ctx.user
        text = (text or "").strip()
        row = TicketMessage(
            ticket_id=ticket.id,
            direction="in",
            media=media.value if media else None,
            text=(text or None) if family.has_consent else None,
            created_at=ctx.now,
        )
        ctx.session.add(row)
        ctx.session.flush()
        head = self.staff_t("from_family", label=family.label, ticket=ticket.id)
        if media is not None:
            head = f"{MEDIA_ICONS.get(media, '📎')} {head}"
        body = head + ("\n" + fit(text, MAX_RELAY_CHARS) if text else "")
        translation = self.translator.translate(text, ticket.language, self.config.staff_language) if text else None
        if translation:
            body += "\n\n" + self.staff_t(
                "machine_translation",
                source=ticket.language,
                target=self.config.staff_language,
                translation=Safe(fit(translation, MAX_TRANSLATION_CHARS)),
            )
        if media is not None and media_ref is None:
            body += "\n" + self.staff_t("media_not_relayed")
        ctx.send(
            Reply(
                text=body,
                to=self.staff_to(ticket),
                track=f"{TRACK}:msg:{row.id}",
                media=(media, media_ref) if media is not None and media_ref else None,
            )
        )

    def relay_to_family(
        self,
        ctx: Context,
        ticket: Ticket,
        counsellor: Counsellor,
        *,
        text: str | None,
        media: MediaKind | None,
        media_ref: str | None,
    ) -> None:
        family = ctx.session.get(User, ticket.user_id)
        if family is None:
            return
        if family.blocked_at is not None:
            self.staff_notice(ctx, ticket, "family_blocked")
            return
        text = (text or "").strip()
        ctx.session.add(
            TicketMessage(
                ticket_id=ticket.id,
                direction="out",
                media=media.value if media else None,
                text=(text or None) if family.has_consent else None,
                created_at=ctx.now,
            )
        )
        body = self.family_t(family, "handoff.from_counsellor", name=counsellor.name)
        if text:
            body += "\n" + fit(text, MAX_RELAY_CHARS)
        ctx.send(
            Reply(
                text=body,
                to=Recipient(user=self.family_ref(family)),
                media=(media, media_ref) if media is not None and media_ref else None,
            )
        )
        audit(ctx.session, actor_label(counsellor), "ticket.reply", f"ticket:{ticket.id}", media=bool(media))

    # ------------------------------------------------------------------ claiming and closing
    def claim(self, ctx: Context, ticket: Ticket, counsellor: Counsellor, *, from_card: bool) -> bool:
        """Claim an open ticket; False when someone else was first (an atomic update decides)."""
        result = ctx.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == TicketStatus.OPEN)
            .values(status=TicketStatus.CLAIMED.value, counsellor_id=counsellor.id, claimed_at=ctx.now)
            .execution_options(synchronize_session=False)
        )
        ctx.session.refresh(ticket)
        if getattr(result, "rowcount", 0) != 1:
            return False
        audit(ctx.session, actor_label(counsellor), "ticket.claim", f"ticket:{ticket.id}")
        log.info("ticket %d claimed", ticket.id)
        if from_card:
            ctx.send(self.card(ctx.session, ticket, edit=True))
        hint = "claimed_topic" if ticket.staff_thread_id is not None else "claimed_reply"
        self.staff_notice(ctx, ticket, hint, name=counsellor.name)
        self.drive_family(ctx, ticket, "handoff.connected", name=counsellor.name)
        return True

    def close(self, ctx: Context, ticket: Ticket, *, counsellor: Counsellor | None, from_card: bool = False) -> bool:
        """Close a ticket, by a counsellor (`counsellor`) or by the family (None). False if already closed."""
        was = ticket.status
        result = ctx.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status != TicketStatus.CLOSED)
            .values(
                status=TicketStatus.CLOSED.value,
                closed_at=ctx.now,
                closed_by="counsellor" if counsellor is not None else "family",
            )
            .execution_options(synchronize_session=False)
        )
        ctx.session.refresh(ticket)
        if getattr(result, "rowcount", 0) != 1:
            return False
        log.info("ticket %d closed", ticket.id)
        if from_card:
            ctx.send(self.card(ctx.session, ticket, edit=True))
        if counsellor is not None:
            audit(ctx.session, actor_label(counsellor), "ticket.close", f"ticket:{ticket.id}")
            self.staff_notice(ctx, ticket, "closed_notice", name=counsellor.name)
            self.drive_family(ctx, ticket, "handoff.closed")
        elif was == TicketStatus.CLAIMED:
            self.staff_notice(ctx, ticket, "family_stopped")
            self.drive_family(ctx, ticket, "handoff.closed")
        else:
            self.staff_notice(ctx, ticket, "family_cancelled")
        return True

    def rate(self, ctx: Context, stars: int) -> Ticket | None:
        """Store a 1–5 rating on the family's latest closed, unrated ticket (never trusting the button)."""
        if not 1 <= stars <= 5:
            return None
        ticket = ctx.session.scalar(
            select(Ticket)
            .where(Ticket.user_id == ctx.user.id, Ticket.status == TicketStatus.CLOSED, Ticket.rating.is_(None))
            .order_by(Ticket.closed_at.desc(), Ticket.id.desc())
            .limit(1)
        )
        if ticket is None or ticket.closed_at is None or ctx.now - ticket.closed_at > timedelta(days=30):
            return None
        ticket.rating = stars
        self.staff_notice(ctx, ticket, "rated", stars=stars)
        return ticket

    # ------------------------------------------------------------------ re-alerts and retention
    def due_realerts(self, session: Session, now: datetime) -> list[Reply]:
        """Announce again every open ticket that waited too long; urgent ones also to counsellors on duty."""
        interval = timedelta(minutes=self.config.realert_minutes)
        replies: list[Reply] = []
        on_duty: list[Counsellor] | None = None
        for ticket in session.scalars(select(Ticket).where(Ticket.status == TicketStatus.OPEN).order_by(Ticket.id)):
            if not realert_due(
                created_at=ticket.created_at,
                last_alert_at=ticket.last_alert_at,
                urgent=ticket.urgent,
                now=now,
                hours=self.config.office_hours,
                interval=interval,
            ):
                continue
            ticket.last_alert_at = now
            ticket.alerts = (ticket.alerts or 0) + 1
            waited = format_duration(self.config.staff_language, now - ticket.created_at)  # "2 vrk 16 h"
            language = LANGUAGE_NAMES.get(ticket.language, ticket.language)
            key = "realert_urgent" if ticket.urgent else "realert"
            replies.append(
                Reply(
                    text=self.staff_t(key, ticket=ticket.id, language=language, waited=waited),
                    to=self.staff_to(ticket),
                )
            )
            if ticket.urgent:
                if on_duty is None:
                    on_duty = list(
                        session.scalars(
                            select(Counsellor).where(Counsellor.active.is_(True), Counsellor.on_duty.is_(True))
                        )
                    )
                text = self.staff_t("private_alert", ticket=ticket.id, language=language, waited=waited)
                replies.extend(
                    Reply(text=text, to=Recipient(user=UserRef(TELEGRAM, str(c.telegram_id)))) for c in on_duty
                )
        return replies
