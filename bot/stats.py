"""Staff statistics without personal data: one immutable snapshot of counts for a period, and its renderings.

`compute_statistics` reads only aggregates: GROUP BY counts in SQL, and for the median time to claim the
two timestamps of each ticket claimed in the period. No message text, name, Telegram id or user id is
read into the snapshot, so nothing rendered from it can carry one.

Weeks are Monday-based ISO weeks on the local wall clock (Europe/Helsinki by default). Their boundaries
are computed in Python as UTC instants and handed to SQL as a CASE over the timestamp, which buckets the
same way on SQLite and PostgreSQL (their date functions differ).

Group meetings have two figures each: the answers to the reminders ("coming" / "can't come", who *said*
they come) and the head count the counsellor who led the meeting recorded (`/attended`), which may be
missing. Totals of head counts say how many meetings they cover, since a missing count is not a zero.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import html
import json
import re
import statistics as pystats
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from bot import timefmt
from bot.core.texts import Safe
from bot.db.models import ConversationState, Counsellor, GuideFeedback, User
from bot.features.booking.models import Booking, Slot
from bot.features.groups.catalog import CatalogError, load_catalog
from bot.features.groups.models import CANCELLED, COMING, HAPPENING, NOT_COMING, Group, Occurrence, Rsvp, Subscription
from bot.features.handoff.models import Ticket, TicketReason, TicketStatus
from bot.features.privacy.data import ERASED_CHANNEL
from bot.settings import SERVED_LANGUAGES, Settings

DEFAULT_WEEKS = 8
MAX_WEEKS = 104
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one message
# How many meetings and guide sections the report lists one by one before it summarises the rest.
MEETING_LINES = 16
FEEDBACK_LINES = 5
NO_LANGUAGE = "-"


# ---------------------------------------------------------------------- the snapshot
@dataclass(frozen=True)
class WeekStats:
    """One local ISO week. `coming`/`not_coming` are RSVPs to meetings that started that week (and took place);
    `attended` is the sum of their recorded head counts, over `counted` meetings that have one."""

    year: int
    number: int
    starts: date  # the local Monday
    new_users: int
    coming: int
    not_coming: int
    attended: int
    counted: int
    bookings: int
    tickets: int


@dataclass(frozen=True)
class GroupStats:
    group: str  # the group's name in the report's language
    municipality: str  # its town's name in the report's language (from content/groups.yml), else the town's key
    subscribers: int  # reminders on, now
    new_subscriptions: int  # subscribed (or subscribed again) in the period
    meetings: int  # meetings that took place in the period (not cancelled)
    cancelled: int
    coming: int
    not_coming: int
    attended: int  # the sum of the recorded head counts …
    counted: int  # … of this many of the meetings


@dataclass(frozen=True)
class MeetingStats:
    group: str
    starts_at: datetime  # UTC
    cancelled: bool
    coming: int
    not_coming: int
    attended: int | None  # the head count the counsellor recorded; None: not recorded


@dataclass(frozen=True)
class BookingStats:
    booked: int  # new bookings made in the period; a move is not counted as a new booking
    held: int  # active bookings whose meeting started in the period
    ahead: int  # active bookings for meetings after the period
    moved: int
    cancelled_by_family: int
    cancelled_by_counsellor: int
    interpreter: int  # of the bookings made in the period, how many asked for an interpreter
    slots_offered: int  # open slots that started in the period


@dataclass(frozen=True)
class TicketStats:
    opened: int
    urgent: int
    by_reason: tuple[tuple[str, int], ...]  # every TicketReason, in its order
    claimed: int  # claimed in the period
    median_minutes_to_claim: float | None  # over the tickets claimed in the period
    closed: int
    waiting_now: int
    in_conversation_now: int
    ratings: int  # ratings of tickets closed in the period
    average_rating: float | None


@dataclass(frozen=True)
class SectionFeedback:
    section: str  # a guide section id (content, not a person)
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class FeedbackStats:
    helpful: int
    not_helpful: int
    sections: tuple[SectionFeedback, ...]  # most answered first


@dataclass(frozen=True)
class Statistics:
    """Aggregate counts only: no ids, names or texts of any person."""

    generated_at: datetime
    period_start: datetime  # UTC, a local Monday 00:00
    period_end: datetime  # UTC, exclusive
    timezone: str
    users: int  # families known to the bot now (counsellors are not counted)
    users_by_language: tuple[tuple[str, int], ...]  # served languages in order, then NO_LANGUAGE
    users_with_consent: int
    users_blocked: int
    new_users: int
    weeks: tuple[WeekStats, ...]
    groups: tuple[GroupStats, ...]
    meetings: tuple[MeetingStats, ...]  # in time order
    bookings: BookingStats
    tickets: TicketStats
    feedback: FeedbackStats

    def as_json(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes and dates as ISO 8601)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime | date):
                return value.isoformat()
            if isinstance(value, dict):
                return {key: plain(item) for key, item in value.items()}
            if isinstance(value, list | tuple):
                return [plain(item) for item in value]
            return value

        data = plain(dataclasses.asdict(self))
        data["users_by_language"] = dict(self.users_by_language)
        data["tickets"]["by_reason"] = dict(self.tickets.by_reason)
        return data  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- the period
def period_bounds(now: datetime, zone: ZoneInfo, weeks: int, until: date | None = None) -> tuple[datetime, ...]:
    """The UTC instants that split the period into local weeks: `weeks + 1` values, the last one the end.

    The period ends now (or at the end of the local day `until`, if that is earlier) and starts on the local
    Monday `weeks - 1` weeks before the Monday of the week it ends in; the last week may be partial.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be 1 … {MAX_WEEKS}")
    end = now.astimezone(UTC)
    if until is not None:
        end = min(end, _local_midnight(until + timedelta(days=1), zone))
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    last_monday = last_day - timedelta(days=last_day.weekday())
    mondays = [last_monday - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]
    return (*(_local_midnight(monday, zone) for monday in mondays), end)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Midnight exists on every day in Finland (clocks change at 03:00/04:00), so this is unambiguous there.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _between(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)  # type: ignore[no-any-return]


def _weekly(session: Session, rows: Select[Any], bounds: Sequence[datetime]) -> list[int]:
    """Counts per week of `rows`, a SELECT of one timestamp column labelled `at`, in the period.

    Buckets by a CASE on the timestamp in a subquery, then groups by the bucket in the outer query: grouping
    by the CASE itself would repeat its bound parameters, which PostgreSQL does not see as the same expression.
    """
    inner = rows.subquery()
    bucket = case(
        *((inner.c.at < boundary, index) for index, boundary in enumerate(bounds[1:])),
        else_=-1,
    )
    bucketed = select(bucket.label("week")).where(inner.c.at >= bounds[0], inner.c.at < bounds[-1]).subquery()
    counts = [0] * (len(bounds) - 1)
    for index, count in session.execute(select(bucketed.c.week, func.count()).group_by(bucketed.c.week)):
        if 0 <= index < len(counts):
            counts[index] = int(count)
    return counts


def town_names(content_dir: Path, language: str) -> dict[str, str]:
    """The municipalities' names in `language` from `content/groups.yml` ({} if the file has problems: the
    report then shows the towns' keys, and `content check` tells what is wrong)."""
    try:
        catalog = load_catalog(content_dir / "groups.yml")
    except CatalogError:
        return {}
    return {key: catalog.municipality_name(key, language) for key in catalog.municipalities}


def _family_users() -> ColumnElement[bool]:
    """Families: the people who have written to the bot itself. Not a family:

    - anyone who has only written in the staff group (an intern, a coordinator, a counsellor not on the list):
      the engine gives every sender a user row and a conversation state, and a private message always leaves
      the state at a step (every answer is a step, and a message nothing answers gets the menu), while in the
      staff group the state never gets one;
    - listed counsellors, who may also use the bot privately (their slots);
    - the privacy feature's placeholder row that the anonymised tickets of erased families point to.
    """
    counsellor_ids = select(cast(Counsellor.telegram_id, String(64)))
    only_in_staff_group = exists().where(ConversationState.user_id == User.id, ConversationState.flow.is_(None))
    return and_(
        User.channel != ERASED_CHANNEL,
        or_(User.channel != "telegram", User.external_id.not_in(counsellor_ids)),
        ~only_in_staff_group,
    )


# ---------------------------------------------------------------------- computing
def compute_statistics(
    session: Session,
    *,
    now: datetime,
    zone: ZoneInfo,
    language: str = "en",
    weeks: int = DEFAULT_WEEKS,
    until: date | None = None,
    towns: Mapping[str, str] | None = None,
) -> Statistics:
    """The statistics of the last `weeks` local weeks (up to `until`, if given). Group names in `language`, and
    their towns' names from `towns` (municipality key → name, see `town_names`)."""
    bounds = period_bounds(now, zone, weeks, until)
    start, end = bounds[0], bounds[-1]

    # Families: a snapshot of who is known now, and the new ones per week.
    by_language: dict[str, int] = {}
    with_consent = blocked = 0
    for code, count, consented, blocked_count in session.execute(
        select(User.language, func.count(), func.count(User.consent_at), func.count(User.blocked_at))
        .where(_family_users())
        .group_by(User.language)
    ):
        key = code if code in SERVED_LANGUAGES else NO_LANGUAGE
        by_language[key] = by_language.get(key, 0) + int(count)
        with_consent += int(consented)
        blocked += int(blocked_count)
    users_by_language = tuple((code, by_language.get(code, 0)) for code in (*SERVED_LANGUAGES, NO_LANGUAGE))
    new_users = _weekly(session, select(User.created_at.label("at")).where(_family_users()), bounds)

    # Group meetings: RSVP counts and the recorded head count per meeting that started in the period.
    names = {
        group.id: (group.name(language), (towns or {}).get(group.municipality, group.municipality), group.active)
        for group in session.scalars(select(Group))
    }
    coming = func.count(case((Rsvp.answer == COMING, Rsvp.id)))
    not_coming = func.count(case((Rsvp.answer == NOT_COMING, Rsvp.id)))
    meeting_rows = session.execute(
        select(Occurrence.group_id, Occurrence.starts_at, Occurrence.status, Occurrence.attended, coming, not_coming)
        .outerjoin(Rsvp, Rsvp.occurrence_id == Occurrence.id)
        .where(_between(Occurrence.starts_at, start, end))
        .group_by(Occurrence.id, Occurrence.group_id, Occurrence.starts_at, Occurrence.status, Occurrence.attended)
        .order_by(Occurrence.starts_at, Occurrence.group_id)
    ).all()
    meetings = tuple(
        MeetingStats(
            group=names.get(group_id, (group_id, "", False))[0],
            starts_at=starts_at,
            cancelled=status == CANCELLED,
            coming=int(yes),
            not_coming=int(no),
            attended=None if status == CANCELLED or attended is None else int(attended),
        )
        for group_id, starts_at, status, attended, yes, no in meeting_rows
    )
    subscribers = dict(
        session.execute(
            select(Subscription.group_id, func.count())
            .where(Subscription.active.is_(True))
            .group_by(Subscription.group_id)
        ).all()
    )
    new_subscriptions = dict(
        session.execute(
            select(Subscription.group_id, func.count())
            .where(_between(Subscription.subscribed_at, start, end))
            .group_by(Subscription.group_id)
        ).all()
    )
    per_group: dict[str, list[int]] = {}  # meetings, cancelled, coming, not coming, attended, counted
    # Head counts per week, bucketed here: the meetings of the period are already read, and comparing UTC
    # instants with the week bounds is the same bucketing `_weekly` does in SQL.
    weekly_attended = [0] * (len(bounds) - 1)
    weekly_counted = [0] * (len(bounds) - 1)
    for group_id, starts_at, status, attended, yes, no in meeting_rows:
        totals = per_group.setdefault(group_id, [0, 0, 0, 0, 0, 0])
        if status == CANCELLED:
            totals[1] += 1
            continue
        totals[0] += 1
        totals[2] += int(yes)
        totals[3] += int(no)
        if attended is not None:
            totals[4] += int(attended)
            totals[5] += 1
            week = bisect.bisect_right(bounds, starts_at) - 1
            weekly_attended[week] += int(attended)
            weekly_counted[week] += 1
    shown = [
        group_id
        for group_id, (_name, _municipality, active) in names.items()
        if active or subscribers.get(group_id) or group_id in per_group or new_subscriptions.get(group_id)
    ]
    groups = tuple(
        sorted(
            (
                GroupStats(
                    group=names[group_id][0],
                    municipality=names[group_id][1],
                    subscribers=int(subscribers.get(group_id, 0)),
                    new_subscriptions=int(new_subscriptions.get(group_id, 0)),
                    meetings=totals[0],
                    cancelled=totals[1],
                    coming=totals[2],
                    not_coming=totals[3],
                    attended=totals[4],
                    counted=totals[5],
                )
                for group_id in shown
                for totals in [per_group.get(group_id, [0, 0, 0, 0, 0, 0])]
            ),
            key=lambda stats: (stats.municipality, stats.group),
        )
    )
    weekly_rsvps = {
        answer: _weekly(
            session,
            select(Occurrence.starts_at.label("at"))
            .join(Rsvp, Rsvp.occurrence_id == Occurrence.id)
            .where(Rsvp.answer == answer, Occurrence.status.in_(HAPPENING)),
            bounds,
        )
        for answer in (COMING, NOT_COMING)
    }

    bookings, weekly_bookings = _bookings(session, bounds)
    tickets = _tickets(session, start, end)
    weekly_tickets = _weekly(session, select(Ticket.created_at.label("at")), bounds)
    feedback = _feedback(session, start, end)

    week_stats = []
    for index, boundary in enumerate(bounds[:-1]):
        monday = boundary.astimezone(zone).date()
        iso = monday.isocalendar()
        week_stats.append(
            WeekStats(
                year=iso.year,
                number=iso.week,
                starts=monday,
                new_users=new_users[index],
                coming=weekly_rsvps[COMING][index],
                not_coming=weekly_rsvps[NOT_COMING][index],
                attended=weekly_attended[index],
                counted=weekly_counted[index],
                bookings=weekly_bookings[index],
                tickets=weekly_tickets[index],
            )
        )
    return Statistics(
        generated_at=now.astimezone(UTC),
        period_start=start,
        period_end=end,
        timezone=zone.key,
        users=sum(by_language.values()),
        users_by_language=users_by_language,
        users_with_consent=with_consent,
        users_blocked=blocked,
        new_users=sum(new_users),
        weeks=tuple(week_stats),
        groups=groups,
        meetings=meetings,
        bookings=bookings,
        tickets=tickets,
        feedback=feedback,
    )


def _bookings(session: Session, bounds: Sequence[datetime]) -> tuple[BookingStats, list[int]]:
    start, end = bounds[0], bounds[-1]
    # A move ends one booking ("moved") and makes its successor: only first bookings count as new ones.
    predecessor = aliased(Booking)
    first_booking = ~exists().where(predecessor.moved_to_id == Booking.id)
    booked, interpreter = session.execute(
        select(func.count(), func.count(Booking.interpreter)).where(
            first_booking, _between(Booking.created_at, start, end)
        )
    ).one()
    ended = {
        (status, by): int(count)
        for status, by, count in session.execute(
            select(Booking.status, Booking.ended_by, func.count())
            .where(Booking.status.in_(("cancelled", "moved")), _between(Booking.ended_at, start, end))
            .group_by(Booking.status, Booking.ended_by)
        )
    }
    held = session.scalar(
        select(func.count())
        .select_from(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.status == "active", _between(Slot.starts_at, start, end))
    )
    ahead = session.scalar(
        select(func.count())
        .select_from(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.status == "active", Slot.starts_at >= end)
    )
    offered = session.scalar(
        select(func.count()).select_from(Slot).where(Slot.status == "open", _between(Slot.starts_at, start, end))
    )
    weekly = _weekly(session, select(Booking.created_at.label("at")).where(first_booking), bounds)
    stats = BookingStats(
        booked=int(booked),
        held=int(held or 0),
        ahead=int(ahead or 0),
        moved=sum(count for (status, _by), count in ended.items() if status == "moved"),
        cancelled_by_family=sum(
            count for (status, by), count in ended.items() if status == "cancelled" and by != "counsellor"
        ),
        cancelled_by_counsellor=ended.get(("cancelled", "counsellor"), 0),
        interpreter=int(interpreter),
        slots_offered=int(offered or 0),
    )
    return stats, weekly


def _tickets(session: Session, start: datetime, end: datetime) -> TicketStats:
    opened_by_reason: dict[str, int] = {}
    urgent = 0
    for reason, count, urgent_count in session.execute(
        select(Ticket.reason, func.count(), func.count(case((Ticket.urgent.is_(True), Ticket.id))))
        .where(_between(Ticket.created_at, start, end))
        .group_by(Ticket.reason)
    ):
        opened_by_reason[reason] = int(count)
        urgent += int(urgent_count)
    # Only two timestamps per ticket claimed in the period: few rows, and a median both databases agree on.
    waits = [
        (claimed_at - created_at).total_seconds() / 60
        for created_at, claimed_at in session.execute(
            select(Ticket.created_at, Ticket.claimed_at).where(_between(Ticket.claimed_at, start, end))
        )
        if claimed_at is not None  # the WHERE excludes NULL already; this narrows the type
    ]
    closed, ratings, average = session.execute(
        select(func.count(), func.count(Ticket.rating), func.avg(Ticket.rating)).where(
            _between(Ticket.closed_at, start, end)
        )
    ).one()
    now_by_status = dict(
        session.execute(
            select(Ticket.status, func.count()).where(Ticket.status != TicketStatus.CLOSED).group_by(Ticket.status)
        ).all()
    )
    return TicketStats(
        opened=sum(opened_by_reason.values()),
        urgent=urgent,
        by_reason=tuple((reason.value, opened_by_reason.get(reason.value, 0)) for reason in TicketReason),
        claimed=len(waits),
        median_minutes_to_claim=round(pystats.median(waits), 1) if waits else None,
        closed=int(closed),
        waiting_now=int(now_by_status.get(TicketStatus.OPEN.value, 0)),
        in_conversation_now=int(now_by_status.get(TicketStatus.CLAIMED.value, 0)),
        ratings=int(ratings),
        average_rating=round(float(average), 1) if average is not None else None,
    )


def _feedback(session: Session, start: datetime, end: datetime) -> FeedbackStats:
    per_section: dict[str, list[int]] = {}
    for section, helpful, count in session.execute(
        select(GuideFeedback.section_id, GuideFeedback.helpful, func.count())
        .where(_between(GuideFeedback.created_at, start, end))
        .group_by(GuideFeedback.section_id, GuideFeedback.helpful)
    ):
        per_section.setdefault(section, [0, 0])[0 if helpful else 1] += int(count)
    sections = tuple(
        SectionFeedback(section, yes, no)
        for section, (yes, no) in sorted(per_section.items(), key=lambda item: (-sum(item[1]), item[0]))
    )
    return FeedbackStats(
        helpful=sum(s.helpful for s in sections), not_helpful=sum(s.not_helpful for s in sections), sections=sections
    )


# ---------------------------------------------------------------------- rendering
Translate = Callable[..., str]  # (key, **values) -> Telegram HTML, values escaped
TAG = re.compile(r"<[^>]+>")


def render_html(
    stats: Statistics,
    t: Translate,
    language: str,
    *,
    limit: int = MAX_MESSAGE_CHARS,
    meeting_lines: int = MEETING_LINES,
) -> str:
    """The report as one Telegram HTML message of at most `limit` characters (older meetings are summarised)."""
    while True:
        text = "\n".join(_lines(stats, t, language, meeting_lines))
        if len(text) <= limit:
            return text
        if meeting_lines == 0:
            # Only with hundreds of groups: cut at a line end (each line closes its own tags).
            return text[: text.rfind("\n", 0, limit)]
        meeting_lines = max(0, meeting_lines - 4)


def render_text(stats: Statistics, t: Translate, language: str) -> str:
    """The report for a terminal: the same lines without markup, every meeting listed."""
    return html.unescape(TAG.sub("", "\n".join(_lines(stats, t, language, len(stats.meetings)))))


def _lines(stats: Statistics, t: Translate, language: str, meeting_lines: int) -> list[str]:
    zone = ZoneInfo(stats.timezone)
    last_day = (stats.period_end - timedelta(microseconds=1)).astimezone(zone).date()
    lines = [
        t(
            "stats.title",
            start=timefmt.format_day(language, stats.period_start.astimezone(zone).date()),
            end=timefmt.format_day(language, last_day),
            weeks=Safe(t("stats.weeks", count=len(stats.weeks))),
        ),
        "",
        t("stats.families", total=stats.users, new=Safe(t("stats.new_families", count=stats.new_users))),
        t(
            "stats.languages",
            languages=" · ".join(
                f"{code if code != NO_LANGUAGE else t('stats.no_language')} {count}"
                for code, count in stats.users_by_language
                if count or code != NO_LANGUAGE
            ),
        ),
        t("stats.consent", consent=stats.users_with_consent, blocked=stats.users_blocked),
        "",
        t("stats.weeks_title"),
    ]
    for week in stats.weeks:
        lines.append(
            t(
                "stats.week_line",
                week=t("stats.week", number=week.number),
                day=timefmt.format_day(language, week.starts),
                users=week.new_users,
                coming=week.coming,
                attended=week.attended,
                bookings=week.bookings,
                tickets=week.tickets,
            )
        )
    lines += ["", t("stats.groups_title")]
    if not stats.groups:
        lines.append(t("stats.no_groups"))
    for group in stats.groups:
        lines.append(
            t(
                "stats.group_line",
                group=group.group,
                municipality=group.municipality,
                subscribers=group.subscribers,
                new=group.new_subscriptions,
                meetings=group.meetings,
                coming=group.coming,
                not_coming=group.not_coming,
                attended=group.attended,
                counted=group.counted,
            )
        )
    lines += ["", t("stats.meetings_title")]
    if not stats.meetings:
        lines.append(t("stats.no_meetings"))
    shown = stats.meetings[-meeting_lines:] if meeting_lines else ()
    if len(shown) < len(stats.meetings):
        lines.append(t("stats.more_meetings", count=len(stats.meetings) - len(shown)))
    for meeting in shown:
        when = timefmt.format_datetime(language, meeting.starts_at, zone)
        if meeting.cancelled:
            lines.append(t("stats.meeting_cancelled", when=when, group=meeting.group))
        else:
            lines.append(
                t(
                    "stats.meeting_line",
                    when=when,
                    group=meeting.group,
                    coming=meeting.coming,
                    not_coming=meeting.not_coming,
                    attended=meeting.attended if meeting.attended is not None else Safe(t("stats.not_recorded")),
                )
            )
    b = stats.bookings
    lines += [
        "",
        t("stats.bookings", booked=b.booked, held=b.held, ahead=b.ahead, slots=b.slots_offered),
        t(
            "stats.booking_changes",
            moved=b.moved,
            cancelled_family=b.cancelled_by_family,
            cancelled_staff=b.cancelled_by_counsellor,
            interpreter=b.interpreter,
        ),
    ]
    k = stats.tickets
    reasons = dict(k.by_reason)
    lines += [
        "",
        t("stats.tickets", opened=k.opened, urgent=k.urgent, claimed=k.claimed, closed=k.closed),
        t("stats.reasons", **{reason.value: reasons.get(reason.value, 0) for reason in TicketReason}),
        t("stats.claim_time", minutes=_number(k.median_minutes_to_claim, language))
        if k.median_minutes_to_claim is not None
        else t("stats.claim_time_none"),
        t("stats.queue_now", waiting=k.waiting_now, claimed=k.in_conversation_now),
        t(
            "stats.rating",
            average=_number(k.average_rating, language),
            ratings=Safe(t("stats.ratings", count=k.ratings)),
        )
        if k.average_rating is not None
        else t("stats.rating_none"),
    ]
    f = stats.feedback
    lines += ["", t("stats.feedback", helpful=f.helpful, not_helpful=f.not_helpful)]
    for section in f.sections[:FEEDBACK_LINES]:
        lines.append(
            t("stats.feedback_line", section=section.section, helpful=section.helpful, not_helpful=section.not_helpful)
        )
    return lines


def _number(value: float | None, language: str) -> str:
    """12.5 → "12,5" in Finnish (and the other languages that write a decimal comma), 12 → "12"."""
    if value is None:
        return "-"
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", ",") if language in ("fi", "ru", "so", "sw") else text


def write_chart(stats: Statistics, path: Path, t: Translate) -> None:
    """A PNG of the weekly series: new families, RSVPs and head counts, bookings and requests for a person."""
    # The object-oriented API with the Agg canvas: no pyplot, so no global figure state and no GUI backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [t("stats.week", number=week.number) for week in stats.weeks]
    positions = list(range(len(labels)))
    figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2, sharex=True)
    series: list[tuple[Any, str, list[tuple[str, list[int], str]]]] = [
        (axes[0][0], "stats.chart.users", [("", [w.new_users for w in stats.weeks], "#2f6f9f")]),
        (
            axes[0][1],
            "stats.chart.rsvps",
            [
                (t("stats.chart.coming"), [w.coming for w in stats.weeks], "#3c9a5f"),
                (t("stats.chart.not_coming"), [w.not_coming for w in stats.weeks], "#c8553d"),
                (t("stats.chart.attended"), [w.attended for w in stats.weeks], "#1f4e79"),
            ],
        ),
        (axes[1][0], "stats.chart.bookings", [("", [w.bookings for w in stats.weeks], "#8a6fb5")]),
        (axes[1][1], "stats.chart.tickets", [("", [w.tickets for w in stats.weeks], "#d08c2c")]),
    ]
    for ax, title_key, bars in series:
        width = 0.8 / len(bars)
        for index, (label, values, colour) in enumerate(bars):
            offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
            ax.bar(offsets, values, width=width, color=colour, label=label or None)
        ax.set_title(html.unescape(TAG.sub("", t(title_key))))
        ax.set_xticks(positions, labels, rotation=45, fontsize=8)
        # Counts: whole numbers from zero, and an empty week range still gets a readable axis.
        ax.set_ylim(0, max(1, *(max(values, default=0) for _label, values, _colour in bars)) * 1.1)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="y", alpha=0.3)
        if len(bars) > 1:
            ax.legend(fontsize=8)
    zone = ZoneInfo(stats.timezone)
    last_day = (stats.period_end - timedelta(microseconds=1)).astimezone(zone).date()
    figure.suptitle(f"aito-bot {stats.period_start.astimezone(zone).date():%d.%m.%Y} – {last_day:%d.%m.%Y}")
    figure.savefig(path, format="png")


# ---------------------------------------------------------------------- command line
def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("stats", help="statistics without personal data (counts per week, group, language)")
    parser.add_argument("--weeks", type=int, default=DEFAULT_WEEKS, help=f"how many weeks (default {DEFAULT_WEEKS})")
    parser.add_argument(
        "--until", type=date.fromisoformat, default=None, help="last day, e.g. 2026-11-29 (default: now)"
    )
    parser.add_argument("--language", choices=SERVED_LANGUAGES, default="en", help="the report's language")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    parser.add_argument("--chart", type=Path, default=None, help="also write a PNG chart of the weeks to this file")
    parser.set_defaults(handler=run_stats)


def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.texts import Texts
    from bot.db.database import Database
    from bot.staff import audit

    if not 1 <= args.weeks <= MAX_WEEKS:
        print(f"--weeks must be 1 … {MAX_WEEKS}", file=sys.stderr)
        return 2
    texts = Texts.load(settings.content_dir / "strings")

    def t(key: str, **values: object) -> str:
        return texts.get(args.language, key, **values)

    db = Database(settings.database_url)
    try:
        db.migrate()
        with db.session() as session:
            stats = compute_statistics(
                session,
                now=datetime.now(UTC),
                zone=ZoneInfo(settings.timezone),
                language=args.language,
                weeks=args.weeks,
                until=args.until,
                towns=town_names(settings.content_dir, args.language),
            )
            audit(session, "cli", "stats.read", None, weeks=args.weeks, chart=args.chart is not None)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(stats.as_json(), ensure_ascii=False, indent=2))
    else:
        print(render_text(stats, t, args.language))
    if args.chart is not None:
        write_chart(stats, args.chart, t)
        print(f"chart written to {args.chart}", file=sys.stderr if args.json else sys.stdout)
    return 0
