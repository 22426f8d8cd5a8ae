"""Several real `python -m bot run` webhook workers on one PostgreSQL database (issue 8).

- Two workers share the update inbox: Telegram's retry of an update that lands on the other worker is
  answered once; many families spread over both workers are all answered, nothing twice, no errors.
- Exactly one worker holds the scheduler's advisory lock (seen in `pg_locks`); SIGKILL it and the other
  takes over within 30 s, and the reminder that was due meanwhile is delivered exactly once.

The workers are separate processes talking to the local Bot API server this test starts; the test plays
Telegram's part of webhook mode by POSTing each update, with the secret header, to a worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, select, text

from bot.core.texts import Texts
from bot.db.database import alembic_config
from bot.db.models import InboxUpdate, User
from bot.leader import LOCK_KEY
from bot.outbox import TICK_SECONDS, Message, queue
from bot.outbox_models import SENT, OutboxMessage
from bot.settings import ROOT, Settings
from bot.testing.fake_bot_api import FakeBotApi, Sent
from tests.waiting import until

TEXTS = Texts.load(ROOT / "content" / "strings")
SECRET = "webhook-secret-for-the-two-workers"
TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ0123456789"
STARTUP_SECONDS = 60.0  # two workers load the NLU model side by side on a busy 2-core machine
TAKEOVER_LIMIT_SECONDS = 30.0
LANGUAGES = ("fi", "en", "ar", "ru", "so", "sw")
# A session-level advisory lock on a bigint key shows in pg_locks as classid (high half) and objid (low half).
LEADER_QUERY = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :high AND l.objid::bigint = :low "
    "AND l.objsubid = 1"
)


def s(language: str, key: str) -> str:
    return TEXTS.get(language, key)


@dataclass
class Worker:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"

    def errors(self) -> list[str]:
        lines = self.log.read_text("utf-8", "replace").splitlines()
        return [line for line in lines if " ERROR " in line or " CRITICAL " in line or "Traceback" in line]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_worker(name: str, api: FakeBotApi, database_url: str, tmp_path: Path) -> Worker:
    port = free_port()
    log = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        # application_name tells the workers' connections apart in pg_stat_activity (who holds the lock).
        "DATABASE_URL": f"{database_url}?application_name=aito-{name}",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
        "NO_PROXY": "127.0.0.1",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as stderr:  # a file, not a pipe: a full pipe would stall the worker
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=str(tmp_path),  # no developer's .env is read
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Worker(name, port, process, log)


async def wait_until_serving(worker: Worker, api: FakeBotApi) -> None:
    """The worker set its webhook and its HTTP server takes connections (PTB sets the webhook first)."""
    await api.wait_for(
        lambda: (
            worker.process.poll() is not None
            or any(m == "setWebhook" and str(p.get("url", "")) == worker.webhook for m, p in api.calls)
        ),
        timeout=STARTUP_SECONDS,
    )
    assert worker.process.poll() is None, f"worker {worker.name} exited:\n{worker.log.read_text()[-3000:]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", worker.port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def kill(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=30)


@asynccontextmanager
async def two_workers(api: FakeBotApi, database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Worker, Worker]]:
    # Started at the same moment on an empty database: both run the migrations at start.
    workers = (start_worker("a", api, database_url, tmp_path), start_worker("b", api, database_url, tmp_path))
    try:
        await asyncio.gather(*(wait_until_serving(worker, api) for worker in workers))
        yield workers
    finally:
        for worker in workers:
            kill(worker)


@pytest.fixture(scope="module")
def trained_nlu() -> None:
    """The workers load the NLU model from the cache they share: trained here once if the data changed,
    rather than by both workers at once (a minute of CPU each) inside a test's time budget."""
    from bot.nlu.pipeline import build_nlu

    cache = os.environ.get("AITO_CACHE_DIR")
    build_nlu(Settings(cache_dir=Path(cache)) if cache else Settings())


@pytest.fixture
async def api(trained_nlu: None) -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


async def post(client: httpx.AsyncClient, worker: Worker, update: dict[str, Any]) -> None:
    """What Telegram does in webhook mode; 200 means the worker accepted the update."""
    response = await client.post(worker.webhook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200, (worker.name, response.status_code)


async def deliver(client: httpx.AsyncClient, workers: tuple[Worker, ...], update: dict[str, Any]) -> None:
    """The same update to every worker at once: Telegram retried after a time-out and hit the other one."""
    await asyncio.gather(*(post(client, worker, update) for worker in workers))


def inbox_statuses(engine: Engine, update_ids: list[int]) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(InboxUpdate.update_id, InboxUpdate.status).where(InboxUpdate.update_id.in_(update_ids))
        )
        return {update_id: status for update_id, status in rows}


# ---------------------------------------------------------------------- two webhook workers, one inbox
async def test_two_webhook_workers_answer_every_update_once(
    postgres_url: str, engine: Engine, api: FakeBotApi, tmp_path: Path
) -> None:
    # The fake server builds the updates (user_says / user_presses also queue them for getUpdates, which
    # nobody calls here: in webhook mode the test delivers each one itself).
    family = 6_100_000
    users = [6_200_000 + n for n in range(24)]  # four families per language
    language_of = {user: LANGUAGES[n % len(LANGUAGES)] for n, user in enumerate(users)} | {family: "so"}
    update_ids: list[int] = []
    started = time.monotonic()

    async with two_workers(api, postgres_url, tmp_path) as workers, httpx.AsyncClient(timeout=30) as client:

        async def send(user: int, step: int, update: dict[str, Any]) -> None:
            update_ids.append(update["update_id"])
            if user == family:
                await deliver(client, workers, update)  # every one of the family's updates reaches both
            else:
                await post(client, workers[(user + step) % 2], update)  # each next step on the other worker

        async def converse(user: int) -> None:
            language = language_of[user]
            await send(user, 0, await api.user_says(user, "/start", language_code=language))
            greeting = (await api.wait_for_messages(user, 1, timeout=30))[0]
            await send(
                user, 1, await api.user_presses(user, greeting, greeting.button_labels[0], language_code=language)
            )
            consent = await api.wait_for(
                lambda: [m for m in api.messages_to(user) if any("✅" in b for b in m.button_labels)], timeout=30
            )
            await send(user, 2, await api.user_presses(user, consent[-1], "✅", language_code=language))
            await api.wait_for(lambda: texts_to(api, user, s(language, "menu.title")), timeout=30)
            # Telegram's retry of the same update lands on the other worker, for every family.
            help_update = await api.user_says(user, "/help", language_code=language)
            update_ids.append(help_update["update_id"])
            await deliver(client, workers, help_update)

        await asyncio.gather(*(converse(user) for user in [family, *users]))
        await until(lambda: set(inbox_statuses(engine, update_ids).values()) == {"done"}, timeout=30)
        # A late duplicate, after the original was finished, is a no-op as well.
        late = next(u for u in api.updates if u["update_id"] == update_ids[-1])
        await post(client, workers[0], late)
        await post(client, workers[1], late)
        marker = await api.user_says(family, "/menu", language_code="so")
        await post(client, workers[1], marker)
        await until(lambda: inbox_statuses(engine, [marker["update_id"]]) == {marker["update_id"]: "done"}, timeout=30)
        elapsed = time.monotonic() - started

    by_user = {user: conversation(api, user) for user in [family, *users]}
    for user, texts in by_user.items():
        language = language_of[user]
        assert texts.count(s(language, "help.text")) == 1, f"user {user}: /help answered once"
        assert texts.count(s(language, "privacy.thanks")) == 1, f"user {user}: consent answered once"
    # Everyone in a language had the same conversation: nothing missing, nothing twice, on either worker.
    for language in LANGUAGES:
        same = [by_user[user] for user in users if language_of[user] == language]
        assert all(texts == same[0] for texts in same), language
    assert by_user[family][:-1] == by_user[users[4]], "the family whose every update came twice"
    assert by_user[family][-1] == s("so", "menu.title")
    for worker in workers:
        assert worker.errors() == [], f"worker {worker.name} logged errors"
        log = worker.log.read_text("utf-8", "replace")
        assert not [user for user in by_user if str(user) in log], "no raw Telegram id in the logs"
    print(f"two workers: {len(update_ids)} updates, {sum(map(len, by_user.values()))} replies in {elapsed:.1f} s")


def conversation(api: FakeBotApi, user: int) -> list[str]:
    return [m.text for m in api.messages_to(user) if m.method == "sendMessage"]


def texts_to(api: FakeBotApi, user: int, wanted: str) -> list[Sent]:
    return [m for m in api.messages_to(user) if m.text == wanted]


# ---------------------------------------------------------------------- the scheduler fails over
def leaders(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(LEADER_QUERY, {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}).scalars().all()
        return [str(name).removeprefix("aito-") for name in rows]


def queue_reminder(engine: Engine, chat: int, key: str) -> None:
    """A reminder due now for a consenting family, as a feature's planner would queue it."""
    from sqlalchemy.orm import Session

    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        user = session.scalar(select(User).where(User.channel == "telegram", User.external_id == str(chat)))
        if user is None:
            user = User(channel="telegram", external_id=str(chat), language="sw", consent_at=now - timedelta(days=1))
            session.add(user)
            session.flush()
        assert queue(session, [Message(key, user.id, "test", "help.text", due_at=now)], now) == 1


def outbox_status(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(OutboxMessage.status).where(OutboxMessage.key == key)).scalar()


async def test_the_scheduler_fails_over_to_the_other_worker_within_30_seconds(
    postgres_url: str, engine: Engine, api: FakeBotApi, tmp_path: Path
) -> None:
    chat = 6_300_000
    reminder = s("sw", "help.text")
    async with two_workers(api, postgres_url, tmp_path) as workers:
        # Each worker asks for the lock on its first delivery tick (1 s after start): exactly one gets it.
        holders = await until(lambda: leaders(engine), timeout=30)
        assert len(holders) == 1, holders
        leader = next(w for w in workers if w.name == holders[0])
        follower = next(w for w in workers if w is not leader)
        await asyncio.sleep(TICK_SECONDS + 1)  # the follower has asked at least once more, and been refused
        assert leaders(engine) == [leader.name], "the follower did not take the lock while the leader lives"

        queue_reminder(engine, chat, "failover:before")
        await api.wait_for(lambda: texts_to(api, chat, reminder), timeout=20)
        assert await until(lambda: outbox_status(engine, "failover:before") == SENT, timeout=10)

        killed_at = time.monotonic()
        kill(leader)  # SIGKILL: no shutdown hook, the server releases the lock with the dead connection
        queue_reminder(engine, chat, "failover:after")  # due while nobody leads
        await until(lambda: leaders(engine) == [follower.name], timeout=TAKEOVER_LIMIT_SECONDS + 5, every=0.1)
        takeover = time.monotonic() - killed_at
        await api.wait_for(lambda: len(texts_to(api, chat, reminder)) >= 2, timeout=20)
        delivered = time.monotonic() - killed_at
        assert await until(lambda: outbox_status(engine, "failover:after") == SENT, timeout=10)
        await asyncio.sleep(TICK_SECONDS + 1)  # another tick of the new leader: it sends nothing again
        assert follower.process.poll() is None
        assert follower.errors() == []

    print(f"takeover after SIGKILL: {takeover:.2f} s; the due reminder delivered after {delivered:.2f} s")
    assert takeover < TAKEOVER_LIMIT_SECONDS
    assert Counter(m.text for m in api.messages_to(chat)) == {reminder: 2}, "each reminder exactly once"


# ---------------------------------------------------------------------- workers start at the same moment
MIGRATE_AT = """
import sys, time
from bot.db.database import Database
database = Database(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
database.migrate()
"""


def test_workers_starting_together_migrate_the_empty_database_once(postgres_url: str, engine: Engine) -> None:
    """Every start migrates: two at the same instant must not both CREATE the same tables (one would die)."""
    at = str(time.time() + 3)  # both processes have imported everything by then
    processes = [
        subprocess.Popen([sys.executable, "-c", MIGRATE_AT, postgres_url, at], cwd=str(ROOT), stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    failures = [err.decode()[-500:] for p in processes if (err := p.communicate(timeout=120)[1]) and p.returncode]
    assert failures == []
    heads = set(ScriptDirectory.from_config(alembic_config(postgres_url)).get_heads())
    with engine.connect() as conn:
        assert set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()) == heads
