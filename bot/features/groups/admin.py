"""`python -m bot admin …` for groups: import the groups file, list, cancel, move or reinstate a meeting, RSVP
counts, the head count of a meeting (`attendance`), QR codes.

Cancellations and moves made here are queued in the database; the running bot sends the notices on its
next tick (every few seconds).
"""

from __future__ import annotations

import argparse
import functools
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import timefmt
from bot.features.groups.catalog import CatalogError, import_catalog, load_catalog
from bot.features.groups.models import Group, Occurrence
from bot.features.groups.occurrences import (
    MAX_ATTENDED,
    MEETING_HOURS,
    OccurrenceError,
    cancel_occurrence,
    ensure_occurrences,
    move_occurrence,
    record_attendance,
    rsvp_counts,
)
from bot.features.groups.schedule import local_start, parse_day_time
from bot.settings import Settings
from bot.staff import CLI_ACTOR, admin_session, audit

DEEP_LINK = "https://t.me/{username}?start=group-{group_id}"
TIME_FORMS = '"10.12. 17", "10.12.2026 17.30" or "2026-12-10 17:30"'
REASON_HELP = "holiday (loma), illness (sairaus), weather (sää), other (muu), or your own words (shown as written)"


def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    imports = sub.add_parser("import-groups", help="import content/groups.yml into the database")
    imports.add_argument("--file", type=Path, default=None, help="the groups file (default: content/groups.yml)")
    imports.set_defaults(handler=run_import)

    listing = sub.add_parser("occurrences", help="list the group meetings of the next days, with their numbers")
    listing.add_argument("--group", default=None, help="only this group id")
    listing.add_argument("--days", type=int, default=28)
    listing.add_argument(
        "--past", type=int, default=0, metavar="DAYS", help="also the meetings that ended in the last DAYS days"
    )
    listing.set_defaults(handler=run_list)

    cancel = sub.add_parser("cancel-occurrence", help="cancel one meeting; subscribers are told at once")
    cancel.add_argument("occurrence", type=int, help="the meeting's number (see `admin occurrences`)")
    cancel.add_argument("--reason", required=True, help=REASON_HELP)
    cancel.set_defaults(handler=run_cancel)

    move = sub.add_parser(
        "move-occurrence",
        help=f"move one meeting to another day or time ({MEETING_HOURS[0]:%H:%M}–{MEETING_HOURS[1]:%H:%M} local)",
    )
    move.add_argument("occurrence", type=int, help="the meeting's number (see `admin occurrences`)")
    move.add_argument("--to", required=True, help=f"the new local day and time: {TIME_FORMS}")
    move.add_argument("--reason", default="other", help=REASON_HELP)
    move.set_defaults(handler=functools.partial(run_move, reinstate=False))

    reinstate = sub.add_parser(
        "reinstate-occurrence", help="a cancelled meeting takes place after all; subscribers are told at once"
    )
    reinstate.add_argument("occurrence", type=int, help="the meeting's number (see `admin occurrences`)")
    reinstate.add_argument("--to", default=None, help=f"a new local day and time (default: its own): {TIME_FORMS}")
    reinstate.set_defaults(handler=functools.partial(run_move, reinstate=True))

    rsvps = sub.add_parser("rsvps", help="how many are coming to a meeting (counts only)")
    rsvps.add_argument("occurrence", type=int)
    rsvps.set_defaults(handler=run_rsvps)

    attendance = sub.add_parser(
        "attendance", help="record how many came to a meeting (a head count; a new count replaces the earlier one)"
    )
    attendance.add_argument("occurrence", type=int, help="the meeting's number (see `admin occurrences --past 14`)")
    attendance.add_argument("count", type=int, help=f"adults and children together, 0 … {MAX_ATTENDED}")
    attendance.set_defaults(handler=run_attendance)

    qr = sub.add_parser("qr", help="a QR code (PNG) that subscribes a phone to a group, for a poster")
    qr.add_argument("group_id")
    qr.add_argument("--out", type=Path, default=None, help="the PNG file (default: qr-<group-id>.png)")
    qr.add_argument("--bot-username", default=None, help="the bot's @username (default: asked from Telegram)")
    qr.add_argument("--scale", type=int, default=10)
    qr.set_defaults(handler=run_qr)


def _now() -> datetime:
    return datetime.now(UTC)


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    path = args.file or settings.content_dir / "groups.yml"
    try:
        catalog = load_catalog(path)
    except CatalogError as error:
        print(error)
        print("nothing was imported")
        return 1
    zone = ZoneInfo(settings.timezone)
    with admin_session(settings) as session:
        result = import_catalog(session, catalog, _now(), zone)
        audit(
            session,
            CLI_ACTOR,
            "groups.import",
            None,
            added=len(result.added),
            updated=len(result.updated),
            deactivated=len(result.deactivated),
        )
    for label, ids in (
        ("added", result.added),
        ("updated", result.updated),
        ("schedule changed", result.rescheduled),
        ("switched off (no longer in the file)", result.deactivated),
    ):
        if ids:
            print(f"{label}: {', '.join(ids)}")
    print(f"{len(catalog.groups)} group(s) in {path}")
    if catalog.sample or any(group.sample for group in catalog.groups):
        print("NOTE: these are the SAMPLE groups. Replace them with the real groups before families use the bot.")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    zone = ZoneInfo(settings.timezone)
    now = _now()
    with admin_session(settings) as session:
        for group in session.scalars(select(Group).where(Group.active.is_(True))):
            ensure_occurrences(session, group, now, zone)
        query = select(Occurrence).where(
            Occurrence.ends_at > now - timedelta(days=max(0, args.past)),
            Occurrence.starts_at < now + timedelta(days=args.days),
        )
        if args.group:
            query = query.where(Occurrence.group_id == args.group)
        rows = session.scalars(query.order_by(Occurrence.starts_at)).all()
        print("number\twhen (local)\tgroup\tstatus\tcoming\tcan't come\tsubscribers\tattended")
        for row in rows:
            counts = rsvp_counts(session, row)
            when = timefmt.format_datetime("en", row.starts_at, zone)
            attended = "-" if row.attended is None else row.attended  # "-": not recorded (0 means nobody came)
            print(
                f"{row.id}\t{when}\t{row.group_id}\t{row.status}\t{counts.coming}\t{counts.not_coming}\t"
                f"{counts.subscribers}\t{attended}"
            )
    return 0


def _meeting(session: Session, number: int, *, listing: str = "occurrences") -> Occurrence | None:
    """The meeting with this number, or None after telling where the numbers are listed."""
    occurrence = session.get(Occurrence, number)
    if occurrence is None:
        print(f"no such meeting; see `python -m bot admin {listing}`")
    return occurrence


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    zone = ZoneInfo(settings.timezone)
    with admin_session(settings) as session:
        occurrence = _meeting(session, args.occurrence)
        if occurrence is None:
            return 1
        try:
            told = cancel_occurrence(session, occurrence, args.reason, CLI_ACTOR, _now())
        except OccurrenceError as error:
            print(_problem(error, zone))
            return 1
    print(f"meeting {args.occurrence} cancelled; {told} subscriber(s) will be told by the running bot")
    return 0


def run_move(args: argparse.Namespace, settings: Settings, *, reinstate: bool) -> int:
    """move-occurrence, and reinstate-occurrence (a cancelled meeting held after all, at its own time unless
    --to names another): one path, as move_occurrence is one function."""
    zone = ZoneInfo(settings.timezone)
    new_start = _typed_time(args.to, zone) if args.to is not None else None
    if args.to is not None and new_start is None:
        return 2
    with admin_session(settings) as session:
        occurrence = _meeting(session, args.occurrence)
        if occurrence is None:
            return 1
        new_start = new_start or occurrence.starts_at
        reason = "" if reinstate else args.reason
        try:
            told = move_occurrence(
                session, occurrence, new_start, reason, CLI_ACTOR, _now(), zone=zone, reinstate=reinstate
            )
        except OccurrenceError as error:
            print(_problem(error, zone))
            return 1
    when = timefmt.format_datetime("en", new_start, zone)
    if reinstate:
        print(f"meeting {args.occurrence} takes place after all, {when}; {told} subscriber(s) will be told")
    else:
        print(f"meeting {args.occurrence} moved to {when}; {told} subscriber(s) will be told by the running bot")
    return 0


def _typed_time(text: str, zone: tzinfo) -> datetime | None:
    """The new start as typed (the same forms as in the staff group), or None after saying how to write it."""
    words = text.split()
    try:
        day, clock, used = parse_day_time(words, _now().astimezone(zone).date())
        if used == len(words):
            return local_start(day, clock, zone)
    except ValueError:
        pass
    print(f"write the new day and time like {TIME_FORMS}")
    return None


def run_rsvps(args: argparse.Namespace, settings: Settings) -> int:
    with admin_session(settings) as session:
        occurrence = _meeting(session, args.occurrence)
        if occurrence is None:
            return 1
        counts = rsvp_counts(session, occurrence)
        audit(session, CLI_ACTOR, "groups.rsvps", f"occurrence:{occurrence.id}")
    print(f"coming: {counts.coming}\ncan't come: {counts.not_coming}\nsubscribers: {counts.subscribers}")
    return 0


def run_attendance(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 <= args.count <= MAX_ATTENDED:
        print(f"the count must be a whole number from 0 to {MAX_ATTENDED} (adults and children together)")
        return 2
    zone = ZoneInfo(settings.timezone)
    with admin_session(settings) as session:
        occurrence = _meeting(session, args.occurrence, listing="occurrences --past 14")
        if occurrence is None:
            return 1
        try:
            previous = record_attendance(session, occurrence, args.count, CLI_ACTOR, _now())
        except OccurrenceError as error:
            print(_problem(error, zone))
            return 1
        when = timefmt.format_datetime("en", occurrence.starts_at, zone)
        group_id = occurrence.group_id
    was = f" (was {previous})" if previous is not None and previous != args.count else ""
    print(f"meeting {args.occurrence} ({when}, {group_id}): {args.count} came{was}; saved")
    return 0


def run_qr(args: argparse.Namespace, settings: Settings) -> int:
    import segno

    username = (args.bot_username or _bot_username(settings) or "").lstrip("@")
    if not username:
        print("give --bot-username (or set TELEGRAM_BOT_TOKEN so that it can be asked from Telegram)")
        return 2
    with admin_session(settings, write=False) as session:
        group = session.get(Group, args.group_id)
    if group is None:
        print("no such group; run `python -m bot admin import-groups` first")
        return 1
    link = DEEP_LINK.format(username=username, group_id=group.id)
    out = args.out or Path(f"qr-{group.id}.png")
    segno.make(link, error="m").save(str(out), scale=args.scale, border=4)
    print(f"{out}: {link}")
    return 0


def _bot_username(settings: Settings) -> str | None:
    """The bot's username from getMe (the token never appears in output)."""
    if not settings.telegram_bot_token:
        return None
    import httpx

    base = settings.telegram_api_base_url or "https://api.telegram.org/bot"
    try:
        response = httpx.get(f"{base}{settings.telegram_bot_token}/getMe", timeout=10)
        return str(response.json()["result"]["username"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def _problem(error: OccurrenceError, zone: tzinfo) -> str:
    """A refused change in a line of English, its times local."""
    values = {name: _shown(value, zone) for name, value in error.values.items()}
    return {
        "groups.staff.already_cancelled": "that meeting is already cancelled",
        "groups.staff.already_started": "meeting {id} has already started ({when}): it can no longer be changed",
        "groups.staff.in_the_past": "that time is in the past",
        "groups.staff.odd_hour": "{clock} is outside meeting hours: a meeting can start from {earliest} to {latest}",
        "groups.staff.same_time": "meeting {id} is already at {when}",
        "groups.staff.overlap": "the group already meets then: meeting {id}, {when}",
        "groups.staff.move_cancelled": (
            "meeting {id} ({when}) was cancelled; to hold it after all: admin reinstate-occurrence {id} [--to ...]"
        ),
        "groups.staff.not_cancelled": "meeting {id} is not cancelled; to change its time: admin move-occurrence",
        "groups.staff.attended_bad_count": f"the count must be a whole number from 0 to {MAX_ATTENDED}",
        "groups.staff.attended_not_started": "that meeting has not started yet",
        "groups.staff.attended_cancelled": "that meeting was cancelled: there is nothing to count",
    }.get(error.key, error.key).format_map(values)


def _shown(value: object, zone: tzinfo) -> object:
    if isinstance(value, datetime):
        return timefmt.format_datetime("en", value, zone)
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return value
