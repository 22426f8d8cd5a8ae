"""The delivery engine: scheduled messages go through a table before they go to Telegram.

Any feature can use it (group reminders, booking reminders, cancellation notices):

1. **Queue** rows with `queue(session, [Message(...)])` in the same transaction as the change that calls
   for them. Each row has a unique `key`; queueing the same key again inserts nothing, so planners may
   run as often as they like.
2. **Render at send time**: a row holds a string key, values and buttons, and is rendered in the
   recipient's language when it is sent (values may be per-language texts, datetimes or nested strings).
3. **Send**: `OutboxSender` takes due rows one at a time and sends them through the transport (the PTB
   bot with its AIORateLimiter), at most `rate` messages a second overall and one a second per chat.

Statuses: `pending` → `sending` (claimed in its own committed transaction before the HTTP call) →
`sent` (with the Telegram message id), or `blocked` (403: the user's subscriptions are paused through
the registry's blocked hooks), `expired` (not sent before `expires_at`, e.g. the meeting started),
`failed` (Telegram refused it, or it kept failing), `cancelled` (the feature withdrew it).

**Duplicates.** `sendMessage` has no idempotency key, so a message whose HTTP call was in flight when
the process died may or may not have arrived. The rule: a row found in `sending` that belongs to a
sender that is gone (another owner once this process holds the scheduler lock, or a claim older than
`STALE_AFTER`) goes back to `pending` and is sent again — a missed meeting is worse than a repeated
reminder. A sender has only one message in flight at any moment, so a crash repeats at most one
message. A row that has been claimed `MAX_ATTEMPTS` times is marked `failed` instead.

**One sender.** The tick runs in exactly one process: the process's `Services.leadership` (bot/leader.py:
a PostgreSQL advisory lock or, on SQLite, a lock on a file next to the database) chooses it, the same lock
that every other scheduled job asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot import timefmt
from bot.core.messages import Button, Reply
from bot.core.texts import Safe, Texts
from bot.db.database import Database
from bot.db.models import User
from bot.outbox_models import (
    BLOCKED,
    CANCELLED,
    EXPIRED,
    FAILED,
    FINAL,
    PENDING,
    SENDING,
    SENT,
    OutboxMessage,
)

if TYPE_CHECKING:
    from bot.core.services import Services

log = logging.getLogger(__name__)

DEFAULT_RATE = 30.0  # messages per second overall (the grid); Telegram allows about 30
WINDOW_LIMIT = 30  # … and never more than this many within any WINDOW_SECONDS, as the server counts them
WINDOW_SECONDS = 1.005
PER_CHAT_INTERVAL = 1.0  # seconds between two messages to the same chat
MAX_ATTEMPTS = 5
STALE_AFTER = timedelta(minutes=10)
BATCH = 200
TICK_SECONDS = 5.0
MAYBE_SENT_BACKOFF = timedelta(seconds=30)
KEEP_FINISHED = timedelta(days=30)
PRUNE_EVERY = timedelta(hours=1)


# ---------------------------------------------------------------------- queueing
@dataclass(frozen=True)
class Message:
    """A message to queue. `buttons` are rows of (string key, payload); payloads are validated on press."""

    key: str
    user_id: int
    kind: str
    text_key: str
    due_at: datetime
    values: dict[str, Any] = field(default_factory=dict)
    buttons: Sequence[Sequence[tuple[str, str]]] = ()
    expires_at: datetime | None = None
    ref: str | None = None


def queue(session: Session, messages: Iterable[Message], now: datetime) -> int:
    """Insert the messages whose key is new; returns how many were inserted."""
    rows = [
        {
            "key": m.key,
            "user_id": m.user_id,
            "kind": m.kind,
            "ref": m.ref,
            "text_key": m.text_key,
            "values": m.values,
            "buttons": [[list(button) for button in row] for row in m.buttons],
            "due_at": m.due_at,
            "expires_at": m.expires_at,
            "status": PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for m in messages
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    inserted = 0
    for start in range(0, len(rows), 500):  # bounded statements: SQLite limits bound parameters
        # RETURNING lists only the rows really added (rowcount is not reliable for this on every driver).
        statement = (
            insert(OutboxMessage)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxMessage.id)
        )
        inserted += len(session.execute(statement).all())
    return inserted


def prune(session: Session, now: datetime, keep: timedelta) -> int:
    """Forget finished rows after `keep`: they hold no message text, but nobody needs them any more."""
    result = session.execute(
        delete(OutboxMessage).where(OutboxMessage.status.in_(FINAL), OutboxMessage.created_at < now - keep)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_pending(session: Session, ref: str) -> int:
    """Withdraw what is still waiting for `ref` (e.g. reminders of a meeting that was cancelled)."""
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.ref == ref, OutboxMessage.status == PENDING).values(status=CANCELLED)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Value helpers: how a row says "this depends on the recipient's language".
def localized(by_language: dict[str, str]) -> dict[str, Any]:
    return {"by_language": dict(by_language)}


def moment(value: datetime, style: str = "datetime") -> dict[str, Any]:
    """A point in time, shown in the recipient's language: style is datetime, date or time."""
    return {style: value.isoformat()}


def nested(key: str, **values: Any) -> dict[str, Any]:
    """Another string (rendered in the recipient's language) as a value."""
    return {"text": key, "values": values}


def resolve(texts: Texts, language: str, zone: tzinfo, value: Any) -> Any:
    """One stored value as the recipient should read it."""
    if not isinstance(value, dict):
        return value
    if "by_language" in value:
        table = value["by_language"]
        return table.get(language) or table.get("en") or table.get("fi") or next(iter(table.values()), "")
    for style, formatter in (
        ("datetime", timefmt.format_datetime),
        ("date", timefmt.format_date),
        ("time", timefmt.format_time),
    ):
        if style in value:
            return formatter(language, datetime.fromisoformat(value[style]), zone)
    if "text" in value:
        inner = {k: resolve(texts, language, zone, v) for k, v in (value.get("values") or {}).items()}
        return Safe(texts.get(language, value["text"], **inner))
    raise ValueError("unknown outbox value")


def render(
    texts: Texts, language: str, zone: tzinfo, text_key: str, values: dict[str, Any], buttons: list[Any]
) -> Reply:
    """The reply a row stands for, in `language`."""
    resolved = {name: resolve(texts, language, zone, value) for name, value in (values or {}).items()}
    keyboard = tuple(
        tuple(Button(texts.get(language, label), payload) for label, payload in row) for row in buttons or []
    )
    return Reply(text=texts.get(language, text_key, **resolved), buttons=keyboard)


# ---------------------------------------------------------------------- transports
class Blocked(Exception):
    """The recipient blocked the bot (Telegram 403)."""


class RetryLater(Exception):
    """Flood control (Telegram 429): not sent; wait `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class Undeliverable(Exception):
    """Telegram refused the message for good (400: chat not found, bad markup…)."""


class MaybeSent(Exception):
    """A time-out or network error: the message may or may not have arrived."""


class Transport(Protocol):
    channel: str

    async def send(self, external_id: str, reply: Reply) -> int | None:
        """Send one message; returns its id. Raises Blocked, RetryLater, Undeliverable or MaybeSent."""
        ...


class TelegramTransport:
    """Through the application's bot, so the AIORateLimiter (overall limit, 429 retries) applies."""

    channel = "telegram"

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(self, external_id: str, reply: Reply) -> int | None:
        from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

        from bot.channels.telegram import keyboard

        try:
            sent = await self.bot.send_message(int(external_id), reply.text, reply_markup=keyboard(reply))
        except Forbidden as error:
            raise Blocked() from error
        except RetryAfter as error:
            wait = error.retry_after
            raise RetryLater(wait.total_seconds() if isinstance(wait, timedelta) else float(wait)) from error
        except BadRequest as error:  # before NetworkError: PTB's BadRequest is a NetworkError
            raise Undeliverable(type(error).__name__) from error
        except (TimedOut, NetworkError) as error:
            raise MaybeSent(type(error).__name__) from error
        return int(sent.message_id)


# ---------------------------------------------------------------------- sending
@dataclass
class Report:
    sent: int = 0
    blocked: int = 0
    expired: int = 0
    failed: int = 0
    retried: int = 0
    recovered: int = 0

    def add(self, other: Report) -> None:
        for name in ("sent", "blocked", "expired", "failed", "retried", "recovered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Due:
    id: int
    user_id: int
    external_id: str
    language: str
    user_blocked: bool
    text_key: str
    values: dict[str, Any]
    buttons: list[Any]
    expires_at: datetime | None


class OutboxSender:
    """Sends due rows, one in flight at a time, paced overall and per chat; records every outcome."""

    def __init__(
        self,
        db: Database,
        texts: Texts,
        transport: Transport,
        *,
        zone: tzinfo,
        clock: Callable[[], datetime],
        blocked_hooks: Sequence[Callable[[Session, User], None]] = (),
        rate: float = DEFAULT_RATE,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.texts = texts
        self.transport = transport
        self.zone = zone
        self.clock = clock
        self.blocked_hooks = blocked_hooks
        self.interval = 1.0 / rate
        self.per_chat_interval = per_chat_interval
        self.owner = owner or uuid.uuid4().hex[:16]
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._last_to_chat: dict[str, float] = {}
        # When the last WINDOW_LIMIT calls came back: the server counted each one before answering.
        self._answered: deque[float] = deque(maxlen=WINDOW_LIMIT)

    # -------------------------------------------------------------- the loop
    async def send_due(self, keep_going: Callable[[], bool] = lambda: True) -> Report:
        """Send everything that is due now (and whatever becomes due meanwhile); stop when none is left."""
        report = Report()
        while keep_going():
            self._forget_quiet_chats()
            batch = await asyncio.to_thread(self._take_due, report)
            if not batch:
                break
            progressed = False
            shortest_wait = self.per_chat_interval
            for row in batch:
                if not keep_going():
                    return report
                wait = self._chat_wait(row.external_id)
                if wait > 0:  # this chat had a message less than a second ago: others first
                    shortest_wait = min(shortest_wait, wait)
                    continue
                await self._deliver(row, report)
                progressed = True
            if not progressed:
                await asyncio.sleep(shortest_wait)
        return report

    def _forget_quiet_chats(self) -> None:
        """The per-chat pace only needs the last second; a broadcast must not leave 10,000 entries behind."""
        if len(self._last_to_chat) > 1000:
            cutoff = time.monotonic() - self.per_chat_interval
            self._last_to_chat = {chat: at for chat, at in self._last_to_chat.items() if at > cutoff}

    def _chat_wait(self, external_id: str) -> float:
        last = self._last_to_chat.get(external_id)
        return 0.0 if last is None else last + self.per_chat_interval - time.monotonic()

    async def _pace(self) -> None:
        """Start sends on a grid `1/rate` apart, within a sliding window, and sit out flood-control pauses.

        Slots follow the grid rather than the moment a sleep ended (sleeps overshoot by a millisecond or
        two, which would cost several percent of the rate); after falling behind by more than one slot the
        grid restarts from now, so there is never a burst to catch up. The window: a send starts only when
        the call WINDOW_LIMIT calls ago was answered more than WINDOW_SECONDS ago. The server counted that
        call before answering, so however late a slow request reached it, no second ever holds more than
        WINDOW_LIMIT; a 429 (and the second or more lost waiting it out) is avoided rather than handled.
        """
        now = time.monotonic()
        if self._next_slot < now - self.interval:
            self._next_slot = now
        start = max(self._next_slot, self._paused_until)
        if len(self._answered) == WINDOW_LIMIT:
            start = max(start, self._answered[0] + WINDOW_SECONDS)
        if start > now:
            await asyncio.sleep(start - now)
        self._next_slot = start + self.interval

    def _take_due(self, report: Report) -> list[_Due]:
        now = self.clock()
        with self.db.session() as session:
            expired = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == PENDING,
                    OutboxMessage.expires_at.is_not(None),
                    OutboxMessage.expires_at <= now,
                )
                .values(status=EXPIRED)
            )
            report.expired += int(getattr(expired, "rowcount", 0) or 0)
            rows = session.execute(
                select(OutboxMessage, User)
                .join(User, User.id == OutboxMessage.user_id)
                .where(
                    OutboxMessage.status == PENDING,
                    OutboxMessage.due_at <= now,
                    User.channel == self.transport.channel,
                )
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
                .limit(BATCH)
            ).all()
            return [
                _Due(
                    id=row.id,
                    user_id=user.id,
                    external_id=user.external_id,
                    language=user.language or "en",
                    user_blocked=user.blocked_at is not None,
                    text_key=row.text_key,
                    values=row.values or {},
                    buttons=row.buttons or [],
                    expires_at=row.expires_at,
                )
                for row, user in rows
            ]

    async def _deliver(self, row: _Due, report: Report) -> None:
        if row.user_blocked:
            await asyncio.to_thread(self._finish, row.id, BLOCKED, error="UserBlocked", from_status=PENDING)
            report.blocked += 1
            return
        try:
            reply = render(self.texts, row.language, self.zone, row.text_key, row.values, row.buttons)
        except (KeyError, ValueError) as error:
            log.error("outbox row %d cannot be rendered: %s", row.id, type(error).__name__)
            await asyncio.to_thread(self._finish, row.id, FAILED, error="Render", from_status=PENDING)
            report.failed += 1
            return
        if row.expires_at is not None and row.expires_at <= self.clock():
            await asyncio.to_thread(self._finish, row.id, EXPIRED, from_status=PENDING)
            report.expired += 1
            return
        # Claimed (and committed) before waiting for the slot: the wait hides the commit's latency, and a
        # crash during the wait leaves a row that was certainly not sent (sending it later duplicates nothing).
        if not await asyncio.to_thread(self._claim, row.id):
            return  # another sender took it, or it was withdrawn meanwhile
        await self._pace()
        if row.expires_at is not None and row.expires_at <= self.clock():  # a long flood-control pause
            await asyncio.to_thread(self._finish, row.id, EXPIRED)
            report.expired += 1
            return
        self._last_to_chat[row.external_id] = time.monotonic()
        try:
            try:
                message_id = await self.transport.send(row.external_id, reply)
            finally:
                self._answered.append(time.monotonic())
        except Blocked:
            await asyncio.to_thread(self._blocked, row)
            report.blocked += 1
            log.info("outbox row %d: the user has blocked the bot; their subscriptions are paused", row.id)
        except RetryLater as error:
            self._paused_until = time.monotonic() + error.seconds
            await asyncio.to_thread(self._unclaim, row.id, "RetryAfter", None, True)
            report.retried += 1
            log.warning("flood control: pausing sends for %.1f s", error.seconds)
        except Undeliverable as error:
            await asyncio.to_thread(self._finish, row.id, FAILED, error=str(error)[:64])
            report.failed += 1
        except Exception as error:  # MaybeSent or anything unexpected: at-least-once, later, bounded
            await asyncio.to_thread(self._unclaim, row.id, type(error).__name__, MAYBE_SENT_BACKOFF, False)
            report.retried += 1
            log.warning("outbox row %d: send failed (%s); will retry", row.id, type(error).__name__)
        else:
            await asyncio.to_thread(self._finish, row.id, SENT, message_id=message_id)
            report.sent += 1

    # -------------------------------------------------------------- state changes, each its own transaction
    def _claim(self, row_id: int) -> bool:
        """Mark the row `sending` and commit before the HTTP call: the crash-safety of the whole engine."""
        now = self.clock()
        with self.db.session() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING)
                .values(
                    status=SENDING,
                    attempts=OutboxMessage.attempts + 1,
                    claimed_at=now,
                    claimed_by=self.owner,
                )
            )
            return int(getattr(result, "rowcount", 0) or 0) == 1

    def _finish(
        self,
        row_id: int,
        status: str,
        *,
        message_id: int | None = None,
        error: str | None = None,
        from_status: str = SENDING,
    ) -> None:
        now = self.clock()
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == SENT:
            values.update(sent_at=now, telegram_message_id=message_id)
        with self.db.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == from_status)
                .values(**values)
            )

    def _unclaim(self, row_id: int, error: str, backoff: timedelta | None, not_sent: bool) -> None:
        """Back to `pending`: after a 429 (certainly not sent: the attempt does not count) or a time-out."""
        now = self.clock()
        with self.db.session() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != SENDING:
                return
            row.last_error = error
            if not_sent:
                row.attempts = max(0, row.attempts - 1)
            if row.attempts >= MAX_ATTEMPTS:
                row.status = FAILED
                return
            row.status = PENDING
            if backoff is not None:
                row.due_at = now + backoff * row.attempts

    def _blocked(self, row: _Due) -> None:
        now = self.clock()
        with self.db.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.status == SENDING)
                .values(status=BLOCKED, last_error="Forbidden")
            )
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.user_id == row.user_id, OutboxMessage.status == PENDING)
                .values(status=BLOCKED, last_error="Forbidden")
            )
            user = session.get(User, row.user_id)
            if user is not None:
                user.blocked_at = now
                for hook in self.blocked_hooks:
                    hook(session, user)

    def recover(self, *, everyone_else: bool) -> int:
        """Rows left in `sending` by a sender that is gone: back to `pending` (see the module's rule).

        `everyone_else`: this process has just become the one scheduler, so any other owner's claim is
        from a process that died; otherwise only claims older than STALE_AFTER count as abandoned.
        """
        now = self.clock()
        with self.db.session() as session:
            condition = OutboxMessage.claimed_at < now - STALE_AFTER
            if everyone_else:
                condition = condition | (OutboxMessage.claimed_by != self.owner) | OutboxMessage.claimed_by.is_(None)
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == SENDING, condition)).all()
            for row in rows:
                row.last_error = "Interrupted"
                row.status = FAILED if row.attempts >= MAX_ATTEMPTS else PENDING
            if rows:
                log.warning("recovered %d message(s) that a stopped sender left in flight", len(rows))
            return len(rows)


# ---------------------------------------------------------------------- the periodic tick
Planner = Callable[[Session, datetime], int]


class Delivery:
    """One per process: planners queue what is due, the sender drains the outbox.

    Installed as a PTB JobQueue job (in-memory store, a short repeating tick) only where
    `settings.run_scheduler` is true, and only the process holding `services.leadership` acts on each
    tick. The tick is the shortest scheduled interval, so it is also what lets a follower take over (for
    every leader-only job) within TICK_SECONDS of the leader's death.
    """

    def __init__(self, services: Services, *, rate: float = DEFAULT_RATE, tick_seconds: float = TICK_SECONDS) -> None:
        self.services = services
        self.planners: list[tuple[str, Planner]] = []
        self.rate = rate
        self.tick_seconds = tick_seconds
        self.sender: OutboxSender | None = None
        self.last_report = Report()
        self._application: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._again = False
        self._had_lock = False
        self._pruned_at: datetime | None = None

    def add_planner(self, name: str, planner: Planner) -> None:
        """`planner(session, now)` queues what is due and returns how many rows it added."""
        self.planners.append((name, planner))

    def plan(self) -> int:
        """Run every planner, each in its own transaction (one failing does not stop the others)."""
        total = 0
        for name, planner in self.planners:

            def work(session: Session, planner: Planner = planner) -> int:
                return planner(session, self.services.clock())

            try:
                total += self.services.db.transaction(work)
            except Exception as error:
                log.error("planner %s failed: %s", name, type(error).__name__, exc_info=error)
        now = self.services.clock()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self.services.db.transaction(lambda session: prune(session, now, KEEP_FINISHED))
            self._pruned_at = now
        return total

    def make_sender(self, transport: Transport, *, rate: float | None = None) -> OutboxSender:
        services = self.services
        self.sender = OutboxSender(
            services.db,
            services.texts,
            transport,
            zone=ZoneInfo(services.settings.timezone),
            clock=lambda: services.clock(),  # looked up on each call: tests move the clock
            blocked_hooks=services.registry.blocked_hooks,
            rate=rate or self.rate,
        )
        return self.sender

    def install(self, application: Any, _channel: Any = None) -> None:
        """A `registry.telegram_hooks` entry: the repeating job on the application's JobQueue."""
        if not self.services.settings.run_scheduler:
            log.info("this process does not run the scheduler (RUN_SCHEDULER is off)")
            return
        job_queue = application.job_queue
        if job_queue is None:
            log.error("no JobQueue: install python-telegram-bot[job-queue]; reminders will not be sent")
            return
        # The JobQueue takes its time zone from Defaults.tzinfo (settings.timezone); APScheduler's
        # default would skip a run late by more than a second, which a busy tick must not cause.
        self._application = application
        self.make_sender(TelegramTransport(application.bot))
        # Another process may take over at once (the server or the OS would release it at exit anyway).
        self.services.leadership.release_on_shutdown(application)
        job_queue.run_repeating(
            self._job,
            interval=self.tick_seconds,
            first=1.0,
            name="delivery-tick",
            job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )

    async def _job(self, _context: Any) -> None:
        # The job only starts a tick: planning a large broadcast may take longer than the interval, and an
        # overlapping run would be skipped by APScheduler with a warning on every interval.
        if self._tick_task is None or self._tick_task.done():
            self._tick_task = self._application.create_task(self._tick_logged(), name="delivery-tick")

    async def _tick_logged(self) -> None:
        try:
            await self.tick()
        except Exception as error:  # e.g. the database is away: the next tick tries again
            log.error("delivery tick failed: %s", type(error).__name__, exc_info=error)

    async def tick(self) -> bool:
        """Plan and start sending, if this process is the scheduler. True when it is."""
        self._loop = asyncio.get_running_loop()
        if not await self.services.leadership.leads():
            self._had_lock = False
            return False
        if self.sender is not None:
            became = not self._had_lock
            recovered = await asyncio.to_thread(self.sender.recover, everyone_else=became)
            self.last_report.recovered += recovered
        self._had_lock = True
        await asyncio.to_thread(self.plan)
        self._start_drain()
        return True

    def wake(self) -> None:
        """Send what was just queued now rather than at the next tick; safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._start_drain)

    def _running(self) -> bool:
        return self._application is None or bool(self._application.running)

    def _leading(self) -> bool:
        # A leader that lost its lock stops after the message in flight: the new leader recovers the rest.
        return self._running() and self.services.leadership.is_leader

    def _start_drain(self) -> None:
        self._again = True
        if self.sender is None or not self.services.leadership.is_leader or not self._running():
            return
        if self._task is not None and not self._task.done():
            return  # the running drain sees `_again` and looks once more
        coroutine = self._drain()
        if self._application is not None:
            self._task = self._application.create_task(coroutine, name="outbox-drain")
        else:
            self._task = asyncio.get_running_loop().create_task(coroutine)

    async def _drain(self) -> None:
        assert self.sender is not None
        while self._again and self._leading():
            self._again = False
            try:
                report = await self.sender.send_due(keep_going=self._leading)
            except Exception as error:  # the database went away, etc.: the next tick tries again
                log.error("sending the outbox failed: %s", type(error).__name__, exc_info=error)
                return
            self.last_report.add(report)

    async def drain_now(self) -> Report:
        """Send everything due now (tests and benchmarks: no JobQueue needed)."""
        assert self.sender is not None
        report = await self.sender.send_due()
        self.last_report.add(report)
        return report


def delivery_for(services: Services) -> Delivery:
    """The process's Delivery, created (and its Telegram hook registered) on first use by any feature."""
    existing = services.features.get("outbox")
    if isinstance(existing, Delivery):
        return existing
    delivery = Delivery(services)
    services.features["outbox"] = delivery
    services.registry.telegram_hooks.append(delivery.install)
    return delivery


__all__ = [
    "BLOCKED",
    "CANCELLED",
    "EXPIRED",
    "FAILED",
    "PENDING",
    "SENDING",
    "SENT",
    "Blocked",
    "Delivery",
    "MaybeSent",
    "Message",
    "OutboxMessage",
    "OutboxSender",
    "Report",
    "RetryLater",
    "TelegramTransport",
    "Undeliverable",
    "cancel_pending",
    "delivery_for",
    "localized",
    "moment",
    "nested",
    "prune",
    "queue",
    "render",
]
