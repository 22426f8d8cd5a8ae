"""Choosing the one process that runs the scheduled work.

APScheduler must not share a job store between processes (SPEC reliability notes), so every process
keeps its own in-memory JobQueue, and each scheduled job does its work only in the process that holds
the scheduler lock. On PostgreSQL a session-level advisory lock on a dedicated connection decides: the
server releases it when that connection dies, so a follower takes over on its next tick after the
leader is killed. On SQLite (one machine by nature) an exclusive `flock` on a file next to the database
does the same; the OS releases it when the process dies.

Every leader-only job asks `try_acquire()` at the start of each run (`run_when_leading` does it), so the
shortest job interval bounds how long a follower waits: the outbox's delivery tick runs every 5 s.
`settings.run_scheduler=false` keeps a process out of the race: its jobs are never installed.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from bot.db.database import Database

log = logging.getLogger(__name__)
LOCK_KEY = 0x41_49_54_4F  # "AITO"
# Server-side keepalive on the lock's connection: if the leader's machine vanishes without closing its
# socket (power loss, network cut), PostgreSQL notices within about idle + interval × count seconds
# (here 5 + 5 × 3 = 20 s) and releases the lock, instead of after the operating system's two hours.
KEEPALIVE_IDLE_SECONDS = 5
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3

Job = Callable[[Any], Awaitable[None]]


class Leadership:
    """One per process (`Services.leadership`); safe to call from the worker threads jobs use."""

    def __init__(self, db: Database, *, key: int = LOCK_KEY) -> None:
        self.db = db
        self.key = key
        self._connection: Connection | None = None
        self._file: IO[str] | None = None
        # Jobs check the lock from asyncio.to_thread at the same moment; a Connection is not thread-safe.
        self._guard = threading.Lock()
        self._shutdown_hooked: set[int] = set()

    @property
    def is_leader(self) -> bool:
        """Whether this process held the lock at the last check (no database round trip)."""
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Become the leader if nobody is; cheap to call on every tick. True while this process leads."""
        with self._guard:
            if self.is_leader:
                return self._still_held()
            if self.db.is_sqlite:
                return self._acquire_file()
            return self._acquire_postgres()

    def _acquire_postgres(self) -> bool:
        connection = self.db.engine.connect()
        try:
            acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            if acquired:
                self._keep_alive(connection)
            connection.commit()
        except Exception:
            connection.close()
            raise
        if acquired:
            self._connection = connection
            log.info("this process now runs the scheduler")
        else:
            connection.close()  # back to the pool: a follower holds no connection between tries
        return acquired

    @staticmethod
    def _keep_alive(connection: Connection) -> None:
        # Session settings (any user may set them); ignored by the server on a Unix-domain socket.
        for name, value in (
            ("tcp_keepalives_idle", KEEPALIVE_IDLE_SECONDS),
            ("tcp_keepalives_interval", KEEPALIVE_INTERVAL_SECONDS),
            ("tcp_keepalives_count", KEEPALIVE_COUNT),
        ):
            connection.execute(text(f"SET {name} = {int(value)}"))

    def _still_held(self) -> bool:
        if self._connection is None:
            return True  # the file lock cannot be lost while the descriptor is open
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception as error:  # the connection died, and with it the lock
            log.warning("lost the scheduler lock (%s)", type(error).__name__)
            self._drop_connection()
            return False

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception as error:  # already broken: nothing left to release
                log.debug("closing the lock connection failed: %s", type(error).__name__)

    def _acquire_file(self) -> bool:
        database = make_url(self.db.url).database or ""
        path = Path(f"{database}.leader") if database and database != ":memory:" else None
        if path is None:
            self._file = open(os.devnull)  # an in-memory database has one process by definition
            return True
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        log.info("this process now runs the scheduler")
        return True

    def release(self) -> None:
        """Step down now (on shutdown): a follower takes over on its next tick instead of waiting."""
        with self._guard:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                    self._connection.commit()
                except Exception as error:  # closing the connection below releases it anyway
                    log.debug("unlocking failed: %s", type(error).__name__)
                finally:
                    self._drop_connection()
            if self._file is not None:
                self._file.close()  # closing the descriptor releases the flock
                self._file = None

    async def leads(self) -> bool:
        """`try_acquire` off the event loop; a database error counts as "not now" (the next tick retries)."""
        try:
            return await asyncio.to_thread(self.try_acquire)
        except Exception as error:
            log.warning("cannot check the scheduler lock: %s", type(error).__name__)
            return False

    def release_on_shutdown(self, application: Any) -> None:
        """Chain a lock release into the PTB application's post_shutdown (once per application)."""
        if id(application) in self._shutdown_hooked:
            return
        self._shutdown_hooked.add(id(application))
        previous = application.post_shutdown

        async def release(app: Any) -> None:
            await asyncio.to_thread(self.release)
            if previous is not None:
                await previous(app)

        application.post_shutdown = release


def run_when_leading(
    application: Any,
    leadership: Leadership,
    body: Job,
    *,
    interval: float,
    first: float,
    name: str,
) -> None:
    """Repeat `body(context)` on the application's JobQueue, doing it only while this process leads.

    Every process installs the job (in-memory store, nothing shared); each run asks for the lock first,
    so a follower takes over the work on its first run after the leader died.
    """

    async def job(context: Any) -> None:
        if await leadership.leads():
            await body(context)

    leadership.release_on_shutdown(application)
    application.job_queue.run_repeating(job, interval=interval, first=first, name=name)
