"""Per-user flood control: a sliding window of accepted messages, kept in memory.

One family member sending hundreds of messages (a stuck key, a script, a forwarded pile) must not slow the
bot down for everyone else, nor fill the message log. The window lives in this process only: with several
webhook workers each counts its own share, which is still a bound (workers × limit), and nothing needs the
database (a flood should not turn into database writes).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from enum import Enum


class Verdict(Enum):
    OK = "ok"  # handle it
    SLOW_DOWN = "slow_down"  # over the limit for the first time in this flood: one polite message
    DROP = "drop"  # over the limit again: no answer at all


class FloodGuard:
    """At most `limit` handled messages per user within `window` seconds.

    Only accepted messages count, so a user who keeps sending during a flood is served again as soon as
    the window since the burst has passed.
    """

    def __init__(self, limit: int = 100, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.window = window
        self.clock = clock
        self._accepted: dict[Hashable, deque[float]] = {}
        self._warned: set[Hashable] = set()
        self._lock = threading.Lock()  # with the Rasa backend the core runs in worker threads
        self._checks = 0

    def check(self, key: Hashable) -> Verdict:
        now = self.clock()
        with self._lock:
            self._checks += 1
            if self._checks % 10_000 == 0:
                self._forget_idle(now)
            accepted = self._accepted.setdefault(key, deque())
            while accepted and now - accepted[0] >= self.window:
                accepted.popleft()
            if len(accepted) < self.limit:
                accepted.append(now)
                self._warned.discard(key)
                return Verdict.OK
            if key in self._warned:
                return Verdict.DROP
            self._warned.add(key)
            return Verdict.SLOW_DOWN

    def _forget_idle(self, now: float) -> None:
        """Drop the windows of users who have been quiet for a whole window (bounded memory)."""
        idle = [key for key, accepted in self._accepted.items() if not accepted or now - accepted[-1] >= self.window]
        for key in idle:
            del self._accepted[key]
            self._warned.discard(key)

    def __len__(self) -> int:
        return len(self._accepted)
