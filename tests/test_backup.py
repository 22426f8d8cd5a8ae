"""Backup and restore, on SQLite and PostgreSQL, through the command line a coordinator uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.db.database import Database
from bot.db.models import User


def admin(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot", "admin", *args], env=env, capture_output=True, text=True, timeout=120
    )


def count_users(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def test_backup_and_restore(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.migrate()
    with db.session() as session:
        session.add_all([User(channel="test", external_id=str(i), language="so") for i in range(3)])
    target = tmp_path / "backup.dump"
    result = admin("backup", str(target), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert target.stat().st_size > 0
    with db.session() as session:
        session.add(User(channel="test", external_id="after-backup"))
    assert count_users(db) == 4
    db.dispose()
    result = admin("restore", str(target), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert count_users(db) == 3
    db.dispose()
