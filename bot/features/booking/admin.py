"""`python -m bot admin slots …`: import slots from a CSV file, add recurring availability, list, cancel.

    python -m bot admin slots import slots.csv [--dry-run]
    python -m bot admin slots recurring --counsellor 123456 --weekday tue --from 9:00 --to 12:00 \
        --minutes 45 --weeks 4 --mode in_person --municipality Kemi --place "Family centre, Valtakatu 1"
    python -m bot admin slots list [--all]
    python -m bot admin slots cancel SLOT_ID

Times are local (TIMEZONE, Europe/Helsinki by default). Every change is written to the audit log.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Counsellor, User
from bot.features.booking.models import Slot
from bot.features.booking.places import TOWNS_FILE, PlaceNames
from bot.features.booking.present import when_text
from bot.features.booking.reminders import BookingReminders
from bot.features.booking.service import BookingConfig, active_booking_of, cancel_slot, publish
from bot.features.booking.slots import (
    MODES,
    MUNICIPALITIES,
    SlotError,
    SlotSpec,
    check_spec,
    normalise_mode,
    normalise_municipality,
    parse_slots_csv,
    parse_time,
    parse_weekday,
    recurring_starts,
)
from bot.settings import Settings
from bot.staff import CLI_ACTOR, admin_session, audit


def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    slots = sub.add_parser("slots", help="counsellors' booking slots")
    ssub = slots.add_subparsers(dest="slots_command")

    importing = ssub.add_parser("import", help="add slots from a CSV file (see docs in bot/features/booking/slots.py)")
    importing.add_argument("path", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="check the file, save nothing")
    importing.set_defaults(handler=run_import)

    recurring = ssub.add_parser("recurring", help="add weekly availability, e.g. Tuesdays 9–12 in 45-minute slots")
    recurring.add_argument("--counsellor", type=int, required=True, help="the counsellor's Telegram id")
    recurring.add_argument("--weekday", required=True, help="mon…sun, ma…su or 1…7")
    recurring.add_argument("--from", dest="start", required=True, help="first start, e.g. 9:00")
    recurring.add_argument("--to", dest="end", required=True, help="the last slot ends by then, e.g. 12:00")
    recurring.add_argument("--minutes", type=int, required=True)
    recurring.add_argument("--weeks", type=int, default=4)
    recurring.add_argument("--mode", default="in_person", help=" | ".join(MODES))
    recurring.add_argument("--municipality", default="", help=", ".join(MUNICIPALITIES))
    recurring.add_argument("--place", default="")
    recurring.add_argument("--languages", default="", help="default: the counsellor's languages")
    recurring.add_argument("--dry-run", action="store_true")
    recurring.set_defaults(handler=run_recurring)

    listing = ssub.add_parser("list", help="upcoming slots and whether they are booked")
    listing.add_argument("--all", action="store_true", help="cancelled ones too")
    listing.set_defaults(handler=run_list)

    cancel = ssub.add_parser("cancel", help="cancel a slot; a family that booked it is told and offered a new time")
    cancel.add_argument("slot_id", type=int)
    cancel.set_defaults(handler=run_cancel)


def _now() -> datetime:
    return datetime.now(UTC)


def _counsellors(session: Session) -> dict[int, Counsellor]:
    rows = session.scalars(select(Counsellor).where(Counsellor.active.is_(True)))
    return {row.telegram_id: row for row in rows}


def _publish_all(
    session: Session, items: list[tuple[Counsellor, SlotSpec, str]], now: datetime
) -> tuple[int, int, list[str]]:
    """Publish each item; returns (created, already there, problems). With problems the caller rolls back,
    but every item is still tried so that staff see all problems at once."""
    created = existing = 0
    problems: list[str] = []
    for counsellor, spec, where in items:
        try:
            slot, new = publish(session, counsellor, spec, now=now)
        except SlotError as error:
            problems.append(f"{where}: {error}")
            continue
        if new:
            created += 1
            audit(session, CLI_ACTOR, "slot.publish", f"slot:{slot.id}", via="cli")
        else:
            existing += 1
    return created, existing, problems


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        content = args.path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {args.path}: {error}")
        return 2
    now, tz = _now(), ZoneInfo(settings.timezone)
    rows, problems = parse_slots_csv(content, tz=tz, now=now)
    with admin_session(settings) as session:
        counsellors = _counsellors(session)
        items = []
        for row in rows:
            counsellor = counsellors.get(row.counsellor_telegram_id)
            if counsellor is None:
                problems.append(f"line {row.line}: no active counsellor with Telegram id {row.counsellor_telegram_id}")
                continue
            items.append((counsellor, row.spec, f"line {row.line}"))
        created, existing, refused = _publish_all(session, items, now)
        problems.extend(refused)
        problems.sort(key=_line_number)
        if problems:
            session.rollback()
            for problem in problems:
                print(f"{args.path}: {problem}")
            print(f"nothing imported: fix {len(problems)} problem(s) and run again")
            return 1
        if args.dry_run:
            session.rollback()
            print(f"{args.path}: {len(items)} slot(s) are valid (dry run: nothing saved)")
            return 0
        audit(session, CLI_ACTOR, "slots.import", None, created=created, existing=existing)
    print(f"{created} slot(s) added, {existing} already there")
    return 0


def run_recurring(args: argparse.Namespace, settings: Settings) -> int:
    now, tz = _now(), ZoneInfo(settings.timezone)
    start, end = parse_time(args.start), parse_time(args.end)
    if start is None or end is None:
        print("--from and --to must be times like 9:00 or 12.30 (minutes in fives)")
        return 2
    try:
        weekday = parse_weekday(args.weekday)
        starts = recurring_starts(
            weekday=weekday, start=start, end=end, minutes=args.minutes, weeks=args.weeks, now=now, tz=tz
        )
        if starts:  # what all the slots share (mode, municipality) is checked once, not reported once per slot
            mode, municipality = normalise_mode(args.mode), normalise_municipality(args.municipality)
            check_spec(SlotSpec(starts[0], args.minutes, mode, municipality, None), now)
    except SlotError as error:
        print(error)
        return 2
    languages = tuple(code.strip() for code in args.languages.split(",") if code.strip())
    with admin_session(settings) as session:
        counsellor = _counsellors(session).get(args.counsellor)
        if counsellor is None:
            print(f"no active counsellor with Telegram id {args.counsellor} (add one: admin counsellor add)")
            return 1
        specs = [
            SlotSpec(
                starts_at=moment,
                minutes=args.minutes,
                mode=normalise_mode(args.mode),
                municipality=normalise_municipality(args.municipality),
                place=args.place.strip() or None,
                languages=languages,
            )
            for moment in starts
        ]
        created, existing, problems = _publish_all(
            session, [(counsellor, spec, when_text("en", _preview(spec), tz)) for spec in specs], now
        )
        if problems:
            session.rollback()
            for problem in problems:
                print(problem)
            print(f"nothing added: fix {len(problems)} problem(s) and run again")
            return 1
        if args.dry_run:
            session.rollback()
            for spec in specs:
                print(when_text("en", _preview(spec), tz))
            print(f"{len(specs)} slot(s) would be added (dry run: nothing saved)")
            return 0
        audit(session, CLI_ACTOR, "slots.recurring", f"counsellor:{counsellor.id}", created=created, existing=existing)
    print(f"{created} slot(s) added, {existing} already there")
    return 0


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head.removeprefix("line ")) if head.startswith("line ") and head[5:].isdigit() else 0


def _preview(spec: SlotSpec) -> Slot:
    return Slot(starts_at=spec.starts_at, minutes=spec.minutes, mode=spec.mode, municipality=spec.municipality)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    now, tz = _now(), ZoneInfo(settings.timezone)
    with admin_session(settings, write=False) as session:
        query = select(Slot).where(Slot.starts_at > now).order_by(Slot.starts_at)
        if not args.all:
            query = query.where(Slot.status == "open")
        for slot in session.scalars(query).unique():
            booking = active_booking_of(session, slot.id)
            family = session.get(User, booking.user_id) if booking else None
            state = slot.status if slot.status != "open" else (f"booked by {family.label}" if family else "free")
            where = slot.municipality if slot.mode == "in_person" else slot.mode
            print(f"{slot.id}\t{when_text('en', slot, tz)}\t{where}\t{slot.counsellor.name}\t{state}")
    return 0


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    now = _now()
    with admin_session(settings) as session:
        slot, booking = cancel_slot(session, args.slot_id, now=now)
        if slot is None:
            print("no open slot with that id")
            return 1
        if booking is not None:
            places = PlaceNames.load(settings.content_dir / TOWNS_FILE)
            reminders = BookingReminders(BookingConfig.from_settings(settings), places)
            reminders.cancel(session, booking)
            # Sent by the running bot's delivery engine, in the family's language.
            reminders.family_cancelled(session, booking, now)
        audit(session, CLI_ACTOR, "slot.cancel", f"slot:{slot.id}", booked=booking is not None)
    print("slot cancelled" + ("; the family will be told and offered a new time" if booking is not None else ""))
    return 0
