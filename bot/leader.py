"""Choosing the one process that runs the scheduler.

APScheduler must not share a job store between processes (SPEC reliability notes), so exactly one
process ticks. On PostgreSQL a session-level advisory lock on a dedicated connection decides: the
server releases it when that connection dies, so a follower takes over within one retry interval
after the leader is killed. On SQLite (one machine by nature) an exclusive `flock` on a file next to
the database does the same.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db.database import Database

log = logging.getLogger(__name__)
LOCK_KEY = 0x41_49_54_4F  # "AITO"


class Leadership:
    def __init__(self, db: Database, *, key: int = LOCK_KEY) -> None:
        self.db = db
        self.key = key
        self._connection: Any = None
        self._file: IO[str] | None = None

    @property
    def is_leader(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Become the leader if nobody is; cheap to call repeatedly. True while this process leads."""
        if self.is_leader:
            return self._still_held()
        if self.db.is_sqlite:
            return self._acquire_file()
        connection = self.db.engine.connect()
        try:
            acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            connection.commit()
        except Exception:
            connection.close()
            raise
        if acquired:
            self._connection = connection
            log.info("this process now runs the scheduler")
        else:
            connection.close()
        return acquired

    def _still_held(self) -> bool:
        if self._connection is None:
            return True
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:  # the connection died, and with it the lock
            log.warning("lost the scheduler lock")
            self._connection = None
            return False

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
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None
