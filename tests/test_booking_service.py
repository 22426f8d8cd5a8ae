"""Booking rules on the database (SQLite and PostgreSQL): the unique active booking, what is free,
the per-family limit, moving and cancelling, publishing. Also holds helpers the other booking tests use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.app import build_conversation, build_services
from bot.core.engine import Conversation
from bot.core.services import Services
from bot.db.models import AuditEntry, Counsellor, User
from bot.features.booking.models import Booking, Slot
from bot.features.booking.service import (
    BookingConfig,
    BookResult,
    Outcome,
    book,
    cancel_slot,
    free_slots,
    future_bookings,
    places_with_free_slots,
    publish,
)
from bot.features.booking.slots import REMOTE, SlotError, SlotSpec
from bot.settings import Settings
from tests.conftest import make_settings
from tests.fakes import KeywordNLU

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Monday 2 March 2026, 08:00 in Helsinki
COUNSELLOR_TELEGRAM_ID = 4440001


# ---------------------------------------------------------------------- helpers (used by other booking tests)
@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    services: Services
    conversation: Conversation
    clock: Clock

    def session(self):  # a transaction, as Database.session
        return self.services.db.session()


def build_world(
    database_url: str, tmp_path: Path, *, clock: Clock | None = None, nlu: object | None = None, **settings: object
) -> World:
    """The core on a database; `settings` override Settings fields (e.g. booking_max_future=1)."""
    clock = clock or Clock()
    services = build_services(
        make_settings(database_url, tmp_path, **settings),
        nlu=nlu or KeywordNLU(),  # type: ignore[arg-type]
        clock=clock,
    )
    return World(services, build_conversation(services), clock)


def add_counsellor(
    world: World,
    telegram_id: int = COUNSELLOR_TELEGRAM_ID,
    *,
    languages: str = "fi",
    municipalities: str = "Kemi,Tornio",
) -> int:
    with world.session() as session:
        row = Counsellor(
            telegram_id=telegram_id,
            name=f"Counsellor {telegram_id}",
            languages=languages,
            municipalities=municipalities,
        )
        session.add(row)
        session.flush()
        return row.id


def add_slot(
    world: World,
    counsellor_id: int,
    starts_in: timedelta,
    *,
    minutes: int = 45,
    mode: str = "in_person",
    municipality: str | None = "Kemi",
    place: str | None = "Perhekeskus, Valtakatu 1",
) -> int:
    with world.session() as session:
        counsellor = session.get(Counsellor, counsellor_id)
        assert counsellor is not None
        spec = SlotSpec(
            world.clock.now + starts_in,
            minutes,
            mode,
            municipality if mode == "in_person" else None,
            place if mode == "in_person" else None,
        )
        slot, _created = publish(session, counsellor, spec, now=world.clock.now)
        return slot.id


def add_user(world: World, external_id: str, language: str = "en", *, consent: bool = True) -> int:
    with world.session() as session:
        user = User(
            channel="test",
            external_id=external_id,
            language=language,
            consent_at=world.clock.now if consent else None,
            created_at=world.clock.now,
        )
        session.add(user)
        session.flush()
        return user.id


def active_bookings(world: World) -> list[Booking]:
    with world.services.db.sessions() as session:
        return list(session.scalars(select(Booking).where(Booking.status == "active")).unique())


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    built = build_world(database_url, tmp_path)
    yield built
    built.services.db.dispose()


CONFIG = BookingConfig()


def _booking(world: World, user_id: int, slot_id: int, *, moving: bool = False, **kwargs: Any) -> BookResult:
    """Book `slot_id` for the user; `moving`: move their current booking there, as the move flow does."""
    with world.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        move_from = session.scalar(select(Booking).where(Booking.user_id == user_id)) if moving else None
        return book(
            session,
            user=user,
            slot_id=slot_id,
            topic="health",
            interpreter=None,
            language="en",
            now=world.clock.now,
            config=kwargs.pop("config", CONFIG),
            move_from=move_from,
            **kwargs,
        )


def _book(world: World, user_id: int, slot_id: int, **kwargs: Any) -> Outcome:
    return _booking(world, user_id, slot_id, **kwargs).outcome


# ---------------------------------------------------------------------- the database's promise
def test_the_database_refuses_a_second_active_booking_of_a_slot(world: World) -> None:
    counsellor = add_counsellor(world)
    slot = add_slot(world, counsellor, timedelta(days=2))
    first, second = add_user(world, "a"), add_user(world, "b")
    with world.session() as session:
        session.add(Booking(slot_id=slot, user_id=first, status="active", topic="health", language="en"))
    with pytest.raises(IntegrityError), world.session() as session:
        session.add(Booking(slot_id=slot, user_id=second, status="active", topic="money", language="en"))
        session.flush()
    # Any number of ended bookings may point at the slot; one active one still fits beside them.
    with world.session() as session:
        session.add(Booking(slot_id=slot, user_id=second, status="cancelled", topic="money", language="en"))
        session.add(Booking(slot_id=slot, user_id=second, status="moved", topic="money", language="en"))
    assert len(active_bookings(world)) == 1


def test_the_loser_of_the_index_gets_taken_not_an_error(world: World) -> None:
    counsellor = add_counsellor(world)
    slot = add_slot(world, counsellor, timedelta(days=2))
    first, second = add_user(world, "a"), add_user(world, "b")
    assert _book(world, first, slot) is Outcome.BOOKED
    assert _book(world, second, slot) is Outcome.TAKEN
    assert [b.user_id for b in active_bookings(world)] == [first]


# ---------------------------------------------------------------------- what is offered
def test_only_open_unbooked_slots_far_enough_ahead_are_free(world: World) -> None:
    counsellor = add_counsellor(world)
    gone = add_counsellor(world, 4440002)
    soon = add_slot(world, counsellor, timedelta(hours=11))
    later = add_slot(world, counsellor, timedelta(hours=13))
    booked = add_slot(world, counsellor, timedelta(days=1))
    cancelled = add_slot(world, counsellor, timedelta(days=2))
    phone = add_slot(world, counsellor, timedelta(days=3), mode="phone")
    tornio = add_slot(world, counsellor, timedelta(days=4), municipality="Tornio")
    of_removed = add_slot(world, gone, timedelta(days=5), municipality="Simo")
    _book(world, add_user(world, "a"), booked)
    with world.session() as session:
        cancel_slot(session, cancelled, now=world.clock.now)
        session.get(Counsellor, gone).active = False  # type: ignore[union-attr]
    with world.services.db.sessions() as session:
        now = world.clock.now
        assert [s.id for s in free_slots(session, now, CONFIG)] == [later, phone, tornio]
        assert of_removed not in [s.id for s in free_slots(session, now, BookingConfig(close_hours=0))]
        assert [s.id for s in free_slots(session, now, CONFIG, place="Kemi")] == [later]
        assert [s.id for s in free_slots(session, now, CONFIG, place=REMOTE)] == [phone]
        assert places_with_free_slots(session, now, CONFIG) == ["Kemi", "Tornio", REMOTE]
        # Configurable: with 2 hours' notice the slot in 11 hours is offered too; past ones never.
        assert soon in [s.id for s in free_slots(session, now, BookingConfig(close_hours=2))]
        world.clock.now = NOW + timedelta(hours=14)
        assert later not in [s.id for s in free_slots(session, world.clock.now, BookingConfig(close_hours=0))]


def test_a_family_holds_at_most_the_configured_number_of_future_bookings(world: World) -> None:
    counsellor = add_counsellor(world)
    slots = [add_slot(world, counsellor, timedelta(days=d)) for d in (1, 2, 3)]
    family = add_user(world, "a")
    assert _book(world, family, slots[0]) is Outcome.BOOKED
    assert _book(world, family, slots[1]) is Outcome.BOOKED
    assert _book(world, family, slots[2]) is Outcome.LIMIT
    assert _book(world, add_user(world, "b"), slots[2], config=BookingConfig(max_future=1)) is Outcome.BOOKED
    # A past meeting no longer counts.
    world.clock.now = NOW + timedelta(days=1, hours=1)
    with world.services.db.sessions() as session:
        assert len(future_bookings(session, family, world.clock.now)) == 1


def test_booking_settings_come_from_settings_and_a_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BOOKING_MAX_FUTURE", "BOOKING_CLOSE_HOURS", "BOOKING_REMINDER_HOURS"):
        monkeypatch.delenv(name, raising=False)
    assert BookingConfig.from_settings(Settings.from_env(env_file=tmp_path / "missing.env")) == BookingConfig()
    env_file = tmp_path / ".env"
    env_file.write_text("BOOKING_MAX_FUTURE=3\nBOOKING_CLOSE_HOURS=6\nBOOKING_REMINDER_HOURS=2.5\n", encoding="utf-8")
    from_file = BookingConfig.from_settings(Settings.from_env(env_file=env_file))
    assert from_file == BookingConfig(max_future=3, close_hours=6.0, reminder_hours=2.5)
    monkeypatch.setenv("BOOKING_MAX_FUTURE", "4")  # the environment wins over the file
    assert BookingConfig.from_settings(Settings.from_env(env_file=env_file)).max_future == 4
    # The running feature reads the process's Settings (what `.env` and overrides say), not os.environ.
    built = build_world(f"sqlite:///{tmp_path / 'configured.db'}", tmp_path, booking_reminder_hours=3.0)
    try:
        feature = built.services.features["booking"]
        assert feature.config == BookingConfig(max_future=2, close_hours=12.0, reminder_hours=3.0)
        assert feature.reminders.config.reminder_hours == 3.0
    finally:
        built.services.db.dispose()


def test_moving_is_all_or_nothing(world: World) -> None:
    counsellor = add_counsellor(world)
    mine, taken, free = (add_slot(world, counsellor, timedelta(days=d)) for d in (1, 2, 3))
    family, other = add_user(world, "a"), add_user(world, "b")
    _book(world, family, mine)
    _book(world, other, taken)
    assert _booking(world, family, taken, moving=True).outcome is Outcome.TAKEN
    assert {(b.user_id, b.slot_id) for b in active_bookings(world)} == {(family, mine), (other, taken)}
    result = _booking(world, family, free, moving=True)
    assert result.outcome is Outcome.BOOKED and result.previous is not None
    with world.services.db.sessions() as session:
        rows = session.scalars(select(Booking).where(Booking.user_id == family).order_by(Booking.id)).all()
        assert [(b.slot_id, b.status) for b in rows] == [(mine, "moved"), (free, "active")]
        assert rows[0].moved_to_id == rows[1].id
    # The slot that was moved away from is free again.
    assert _book(world, add_user(world, "c"), mine) is Outcome.BOOKED


def test_cancelling_a_slot_cancels_its_booking_and_closes_it(world: World) -> None:
    counsellor = add_counsellor(world)
    slot = add_slot(world, counsellor, timedelta(days=2))
    family = add_user(world, "a")
    _book(world, family, slot)
    with world.session() as session:
        cancelled, booking = cancel_slot(session, slot, now=world.clock.now)
        assert cancelled is not None and booking is not None
        assert (booking.status, booking.ended_by) == ("cancelled", "counsellor")
    with world.session() as session:
        assert cancel_slot(session, slot, now=world.clock.now) == (None, None), "only once"
    assert _book(world, add_user(world, "b"), slot) is Outcome.CLOSED


def test_publishing_refuses_overlaps_and_is_idempotent(world: World) -> None:
    counsellor = add_counsellor(world)
    slot = add_slot(world, counsellor, timedelta(days=2))
    assert add_slot(world, counsellor, timedelta(days=2)) == slot, "the same slot again adds nothing"
    with pytest.raises(SlotError, match="overlaps"):
        add_slot(world, counsellor, timedelta(days=2, minutes=30))
    add_slot(world, counsellor, timedelta(days=2, minutes=45))  # back to back is fine
    other = add_counsellor(world, 4440002)
    add_slot(world, other, timedelta(days=2))  # another counsellor at the same time is fine
    with world.session() as session:
        cancel_slot(session, slot, now=world.clock.now)
    assert add_slot(world, counsellor, timedelta(days=2)) == slot, "a cancelled slot is opened again"
    with world.services.db.sessions() as session:
        assert session.get(Slot, slot).status == "open"  # type: ignore[union-attr]
        assert session.scalar(select(AuditEntry)) is None, "the service itself does not audit; its callers do"
