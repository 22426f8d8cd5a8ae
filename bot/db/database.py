"""Engine and session set-up for SQLite and PostgreSQL, and migrations on start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util.concurrency import await_, greenlet_spawn, in_greenlet

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_KEY = 0x41_49_54_4D  # "AITM": not the scheduler's lock (bot/leader.py)
PING_AFTER_IDLE_SECONDS = 2.0
# Query options of DATABASE_URL that asyncpg's connect() takes (its keyword arguments).
ASYNCPG_URL_OPTIONS = frozenset({"ssl", "timeout", "command_timeout", "statement_cache_size", "direct_tls"})


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


def _driver_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    # hide_parameters: a database error's message (which ends up in the logs) must not carry the values
    # of the statement, which can be message texts and Telegram ids.
    url = _driver_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        _sqlite_setup(engine)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, hide_parameters=True)
    _postgres_events(engine)
    return engine


def make_loop_engine(url: str) -> Engine | None:
    """PostgreSQL through asyncpg, for database work on the event loop's thread (Database.run_on_loop).

    Its `sync_engine`: the same blocking-style Engine the rest of the code uses, whose round trips
    inside greenlet_spawn are awaited on the loop instead of blocking it. None for SQLite, and for a URL
    with connection options that only libpq understands (the work then stays in worker threads).
    """
    parsed = make_url(_driver_url(url))
    if parsed.get_backend_name() != "postgresql":
        return None
    query = dict(parsed.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")  # asyncpg takes libpq's modes under this name
    unknown = set(query) - ASYNCPG_URL_OPTIONS
    if unknown:
        log.warning("DATABASE_URL options %s are not asyncpg's: database work runs in threads", sorted(unknown))
        return None
    parsed = parsed.set(drivername="postgresql+asyncpg", query=query)
    engine = create_async_engine(parsed, pool_size=10, max_overflow=10, hide_parameters=True).sync_engine
    _postgres_events(engine)
    return engine


class _RoutedSession(Session):
    """A session on the engine that suits where it runs: the asyncio one inside run_on_loop, else the other."""

    def __init__(self, database: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database = database

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine:  # type: ignore[override]
        return self.database.engine


def _postgres_events(engine: Engine) -> None:
    """What both PostgreSQL engines (psycopg and asyncpg) do on checkout and on errors."""
    _ping_when_idle(engine)
    _keep_values_out_of_errors(engine)


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


def _keep_values_out_of_errors(engine: Engine) -> None:
    """Cut the row's values out of PostgreSQL's error messages, which end up in logs with their traceback.

    hide_parameters keeps them out of SQLAlchemy's part of a message, but the server's own part quotes
    them: its DETAIL ("Key (external_id)=(123456789) already exists", "Failing row contains (...)" with a
    message text in it) and, for a value of the wrong form, the primary message itself ('invalid input
    syntax for type integer: "..."', SQLSTATE class 22). Both drivers print the DETAIL in str(); asyncpg's
    error is the cause of the one SQLAlchemy raises, so a traceback prints it too. What stays: the
    primary message (but for class 22) and the SQLSTATE, enough to tell what went wrong.
    """

    @event.listens_for(engine, "handle_error")
    def _redact(context: Any) -> None:
        original: BaseException = context.original_exception
        before = str(original)
        error: BaseException | None = original
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            _redact_one(error)
            error = error.__cause__ or error.__context__
        raised = context.sqlalchemy_exception  # its message quotes the original's, made before this hook
        if raised is not None and raised.args and isinstance(raised.args[0], str):
            raised.args = (raised.args[0].replace(before, str(original)), *raised.args[1:])


def _redact_one(error: BaseException) -> None:
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is None or not error.args or not isinstance(error.args[0], str):
        return
    diag = getattr(error, "diag", None)  # psycopg: str() is args[0], the whole message with its DETAIL
    primary = diag.message_primary if diag is not None and diag.message_primary else error.args[0]
    if sqlstate.startswith("22"):
        primary = "a value of the wrong form or size"
    error.args = (f"{primary.splitlines()[0]} (SQLSTATE {sqlstate})",)
    if hasattr(error, "detail"):  # asyncpg: str() adds its detail and hint attributes
        error.detail = None  # type: ignore[attr-defined]
        error.hint = None  # type: ignore[attr-defined]


class Database:
    """The engines and the session factory of the whole process.

    PostgreSQL has two engines: a blocking one (psycopg) for work in threads (scheduled jobs, the CLI,
    migrations), and one over asyncpg for the bot's updates, which run on the event loop's thread
    (run_on_loop). The code is the same for both: `engine` and `sessions` pick the one that suits the
    caller. Together they keep at most the 30 connections the one engine had.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop_engine = make_loop_engine(url)
        pool = {"pool_size": 5, "max_overflow": 5} if self.loop_engine is not None else {}
        self.blocking_engine = make_engine(url, **pool)
        self._engine_loop: asyncio.AbstractEventLoop | None = None  # the loop loop_engine's connections belong to
        self.sessions = sessionmaker(class_=_RoutedSession, database=self, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        if self.loop_engine is not None and in_greenlet():
            return self.loop_engine
        return self.blocking_engine

    @property
    def is_sqlite(self) -> bool:
        return self.blocking_engine.dialect.name == "sqlite"

    async def run_on_loop(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run database work on the event loop's thread: on PostgreSQL its round trips are awaited, not blocked on.

        On SQLite `fn` simply runs: its statements wait on a local file, not on the network.
        """
        if self.loop_engine is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        if loop is not self._engine_loop:
            # asyncpg's connections belong to the loop that opened them: a new loop (a restart within the
            # process, a test) must not get a pooled connection of the old one. Dropped, not closed: that
            # would need the old loop.
            if self._engine_loop is not None:
                self.loop_engine.dispose(close=False)
            self._engine_loop = loop
        return await greenlet_spawn(fn, *args, **kwargs)

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for one statement that needs no transaction around it (it commits by itself).

        On PostgreSQL in autocommit: no BEGIN and COMMIT, two round trips fewer. Recording an update
        this way took 0.33 instead of 0.55 ms of the loop's CPU (asyncpg, medians of 3 x 1,500). SQLite
        keeps its BEGIN IMMEDIATE (_sqlite_setup): a local file, no round trips to save.
        """
        if self.is_sqlite:
            with self.engine.begin() as connection:
                yield connection
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

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
                _pause(0.05 * attempt)
        raise AssertionError("unreachable")

    def migrate(self) -> list[str]:
        """Bring the schema up to date (all feature branches); returns the revisions applied, in order."""
        applied: list[str] = []

        def record(*, step: Any, **_: Any) -> None:
            applied.extend(step.up_revision_ids)

        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several workers start at once: one migrates, the others wait here (the lock ends with
                # this transaction) and then find the schema up to date, instead of failing on CREATE TABLE.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            config.attributes["on_version_apply"] = record
            command.upgrade(config, "heads")
        return applied

    async def close_on_loop(self) -> None:
        """Close the asyncio engine's connections on the loop they belong to (the bot's shutdown)."""
        if self.loop_engine is not None and self._engine_loop is asyncio.get_running_loop():
            await greenlet_spawn(self.loop_engine.dispose)

    def dispose(self) -> None:
        self.blocking_engine.dispose()
        if self.loop_engine is not None:
            # Closing an asyncpg connection needs the loop it belongs to, which may have ended: the
            # connections are dropped instead, and the server sees their sockets close.
            self.loop_engine.dispose(close=False)


def _pause(seconds: float) -> None:
    """Sleep without holding up the event loop when on it (run_on_loop)."""
    if in_greenlet():
        await_(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)


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
