"""The entry points as a newcomer and an outside check use them: `chat` and `run` in real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.core.texts import Texts
from bot.settings import ROOT
from bot.testing.fake_bot_api import FakeBotApi

TEXTS = Texts.load(ROOT / "content" / "strings")
USER = 4242001


def test_chat_reaches_the_somali_menu_by_typing_only_numbers(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}"}
    # The greeting lists fi, en, ar, ru, so, sw: 5 is Soomaali; then 1 agrees to the privacy notice.
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="5\n1\n",
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[5] Soomaali" in result.stdout
    assert TEXTS.get("so", "menu.title") in result.stdout
    assert "العربية" in result.stdout  # Arabic prints as UTF-8


async def start_bot(api: FakeBotApi, tmp_path: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ0123456789",
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "NO_PROXY": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def test_run_against_a_local_bot_api_server_survives_a_kill(api: FakeBotApi, tmp_path: Path) -> None:
    process = await start_bot(api, tmp_path)
    try:
        await api.wait_for(lambda: any(m == "getUpdates" for m, _ in api.calls), timeout=120)
        await api.user_says(USER, "/start", language_code="sw")
        greeting = (await api.wait_for_messages(USER, 1, timeout=60))[-1]
        assert greeting.button_labels[0] == "Kiswahili"
        await api.user_presses(USER, greeting, "Kiswahili", language_code="sw")
        consent = await api.wait_for(
            lambda: [s for s in api.messages_to(USER) if any("✅" in b for b in s.button_labels)], timeout=30
        )
        # Killed without warning while the family looks at the consent question.
        process.send_signal(signal.SIGKILL)
        await process.wait()
        before = len(api.messages_to(USER))
        await api.user_presses(USER, consent[-1], "✅", language_code="sw")
        process = await start_bot(api, tmp_path)
        menu_title = TEXTS.get("sw", "menu.title")
        await api.wait_for(lambda: any(s.text == menu_title for s in api.messages_to(USER)[before:]), timeout=120)
        # a sticker and a duplicated update
        sticker = {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "u",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        }
        await api.user_sends(USER, sticker, language_code="sw")
        await api.wait_for(
            lambda: any(s.text == TEXTS.get("sw", "media.sticker") for s in api.messages_to(USER)), timeout=30
        )
        update = await api.user_says(USER, "/help", language_code="sw")
        await api.push(dict(update))
        await api.user_says(USER, "/menu", language_code="sw")
        help_text = TEXTS.get("sw", "help.text")
        # The sticker's answer also ends with the menu: wait for the help text, then the menu after it.
        await api.wait_for(
            lambda: (
                any(s.text == help_text for s in api.messages_to(USER)) and api.messages_to(USER)[-1].text == menu_title
            ),
            timeout=30,
        )
        assert len([s for s in api.messages_to(USER) if s.text == help_text]) == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
        stderr = (await process.stderr.read()).decode() if process.stderr else ""
        assert "ABCdefGhIJKlmNoPQRsTUVwxyZ" not in stderr, "the bot token must never reach the logs"
