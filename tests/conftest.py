"""Shared fixtures: databases (SQLite and PostgreSQL), the core with a test client, a local Bot API server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.settings import ROOT, Settings
from bot.testing.fake_bot_api import FakeBotApi

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ["no_proxy"] = os.environ["NO_PROXY"]
POSTGRES_ADMIN_URL = os.environ.get("AITO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure means: not usable here
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({type(error).__name__})"


_PG_PROBLEM: str | None = _postgres_available()


@pytest.fixture(scope="session")
def postgres_problem() -> str | None:
    return _PG_PROBLEM


def _require_postgres() -> None:
    if _PG_PROBLEM is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{_PG_PROBLEM}; under CI an unreachable PostgreSQL is a failure")
    pytest.skip(_PG_PROBLEM)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    _require_postgres()
    name = f"aito_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'aito.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Database tests run on both: the same code must work on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aito.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "cache_dir": tmp_path / "cache",
        "content_dir": ROOT / "content",
        "flows_dir": ROOT / "flows",
        "nlu_data_dir": ROOT / "nlu_data",
        "telegram_bot_token": "123456:TEST-token-for-the-local-bot-api-server",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def real_nlu() -> object:
    """The embedded NLU, trained once per machine (the default cache), as families meet it."""
    from bot.nlu.pipeline import build_nlu

    return build_nlu(Settings())


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[object]:
    """Build the core on a database and return a factory of BotClients (one per family)."""
    from bot.app import build_conversation, build_services
    from tests.client import BotClient
    from tests.fakes import KeywordNLU

    built: list[object] = []
    cache: dict[tuple[str, int], object] = {}

    def factory(
        database_url: str | None = None,
        *,
        nlu: object | None = None,
        user_id: str = "1001",
        language_hint: str | None = None,
        **settings: object,
    ) -> BotClient:
        url = database_url or f"sqlite:///{tmp_path / 'core.db'}"
        key = (url, id(nlu))
        if key not in cache:
            services = build_services(make_settings(url, tmp_path, **settings), nlu=nlu or KeywordNLU())  # type: ignore[arg-type]
            built.append(services)
            cache[key] = build_conversation(services)
        return BotClient(cache[key], user_id=user_id, language_hint=language_hint)  # type: ignore[arg-type]

    yield factory
    for services in built:
        services.db.dispose()  # type: ignore[attr-defined]


def postgres_outage(url: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """The database refuses connections and every open one is terminated."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def start() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )

    def end() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()

    return start, end


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A local Bot API server for the Telegram tests (TELEGRAM_API_BASE_URL points the bot at it)."""
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()
