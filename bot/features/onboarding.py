"""/start, language choice and consent."""

from __future__ import annotations

from bot.core.context import Context, Option
from bot.core.engine import FIRST_QUESTION, INTENT_THRESHOLD, NOT_OFFERED
from bot.core.registry import Registry
from bot.core.services import Services
from bot.core.texts import LANGUAGE_NAMES, language_named
from bot.settings import SERVED_LANGUAGES

CONSENT_VERSION = "2026-12"  # 2026-12: the phone number of a phone or video meeting
# Set (for this turn only) when the family has just said no to consent, pressed or typed: a link that
# waited for the answer (a group's reminders) must not ask again at once.
JUST_REFUSED = "consent_just_refused"
# The text the consent step shows this turn instead of its notice: set when something other than an
# answer was typed, and the question is asked again, briefly, below the notice the family already has.
CONSENT_TEXT = "consent_text"


def language_order(hint: str | None) -> list[str]:
    """The served languages, with the one Telegram reports for the user first."""
    base = (hint or "").split("-")[0].lower()
    if base in SERVED_LANGUAGES:
        return [base, *(code for code in SERVED_LANGUAGES if code != base)]
    return list(SERVED_LANGUAGES)


def after_onboarding(ctx: Context) -> str | None:
    """Where to go once language and consent are settled: a pending deep link, the question the first
    message asked, or the menu."""
    link = ctx.pop_var("after_onboarding")
    if link:
        ctx.pop_var(FIRST_QUESTION)
        redirect = open_deep_link(ctx, str(link))
        if redirect is not None or ctx.replies:
            return redirect
    if ctx.conversation.answer_kept_question(ctx, FIRST_QUESTION):
        return None
    return "main.menu"


def open_deep_link(ctx: Context, argument: str) -> str | None:
    prefix, _, rest = argument.partition("-")
    handler = ctx.services.registry.deep_links.get(prefix.lower())
    if handler is None:
        return "main.menu"
    return handler(ctx, rest)


def register(registry: Registry, services: Services) -> None:
    @registry.action("greet_all_languages")
    def greet_all_languages(ctx: Context) -> None:
        lines = [services.texts.get(code, "onboarding.hello") for code in language_order(ctx.incoming.language_hint)]
        ctx.say("\n\n".join(lines))

    @registry.provider("languages")
    def languages(ctx: Context) -> list[Option]:
        return [Option(code, LANGUAGE_NAMES[code]) for code in language_order(ctx.incoming.language_hint)]

    @registry.action("set_language")
    def set_language(ctx: Context, code: str) -> str | None:
        ctx.user.language = code
        ctx.say(ctx.t("onboarding.language_set"))
        if ctx.user.consent_at is None and ctx.user.consent_refused_at is None:
            return "onboarding.consent"
        redirect = after_onboarding(ctx)
        if redirect:
            ctx.go(redirect)
        ctx.conversation.show_resume(ctx)  # /language half way through a booking: the way back, in the new one
        return None

    @registry.action("consent_question")
    def consent_question(ctx: Context, text: str) -> None:
        """The consent step's notice (`text`), or the short question again (`consent_typed`)."""
        ctx.say(ctx.t(ctx.values.get(CONSENT_TEXT) or text))

    @registry.input("consent_typed")
    def consent_typed(ctx: Context, text: str) -> str:
        """Typed at the consent question, and neither a clear yes nor a clear no (the step's `on_yes` and
        `on_no` take those): nothing is given or refused, and the question stays. A question in it is kept
        and answered once consent is settled (unless a link waits: `after_onboarding` follows the link);
        a language's name, or a message in another language, is a change of language first."""
        code = language_named(text)
        if code is not None:
            ctx.user.language = code
            ctx.say(ctx.t("onboarding.language_set"))
            return str(ctx.state.step)  # the notice again, in the language they chose
        u = ctx.understanding
        asks = u is not None and u.intent_confidence >= INTENT_THRESHOLD and u.intent not in NOT_OFFERED
        kept = False
        if u is not None and asks and u.intent != "change_language" and not ctx.vars.get("after_onboarding"):
            ctx.conversation.keep_question(ctx, FIRST_QUESTION, u)
            kept = FIRST_QUESTION in ctx.vars
        elsewhere = u is not None and ctx.conversation.written_in_another_language(ctx, u)
        if u is not None and ((asks and u.intent == "change_language") or elsewhere):
            return "language"  # the languages, then the notice again in the one chosen
        ctx.values[CONSENT_TEXT] = "onboarding.consent_again_kept" if kept else "onboarding.consent_again"
        return str(ctx.state.step)

    @registry.action("give_consent")
    def give_consent(ctx: Context) -> str | None:
        ctx.user.consent_at = ctx.now
        ctx.user.consent_version = CONSENT_VERSION
        ctx.user.consent_refused_at = None
        ctx.say(ctx.t("privacy.thanks"))
        return after_onboarding(ctx)

    @registry.action("refuse_consent")
    def refuse_consent(ctx: Context) -> str | None:
        ctx.user.consent_refused_at = ctx.now
        ctx.user.consent_at = None
        ctx.values[JUST_REFUSED] = True
        ctx.say(ctx.t("privacy.refused"))
        return after_onboarding(ctx)

    @registry.condition("has_consent")
    def has_consent(ctx: Context) -> bool:
        return ctx.user.has_consent

    @registry.condition("has_language")
    def has_language(ctx: Context) -> bool:
        return ctx.user.language is not None

    @registry.command("start")
    def start(ctx: Context, argument: str) -> str | None:
        if argument:
            if ctx.user.language and (ctx.user.consent_at or ctx.user.consent_refused_at):
                return open_deep_link(ctx, argument)
            ctx.set_var("after_onboarding", argument[:60])
            if ctx.user.language:
                return "onboarding.consent"
        return "onboarding.language"

    @registry.command("language")
    def language(ctx: Context, _argument: str) -> str:
        return "onboarding.language"
