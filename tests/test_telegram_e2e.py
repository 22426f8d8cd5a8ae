"""The real python-telegram-bot Application over HTTP against a Bot API server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import make_settings
from tests.fakes import KeywordNLU
from tests.telegram_harness import running_bot

USER = 5550001


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


async def onboard(api: FakeBotApi, language_label: str = "Soomaali", hint: str = "so") -> None:
    await api.user_says(USER, "/start", language_code=hint)
    greeting = (await api.wait_for_messages(USER, 1))[-1]
    assert greeting.button_labels[0] == language_label, "Telegram's language comes first"
    await api.user_presses(USER, greeting, language_label, language_code=hint)
    consent = await api.wait_for(lambda: [s for s in api.messages_to(USER) if any("✅" in b for b in s.button_labels)])
    await api.user_presses(USER, consent[-1], "✅", language_code=hint)
    await api.wait_for(lambda: len(api.messages_to(USER)) >= 5 and api.messages_to(USER)[-1].buttons)


async def test_start_language_consent_menu_and_commands(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()):
        await onboard(api)
        menu = api.messages_to(USER)[-1]
        assert "🆘" in " ".join(menu.button_labels)
        # the menu is in Somali, as chosen
        assert menu.text == (await _text(api, "so", "menu.title"))
        # spent buttons are removed from the pressed message
        assert any(method == "_edited_markup" for method, _ in api.calls)
        assert len(api.answered_callbacks) == 2
        # a command menu was registered for every served language
        assert set(api.commands) == {None, "fi", "en", "ar", "ru", "so", "sw"}


async def test_sticker_gets_a_friendly_reply(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()):
        await onboard(api)
        before = len(api.messages_to(USER))
        await api.user_sends(
            USER,
            {
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "u1",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            },
            language_code="so",
        )
        replies = await api.wait_for_messages(USER, before + 2)
        assert replies[before].text == await _text(api, "so", "media.sticker")
        assert replies[-1].buttons, "never a dead end: the menu follows"


async def test_update_delivered_twice_is_answered_once(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()):
        await onboard(api)
        before = len(api.messages_to(USER))
        update = await api.user_says(USER, "/help", language_code="so")
        await api.wait_for_messages(USER, before + 1)
        await api.push(dict(update))  # Telegram redelivers the same update_id
        await api.user_says(USER, "/menu", language_code="so")  # a marker that the duplicate was consumed
        await api.wait_for(lambda: api.messages_to(USER)[-1].text == _sync_text("so", "menu.title"))
        help_texts = [s for s in api.messages_to(USER) if s.text == _sync_text("so", "help.text")]
        assert len(help_texts) == 1


async def test_restart_in_the_middle_of_a_flow_keeps_the_step(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path)
    async with running_bot(settings, api, KeywordNLU()):
        await api.user_says(USER, "/start", language_code="sw")
        greeting = (await api.wait_for_messages(USER, 1))[-1]
        await api.user_presses(USER, greeting, "Kiswahili", language_code="sw")
        consent = await api.wait_for(
            lambda: [s for s in api.messages_to(USER) if any("✅" in b for b in s.button_labels)]
        )
    # the bot stopped while the family was looking at the consent question; it starts again
    async with running_bot(settings, api, KeywordNLU()):
        await api.user_presses(USER, consent[-1], "✅", language_code="sw")
        menu = await api.wait_for(
            lambda: [s for s in api.messages_to(USER) if s.text == _sync_text("sw", "menu.title")]
        )
        assert menu[-1].buttons


async def test_blocked_user_is_marked_and_nothing_crashes(api: FakeBotApi, sqlite_url: str, tmp_path: Path) -> None:
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()) as bot:
        await onboard(api)
        api.blocked_chats.add(USER)
        update = await api.user_says(USER, "/menu", language_code="so")
        await api.wait_for(lambda: bot.channel.inbox.status(update["update_id"]) == "done")
        from sqlalchemy import select

        from bot.db.models import User

        with bot.services.db.sessions() as session:
            assert session.scalar(select(User.blocked_at)) is not None


def _sync_text(language: str, key: str) -> str:
    from bot.core.texts import Texts
    from bot.settings import ROOT

    return Texts.load(ROOT / "content" / "strings").get(language, key)


async def _text(_api: FakeBotApi, language: str, key: str) -> str:
    return _sync_text(language, key)
