"""The conversation engine: one incoming message in, replies out.

Order of handling: interceptors (e.g. an open counsellor conversation) → button payload → media →
command → onboarding gate → the current step's free-text input → NLU (language, crisis, intent).
Everything for one message happens in one database transaction, so a crash leaves no half-state.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.orm import Session

from bot.core.context import Context, Option
from bot.core.flood import FloodGuard, Verdict
from bot.core.flows import PAYLOAD_SEPARATOR, STAMP_CHARS, STAMP_SEPARATOR, FlowError, StepSpec
from bot.core.messages import (
    Button,
    Incoming,
    MediaKind,
    Recipient,
    Reply,
    UserRef,
    reply_to_json,
    telegram_length,
)
from bot.core.phones import without_phones
from bot.core.services import Services
from bot.core.texts import language_named
from bot.db.models import ConversationState, MessageLog, User
from bot.inbox import locked_status, write_handled
from bot.nlu.pipeline import NO_INTENT, Understanding
from bot.settings import SERVED_LANGUAGES

log = logging.getLogger(__name__)

INTENT_THRESHOLD = 0.5
# Three times the longest example the intent model learned from (nlu_data/: about 100 characters).
LONG_MESSAGE_CHARS = 300
# A topic offered beside the person must be a real candidate: one letter from Kela was offered "Money and
# Kela" and "Turn meeting reminders on".
LONG_MESSAGE_MIN_SCORE = 0.1
LANGUAGE_SWITCH_CONFIDENCE = 0.85
LANGUAGE_STEP = "onboarding.language"
MAX_REDIRECTS = 8
SAFETY_CHECK = "main.safety_check"  # the safety question below an answer to a message close to a crisis
# Languages the user said no to switching to: offered once, not again on every message they write in it.
DECLINED_SWITCHES = "declined_switches"
# The question of a first message that chose the language, or of one typed at the consent question: answered
# once onboarding is done. Its intent and the words features asked for (`Registry.keywords`: a town) are
# kept, not the text, since consent has not been given yet.
FIRST_QUESTION = "first_question"
# The question of a message that brought a language-switch offer: answered after the family's choice.
PENDING_QUESTION = "pending_intent"
# The words features need of a message answered with "did you mean…?" buttons (a town), for the choice.
CLARIFIED_WORDS = "clarify_words"
# The step a typed question led away from half way through its flow (`StepSpec.unfinished`), for the way back.
RESUME_AT = "resume_at"
# Steps about the conversation's language: a resume offer below them would be in the language being left.
LANGUAGE_STEPS = {LANGUAGE_STEP, "main.switch_language"}
MAX_TEXT_FOR_NLU = 1000
MAX_REPLY_CHARS = 4096
# "Last contact" (shown in /mydata) to the minute: writing the user's row on every message costs an
# UPDATE per message for a precision nobody reads.
LAST_SEEN_PRECISION = timedelta(minutes=1)
INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Read on every free-text message: a statement built once, run without an ORM session.
USERS = cast(Table, User.__table__)
STORED_LANGUAGE = select(USERS.c.language).where(
    USERS.c.channel == bindparam("channel"), USERS.c.external_id == bindparam("external_id")
)
# Read on every update: built once, since building it and its cache key anew cost more than running it
# (a session with this query: 0.44 ms of CPU instead of 0.72, medians on SQLite).
USER_AND_STATE = (
    select(User, ConversationState)
    .outerjoin(ConversationState, ConversationState.user_id == User.id)
    .where(User.channel == bindparam("channel"), User.external_id == bindparam("external_id"))
)


def clean_text(text: str) -> str:
    """Text as the NLU should see it: no bidi or zero-width marks, normalised, bounded."""
    text = INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return text.strip()[:MAX_TEXT_FOR_NLU]


class Conversation:
    """Runs flows for users. Knows nothing about any messaging platform."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.flows = services.flows
        self.registry = services.registry
        self.flood = FloodGuard(services.settings.flood_messages, services.settings.flood_seconds)

    # ----------------------------------------------------------------- entry point
    def handle(self, incoming: Incoming) -> list[Reply]:
        """Answer one message. Always returns at least one reply (unless the user is flooding the bot)."""
        if not incoming.staff_chat:
            verdict = self.flood.check((incoming.user.channel, incoming.user.external_id))
            if verdict is not Verdict.OK:
                return self._flooded(incoming, verdict)
        understanding = self._understand_outside_transaction(incoming)
        pending: list[Callable[[], None]] = []

        def work(session: Session) -> list[Reply]:
            recorded = _inbox_status(session, incoming)
            if recorded not in (None, "received"):
                return []  # handled before: its replies were stored with its effects
            ctx = self._context(session, incoming)
            self._dispatch(ctx, understanding)
            if not ctx.replies and not incoming.staff_chat:
                self._fallback(ctx)
            if ctx.safety_check:
                self.show(ctx, SAFETY_CHECK)
            replies = [_bounded(reply) for reply in ctx.replies]
            _mark_handled(session, incoming, recorded is not None, replies, ctx.now)
            pending[:] = ctx.after_commit
            return replies

        replies = self.services.db.transaction(work)
        for callback in pending:
            callback()
        return replies

    def _flooded(self, incoming: Incoming, verdict: Verdict) -> list[Reply]:
        """Over the flood limit: one polite slow-down, then silence. Nothing else is done or stored."""
        if verdict is Verdict.SLOW_DOWN:
            log.warning("a user is over the flood limit; their messages are dropped for a while")

        def work(session: Session) -> list[Reply]:
            recorded = _inbox_status(session, incoming)
            if recorded not in (None, "received"):
                return []
            replies: list[Reply] = []
            if verdict is Verdict.SLOW_DOWN:
                language = _language_of(session.connection(), incoming.user)
                replies.append(Reply(self.services.texts.get(language, "errors.slow_down")))
            _mark_handled(session, incoming, recorded is not None, replies, self.services.clock())
            return replies

        return self.services.db.transaction(work)

    def _understand_outside_transaction(self, incoming: Incoming) -> Understanding | None:
        """NLU may call a remote server: do it before taking the database's write lock.

        A photo's or a video's caption is understood too: only for a crisis (_dispatch), which no media
        handler may delay."""
        if incoming.payload or not incoming.text or (incoming.command and incoming.media is None):
            return None
        text = clean_text(incoming.text)
        if not text:
            return None
        stored = self.stored_language(incoming.user)
        return self.services.nlu.understand(text, user_language=stored, telegram_language=incoming.language_hint)

    def stored_language(self, user: UserRef) -> str | None:
        """The language the user chose, read outside any transaction of the core."""
        with self.services.db.single_statement() as connection:
            return _language_of(connection, user)

    def _context(self, session: Session, incoming: Incoming) -> Context:
        now = self.services.clock()
        found = session.execute(
            USER_AND_STATE, {"channel": incoming.user.channel, "external_id": incoming.user.external_id}
        ).first()
        user, state = found if found is not None else (None, None)
        if user is None:
            user = User(
                channel=incoming.user.channel, external_id=incoming.user.external_id, created_at=now, last_seen_at=now
            )
            session.add(user)
            session.flush()
        elif now - user.last_seen_at >= LAST_SEEN_PRECISION:
            user.last_seen_at = now
        if user.blocked_at is not None:
            user.blocked_at = None
        if state is None:
            state = ConversationState(user_id=user.id, vars={}, misunderstood=0)
            session.add(state)
        return Context(session, user, state, incoming, self.services, self, now)

    # ----------------------------------------------------------------- dispatch
    def _dispatch(self, ctx: Context, understanding: Understanding | None) -> None:
        incoming = ctx.incoming
        ctx.understanding = understanding
        for intercept in self.registry.interceptors:
            if intercept(ctx):
                return
        if incoming.staff_chat:
            return  # the staff group is the staff features' business; the family bot stays silent there
        if incoming.payload is not None:
            self._on_payload(ctx, incoming.payload)
            return
        text = clean_text(incoming.text or "")
        if understanding is not None and understanding.crisis:
            # Emergency information before whatever else the message is: a photo's caption, or the first
            # words of a family that has not chosen a language yet.
            if incoming.media is None:
                self._log_incoming(ctx, text)
            self.on_crisis(ctx, understanding)
            return
        if incoming.media is not None:
            self._on_media(ctx, incoming.media)
            return
        command = incoming.command
        if command is not None:
            self._on_command(ctx, *command)
            return
        if ctx.user.language is None:
            self._before_language(ctx, text, understanding)
            return
        if not text:
            self._misunderstood(ctx)
            return
        step = self.current_step(ctx)
        if step is None or not step.sensitive:
            self._log_incoming(ctx, text)
        if understanding is not None and understanding.crisis_check:
            log.info("a message close to a crisis: a safety question goes with the answer")
            ctx.safety_check = True
        answer = typed_answer(step, understanding)
        if step is not None and answer is not None:
            self._on_payload(ctx, _payload(ctx, step, answer))  # "yes" typed to "Shall I book it?": its button
            return
        if step is not None and step.input:
            redirect = self.registry.inputs[step.input](ctx, text)
            if redirect is not None:
                ctx.state.misunderstood = 0
                if redirect:
                    self.go(ctx, redirect)
                return
        if understanding is not None:
            self._on_understanding(ctx, understanding)
            self._offer_resume(ctx, step)

    def _offer_resume(self, ctx: Context, left: StepSpec | None) -> None:
        """A question answered half way through a flow (a booking) does not drop it silently: a line says it is
        not finished, with a button back to where the family was (their choices are still in the flow's vars)."""
        if left is None or left.unfinished is None or ctx.safety_check or ctx.crisis:
            return  # emergency information or a safety question is no place for "your booking is not finished"
        now = self.current_step(ctx)
        if now is None or now.flow == left.flow:
            return
        ctx.set_var(RESUME_AT, left.ref)
        if now.ref not in LANGUAGE_STEPS:
            self.show_resume(ctx)  # below a language switch offer: once the language is settled

    def show_resume(self, ctx: Context) -> None:
        """The way back to the unfinished step kept in RESUME_AT, below this turn's replies, if it still holds."""
        ref = ctx.vars.get(RESUME_AT)
        left = self.flows.find(str(ref)) if ref else None
        now = self.current_step(ctx)
        if left is None or left.unfinished is None or (now is not None and now.flow == left.flow):
            return
        self.show(ctx, self.flows.step(left.unfinished, current_flow=left.flow).ref)

    def resume(self, ctx: Context) -> str:
        """Where the "back to the booking" button goes: the step the family left. When the offer has lapsed
        (they went back into that flow another way since), an old button: the family stays where they are."""
        ref = ctx.pop_var(RESUME_AT)
        step = self.flows.find(str(ref)) if ref else None
        if step is None or step.unfinished is None:
            if ctx.pressed_from:
                ctx.state.flow, _, ctx.state.step = ctx.pressed_from.partition(".")
            self._stale_button(ctx)
            return ""
        return step.ref

    @staticmethod
    def _log_incoming(ctx: Context, text: str) -> None:
        """The family's message, kept for a counsellor's context: only with consent."""
        if ctx.user.has_consent:
            # Never a phone number: one typed outside the booking's phone question would stay for 90 days.
            kept = without_phones(text)
            ctx.session.add(MessageLog(user_id=ctx.user.id, direction="in", text=kept, created_at=ctx.now))

    def _before_language(self, ctx: Context, text: str, understanding: Understanding | None) -> None:
        """No language chosen yet (a crisis was answered before this). A message that names a served
        language, or is written in one the detector is sure of, chooses it as its button would. Anything
        else gets the language menu."""
        code = language_named(text)
        if code is None and understanding is not None and understanding.language in SERVED_LANGUAGES:
            code = understanding.language if understanding.language_confidence >= LANGUAGE_SWITCH_CONFIDENCE else None
        if code is not None:
            if understanding is not None and understanding.intent not in NOT_OFFERED | {"change_language"}:
                self.keep_question(ctx, FIRST_QUESTION, understanding)  # "hi" chose the language: nothing to answer
            self._on_payload(ctx, f"{LANGUAGE_STEP}{PAYLOAD_SEPARATOR}{code}")
            return
        self.go(ctx, LANGUAGE_STEP)

    def user_blocked(self, user: UserRef) -> None:
        """The channel found the user has blocked the bot (Telegram 403): stop writing to them."""
        with self.services.db.session() as session:
            row = session.scalar(select(User).where(User.channel == user.channel, User.external_id == user.external_id))
            if row is not None:
                row.blocked_at = self.services.clock()
                for hook in self.registry.blocked_hooks:
                    hook(session, row)

    def on_crisis(self, ctx: Context, understanding: Understanding) -> None:
        """Emergency information first, always; then whatever features add (an urgent ticket)."""
        if understanding.language in SERVED_LANGUAGES and ctx.user.language != understanding.language:
            # In a crisis, answer in the language they wrote in; they can change it later.
            ctx.user.language = understanding.language
        ctx.crisis = True
        self.go(ctx, "main.crisis")
        for handler in self.registry.crisis:
            handler(ctx, understanding)

    def crisis_pressed(self, ctx: Context) -> None:
        """The "I need help now" button of the safety question: the same as a crisis message."""
        self.on_crisis(ctx, _pressed_crisis(ctx.language))

    # ----------------------------------------------------------------- buttons
    def _on_payload(self, ctx: Context, payload: str) -> None:
        ref, sep, choice = payload.partition(PAYLOAD_SEPARATOR)
        step = self.flows.find(ref) if sep and choice else None
        if step is None:
            log.info("refused a button payload that matches no step")
            self._stale_button(ctx)
            return
        current = (ctx.state.flow, ctx.state.step)
        if (
            (step.flow, step.id) != current
            and not step.entry
            and not self._earlier_choice(ctx, step)
            and not self._only_goes_to_entry(step, choice)
        ):
            self._stale_button(ctx)
            return
        if step.stamp:
            # Only a stamped step's choices end with a stamp: an option id elsewhere may contain "~".
            choice, _, stamp = choice.rpartition(STAMP_SEPARATOR)
            if stamp != _stamp(ctx, step.stamp):
                self._stale_button(ctx)  # a button under an older message, about another group or section
                return
        left = None
        if (step.flow, step.id) != current:  # see the check above
            left = self.current_step(ctx)
            ctx.pressed_from = left.ref if left is not None else None
            ctx.state.flow, ctx.state.step = step.flow, step.id
        self._press(ctx, step, choice)
        self._offer_resume(ctx, left)  # an old Menu or language button half way through a booking

    def _press(self, ctx: Context, step: StepSpec, choice: str) -> None:
        """Run what a button of `step` (now the current step) does."""
        button = step.button(choice)
        if button is not None and (button.when is None or self.registry.conditions[button.when](ctx)):
            ctx.state.misunderstood = 0
            redirect = self.registry.actions[button.action](ctx, **button.args) if button.action else None
            target = redirect or button.next
            if target:
                self.go(ctx, target)
            return
        if step.options and step.on_option is not None:
            options = {option.id: option for option in self.registry.providers[step.options](ctx)}
            if choice in options:
                ctx.state.misunderstood = 0
                on = step.on_option
                redirect = self.registry.actions[on.action](ctx, choice, **on.args) if on.action else None
                target = redirect or on.next
                if target:
                    self.go(ctx, target)
                return
        log.info("refused a button payload that is not valid for the current step")
        self._stale_button(ctx)

    def _earlier_choice(self, ctx: Context, pressed: StepSpec) -> bool:
        """A list further up the same unfinished flow (the days, while choosing a time): pressing one of its
        options changes that choice, as its Back button would and then the press. Its action checks the
        choice is still on offer; other buttons (a confirmation) stay tied to the message they are under."""
        now = self.current_step(ctx)
        return (
            now is not None
            and now.unfinished is not None
            and pressed.unfinished is not None
            and pressed.options is not None
            and pressed.flow == now.flow
        )

    def _only_goes_to_entry(self, step: StepSpec, choice: str) -> bool:
        """A button that does nothing but open a way in ("Menu", "My bookings") works under any old message,
        as the same button of the menu would."""
        button = step.button(choice)
        if button is None or button.action is not None or button.next is None:
            return False
        try:
            return self.flows.step(button.next, current_flow=step.flow).entry
        except FlowError:
            return False

    def _stale_button(self, ctx: Context) -> None:
        ctx.say(ctx.t("errors.stale_button"))
        # A family choosing from a list (a booking's day, a group), or half way through a flow (a booking's
        # summary), keeps its place: that step again, not the menu. Such steps' actions only check what is
        # still on offer, so running them again is harmless.
        step = self.current_step(ctx)
        if ctx.user.language and step is not None and (step.options or step.unfinished):
            self.go(ctx, step.ref)
            return
        self.go(ctx, "main.menu" if ctx.user.language else LANGUAGE_STEP)

    # ----------------------------------------------------------------- media and commands
    def _on_media(self, ctx: Context, kind: MediaKind) -> None:
        if ctx.user.language is None:
            self.go(ctx, LANGUAGE_STEP)
            return
        handler = self.registry.media.get(kind)
        redirect = handler(ctx, kind) if handler else None
        if not ctx.replies:
            key = f"media.{kind.value}" if ctx.services.texts.has(f"media.{kind.value}") else "media.other"
            ctx.say(ctx.t(key))
            redirect = redirect or "main.menu"
        if redirect:
            self.go(ctx, redirect)

    def _on_command(self, ctx: Context, name: str, argument: str) -> None:
        handler = self.registry.commands.get(name)
        if handler is None:
            if ctx.user.language is None:
                self.go(ctx, LANGUAGE_STEP)
                return
            ctx.say(ctx.t("errors.unknown_command"))
            self.go(ctx, "main.help")
            return
        left = self.current_step(ctx)
        redirect = handler(ctx, argument)
        if redirect:
            self.go(ctx, redirect)
        self._offer_resume(ctx, left)  # /menu, /help or /language half way through a booking

    # ----------------------------------------------------------------- free text
    def _on_understanding(self, ctx: Context, u: Understanding) -> None:
        if u.language not in SERVED_LANGUAGES and u.language != "und" and u.language_confidence >= 0.8:
            ctx.say(ctx.t("language.unserved"))
            self.go(ctx, LANGUAGE_STEP)
            return
        if self.written_in_another_language(ctx, u) and u.language not in ctx.vars.get(DECLINED_SWITCHES, ()):
            ctx.set_var("switch_to", u.language)
            ctx.values["language"] = ctx.language_name(u.language)
            # The question again in the language they wrote in: they may not read the one they chose before.
            ctx.values["in_their_language"] = ctx.services.texts.get(u.language, "language.switch_offer_to")
            self.keep_question(ctx, PENDING_QUESTION, u)
            self.go(ctx, "main.switch_language")
            return
        if len(u.text) >= LONG_MESSAGE_CHARS and "handoff" in self.registry.features:
            self._long_message(ctx, u)
            return
        if u.intent_confidence < INTENT_THRESHOLD:
            self._clarify(ctx, u)
            return
        # Confident: the intent's handler. A confident out_of_scope ("asdfgh", the weather) is "not understood",
        # with a person to ask, rather than three guesses at near-zero scores.
        self.route_intent(ctx, u.intent, u)

    @staticmethod
    def written_in_another_language(ctx: Context, u: Understanding) -> bool:
        """The message is surely in a served language other than the family's: a switch may be offered."""
        return (
            u.language in SERVED_LANGUAGES
            and u.language != ctx.user.language
            and u.language_confidence >= LANGUAGE_SWITCH_CONFIDENCE
        )

    def keep_question(self, ctx: Context, variable: str, u: Understanding) -> None:
        """Keep what `u` asks, to answer it once the language or consent is settled: its intent and the
        words features need of it, when the intent is confident and one the bot answers."""
        ctx.pop_var(variable)  # an earlier question, left when the family wrote on instead of choosing
        if u.intent_confidence < INTENT_THRESHOLD or u.intent not in self.registry.intents:
            return
        ctx.set_var(variable, [u.intent, self._kept_words(u.text)])

    def _kept_words(self, text: str) -> str:
        return " ".join(word for keep in self.registry.keywords for word in keep(text))

    def answer_choice(self, ctx: Context, intent: str) -> None:
        """An intent picked from the "did you mean…?" buttons, with the words kept of the message."""
        words = ctx.pop_var(CLARIFIED_WORDS) or ""
        self.route_intent(ctx, intent, _chosen(intent, str(words)))

    def answer_kept_question(self, ctx: Context, variable: str, *, unless: str | None = None) -> bool:
        """Answer the question `keep_question` kept in `variable` (except intent `unless`); False if none."""
        kept = ctx.pop_var(variable)
        intent, words = (kept, "") if isinstance(kept, str) else (kept or [None, ""])  # str: kept before words
        if intent is None or intent == unless or intent not in self.registry.intents:
            return False
        self.route_intent(ctx, str(intent), _chosen(str(intent), str(words)))
        return True

    def route_intent(self, ctx: Context, intent: str, u: Understanding | None = None) -> None:
        handler = self.registry.intents.get(intent)
        if intent == "out_of_scope" or handler is None:
            self._misunderstood(ctx)
            return
        ctx.state.misunderstood = 0
        redirect = handler(ctx, u if u is not None else _chosen(intent))
        if redirect:
            self.go(ctx, redirect)

    def _offerable(self, ctx: Context, u: Understanding, min_score: float = 0.0) -> list[str]:
        """The intents of the ranking that may be offered as buttons, likeliest first."""
        guesses = self.registry.guesses
        return [
            intent
            for intent, score in u.ranking
            if score >= min_score
            and intent in self.registry.intents
            and intent not in NOT_OFFERED
            and ctx.services.texts.has(f"intent.{intent}")
            and (intent not in guesses or guesses[intent](ctx))
        ]

    def _long_message(self, ctx: Context, u: Understanding) -> None:
        """A long message is often a family's whole situation, several needs at once, and far longer than
        anything the intent model learned from: a counsellor is offered, beside the two likeliest topics."""
        ctx.state.misunderstood = 0
        ctx.set_var("clarify", self._offerable(ctx, u, LONG_MESSAGE_MIN_SCORE)[:2])
        ctx.set_var(CLARIFIED_WORDS, self._kept_words(u.text))
        self.go(ctx, "main.long_message")

    def _clarify(self, ctx: Context, u: Understanding) -> None:
        # Without a letter ("?", "123", an emoji the model never saw) the model has nothing to go on, and
        # its three "guesses" would only be the intents it meets most often.
        # Nor when its likeliest reading, however unsure, is "nothing the bot does" ("asdkj qwe"): guesses
        # behind it would be noise.
        guessable = any(ch.isalpha() for ch in u.text) and bool(u.ranking) and u.ranking[0][0] != "out_of_scope"
        choices = self._offerable(ctx, u)[:3] if guessable else []
        if not choices:
            self._misunderstood(ctx)
            return
        ctx.state.misunderstood += 1
        if ctx.state.misunderstood >= 2 and "handoff" in self.registry.features:
            self.go(ctx, "main.offer_person")
            return
        ctx.set_var("clarify", choices)
        ctx.set_var(CLARIFIED_WORDS, self._kept_words(u.text))  # "waxaan ku noolahay Simo…" keeps Simo
        self.go(ctx, "main.clarify")

    def _misunderstood(self, ctx: Context) -> None:
        ctx.state.misunderstood += 1
        if ctx.state.misunderstood >= 2 and "handoff" in self.registry.features:
            self.go(ctx, "main.offer_person")
            return
        self.go(ctx, "main.not_understood")

    def _fallback(self, ctx: Context) -> None:
        self.go(ctx, "main.menu" if ctx.user.language else LANGUAGE_STEP)

    # ----------------------------------------------------------------- steps
    def current_step(self, ctx: Context) -> StepSpec | None:
        if not ctx.state.flow or not ctx.state.step:
            return None
        return self.flows.find(f"{ctx.state.flow}.{ctx.state.step}")

    def go(self, ctx: Context, ref: str, *, depth: int = 0) -> None:
        """Enter a step: run its action, show its texts and buttons, follow `next` if it waits for nothing."""
        if depth > MAX_REDIRECTS:
            raise FlowError(f"too many redirects at {ref!r}")
        try:
            step = self.flows.step(ref, current_flow=ctx.state.flow)
        except FlowError:
            log.error("a flow refers to a missing step")
            raise
        ctx.state.flow, ctx.state.step = step.flow, step.id
        if str(ctx.vars.get(RESUME_AT, "")).partition(".")[0] == step.flow:
            ctx.pop_var(RESUME_AT)  # back in the flow another way: the old "back to…" button has lapsed
        first_reply = len(ctx.replies)
        if step.action:
            redirect = self.registry.actions[step.action](ctx, **step.args)
            if redirect:
                self.go(ctx, redirect, depth=depth + 1)
                return
        if not self._render(ctx, step, first_reply) and step.next and not step.input:
            self.go(ctx, step.next, depth=depth + 1)

    def show(self, ctx: Context, ref: str) -> None:
        """Add an entry step's texts and buttons below this turn's replies, staying at the current step.

        Only an entry step: its buttons are taken from whatever step the user is at when they press one.
        """
        step = self.flows.step(ref, current_flow=ctx.state.flow)
        if not step.entry:
            raise FlowError(f"{step.ref}: only an entry step can be shown without entering it")
        self._render(ctx, step, len(ctx.replies))

    def _render(self, ctx: Context, step: StepSpec, first_reply: int) -> bool:
        """The step's texts, its buttons on the last of them; True when it has buttons."""
        values = {**ctx.vars, **ctx.values}
        for key in step.texts:
            ctx.say(ctx.services.texts.get(ctx.language, key, **values))
        buttons = self._buttons(ctx, step)
        if not buttons:
            return False
        if len(ctx.replies) == first_reply:
            raise FlowError(f"{step.ref}: buttons without a message to carry them")
        last = ctx.replies[-1]
        ctx.replies[-1] = replace(last, buttons=last.buttons + buttons)
        return True

    def _buttons(self, ctx: Context, step: StepSpec) -> tuple[tuple[Button, ...], ...]:
        flat: list[Button] = []
        if step.options:
            for option in self.registry.providers[step.options](ctx):
                flat.append(Button(option.label, _payload(ctx, step, option.id)))
        for spec in step.buttons:
            if spec.when and not self.registry.conditions[spec.when](ctx):
                continue
            flat.append(Button(ctx.t(spec.text), _payload(ctx, step, spec.id)))
        width = max(1, step.columns)
        return tuple(tuple(flat[i : i + width]) for i in range(0, len(flat), width))


NOT_OFFERED = {"out_of_scope", "affirm", "deny", "greet", "goodbye", "thanks"}
# How the intent model reads a bare "stop" or "cancel" ("lopeta", "jooji", "peru", "отмена"): at a step with an
# `on_stop` button, that button rather than turning reminders off or opening the bookings.
STOP_INTENTS = {"reminders_off", "cancel_booking"}
STOP_WORDS = 2


def _payload(ctx: Context, step: StepSpec, choice: str) -> str:
    """A button's data: the step and the choice, and for a stamped step the item it is about."""
    payload = step.payload(choice)
    return f"{payload}{STAMP_SEPARATOR}{_stamp(ctx, step.stamp)}" if step.stamp else payload


def _stamp(ctx: Context, variable: str) -> str:
    return hashlib.sha256(repr(ctx.vars.get(variable)).encode()).hexdigest()[:STAMP_CHARS]


def typed_answer(step: StepSpec | None, u: Understanding | None) -> str | None:
    """The button a typed yes, no or stop stands for at this step (its `on_yes` / `on_no` / `on_stop`), if any."""
    if step is None or u is None or u.intent_confidence < INTENT_THRESHOLD:
        return None
    if u.intent in STOP_INTENTS:
        # A bare "stop" or "peru"; "please cancel my meeting on Friday" is about a booking already made.
        return step.on_stop if len(u.text.split()) <= STOP_WORDS else None
    return {"affirm": step.on_yes, "deny": step.on_no}.get(u.intent)


def _chosen(intent: str, words: str = "") -> Understanding:
    """An intent the user picked from the clarification buttons, or a kept question with its kept words:
    certain by definition."""
    return Understanding(words, "und", 0.0, intent, 1.0, False, ((intent, 1.0),))


def _pressed_crisis(language: str) -> Understanding:
    """A crisis the user declared with a button: no text, in the language they use."""
    return Understanding("", language, 1.0, NO_INTENT, 0.0, True, ())


def _language_of(connection: Connection, user: UserRef) -> str | None:
    language: str | None = connection.execute(
        STORED_LANGUAGE, {"channel": user.channel, "external_id": user.external_id}
    ).scalar()
    return language


def _inbox_status(session: Session, incoming: Incoming) -> str | None:
    """The channel's record of this update (locked until the transaction ends), or None if it has none."""
    if incoming.idempotency_key is None:
        return None
    return locked_status(session.connection(), incoming.idempotency_key)


def _mark_handled(session: Session, incoming: Incoming, recorded: bool, replies: list[Reply], now: datetime) -> None:
    """Record a channel's update as handled, with the replies to send, in the transaction of its effects.

    The replies are stored with an explicit recipient: after a crash they are sent without the original update.
    """
    if incoming.idempotency_key is None:
        return
    stored = [reply_to_json(r if r.to else replace(r, to=Recipient(user=incoming.user))) for r in replies]
    write_handled(session.connection(), incoming.idempotency_key, stored, now, recorded=recorded)


def _bounded(reply: Reply) -> Reply:
    """Telegram refuses messages over 4096 characters (as it counts them); paging is the features' job, this
    is the guard."""
    if telegram_length(reply.text) <= MAX_REPLY_CHARS:
        return reply
    cut = reply.text[: MAX_REPLY_CHARS - 1]
    while telegram_length(cut) > MAX_REPLY_CHARS - 1:  # emoji count twice: cut by what is still over
        cut = cut[: len(cut) - (telegram_length(cut) - MAX_REPLY_CHARS + 1)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return replace(reply, text=cut + "…")


def option_list(items: list[tuple[str, str]]) -> list[Option]:
    return [Option(id=i, label=label) for i, label in items]
