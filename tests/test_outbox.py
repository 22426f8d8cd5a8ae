"""The delivery engine with the real python-telegram-bot against the local Bot API server, on SQLite and
PostgreSQL: planning is idempotent, everything due is sent once, expired reminders are not sent, 403 pauses
subscriptions, 429 is waited out, a crash repeats at most the message in flight, cancellations go at once."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import build_conversation, build_services
from bot.channels.telegram import build_application
from bot.core.messages import Reply
from bot.core.services import Services
from bot.db.models import Counsellor, User
from bot.features.groups.models import Group, Occurrence, Subscription
from bot.outbox import (
    Delivery,
    Message,
    RetryLater,
    TelegramTransport,
    queue,
)
from bot.outbox_models import BLOCKED, EXPIRED, PENDING, SENT, OutboxMessage
from bot.settings import Settings
from bot.testing.fake_bot_api import FakeBotApi, Fault
from tests.conftest import make_settings
from tests.content_cache import content_loaded_once  # noqa: F401  (autouse)
from tests.fakes import KeywordNLU
from tests.telegram_harness import running_bot

HELSINKI = ZoneInfo("Europe/Helsinki")
# Monday 7 December 2026, 18:00 in Helsinki; the Kemi mothers' group meets Tue 8 Dec 17:00 (15:00 UTC).
MONDAY_EVENING = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
MEETING = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
LANGUAGES = ("fi", "en", "ar", "ru", "so", "sw")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def bot_process(settings: Settings, api: FakeBotApi, clock: Clock) -> AsyncIterator[tuple[Services, Delivery]]:
    """One bot process: services, the PTB application (initialised, not polling) and its delivery engine."""
    settings = Settings(**{**settings.__dict__, "telegram_api_base_url": api.base_url})
    services = build_services(settings, nlu=KeywordNLU())
    services.clock = clock
    application, _channel = build_application(services, build_conversation(services))
    await application.initialize()
    delivery = services.features["outbox"]
    try:
        yield services, delivery
    finally:
        services.leadership.release()
        await application.shutdown()
        services.db.dispose()


def add_subscribers(services: Services, group_id: str, count: int, *, first_chat: int = 900_000) -> list[int]:
    """`count` consenting Telegram users subscribed to the group a week ago, in rotating languages."""
    chats = list(range(first_chat, first_chat + count))
    week_ago = services.clock() - timedelta(days=7)
    with services.db.session() as session:
        services.features["groups"].ensure_seeded(session, services.clock())
        for index, chat in enumerate(chats):
            user = User(
                channel="telegram",
                external_id=str(chat),
                language=LANGUAGES[index % 6],
                consent_at=week_ago,
                created_at=week_ago,
                last_seen_at=week_ago,
            )
            session.add(user)
            session.flush()
            session.add(Subscription(user_id=user.id, group_id=group_id, active=True, subscribed_at=week_ago))
    return chats


def statuses(services: Services) -> Counter[str]:
    with services.db.sessions() as session:
        rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        return Counter(dict(rows))


def sent_per_chat(api: FakeBotApi) -> Counter[int]:
    return Counter(s.chat_id for s in api.sent if s.method == "sendMessage")


async def test_planning_is_idempotent_and_every_due_reminder_is_sent_once(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    clock = Clock(MONDAY_EVENING)
    async with bot_process(make_settings(database_url, tmp_path), api, clock) as (services, delivery):
        chats = add_subscribers(services, "kemi-mothers", 6)
        assert await delivery.tick()
        assert await delivery.tick()  # planning twice queues nothing twice
        assert statuses(services) == {PENDING: 6}
        report = await delivery.drain_now()
        assert report.sent == 6
        assert sent_per_chat(api) == {chat: 1 for chat in chats}
        by_chat = {s.chat_id: s for s in api.sent}
        assert "Äitien ryhmä" in by_chat[chats[0]].text and "ti 8.12. klo 17.00" in by_chat[chats[0]].text
        assert "Mothers' group" in by_chat[chats[1]].text and "Tue 8 Dec, 17:00" in by_chat[chats[1]].text
        assert "الثلاثاء 8 ديسمبر، 17:00" in by_chat[chats[2]].text
        assert by_chat[chats[1]].button_labels == ["✅ I'm coming", "❌ I can't come", "🔕 No more reminders"]
        assert by_chat[chats[1]].payload_of("coming").startswith("groups.reminder:y")
        with services.db.sessions() as session:
            rows = session.scalars(select(OutboxMessage)).all()
            assert {row.status for row in rows} == {SENT}
            sent_ids = {(s.chat_id, s.message_id) for s in api.sent}
            chat_of = dict(session.execute(select(User.id, User.external_id)).all())
            assert {(int(chat_of[row.user_id]), row.telegram_message_id) for row in rows} == sent_ids
            assert all(row.sent_at is not None and row.attempts == 1 for row in rows)
        # Two hours before: the second reminder, once; nothing else is left to send.
        clock.now = MEETING - timedelta(hours=1, minutes=50)
        await delivery.tick()
        await delivery.tick()
        assert (await delivery.drain_now()).sent == 6
        assert sent_per_chat(api) == {chat: 2 for chat in chats}
        clock.now = MEETING - timedelta(minutes=30)
        await delivery.tick()
        assert (await delivery.drain_now()).sent == 0
        # One chat gets at most about one message a second, however many are due for it.
        with services.db.session() as session:
            user_id = session.scalar(select(User.id).where(User.external_id == str(chats[0])))
            assert user_id is not None
            notes = [Message(f"test:{n}", user_id, "test", "groups.rsvp_question", due_at=clock.now) for n in range(3)]
            assert queue(session, notes, clock.now) == 3
            assert queue(session, notes, clock.now) == 0
        assert (await delivery.drain_now()).sent == 3
        times = [s.at for s in api.sent if s.chat_id == chats[0]][-3:]
        assert all(b - a >= 0.9 for a, b in itertools.pairwise(times))


async def test_blocked_users_and_reminders_too_late_are_recorded_and_never_sent(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    clock = Clock(MONDAY_EVENING)
    async with bot_process(make_settings(database_url, tmp_path), api, clock) as (services, delivery):
        chats = add_subscribers(services, "kemi-mothers", 3)
        young = add_subscribers(services, "kemi-young", 2, first_chat=910_000)
        api.blocked_chats.add(chats[1])
        await delivery.tick()
        report = await delivery.drain_now()
        assert (report.sent, report.blocked) == (2, 1)
        assert statuses(services) == {SENT: 2, BLOCKED: 1}
        with services.db.sessions() as session:
            blocked = session.scalar(select(User).where(User.external_id == str(chats[1])))
            assert blocked is not None and blocked.blocked_at is not None
            active = dict(session.execute(select(Subscription.user_id, Subscription.active)).all())
            assert active[blocked.id] is False and sum(active.values()) == 4, "only the blocked user's is paused"
        # Tuesday 16:00: the young people's 24 h and the mothers' 2 h reminders are queued (not the blocked
        # user's) … but the bot is down until Wednesday, after both meetings started: nothing is sent late.
        clock.now = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
        await delivery.tick()
        assert statuses(services)[PENDING] == 4
        clock.now = datetime(2026, 12, 9, 14, 1, tzinfo=UTC)
        report = await delivery.drain_now()
        assert (report.sent, report.expired) == (0, 4)
        assert statuses(services) == {SENT: 2, BLOCKED: 1, EXPIRED: 4}
        assert set(sent_per_chat(api)) == {chats[0], chats[2]} and not set(young) & set(sent_per_chat(api))


class FlakyTransport:
    """Flood control that outlasts PTB's own retries (a 429 reaching the sender), then success."""

    channel = "telegram"

    def __init__(self, inner: TelegramTransport, floods: int) -> None:
        self.inner = inner
        self.floods = floods

    async def send(self, external_id: str, reply: Reply) -> int | None:
        if self.floods:
            self.floods -= 1
            raise RetryLater(0.3)
        return await self.inner.send(external_id, reply)


async def test_flood_control_is_waited_out_and_every_message_sent_once(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    clock = Clock(MONDAY_EVENING)
    async with bot_process(make_settings(database_url, tmp_path), api, clock) as (services, delivery):
        chats = add_subscribers(services, "kemi-mothers", 3)
        # A 429 from the server: PTB's AIORateLimiter waits retry_after (1 s) and retries.
        api.faults.append(Fault("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1))
        await delivery.tick()
        started = time.monotonic()
        report = await delivery.drain_now()
        assert time.monotonic() - started >= 1.0, "retry_after was honoured"
        assert report.sent == 3 and sent_per_chat(api) == {chat: 1 for chat in chats}
        assert len([m for m, _ in api.calls if m == "sendMessage"]) == 4, "one refused call, then three"
        # A 429 that outlasts PTB's retries reaches the sender: it pauses everything and tries again.
        clock.now = MEETING - timedelta(hours=2)
        await delivery.tick()
        assert delivery.sender is not None
        delivery.make_sender(FlakyTransport(delivery.sender.transport, floods=2))  # type: ignore[arg-type]
        started = time.monotonic()
        report = await delivery.drain_now()
        assert time.monotonic() - started >= 0.6
        assert (report.retried, report.sent) == (2, 3)
        assert sent_per_chat(api) == {chat: 2 for chat in chats}
        with services.db.sessions() as session:
            assert set(session.scalars(select(OutboxMessage.attempts))) == {1}, "a 429 is not an attempt"


class Crash(BaseException):
    """The process dies (SIGKILL): nothing after this point runs."""


class CrashingTransport:
    """Sends through Telegram, and "dies" at the n-th message: after it arrived, or before it left."""

    channel = "telegram"

    def __init__(self, inner: TelegramTransport, crash_at: int, *, arrived: bool) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.arrived = arrived
        self.count = 0

    async def send(self, external_id: str, reply: Reply) -> int | None:
        self.count += 1
        if self.count == self.crash_at:
            if self.arrived:
                await self.inner.send(external_id, reply)
            raise Crash()
        return await self.inner.send(external_id, reply)


async def test_a_crash_mid_broadcast_repeats_at_most_the_message_in_flight(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    clock = Clock(MONDAY_EVENING)
    settings = make_settings(database_url, tmp_path)
    async with bot_process(settings, api, clock) as (services, delivery):
        chats = add_subscribers(services, "kemi-mothers", 20)
        await delivery.tick()
        assert delivery.sender is not None
        # The process dies right after Telegram accepted the 6th message, before it was recorded as sent.
        delivery.make_sender(CrashingTransport(delivery.sender.transport, 6, arrived=True))  # type: ignore[arg-type]
        with pytest.raises(Crash):
            await delivery.drain_now()
        assert statuses(services) == {SENT: 5, "sending": 1, PENDING: 14}
    # A new process takes over the scheduler lock and recovers the message in flight (it may have arrived:
    # it is sent again). This one dies with its 6th message still on the way (it never arrives).
    async with bot_process(settings, api, clock) as (services, delivery):
        assert await delivery.tick()
        assert delivery.last_report.recovered == 1
        assert delivery.sender is not None
        delivery.make_sender(CrashingTransport(delivery.sender.transport, 6, arrived=False))  # type: ignore[arg-type]
        with pytest.raises(Crash):
            await delivery.drain_now()
        assert statuses(services) == {SENT: 10, "sending": 1, PENDING: 9}
    async with bot_process(settings, api, clock) as (services, delivery):
        assert await delivery.tick()
        assert delivery.last_report.recovered == 1
        await delivery.drain_now()
        assert statuses(services) == {SENT: 20}
    per_chat = sent_per_chat(api)
    assert set(per_chat) == set(chats), "every reminder was delivered"
    assert sum(count - 1 for count in per_chat.values()) == 1, "only the message in flight at a crash came twice"


async def test_only_one_process_sends(api: FakeBotApi, database_url: str, tmp_path: Path) -> None:
    clock = Clock(MONDAY_EVENING)
    settings = make_settings(database_url, tmp_path)
    async with bot_process(settings, api, clock) as (services, first):
        chats = add_subscribers(services, "kemi-mothers", 2)
        async with bot_process(settings, api, clock) as (_services, second):
            assert await first.tick()
            assert not await second.tick(), "the scheduler lock is taken"
            assert (await first.drain_now()).sent == 2
            services.leadership.release()  # the leader stops: the other process leads from its next tick
            assert await second.tick()
            assert not await first.tick()
            assert (await second.drain_now()).sent == 0, "nothing is sent twice"
        assert sent_per_chat(api) == {chat: 1 for chat in chats}


def test_reminders_are_elapsed_hours_before_even_across_the_dst_change(database_url: str, tmp_path: Path) -> None:
    """A Sunday 12:00 group on 29 March 2026 (the clocks go forward that night): 24 h before is Saturday 11:00."""
    services = build_services(make_settings(database_url, tmp_path), nlu=KeywordNLU())
    try:
        groups = services.features["groups"]
        sunday = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)  # 12:00 summer time
        with services.db.session() as session:
            session.add(
                Group(
                    id="dst-sunday",
                    names={"en": "Sunday group"},
                    municipality="kemi",
                    address="x",
                    how_to_find={},
                    weekday=6,
                    start_time="12:00",
                    duration_minutes=60,
                    audience="everyone",
                    languages="fi",
                    active_from=date(2026, 3, 1),
                    active_until=date(2026, 4, 30),
                )
            )
            user = User(channel="telegram", external_id="1", language="en", consent_at=sunday - timedelta(days=9))
            session.add(user)
            session.flush()
            session.add(Subscription(user_id=user.id, group_id="dst-sunday", subscribed_at=sunday - timedelta(days=9)))
        day_before = sunday - timedelta(hours=24)
        assert day_before.astimezone(HELSINKI).hour == 11
        for moment, expected in ((day_before - timedelta(minutes=1), 0), (day_before, 1), (day_before, 0)):
            assert services.db.transaction(lambda s, m=moment: groups.plan(s, m)) == expected
        with services.db.sessions() as session:
            row = session.scalar(select(OutboxMessage))
            occurrence = session.scalar(select(Occurrence).where(Occurrence.starts_at == sunday))
            assert row is not None and occurrence is not None
            assert (row.due_at, row.expires_at) == (day_before, sunday)
    finally:
        services.db.dispose()


async def test_job_queue_runs_the_tick_in_helsinki_time_only_where_the_scheduler_runs(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    for run_scheduler, jobs in ((True, ["delivery-tick"]), (False, [])):
        settings = make_settings(sqlite_url, tmp_path, run_scheduler=run_scheduler, telegram_api_base_url=api.base_url)
        services = build_services(settings, nlu=KeywordNLU())
        application, _ = build_application(services, build_conversation(services))
        assert application.job_queue is not None
        assert str(application.job_queue.scheduler.timezone) == "Europe/Helsinki"
        assert [job.name for job in application.job_queue.jobs() if job.name == "delivery-tick"] == jobs
        services.db.dispose()


STAFF_CHAT = -1001234567890
COUNSELLOR = 7000001


async def test_a_cancellation_reaches_every_subscriber_at_once(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, staff_chat_id=STAFF_CHAT)
    async with running_bot(settings, api, KeywordNLU()) as bot:
        services = bot.services
        services.clock = Clock(MONDAY_EVENING)  # before the first tick (1 s after start); no reminder is due
        chats = add_subscribers(services, "tornio-fathers", 5)
        with services.db.session() as session:
            session.add(Counsellor(telegram_id=COUNSELLOR, name="Counsellor", languages="fi,en"))
            occurrence = session.scalar(
                select(Occurrence)
                .where(Occurrence.group_id == "tornio-fathers", Occurrence.starts_at > services.clock())
                .order_by(Occurrence.starts_at)
            )
            assert occurrence is not None
        await api.wait_for(lambda: services.leadership.is_leader, timeout=5)  # the first tick ran: it leads
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await api.user_says(COUNSELLOR, f"/cancel_occurrence {occurrence.id} holiday", chat_id=STAFF_CHAT)
        await api.wait_for(lambda: set(chats) <= set(sent_per_chat(api)), timeout=5)
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"notices took {elapsed:.1f} s: they must not wait for the next tick"
        texts = {s.chat_id: s.text for s in api.sent if s.chat_id in chats}
        assert "Peruttu: Isien ryhmä" in texts[chats[0]] and "On pyhäpäivä." in texts[chats[0]]
        assert "Cancelled: Fathers' group" in texts[chats[1]]
        staff_reply = await api.wait_for(lambda: [s for s in api.sent if s.chat_id == STAFF_CHAT])
        assert "5 tilaajalle" in staff_reply[-1].text, "in the staff language (STAFF_LANGUAGE, fi by default)"
        assert sent_per_chat(api) == {**{chat: 1 for chat in chats}, STAFF_CHAT: 1}
