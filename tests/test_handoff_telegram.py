"""Handoff end to end: the real python-telegram-bot Application against a local Bot API server, with a
staff group (negative chat id), a listed counsellor and a stranger in it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.telegram import addressed_to_us
from bot.core.messages import Incoming, UserRef
from bot.db.models import AuditEntry, Counsellor
from bot.features.handoff.models import Ticket, TicketMessage, TicketStatus
from bot.settings import Settings
from bot.testing.fake_bot_api import FakeBotApi, Sent
from tests.conftest import make_settings
from tests.handoff_support import COUNSELLOR, STAFF_CHAT, STRANGER, TEXTS, WEDNESDAY_10, Clock, HandoffNLU, t
from tests.telegram_harness import RunningBot, running_bot

FAMILY = 5550101
ARABIC_FAMILY = 5550202
OFF_DUTY = 7003


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path, staff_chat_id=STAFF_CHAT)


def start(bot: RunningBot, clock: Clock) -> None:
    """The injected clock, and Anna on the counsellor list (once per database)."""
    bot.services.clock = clock
    with bot.services.db.session() as session:
        if session.scalar(select(Counsellor).where(Counsellor.telegram_id == COUNSELLOR)) is None:
            session.add(Counsellor(telegram_id=COUNSELLOR, name="Anna", languages="fi,en", on_duty=True))


async def onboard(api: FakeBotApi, user: int, label: str, language: str) -> None:
    await api.user_says(user, "/start", language_code=language)
    greeting = (await api.wait_for_messages(user, 1))[-1]
    await api.user_presses(user, greeting, label, language_code=language)
    consent = await api.wait_for(lambda: [s for s in api.messages_to(user) if any("✅" in b for b in s.button_labels)])
    await api.user_presses(user, consent[-1], "✅", language_code=language)
    await api.wait_for(lambda: api.messages_to(user)[-1].text == t(language, "menu.title"))


def staff_with(api: FakeBotApi, part: str) -> list[Sent]:
    return [s for s in api.messages_to(STAFF_CHAT) if part in s.text]


async def card_of(api: FakeBotApi, ticket_id: int) -> Sent:
    """The latest version of a ticket's card (sent, or edited in place)."""
    cards = await api.wait_for(lambda: staff_with(api, f"#{ticket_id}</b>"))
    return cards[-1]


def ticket(bot: RunningBot, ticket_id: int = 1) -> Ticket:
    with bot.services.db.sessions() as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None
        return row


async def test_swahili_request_claim_relay_both_ways_close_and_rating(api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))
        await onboard(api, FAMILY, "Kiswahili", "sw")
        await api.user_says(FAMILY, "Nataka kuongea na mtu kuhusu shule", language_code="sw")

        # the family is told at once, in Swahili, what happens and when
        told = await api.wait_for(lambda: [s for s in api.messages_to(FAMILY) if "16:00" in s.text])
        assert told[-1].text == t("sw", "handoff.answer_today", until="16:00 (saa 10 alasiri)")
        assert t("sw", "handoff.opened", ticket=1) in [s.text for s in api.messages_to(FAMILY)]
        # a ticket card in the staff group: language, topic, urgency, a pseudonym, never the Telegram name
        card = await card_of(api, 1)
        assert "Kiswahili (sw)" in card.text and "F-00001" in card.text and "🟢" in card.text
        assert t("fi", "intent.topic_school") in card.text
        assert "User5550101" not in card.text and str(FAMILY) not in card.text
        assert card.button_labels == [t("fi", "handoff.staff.claim"), t("fi", "handoff.staff.close")]

        # a counsellor claims it: the family hears who is there, the card shows who has it
        await api.user_presses(COUNSELLOR, card, "✋")
        await api.wait_for(
            lambda: any(s.text == t("sw", "handoff.connected", name="Anna") for s in api.messages_to(FAMILY))
        )
        claimed_card = await card_of(api, 1)
        assert claimed_card.method == "editMessageText" and "Anna" in claimed_card.text
        assert claimed_card.button_labels == [t("fi", "handoff.staff.take_over"), t("fi", "handoff.staff.close")]

        # two messages each way; the bot says nothing itself meanwhile
        before = len(api.messages_to(FAMILY))
        for text in ["Mtoto wangu ana shida shuleni", "Mwalimu hanijibu <barua> & simu"]:
            await api.user_says(FAMILY, text, language_code="sw")
        relayed = await api.wait_for(
            lambda: staff_with(api, "F-00001</b> (#1)") if len(staff_with(api, "F-00001</b> (#1)")) >= 2 else None
        )
        assert "Mtoto wangu ana shida shuleni" in relayed[0].text
        assert "&lt;barua&gt; &amp; simu" in relayed[1].text  # the family's text is escaped
        assert all(s.params.get("reply_parameters") for s in relayed), "non-forum group: replies to the card"
        for number, text in enumerate(["Habari! Ninaweza kusaidia.", "Tutapiga simu kesho."]):
            await api.user_says(COUNSELLOR, text, chat_id=STAFF_CHAT, reply_to_message=api.reply_to(relayed[number]))
        answers = await api.wait_for(
            lambda: (
                [s for s in api.messages_to(FAMILY)[before:] if "Anna" in s.text]
                if len(api.messages_to(FAMILY)) >= before + 2
                else None
            )
        )
        assert [a.text.split("\n", 1)[1] for a in answers] == ["Habari! Ninaweza kusaidia.", "Tutapiga simu kesho."]
        assert len(api.messages_to(FAMILY)) == before + 2, "only the counsellor's messages, nothing from the bot"

        # closing: a closing message and a 1–5 rating, then the bot is back
        await api.user_presses(COUNSELLOR, await card_of(api, 1), "✅")
        rating = await api.wait_for(
            lambda: [s for s in api.messages_to(FAMILY) if s.text == t("sw", "handoff.rate_question")]
        )
        assert t("sw", "handoff.closed") in [s.text for s in api.messages_to(FAMILY)]
        stars = [label for label in rating[-1].button_labels if "⭐" in label]
        assert stars == ["1 ⭐", "2 ⭐", "3 ⭐", "4 ⭐", "5 ⭐"]
        await api.user_presses(FAMILY, rating[-1], "5 ⭐", language_code="sw")
        await api.wait_for(lambda: any(s.text == t("sw", "handoff.rated") for s in api.messages_to(FAMILY)))
        await api.wait_for(lambda: staff_with(api, "5/5"))
        row = ticket(bot)
        assert row.status == TicketStatus.CLOSED and row.rating == 5 and row.closed_by == "counsellor"
        with bot.services.db.sessions() as session:
            actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["ticket.claim", "ticket.reply", "ticket.reply", "ticket.close"]
        # the bot answers again
        await api.user_says(FAMILY, "/menu", language_code="sw")
        await api.wait_for(lambda: api.messages_to(FAMILY)[-1].text == t("sw", "menu.title"))


async def test_crisis_in_arabic_gets_emergency_numbers_first_then_an_urgent_ticket(
    api: FakeBotApi, settings: Settings
) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))
        await onboard(api, ARABIC_FAMILY, "العربية", "ar")
        before = len(api.messages_to(ARABIC_FAMILY))
        await api.user_says(ARABIC_FAMILY, "أريد أن أقتل نفسي", language_code="ar")
        card = await card_of(api, 1)
        replies = await api.wait_for_messages(ARABIC_FAMILY, before + 2)
        assert replies[before].text == t("ar", "crisis.info")
        assert replies[before + 1].text == t("ar", "handoff.urgent_now")
        first_family = next(i for i, s in enumerate(api.sent) if s.text == t("ar", "crisis.info"))
        assert first_family < api.sent.index(card), "the emergency information goes out before the ticket card"
        assert t("fi", "handoff.staff.urgent") in card.text and "العربية (ar)" in card.text
        assert ticket(bot).urgent and ticket(bot).reason == "crisis"
        # the crisis message has a "talk to a person" button that finds the same ticket
        assert t("ar", "handoff.talk_to_person") in replies[before].button_labels


async def test_a_claim_by_someone_not_listed_is_refused_and_audited(api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))
        await onboard(api, FAMILY, "Kiswahili", "sw")
        await api.user_says(FAMILY, "mtu tafadhali", language_code="sw")
        card = await card_of(api, 1)
        await api.user_presses(STRANGER, card, "✋")
        await api.wait_for(lambda: staff_with(api, "⛔"))
        assert ticket(bot).status == TicketStatus.OPEN and ticket(bot).counsellor_id is None
        assert (await card_of(api, 1)).button_labels == card.button_labels, "the card keeps its buttons"
        # a stranger's reply to the card is not relayed either
        before = len(api.messages_to(FAMILY))
        await api.user_says(STRANGER, "hello from a stranger", chat_id=STAFF_CHAT, reply_to_message=api.reply_to(card))
        await api.wait_for(lambda: len(staff_with(api, "⛔")) >= 2)
        assert len(api.messages_to(FAMILY)) == before
        with bot.services.db.sessions() as session:
            refused = session.scalars(select(AuditEntry).where(AuditEntry.actor == "unlisted")).all()
        assert [(a.action, a.target) for a in refused] == [
            ("ticket.claim.refused", "ticket:1"),
            ("ticket.reply.refused", "ticket:1"),
        ]
        assert all(str(STRANGER) not in str(a.details) for a in refused)
        # a forged button (another ticket's id on this card) is refused too
        await api.user_presses(COUNSELLOR, card, "", data="ticket:claim:99")
        await api.wait_for(lambda: staff_with(api, t("fi", "handoff.staff.stale")))
        assert ticket(bot).status == TicketStatus.OPEN


async def test_a_ticket_survives_a_restart_in_every_state(api: FakeBotApi, settings: Settings) -> None:
    clock = Clock(WEDNESDAY_10)
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, clock)
        await onboard(api, FAMILY, "Kiswahili", "sw")
        await api.user_says(FAMILY, "mtu tafadhali", language_code="sw")
        card = await card_of(api, 1)
    # open → restart → claimed
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, clock)
        assert ticket(bot).status == TicketStatus.OPEN and ticket(bot).card_message_id == card.message_id
        await api.user_presses(COUNSELLOR, card, "✋")
        await api.wait_for(lambda: any("Anna" in s.text for s in api.messages_to(FAMILY)))
    # claimed → restart → the relay still works both ways
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, clock)
        assert ticket(bot).status == TicketStatus.CLAIMED
        await api.user_says(FAMILY, "Bado uko hapo?", language_code="sw")
        relayed = (await api.wait_for(lambda: staff_with(api, "Bado uko hapo?")))[-1]
        await api.user_says(COUNSELLOR, "Ndiyo, niko hapa.", chat_id=STAFF_CHAT, reply_to_message=api.reply_to(relayed))
        await api.wait_for(lambda: any("Ndiyo, niko hapa." in s.text for s in api.messages_to(FAMILY)))
        await api.user_says(COUNSELLOR, "/close", chat_id=STAFF_CHAT, reply_to_message=api.reply_to(relayed))
        rating = await api.wait_for(
            lambda: [s for s in api.messages_to(FAMILY) if s.text == t("sw", "handoff.rate_question")]
        )
    # closed → restart → the rating is still taken, and the family can open a new request
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, clock)
        assert ticket(bot).status == TicketStatus.CLOSED
        await api.user_presses(FAMILY, rating[-1], "4 ⭐", language_code="sw")
        await api.wait_for(lambda: any(s.text == t("sw", "handoff.rated") for s in api.messages_to(FAMILY)))
        assert ticket(bot).rating == 4
        await api.user_says(FAMILY, "mtu tena", language_code="sw")
        await card_of(api, 2)


async def test_forum_group_gets_a_topic_per_ticket_and_the_conversation_happens_there(
    api: FakeBotApi, settings: Settings
) -> None:
    api.forum_chats.add(STAFF_CHAT)
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))
        await onboard(api, FAMILY, "Kiswahili", "sw")
        await api.user_says(FAMILY, "mtu tafadhali", language_code="sw")
        card = await card_of(api, 1)
        assert api.forum_topics and api.forum_topics[0]["name"].startswith("#1 Kiswahili F-00001")
        thread = api.forum_topics[0]["message_thread_id"]
        assert card.params.get("message_thread_id") == thread
        await api.wait_for(lambda: ticket(bot).staff_thread_id == thread)
        await api.user_presses(COUNSELLOR, card, "✋")
        await api.wait_for(lambda: any("Anna" in s.text for s in api.messages_to(FAMILY)))
        await api.user_says(FAMILY, "Habari", language_code="sw")
        relayed = (await api.wait_for(lambda: staff_with(api, "Habari")))[-1]
        assert relayed.params.get("message_thread_id") == thread
        topic = {"message_thread_id": thread, "is_topic_message": True}
        await api.user_says(COUNSELLOR, "Karibu!", chat_id=STAFF_CHAT, **topic)
        await api.wait_for(lambda: any("Karibu!" in s.text for s in api.messages_to(FAMILY)))
        await api.user_says(COUNSELLOR, "/close", chat_id=STAFF_CHAT, **topic)
        await api.wait_for(lambda: ticket(bot).status == TicketStatus.CLOSED)


async def test_voice_message_is_offered_to_a_counsellor_and_media_is_relayed_by_file_id(
    api: FakeBotApi, settings: Settings
) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))
        await onboard(api, FAMILY, "Kiswahili", "sw")
        await api.user_sends(
            FAMILY, {"voice": {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3}}, language_code="sw"
        )
        offer = await api.wait_for(
            lambda: [s for s in api.messages_to(FAMILY) if s.text == t("sw", "handoff.media_offer.voice")]
        )
        await api.user_presses(FAMILY, offer[-1], "✅", language_code="sw")
        voice = await api.wait_for(lambda: [s for s in api.sent if s.method == "sendVoice"])
        assert voice[0].chat_id == STAFF_CHAT and voice[0].params["voice"] == "voice-1"
        assert "F-00001" in voice[0].text and ticket(bot).reason == "media"
        # the counsellor answers the voice message with a photo: the family gets it by file id
        await api.user_sends(
            COUNSELLOR,
            {
                "photo": [{"file_id": "photo-9", "file_unique_id": "p9", "width": 10, "height": 10}],
                "caption": "Angalia hii",
            },
            chat_id=STAFF_CHAT,
            reply_to_message=api.reply_to(voice[0]),
        )
        photo = await api.wait_for(lambda: [s for s in api.sent if s.method == "sendPhoto"])
        assert photo[0].chat_id == FAMILY and photo[0].params["photo"] == "photo-9"
        assert "Anna" in photo[0].text and "Angalia hii" in photo[0].text
        assert ticket(bot).status == TicketStatus.CLAIMED, "answering an open ticket claims it"


async def test_unclaimed_tickets_are_realerted_and_urgent_ones_reach_counsellors_on_duty(
    api: FakeBotApi, settings: Settings
) -> None:
    clock = Clock(WEDNESDAY_10)
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, clock)
        with bot.services.db.session() as session:  # Ben is on the list, but off duty (admin counsellor duty … off)
            session.add(Counsellor(telegram_id=OFF_DUTY, name="Ben", languages="fi,en", on_duty=False))
        await onboard(api, ARABIC_FAMILY, "العربية", "ar")
        await api.user_says(ARABIC_FAMILY, "أريد أن أقتل نفسي", language_code="ar")
        await card_of(api, 1)
        assert bot.application.job_queue is not None
        job = bot.application.job_queue.get_jobs_by_name("handoff-realert")[0]
        clock.now = WEDNESDAY_10 + timedelta(minutes=10)
        await job.run(bot.application)
        assert not staff_with(api, "⏰")
        clock.now = WEDNESDAY_10 + timedelta(minutes=16)
        await job.run(bot.application)
        alert = await api.wait_for(lambda: staff_with(api, "⏰"))
        values = {"ticket": 1, "language": "العربية", "waited": "16 min"}
        assert alert[0].text == TEXTS.get("fi", "handoff.staff.realert_urgent", **values)
        private = await api.wait_for(lambda: api.messages_to(COUNSELLOR))
        assert "#1" in private[0].text and "أريد" not in private[0].text
        await job.run(bot.application)  # not again until another interval has passed
        assert len(staff_with(api, "⏰")) == 1
        # Over a weekend the wait reads in days and hours, not "3840 min".
        clock.now = WEDNESDAY_10 + timedelta(minutes=3840)
        await job.run(bot.application)
        later = await api.wait_for(lambda: staff_with(api, "2 vrk 16 h"))
        assert "min" not in later[0].text
        await api.wait_for(lambda: len(api.messages_to(COUNSELLOR)) == 2)
        assert "2 vrk 16 h" in api.messages_to(COUNSELLOR)[-1].text
        assert api.messages_to(OFF_DUTY) == [], "no private alerts for a counsellor off duty"


async def test_staff_group_help_unknown_commands_and_commands_for_other_bots(
    api: FakeBotApi, settings: Settings
) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))

        async def answer(user: int, text: str) -> Sent:
            """The bot's reply in the staff group to `text`; earlier messages of `user` were handled before it."""
            before = len(api.messages_to(STAFF_CHAT))
            await api.user_says(user, text, chat_id=STAFF_CHAT)
            return (await api.wait_for(lambda: api.messages_to(STAFF_CHAT)[before:]))[0]

        # Chat between counsellors and a command for another bot get no answer; /help lists the staff commands.
        await api.user_says(COUNSELLOR, "Good morning, team! Lunch at 12?", chat_id=STAFF_CHAT)
        await api.user_says(COUNSELLOR, "/queue@some_other_bot", chat_id=STAFF_CHAT)
        help_text = (await answer(COUNSELLOR, "/help")).text
        assert len(api.messages_to(STAFF_CHAT)) == 1, "only /help was answered"
        registry = bot.services.registry
        assert {"queue", "close", "occurrences", "rsvps", "attended", "stats"} <= set(registry.staff_group_commands)
        assert registry.staff_private_commands == ["slots"]
        assert help_text.startswith(t("fi", "staff.help_title")), "in STAFF_LANGUAGE, whoever asks"
        for name in [*registry.staff_group_commands, *registry.staff_private_commands]:
            assert t("fi", f"staff.help.{name}") in help_text, name
        assert help_text.index("/stats") < help_text.index(t("fi", "staff.help_private")) < help_text.index("/slots")

        # Our own @username is ours; an unknown command gets one line; a private chat's command says where it works.
        assert (await answer(COUNSELLOR, "/queue@aito_test_bot")).text == t("fi", "handoff.staff.queue_empty")
        assert (await answer(COUNSELLOR, "/quuee")).text == t("fi", "staff.unknown_command", command="/quuee")
        assert (await answer(COUNSELLOR, "/slots")).text == t("fi", "staff.private_only", command="/slots")

        # Someone not on the list: nothing for /help or an unknown command, the usual refusal for a staff command.
        before = len(api.messages_to(STAFF_CHAT))
        await api.user_says(STRANGER, "/help", chat_id=STAFF_CHAT)
        await api.user_says(STRANGER, "/quuee", chat_id=STAFF_CHAT)
        assert (await answer(STRANGER, "/queue")).text == t("fi", "handoff.staff.refused")
        assert len(api.messages_to(STAFF_CHAT)) == before + 1


def test_a_command_is_ours_only_without_an_address_or_with_our_username() -> None:
    assert addressed_to_us("/close@Aito_Test_Bot 3", "aito_test_bot") == "/close 3", "usernames ignore case"
    assert addressed_to_us("/queue@aito_test_bot", "aito_test_bot") == "/queue"
    assert addressed_to_us("/queue@other_bot", "aito_test_bot") is None
    assert addressed_to_us("/close@aito_test_bot\n3", "aito_test_bot") == "/close\n3"
    assert addressed_to_us("/queue", "aito_test_bot") == "/queue"
    assert addressed_to_us("mail me at a@b.fi", "aito_test_bot") == "mail me at a@b.fi"
    assert addressed_to_us("/queue@other_bot", None) == "/queue", "before getMe: as before"
    assert Incoming(UserRef("console", "x"), text="/queue@other_bot").command == ("queue@other_bot", "")


async def claimed_by_reply(api: FakeBotApi, bot: RunningBot) -> Sent:
    """A Swahili family's request, claimed by Anna's reply to its card; returns the card as first sent."""
    start(bot, Clock(WEDNESDAY_10))
    await onboard(api, FAMILY, "Kiswahili", "sw")
    await api.user_says(FAMILY, "mtu tafadhali", language_code="sw")
    card = await card_of(api, 1)
    await api.wait_for(lambda: ticket(bot).card_message_id == card.message_id)
    await api.user_says(COUNSELLOR, "Habari, mimi ni Anna", chat_id=STAFF_CHAT, reply_to_message=api.reply_to(card))
    await api.wait_for(lambda: any("Habari, mimi ni Anna" in s.text for s in api.messages_to(FAMILY)))
    return card


async def test_the_card_is_edited_in_place_when_the_request_is_claimed_by_reply_and_ended(
    api: FakeBotApi, settings: Settings
) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        card = await claimed_by_reply(api, bot)
        edited = await api.wait_for(
            lambda: [s for s in api.sent if s.method == "editMessageText" and s.message_id == card.message_id]
        )
        assert edited[-1].chat_id == STAFF_CHAT and "Anna" in edited[-1].text
        assert t("fi", "handoff.staff.status_open") not in edited[-1].text
        assert edited[-1].button_labels == [t("fi", "handoff.staff.take_over"), t("fi", "handoff.staff.close")]
        await api.user_says(FAMILY, "/stop", language_code="sw")
        closed = await api.wait_for(
            lambda: [
                s
                for s in api.sent
                if s.method == "editMessageText"
                and s.message_id == card.message_id
                and t("fi", "handoff.staff.status_closed", time="10.00") in s.text
            ]
        )
        assert closed[-1].button_labels == []
        assert len([s for s in api.messages_to(STAFF_CHAT) if s.method == "sendMessage" and "#1</b>" in s.text]) == 1


async def test_the_first_message_to_a_family_that_blocked_the_bot_is_reported_at_once(
    api: FakeBotApi, settings: Settings
) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        card = await claimed_by_reply(api, bot)
        api.blocked_chats.add(FAMILY)
        sent = await api.user_says(COUNSELLOR, "Uko hapo?", chat_id=STAFF_CHAT, reply_to_message=api.reply_to(card))
        notice = await api.wait_for(lambda: staff_with(api, t("fi", "handoff.staff.family_blocked", ticket=1)))
        assert notice[0].params["reply_parameters"]["message_id"] == sent["message"]["message_id"]


async def test_long_messages_and_captions_arrive_whole_and_every_part_takes_a_reply(
    api: FakeBotApi, settings: Settings
) -> None:
    async with running_bot(settings, api, HandoffNLU()) as bot:
        await claimed_by_reply(api, bot)
        # the fake Bot API refuses more than 4096 characters after entity parsing, as Telegram does
        words = " ".join(f"[{n:04}] & <x>" for n in range(315))
        await api.user_says(FAMILY, words, language_code="sw")
        parts = await api.wait_for(lambda: (found := staff_with(api, "(#1):")) and "(2/2)" in found[-1].text and found)
        assert "[0314] &amp; &lt;x&gt;" in parts[-1].text and "(1/2)" in parts[-2].text
        # a photo whose caption is too long for a caption: its text follows as a message of its own
        photo = {
            "photo": [{"file_id": "ph-8", "file_unique_id": "p8", "width": 10, "height": 10}],
            "caption": "y" * 1100,
        }
        await api.user_sends(FAMILY, photo, language_code="sw")
        follow = await api.wait_for(lambda: [s for s in staff_with(api, "y" * 100) if s.method == "sendMessage"])
        await api.user_says(
            COUNSELLOR, "Naona picha yako", chat_id=STAFF_CHAT, reply_to_message=api.reply_to(follow[-1])
        )
        await api.wait_for(lambda: any("Naona picha yako" in s.text for s in api.messages_to(FAMILY)))


async def test_in_a_forum_topic_a_note_stays_with_the_counsellors(api: FakeBotApi, settings: Settings) -> None:
    api.forum_chats.add(STAFF_CHAT)
    async with running_bot(settings, api, HandoffNLU()) as bot:
        start(bot, Clock(WEDNESDAY_10))
        await onboard(api, FAMILY, "Kiswahili", "sw")
        await api.user_says(FAMILY, "mtu tafadhali", language_code="sw")
        await card_of(api, 1)
        thread = api.forum_topics[0]["message_thread_id"]
        await api.wait_for(lambda: ticket(bot).staff_thread_id == thread)
        topic = {"message_thread_id": thread, "is_topic_message": True}
        await api.user_says(COUNSELLOR, "// Does anyone here speak Swahili?", chat_id=STAFF_CHAT, **topic)
        await api.wait_for(lambda: directions(bot) == ["note"])
        assert ticket(bot).status == TicketStatus.OPEN, "a note does not claim"
        await api.user_says(COUNSELLOR, "Karibu!", chat_id=STAFF_CHAT, **topic)
        await api.wait_for(lambda: any("Karibu!" in s.text for s in api.messages_to(FAMILY)))
        assert not any("Swahili?" in s.text for s in api.messages_to(FAMILY))
        assert ticket(bot).status == TicketStatus.CLAIMED


def directions(bot: RunningBot) -> list[str]:
    """What the counsellors' messages of ticket 1 were: relayed (out) or internal notes (note)."""
    with bot.services.db.sessions() as session:
        rows = session.scalars(select(TicketMessage).where(TicketMessage.direction.in_(("out", "note"))))
        return [row.direction for row in rows]
