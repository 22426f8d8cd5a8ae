"""The names that flows, commands and intents are bound to; each feature registers its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.context import Context, Option
from bot.core.messages import MediaKind

if TYPE_CHECKING:
    from bot.nlu.pipeline import Understanding

# An action may return a step reference to go to instead of the flow's own `next`.
Action = Callable[..., str | None]
Condition = Callable[[Context], bool]
Provider = Callable[[Context], list[Option]]
InputHandler = Callable[[Context, str], str | None]
CommandHandler = Callable[[Context, str], str | None]
IntentHandler = Callable[[Context, "Understanding"], str | None]
MediaHandler = Callable[[Context, MediaKind], str | None]
CrisisHandler = Callable[[Context, "Understanding"], None]


@dataclass
class Registry:
    actions: dict[str, Action] = field(default_factory=dict)
    conditions: dict[str, Condition] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    inputs: dict[str, InputHandler] = field(default_factory=dict)
    commands: dict[str, CommandHandler] = field(default_factory=dict)
    # Commands that still work while a counsellor conversation is open, etc.
    staff_commands: dict[str, CommandHandler] = field(default_factory=dict)
    intents: dict[str, IntentHandler] = field(default_factory=dict)
    # When the NLU is unsure, its likeliest intents are offered as buttons; an intent listed here is offered
    # only when its condition holds ("my bookings" to a family that has one; "delete my data" never).
    guesses: dict[str, Condition] = field(default_factory=dict)
    deep_links: dict[str, CommandHandler] = field(default_factory=dict)
    media: dict[MediaKind, MediaHandler] = field(default_factory=dict)
    crisis: list[CrisisHandler] = field(default_factory=list)
    # The words of a message a feature needs to answer it later (the town it names), for a question whose
    # answer waits for the language choice, consent or a language-switch offer. Only these words are kept.
    keywords: list[Callable[[str], list[str]]] = field(default_factory=list)
    # Run before normal handling; one that returns True has handled the message (e.g. a relay to a counsellor).
    interceptors: list[Callable[[Context], bool]] = field(default_factory=list)
    features: set[str] = field(default_factory=set)
    # Called in the transaction that marks a user as having blocked the bot (e.g. to pause subscriptions).
    blocked_hooks: list[Callable[[Any, Any], None]] = field(default_factory=list)
    # Called by a channel with (track, chat id, message id) after sending a reply that carried `track`;
    # a reply that opened a forum topic (`Recipient.new_topic`) also passes `thread_id=` the new topic's id.
    sent_hooks: dict[str, Callable[..., None]] = field(default_factory=dict)
    # Called by a channel with (track, reason) when a reply that carried `track` will never arrive ("blocked":
    # the recipient blocked the bot; "refused": the platform refused it); returns replies to send instead
    # (e.g. telling the staff group that a counsellor's message did not reach the family).
    undelivered_hooks: dict[str, Callable[[str, str], list[Any]]] = field(default_factory=dict)
    # Commands of the staff group, in the order features register them (each feature handles its own, in an
    # interceptor), and those a counsellor uses in a private chat with the bot (/slots): the staff group's /help
    # lists both, each with its `staff.help.<name>` string in STAFF_LANGUAGE (see bot/features/staff_help.py).
    staff_group_commands: list[str] = field(default_factory=list)
    staff_private_commands: list[str] = field(default_factory=list)
    # Commands shown in Telegram's command menu, in this order; each needs a `commands.<name>` string.
    menu_commands: list[str] = field(default_factory=lambda: ["start", "menu", "language", "help"])
    # Called with (application, channel) when the Telegram application is built: jobs, extra handlers.
    telegram_hooks: list[Callable[[Any, Any], None]] = field(default_factory=list)
    # Gauges for /metrics whose value lives in the database: name → (help text, read(session) → value),
    # read at every scrape (e.g. open tickets). Names follow Prometheus rules (`aito_…`).
    gauges: dict[str, tuple[str, Callable[[Any], float]]] = field(default_factory=dict)
    # Content checks for `python -m bot content check`: each returns problems as `file: message` lines.
    checks: list[Callable[[], list[str]]] = field(default_factory=list)
    # Privacy (GDPR art. 15/20 and 17): each feature exports and erases its own rows of a user.
    # An exporter gets (session, user) and returns {section name: JSON-able data}, never other users' data.
    privacy_exporters: list[Callable[[Any, Any], dict[str, Any]]] = field(default_factory=list)
    # An eraser gets the Context of the confirmed /delete (ctx.session, ctx.user, ctx.now) and deletes or
    # anonymises every row of ctx.user it owns; notices to others (a counsellor) go out with ctx.send.
    # Erasers run before the user row itself is deleted; they return {table: rows affected} for the audit.
    privacy_erasers: list[Callable[[Context], dict[str, int]]] = field(default_factory=list)
    # Retention: called periodically with (session, now); each deletes what has outlived its retention
    # period and returns {table: rows affected}.
    retention_hooks: list[Callable[[Any, Any], dict[str, int]]] = field(default_factory=list)

    def _add(self, table: dict[Any, Any], name: Any, fn: Any) -> None:
        if name in table:
            raise ValueError(f"{name!r} is registered twice")
        table[name] = fn

    def action(self, name: str) -> Callable[[Action], Action]:
        def deco(fn: Action) -> Action:
            self._add(self.actions, name, fn)
            return fn

        return deco

    def condition(self, name: str) -> Callable[[Condition], Condition]:
        def deco(fn: Condition) -> Condition:
            self._add(self.conditions, name, fn)
            return fn

        return deco

    def provider(self, name: str) -> Callable[[Provider], Provider]:
        def deco(fn: Provider) -> Provider:
            self._add(self.providers, name, fn)
            return fn

        return deco

    def input(self, name: str) -> Callable[[InputHandler], InputHandler]:
        def deco(fn: InputHandler) -> InputHandler:
            self._add(self.inputs, name, fn)
            return fn

        return deco

    def command(self, name: str) -> Callable[[CommandHandler], CommandHandler]:
        def deco(fn: CommandHandler) -> CommandHandler:
            self._add(self.commands, name, fn)
            return fn

        return deco

    def intent(self, name: str) -> Callable[[IntentHandler], IntentHandler]:
        def deco(fn: IntentHandler) -> IntentHandler:
            self.intents[name] = fn  # a feature may take over an intent from the default handler
            return fn

        return deco

    def deep_link(self, prefix: str) -> Callable[[CommandHandler], CommandHandler]:
        def deco(fn: CommandHandler) -> CommandHandler:
            self._add(self.deep_links, prefix, fn)
            return fn

        return deco

    def on_media(self, kind: MediaKind) -> Callable[[MediaHandler], MediaHandler]:
        def deco(fn: MediaHandler) -> MediaHandler:
            self.media[kind] = fn
            return fn

        return deco
