"""The Bot API client's cost per call: PTB's httpx backend against bot/channels/http_client.py (aiohttp).

Sends sendMessage through a real python-telegram-bot `Bot` to the local Bot API server
(bot/testing/fake_bot_api.py), one after another and then all at once, and reports the median over
rounds of CPU milliseconds per call. Client and server share this process, so the figure holds both;
the server's share is the same for either client, so the difference is the client's.

    .venv/bin/python bench/http_client.py [--calls 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.http_client import AiohttpRequest
from bot.testing.fake_bot_api import FakeBotApi

TOKEN = "123456:BENCHbenchBENCHbenchBENCHbench0123"
CLIENTS: dict[str, Callable[[], BaseRequest]] = {
    "httpx (PTB's default)": lambda: HTTPXRequest(connection_pool_size=256),
    "aiohttp (bot/channels/http_client.py)": lambda: AiohttpRequest(connection_pool_size=256),
}


async def one_round(make: Callable[[], BaseRequest], calls: int) -> tuple[float, float]:
    """(CPU ms per call, wall ms per call) for `calls` sequential and `calls` concurrent sends."""
    api = FakeBotApi()
    await api.start()
    try:
        async with Bot(TOKEN, base_url=api.base_url, request=make()) as bot:
            await bot.send_message(6000001, "warm-up")
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await bot.send_message(6000001, "Hello, this is a reply of ordinary length. 🙂")
            await asyncio.gather(*(bot.send_message(6000001 + i, "Hello again 🙂") for i in range(calls)))
            return (
                (time.process_time() - cpu) / (2 * calls) * 1000,
                (time.perf_counter() - wall) / (2 * calls) * 1000,
            )
    finally:
        await api.stop()


async def main_async(calls: int, rounds: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in CLIENTS}
    for _ in range(rounds):  # interleaved, so that a busy moment of the machine hits both
        for name, make in CLIENTS.items():
            results[name].append(await one_round(make, calls))
    print(f"sendMessage to the local Bot API server, {calls} sequential + {calls} concurrent, {rounds} rounds")
    print("| client | CPU ms/call (client + server), median | wall ms/call, median |")
    print("|---|---|---|")
    for name, rows in results.items():
        cpu = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        print(f"| {name} | {cpu:.3f} | {wall:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.calls, args.rounds))


if __name__ == "__main__":
    main()
