"""Prometheus metrics and the /healthz endpoint, served on their own port beside the bot.

Each application has its own registry (no module-level state), so several bots in one test process
do not collide. Gauges whose value lives in the database (outbox backlog, open tickets) are read at
scrape time from functions that features register.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from tornado.web import Application, RequestHandler

from bot.db.database import Database

log = logging.getLogger(__name__)


class _DatabaseGauges(Collector):
    def __init__(self, sources: dict[str, tuple[str, Callable[[], float]]]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, read) in self.sources.items():
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
            "aito_updates_total", "Updates processed, by outcome", ["outcome"], registry=self.registry
        )
        self.replies = Counter("aito_replies_total", "Messages sent to Telegram", registry=self.registry)
        self.latency = Histogram(
            "aito_update_seconds",
            "Time from receiving an update to having sent its replies",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.gauge_sources: dict[str, tuple[str, Callable[[], float]]] = {}
        self.registry.register(_DatabaseGauges(self.gauge_sources))

    def add_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self.gauge_sources[name] = (documentation, read)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


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

    def get(self) -> None:
        status, body = health(self.db, self.leader)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class _Metrics(RequestHandler):
    def initialize(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(self.metrics.exposition())


def serve(
    metrics: Metrics, db: Database, port: int, *, address: str = "0.0.0.0", leader: Callable[[], bool] | None = None
) -> Any:
    """Start /healthz and /metrics on the running asyncio loop; returns the server (for `.stop()`)."""
    app = Application(
        [
            (r"/healthz", _Health, {"db": db, "leader": leader}),
            (r"/metrics", _Metrics, {"metrics": metrics}),
        ]
    )
    return app.listen(port, address=address)
