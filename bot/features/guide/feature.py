"""Serving the guide: topic list, sections in pages, "what next" links, topic intents, feedback."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from bot.core.context import Context, Option
from bot.core.engine import INTENT_THRESHOLD
from bot.core.messages import Reply
from bot.core.registry import IntentHandler, Registry
from bot.core.services import Services
from bot.db.models import GuideFeedback
from bot.features.groups.towns import words
from bot.features.guide.library import FLOW_LINKS, GuideLibrary, Section
from bot.features.guide.section_words import SectionWords

if TYPE_CHECKING:
    from bot.nlu.pipeline import Understanding

# The intent contract's topics and the sections that answer them. Where one intent covers two sections
# ("work and studies"), nothing in the intent tells a job from a Finnish course: the message's own words
# may (`guide.choose_words.<section>`, see section_words.py), and otherwise the family picks.
TOPIC_SECTIONS: dict[str, tuple[str, ...]] = {
    "topic_health": ("health",),
    "topic_mental_health": ("wellbeing",),
    "topic_family": ("parenting",),
    "topic_school": ("school",),
    "topic_work_study": ("work", "language-studies"),
    "topic_money": ("money",),
    "topic_housing": ("housing",),
}
# Sections a family may open looking for help now ("emergency numbers" reads as health care): their
# summary carries the emergency numbers button.
URGENT_SECTIONS = frozenset({"health", "wellbeing", "safety"})
# A health question that asks for the numbers themselves ("what is the emergency number", "رقم الطوارئ",
# "lambarka sunta") gets them at once, not a section with a button for them. Its words are a list like a
# section's (guide.choose_words.emergency).
EMERGENCY_WORDS = "emergency"
EMERGENCY_STEP = "main.emergency"
ASKS_FOR_NUMBERS = frozenset({"topic_health", "topic_mental_health"})
# "what next" flow links → (the flow step they open, the string labelling the button)
LINK_TARGETS = {
    "book": ("booking.start", "guide.link_book"),
    "groups": ("groups.start", "guide.link_groups"),
    "handoff": ("handoff.start", "guide.link_handoff"),
}
# A section typed at "Which one do you mean?" is taken from a message that the model reads as the topic asked
# about, or does not understand, or, in this many words at most, reads as one of TYPED_CHOICE_INTENTS: "Finnish"
# or "kieli" alone reads as a wish to change the language. Any other confident reading is left to the model
# ("Kela unemployment money" is about money).
SHORT_ANSWER_WORDS = 4
TYPED_CHOICE_INTENTS = frozenset({"change_language", "out_of_scope"})


def register(registry: Registry, services: Services) -> None:
    library = GuideLibrary.load(services.settings.content_dir)
    services.features["guide"] = library
    registry.features.add("guide")
    registry.checks.append(lambda: library.check(FLOW_LINKS))
    section_words = SectionWords.build(
        services.texts, [*(ids for ids in TOPIC_SECTIONS.values() if len(ids) > 1), (EMERGENCY_WORDS,)]
    )
    registry.checks.append(lambda: list(section_words.problems))

    def section(ctx: Context) -> Section | None:
        section_id = ctx.vars.get("guide_section")
        return library.get(ctx.language, section_id) if section_id else None

    def page_count(ctx: Context) -> int:
        current = section(ctx)
        return len(library.pages(current)) if current else 0

    def page_index(ctx: Context) -> int:
        return max(0, min(int(ctx.vars.get("guide_page", 0)), page_count(ctx) - 1))

    def is_last_page(ctx: Context) -> bool:
        return section(ctx) is not None and page_index(ctx) == page_count(ctx) - 1

    @registry.provider("guide_sections")
    def guide_sections(ctx: Context) -> list[Option]:
        return [Option(s.id, f"{s.icon} {s.title}") for s in library.ordered(ctx.language)]

    @registry.action("open_section")
    def open_section(ctx: Context, section_id: str) -> str:
        ctx.set_var("guide_section", section_id)
        ctx.set_var("guide_page", 0)
        return "guide.page"

    @registry.action("show_page")
    def show_page(ctx: Context) -> str | None:
        current = section(ctx)
        if current is None:
            return "guide.topics"
        pages = library.pages(current)
        index = page_index(ctx)
        header = f"{current.icon} <b>{_escape(current.title)}</b>"
        if len(pages) > 1:
            header += " " + ctx.t("guide.page_of", page=index + 1, pages=len(pages))
        text = f"{header}\n\n{pages[index]}"
        if index == len(pages) - 1:
            text += "\n\n<i>" + ctx.t("guide.helpful_question") + "</i>"
        ctx.send(Reply(text=text, edit=bool(ctx.values.get("edit"))))
        return None

    @registry.action("turn_page")
    def turn_page(ctx: Context, step: int) -> str:
        ctx.set_var("guide_page", max(0, min(page_index(ctx) + step, page_count(ctx) - 1)))
        ctx.values["edit"] = True  # paging replaces the page in place instead of stacking messages
        return "guide.page"

    @registry.condition("guide_has_next")
    def guide_has_next(ctx: Context) -> bool:
        return section(ctx) is not None and page_index(ctx) < page_count(ctx) - 1

    @registry.condition("guide_has_prev")
    def guide_has_prev(ctx: Context) -> bool:
        return section(ctx) is not None and page_index(ctx) > 0

    @registry.condition("guide_urgent_section")
    def guide_urgent_section(ctx: Context) -> bool:
        return ctx.vars.get("guide_section") in URGENT_SECTIONS

    @registry.condition("guide_last_page")
    def guide_last_page(ctx: Context) -> bool:
        return is_last_page(ctx)

    @registry.provider("guide_links")
    def guide_links(ctx: Context) -> list[Option]:
        current = section(ctx)
        if current is None or not is_last_page(ctx):
            return []
        options: list[Option] = []
        for link in current.next:
            target = LINK_TARGETS.get(link)
            if target and services.flows.find(target[0]) is not None:
                options.append(Option(f"f-{link}", ctx.t(target[1])))
        for related in current.related:
            other = library.get(ctx.language, related)
            if other is not None:
                options.append(Option(f"s-{related}", f"{other.icon} {other.title}"))
        return options

    @registry.action("follow_link")
    def follow_link(ctx: Context, choice: str) -> str | None:
        kind, _, name = choice.partition("-")
        if kind == "s":
            return open_section(ctx, name)
        target = LINK_TARGETS.get(name)
        return target[0] if target else "guide.topics"

    @registry.action("guide_feedback")
    def guide_feedback(ctx: Context, helpful: bool) -> str:
        current = section(ctx)
        if current is not None:
            # Deliberately not linked to the user: only section, language and the answer.
            ctx.session.add(
                GuideFeedback(section_id=current.id, language=ctx.language, helpful=helpful, created_at=ctx.now)
            )
        ctx.say(ctx.t("guide.feedback_thanks"))
        return "guide.topics"

    @registry.action("show_summary")
    def show_summary(ctx: Context) -> str | None:
        current = section(ctx)
        if current is None:
            return "guide.topics"
        ctx.say(f"{current.icon} <b>{_escape(current.title)}</b>\n\n{_escape(current.summary)}")
        return None

    @registry.action("read_section")
    def read_section(ctx: Context) -> str:
        ctx.set_var("guide_page", 0)
        return "guide.page"

    @registry.provider("guide_topic_sections")
    def guide_topic_sections(ctx: Context) -> list[Option]:
        found = (library.get(ctx.language, section_id) for section_id in ctx.vars.get("guide_choices", []))
        return [Option(s.id, f"{s.icon} {s.title}") for s in found if s is not None]

    @registry.action("open_summary")
    def open_summary(ctx: Context, section_id: str) -> str:
        ctx.pop_var("guide_choices")
        ctx.set_var("guide_section", section_id)
        ctx.set_var("guide_page", 0)
        return "guide.summary"

    @registry.input("guide_choice_typed")
    def guide_choice_typed(ctx: Context, text: str) -> str | None:
        """A section typed instead of pressed at "Which one do you mean?": "Finnish", "töitä", "اللغة"."""
        among = list(ctx.vars.get("guide_choices", []))
        u = ctx.understanding
        if (
            u is not None
            and u.intent_confidence >= INTENT_THRESHOLD
            and list(TOPIC_SECTIONS.get(u.intent, ())) != among
        ):
            if u.intent not in TYPED_CHOICE_INTENTS or len(words(text)) > SHORT_ANSWER_WORDS:
                return None  # read confidently as something else
        chosen = section_words.choose(text, among)
        return open_summary(ctx, chosen) if chosen is not None else None

    def topic_handler(intent: str, section_ids: tuple[str, ...]) -> IntentHandler:
        def handler(ctx: Context, understanding: Understanding) -> str | None:
            if intent in ASKS_FOR_NUMBERS and section_words.choose(understanding.text, (EMERGENCY_WORDS,)):
                return EMERGENCY_STEP
            # A kept question (across consent) carries only a few kept words, often none: then the family picks.
            chosen = section_ids[0] if len(section_ids) == 1 else section_words.choose(understanding.text, section_ids)
            if chosen is not None:
                return open_summary(ctx, chosen)
            ctx.set_var("guide_choices", list(section_ids))
            return "guide.choose"

        return handler

    registry.intents["guide_topics"] = lambda _ctx, _u: "guide.topics"
    for intent, section_ids in TOPIC_SECTIONS.items():
        registry.intents[intent] = topic_handler(intent, section_ids)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
