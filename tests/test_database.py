"""PostgreSQL's engines: the bot's work awaited on the event loop, and pooled connections checked only after idling."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, text

from bot.db import database
from bot.db.database import Database
from tests.conftest import POSTGRES_ADMIN_URL

T = TypeVar("T")
# The two places database work runs: a thread (scheduled jobs, the CLI) and the event loop (the bot's updates).
WHERE = pytest.mark.parametrize("where", ["in a thread", "on the loop"])


def _run(db: Database, where: str, fn: Callable[[], T]) -> T:
    if where == "in a thread":
        return fn()
    return asyncio.run(db.run_on_loop(fn))


async def _longest_stall(work: Awaitable[T]) -> tuple[T, float]:
    """`work`'s result, and the longest time meanwhile that another task, asking every 2 ms, did not get the loop."""
    seen = [time.perf_counter()]

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.002)
            seen.append(time.perf_counter())

    ticker = asyncio.create_task(tick())
    try:
        result = await work
    finally:
        ticker.cancel()
    seen.append(time.perf_counter())
    return result, max(later - earlier for earlier, later in itertools.pairwise(seen))


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@WHERE
def test_a_connection_that_died_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    db = Database(postgres_url)

    def died_and_replaced() -> tuple[int, int]:
        first = _backend_pid(db)
        _terminate(first)  # e.g. the server restarted while the bot was quiet
        return first, _backend_pid(db)  # no error: the ping found it dead and the pool connected anew

    first, second = _run(db, where, died_and_replaced)
    assert second != first
    db.dispose()


@WHERE
def test_a_connection_just_used_is_not_pinged(postgres_url: str, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    db = Database(postgres_url)
    pings: list[object] = []
    for engine in (db.blocking_engine, db.loop_engine):
        assert engine is not None
        monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection) or True)

    def checkouts() -> list[int]:
        counted = []
        for _ in range(5):
            _backend_pid(db)
        counted.append(len(pings))  # none: under load every checkout would otherwise cost a round trip
        monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
        _backend_pid(db)
        counted.append(len(pings))  # one: idle long enough
        return counted

    assert _run(db, where, checkouts) == [0, 1]
    db.dispose()


def test_a_new_event_loop_gets_new_connections(postgres_url: str) -> None:
    """asyncpg's connections belong to the loop that opened them; reusing one on another loop fails."""
    db = Database(postgres_url)
    first = asyncio.run(db.run_on_loop(_backend_pid, db))
    assert asyncio.run(db.run_on_loop(_backend_pid, db)) != first
    db.dispose()


def test_the_loop_engine_closes_its_connections_on_its_loop_and_disposing_later_logs_no_error(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(postgres_url)

    async def shutdown() -> int:
        pid = await db.run_on_loop(_backend_pid, db)
        await db.close_on_loop()  # the bot's shutdown, while its loop still runs
        return pid

    pid = asyncio.run(shutdown())
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.connect() as connection:
        alive = connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
        assert alive.scalar_one() == 0
    admin.dispose()
    asyncio.run(db.run_on_loop(_backend_pid, db))  # a connection left open, its loop ended
    with caplog.at_level(logging.ERROR):
        db.dispose()
    assert caplog.records == []  # closing it would need the ended loop ("Exception closing connection")


def test_postgres_work_on_the_loop_awaits_its_round_trips(postgres_url: str) -> None:
    """Two slow transactions side by side take the time of one, and the loop serves others meanwhile."""
    db = Database(postgres_url)

    def slow() -> str:
        with db.session() as session:
            session.execute(text("SELECT pg_sleep(0.4)"))
            return session.get_bind().dialect.driver

    async def side_by_side() -> list[str]:
        return await asyncio.gather(db.run_on_loop(slow), db.run_on_loop(slow))

    started = time.perf_counter()
    drivers, stall = asyncio.run(_longest_stall(side_by_side()))
    elapsed = time.perf_counter() - started
    assert drivers == ["asyncpg", "asyncpg"]
    assert elapsed < 0.75  # not 0.8 s: neither waited for the other
    assert stall < 0.2  # the loop was not blocked for the 0.4 s
    assert slow() == "psycopg"  # outside the loop (a thread, the CLI): the blocking engine
    db.dispose()


def test_a_retried_transaction_on_the_loop_pauses_without_blocking_it(postgres_url: str) -> None:
    db = Database(postgres_url)
    attempts: list[int] = []

    def serialization_failure_twice(session: object) -> int:
        attempts.append(1)
        if len(attempts) <= 2:
            with db.engine.connect() as connection:  # a real SQLSTATE 40001 from the server
                connection.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$"))
        return len(attempts)

    async def main() -> tuple[int, float]:
        await db.run_on_loop(_backend_pid, db)  # connected: only the retries are measured
        return await _longest_stall(db.run_on_loop(db.transaction, serialization_failure_twice))

    result, stall = asyncio.run(main())
    assert result == 3
    assert stall < 0.045  # the back-offs of 50 and 100 ms were awaited, not slept on the loop's thread
    db.dispose()


def test_the_loop_engine_takes_only_the_url_options_asyncpg_understands(caplog: pytest.LogCaptureFixture) -> None:
    assert database.make_loop_engine("sqlite:///aito.db") is None
    engine = database.make_loop_engine("postgresql://bot:pw@db.example:5433/aito?sslmode=require")
    assert engine is not None
    assert (engine.url.drivername, engine.url.port, dict(engine.url.query)) == (
        "postgresql+asyncpg",
        5433,
        {"ssl": "require"},
    )
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger="bot.db.database"):
        assert database.make_loop_engine("postgresql://bot@db.example/aito?target_session_attrs=read-write") is None
    assert "target_session_attrs" in caplog.text and "threads" in caplog.text
