"""/metrics and /healthz of the running bot: the real python-telegram-bot Application against the local Bot
API server, with the health server started by the channel (HEALTH_PORT), scraped over HTTP."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from telegram import Update

from bot.db.base import utcnow
from bot.db.models import User
from bot.outbox import Message, queue
from bot.settings import Settings
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import make_settings, postgres_outage
from tests.handoff_support import STAFF_CHAT, WEDNESDAY_10, Clock, HandoffNLU, t
from tests.telegram_harness import RunningBot, running_bot
from tests.waiting import until

FAMILY = 5550301


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(database_url: str, tmp_path: Path, port: int) -> Settings:
    # No scheduler: the outbox sender would otherwise send the rows this test counts as backlog.
    return make_settings(database_url, tmp_path, staff_chat_id=STAFF_CHAT, health_port=port, run_scheduler=False)


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def healthz(port: int) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    return response.status_code, response.json()


async def onboard(api: FakeBotApi, user: int) -> None:
    await api.user_says(user, "/start", language_code="en")
    greeting = (await api.wait_for_messages(user, 1))[-1]
    await api.user_presses(user, greeting, "English", language_code="en")
    consent = await api.wait_for(lambda: [s for s in api.messages_to(user) if any("✅" in b for b in s.button_labels)])
    await api.user_presses(user, consent[-1], "✅", language_code="en")
    await api.wait_for(lambda: api.messages_to(user)[-1].text == t("en", "menu.title"))


def family_id(bot: RunningBot) -> int:
    with bot.services.db.sessions() as session:
        found = session.scalar(select(User.id).where(User.external_id == str(FAMILY)))
        assert found is not None
        return found


async def test_updates_replies_latency_and_gauges_are_scraped_over_http(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with running_bot(settings_for(sqlite_url, tmp_path, port), api, HandoffNLU()) as bot:
        try:
            bot.services.clock = Clock(WEDNESDAY_10)
            before = await scrape(port)
            assert value(before, "aito_updates_total", outcome="handled") == 0
            assert value(before, "aito_open_tickets") == 0
            assert value(before, "aito_outbox_backlog") == 0

            await onboard(api, FAMILY)  # three updates
            request = await api.user_says(FAMILY, "I want to talk to a person", language_code="en")
            await api.wait_for(lambda: api.messages_to(STAFF_CHAT))  # the ticket card reached the staff group
            # Telegram delivers the same update again (as after a webhook time-out): into PTB's update queue,
            # where the updater puts what it fetches (this server hands out each update id only once).
            await bot.application.update_queue.put(Update.de_json(request, bot.application.bot))
            await api.push(
                {"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"}, "text": "news"}}
            )  # nothing for the bot
            marker = await api.user_says(FAMILY, "/help", language_code="en")
            await until(lambda: bot.channel.inbox.status(marker["update_id"]) == "done")
            with bot.services.db.session() as session:
                now = utcnow()
                family = family_id(bot)
                due = Message("metrics:due", family, "test", "menu.title", due_at=now - timedelta(minutes=1))
                later = Message("metrics:later", family, "test", "menu.title", due_at=now + timedelta(days=7))
                queue(session, [due, later], now)

            registry = bot.channel.metrics.registry
            await until(lambda: registry.get_sample_value("aito_updates_total", {"outcome": "ignored"}) == 1)

            after = await scrape(port)
            assert value(after, "aito_updates_total", outcome="handled") == 5
            assert value(after, "aito_updates_total", outcome="duplicate") == 1
            assert value(after, "aito_updates_total", outcome="ignored") == 1
            assert value(after, "aito_updates_total", outcome="failed") == 0
            # one per message the Bot API server recorded (the spent-button removals are not replies)
            assert value(after, "aito_replies_total") == len(api.sent)
            assert value(after, "aito_update_seconds_count") == 6, "every handled or ignored update is timed"
            assert value(after, "aito_update_seconds_sum") > 0
            assert value(after, "aito_update_seconds_bucket", le="+Inf") == value(after, "aito_update_seconds_count")
            assert value(after, "aito_open_tickets") == 1
            assert value(after, "aito_outbox_backlog") == 1, "the row due next week is not a backlog"
            assert value(after, "aito_delivery_errors_total", reason="chat_not_found") == 0
        finally:
            await bot.channel.stop_health_server()


async def test_healthz_says_ok_and_who_runs_the_scheduler(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    port = free_port()
    async with running_bot(settings_for(sqlite_url, tmp_path, port), api, HandoffNLU()) as bot:
        try:
            status, body = await healthz(port)
            assert (status, body["status"], body["database"], body["scheduler"]) == (200, "ok", True, False)
            assert bot.services.leadership.try_acquire()
            status, body = await healthz(port)
            assert (status, body["scheduler"]) == (200, True)
        finally:
            bot.services.leadership.release()
            await bot.channel.stop_health_server()
        with pytest.raises(httpx.ConnectError):
            await healthz(port)  # stopped with the bot: the port is free again


def _sqlite_unreachable(url: str, bot: RunningBot) -> tuple[Callable[[], None], Callable[[], None]]:
    """The database file's volume is gone: a directory stands where the file was, so nothing opens it."""
    path = Path(url.removeprefix("sqlite:///"))
    aside = path.with_name("aside.db")

    def start() -> None:
        bot.services.db.engine.dispose()  # open connections would still read the unlinked file
        path.rename(aside)
        path.mkdir()

    def end() -> None:
        shutil.rmtree(path)
        aside.rename(path)

    return start, end


async def test_healthz_is_503_while_the_database_is_unreachable(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with running_bot(settings_for(database_url, tmp_path, port), api, HandoffNLU()) as bot:
        try:
            assert (await healthz(port))[0] == 200
            start, end = (
                _sqlite_unreachable(database_url, bot)
                if database_url.startswith("sqlite")
                else postgres_outage(database_url)
            )
            start()
            try:
                status, body = await healthz(port)
                assert (status, body["status"], body["database"]) == (503, "unavailable", False)
                # /metrics still answers: the gauges that cannot be read are left out, the counters stay
                samples = await scrape(port)
                assert ("aito_updates_total", (("outcome", "handled"),)) in samples
                assert ("aito_open_tickets", ()) not in samples
            finally:
                end()
            status, body = await healthz(port)
            assert (status, body["database"]) == (200, True), "healthy again once the database is back"
        finally:
            await bot.channel.stop_health_server()
