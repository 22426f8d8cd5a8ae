"""Backups: `python -m bot admin backup FILE` and `python -m bot admin restore FILE`.

SQLite uses the online backup API (a consistent copy while the bot runs, WAL included); PostgreSQL uses
pg_dump's custom format and pg_restore, which must be installed where the command runs.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import Settings


def backup(database_url: str, target: Path) -> None:
    url = make_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(url.database or "")
        try:
            destination = sqlite3.connect(target)
            with destination:
                source.backup(destination)
            destination.close()
        finally:
            source.close()
        return
    _require("pg_dump")
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq(database_url)], check=True)


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with the backup's. Stop the bot first."""
    if not source.is_file():
        raise FileNotFoundError(source)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        backup_db = sqlite3.connect(source)
        try:
            target = sqlite3.connect(url.database or "")
            with target:
                backup_db.backup(target)
            target.close()
        finally:
            backup_db.close()
        return
    _require("pg_restore")
    subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={_libpq(database_url)}", str(source)],
        check=True,
    )


def _libpq(database_url: str) -> str:
    """A URL libpq's tools understand (no SQLAlchemy driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise RuntimeError(f"{tool} is not installed (Debian: apt-get install postgresql-client)")


def add_admin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    make = sub.add_parser("backup", help="write a consistent backup of the database to FILE")
    make.add_argument("file", type=Path)
    make.set_defaults(handler=lambda args, settings: _run(backup, settings, args.file, "backup written to"))
    back = sub.add_parser("restore", help="replace the database with the backup in FILE (stop the bot first)")
    back.add_argument("file", type=Path)
    back.set_defaults(handler=lambda args, settings: _run(restore, settings, args.file, "restored from"))


def _run(action: object, settings: Settings, path: Path, done: str) -> int:
    action(settings.database_url, path)  # type: ignore[operator]
    print(f"{done} {path}")
    return 0
