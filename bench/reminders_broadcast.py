"""Reminder broadcast benchmark: N subscribers of one meeting, against a local Bot API server that allows
30 messages per second (429 with retry_after beyond that).

Two runs, each with a fresh database:
  1. clean:  the bot process plans the reminder and sends it to everyone;
  2. killed: the bot process is SIGKILLed when half of the messages are out, then started again.
Checks: every subscriber got the reminder, nobody got it twice (at most one duplicate after the kill: the
message in flight), and the achieved rate (target ≥ 28 messages/s).

The bot process is the real thing: `build_services` + `build_application` (python-telegram-bot with its
AIORateLimiter, the JobQueue tick, the outbox sender), pointed at the server by TELEGRAM_API_BASE_URL.

    .venv/bin/python bench/reminders_broadcast.py                    # 10,000 subscribers (about 12 minutes)
    .venv/bin/python bench/reminders_broadcast.py --subscribers 600  # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.settings import Settings  # noqa: E402

GROUP_ID = "bench-group"
FIRST_CHAT = 50_000_000
TOKEN = "123456:BENCH-token-for-the-local-bot-api-server"
LANGUAGES = ("fi", "en", "ar", "ru", "so", "sw")


# ---------------------------------------------------------------------- the bot process
class _NoNLU:
    def understand(self, text: str, **_: object) -> object:
        raise RuntimeError("the benchmark sends no messages to the bot")


async def run_worker(database_url: str, api_url: str) -> None:
    """The bot process: run the application (JobQueue tick → plan → send) until the outbox is empty."""
    from bot.app import build_conversation, build_services
    from bot.channels.telegram import build_application
    from bot.outbox_models import PENDING, SENDING, OutboxMessage

    settings = Settings(
        database_url=database_url, telegram_bot_token=TOKEN, telegram_api_base_url=api_url, run_scheduler=True
    )
    services = build_services(settings, nlu=_NoNLU())  # type: ignore[arg-type]
    application, _channel = build_application(services, build_conversation(services))
    await application.initialize()
    await application.start()  # starts the JobQueue: the delivery tick runs 1 s later, then every 5 s
    try:
        while True:
            await asyncio.sleep(0.5)
            with services.db.sessions() as session:
                total = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
                open_rows = (
                    session.scalar(select(func.count()).where(OutboxMessage.status.in_((PENDING, SENDING)))) or 0
                )
            if total and not open_rows:
                break
    finally:
        await application.stop()
        await application.shutdown()
        services.db.dispose()


# ---------------------------------------------------------------------- the benchmark
def seed(database_url: str, subscribers: int) -> datetime:
    """A group meeting in 90 minutes (its 2 h reminder is due now) with `subscribers` subscribers."""
    from bot.db.database import Database
    from bot.db.models import User
    from bot.features.groups.models import Group, Subscription

    zone = ZoneInfo("Europe/Helsinki")
    start = (datetime.now(UTC) + timedelta(minutes=90)).replace(second=0, microsecond=0)
    local = start.astimezone(zone)
    db = Database(database_url)
    db.migrate()
    week_ago = datetime.now(UTC) - timedelta(days=7)
    with db.session() as session:
        session.add(
            Group(
                id=GROUP_ID,
                names={code: "Benchmark group" for code in LANGUAGES},
                municipality="kemi",
                address="Kauppakatu 22, 94100 Kemi",
                how_to_find={},
                weekday=local.weekday(),
                start_time=f"{local.hour:02d}:{local.minute:02d}",
                duration_minutes=90,
                audience="everyone",
                languages="fi",
                updated_at=week_ago,
            )
        )
        session.flush()
        users = [
            {
                "channel": "telegram",
                "external_id": str(FIRST_CHAT + n),
                "language": LANGUAGES[n % 6],
                "consent_at": week_ago,
                "created_at": week_ago,
                "last_seen_at": week_ago,
            }
            for n in range(subscribers)
        ]
        for chunk in range(0, len(users), 2000):
            session.execute(insert(User), users[chunk : chunk + 2000])
        ids = session.scalars(select(User.id).where(User.channel == "telegram")).all()
        rows = [{"user_id": uid, "group_id": GROUP_ID, "active": True, "subscribed_at": week_ago} for uid in ids]
        for chunk in range(0, len(rows), 2000):
            session.execute(insert(Subscription), rows[chunk : chunk + 2000])
    db.dispose()
    return start


@dataclass
class Result:
    name: str
    subscribers: int
    delivered: int
    duplicates: int
    missing: int
    rate_limited: int
    elapsed: float
    rate: float


async def start_worker(database_url: str, api_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--worker",
        "--database-url",
        database_url,
        "--api-url",
        api_url,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "LOG_LEVEL": "WARNING"},
    )


async def one_run(name: str, subscribers: int, kill_at: int | None, workdir: Path) -> Result:
    from bot.testing.fake_bot_api import FakeBotApi

    api = FakeBotApi(messages_per_second=30)
    api_url = await api.start()
    database_url = f"sqlite:///{workdir / (name.split()[0] + '.db')}"
    seed(database_url, subscribers)

    def sends() -> list[float]:
        return [s.at for s in api.sent if s.method == "sendMessage"]

    began = time.monotonic()
    worker = await start_worker(database_url, api_url)
    segments: list[list[float]] = []
    if kill_at is not None:
        await api.wait_for(lambda: len(api.sent) >= kill_at or worker.returncode is not None, timeout=3600)
        worker.send_signal(signal.SIGKILL)  # no clean-up of any kind: like a power cut
        await worker.wait()
        segments.append(sends())
        print(f"  {name}: SIGKILL after {len(segments[0])} messages; starting the bot again", flush=True)
        worker = await start_worker(database_url, api_url)
    code = await worker.wait()
    elapsed = time.monotonic() - began
    await api.stop()
    if code != 0:
        raise SystemExit(f"{name}: the bot process exited with {code}")
    times = sends()
    segments.append(times[len(segments[0]) :] if segments else times)
    per_chat = Counter(s.chat_id for s in api.sent if s.method == "sendMessage")
    expected = set(range(FIRST_CHAT, FIRST_CHAT + subscribers))
    sending_time = sum(seg[-1] - seg[0] for seg in segments if len(seg) > 1)
    return Result(
        name=name,
        subscribers=subscribers,
        delivered=len(expected & set(per_chat)),
        duplicates=sum(count - 1 for count in per_chat.values()),
        missing=len(expected - set(per_chat)),
        rate_limited=api.rate_limited,
        elapsed=elapsed,
        rate=(len(times) - len(segments)) / sending_time if sending_time else 0.0,
    )


def table(results: list[Result]) -> str:
    header = ("run", "subscribers", "delivered", "duplicates", "missing", "429s", "wall s", "msg/s while sending")
    rows = [
        (
            r.name,
            str(r.subscribers),
            str(r.delivered),
            str(r.duplicates),
            str(r.missing),
            str(r.rate_limited),
            f"{r.elapsed:.1f}",
            f"{r.rate:.2f}",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    logging.getLogger("tornado.access").setLevel(logging.ERROR)  # one line per 429 would bury the table
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="aito-bench-") as tmp:
        workdir = Path(tmp)
        results.append(await one_run("clean", args.subscribers, None, workdir))
        print(f"  clean: done in {results[-1].elapsed:.0f} s", flush=True)
        if not args.skip_kill:
            results.append(await one_run("killed at half", args.subscribers, args.subscribers // 2, workdir))
    print()
    print(table(results))
    ok = all(r.missing == 0 for r in results) and results[0].duplicates == 0
    ok = ok and all(r.duplicates <= 1 for r in results) and results[0].rate >= 28.0
    print()
    print("PASS" if ok else "FAIL", "(all delivered; none twice; at most one duplicate after SIGKILL; ≥ 28 msg/s)")
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--skip-kill", action="store_true", help="only the clean run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        asyncio.run(run_worker(arguments.database_url, arguments.api_url))
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
