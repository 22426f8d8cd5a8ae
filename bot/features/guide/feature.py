"""Serving the guide: topic list, sections in pages, "what next" links, topic intents, feedback."""

from __future__ import annotations

import html

from bot.core.context import Context, Option
from bot.core.messages import Reply
from bot.core.registry import IntentHandler, Registry
from bot.core.services import Services
from bot.db.models import GuideFeedback
from bot.features.guide.library import FLOW_LINKS, GuideLibrary, Section

# The intent contract's topics and the sections that answer them. Where one intent covers two sections
# ("work and studies"), the family picks one: nothing in the intent tells a job from a Finnish course.
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
# "what next" flow links → (the flow step they open, the string labelling the button)
LINK_TARGETS = {
    "book": ("booking.start", "guide.link_book"),
    "groups": ("groups.start", "guide.link_groups"),
    "handoff": ("handoff.start", "guide.link_handoff"),
}


def register(registry: Registry, services: Services) -> None:
    library = GuideLibrary.load(services.settings.content_dir)
    services.features["guide"] = library
    registry.features.add("guide")
    registry.checks.append(lambda: library.check(FLOW_LINKS))

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

    def topic_handler(section_ids: tuple[str, ...]) -> IntentHandler:
        def handler(ctx: Context, _understanding: object) -> str | None:
            if len(section_ids) == 1:
                return open_summary(ctx, section_ids[0])
            ctx.set_var("guide_choices", list(section_ids))
            return "guide.choose"

        return handler

    registry.intents["guide_topics"] = lambda _ctx, _u: "guide.topics"
    for intent, section_ids in TOPIC_SECTIONS.items():
        registry.intents[intent] = topic_handler(section_ids)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
