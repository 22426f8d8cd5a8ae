"""The help desk: opening, claiming, closing and relaying tickets between a family and the staff group.

Everything here runs inside the transaction of the message being handled and only *decides* replies
(to the family, to the staff group, to a counsellor); the channel sends them. Ticket state lives in the
database alone, so a ticket survives a restart of the bot in every state.

Every message of the bot in the staff group that belongs to a ticket (its card, each part of a relayed
message, each notice) and every counsellor's message written for it is linked to it in `ticket_messages`, so
that a reply to any of them finds the ticket. The card is edited whenever the ticket's state changes.
"""

from __future__ import annotations

import html
import logging
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.context import Context
from bot.core.messages import Button, Incoming, MediaKind, Recipient, Reply, UserRef, telegram_length
from bot.core.services import Services
from bot.core.texts import LANGUAGE_NAMES, Safe
from bot.db.models import ConversationState, Counsellor, MessageLog, User
from bot.features.handoff.config import WEEKDAY_NAMES, HandoffConfig
from bot.features.handoff.models import Ticket, TicketMessage, TicketReason, TicketStatus
from bot.features.handoff.office_hours import answers_today, is_open, next_opening, realert_due
from bot.features.handoff.translate import Translator
from bot.features.privacy.data import ERASED_CHANNEL
from bot.staff import actor_label, audit
from bot.timefmt import format_clock, format_clock_read, format_day_month, format_duration

log = logging.getLogger(__name__)
TICKETS = cast(Table, Ticket.__table__)
ACTIVE_TICKET_ID = (
    select(TICKETS.c.id).where(TICKETS.c.user_id == bindparam("user"), TICKETS.c.status != TicketStatus.CLOSED).limit(1)
)

# The sent-hook prefix: ticket:card:<ticket id>, ticket:msg:<ticket message id> (a relayed message's parts in
# the staff group), ticket:notice:<ticket id> (the bot's notices there), ticket:out:<ticket message id> (a
# counsellor's message to the family: reported back only when it could not be delivered).
TRACK = "ticket"
# Staff buttons: ticket:claim:<id>, ticket:close:<id> (on an open ticket: asks first), ticket:close_confirmed:<id>,
# ticket:close_back:<id>, ticket:take_over:<id>.
PAYLOAD = "ticket"
# A counsellor's message that starts with this stays in the staff group: never relayed, never claims.
NOTE_MARKER = "//"
# Where ticket_messages.direction says what a row links: the family's message (in), a counsellor's (out), a
# counsellor's internal note, or another message of the bot in the staff group (a notice, a further part).
IN, OUT, NOTE, STAFF = "in", "out", "note", "staff"
TELEGRAM_LIMIT = 4096  # a message's length after entity parsing (telegram_length)
PART_MARK_ROOM = 10  # " (12/12)" after the head of a message relayed in parts
SPLIT_MARGIN = 16
MIN_PIECE = 200
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


def is_note(text: str | None) -> bool:
    """A counsellor's internal note: it starts with NOTE_MARKER."""
    # NFKC: some keyboards type full-width slashes ("／／").
    return unicodedata.normalize("NFKC", text or "").lstrip().startswith(NOTE_MARKER)


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # Telegram counts UTF-16 code units


def _fitting(text: str, room: int) -> int:
    """How many characters of `text` fit in `room` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += _units(char)
        if used > room:
            return index
    return len(text)


BOUNDARIES = (("\n\n",), ("\n",), (". ", "! ", "? ", "؟ ", "… ", "。"), (" ",))


def _boundary(window: str) -> int:
    """Where to cut `window`: after the last paragraph, line, sentence or word in its second half."""
    half = len(window) // 2
    for separators in BOUNDARIES:
        found = [window.rfind(sep, half) + len(sep) for sep in separators if window.rfind(sep, half) >= 0]
        if found:
            return max(found)
    return len(window)


def split_text(text: str, room: int) -> list[str]:
    """`text` (plain, not escaped) in pieces of at most `room` characters as Telegram counts them, each cut at
    a paragraph, a line, a sentence or a word in its second half where there is one; nothing is left out
    but the white space at the cuts."""
    room = max(room, MIN_PIECE)
    pieces: list[str] = []
    rest = text
    while _fitting(rest, room) < len(rest):
        window = rest[: _fitting(rest, room)]
        cut = _boundary(window)
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece:
            pieces.append(piece)
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces


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
        if incoming.reply_to_message_id is None:
            return None
        return self.ticket_of_message(session, incoming.reply_to_message_id)

    def ticket_of_message(self, session: Session, message_id: int) -> Ticket | None:
        """The ticket a message in the staff group is linked to: its card, or any message linked to it."""
        ticket = session.scalar(select(Ticket).where(Ticket.card_message_id == message_id).order_by(Ticket.id.desc()))
        if ticket is not None:
            return ticket
        ticket_id = session.scalar(
            select(TicketMessage.ticket_id)
            .where(TicketMessage.staff_message_id == message_id)
            .order_by(TicketMessage.id.desc())
            .limit(1)
        )
        return session.get(Ticket, ticket_id) if ticket_id is not None else None

    def replies_to_note(self, session: Session, incoming: Incoming) -> bool:
        """A reply to a counsellor's internal note goes on with the note: it stays in the group too."""
        if incoming.reply_to_message_id is None:
            return False
        direction = session.scalar(
            select(TicketMessage.direction)
            .where(TicketMessage.staff_message_id == incoming.reply_to_message_id)
            .order_by(TicketMessage.id.desc())
            .limit(1)
        )
        return direction == NOTE

    def link(self, session: Session, ticket: Ticket, direction: str, message_id: int | None, now: datetime) -> None:
        """Link a message in the staff group to `ticket`, so that a reply to it finds the ticket."""
        if message_id is not None:
            session.add(
                TicketMessage(ticket_id=ticket.id, direction=direction, staff_message_id=message_id, created_at=now)
            )

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

    def notice(
        self,
        ticket: Ticket,
        key: str,
        /,
        *,
        reply_to: int | None = None,
        buttons: tuple[tuple[Button, ...], ...] = (),
        **values: object,
    ) -> Reply:
        """A notice about `ticket` in the staff group, linked to it (a reply to it finds the ticket)."""
        return Reply(
            text=self.staff_t(key, ticket=ticket.id, **values),
            to=self.staff_to(ticket, reply_to=reply_to),
            buttons=buttons,
            track=f"{TRACK}:notice:{ticket.id}",
        )

    def staff_notice(
        self,
        ctx: Context,
        ticket: Ticket,
        key: str,
        /,
        *,
        reply_to: int | None = None,
        buttons: tuple[tuple[Button, ...], ...] = (),
        **values: object,
    ) -> None:
        ctx.send(self.notice(ticket, key, reply_to=reply_to, buttons=buttons, **values))

    def family_label(self, family: User | None) -> str:
        """The card's label of the family: a pseudonym, or a neutral word once they have erased their data."""
        if family is None or family.channel == ERASED_CHANNEL:
            return self.staff_t("erased_label")
        return family.label

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

    def drive_family(self, ctx: Context, ticket: Ticket, ref: str, /, **values: object) -> None:
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
        changed = False
        if topics:
            merged = ",".join(dict.fromkeys([*ticket.topic_list, *topics]))[:200]
            changed = merged != ticket.topics
            ticket.topics = merged
        if urgent and not ticket.urgent:
            ticket.urgent = True
            ticket.last_alert_at = None  # re-alerts now follow the urgent rhythm
            log.info("ticket %d is now urgent", ticket.id)
            changed = True
        if changed:
            self.refresh_card(ctx, ticket)

    # ------------------------------------------------------------------ the ticket card
    def card(
        self,
        session: Session,
        ticket: Ticket,
        *,
        new_topic: bool = False,
        edit: bool = False,
        confirm_close: bool = False,
    ) -> Reply:
        """The ticket's card: a new one, or (`edit`) the card in place, as the ticket is now."""
        family = session.get(User, ticket.user_id)
        label = self.family_label(family)
        to = self.staff_to(ticket)
        if edit:
            to = Recipient(staff=True, thread_id=ticket.staff_thread_id, edit_message_id=ticket.card_message_id)
        elif new_topic:
            urgent = " 🔴" if ticket.urgent else ""
            name = f"#{ticket.id} {LANGUAGE_NAMES.get(ticket.language, ticket.language)} {label}{urgent}"
            to = Recipient(staff=True, new_topic=name[:128])
        return Reply(
            text=self.card_text(session, ticket, family),
            buttons=self.card_buttons(ticket, confirm_close=confirm_close),
            to=to,
            edit=edit,
            track=f"{TRACK}:card:{ticket.id}",
        )

    def refresh_card(self, ctx: Context, ticket: Ticket) -> None:
        """Edit the card to the ticket's state now (who has it, closed, urgent), with the buttons that fit."""
        if ticket.card_message_id is not None:
            ctx.send(self.card(ctx.session, ticket, edit=True))

    def card_buttons(self, ticket: Ticket, *, confirm_close: bool = False) -> tuple[tuple[Button, ...], ...]:
        claim = Button(self.staff_t("claim"), f"{PAYLOAD}:claim:{ticket.id}")
        close = Button(self.staff_t("close"), f"{PAYLOAD}:close:{ticket.id}")
        if ticket.status == TicketStatus.OPEN and confirm_close:
            return (
                (
                    Button(self.staff_t("close_confirm"), f"{PAYLOAD}:close_confirmed:{ticket.id}"),
                    Button(self.staff_t("close_back"), f"{PAYLOAD}:close_back:{ticket.id}"),
                ),
            )
        if ticket.status == TicketStatus.OPEN:
            return ((claim, close),)
        if ticket.status == TicketStatus.CLAIMED:
            return ((self.take_over_button(ticket), close),)
        return ()

    def take_over_button(self, ticket: Ticket) -> Button:
        return Button(self.staff_t("take_over"), f"{PAYLOAD}:take_over:{ticket.id}")

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
        reason = texts.get(language, f"handoff.staff.reason_{ticket.reason}")
        if ticket.urgent and ticket.reason != TicketReason.CRISIS:
            reason += " · " + self.staff_t("became_urgent")  # made urgent by a later crisis message
        lines = [
            self.staff_t(
                "card",
                ticket=ticket.id,
                urgency=Safe(self.staff_t("urgent") if ticket.urgent else self.staff_t("normal")),
                language=f"{LANGUAGE_NAMES.get(ticket.language, ticket.language)} ({ticket.language})",
                topics=Safe(topics),
                label=self.family_label(family),
                reason=Safe(reason),
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
        after = ""  # below the last part
        translation = self.translator.translate(text, ticket.language, self.config.staff_language) if text else None
        if translation:
            after += "\n\n" + self.staff_t(
                "machine_translation",
                source=ticket.language,
                target=self.config.staff_language,
                translation=Safe(fit(translation, MAX_TRANSLATION_CHARS)),
            )
        if media is not None and media_ref is None:
            after += "\n" + self.staff_t("media_not_relayed")
        bodies = self.in_parts(head, text, reserve=telegram_length(after))
        bodies[-1] += after
        for number, body in enumerate(bodies):
            ctx.send(
                Reply(
                    text=body,
                    to=self.staff_to(ticket),
                    track=f"{TRACK}:msg:{row.id}",  # every part links to the ticket (on_sent)
                    media=(media, media_ref) if media is not None and media_ref and number == 0 else None,
                )
            )

    def in_parts(self, head: str, text: str, *, reserve: int = 0) -> list[str]:
        """`head` and the (plain) `text`, escaped, in as many messages as Telegram's limit needs: each part
        cut at a paragraph, line, sentence or word, its head numbered ("(2/3)"); `reserve` is kept free in
        the last part for what goes below it."""
        room = TELEGRAM_LIMIT - telegram_length(head) - PART_MARK_ROOM - SPLIT_MARGIN - reserve - 1
        pieces = split_text(text, room) if text else [""]
        total = len(pieces)
        return [
            (f"{head} ({number}/{total})" if total > 1 else head) + ("\n" + escape(piece) if piece else "")
            for number, piece in enumerate(pieces, 1)
        ]

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
        """Send a counsellor's message (in parts when long) to the family; the staff group hears if it cannot."""
        family = ctx.session.get(User, ticket.user_id)
        if family is None:
            return
        if family.blocked_at is not None:
            self.staff_notice(ctx, ticket, "family_blocked", reply_to=ctx.incoming.message_id)
            return
        text = (text or "").strip()
        if media is not None and not media_ref and not text:
            # A location or a contact card: nothing the bot can pass on, and an empty "Anna:" would puzzle them.
            self.staff_notice(ctx, ticket, "media_not_delivered", reply_to=ctx.incoming.message_id)
            return
        row = TicketMessage(
            ticket_id=ticket.id,
            direction=OUT,
            media=media.value if media else None,
            text=(text or None) if family.has_consent else None,
            staff_message_id=ctx.incoming.message_id,  # a reply to the counsellor's own message finds the ticket
            created_at=ctx.now,
        )
        ctx.session.add(row)
        ctx.session.flush()
        head = self.family_t(family, "handoff.from_counsellor", name=counsellor.name)
        for number, body in enumerate(self.in_parts(head, text)):
            ctx.send(
                Reply(
                    text=body,
                    to=Recipient(user=self.family_ref(family)),
                    media=(media, media_ref) if media is not None and media_ref and number == 0 else None,
                    track=f"{TRACK}:out:{row.id}",  # undelivered: the staff group is told (undelivered)
                )
            )
        audit(ctx.session, actor_label(counsellor), "ticket.reply", f"ticket:{ticket.id}", media=bool(media))

    def note(self, ctx: Context, ticket: Ticket) -> None:
        """A counsellor's internal note about `ticket`: stays in the group; linked, so a reply to it is one too."""
        self.link(ctx.session, ticket, NOTE, ctx.incoming.message_id, ctx.now)

    def undelivered(self, session: Session, row_id: int, why: str) -> list[Reply]:
        """A counsellor's message that will never reach the family: tell the group, as a reply to it."""
        row = session.get(TicketMessage, row_id)
        ticket = session.get(Ticket, row.ticket_id) if row is not None else None
        if row is None or ticket is None or row.direction != OUT:
            return []
        log.info("a counsellor's message to the family of ticket %d was not delivered (%s)", ticket.id, why)
        key = "family_blocked" if why == "blocked" else "not_delivered"
        return [self.notice(ticket, key, reply_to=row.staff_message_id)]

    # ------------------------------------------------------------------ claiming and closing
    def claim(self, ctx: Context, ticket: Ticket, counsellor: Counsellor) -> bool:
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
        self.refresh_card(ctx, ticket)
        hint = "claimed_topic" if ticket.staff_thread_id is not None else "claimed_reply"
        self.staff_notice(ctx, ticket, hint, name=counsellor.name)
        self.drive_family(ctx, ticket, "handoff.connected", name=counsellor.name)
        return True

    def take_over(self, ctx: Context, ticket: Ticket, counsellor: Counsellor) -> bool:
        """A colleague takes a claimed ticket over (audited); False if it is not someone else's any more."""
        previous = ticket.counsellor_id
        if ticket.status != TicketStatus.CLAIMED or previous == counsellor.id:
            return False
        # None: the holder was removed from the list (the ticket waits for someone to take it over).
        held_by = Ticket.counsellor_id.is_(None) if previous is None else Ticket.counsellor_id == previous
        result = ctx.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == TicketStatus.CLAIMED, held_by)
            .values(counsellor_id=counsellor.id, claimed_at=ctx.now)
            .execution_options(synchronize_session=False)
        )
        ctx.session.refresh(ticket)
        if getattr(result, "rowcount", 0) != 1:
            return False
        before = ctx.session.get(Counsellor, previous) if previous is not None else None
        audit(
            ctx.session,
            actor_label(counsellor),
            "ticket.take_over",
            f"ticket:{ticket.id}",
            previous=actor_label(before),
        )
        log.info("ticket %d taken over", ticket.id)
        self.refresh_card(ctx, ticket)
        self.staff_notice(ctx, ticket, "taken_over", name=counsellor.name, previous=before.name if before else "?")
        self.drive_family(ctx, ticket, "handoff.connected", name=counsellor.name)
        return True

    def close(
        self, ctx: Context, ticket: Ticket, *, counsellor: Counsellor | None, only_if: TicketStatus | None = None
    ) -> bool:
        """Close a ticket, by a counsellor (`counsellor`) or by the family (None). False if already closed, or
        no longer in the status `only_if` (a "close without a conversation" that a colleague's claim overtook).

        A ticket nobody had taken is closed honestly: the family hears that their request was closed and how
        to ask again, and is not asked to rate a conversation that never took place."""
        was = ticket.status
        expected = Ticket.status == only_if.value if only_if is not None else Ticket.status != TicketStatus.CLOSED
        result = ctx.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, expected)
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
        self.refresh_card(ctx, ticket)
        if counsellor is not None and was == TicketStatus.OPEN:
            audit(ctx.session, actor_label(counsellor), "ticket.close", f"ticket:{ticket.id}", unanswered=True)
            self.staff_notice(ctx, ticket, "closed_unanswered", name=counsellor.name)
            self.drive_family(ctx, ticket, "handoff.closed_unanswered", ticket=ticket.id)
        elif counsellor is not None:
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
            .where(
                Ticket.user_id == ctx.user.id,
                Ticket.status == TicketStatus.CLOSED,
                Ticket.rating.is_(None),
                Ticket.claimed_at.is_not(None),  # only a conversation is rated
            )
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
            replies.append(self.notice(ticket, key, language=language, waited=waited))
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
