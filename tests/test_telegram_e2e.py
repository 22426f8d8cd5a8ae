"""The real python-telegram-bot Application over HTTP against a Bot API server on 127.0.0.1."""

from __future__ import annotations

import functools
import gc
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.core.texts import Texts
from bot.db.models import User
from bot.settings import ROOT, Settings
from bot.testing.fake_bot_api import FakeBotApi, Fault
from tests.conftest import make_settings
from tests.fakes import KeywordNLU
from tests.handoff_support import STAFF_CHAT, WEDNESDAY_10, Clock, HandoffNLU
from tests.telegram_harness import RunningBot, running_bot
from tests.waiting import until

USER = 5550001


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


async def test_what_start_up_built_is_kept_out_of_the_collectors_way_while_the_bot_runs(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    """A full collection walking the start-up's objects (the NLU's models) would stall every update."""
    assert gc.get_freeze_count() == 0
    async with running_bot(make_settings(sqlite_url, tmp_path), api, KeywordNLU()):
        assert gc.get_freeze_count() > 10_000
        await onboard(api)  # and the bot works as before
    assert gc.get_freeze_count() == 0, "unfrozen at shutdown"


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
        with bot.services.db.sessions() as session:
            assert session.scalar(select(User.blocked_at)) is not None


@functools.cache
def _texts() -> Texts:
    # Loaded once: predicates run on every Bot API call, and parsing every strings file each time
    # blocked the event loop long enough to time tests out.
    return Texts.load(ROOT / "content" / "strings")


def _sync_text(language: str, key: str) -> str:
    return _texts().get(language, key)


async def _text(_api: FakeBotApi, language: str, key: str) -> str:
    return _sync_text(language, key)


# ---------------------------------------------------------------------- delivery errors, per recipient
def _handoff_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path, staff_chat_id=STAFF_CHAT)


async def _ask_for_a_person(api: FakeBotApi, bot: RunningBot) -> dict[str, Any]:
    bot.services.clock = Clock(WEDNESDAY_10)
    await onboard(api, "English", "en")
    return await api.user_says(USER, "I want to talk to a person", language_code="en")


def _errors(bot: RunningBot, reason: str) -> float | None:
    return bot.channel.metrics.registry.get_sample_value("aito_delivery_errors_total", {"reason": reason})


async def test_a_staff_chat_the_bot_cannot_find_does_not_fail_the_familys_update(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    """The ticket card cannot be posted (400 chat not found): the family is still answered, once."""
    async with running_bot(_handoff_settings(sqlite_url, tmp_path), api, HandoffNLU()) as bot:
        api.faults.append(Fault("sendMessage", 400, "Bad Request: chat not found", chat_id=STAFF_CHAT))
        request = await _ask_for_a_person(api, bot)
        await until(lambda: bot.channel.inbox.status(request["update_id"]) == "done")
        assert not api.faults, "the card was tried"
        told = _texts().get("en", "handoff.answer_today", until="16:00")
        assert [s.text for s in api.messages_to(USER)].count(told) == 1
        assert not api.messages_to(STAFF_CHAT)
        assert _errors(bot, "chat_not_found") == 1
        sent_before = len(api.sent)
        await bot.channel.finish_unfinished(bot.application.bot)  # what the inbox retry does every 30 s
        assert len(api.sent) == sent_before, "nothing is sent again"


async def test_a_family_who_blocked_the_bot_is_paused_and_the_card_still_reaches_the_staff(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    """403 on the family's replies of a two-recipient update: the blocked hooks run, the staff get the card."""
    async with running_bot(_handoff_settings(sqlite_url, tmp_path), api, HandoffNLU()) as bot:
        bot.services.clock = Clock(WEDNESDAY_10)
        await onboard(api, "English", "en")
        paused: list[int] = []
        bot.services.registry.blocked_hooks.append(lambda _session, user: paused.append(user.id))
        api.blocked_chats.add(USER)
        request = await api.user_says(USER, "I want to talk to a person", language_code="en")
        await until(lambda: bot.channel.inbox.status(request["update_id"]) == "done")
        assert len(api.messages_to(STAFF_CHAT)) == 1, "the ticket card went out"
        assert len(paused) == 1, "the registry's blocked hooks ran once, for the family"
        with bot.services.db.sessions() as session:
            assert session.scalar(select(User.blocked_at).where(User.external_id == str(USER))) is not None
        assert _errors(bot, "blocked") == 1


async def test_a_send_that_keeps_failing_leaves_only_that_reply_for_the_retry(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    """The staff group is unreachable (500 on every attempt): the family's replies go out once, the card
    waits in the inbox, and the retry sends the card alone."""
    async with running_bot(_handoff_settings(sqlite_url, tmp_path), api, HandoffNLU()) as bot:
        api.faults += [Fault("sendMessage", 500, "Internal Server Error", chat_id=STAFF_CHAT) for _ in range(4)]
        request = await _ask_for_a_person(api, bot)
        registry = bot.channel.metrics.registry
        # "handled" is also the state between the core's commit and the sends: wait for the outcome itself
        await until(lambda: registry.get_sample_value("aito_updates_total", {"outcome": "deferred"}) == 1, timeout=30)
        assert bot.channel.inbox.status(request["update_id"]) == "handled"
        assert not api.faults, "every attempt was made"
        family_messages = len(api.messages_to(USER))
        assert family_messages >= 6, "the family was answered"
        assert not api.messages_to(STAFF_CHAT)
        assert _errors(bot, "unavailable") == 1
        await bot.channel.finish_unfinished(bot.application.bot)  # Telegram is back; the retry runs
        assert bot.channel.inbox.status(request["update_id"]) == "done"
        assert len(api.messages_to(STAFF_CHAT)) == 1, "the card, once"
        assert len(api.messages_to(USER)) == family_messages, "the family's replies are not sent again"
