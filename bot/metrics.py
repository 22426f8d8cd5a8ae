"""Prometheus metrics and the /healthz endpoint, served on their own port beside the bot.

Each application has its own registry (no module-level state), so several bots in one test process
do not collide. Gauges whose value lives in the database (outbox backlog, open tickets) are read at
scrape time from functions that features register (`Registry.gauges`), each in its own short session.

Both endpoints run on the bot's own asyncio loop (tornado, like python-telegram-bot's webhook server);
whatever touches the database runs in a worker thread, so a slow or unreachable database never stalls
the loop that is handling updates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.db.base import utcnow
from bot.db.database import Database
from bot.outbox_models import PENDING, SENDING, OutboxMessage

log = logging.getLogger(__name__)

# The Docker health check gives up after 4 s: answer 503 before that when the database hangs.
HEALTH_TIMEOUT_SECONDS = 3.0

# Outcomes of an update (the `outcome` label of aito_updates_total).
HANDLED = "handled"  # processed, all replies out
DUPLICATE = "duplicate"  # a redelivery of an update already recorded
IGNORED = "ignored"  # nothing for the bot (a channel post, another bot, a group that is not the staff's)
UNRECORDED = "unrecorded"  # the database was away: kept in memory until it can be recorded
DEFERRED = "deferred"  # handled, but some replies could not be sent yet: the inbox retry sends them
FAILED = "failed"  # an error: the update stays in the inbox and the retry finishes it
OUTCOMES = (HANDLED, DUPLICATE, IGNORED, UNRECORDED, DEFERRED, FAILED)

# Why a reply was not delivered (the `reason` label of aito_delivery_errors_total).
BLOCKED = "blocked"  # 403: the user blocked the bot (or a counsellor never started it)
CHAT_NOT_FOUND = "chat_not_found"  # 400: a chat the bot cannot write to (never opened, deleted)
REFUSED = "refused"  # any other 400: Telegram will never accept this message
UNAVAILABLE = "unavailable"  # network errors and 5xx after all retries: sent later by the inbox retry
DELIVERY_REASONS = (BLOCKED, CHAT_NOT_FOUND, REFUSED, UNAVAILABLE)


class _DatabaseGauges(Collector):
    def __init__(self, sources: dict[str, tuple[str, Callable[[], float]]]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, read) in list(self.sources.items()):
            try:
                value = float(read())
            except Exception as error:  # a scrape must not fail because one source is down
                log.warning("metric %s unavailable: %s", name, type(error).__name__)
                continue
            yield GaugeMetricFamily(name, documentation, value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "aito_updates_total",
            "Updates processed, by outcome (one that the inbox retry finishes later counts again)",
            ["outcome"],
            registry=self.registry,
        )
        self.replies = Counter("aito_replies_total", "Messages sent to Telegram", registry=self.registry)
        self.delivery_errors = Counter(
            "aito_delivery_errors_total",
            "Replies that Telegram did not accept, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aito_update_seconds",
            "Time from receiving an update to having sent its replies",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        # Every label value exists from the start (at 0), so that rate() and alerts see a series at once.
        for outcome in OUTCOMES:
            self.updates.labels(outcome)
        for reason in DELIVERY_REASONS:
            self.delivery_errors.labels(reason)
        self.gauge_sources: dict[str, tuple[str, Callable[[], float]]] = {}
        self.registry.register(_DatabaseGauges(self.gauge_sources))

    def add_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self.gauge_sources[name] = (documentation, read)

    def add_database_gauges(self, db: Database, gauges: dict[str, tuple[str, Callable[[Session], float]]]) -> None:
        """Gauges that read a value with a session (the registry's): each scrape opens a short one."""
        for name, (documentation, read) in gauges.items():
            self.add_gauge(name, documentation, _with_session(db, read))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _with_session(db: Database, read: Callable[[Session], float]) -> Callable[[], float]:
    def value() -> float:
        with db.sessions() as session:
            return float(read(session))

    return value


def outbox_backlog(session: Session) -> float:
    """Outbox rows that are due and not yet sent (pending past their time, or in flight).

    Rows planned for later (a reminder for next week) are not a backlog; a growing number of due ones
    means the sender is stuck or Telegram is refusing it.
    """
    count = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            or_(
                OutboxMessage.status == SENDING,
                (OutboxMessage.status == PENDING) & (OutboxMessage.due_at <= utcnow()),
            )
        )
    )
    return float(count or 0)


def health(db: Database, leader: Callable[[], bool] | None = None) -> tuple[int, dict[str, Any]]:
    """200 when the database answers, 503 otherwise; says whether this process runs the scheduler."""
    started = time.monotonic()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = True
    except Exception as error:
        log.warning("health check: database unavailable (%s)", type(error).__name__)
        database = False
    return _health_body(database, leader, started)


def _health_body(database: bool, leader: Callable[[], bool] | None, started: float) -> tuple[int, dict[str, Any]]:
    body = {
        "status": "ok" if database else "unavailable",
        "database": database,
        "scheduler": bool(leader()) if leader else False,
        "check_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return (200 if database else 503), body


class _Health(RequestHandler):
    def initialize(self, db: Database, leader: Callable[[], bool] | None) -> None:
        self.db, self.leader = db, leader

    async def get(self) -> None:
        started = time.monotonic()
        try:
            status, body = await asyncio.wait_for(
                asyncio.to_thread(health, self.db, self.leader), HEALTH_TIMEOUT_SECONDS
            )
        except TimeoutError:
            log.warning("health check: the database did not answer within %.0f s", HEALTH_TIMEOUT_SECONDS)
            status, body = _health_body(False, self.leader, started)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))


class _Metrics(RequestHandler):
    def initialize(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def get(self) -> None:
        body = await asyncio.to_thread(self.metrics.exposition)  # the gauges query the database
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(body)


def serve(
    metrics: Metrics, db: Database, port: int, *, address: str = "0.0.0.0", leader: Callable[[], bool] | None = None
) -> HTTPServer:
    """Start /healthz and /metrics on the running asyncio loop; returns the server (for `stop_serving`)."""
    app = Application(
        [
            (r"/healthz", _Health, {"db": db, "leader": leader}),
            (r"/metrics", _Metrics, {"metrics": metrics}),
        ],
        log_function=_quiet_access_log,
    )
    return app.listen(port, address=address)


async def stop_serving(server: HTTPServer) -> None:
    server.stop()
    await server.close_all_connections()


def _quiet_access_log(handler: RequestHandler) -> None:
    """Scrapes every few seconds are not news; only failures are logged (no client addresses)."""
    if handler.get_status() >= 500 and handler.request.path != "/healthz":
        log.warning("%s answered %d", handler.request.path, handler.get_status())
