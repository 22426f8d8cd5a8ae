"""Group meetings for families: town → groups → details → reminders, calendar file, RSVP; the reminder planner."""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import timefmt
from bot.core.context import Context, Option
from bot.core.engine import INTENT_THRESHOLD
from bot.core.messages import Attachment
from bot.core.registry import Registry
from bot.core.services import Services
from bot.core.texts import Safe
from bot.db.models import User
from bot.features.groups.calendar import group_calendar
from bot.features.groups.catalog import (
    DEFAULT_REMINDERS,
    Catalog,
    CatalogError,
    check_catalog,
    import_catalog,
    load_catalog,
)
from bot.features.groups.models import CANCELLED, COMING, HAPPENING, NOT_COMING, Group, Occurrence, Rsvp, Subscription
from bot.features.groups.occurrences import ensure_occurrences, next_happening, upcoming
from bot.features.groups.reminders import plan_reminders
from bot.features.groups.schedule import parse_clock, parse_duration
from bot.features.groups.staff_commands import register_staff_commands
from bot.features.groups.towns import TownNames, words
from bot.features.onboarding import JUST_REFUSED
from bot.outbox import Delivery, delivery_for
from bot.outbox_models import CANCELLED as OUTBOX_CANCELLED
from bot.outbox_models import PENDING, OutboxMessage

if TYPE_CHECKING:
    from bot.nlu.pipeline import Understanding

log = logging.getLogger(__name__)

RSVP_WINDOW = timedelta(days=70)
# Outbox kinds whose keys start with `<kind>:<subscription id>:`.
SUBSCRIPTION_KINDS = ("group.reminder", "group.cancelled", "group.moved", "group.reinstated")
CANCELLED_SHOWN_AHEAD = timedelta(days=21)
# Steps that show one group (the one in `groups_group`): there "remind me" means this group.
GROUP_PAGES = frozenset({"details", "calendar", "need_consent", "subscribed", "unsubscribed"})
# A town typed at "Where do you live?" is taken as the answer when the message is short, or when the NLU
# reads it as about the groups (or reads nothing certain); "I need a doctor in Kemi" goes to the NLU.
SHORT_ANSWER_WORDS = 4
TOWN_ANSWER_INTENTS = frozenset({"group_schedule", "reminders_on", "out_of_scope", "affirm", "greet"})
# Between the items of a list in a sentence (Arabic has its own comma).
LIST_SEPARATORS = {"ar": "، "}


class GroupsService:
    """What the groups feature keeps for the process: the catalog's settings, the time zone, the delivery engine."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.zone = ZoneInfo(services.settings.timezone)
        self.catalog_path = services.settings.content_dir / "groups.yml"
        try:
            self.catalog = load_catalog(self.catalog_path)
        except CatalogError:
            # `content check` reports the problems; the bot still runs with the groups already imported.
            log.error("content/groups.yml has problems; run `python -m bot content check`")
            self.catalog = Catalog(reminders=tuple((label, parse_duration(label)) for label in DEFAULT_REMINDERS))
        self.towns = TownNames.build(self.catalog.municipalities, self.catalog.spellings)
        self.delivery: Delivery = delivery_for(services)
        self._seeded = False

    @property
    def reminders(self) -> tuple[tuple[str, timedelta], ...]:
        return self.catalog.reminders

    def ensure_seeded(self, session: Session, now: datetime) -> None:
        """On a fresh database, import content/groups.yml so that the bot has groups to show at once."""
        if self._seeded:
            return
        if session.scalar(select(Group.id).limit(1)) is not None:
            self._seeded = True  # remembered only once seen in the database, never on a guess
            return
        if not self.catalog.groups:
            return
        try:
            with session.begin_nested():  # another process may be seeding at the same moment
                import_catalog(session, self.catalog, now, self.zone)
        except IntegrityError:
            log.info("another process imported the groups first")
        else:
            log.info("imported %d groups from content/groups.yml into an empty database", len(self.catalog.groups))

    def plan(self, session: Session, now: datetime) -> int:
        self.ensure_seeded(session, now)
        return plan_reminders(session, now, offsets=self.reminders, zone=self.zone)

    # ------------------------------------------------------------------ formatting
    def when(self, language: str, moment: datetime) -> str:
        return timefmt.format_datetime(language, moment, self.zone)

    def municipality(self, key: str, language: str) -> str:
        return self.catalog.municipality_name(key, language)

    def schedule_text(self, ctx: Context, group: Group) -> str:
        start = parse_clock(group.start_time)
        end_minutes = (start.hour * 60 + start.minute + group.duration_minutes) % (24 * 60)
        end = start.replace(hour=end_minutes // 60, minute=end_minutes % 60)
        values = {
            "weekday": timefmt.weekday_name(ctx.language, group.weekday),
            "start": timefmt.format_clock(ctx.language, start),
            "end": timefmt.format_clock(ctx.language, end),
            "weeks": group.every_weeks,
        }
        keys = {1: "groups.schedule_weekly", 2: "groups.schedule_biweekly"}
        key = keys.get(group.every_weeks, "groups.schedule_every")
        return ctx.t(key, **values)


def register(registry: Registry, services: Services) -> None:
    groups = GroupsService(services)
    services.features["groups"] = groups
    registry.features.add("groups")
    registry.checks.append(lambda: check_catalog(groups.catalog_path))
    groups.delivery.add_planner("groups.reminders", groups.plan)

    # ------------------------------------------------------------------ helpers
    def current_group(ctx: Context) -> Group | None:
        group_id = ctx.vars.get("groups_group")
        group = ctx.session.get(Group, group_id) if isinstance(group_id, str) else None
        return group if group is not None and group.active else None

    def active_groups(ctx: Context) -> list[Group]:
        groups.ensure_seeded(ctx.session, ctx.now)
        rows = ctx.session.scalars(select(Group).where(Group.active.is_(True)).order_by(Group.id)).all()
        for group in rows:
            ensure_occurrences(ctx.session, group, ctx.now, groups.zone)
        return list(rows)

    def subscription(ctx: Context, group_id: str) -> Subscription | None:
        return ctx.session.scalar(
            select(Subscription).where(Subscription.user_id == ctx.user.id, Subscription.group_id == group_id)
        )

    def my_subscribed_groups(ctx: Context) -> list[Group]:
        return list(
            ctx.session.scalars(
                select(Group)
                .join(Subscription, Subscription.group_id == Group.id)
                .where(Subscription.user_id == ctx.user.id, Subscription.active.is_(True), Group.active.is_(True))
                .order_by(Group.id)
            )
        )

    def label(ctx: Context, group: Group) -> str:
        return f"{group.icon} {group.name(ctx.language)}"

    def next_text(ctx: Context, group: Group) -> str:
        following = next_happening(ctx.session, group.id, ctx.now)
        if following is None:
            return Safe(ctx.t("groups.no_meeting_planned"))
        return groups.when(ctx.language, following.starts_at)

    def cancelled_lines(ctx: Context, group: Group) -> list[str]:
        return [
            ctx.t("groups.cancelled_line", when=groups.when(ctx.language, o.starts_at))
            for o in upcoming(ctx.session, group.id, ctx.now)
            if o.status == CANCELLED and o.starts_at <= ctx.now + CANCELLED_SHOWN_AHEAD
        ]

    def subscribe(ctx: Context, group: Group) -> bool:
        """True when this is a new subscription (or one renewed after stopping)."""
        row = subscription(ctx, group.id)
        if row is None:
            ctx.session.add(Subscription(user_id=ctx.user.id, group_id=group.id, active=True, subscribed_at=ctx.now))
            return True
        if row.active:
            return False
        row.active, row.subscribed_at, row.ended_at = True, ctx.now, None
        return True

    def unsubscribe(session: Session, row: Subscription, now: datetime) -> None:
        row.active, row.ended_at = False, now
        # Reminders and notices already queued for this subscription are withdrawn, not sent.
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.user_id == row.user_id,
                OutboxMessage.status == PENDING,
                or_(*(OutboxMessage.key.like(f"{kind}:{row.id}:%") for kind in SUBSCRIPTION_KINDS)),
            )
            .values(status=OUTBOX_CANCELLED)
        )

    def open_group(ctx: Context, group: Group) -> None:
        ctx.set_var("groups_group", group.id)
        ctx.set_var("groups_municipality", group.municipality)

    # ------------------------------------------------------------------ town → groups
    def towns_with_groups(ctx: Context) -> list[str]:
        """The towns where an active group meets, in the file's order: only these are offered as buttons."""
        present = {group.municipality for group in active_groups(ctx)}
        return [key for key in groups.catalog.municipalities if key in present] + sorted(
            present - set(groups.catalog.municipalities)
        )

    def town_options(ctx: Context, keys: list[str]) -> list[Option]:
        return [Option(key, f"📍 {groups.municipality(key, ctx.language)}") for key in keys]

    @registry.provider("group_municipalities")
    def group_municipalities(ctx: Context) -> list[Option]:
        return town_options(ctx, towns_with_groups(ctx))

    @registry.action("choose_municipality")
    def choose_municipality(ctx: Context, key: str) -> str:
        ctx.set_var("groups_municipality", key)
        ctx.set_var("groups_back", "list")
        return "groups.list"

    def town_list(ctx: Context, text: str) -> str | None:
        """The groups of the town that `text` names ("when is the meeting in Tornio"), or None."""
        key = groups.towns.find(text)
        return choose_municipality(ctx, key) if key is not None else None

    def town_words(text: str) -> list[str]:
        """The town a question names, kept while it waits for the language or consent (Registry.keywords)."""
        key = groups.towns.find(text)
        return [groups.municipality(key, "fi")] if key is not None else []

    registry.keywords.append(town_words)

    @registry.input("town_named")
    def town_named(ctx: Context, text: str) -> str | None:
        """A town typed instead of pressing its button: "Tornio", "asun Kemissä", "في كيمي"."""
        u = ctx.understanding
        about_something_else = (
            u is not None and u.intent_confidence >= INTENT_THRESHOLD and u.intent not in TOWN_ANSWER_INTENTS
        )
        if about_something_else and len(words(text)) > SHORT_ANSWER_WORDS:
            return None
        return town_list(ctx, text)

    def groups_in_town(ctx: Context) -> list[Group]:
        town = ctx.vars.get("groups_municipality")
        return [group for group in active_groups(ctx) if group.municipality == town]

    @registry.action("show_group_list")
    def show_group_list(ctx: Context) -> str | None:
        town = ctx.vars.get("groups_municipality")
        if not isinstance(town, str):
            return "groups.start"
        here = groups_in_town(ctx)
        if not here:
            return "groups.no_group"
        title = ctx.t("groups.list_title", municipality=groups.municipality(town, ctx.language))
        items = [
            ctx.t(
                "groups.list_item",
                icon=group.icon,
                name=group.name(ctx.language),
                next=next_text(ctx, group),
                place=group.address,
            )
            for group in here
        ]
        ctx.say("\n\n".join([title, *items, ctx.t("groups.list_choose")]))
        return None

    # ------------------------------------------------------------------ a town without a group
    def nearest_towns(ctx: Context) -> tuple[list[str], bool]:
        """The towns to offer instead of the chosen one, and whether they are its nearest (`nearest:` in the
        file) rather than every town with a group."""
        present = towns_with_groups(ctx)
        nearest = groups.catalog.nearest.get(str(ctx.vars.get("groups_municipality")), ())
        listed = [key for key in nearest if key in present]
        return (listed, True) if listed else (present, False)

    def and_list(ctx: Context, items: list[str]) -> Safe:
        """Town names as a sentence lists them in the user's language, escaped: "Kemi and Tornio"."""
        escaped = [html.escape(item, quote=False) for item in items]
        if len(escaped) < 2:
            return Safe("".join(escaped))
        first = Safe(LIST_SEPARATORS.get(ctx.language, ", ").join(escaped[:-1]))
        return Safe(ctx.t("groups.and_list", first=first, last=Safe(escaped[-1])))

    @registry.action("show_no_group")
    def show_no_group(ctx: Context) -> str | None:
        """No group in the chosen town yet, and the nearest towns with groups (or every town that has one)."""
        town = ctx.vars.get("groups_municipality")
        if not isinstance(town, str):
            return "groups.start"
        lines = [ctx.t("groups.no_group_yet", municipality=groups.municipality(town, ctx.language))]
        towns, nearest = nearest_towns(ctx)
        if nearest:
            names = [groups.municipality(key, ctx.language) for key in towns]
            lines.append(ctx.t("groups.nearest_groups", towns=and_list(ctx, names)))
        elif towns:
            lines.append(ctx.t("groups.towns_with_groups"))
        ctx.say("\n".join(lines))
        return None

    @registry.provider("nearest_towns")
    def nearest_town_options(ctx: Context) -> list[Option]:
        return town_options(ctx, nearest_towns(ctx)[0])

    @registry.condition("nearest_towns_listed")
    def nearest_towns_listed(ctx: Context) -> bool:
        """Only the nearest towns are offered: "another town" leads to the others."""
        return nearest_towns(ctx)[1]

    @registry.provider("groups_here")
    def groups_here(ctx: Context) -> list[Option]:
        return [Option(group.id, label(ctx, group)) for group in groups_in_town(ctx)]

    @registry.action("choose_group")
    def choose_group(ctx: Context, group_id: str) -> str:
        group = ctx.session.get(Group, group_id)
        if group is None or not group.active:
            return "groups.start"
        open_group(ctx, group)
        ctx.set_var("groups_back", "list")
        return "groups.details"

    # ------------------------------------------------------------------ details, subscribe, calendar
    @registry.action("show_group_details")
    def show_group_details(ctx: Context) -> str | None:
        group = current_group(ctx)
        if group is None:
            ctx.say(ctx.t("groups.not_found"))
            return "groups.start"
        ensure_occurrences(ctx.session, group, ctx.now, groups.zone)
        lines = [
            ctx.t(
                "groups.details",
                icon=group.icon,
                name=group.name(ctx.language),
                audience=Safe(ctx.t(f"groups.audience.{group.audience}")),
                schedule=Safe(groups.schedule_text(ctx, group)),
                next=next_text(ctx, group),
                address=group.address,
                directions=group.directions(ctx.language),
                languages=LIST_SEPARATORS.get(ctx.language, ", ").join(
                    ctx.language_name(code) for code in group.language_list
                ),
            ),
            *cancelled_lines(ctx, group),
            ctx.t("groups.interpreter_yes" if group.interpreter else "groups.interpreter_no"),
        ]
        row = subscription(ctx, group.id)
        if row is not None and row.active:
            lines.append(ctx.t("groups.you_get_reminders"))
        ctx.say("\n".join(lines))
        return None

    @registry.condition("group_subscribed")
    def group_subscribed(ctx: Context) -> bool:
        group = current_group(ctx)
        row = subscription(ctx, group.id) if group else None
        return row is not None and row.active

    @registry.condition("group_not_subscribed")
    def group_not_subscribed(ctx: Context) -> bool:
        return current_group(ctx) is not None and not group_subscribed(ctx)

    @registry.condition("has_group_subscriptions")
    def has_group_subscriptions(ctx: Context) -> bool:
        return bool(my_subscribed_groups(ctx))

    def subscribe_or_ask(ctx: Context, group: Group) -> str:
        open_group(ctx, group)
        ctx.values["name"] = group.name(ctx.language)
        if not ctx.user.has_consent:
            if ctx.values.get(JUST_REFUSED):  # they have just said no (pressed or typed): do not ask again
                ctx.say(ctx.t("groups.no_consent_ok"))
                return "groups.details"
            return "groups.need_consent"
        if not subscribe(ctx, group):
            ctx.say(ctx.t("groups.already_subscribed", name=group.name(ctx.language)))
        following = next_happening(ctx.session, group.id, ctx.now)
        ctx.values["next"] = (
            groups.when(ctx.language, following.starts_at) if following else Safe(ctx.t("groups.no_meeting_planned"))
        )
        return "groups.subscribed"

    @registry.action("subscribe_group")
    def subscribe_group(ctx: Context) -> str:
        group = current_group(ctx)
        return subscribe_or_ask(ctx, group) if group else "groups.start"

    @registry.action("ask_consent")
    def ask_consent(ctx: Context) -> str:
        group = current_group(ctx)
        if group is not None:
            # After the consent step, onboarding follows this like a deep link: they are subscribed at once.
            ctx.set_var("after_onboarding", f"group-{group.id}")
        return "onboarding.consent"

    @registry.action("unsubscribe_group")
    def unsubscribe_group(ctx: Context) -> str:
        group = current_group(ctx)
        row = subscription(ctx, group.id) if group else None
        if group is None or row is None:
            return "groups.start"
        unsubscribe(ctx.session, row, ctx.now)
        ctx.values["name"] = group.name(ctx.language)
        return "groups.unsubscribed"

    @registry.action("back_from_details")
    def back_from_details(ctx: Context) -> str:
        if ctx.vars.get("groups_back") == "mine":
            return "groups.mine"
        return "groups.list" if ctx.vars.get("groups_municipality") else "groups.start"

    @registry.action("send_calendar")
    def send_calendar(ctx: Context) -> str | None:
        group = current_group(ctx)
        if group is None:
            return "groups.start"
        ensure_occurrences(ctx.session, group, ctx.now, groups.zone)
        occurrences = upcoming(ctx.session, group.id, ctx.now - timedelta(days=7), limit=50)
        content = group_calendar(
            group,
            occurrences,
            ctx.language,
            groups.zone,
            ctx.now,
            description=ctx.t("groups.calendar_description"),
        )
        attachment = Attachment(f"{group.id}.ics", content, "text/calendar")
        ctx.say(ctx.t("groups.calendar_sent", name=group.name(ctx.language)), attachment=attachment)
        return None

    # ------------------------------------------------------------------ my groups, stopping reminders
    @registry.action("show_my_groups")
    def show_my_groups(ctx: Context) -> str | None:
        mine = my_subscribed_groups(ctx)
        if not mine:
            ctx.say(ctx.t("groups.my_none"))
            return "groups.start"
        items = [
            ctx.t("groups.list_item", icon=g.icon, name=g.name(ctx.language), next=next_text(ctx, g), place=g.address)
            for g in mine
        ]
        ctx.say("\n\n".join([ctx.t("groups.my_title"), *items]))
        return None

    @registry.provider("my_groups")
    def my_groups(ctx: Context) -> list[Option]:
        return [Option(group.id, label(ctx, group)) for group in my_subscribed_groups(ctx)]

    @registry.action("choose_my_group")
    def choose_my_group(ctx: Context, group_id: str) -> str:
        group = ctx.session.get(Group, group_id)
        if group is None:
            return "groups.mine"
        open_group(ctx, group)
        ctx.set_var("groups_back", "mine")
        return "groups.details"

    @registry.action("unsubscribe_choice")
    def unsubscribe_choice(ctx: Context, group_id: str) -> str:
        group = ctx.session.get(Group, group_id)
        row = subscription(ctx, group_id)
        if group is None or row is None or not row.active:
            return "groups.mine"
        open_group(ctx, group)
        unsubscribe(ctx.session, row, ctx.now)
        ctx.values["name"] = group.name(ctx.language)
        return "groups.unsubscribed"

    @registry.action("unsubscribe_all")
    def unsubscribe_all(ctx: Context) -> str:
        for row in ctx.session.scalars(
            select(Subscription).where(Subscription.user_id == ctx.user.id, Subscription.active.is_(True))
        ):
            unsubscribe(ctx.session, row, ctx.now)
        return "groups.off_done"

    # ------------------------------------------------------------------ reminders' buttons
    def valid_reminder_choices(ctx: Context) -> dict[str, tuple[str, Occurrence]]:
        """What this user may answer: meetings of groups they are subscribed to (button data is never trusted)."""
        subscribed = [
            row.group_id
            for row in ctx.session.scalars(
                select(Subscription).where(Subscription.user_id == ctx.user.id, Subscription.active.is_(True))
            )
        ]
        if not subscribed:
            return {}
        occurrences = ctx.session.scalars(
            select(Occurrence).where(
                Occurrence.group_id.in_(subscribed),
                Occurrence.ends_at > ctx.now - timedelta(days=1),
                Occurrence.starts_at < ctx.now + RSVP_WINDOW,
            )
        ).all()
        choices: dict[str, tuple[str, Occurrence]] = {}
        for occurrence in occurrences:
            if occurrence.status in HAPPENING and occurrence.ends_at > ctx.now:
                choices[f"y{occurrence.id}"] = (COMING, occurrence)
                choices[f"n{occurrence.id}"] = (NOT_COMING, occurrence)
            choices[f"u{occurrence.id}"] = ("stop", occurrence)
        return choices

    @registry.provider("reminder_choices")
    def reminder_choices(ctx: Context) -> list[Option]:
        options: list[Option] = []
        for choice, (answer, occurrence) in valid_reminder_choices(ctx).items():
            key = {COMING: "groups.rsvp_yes", NOT_COMING: "groups.rsvp_no"}.get(answer, "groups.rsvp_stop")
            options.append(Option(choice, f"{ctx.t(key)} · {groups.when(ctx.language, occurrence.starts_at)}"))
        return options

    @registry.action("answer_reminder")
    def answer_reminder(ctx: Context, choice: str) -> str:
        found = valid_reminder_choices(ctx).get(choice)
        if found is None:  # the engine checked it too; a race with unsubscribing lands here
            return "groups.mine"
        answer, occurrence = found
        group = ctx.session.get(Group, occurrence.group_id)
        assert group is not None
        open_group(ctx, group)
        ctx.values["name"] = group.name(ctx.language)
        ctx.values["when"] = groups.when(ctx.language, occurrence.starts_at)
        if answer == "stop":
            row = subscription(ctx, group.id)
            if row is not None:
                unsubscribe(ctx.session, row, ctx.now)
            return "groups.unsubscribed"
        rsvp = ctx.session.scalar(select(Rsvp).where(Rsvp.occurrence_id == occurrence.id, Rsvp.user_id == ctx.user.id))
        if rsvp is None:
            ctx.session.add(Rsvp(occurrence_id=occurrence.id, user_id=ctx.user.id, answer=answer, answered_at=ctx.now))
        else:
            rsvp.answer, rsvp.answered_at = answer, ctx.now
        return "groups.coming" if answer == COMING else "groups.not_coming"

    # ------------------------------------------------------------------ intents and the deep link
    @registry.intent("group_schedule")
    def group_schedule(ctx: Context, understanding: Understanding) -> str:
        return town_list(ctx, understanding.text) or "groups.start"

    @registry.intent("reminders_on")
    def reminders_on(ctx: Context, understanding: Understanding) -> str:
        # Looking at one group, "remind me" is that group's 🔔 button.
        group = current_group(ctx) if ctx.state.flow == "groups" and ctx.state.step in GROUP_PAGES else None
        if group is not None:
            return subscribe_or_ask(ctx, group)
        ctx.say(ctx.t("groups.reminders_on_hint"))
        return town_list(ctx, understanding.text) or "groups.start"

    @registry.intent("reminders_off")
    def reminders_off(ctx: Context, _understanding: Understanding) -> str:
        if not my_subscribed_groups(ctx):
            ctx.say(ctx.t("groups.no_reminders"))
            return "groups.start"
        return "groups.stop_reminders"

    @registry.deep_link("group")
    def group_link(ctx: Context, argument: str) -> str:
        groups.ensure_seeded(ctx.session, ctx.now)
        group = ctx.session.get(Group, argument.strip().lower()[:32])
        if group is None or not group.active:
            ctx.say(ctx.t("groups.not_found"))
            return "groups.start"
        ensure_occurrences(ctx.session, group, ctx.now, groups.zone)
        ctx.set_var("groups_back", "list")
        return subscribe_or_ask(ctx, group)

    # ------------------------------------------------------------------ when a user blocks the bot
    def pause_subscriptions(session: Session, user: User) -> None:
        now = groups.services.clock()
        for row in session.scalars(
            select(Subscription).where(Subscription.user_id == user.id, Subscription.active.is_(True))
        ):
            row.active, row.ended_at = False, now

    registry.blocked_hooks.append(pause_subscriptions)
    register_staff_commands(registry, groups)
