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
