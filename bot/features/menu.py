"""The main menu, help, small talk, clarification, language switching and media replies."""

from __future__ import annotations

from bot.core.context import Context, Option
from bot.core.engine import (
    DECLINED_SWITCHES,
    INTENT_THRESHOLD,
    LANGUAGE_SWITCH_CONFIDENCE,
    PENDING_QUESTION,
)
from bot.core.messages import MediaKind
from bot.core.registry import IntentHandler, Registry
from bot.core.services import Services
from bot.core.texts import LANGUAGE_NAMES


def register(registry: Registry, services: Services) -> None:
    def to(ref: str) -> IntentHandler:
        return lambda _ctx, _understanding: ref

    for name, ref in {
        "greet": "main.greet",
        "thanks": "main.thanks",
        "goodbye": "main.goodbye",
        "help": "main.menu",
        "affirm": "main.menu",
        "deny": "main.menu",
        "change_language": "onboarding.language",
    }.items():
        registry.intents[name] = to(ref)

    @registry.command("menu")
    def menu(ctx: Context, _argument: str) -> str:
        return "main.menu" if ctx.user.language else "onboarding.language"

    @registry.command("help")
    def help_(ctx: Context, _argument: str) -> str:
        return "main.help" if ctx.user.language else "onboarding.language"

    @registry.provider("clarify_choices")
    def clarify_choices(ctx: Context) -> list[Option]:
        return [Option(intent, ctx.t(f"intent.{intent}")) for intent in ctx.vars.get("clarify", [])]

    @registry.action("crisis_now")
    def crisis_now(ctx: Context) -> None:
        ctx.conversation.crisis_pressed(ctx)

    @registry.action("resume")
    def resume(ctx: Context) -> str:
        return ctx.conversation.resume(ctx)

    @registry.action("choose_intent")
    def choose_intent(ctx: Context, intent: str) -> None:
        ctx.pop_var("clarify")
        ctx.conversation.answer_choice(ctx, intent)

    @registry.provider("switch_choices")
    def switch_choices(ctx: Context) -> list[Option]:
        target = ctx.vars.get("switch_to")
        if not target or target not in LANGUAGE_NAMES:
            return [Option("keep", ctx.t("language.keep"))]
        return [Option(target, LANGUAGE_NAMES[target]), Option("keep", ctx.t("language.keep"))]

    @registry.action("apply_language_switch")
    def apply_language_switch(ctx: Context, choice: str) -> str:
        offered = ctx.pop_var("switch_to")
        answered = None
        if choice == "keep":
            declined = ctx.vars.get(DECLINED_SWITCHES, [])
            if offered and offered not in declined:
                ctx.set_var(DECLINED_SWITCHES, [*declined, offered])
        else:
            ctx.user.language = choice
            ctx.say(ctx.t("onboarding.language_set"))
            answered = "change_language"  # "can you speak English?": answered by the switch just made
        if not ctx.conversation.answer_kept_question(ctx, PENDING_QUESTION, unless=answered):
            ctx.go("main.menu")
        ctx.conversation.show_resume(ctx)  # a booking the question interrupted: the way back, in the new language
        return ""

    @registry.input("switch_typed")
    def switch_typed(ctx: Context, _text: str) -> str | None:
        """A typed answer to the offer: yes or no, in either language; or more in the offered language, which
        chooses it, and the message is answered as their question."""
        u = ctx.understanding
        target = ctx.vars.get("switch_to")
        if u is None or not target:
            return None
        if u.intent_confidence >= INTENT_THRESHOLD and u.intent in ("affirm", "deny"):
            return apply_language_switch(ctx, target if u.intent == "affirm" else "keep")
        if u.language == target and u.language_confidence >= LANGUAGE_SWITCH_CONFIDENCE:
            ctx.pop_var("switch_to")
            ctx.pop_var(PENDING_QUESTION)  # this message is their question now
            ctx.user.language = target
            ctx.say(ctx.t("onboarding.language_set"))
        return None  # the engine goes on with the message

    def media_reply(ctx: Context, kind: MediaKind) -> str:
        ctx.say(ctx.t(f"media.{kind.value}"))
        return "main.menu"

    for kind in MediaKind:
        registry.media.setdefault(kind, media_reply)
