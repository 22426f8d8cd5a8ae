"""Looks through every table and column of a database for traces of one user (used after erasure)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import MetaData, create_engine, select

USERISH = re.compile(r"(^|_)(user|family|member|person)(_id)?$")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime, date)):
        return ""  # a date is nobody's id
    return str(value)


def traces(database_url: str, *, external_id: str, internal_id: int, texts: list[str]) -> list[str]:
    """Every place where the user's Telegram id, their internal id (in user-ish columns), their pseudonymous
    label or a text they sent still appears: `table.column = value` lines."""
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    engine = create_engine(database_url)
    metadata = MetaData()
    metadata.reflect(engine)
    label = f"F-{internal_id:05d}"
    external = re.compile(rf"(?<![\w-]){re.escape(external_id)}(?![\w-])")
    found: list[str] = []
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                userish = {
                    column.name
                    for column in table.columns
                    if USERISH.search(column.name) or any(fk.column.table.name == "users" for fk in column.foreign_keys)
                }
                if table.name == "users":
                    userish.add("id")
                for row in conn.execute(select(table)).mappings():
                    for column, value in row.items():
                        if value is None:
                            continue
                        text = _as_text(value)
                        where = f"{table.name}.{column}"
                        if external.search(text):
                            found.append(f"{where}: the Telegram id")
                        if column in userish and isinstance(value, int) and value == internal_id:
                            found.append(f"{where}: the internal user id")
                        if label in text:
                            found.append(f"{where}: the pseudonymous label")
                        found.extend(f"{where}: a text they sent" for sent in texts if sent and sent in text)
    finally:
        engine.dispose()
    return found
