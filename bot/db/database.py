"""Engine and session set-up for SQLite and PostgreSQL, and migrations on start."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x41_49_54_4D  # "AITM": not the scheduler's lock (bot/leader.py)
PING_AFTER_IDLE_SECONDS = 2.0


def _sqlite_setup(engine: Engine) -> None:
    """Make SQLite safe for concurrent writers.

    pysqlite sends no BEGIN before a SELECT, so a read-then-write transaction can race. We switch its
    own transaction handling off and start every transaction with BEGIN IMMEDIATE, which takes the
    write lock up front; WAL keeps readers going meanwhile and busy_timeout makes writers queue.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error's message (which ends up in the logs) must not carry the values
    # of the statement, which can be message texts and Telegram ids.
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        _sqlite_setup(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, hide_parameters=True)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle for a while.

    SQLAlchemy's pool_pre_ping checks on every checkout: a round trip, three or four per update under
    load (about 5% of the bot's capacity on PostgreSQL), for connections used a millisecond ago. A
    connection that died since (the server restarted within that time) fails its first statement,
    as one in use would: SQLAlchemy then invalidates the whole pool, and the inbox retries the update.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # gone (a restart, an idle timeout): the pool connects anew and retries
            raise DisconnectionError() from error


class Database:
    """One engine and session factory for the whole process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def transaction(self, work: Callable[[Session], T], *, attempts: int = 5) -> T:
        """Run `work` in a transaction, retrying PostgreSQL serialization failures and lock time-outs."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session:
                    return work(session)
            except (OperationalError, DBAPIError) as error:
                if attempt == attempts or not _retryable(error):
                    raise
                log.warning("database busy, retrying (attempt %d)", attempt)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def migrate(self) -> None:
        """Bring the schema up to date (all feature branches)."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several workers start at once: one migrates, the others wait here (the lock ends with
                # this transaction) and then find the schema up to date, instead of failing on CREATE TABLE.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    def dispose(self) -> None:
        self.engine.dispose()


def _retryable(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in {"40001", "40P01"}:  # serialization failure, deadlock
        return True
    return "database is locked" in str(error.orig)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
