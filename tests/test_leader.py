"""Exactly one process leads; another takes over when the leader dies (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import time

from bot.db.database import Database
from bot.leader import Leadership

CHILD = """
import sys, time
from bot.db.database import Database
from bot.leader import Leadership
leader = Leadership(Database(sys.argv[1]))
while not leader.try_acquire():
    time.sleep(0.2)
print("leader", flush=True)
time.sleep(600)
"""


def test_one_leader_and_failover(database_url: str) -> None:
    first = subprocess.Popen([sys.executable, "-c", CHILD, database_url], stdout=subprocess.PIPE, text=True)
    second = None
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "leader"
        here = Leadership(Database(database_url))
        assert not here.try_acquire(), "a second process must not lead while the first lives"
        second = subprocess.Popen([sys.executable, "-c", CHILD, database_url], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert second.poll() is None
        killed_at = time.monotonic()
        first.kill()  # SIGKILL: no clean release
        first.wait()
        assert second.stdout is not None and second.stdout.readline().strip() == "leader"
        assert time.monotonic() - killed_at < 30
        assert not here.try_acquire()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_concurrent_checks_from_worker_threads_share_one_connection_safely(database_url: str) -> None:
    """Jobs ask from asyncio.to_thread at the same moment: the lock's one connection must not be shared raw."""
    from concurrent.futures import ThreadPoolExecutor

    database = Database(database_url)
    leader = Leadership(database)
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _n: leader.try_acquire(), range(200)))
        assert all(answers) and leader.is_leader
    finally:
        leader.release()
        database.dispose()


def test_a_leader_whose_connection_is_cut_steps_down_and_another_takes_over(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    first, second = Leadership(Database(postgres_url)), Leadership(Database(postgres_url))
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        assert first.try_acquire() and not second.try_acquire()
        assert first._connection is not None
        with admin.connect() as conn:  # e.g. a network cut: the server ends the lock's session
            pid = first._connection.execute(text("SELECT pg_backend_pid()")).scalar()
            first._connection.commit()
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert not first.try_acquire(), "the dead connection is noticed on the next check"
        assert not first.is_leader
        assert second.try_acquire(), "the lock went with the session"
        assert not first.try_acquire()
    finally:
        for leader in (first, second):
            leader.release()
            leader.db.dispose()
        admin.dispose()


async def test_jobs_run_their_body_only_while_this_process_leads(database_url: str) -> None:
    """Every process installs the job; a follower's runs do nothing until the leader is gone."""
    from telegram.ext import ApplicationBuilder

    from bot.leader import run_when_leading

    leader, follower = Leadership(Database(database_url)), Leadership(Database(database_url))
    application = ApplicationBuilder().token("123456:TEST-token").build()
    runs: list[str] = []

    async def body(_context: object) -> None:
        runs.append("ran")

    try:
        assert leader.try_acquire()
        run_when_leading(application, follower, body, interval=5, first=1, name="every-5-s")
        assert application.job_queue is not None
        (job,) = application.job_queue.get_jobs_by_name("every-5-s")
        assert job.job.trigger.interval.total_seconds() == 5
        await job.run(application)
        assert runs == [] and not follower.is_leader
        leader.release()  # the leader stops
        await job.run(application)
        assert runs == ["ran"] and follower.is_leader
        assert not leader.try_acquire()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)  # what run_webhook/run_polling call on the way out
        assert not follower.is_leader and leader.try_acquire(), "released on shutdown"
    finally:
        for leadership in (leader, follower):
            leadership.release()
            leadership.db.dispose()
