"""Wires the handoff desk into the core: flow actions, intents, crisis and media handlers, interceptors for
the staff group and for a family with an open request (talking with a counsellor, or waiting for one), the
sent hook, and the Telegram jobs.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from sqlalchemy import func, select

from bot.core.context import Context
from bot.core.engine import INTENT_THRESHOLD, LONG_MESSAGE_CHARS, NOT_OFFERED, clean_text, typed_answer
from bot.core.messages import MediaKind, Recipient, Reply
from bot.core.registry import Registry
from bot.core.services import Services
from bot.core.texts import LANGUAGE_NAMES
from bot.db.models import Counsellor, MessageLog, User
from bot.features.handoff.config import HandoffConfig
from bot.features.handoff.desk import PAYLOAD, STAFF, TRACK, HandoffDesk, is_note
from bot.features.handoff.models import Ticket, TicketMessage, TicketReason, TicketStatus
from bot.features.handoff.privacy import erase_tickets, export_tickets, purge_expired
from bot.features.handoff.translate import build_translator
from bot.leader import run_when_leading
from bot.nlu.pipeline import Understanding
from bot.staff import actor_label, audit, counsellor_by_telegram_id, typed_number

log = logging.getLogger(__name__)

STAFF_BUTTON = re.compile(rf"^{PAYLOAD}:(claim|close|close_confirmed|close_back|take_over):(\d{{1,9}})$")
OFFERED_MEDIA = (MediaKind.VOICE, MediaKind.PHOTO, MediaKind.DOCUMENT)
TOPIC_CONFIDENCE = 0.2  # a topic the request mentions, in second place behind human_handoff
REALERT_EVERY_SECONDS = 60
# Commands that show the menu: above it, a family whose request waits is reminded that it is still open.
MENU_COMMANDS = frozenset({"menu", "help"})
# Where a "talk to a person" button was pressed decides why the ticket is opened.
REASON_BY_STEP = {
    "main.offer_person": TicketReason.MISUNDERSTOOD,
    "main.not_understood": TicketReason.MISUNDERSTOOD,
    "main.crisis": TicketReason.CRISIS,
    "handoff.media_offer": TicketReason.MEDIA,
}


def register(registry: Registry, services: Services) -> None:
    config = HandoffConfig.from_settings(services.settings)
    desk = HandoffDesk(services, config, build_translator(services.settings.translate_url))
    services.features["handoff"] = desk
    registry.features.add("handoff")

    # ------------------------------------------------------------------ the family asks for a person
    @registry.action("open_ticket")
    def open_ticket(ctx: Context) -> str | None:
        pending_media = ctx.pop_var("handoff_media")
        ticket = desk.active_ticket(ctx.session, ctx.user.id)
        if ticket is not None and ticket.status == TicketStatus.CLAIMED:
            ctx.say(ctx.t("handoff.in_conversation"))
            return None
        if ticket is not None:
            ctx.say(ctx.t("handoff.already", ticket=ticket.id))
            return None
        pressed = (ctx.incoming.payload or "").partition(":")[0]
        reason = REASON_BY_STEP.get(pressed, TicketReason.REQUEST)
        topics = list(ctx.values.get("handoff_topics", []))
        section = ctx.vars.get("guide_section")
        if section:
            topics.append(f"guide:{section}")
        if reason == TicketReason.MEDIA and pending_media:
            topics.append(f"media:{pending_media[0]}")
        ticket, _created = desk.open(ctx, reason=reason, topics=topics)
        ctx.say(ctx.t("handoff.opened", ticket=ticket.id))
        for text in desk.when_text(ctx.user, ctx.now, urgent=False):
            ctx.say(text)
        if not ctx.user.has_consent:
            # Told "I will not keep your messages", they must also know that counsellors read what they write.
            ctx.say(ctx.t("handoff.without_consent"))
        if reason == TicketReason.MEDIA and pending_media:
            # Without a file id (the console; a state kept as [kind] by an earlier version) the
            # counsellors are told a file came that could not be passed on.
            kind = MediaKind(pending_media[0])
            ref = pending_media[1] if len(pending_media) > 1 else None
            desk.relay_from_family(ctx, ticket, text=None, media=kind, media_ref=ref)
        return None

    @registry.input("handoff_note")
    def handoff_note(ctx: Context, text: str) -> str | None:
        """While a request waits, what the family writes is passed on to it (instead of to the NLU)."""
        ticket = desk.active_ticket(ctx.session, ctx.user.id)
        if ticket is None:
            return None
        desk.relay_from_family(ctx, ticket, text=text, media=None, media_ref=None)
        return "handoff.noted"

    @registry.action("cancel_ticket")
    def cancel_ticket(ctx: Context) -> str | None:
        ticket = desk.active_ticket(ctx.session, ctx.user.id)
        if ticket is None:
            ctx.say(ctx.t("handoff.nothing_to_cancel"))
            return "main.menu"
        claimed = ticket.status == TicketStatus.CLAIMED
        desk.close(ctx, ticket, counsellor=None)
        if claimed:
            return None  # closing has already thanked them and asked for a rating
        ctx.say(ctx.t("handoff.cancelled"))
        return "main.menu"

    @registry.command("stop")
    def stop(ctx: Context, _argument: str) -> str | None:
        """/stop before a counsellor has taken the request withdraws it (once they have, the interceptor
        above ends the conversation)."""
        return cancel_ticket(ctx)

    @registry.action("rate_ticket")
    def rate_ticket(ctx: Context, stars: int) -> str:
        if desk.rate(ctx, int(stars)) is None:
            ctx.say(ctx.t("errors.stale_button"))
        else:
            ctx.say(ctx.t("handoff.rated"))
        return "main.menu"

    @registry.action("media_offer_text")
    def media_offer_text(ctx: Context) -> None:
        pending = ctx.vars.get("handoff_media") or []
        kind = pending[0] if pending else MediaKind.OTHER.value
        key = f"handoff.media_offer.{kind}" if ctx.services.texts.has(f"handoff.media_offer.{kind}") else None
        ctx.say(ctx.t(key or "handoff.media_offer.other"))

    # The clarification and the long-message reply carry their own "talk to a person" button.
    registry.guesses["human_handoff"] = lambda _ctx: False

    @registry.intent("human_handoff")
    def human_handoff(ctx: Context, understanding: Any) -> str:
        ranking = getattr(understanding, "ranking", ()) or ()
        ctx.values["handoff_topics"] = [
            intent for intent, score in ranking if intent.startswith("topic_") and score >= TOPIC_CONFIDENCE
        ]
        return "handoff.start"

    # ------------------------------------------------------------------ a crisis: an urgent ticket
    def on_crisis(ctx: Context, understanding: Any) -> None:
        """Runs after the engine has shown the emergency information."""
        ticket, created = desk.open(ctx, reason=TicketReason.CRISIS, urgent=True)
        if not created:
            text = clean_text(ctx.incoming.text or "")
            if text and not ctx.values.get("handoff_relayed"):
                desk.relay_from_family(ctx, ticket, text=text, media=None, media_ref=None)
            desk.staff_notice(ctx, ticket, "crisis_alert")
            if ticket.status == TicketStatus.CLAIMED:
                return  # the counsellor is there and has been alerted
        for text in desk.when_text(ctx.user, ctx.now, urgent=True):
            ctx.say(text)

    registry.crisis.append(on_crisis)

    # ------------------------------------------------------------------ media: a counsellor can look at it
    def on_media(ctx: Context, kind: MediaKind) -> str | None:
        """While a request is open, anything the counsellor can look at goes to the request (a video note, a
        sticker too); otherwise a voice message, a photo or a file brings the offer of a person."""
        ticket = desk.active_ticket(ctx.session, ctx.user.id)
        if ticket is not None:
            if not_passed_on(ctx):
                return "main.menu" if ticket.status == TicketStatus.OPEN else None  # waiting: the way on
            desk.relay_from_family(ctx, ticket, text=ctx.incoming.text, media=kind, media_ref=ctx.incoming.media_ref)
            ctx.go("handoff.noted")
            return None
        if kind not in OFFERED_MEDIA:
            return None  # the bot's own reply to a sticker or a location
        ctx.set_var("handoff_media", [kind.value, ctx.incoming.media_ref])
        ctx.go("handoff.media_offer")
        return None

    def not_passed_on(ctx: Context) -> bool:
        """A location or a contact card, with no words: nothing to pass on; the family is asked for words."""
        incoming = ctx.incoming
        if incoming.media is None or incoming.media_ref or (incoming.text or "").strip():
            return False
        ctx.say(ctx.t("handoff.media_not_passed"))
        return True

    for kind in MediaKind:
        registry.on_media(kind)(on_media)

    # ------------------------------------------------------------------ interceptors
    def family_with_request(ctx: Context) -> bool:
        """A family whose request is open, wherever they are in the bot: see `in_conversation` and `waiting`."""
        incoming = ctx.incoming
        if incoming.staff_chat or incoming.payload is not None:
            return False  # buttons keep working (menu, rating, guide)
        ticket = desk.active_ticket(ctx.session, ctx.user.id)
        if ticket is None:
            return False
        if ticket.status == TicketStatus.CLAIMED:
            return in_conversation(ctx, ticket)
        return waiting(ctx, ticket)

    def in_conversation(ctx: Context, ticket: Ticket) -> bool:
        """While a counsellor has the ticket, the family's messages go to them and the bot stays quiet."""
        incoming = ctx.incoming
        command = incoming.command
        if command is not None:
            name, _argument = command
            if name == "stop":
                desk.close(ctx, ticket, counsellor=None)
                return True
            if name == "menu":
                ctx.say(ctx.t("handoff.in_conversation"))
                ctx.go("main.menu")
                return True
            return False  # other commands are requests to the bot itself (/delete, /mydata …): answered as usual
        if not_passed_on(ctx):
            return True
        desk.relay_from_family(ctx, ticket, text=incoming.text, media=incoming.media, media_ref=incoming.media_ref)
        understanding = ctx.understanding
        if understanding is not None and understanding.crisis:
            ctx.values["handoff_relayed"] = True
            ctx.conversation.on_crisis(ctx, understanding)
        return True

    def waiting(ctx: Context, ticket: Ticket) -> bool:
        """No counsellor has the request yet, and the family may use the bot meanwhile.

        They were told "write your question here: I will pass it on", and a family does not know the bot's
        screens: so anywhere in the bot, what the bot would not answer with confidence is added to the
        request. What it does answer is marked as staying with the bot, so that nobody waits for a counsellor
        to read it."""
        incoming = ctx.incoming
        if incoming.media is not None or ctx.user.language is None:
            return False  # media: on_media adds it to the request; no language yet: onboarding comes first
        command = incoming.command
        if command is not None:
            if command[0] in MENU_COMMANDS:
                remind(ctx, ticket, "handoff.still_open")
            return False  # /stop withdraws the request; /delete, /mydata … are for the bot
        understanding = ctx.understanding
        if understanding is None or understanding.crisis:
            return False  # a crisis: the emergency information first, then on_crisis adds it to the request
        if asked_by_screen(ctx, understanding):
            return False  # the request's own screen passes everything on by itself (handoff_note)
        if is_for_the_bot(understanding):
            remind(ctx, ticket, "handoff.answered_here")
            return False
        text = clean_text(incoming.text or "")
        if not text:
            return False
        if ctx.user.has_consent:  # kept as the engine keeps what it reads, for a counsellor's context
            ctx.session.add(MessageLog(user_id=ctx.user.id, direction="in", text=text, created_at=ctx.now))
        if understanding.crisis_check:
            ctx.safety_check = True  # "I cannot go on" reaches the request, and the bot asks how they are
        desk.relay_from_family(ctx, ticket, text=text, media=None, media_ref=None)
        ctx.state.misunderstood = 0
        ctx.go("handoff.noted")
        return True

    def asked_by_screen(ctx: Context, understanding: Understanding) -> bool:
        """The step the family is at waits for typed text of its own (a town, a topic, a typed yes or no)."""
        step = ctx.conversation.current_step(ctx)
        return step is not None and (bool(step.input) or typed_answer(step, understanding) is not None)

    def is_for_the_bot(understanding: Understanding) -> bool:
        """A question the bot answers itself: one of its topics, understood with confidence. Small talk, what
        it does not understand, long messages (often a family's whole situation) and another "a person,
        please" (which may say why) are for the counsellor."""
        return (
            understanding.intent_confidence >= INTENT_THRESHOLD
            and understanding.intent in registry.intents
            and understanding.intent not in NOT_OFFERED
            and understanding.intent != "human_handoff"
            and len(understanding.text) < LONG_MESSAGE_CHARS
        )

    def remind(ctx: Context, ticket: Ticket, ref: str) -> None:
        """The open request above this turn's answer, with a way to write to it and a way to withdraw it."""
        ctx.values["ticket"] = ticket.id
        ctx.conversation.show(ctx, ref)

    @registry.action("remind_open_request")
    def remind_open_request(ctx: Context) -> None:
        """The request's own "Menu" button: leaving its screen does not withdraw it, and the family is told."""
        ticket = desk.active_ticket(ctx.session, ctx.user.id)
        if ticket is not None and ticket.status == TicketStatus.OPEN:
            remind(ctx, ticket, "handoff.still_open")

    def staff_group(ctx: Context) -> bool:
        """Ticket buttons, /close, /queue, internal notes and counsellors' replies in the staff group.

        A counsellor's message that belongs to a ticket reaches the family only from the counsellor who has it
        (whoever writes first to an open ticket takes it); anything else that was meant for a family but cannot
        reach one is answered in the group, saying why and what to do."""
        incoming = ctx.incoming
        if not incoming.staff_chat:
            return False
        if incoming.payload is not None:
            if not incoming.payload.startswith(f"{PAYLOAD}:"):
                return False
            staff_button(ctx, incoming.payload)
            return True
        if is_note(incoming.text):  # before commands: "// …" would read as the command "/"
            staff_note(ctx, desk.ticket_for_staff_message(ctx.session, incoming))
            return True
        command = incoming.command
        if command is not None:
            name, argument = command
            if name == "close":
                staff_close(ctx, argument)
                return True
            if name == "queue":
                staff_queue(ctx)
                return True
            return False
        ticket = desk.ticket_for_staff_message(ctx.session, incoming)
        if ticket is None:
            return not_routed(ctx)
        if desk.replies_to_note(ctx.session, incoming):
            staff_note(ctx, ticket)
            return True
        counsellor = listed(ctx, "ticket.reply", ticket)
        if counsellor is None:
            return True
        if ticket.status == TicketStatus.OPEN:
            desk.claim(ctx, ticket, counsellor)  # a colleague may have been first: the checks below tell
        if ticket.status == TicketStatus.CLOSED:
            desk.staff_notice(ctx, ticket, "closed_not_delivered", reply_to=incoming.message_id)
            return True
        if ticket.counsellor_id != counsellor.id:
            held_by_colleague(ctx, ticket)
            return True
        desk.relay_to_family(
            ctx, ticket, counsellor, text=incoming.text, media=incoming.media, media_ref=incoming.media_ref
        )
        return True

    def staff_note(ctx: Context, ticket: Ticket | None) -> None:
        """An internal note (NOTE_MARKER, or a reply to a note): it stays in the group, never claims, and a
        reply to it is a note too. Nothing is said: the note is for the colleagues."""
        if ticket is None or ctx.incoming.user.channel != "telegram":
            return
        if counsellor_by_telegram_id(ctx.session, ctx.incoming.user.external_id) is not None:
            desk.note(ctx, ticket)

    def not_routed(ctx: Context) -> bool:
        """A counsellor's reply to one of the bot's messages that belongs to no ticket (the bot's other messages,
        or links gone with the retention period): say that it went nowhere and how to answer a family. Chat
        between counsellors that replies to no message of the bot is left alone."""
        incoming = ctx.incoming
        if not incoming.reply_to_bot or incoming.user.channel != "telegram":
            return False
        if counsellor_by_telegram_id(ctx.session, incoming.user.external_id) is None:
            return False
        log.info("a counsellor's reply belongs to no request; told so")
        ctx.send(
            Reply(
                text=desk.staff_t("not_routed"),
                to=Recipient(staff=True, thread_id=incoming.thread_id, reply_to=incoming.message_id),
            )
        )
        return True

    def held_by_colleague(ctx: Context, ticket: Ticket) -> None:
        """Only the counsellor who has the ticket writes to the family: a colleague's message stays in the
        group, with a way to take the ticket over."""
        holder = ctx.session.get(Counsellor, ticket.counsellor_id) if ticket.counsellor_id else None
        log.info("a message for ticket %d from a counsellor who does not have it was not relayed", ticket.id)
        desk.staff_notice(
            ctx,
            ticket,
            "held_by_colleague",
            reply_to=ctx.incoming.message_id,
            buttons=((desk.take_over_button(ticket),),),
            name=holder.name if holder else "?",
        )

    def listed(ctx: Context, action: str, ticket: Ticket | None) -> Counsellor | None:
        """The counsellor behind this staff message, or None after refusing and auditing the attempt."""
        counsellor = counsellor_by_telegram_id(ctx.session, ctx.incoming.user.external_id)
        if counsellor is not None and ctx.incoming.user.channel == "telegram":
            return counsellor
        target = f"ticket:{ticket.id}" if ticket is not None else None
        audit(ctx.session, actor_label(None), f"{action}.refused", target, who=ctx.user.label)
        log.info("refused a staff action from someone who is not a listed counsellor")
        reply_to = ctx.incoming.message_id
        ctx.send(
            Reply(
                text=desk.staff_t("refused"),
                to=Recipient(staff=True, thread_id=ctx.incoming.thread_id, reply_to=reply_to),
            )
        )
        return None

    def staff_button(ctx: Context, payload: str) -> None:
        match = STAFF_BUTTON.match(payload)
        ticket = ctx.session.get(Ticket, int(match.group(2))) if match else None
        action = match.group(1) if match else "button"
        pressed = ctx.incoming.message_id
        pressed_card = ticket is not None and ticket.card_message_id == pressed
        counsellor = listed(ctx, f"ticket.{action}", ticket)
        if counsellor is None:
            if pressed_card and ticket is not None:
                desk.refresh_card(ctx, ticket)  # keep the card's buttons for counsellors
            return
        # "Take over" is also under the notice a colleague gets: any message linked to the ticket will do.
        pressed_linked = (
            action == "take_over"
            and ticket is not None
            and pressed is not None
            and (found := desk.ticket_of_message(ctx.session, pressed)) is not None
            and found.id == ticket.id
        )
        if match is None or ticket is None or not (pressed_card or pressed_linked):
            log.info("refused a ticket button that does not match its card")
            ctx.send(
                Reply(
                    text=desk.staff_t("stale"),
                    to=Recipient(staff=True, thread_id=ctx.incoming.thread_id, reply_to=ctx.incoming.message_id),
                )
            )
            return
        if action == "claim" or (action == "take_over" and ticket.status == TicketStatus.OPEN):
            if not desk.claim(ctx, ticket, counsellor):
                refresh_after_refusal(ctx, ticket)
        elif action == "close" and ticket.status == TicketStatus.OPEN:
            # Nobody has written to the family yet, and Close sits beside Claim: ask once.
            ctx.send(desk.card(ctx.session, ticket, edit=True, confirm_close=True))
        elif action in ("close", "close_confirmed") and held_by_another(ticket, counsellor):
            refresh_after_refusal(ctx, ticket)  # the holder closes; a colleague takes it over first
        elif action == "close_confirmed":
            # Confirmed for a request nobody had: a colleague's claim since then wins.
            if not desk.close(ctx, ticket, counsellor=counsellor, only_if=TicketStatus.OPEN):
                refresh_after_refusal(ctx, ticket)
        elif action == "close":
            if not desk.close(ctx, ticket, counsellor=counsellor):
                refresh_after_refusal(ctx, ticket)
        elif action == "close_back":
            desk.refresh_card(ctx, ticket)
        elif ticket.status == TicketStatus.CLAIMED and ticket.counsellor_id == counsellor.id:
            desk.staff_notice(ctx, ticket, "already_yours")
        elif not desk.take_over(ctx, ticket, counsellor):
            refresh_after_refusal(ctx, ticket)

    def held_by_another(ticket: Ticket, counsellor: Counsellor) -> bool:
        return ticket.status == TicketStatus.CLAIMED and ticket.counsellor_id != counsellor.id

    def refresh_after_refusal(ctx: Context, ticket: Ticket) -> None:
        """Someone was first: show the card as it is now, and say why nothing happened."""
        desk.refresh_card(ctx, ticket)
        if ticket.status == TicketStatus.CLOSED:
            desk.staff_notice(ctx, ticket, "already_closed")
        else:
            holder = ctx.session.get(Counsellor, ticket.counsellor_id) if ticket.counsellor_id else None
            desk.staff_notice(ctx, ticket, "already_claimed", name=holder.name if holder else "?")

    def staff_close(ctx: Context, argument: str) -> None:
        ticket = None
        number = typed_number(argument)
        if number is not None:
            ticket = ctx.session.get(Ticket, number)
        elif not argument.strip():
            ticket = desk.ticket_for_staff_message(ctx.session, ctx.incoming)
        counsellor = listed(ctx, "ticket.close", ticket)
        if counsellor is None:
            return
        if ticket is None:
            ctx.send(
                Reply(
                    text=desk.staff_t("which_ticket"),
                    to=Recipient(staff=True, thread_id=ctx.incoming.thread_id, reply_to=ctx.incoming.message_id),
                )
            )
            return
        if held_by_another(ticket, counsellor):
            refresh_after_refusal(ctx, ticket)
            return
        if not desk.close(ctx, ticket, counsellor=counsellor):
            desk.staff_notice(ctx, ticket, "already_closed")

    def staff_queue(ctx: Context) -> None:
        counsellor = listed(ctx, "ticket.queue", None)
        if counsellor is None:
            return
        audit(ctx.session, actor_label(counsellor), "ticket.queue")
        tickets = ctx.session.scalars(
            select(Ticket).where(Ticket.status != TicketStatus.CLOSED).order_by(Ticket.urgent.desc(), Ticket.id)
        ).all()
        lines = [desk.staff_t("queue_title") if tickets else desk.staff_t("queue_empty")]
        for ticket in tickets:
            family = ctx.session.get(User, ticket.user_id)
            lines.append(
                desk.staff_t(
                    "queue_line",
                    ticket=ticket.id,
                    urgency="🔴" if ticket.urgent else "🟢",
                    language=LANGUAGE_NAMES.get(ticket.language, ticket.language),
                    label=family.label if family else "—",
                    status="✋" if ticket.status == TicketStatus.CLAIMED else "⏳",
                    opened=desk.staff_when(ticket.created_at),
                )
            )
        ctx.send(Reply(text="\n".join(lines), to=Recipient(staff=True, thread_id=ctx.incoming.thread_id)))

    registry.interceptors.append(staff_group)
    registry.staff_group_commands.extend(("queue", "close"))  # what staff_group answers, for /help
    registry.interceptors.append(family_with_request)

    # ------------------------------------------------------------------ what the channel reports back
    def on_sent(track: str, chat_id: int, message_id: int, thread_id: int | None = None) -> None:
        """Remember where a ticket's card, relayed messages and notices landed, so that replies find their ticket.

        One reply may become several messages (media and its long text): each is linked."""
        _prefix, _, rest = track.partition(":")
        kind, _, ident = rest.partition(":")
        if not ident.isdecimal() or kind not in ("card", "msg", "notice") or chat_id != services.settings.staff_chat_id:
            return  # "out": a counsellor's message in the family's chat, linked by the counsellor's own message
        with services.db.session() as session:
            if kind == "card":
                ticket = session.get(Ticket, int(ident))
                if ticket is not None:
                    ticket.card_message_id = message_id
                    if thread_id is not None:
                        ticket.staff_thread_id = thread_id
            elif kind == "msg":
                row = session.get(TicketMessage, int(ident))
                if row is not None and row.staff_message_id is None:
                    row.staff_message_id = message_id
                elif row is not None and row.staff_message_id != message_id:
                    ticket = session.get(Ticket, row.ticket_id)
                    if ticket is not None:  # a further part of the same message
                        desk.link(session, ticket, STAFF, message_id, services.clock())
            else:
                ticket = session.get(Ticket, int(ident))
                if ticket is not None:
                    desk.link(session, ticket, STAFF, message_id, services.clock())

    registry.sent_hooks[TRACK] = on_sent

    def on_undelivered(track: str, why: str) -> list[Reply]:
        """A counsellor's message that will never reach the family (blocked, refused): the group is told."""
        _prefix, _, rest = track.partition(":")
        kind, _, ident = rest.partition(":")
        if kind != "out" or not ident.isdecimal():
            return []
        with services.db.session() as session:
            return desk.undelivered(session, int(ident), why)

    registry.undelivered_hooks[TRACK] = on_undelivered

    # /metrics: requests no counsellor has picked up yet (a number that keeps growing needs a person).
    registry.gauges["aito_open_tickets"] = (
        "Requests for a person that no counsellor has claimed yet",
        lambda session: (
            session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.OPEN.value))
            or 0
        ),
    )

    # ------------------------------------------------------------------ Telegram: re-alerts and retention
    def telegram_jobs(application: Any, channel: Any) -> None:
        if services.settings.staff_chat_id is None:
            log.warning("STAFF_CHAT_ID is not set: requests for a person are recorded but reach no staff group")
        if application.job_queue is None or not services.settings.run_scheduler:
            return

        async def realert(context: Any) -> None:
            replies = await asyncio.to_thread(services.db.transaction, lambda s: desk.due_realerts(s, services.clock()))
            for reply in replies:
                try:  # one counsellor who never started the bot must not stop the others' alerts
                    await channel.deliver(context.bot, None, [reply])
                except Exception as error:
                    log.warning("a re-alert could not be sent: %s", type(error).__name__)

        # Only the scheduler process re-alerts: with several workers each would otherwise alert the staff.
        run_when_leading(
            application,
            services.leadership,
            realert,
            interval=REALERT_EVERY_SECONDS,
            first=REALERT_EVERY_SECONDS,
            name="handoff-realert",
        )

    registry.telegram_hooks.append(telegram_jobs)

    # ------------------------------------------------------------------ privacy: export, erasure, retention
    registry.privacy_exporters.append(export_tickets)
    registry.privacy_erasers.append(lambda ctx: erase_tickets(desk, ctx))
    registry.retention_hooks.append(lambda session, now: purge_expired(desk, session, now))
