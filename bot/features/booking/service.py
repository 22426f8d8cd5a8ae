"""Booking rules on the database: what is free, booking, moving, cancelling, publishing slots.

Every function works inside the caller's transaction (one message = one transaction), so a booking and
everything that goes with it (the move of an old booking, the reminder, the audit row) commit together
or not at all. Concurrency:

* SQLite: every transaction starts with BEGIN IMMEDIATE (see `bot.db.database`), so writers queue and
  each one sees the bookings committed before it.
* PostgreSQL: bookers take a *share* lock on the slot row, so they do not wait for each other and the
  partial unique index on active bookings decides between them (the loser's insert fails in a
  savepoint: a friendly "just taken", not an error); a counsellor cancelling the slot takes an update
  lock, so a booking and a cancellation of the same slot never interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from bot.db.models import Counsellor, User
from bot.features.booking.models import ACTIVE, Booking, Slot
from bot.features.booking.slots import (
    MUNICIPALITIES,
    REMOTE,
    SlotError,
    SlotSpec,
    bookable_after,
    check_spec,
    overlaps,
)
from bot.settings import Settings

ACTIVE_SLOT_INDEX = "uq_bookings_active_slot"
TOPICS: tuple[str, ...] = ("family", "school", "health", "wellbeing", "money", "housing", "work", "other")


@dataclass(frozen=True)
class BookingConfig:
    """The booking feature's settings (`Settings.booking_*`, i.e. BOOKING_MAX_FUTURE, BOOKING_CLOSE_HOURS,
    BOOKING_REMINDER_HOURS), with the issue's defaults.

    max_future      future bookings one family may hold (2)
    close_hours     slots starting within this many hours are no longer offered (12)
    reminder_hours  the reminder goes this many hours before the meeting (24)
    """

    max_future: int = 2
    close_hours: float = 12.0
    reminder_hours: float = 24.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BookingConfig:
        return cls(
            max_future=settings.booking_max_future,
            close_hours=settings.booking_close_hours,
            reminder_hours=settings.booking_reminder_hours,
        )


class Outcome(StrEnum):
    BOOKED = "booked"
    TAKEN = "taken"  # someone else was quicker: offer the next free times
    CLOSED = "closed"  # cancelled, past or closing soon: no longer offered
    LIMIT = "limit"  # the family already has the maximum of future bookings


@dataclass(frozen=True)
class BookResult:
    outcome: Outcome
    booking: Booking | None = None
    previous: Booking | None = None  # the booking that was moved, when moving


# ---------------------------------------------------------------------- what is free
def _has_active_booking() -> Exists:
    return exists().where(and_(Booking.slot_id == Slot.id, Booking.status == ACTIVE))


def free_slots(
    session: Session,
    now: datetime,
    config: BookingConfig,
    *,
    place: str | None = None,
    day: date | None = None,
    tz: ZoneInfo | None = None,
    limit: int | None = None,
    exclude: Sequence[int] = (),
) -> list[Slot]:
    """Open, unbooked slots of active counsellors that a family may still book, soonest first.

    `place` is a municipality (in-person slots there) or REMOTE (phone and video slots).
    """
    query = (
        select(Slot)
        .join(Counsellor, Counsellor.id == Slot.counsellor_id)
        .where(
            Slot.status == "open",
            Counsellor.active.is_(True),
            Slot.starts_at > bookable_after(now, config.close_hours),
            ~_has_active_booking(),
        )
        .order_by(Slot.starts_at, Slot.id)
    )
    if place == REMOTE:
        query = query.where(Slot.mode.in_(("phone", "video")))
    elif place is not None:
        query = query.where(Slot.mode == "in_person", Slot.municipality == place)
    if exclude:
        query = query.where(Slot.id.not_in(list(exclude)))
    if day is not None:
        zone = tz or ZoneInfo("Europe/Helsinki")
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        query = query.where(Slot.starts_at >= start, Slot.starts_at < end)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query).unique())


def places_with_free_slots(session: Session, now: datetime, config: BookingConfig) -> list[str]:
    """Municipalities with free in-person slots (in the project's order), then REMOTE if any."""
    rows = session.execute(
        select(Slot.mode, Slot.municipality)
        .join(Counsellor, Counsellor.id == Slot.counsellor_id)
        .where(
            Slot.status == "open",
            Counsellor.active.is_(True),
            Slot.starts_at > bookable_after(now, config.close_hours),
            ~_has_active_booking(),
        )
        .distinct()
    ).all()
    in_person = {municipality for mode, municipality in rows if mode == "in_person"}
    places = [name for name in MUNICIPALITIES if name in in_person]
    if any(mode != "in_person" for mode, _ in rows):
        places.append(REMOTE)
    return places


def future_bookings(session: Session, user_id: int, now: datetime) -> list[Booking]:
    """The family's active bookings that have not started yet, soonest first."""
    return list(
        session.scalars(
            select(Booking)
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.user_id == user_id, Booking.status == ACTIVE, Slot.starts_at > now)
            .order_by(Slot.starts_at)
        ).unique()
    )


def own_future_booking(session: Session, user_id: int, booking_id: object, now: datetime) -> Booking | None:
    """The booking only if it is this family's, active and in the future: ids from buttons are not trusted."""
    try:
        wanted = int(str(booking_id))
    except ValueError:
        return None
    return next((b for b in future_bookings(session, user_id, now) if b.id == wanted), None)


def active_booking_of(session: Session, slot_id: int) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.slot_id == slot_id, Booking.status == ACTIVE))


# ---------------------------------------------------------------------- booking, moving, cancelling
def book(
    session: Session,
    *,
    user: User,
    slot_id: int,
    topic: str,
    interpreter: str | None,
    language: str,
    now: datetime,
    config: BookingConfig,
    move_from: Booking | None = None,
    phone: str | None = None,
) -> BookResult:
    """Book `slot_id` for `user` (moving `move_from` there, if given). Never raises for a lost race."""
    lock_family(session, user.id)
    if move_from is not None:
        session.refresh(move_from)  # read again under the lock: another phone may have moved it meanwhile
    slot = session.scalar(select(Slot).where(Slot.id == slot_id).with_for_update(read=True, of=Slot))
    if slot is None or slot.status != "open" or not slot.counsellor.active:
        return BookResult(Outcome.CLOSED)
    if slot.starts_at <= bookable_after(now, config.close_hours):
        return BookResult(Outcome.CLOSED)
    if move_from is not None and (move_from.user_id != user.id or move_from.status != ACTIVE):
        return BookResult(Outcome.CLOSED)
    if move_from is None and len(future_bookings(session, user.id, now)) >= config.max_future:
        return BookResult(Outcome.LIMIT)
    if active_booking_of(session, slot.id) is not None:
        return BookResult(Outcome.TAKEN)  # already visible: no need to provoke the constraint
    booking = Booking(
        slot_id=slot.id,
        user_id=user.id,
        status=ACTIVE,
        topic=topic if topic in TOPICS else "other",
        interpreter=interpreter,
        language=language,
        phone=phone if slot.remote else None,
        created_at=now,
    )
    try:
        # A savepoint: when the unique index refuses (someone committed this slot a moment ago), only
        # this part is undone and the message's transaction goes on to answer kindly.
        with session.begin_nested():
            if move_from is not None:
                move_from.status = "moved"
                move_from.ended_at = now
                move_from.ended_by = "family"
                move_from.phone = None  # the new booking holds it now
                session.flush()  # frees the old slot before the new one is taken
            session.add(booking)
            session.flush()
            if move_from is not None:
                move_from.moved_to_id = booking.id
    except IntegrityError as error:
        if not _is_active_slot_conflict(error):
            raise
        return BookResult(Outcome.TAKEN)
    return BookResult(Outcome.BOOKED, booking, move_from)


def move_history(session: Session, booking: Booking, *, limit: int = 100) -> tuple[Booking, int]:
    """The booking a chain of moves started from, and how many moves led from it to `booking` ((booking, 0) when
    it was never moved). A move makes a new row and links the old one to it (`moved_to_id`)."""
    first, moves = booking, 0
    while moves < limit:
        earlier = session.scalar(select(Booking).where(Booking.moved_to_id == first.id))
        if earlier is None:
            break
        first, moves = earlier, moves + 1
    return first, moves


def _is_active_slot_conflict(error: IntegrityError) -> bool:
    diag = getattr(error.orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return bool(diag.constraint_name == ACTIVE_SLOT_INDEX)
    return "bookings.slot_id" in str(error.orig)  # SQLite names the columns, not the index


def lock_family(session: Session, user_id: int) -> None:
    """Serialise one family's booking changes (always the first lock taken, then the slot's): two phones
    of one family cannot both pass the limit or move one booking twice. SQLite ignores FOR UPDATE;
    BEGIN IMMEDIATE already serialises everything there."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())


def cancel_booking(booking: Booking, *, by: str, now: datetime) -> None:
    booking.status = "cancelled"
    booking.ended_at = now
    booking.ended_by = by
    booking.phone = None  # kept only for the meeting


def cancel_slot(session: Session, slot_id: int, *, now: datetime) -> tuple[Slot | None, Booking | None]:
    """Take a slot back (a counsellor cannot come): the booking on it, if any, is cancelled with it."""
    # An update lock waits for bookers holding their share lock; the booking query after it then sees
    # whatever they committed (PostgreSQL reads committed data per statement).
    slot = session.scalar(select(Slot).where(Slot.id == slot_id).with_for_update(of=Slot))
    if slot is None or slot.status != "open":
        return None, None
    slot.status = "cancelled"
    slot.cancelled_at = now
    session.flush()
    booking = active_booking_of(session, slot.id)
    if booking is not None:
        cancel_booking(booking, by="counsellor", now=now)
    return slot, booking


# ---------------------------------------------------------------------- publishing
def publish(session: Session, counsellor: Counsellor, spec: SlotSpec, *, now: datetime) -> tuple[Slot, bool]:
    """Add a slot for `counsellor`. Returns (slot, created); an identical open slot is left as it is.

    Raises SlotError for a slot in the past, an unknown place or mode, or one overlapping another open
    slot of the same counsellor.
    """
    check_spec(spec, now)
    same = session.scalar(select(Slot).where(Slot.counsellor_id == counsellor.id, Slot.starts_at == spec.starts_at))
    if same is not None and same.status == "open":
        if (same.minutes, same.mode, same.municipality) == (spec.minutes, spec.mode, spec.municipality):
            return same, False
        raise SlotError("there is already a slot at that time")
    nearby = session.scalars(
        select(Slot).where(
            Slot.counsellor_id == counsellor.id,
            Slot.status == "open",
            Slot.starts_at < spec.ends_at,
            Slot.starts_at > spec.starts_at - timedelta(hours=8),
        )
    ).unique()
    if any(overlaps(spec.starts_at, spec.minutes, other.starts_at, other.minutes) for other in nearby):
        raise SlotError("it overlaps another slot of the same counsellor")
    languages = ",".join(spec.languages) if spec.languages else counsellor.languages
    if same is not None:  # a cancelled slot at the same start: open it again rather than add a second row
        same.status, same.cancelled_at = "open", None
        same.minutes, same.mode, same.municipality, same.place = spec.minutes, spec.mode, spec.municipality, spec.place
        same.languages = languages
        return same, True
    slot = Slot(
        counsellor_id=counsellor.id,
        starts_at=spec.starts_at,
        minutes=spec.minutes,
        mode=spec.mode,
        municipality=spec.municipality,
        place=spec.place,
        languages=languages,
        status="open",
        created_at=now,
    )
    session.add(slot)
    session.flush()
    return slot, True


def counsellor_slots(session: Session, counsellor_id: int, now: datetime, *, limit: int = 30) -> list[Slot]:
    """A counsellor's open slots that have not ended, soonest first."""
    return list(
        session.scalars(
            select(Slot)
            .where(
                Slot.counsellor_id == counsellor_id,
                Slot.status == "open",
                Slot.starts_at > now - timedelta(hours=8),
            )
            .order_by(Slot.starts_at)
            .limit(limit)
        ).unique()
    )


def recent_places(session: Session, counsellor_id: int, municipality: str, *, limit: int = 3) -> list[str]:
    """Places this counsellor used before in a municipality, most used first: one tap instead of typing."""
    rows = session.execute(
        select(Slot.place, func.count())
        .where(Slot.counsellor_id == counsellor_id, Slot.municipality == municipality, Slot.place.is_not(None))
        .group_by(Slot.place)
        .order_by(func.count().desc(), Slot.place)
        .limit(limit)
    ).all()
    return [str(place) for place, _count in rows]
