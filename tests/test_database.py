"""The PostgreSQL pool: a connection idle for a while is checked before use, a busy one is not."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from bot.db import database
from bot.db.database import Database
from tests.conftest import POSTGRES_ADMIN_URL


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    db = Database(postgres_url)
    first = _backend_pid(db)
    _terminate(first)  # e.g. the server restarted while the bot was quiet
    assert _backend_pid(db) != first  # no error: the ping found it dead and the pool connected anew
    db.dispose()


def test_a_connection_just_used_is_not_pinged(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    db = Database(postgres_url)
    pings: list[object] = []
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda connection: pings.append(connection) or True)
    for _ in range(5):
        _backend_pid(db)
    assert pings == []  # under load every checkout would otherwise cost a round trip
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    _backend_pid(db)
    assert len(pings) == 1
    db.dispose()
