"""Issue 9: the bot stopped for two hours, then restarted. Every reminder of a meeting that has not started
yet is sent, once; every reminder of a meeting that started meanwhile is marked `expired` and never sent;
nothing else is lost or repeated. Group reminders and booking reminders, on SQLite and PostgreSQL.

The process is simulated, not frozen: a "process" is one `build_services` on the shared database with an
injected clock. While it runs, the test calls what its delivery tick calls (`Delivery.plan`, then the
sender); a stop is a process that simply runs nothing while the clock moves on (and, in the first test,
dies with a broadcast half done: one message in flight, one still queued). The restarted process does
what `Delivery.tick` does on its first tick as the new scheduler: `recover(everyone_else=True)`, `plan()`,
drain. (The leadership lock itself is tested in tests/test_leader.py; here there is one process at a time.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app import build_services
from bot.core.messages import Reply
from bot.core.services import Services
from bot.db.models import Counsellor, User
from bot.features.booking.service import Outcome, book, publish
from bot.features.booking.slots import SlotSpec
from bot.features.groups.models import Occurrence, Subscription
from bot.outbox import Delivery, OutboxSender, Report
from bot.outbox_models import EXPIRED, PENDING, SENT, OutboxMessage
from bot.settings import ROOT, SERVED_LANGUAGES, Settings
from tests.conftest import make_settings
from tests.content_cache import content_loaded_once  # noqa: F401  (autouse)
from tests.fakes import KeywordNLU

HELSINKI = ZoneInfo("Europe/Helsinki")
SATURDAY, MONDAY, TUESDAY, WEDNESDAY, THURSDAY = (date(2026, 12, d) for d in (5, 7, 8, 9, 10))
WEEKDAYS = {TUESDAY: "tuesday", WEDNESDAY: "wednesday"}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Helsinki wall-clock time as the aware UTC instant the database stores (December: UTC+2)."""
    return datetime.combine(day, time(hour, minute), tzinfo=HELSINKI).astimezone(ZoneInfo("UTC"))


SETUP = local(SATURDAY, 10)  # the process has been running since before the first reminder fell due
STOP = local(TUESDAY, 14)
RESTART = STOP + timedelta(hours=2)


# ---------------------------------------------------------------------- a content folder with our groups
@dataclass(frozen=True)
class GroupPlan:
    id: str
    day: date
    start: str  # local wall-clock time
    families: int


def content_with_groups(folder: Path, groups: list[GroupPlan], reminders_before: list[str]) -> Path:
    """The real content (strings, guide) with a groups file of our own: meetings placed around the stop."""
    folder.mkdir()
    for entry in (ROOT / "content").iterdir():
        if entry.name != "groups.yml":
            (folder / entry.name).symlink_to(entry)
    catalog = {
        "reminders_before": reminders_before,
        "municipalities": {"kemi": dict.fromkeys(SERVED_LANGUAGES, "Kemi")},
        "groups": [
            {
                "id": group.id,
                "municipality": "kemi",
                "name": {code: f"{group.id} [{code}]" for code in SERVED_LANGUAGES},
                "address": "Kauppakatu 22, 94100 Kemi",
                "how_to_find": dict.fromkeys(SERVED_LANGUAGES, "B"),
                "schedule": {"weekday": WEEKDAYS[group.day], "start": group.start, "duration_minutes": 90},
                "audience": "everyone",
                "languages": ["fi"],
            }
            for group in groups
        ],
    }
    (folder / "groups.yml").write_text(yaml.safe_dump(catalog, allow_unicode=True), encoding="utf-8")
    return folder


# ---------------------------------------------------------------------- Telegram, across restarts
class StandInTelegram:
    """Plays the Bot API for every process of a test (it outlives them, as Telegram does): records what
    arrives, with ids unique across processes. `stall_after(n)`: after n more messages, a send never
    returns, as when the process is killed while the HTTP call is in flight."""

    channel = "telegram"

    def __init__(self) -> None:
        self.received: list[tuple[str, int, str]] = []  # (chat, message id, text)
        self._ids = itertools.count(1)
        self._stall_in: int | None = None
        self.stalled = asyncio.Event()

    def stall_after(self, messages: int) -> None:
        self._stall_in = messages

    def answer_normally(self) -> None:
        self._stall_in = None

    async def send(self, external_id: str, reply: Reply) -> int | None:
        if self._stall_in is not None:
            if self._stall_in == 0:
                self.stalled.set()
                await asyncio.Event().wait()  # never answered: the process dies first
            self._stall_in -= 1
        message_id = next(self._ids)
        self.received.append((external_id, message_id, reply.text))
        return message_id


# ---------------------------------------------------------------------- one bot process
@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Process:
    services: Services
    delivery: Delivery
    sender: OutboxSender
    clock: Clock

    def plan(self, at: datetime) -> int:
        self.clock.now = at
        return self.delivery.plan()

    async def tick(self, at: datetime) -> Report:
        """What a healthy scheduler's tick does at `at`: plan what fell due, send everything due."""
        self.plan(at)
        return await self.delivery.drain_now()


def start_process(settings: Settings, telegram: StandInTelegram, at: datetime) -> Process:
    clock = Clock(at)
    services = build_services(settings, nlu=KeywordNLU(), clock=clock)  # type: ignore[arg-type]
    delivery: Delivery = services.features["outbox"]
    # A fast grid: the test measures outcomes, not Telegram's pace (tests/test_outbox.py covers that).
    sender = delivery.make_sender(telegram, rate=1000.0)
    return Process(services, delivery, sender, clock)


@dataclass
class World:
    """Who is who: chat → what the family is subscribed to or booked, to read the outbox rows back."""

    chats: dict[str, list[str]] = field(default_factory=dict)  # subject (group id or booking name) → chats
    bookings: dict[int, str] = field(default_factory=dict)  # booking id → name
    languages: dict[str, str] = field(default_factory=dict)  # chat → language

    def add_family(self, session: Session, subject: str, now: datetime) -> User:
        chat = str(700_000 + len(self.languages))
        language = SERVED_LANGUAGES[len(self.languages) % len(SERVED_LANGUAGES)]
        self.languages[chat] = language
        self.chats.setdefault(subject, []).append(chat)
        week_ago = now - timedelta(days=7)
        user = User(
            channel="telegram",
            external_id=chat,
            language=language,
            consent_at=week_ago,
            created_at=week_ago,
            last_seen_at=week_ago,
        )
        session.add(user)
        session.flush()
        return user


def set_up(process: Process, groups: list[GroupPlan], bookings: dict[str, datetime]) -> World:
    """At SETUP: the groups are imported (the first tick), families subscribe, other families book."""
    world = World()
    assert process.plan(SETUP) == 0, "nothing is due on Saturday morning"
    with process.services.db.session() as session:
        for group in groups:
            for _ in range(group.families):
                user = world.add_family(session, group.id, SETUP)
                session.add(
                    Subscription(user_id=user.id, group_id=group.id, active=True, subscribed_at=user.created_at)
                )
        counsellor = Counsellor(telegram_id=4_440_001, name="Counsellor", languages="fi,en", municipalities="Kemi")
        session.add(counsellor)
        session.flush()
        feature = process.services.features["booking"]
        for name, starts_at in bookings.items():
            slot, _ = publish(session, counsellor, SlotSpec(starts_at, 45, "phone", None, None), now=SETUP)
            family = world.add_family(session, name, SETUP)
            result = book(
                session,
                user=family,
                slot_id=slot.id,
                topic="school",
                interpreter=None,
                language=family.language or "fi",
                now=SETUP,
                config=feature.config,
            )
            assert result.outcome is Outcome.BOOKED and result.booking is not None
            session.refresh(result.booking)
            assert feature.reminders.plan(session, result.booking, SETUP), "the reminder is queued when booking"
            world.bookings[result.booking.id] = name
    return world


def outcomes(services: Services, world: World) -> dict[tuple[str, str, str], str]:
    """Every outbox row as (group id or booking name, reminder label, chat) → status."""
    found: dict[tuple[str, str, str], str] = {}
    with services.db.sessions() as session:
        groups_of = dict(session.execute(select(Occurrence.id, Occurrence.group_id)).all())
        rows = session.execute(select(OutboxMessage, User.external_id).join(User, User.id == OutboxMessage.user_id))
        for row, chat in rows:
            number = int((row.ref or ":0").rsplit(":", 1)[1])
            if row.kind == "group.reminder":
                subject, label = groups_of[number], row.key.rsplit(":", 1)[1]
            else:
                assert row.kind == "booking.reminder", row.kind
                subject, label = world.bookings[number], "booking"
            assert (subject, label, chat) not in found, "one row per reminder and family"
            found[(subject, label, chat)] = row.status
    return found


def expect(world: World, subject: str, label: str, *statuses: str) -> dict[tuple[str, str, str], str]:
    """The expected status of `label` for each family of `subject`, in the order they joined."""
    chats = world.chats[subject]
    assert len(chats) == len(statuses)
    return {(subject, label, chat): status for chat, status in zip(chats, statuses, strict=True)}


def assert_every_sent_row_arrived_once(services: Services, telegram: StandInTelegram) -> None:
    """Telegram received exactly the rows marked sent: no duplicates, nothing sent that is not recorded."""
    with services.db.sessions() as session:
        recorded = sorted(
            (chat, row.telegram_message_id)
            for row, chat in session.execute(
                select(OutboxMessage, User.external_id)
                .join(User, User.id == OutboxMessage.user_id)
                .where(OutboxMessage.status == SENT)
            )
        )
    assert recorded == sorted((chat, message_id) for chat, message_id, _text in telegram.received)


@pytest.fixture(scope="module")
def content_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("downtime-content")
    yield {
        "default": content_with_groups(root / "default", DEFAULT_GROUPS, ["24h", "2h"]),
        "short": content_with_groups(root / "short", SHORT_GROUPS, ["24h", "2h", "30min"]),
    }


# ---------------------------------------------------------------------- the default reminders (24 h, 2 h)
DEFAULT_GROUPS = [
    GroupPlan("gap", TUESDAY, "15:45", 3),  # starts during the stop; killed while its 2 h broadcast ran
    GroupPlan("evening", TUESDAY, "17:00", 2),  # 2 h reminder fell due during the stop
    GroupPlan("queued", WEDNESDAY, "13:50", 2),  # 24 h reminder queued just before the stop, not yet sent
    GroupPlan("tomorrow", WEDNESDAY, "15:00", 2),  # 24 h reminder fell due during the stop
    GroupPlan("later", WEDNESDAY, "17:00", 2),  # 24 h reminder due after the restart
]
DEFAULT_BOOKINGS = {
    "booked-before": local(TUESDAY, 15),  # meets during the stop; reminded on Monday
    "booked-gap": local(WEDNESDAY, 15, 30),  # reminder fell due during the stop
    "booked-later": local(THURSDAY, 10),  # reminder due on Wednesday
}


async def test_after_two_hours_down_reminders_of_meetings_to_come_are_sent_and_the_others_expire(
    database_url: str, tmp_path: Path, content_dirs: dict[str, Path]
) -> None:
    settings = make_settings(database_url, tmp_path, content_dir=content_dirs["default"])
    telegram = StandInTelegram()
    before = start_process(settings, telegram, SETUP)
    world = set_up(before, DEFAULT_GROUPS, DEFAULT_BOOKINGS)
    try:
        # Monday: the process ticks as usual; each reminder goes out when it falls due.
        assert (await before.tick(local(MONDAY, 15))).sent == 1  # booked-before, 24 h ahead
        assert (await before.tick(local(MONDAY, 15, 45))).sent == 3  # gap, 24 h
        assert (await before.tick(local(MONDAY, 17))).sent == 2  # evening, 24 h
        # Tuesday 13:45: the gap group's 2 h broadcast starts; one message gets out, the next one's HTTP
        # call is still in flight when the process is killed at 14:00. The 13:50 tick queued the queued
        # group's 24 h reminders behind it.
        telegram.stall_after(1)
        before.plan(local(TUESDAY, 13, 45))
        broadcast = asyncio.create_task(before.delivery.drain_now())
        await asyncio.wait_for(telegram.stalled.wait(), timeout=10)
        before.plan(local(TUESDAY, 13, 50))
        before.clock.now = STOP
        broadcast.cancel()  # killed: no code of this process runs after this line
        with pytest.raises(asyncio.CancelledError):
            await broadcast
    finally:
        before.services.db.dispose()
    arrived_before = len(telegram.received)
    assert arrived_before == 7

    # Two hours later a new process starts; Telegram answers normally again.
    telegram.answer_normally()
    after = start_process(settings, telegram, RESTART)
    try:
        assert after.sender.recover(everyone_else=True) == 1, "the message in flight when the process died"
        assert after.plan(RESTART) == 4  # evening 2 h and tomorrow 24 h; nothing for meetings that started
        report = await after.delivery.drain_now()
        assert (report.sent, report.expired, report.blocked, report.failed) == (7, 2, 0, 0)
        assert (await after.delivery.drain_now()).sent == 0, "nothing is left to send"

        expected = {
            **expect(world, "booked-before", "booking", SENT),
            **expect(world, "booked-gap", "booking", SENT),
            **expect(world, "booked-later", "booking", PENDING),  # due on Wednesday, still waiting
            **expect(world, "gap", "24h", SENT, SENT, SENT),
            # The meeting started at 15:45: the one in flight and the one never tried expire, unsent.
            **expect(world, "gap", "2h", SENT, EXPIRED, EXPIRED),
            **expect(world, "evening", "24h", SENT, SENT),
            **expect(world, "evening", "2h", SENT, SENT),
            **expect(world, "queued", "24h", SENT, SENT),
            **expect(world, "tomorrow", "24h", SENT, SENT),
        }
        assert outcomes(after.services, world) == expected
        assert_every_sent_row_arrived_once(after.services, telegram)
        after_restart = {chat: text for chat, _id, text in telegram.received[arrived_before:]}
        assert set(after_restart) == {
            *world.chats["booked-gap"],
            *world.chats["evening"],
            *world.chats["queued"],
            *world.chats["tomorrow"],
        }
        for chat in world.chats["evening"]:  # the right meeting, in the family's language
            language = world.languages[chat]
            assert f"evening [{language}]" in after_restart[chat]
        assert not set(after_restart) & set(world.chats["gap"]), "no reminder after the meeting started"

        # Life goes on: the next reminder goes out when it falls due, and nothing old comes back.
        report = await after.tick(local(TUESDAY, 17, 0))
        assert (report.sent, report.expired) == (2, 0)
        expected.update(expect(world, "later", "24h", SENT, SENT))
        assert outcomes(after.services, world) == expected
        assert_every_sent_row_arrived_once(after.services, telegram)
    finally:
        after.services.db.dispose()


# ---------------------------------------------------------------------- reminders shorter than the stop
SHORT_GROUPS = [
    GroupPlan("gap", TUESDAY, "15:00", 2),  # 30 min reminder fell due (14:30) and the meeting began, both unseen
    GroupPlan("soon", TUESDAY, "16:20", 2),  # 2 h (14:20) and 30 min (15:50) fell due: only the latter is sent
]
SHORT_BOOKINGS = {
    "booked-gap": local(TUESDAY, 15, 30),  # 1 h reminder due 14:30, meeting started 15:30
    "booked-soon": local(TUESDAY, 16, 30),  # 1 h reminder due 15:30, meeting at 16:30
}


async def test_reminders_that_fell_due_and_expired_while_the_bot_was_down_are_recorded_not_sent(
    database_url: str, tmp_path: Path, content_dirs: dict[str, Path]
) -> None:
    """With reminders closer to the meeting than the stop was long (here 30 min, and 1 h for bookings),
    some fell due *and* their meeting started while no process ran. They are recorded as expired, like
    the ones that were queued in time, so that the outbox tells what happened to every reminder."""
    settings = make_settings(database_url, tmp_path, content_dir=content_dirs["short"], booking_reminder_hours=1.0)
    telegram = StandInTelegram()
    before = start_process(settings, telegram, SETUP)
    world = set_up(before, SHORT_GROUPS, SHORT_BOOKINGS)
    try:
        assert (await before.tick(local(MONDAY, 15))).sent == 2  # gap, 24 h
        assert (await before.tick(local(MONDAY, 16, 20))).sent == 2  # soon, 24 h
        assert (await before.tick(local(TUESDAY, 13))).sent == 2  # gap, 2 h
        assert (await before.tick(STOP)).sent == 0  # healthy up to the stop, then nothing runs
    finally:
        before.services.db.dispose()
    assert len(telegram.received) == 6

    after = start_process(settings, telegram, RESTART)
    try:
        assert after.sender.recover(everyone_else=True) == 0
        after.plan(RESTART)
        report = await after.delivery.drain_now()
        # Sent: soon's 30 min reminder (2) and booked-soon's; expired: gap's 30 min (2) and booked-gap's.
        assert (report.sent, report.expired) == (3, 3)
        expected = {
            **expect(world, "booked-gap", "booking", EXPIRED),
            **expect(world, "booked-soon", "booking", SENT),
            **expect(world, "gap", "24h", SENT, SENT),
            **expect(world, "gap", "2h", SENT, SENT),
            **expect(world, "gap", "30min", EXPIRED, EXPIRED),
            **expect(world, "soon", "24h", SENT, SENT),
            # Both of soon's reminders fell due while the bot was down: only the closer one goes.
            **expect(world, "soon", "30min", SENT, SENT),
        }
        assert outcomes(after.services, world) == expected
        assert_every_sent_row_arrived_once(after.services, telegram)
        # Planning again (the next ticks) adds nothing and sends nothing.
        assert (await after.tick(RESTART + timedelta(seconds=5))).sent == 0
        assert outcomes(after.services, world) == expected
    finally:
        after.services.db.dispose()
