"""Nothing is lost: Bot API faults, a database outage, SIGKILL inside a handler, redelivered updates,
and logs at DEBUG level that hold no token, no message text and no raw Telegram id."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select

from bot.core.texts import Texts
from bot.db.models import MessageLog, User
from bot.settings import ROOT
from bot.testing.fake_bot_api import FakeBotApi, Fault, Sent
from tests.conftest import make_settings, postgres_outage
from tests.fakes import KeywordNLU
from tests.telegram_harness import RunningBot, running_bot
from tests.waiting import until

TEXTS = Texts.load(ROOT / "content" / "strings")
USER = 5550042
TOKEN_SECRET_PART = "TEST-token-for-the-local-bot-api-server"


def s(language: str, key: str) -> str:
    return TEXTS.get(language, key)


async def onboard(api: FakeBotApi, user: int = USER, language: str = "English", hint: str = "en") -> None:
    await api.user_says(user, "/start", language_code=hint)
    greeting = (await api.wait_for_messages(user, 1))[-1]
    await api.user_presses(user, greeting, language, language_code=hint)
    consent = await api.wait_for(lambda: [m for m in api.messages_to(user) if any("✅" in b for b in m.button_labels)])
    await api.user_presses(user, consent[-1], "✅", language_code=hint)
    await api.wait_for(lambda: any(m.text == s(hint, "menu.title") for m in api.messages_to(user)))


def texts_to(api: FakeBotApi, user: int, text: str) -> list[Sent]:
    return [m for m in api.messages_to(user) if m.text == text]


# ---------------------------------------------------------------------- the Bot API misbehaves
async def test_429_and_500_answers_are_retried_and_nothing_is_lost(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        api.faults += [
            Fault("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1),
            Fault("sendMessage", 500, "Internal Server Error"),
            Fault("sendMessage", 502, "Bad Gateway"),
            Fault("getUpdates", 500, "Internal Server Error"),
            Fault("getUpdates", 429, "Too Many Requests: retry after 1", retry_after=1),
        ]
        update = await api.user_says(USER, "/help")
        await until(lambda: bot.channel.inbox.status(update["update_id"]) == "done", timeout=20)
        assert len(texts_to(api, USER, s("en", "help.text"))) == 1
        assert not api.faults, "every fault was met"


async def test_a_send_that_times_out_is_sent_again(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        request = bot.application.bot._request[1]  # the general (not getUpdates) HTTP client
        request._read_timeout = 0.5
        original = api.api_sendMessage
        slow = [1]

        async def slow_send(params: dict) -> dict:
            if slow[0]:
                slow[0] -= 1
                await asyncio.sleep(1.2)  # longer than the client waits: it sees a time-out
            return await original(params)

        api.api_sendMessage = slow_send  # type: ignore[method-assign]
        update = await api.user_says(USER, "/help")
        await until(lambda: bot.channel.inbox.status(update["update_id"]) == "done", timeout=20)
        await asyncio.sleep(1.5)  # let the slow first attempt land too
        # At least once; a time-out may hide a delivery (sendMessage has no idempotency key): at most twice.
        assert 1 <= len(texts_to(api, USER, s("en", "help.text"))) <= 2


async def test_a_send_that_keeps_failing_is_finished_by_the_retry(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        api.faults += [Fault("sendMessage", 500, "Internal Server Error", chat_id=USER) for _ in range(6)]
        update = await api.user_says(USER, "/help")
        await api.wait_for(lambda: len([f for f in api.faults if f.chat_id == USER]) <= 2, timeout=20)
        # The bot has given up for now: its replies wait in the inbox, and the update is no longer in hand
        # (the retry leaves updates in hand alone).
        await until(lambda: update["update_id"] not in bot.channel.in_flight, timeout=20)
        assert bot.channel.inbox.status(update["update_id"]) == "handled"
        assert texts_to(api, USER, s("en", "help.text")) == []
        api.faults.clear()  # Telegram is back
        await bot.channel.finish_unfinished(bot.application.bot)  # what the inbox-retry job does every 30 s
        assert bot.channel.inbox.status(update["update_id"]) == "done"
        assert len(texts_to(api, USER, s("en", "help.text"))) == 1
        jobs = bot.application.job_queue.get_jobs_by_name("inbox-retry")
        assert jobs, "the retry runs by itself too"


# ---------------------------------------------------------------------- the database goes away
def _sqlite_outage(bot: RunningBot, url: str):  # type: ignore[no-untyped-def]
    """Another connection holds an exclusive lock; the bot's busy timeout is shortened so that it gives up."""

    @event.listens_for(bot.services.db.engine, "connect")
    def short_busy_timeout(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    bot.services.db.engine.dispose()
    import sqlite3

    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    def start() -> None:
        holder.execute("BEGIN EXCLUSIVE")

    def end() -> None:
        holder.execute("COMMIT")
        holder.close()

    return start, end


async def test_a_database_outage_loses_no_update(api: FakeBotApi, database_url: str, tmp_path: Path) -> None:
    async with running_bot(make_settings(database_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        other = USER + 1
        start, end = (
            _sqlite_outage(bot, database_url) if database_url.startswith("sqlite") else postgres_outage(database_url)
        )
        start()
        try:
            during = [await api.user_says(USER, "/help"), await api.user_says(other, "/start")]
            await api.wait_until_consumed()
            await api.wait_for(lambda: len(bot.channel.unrecorded) == 2, timeout=20)
            assert bot.application.running, "the bot keeps running"
        finally:
            end()
        await bot.channel.finish_unfinished(bot.application.bot)  # the periodic retry, run now
        for update in during:
            assert bot.channel.inbox.status(update["update_id"]) == "done"
        assert len(texts_to(api, USER, s("en", "help.text"))) == 1
        assert api.messages_to(other), "the newcomer is greeted after the outage"
        after = await api.user_says(USER, "/menu")
        await until(lambda: bot.channel.inbox.status(after["update_id"]) == "done", timeout=20)


# ---------------------------------------------------------------------- redelivery
async def test_the_same_update_three_times_has_its_effects_once(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        update = await api.user_says(USER, "thanks a lot, 3x delivered")
        await api.push(dict(update))
        await api.push(dict(update))
        marker = await api.user_says(USER, "/help")
        await until(lambda: bot.channel.inbox.status(marker["update_id"]) == "done", timeout=20)
        assert len(texts_to(api, USER, s("en", "chat.thanks"))) == 1
        with bot.services.db.sessions() as session:
            logged = session.scalar(
                select(func.count()).select_from(MessageLog).where(MessageLog.text == "thanks a lot, 3x delivered")
            )
        assert logged == 1


# ---------------------------------------------------------------------- order under concurrency
async def test_each_users_updates_are_answered_in_order(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    """Updates are handled concurrently, yet one user's are handled one after another, in order."""
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        before = len(api.messages_to(USER))
        help_text, menu_text = s("en", "help.text"), s("en", "menu.title")
        pushed = []
        for round_ in range(10):
            pushed.append(await api.user_says(USER, "/help"))
            pushed.append(await api.user_says(USER + 100 + round_, "/start"))  # someone else, in between
            pushed.append(await api.user_says(USER, "/menu"))
        await until(lambda: all(bot.channel.inbox.status(u["update_id"]) == "done" for u in pushed), timeout=30)
        answers = [m.text for m in api.messages_to(USER)[before:] if m.text in (help_text, menu_text)]
        assert answers == [help_text, menu_text, menu_text] * 10  # /help: its text and the menu; /menu: the menu
        assert bot.channel._user_locks == {}, "no lock is left behind"


async def test_one_users_slow_send_does_not_hold_up_the_others(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    """Sending to one chat hangs for 3 s: everyone else is still answered at once (updates run side by side)."""
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        original = api.api_sendMessage
        hanging = asyncio.Event()

        async def slow_for_one_chat(params: dict) -> dict:
            if str(params.get("chat_id")) == str(USER) and not hanging.is_set():
                hanging.set()
                await asyncio.sleep(3)
            return await original(params)

        api.api_sendMessage = slow_for_one_chat  # type: ignore[method-assign]
        slow = await api.user_says(USER, "/help")
        await asyncio.wait_for(hanging.wait(), 10)
        started = asyncio.get_running_loop().time()
        await api.user_says(USER + 5, "/start")
        await api.wait_for(lambda: api.messages_to(USER + 5), timeout=10)
        assert asyncio.get_running_loop().time() - started < 2.0
        await until(lambda: bot.channel.inbox.status(slow["update_id"]) == "done", timeout=20)
        assert len(texts_to(api, USER, s("en", "help.text"))) == 1


# ---------------------------------------------------------------------- logs
@pytest.mark.parametrize("on_loop", [False, True], ids=["in a thread", "on the loop"])
def test_database_errors_do_not_carry_the_statement_values(database_url: str, on_loop: bool) -> None:
    """Error messages end up in logs: they must not quote message texts or Telegram ids (nor on asyncpg)."""
    import asyncio
    import traceback

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from bot.db.database import Database

    db = Database(database_url)
    db.migrate()

    secret = "a secret text 9q9q"  # not on the line a traceback quotes

    def insert() -> None:
        with db.session() as session:
            session.add(MessageLog(user_id=424242, direction="in", text=secret))  # no such user

    def malformed() -> None:  # PostgreSQL quotes a value of the wrong form in the error's message itself
        with db.session() as session:
            session.execute(text("SELECT CAST(CAST(:value AS text) AS integer)"), {"value": secret})

    cases: list[tuple[Callable[[], None], type[Exception]]] = [(insert, IntegrityError)]
    if not db.is_sqlite:  # SQLite casts it to 0
        cases.append((malformed, DBAPIError))  # DataError from psycopg; asyncpg's adapter maps it to the base class
    for work, kind in cases:
        with pytest.raises(kind) as error:
            asyncio.run(db.run_on_loop(work)) if on_loop else work()
        # The whole chain, as a traceback in the logs prints it (asyncpg's own error is its cause).
        printed = "".join(traceback.format_exception(error.value))
        assert "9q9q" not in printed and "424242" not in printed
        assert kind is DBAPIError or "FOREIGN KEY" in printed.upper()  # what went wrong is still told
    db.dispose()


SECRET_TEXTS = ["my husband's medicine 4u2q", "thanks, the clinic number is 040 1234567"]


async def test_debug_logs_of_a_whole_conversation_hold_no_token_text_or_id(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.logging_setup import setup_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("telegram").level)
    setup_logging("DEBUG")
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
            await onboard(api)
            for secret in SECRET_TEXTS:
                await api.user_says(USER, secret)
            update = await api.user_says(USER, "/mydata")
            api.faults.append(Fault("sendMessage", 500, "Internal Server Error"))
            api.blocked_chats.add(USER + 7)
            await api.user_says(USER + 7, "/start")
            await until(lambda: bot.channel.inbox.status(update["update_id"]) == "done", timeout=20)
            await api.user_says(USER, "/delete")
            confirm = await api.wait_for(
                lambda: [m for m in api.messages_to(USER) if m.buttons and m.text == s("en", "privacy.delete_confirm")]
            )
            await api.user_presses(USER, confirm[-1], "🗑")
            await api.wait_for(lambda: any(m.text == s("en", "privacy.deleted") for m in api.messages_to(USER)))
    finally:
        root.handlers[:], level, telegram_level = saved
        root.setLevel(level)
        logging.getLogger("telegram").setLevel(telegram_level)
    lines = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert any(record.levelno == logging.DEBUG for record in caplog.records), "DEBUG was on"
    problems = [
        line
        for line in lines
        if TOKEN_SECRET_PART in line
        or str(USER) in line
        or any(secret in line for secret in SECRET_TEXTS)
        or "User5550042" in line
    ]
    assert problems == []


# ---------------------------------------------------------------------- SIGKILL inside a handler
def _env(api: FakeBotApi, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ0123456789",
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'killed.db'}",
        "NO_PROXY": "127.0.0.1",
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


async def _stop(process: asyncio.subprocess.Process) -> str:
    """Its log; killed rather than stopped: a graceful stop waits out a long poll (nothing to test there)."""
    if process.returncode is None:
        process.kill()
        await process.wait()
    return (await process.stderr.read()).decode("utf-8", "replace") if process.stderr else ""


async def test_sigkill_inside_a_handler_then_restart_handles_the_update_once(api: FakeBotApi, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    consent_payload = "onboarding.consent:agree"
    crashing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crashing_bot",
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=_env(api, tmp_path, AITO_TEST_BLOCK_ON=consent_payload, AITO_TEST_BLOCKED_FILE=str(blocked)),
    )
    restarted = None
    logs = ""
    try:
        await api.wait_for(lambda: any(m == "getUpdates" for m, _ in api.calls), timeout=120)
        await api.user_says(USER, "/start", language_code="so")
        greeting = (await api.wait_for_messages(USER, 1, timeout=60))[-1]
        await api.user_presses(USER, greeting, "Soomaali", language_code="so")
        consent = await api.wait_for(
            lambda: [m for m in api.messages_to(USER) if any("✅" in b for b in m.button_labels)], timeout=30
        )
        await api.user_presses(USER, consent[-1], "✅", language_code="so")
        await until(blocked.exists, timeout=30)
        crashing.send_signal(signal.SIGKILL)  # in the middle of the consent's transaction
        await crashing.wait()
        logs += await _stop(crashing)
        assert texts_to(api, USER, s("so", "privacy.thanks")) == []

        restarted = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=_env(api, tmp_path),
        )
        await api.wait_for(lambda: texts_to(api, USER, s("so", "menu.title")), timeout=120)
        await api.user_says(USER, SECRET_TEXTS[0], language_code="so")
        await api.wait_for(lambda: len(api.messages_to(USER)) >= 6, timeout=30)
        assert len(texts_to(api, USER, s("so", "privacy.thanks"))) == 1, "the interrupted press, handled once"
        engine = create_engine(f"sqlite:///{tmp_path / 'killed.db'}")
        with engine.connect() as conn:
            consents = conn.execute(select(User.consent_at).where(User.external_id == str(USER))).all()
            logged = conn.execute(select(func.count()).select_from(MessageLog)).scalar()
        engine.dispose()
        assert len(consents) == 1 and consents[0][0] is not None
        assert logged == 1
    finally:
        if crashing.returncode is None:
            crashing.kill()
        if restarted is not None:
            logs += await _stop(restarted)
    assert "DEBUG" in logs, "the processes logged at DEBUG level"
    for secret in ("ABCdefGhIJKlmNoPQRsTUVwxyZ", str(USER), SECRET_TEXTS[0], "User5550042"):
        assert secret not in logs
