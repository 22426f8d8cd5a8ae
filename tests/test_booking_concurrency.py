"""A slot is booked at most once, under concurrent requests, on SQLite and PostgreSQL; and a booking is
one transaction: a process killed in the middle of one leaves nothing half-made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.core.messages import Incoming, Reply, UserRef
from bot.core.texts import Texts
from bot.db.models import InboxUpdate, User
from bot.features.booking.models import Booking
from bot.outbox_models import OutboxMessage
from bot.settings import ROOT
from tests.client import BotClient, plain
from tests.test_booking_service import NOW, World, active_bookings, add_counsellor, add_slot, build_world

TEXTS = Texts.load(ROOT / "content" / "strings")
FAMILIES = 50


def to_confirm(world: World, user_id: str) -> str:
    """A family that has chosen the first free time and stands before "Yes, book it": that button's data
    (stamped with the time it books)."""
    client = BotClient(world.conversation, user_id=user_id)
    client.send("/start")
    client.click("English")
    client.click("✅")
    client.click(plain(TEXTS.get("en", "menu.book")))
    client.click("Kemi")
    client.click_nth(0)
    client.click_nth(0)
    client.click(plain(TEXTS.get("en", "booking.topic.family")))
    client.click(plain(TEXTS.get("en", "booking.interpreter_no")))
    return client.button(plain(TEXTS.get("en", "booking.confirm"))).payload


@pytest.mark.slow
def test_fifty_families_press_book_on_the_same_slot_at_once(database_url: str, tmp_path: Path) -> None:
    world = build_world(database_url, tmp_path)
    try:
        counsellor = add_counsellor(world)
        contested = add_slot(world, counsellor, timedelta(days=2))
        others = [add_slot(world, counsellor, timedelta(days=2, hours=h)) for h in (2, 3)]
        users = [f"family-{n:02d}" for n in range(FAMILIES)]
        confirm = {user: to_confirm(world, user) for user in users}
        start = threading.Barrier(FAMILIES)
        answers: dict[str, list[Reply]] = {}
        errors: list[BaseException] = []

        def press(user: str) -> None:
            try:
                start.wait()
                answers[user] = world.conversation.handle(Incoming(UserRef("test", user), payload=confirm[user]))
            except BaseException as error:  # collected: the test fails on any of them
                errors.append(error)

        threads = [threading.Thread(target=press, args=(user,)) for user in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors[:3]
        assert len(answers) == FAMILIES

        booked_first_line = plain(
            TEXTS.get("en", "booking.booked", when="", icon="", where="", topic="", interpreter="")
        ).split("\n")[0]
        taken = plain(TEXTS.get("en", "booking.taken"))
        winners = [u for u, replies in answers.items() if any(booked_first_line in plain(r.text) for r in replies)]
        losers = [u for u, replies in answers.items() if any(taken in plain(r.text) for r in replies)]
        assert len(winners) == 1 and len(losers) == FAMILIES - 1
        (booking,) = active_bookings(world)
        assert booking.slot_id == contested
        with world.services.db.sessions() as session:
            winner_id = session.scalar(select(User.id).where(User.external_id == winners[0]))
        assert booking.user_id == winner_id
        # Every loser is shown the next free times as buttons, and is where those buttons work.
        for user in losers:
            labels = [b.payload for r in answers[user] if r.to is None for row in r.buttons for b in row]
            assert {f"booking.taken:{slot}" for slot in others} <= set(labels), labels
        # Exactly one counsellor notice went out, with the winner's booking.
        notices = [r for replies in answers.values() for r in replies if r.to is not None]
        assert len(notices) == 1
    finally:
        world.services.db.dispose()


CHILD = r"""
import json, sys, time
from pathlib import Path
from bot.app import build_conversation, build_services
from bot.core.messages import Incoming, UserRef
from bot.features.booking import notify
from bot.settings import Settings
from tests.fakes import KeywordNLU
from tests.test_booking_service import Clock
from datetime import datetime

config = json.loads(sys.argv[1])
settings = Settings(database_url=config["url"], flows_dir=Path(config["flows"]), content_dir=Path(config["content"]),
                    cache_dir=Path(config["cache"]))
services = build_services(settings, nlu=KeywordNLU(), clock=Clock(datetime.fromisoformat(config["now"])))
original = notify.to_counsellor

def stall(*args, **kwargs):
    reply = original(*args, **kwargs)
    # The booking row and its reminder are written (flushed) but not committed: now the parent kills us.
    print("inside the transaction", flush=True)
    time.sleep(120)
    return reply

notify.to_counsellor = stall
build_conversation(services).handle(Incoming(UserRef("test", "victim"), payload=config["confirm"],
                                             idempotency_key=777))
"""


def bookings_seen_from_outside(url: str) -> int:
    """A plain reader (no BEGIN IMMEDIATE, which would wait for the child's write lock on SQLite)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM bookings")).scalar_one())
    finally:
        engine.dispose()


def test_sigkill_in_the_middle_of_a_booking_leaves_nothing_half_made(database_url: str, tmp_path: Path) -> None:
    world = build_world(database_url, tmp_path)
    try:
        counsellor = add_counsellor(world)
        slot = add_slot(world, counsellor, timedelta(days=3))
        confirm = to_confirm(world, "victim")
        settings = world.services.settings
        config = {
            "url": database_url,
            "flows": str(settings.flows_dir),
            "content": str(settings.content_dir),
            "cache": str(tmp_path / "cache"),
            "now": NOW.isoformat(),
            "confirm": confirm,
        }
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.strip() == "inside the transaction", child.stderr.read() if child.stderr else ""
            assert bookings_seen_from_outside(database_url) == 0, "uncommitted work is invisible to others"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        with world.services.db.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Booking)) == 0
            assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
            assert session.get(InboxUpdate, 777) is None, "not even marked as received-and-handled"
        # The slot is still free, and the same press (e.g. Telegram's redelivery) now books it.
        client = BotClient(world.conversation, user_id="victim")
        client.press(confirm)
        assert [b.slot_id for b in active_bookings(world)] == [slot]
    finally:
        world.services.db.dispose()
