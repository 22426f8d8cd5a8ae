"""The inbox as several workers share it: what the periodic retry may take, the webhook secret, and
updates marked done in group commits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.channels.telegram import webhook_secret
from bot.core.messages import Reply
from bot.db.base import utcnow
from bot.db.database import Database
from bot.db.models import InboxUpdate
from bot.inbox import Inbox
from tests.conftest import make_settings


def test_retry_leaves_recently_handled_updates_to_the_worker_sending_them(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    inbox = Inbox(db)
    for update_id in (1, 2, 3):
        assert inbox.record(update_id, {"update_id": update_id})
    inbox.keep_unsent(2, [Reply(text="young")])  # handled a moment ago: another worker may be sending it
    inbox.keep_unsent(3, [Reply(text="old")])
    with db.session() as session:
        session.execute(
            update(InboxUpdate).where(InboxUpdate.update_id == 3).values(received_at=utcnow() - timedelta(minutes=5))
        )
    periodic = inbox.unfinished(utcnow() - timedelta(seconds=90))
    assert [(row[0], row[1]) for row in periodic] == [(1, "received"), (3, "handled")]
    assert [r.text for r in periodic[1][3]] == ["old"]
    at_start = inbox.unfinished()
    assert [row[0] for row in at_start] == [1, 2, 3]
    db.dispose()


@pytest.mark.parametrize("on_loop", [False, True], ids=["in a thread", "on the loop"])
def test_recording_an_update_tells_a_redelivery_and_needs_no_transaction(database_url: str, on_loop: bool) -> None:
    import asyncio

    from sqlalchemy import event, select

    db = Database(database_url)
    db.migrate()
    inbox = Inbox(db)
    isolation: list[str | None] = []
    for engine in {db.blocking_engine, db.loop_engine} - {None}:
        event.listen(
            engine,
            "before_cursor_execute",
            lambda conn, *_: isolation.append(conn.get_execution_options().get("isolation_level")),
        )

    def record_twice() -> tuple[bool, bool]:
        return inbox.record(7, {"update_id": 7}), inbox.record(7, {"update_id": 7})

    assert (asyncio.run(db.run_on_loop(record_twice)) if on_loop else record_twice()) == (True, False)
    with db.sessions() as session:  # committed: another connection sees it
        assert session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 7)) == "received"
    # PostgreSQL: one INSERT each, in autocommit (no BEGIN and COMMIT round trips around it).
    assert isolation[:2] == ([None, None] if db.is_sqlite else ["AUTOCOMMIT", "AUTOCOMMIT"])
    db.dispose()


def test_every_worker_presents_the_same_webhook_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = make_settings(url, tmp_path, telegram_bot_token="123:abc")
    second = make_settings(url, tmp_path, telegram_bot_token="123:abc")
    assert webhook_secret(first) == webhook_secret(second)
    assert "123:abc" not in webhook_secret(first) and len(webhook_secret(first)) == 64
    assert webhook_secret(make_settings(url, tmp_path, telegram_bot_token="456:def")) != webhook_secret(first)
    assert webhook_secret(make_settings(url, tmp_path, webhook_secret="s3cret")) == "s3cret"


@pytest.mark.parametrize("nlu_backend", ["embedded", "rasa"], ids=["on the loop's thread", "in a worker thread"])
async def test_updates_finishing_together_are_marked_done_in_one_transaction_and_a_failed_one_is_retried(
    tmp_path: Path, nlu_backend: str
) -> None:
    import asyncio

    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    from bot.app import build_conversation, build_services
    from bot.channels.telegram import TelegramChannel
    from tests.fakes import KeywordNLU

    settings = make_settings(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, nlu_backend=nlu_backend)
    services = build_services(settings, nlu=KeywordNLU())
    channel = TelegramChannel(services, build_conversation(services))
    for update_id in range(1, 12):
        channel.inbox.record(update_id, {"update_id": update_id})
    batches: list[tuple[int, ...]] = []
    write = channel.inbox.mark_done

    def counted(*update_ids: int) -> None:
        batches.append(update_ids)
        if len(batches) == 3:
            raise OperationalError("UPDATE", {}, Exception("the database went away"))
        write(*update_ids)

    channel.inbox.mark_done = counted  # type: ignore[method-assign]
    await asyncio.gather(*(channel._mark_done(update_id) for update_id in range(1, 6)))
    # Five finishing together: one transaction.
    assert batches == [(1, 2, 3, 4, 5)]
    await channel._mark_done(11)  # alone: at once, by itself
    assert batches[1:] == [(11,)]
    outcomes = await asyncio.gather(*(channel._mark_done(i) for i in range(6, 11)), return_exceptions=True)
    # The failed batch is not forgotten: the next in line writes it again.
    assert isinstance(outcomes[0], OperationalError) and outcomes[1:] == [None] * 4
    assert batches[2:] == [(6, 7, 8, 9, 10), (6, 7, 8, 9, 10)]
    with services.db.sessions() as session:
        assert set(session.scalars(select(InboxUpdate.status))) == {"done"}
    await channel.post_shutdown(None)  # type: ignore[arg-type]
    services.db.dispose()


@pytest.mark.parametrize(
    ("database", "nlu_backend", "on_loop"),
    [
        ("sqlite", "embedded", True),
        ("sqlite", "rasa", False),
        ("postgres", "embedded", True),
        ("postgres", "rasa", False),
    ],
)
async def test_database_work_runs_on_the_loop_except_with_rasa(
    tmp_path: Path, database: str, nlu_backend: str, on_loop: bool, request: pytest.FixtureRequest
) -> None:
    """The Rasa backend may keep the core waiting for 2 s: in worker threads, so the loop goes on meanwhile."""
    import threading

    from bot.app import build_conversation, build_services
    from bot.channels.telegram import TelegramChannel
    from tests.fakes import KeywordNLU

    url = f"sqlite:///{tmp_path / 'a.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    services = build_services(make_settings(url, tmp_path, nlu_backend=nlu_backend), nlu=KeywordNLU())
    channel = TelegramChannel(services, build_conversation(services))
    assert (await channel.in_db(threading.get_ident) == threading.get_ident()) is on_loop
    await channel.post_shutdown(None)  # type: ignore[arg-type]
    services.db.dispose()
