"""The conversation engine: onboarding, buttons (stale and forged), media, commands, bad input, restarts."""

from __future__ import annotations

import pytest

from bot.core.messages import Incoming, MediaKind
from bot.core.texts import Texts
from bot.settings import ROOT, SERVED_LANGUAGES

TEXTS = Texts.load(ROOT / "content" / "strings")


def t(language: str, key: str, /, **values: object) -> str:
    from tests.client import plain

    return plain(TEXTS.get(language, key, **values))


def onboard(client, language_label: str = "English") -> None:
    client.send("/start")
    client.click(language_label)
    client.click("✅")


def test_start_greets_in_all_six_languages_with_the_hint_first(make_client) -> None:
    client = make_client(language_hint="ru-RU")
    client.send("/start")
    for language in SERVED_LANGUAGES:
        assert t(language, "onboarding.hello") in client.text
    assert [b.label for b in client.buttons] == ["Русский", "Suomi", "English", "العربية", "Soomaali", "Kiswahili"]


def test_onboarding_reaches_the_menu_in_the_chosen_language(make_client) -> None:
    client = make_client()
    onboard(client, "Soomaali")
    assert t("so", "menu.title") in client.text
    assert client.button(t("so", "menu.guide"))


def test_refusing_consent_keeps_the_guide_and_emergency_numbers(make_client) -> None:
    client = make_client()
    client.send("/start")
    client.click("Kiswahili")
    client.click("🙅")
    assert t("sw", "privacy.refused") in client.text
    client.click("📚")
    assert t("sw", "guide.topics").split("\n")[0] in client.text
    client.send("/menu")
    client.click("🆘")
    assert "112" in client.text


def test_a_stale_button_is_refused_kindly_and_a_way_on_offered(make_client) -> None:
    client = make_client()
    client.send("/start")
    client.click("English")
    consent = client.button("✅").payload
    client.click("✅")
    client.press(consent)  # pressed again from the old message
    assert t("en", "errors.stale_button") in client.text
    assert client.buttons


def test_forged_button_data_is_refused(make_client) -> None:
    client = make_client()
    onboard(client)
    for forged in [
        "onboarding.language:xx",
        "guide.page:s-../../etc",
        "nonsense",
        "",
        "main.menu:",
        "guide.topics:not-a-section",
        "x" * 64,
        "main.menu:guide:extra",
    ]:
        client.press(forged)
        assert client.last, forged
        assert client.buttons, forged


def test_every_media_kind_gets_a_friendly_reply_and_the_menu(make_client) -> None:
    client = make_client()
    onboard(client, "Suomi")
    offered = {MediaKind.VOICE, MediaKind.PHOTO, MediaKind.DOCUMENT}  # a counsellor can look at these (handoff)
    for kind in MediaKind:
        client.send_media(kind)
        key = f"handoff.media_offer.{kind.value}" if kind in offered else f"media.{kind.value}"
        assert t("fi", key) in client.text
        assert client.buttons


def test_unknown_command_gets_help(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send("/frobnicate")
    assert t("en", "errors.unknown_command") in client.text
    assert "/menu" in client.text


def test_bad_input_always_gets_a_bounded_reply(make_client) -> None:
    client = make_client()
    onboard(client)
    for text in ["", "   ", "\u200f\u200e\u200b", "😀😀😀", "x" * 5000, "<b>not html</b> & stuff", "\x00\x01"]:
        replies = client.send(text)
        assert replies and all(1 <= len(r.text) <= 4096 for r in replies)


def test_two_misunderstandings_in_a_row_keep_offering_a_way_on(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send("qwerty asdf")
    assert client.buttons
    client.send("zxcv")
    assert client.buttons


class _Fixed:
    """An NLU that hears every message in one language, with one confidence, as a crisis or not."""

    def __init__(self, language: str, confidence: float, crisis: bool = False, intent: str = "greet") -> None:
        self.language, self.confidence, self.crisis, self.intent = language, confidence, crisis, intent

    def understand(self, text: str, **_: object) -> object:
        from tests.fakes import FixedUnderstanding

        ranking = ((self.intent, 0.9),)
        return FixedUnderstanding(text, self.language, self.confidence, self.intent, 0.9, self.crisis, ranking)


class _Unsure:
    """An NLU that ranks every (English) message the same way."""

    def __init__(self, *ranking: tuple[str, float]) -> None:
        self.ranking = ranking

    def understand(self, text: str, **_: object) -> object:
        from tests.fakes import FixedUnderstanding

        intent, confidence = self.ranking[0]
        return FixedUnderstanding(text, "en", 0.9, intent, confidence, False, self.ranking)


def test_an_unsure_message_offers_the_likeliest_topics_but_never_erasing_the_data(make_client) -> None:
    ranking = (
        ("privacy_delete", 0.3),
        ("cancel_booking", 0.2),  # this family has no booking to move or cancel
        ("human_handoff", 0.18),  # the person has a button of its own, below
        ("topic_housing", 0.15),
        ("topic_money", 0.1),
        ("topic_health", 0.08),
        ("topic_school", 0.05),
    )
    client = make_client(nlu=_Unsure(*ranking))
    onboard(client)
    client.send("the papers from the office about the flat")
    assert t("en", "nlu.clarify") in client.text
    labels = [button.label for button in client.buttons]
    assert labels[:3] == [t("en", f"intent.{intent}") for intent in ("topic_housing", "topic_money", "topic_health")]
    assert labels.count(t("en", "handoff.talk_to_person")) == 1  # and a person, always, once
    client.click(t("en", "intent.topic_money"))
    assert "Kela" in client.text


def test_a_message_surely_out_of_scope_is_not_understood_instead_of_guessed_at(make_client) -> None:
    client = make_client(nlu=_Unsure(("out_of_scope", 0.99), ("topic_housing", 0.004), ("topic_money", 0.003)))
    onboard(client)
    client.send("what is the weather tomorrow")
    assert t("en", "errors.not_understood") in client.text
    assert t("en", "intent.topic_housing") not in [button.label for button in client.buttons]
    assert client.button(t("en", "handoff.talk_to_person"))


@pytest.mark.parametrize("text", ["asdkj qwe", "jjjj kkk lll"])
def test_gibberish_whose_likeliest_reading_is_out_of_scope_gets_no_guesses(make_client, text: str) -> None:
    client = make_client(nlu=_Unsure(("out_of_scope", 0.28), ("topic_housing", 0.09), ("topic_money", 0.08)))
    onboard(client)
    client.send(text)
    assert t("en", "errors.not_understood") in client.text
    assert t("en", "nlu.clarify") not in client.text


def test_a_long_message_offers_a_person_and_the_two_likeliest_topics(make_client) -> None:
    client = make_client(nlu=_Unsure(("topic_housing", 0.7), ("topic_money", 0.2), ("topic_school", 0.1)))
    onboard(client)
    situation = "We came in August. The flat is cold and the landlord does not answer. " * 5  # 350 characters
    client.send(situation)
    assert t("en", "nlu.long_message") in client.text
    labels = [button.label for button in client.buttons]
    assert labels[:2] == [t("en", "intent.topic_housing"), t("en", "intent.topic_money")]
    client.click(t("en", "handoff.talk_to_person"))
    assert t("en", "handoff.opened", ticket=1) in client.text  # a request for a person, as from the menu
    one_topic = make_client(user_id="2202", nlu=_Unsure(("topic_money", 0.9), ("reminders_on", 0.04)))
    onboard(one_topic)
    one_topic.send(situation)
    labels = [button.label for button in one_topic.buttons]
    assert t("en", "intent.topic_money") in labels and t("en", "intent.reminders_on") not in labels
    short = make_client(user_id="2201", nlu=_Unsure(("topic_housing", 0.7), ("topic_money", 0.2)))
    onboard(short)
    short.send("The flat is cold")
    assert t("en", "nlu.long_message") not in short.text  # a short one is answered at once


class _Replies:
    """An NLU with a fixed reading per message: text → intent (confidence 0.95), anything else out of scope."""

    def __init__(self, **intents: str) -> None:
        self.intents = intents

    def understand(self, text: str, **_: object) -> object:
        from tests.fakes import FixedUnderstanding

        intent = self.intents.get(text.replace(" ", "_"), "out_of_scope")
        return FixedUnderstanding(text, "en", 0.9, intent, 0.95, False, ((intent, 0.95),))


def test_a_typed_yes_or_no_is_the_steps_yes_or_no_button(make_client) -> None:
    client = make_client(nlu=_Replies(sure="affirm", no_thanks="deny"))
    onboard(client)
    client.send("asdf")
    client.send("qwer")  # twice not understood: "would you like to talk to a person?"
    assert t("en", "handoff.offer_person") in client.text
    client.send("sure")
    assert t("en", "handoff.opened", ticket=1) in client.text  # as the yes button would
    other = make_client(user_id="2301", nlu=_Replies(sure="affirm", no_thanks="deny"))
    onboard(other)
    other.send("asdf")
    other.send("qwer")
    other.send("no thanks")
    assert t("en", "menu.title") in other.text


def test_a_typed_yes_never_erases_the_data(make_client) -> None:
    client = make_client(nlu=_Replies(delete_everything="privacy_delete", sure="affirm"))
    onboard(client)
    client.send("delete everything")
    assert client.buttons[0].label == t("en", "privacy.delete_no")  # the safe answer first
    client.send("sure")
    assert t("en", "privacy.deleted") not in client.text
    client.send("/menu")
    assert t("en", "menu.title") in client.text  # still here, consent and all
    assert client.button("📅")


def test_help_shows_the_things_it_names(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send("/help")
    assert t("en", "help.text") in client.text  # "I can help you with these things", and then they are:
    assert t("en", "menu.title") in client.text and client.button(t("en", "menu.guide"))


def test_language_switch_is_offered_once_not_forced(make_client) -> None:
    client = make_client(nlu=_Fixed("so", 0.97))
    onboard(client)
    client.send("iska warran saaxiib")
    offer = t("en", "language.switch_offer", language="Somali", in_their_language=t("so", "language.switch_offer_to"))
    assert offer in client.text  # named in English, and asked in Somali too
    assert client.button("Soomaali")  # the button in its own language
    client.click(t("en", "language.keep"))
    assert t("en", "chat.greet") in client.text  # the pending intent is answered, still in English
    client.send("iska warran")  # "no" is remembered: answered at once, not asked again
    assert t("en", "chat.greet") in client.text
    assert "Soomaali" not in [button.label for button in client.buttons]


@pytest.mark.parametrize("text", ["?", "...", "123", "🙂"])
def test_a_message_without_letters_gets_no_guesses(make_client, real_nlu, text: str) -> None:
    client = make_client(user_id=f"signs-{len(text)}-{ord(text[0])}", nlu=real_nlu)
    onboard(client)
    client.send(text)
    assert t("en", "errors.not_understood") in client.text
    assert t("en", "nlu.clarify") not in client.text
    assert client.button(t("en", "handoff.talk_to_person"))


def test_a_greeting_in_another_script_is_offered_its_language(make_client, real_nlu) -> None:
    # The real detector: the stored English does not talk the bot out of "سلام" being Arabic.
    client = make_client(nlu=real_nlu)
    onboard(client)
    client.send("سلام")
    assert t("en", "language.switch_offer", language="Arabic", in_their_language="").strip() in client.text
    assert t("ar", "language.switch_offer_to") in client.text
    assert client.button("العربية")


def test_accepting_a_language_switch_goes_on_in_the_new_language(make_client) -> None:
    greeting = make_client(user_id="2101", nlu=_Fixed("so", 0.97))
    onboard(greeting)
    greeting.send("iska warran")
    greeting.click("Soomaali")
    assert t("so", "onboarding.language_set") in greeting.text and t("so", "chat.greet") in greeting.text
    asking = make_client(user_id="2102", nlu=_Fixed("en", 0.97, intent="change_language"))
    onboard(asking, "Suomi")
    asking.send("can you speak english")
    asking.click("English")  # the switch answers the question: no language menu after it
    assert t("en", "onboarding.language_set") in asking.text and t("en", "menu.title") in asking.text
    assert "Suomi" not in [button.label for button in asking.buttons]


def test_crisis_gets_emergency_information_first(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send("I want to kill myself")
    assert client.last[0].text == TEXTS.get("en", "crisis.info")


def test_before_a_language_is_chosen_a_crisis_gets_emergency_information_at_once(make_client) -> None:
    """The first thing a family writes may be a crisis: not the language menu, the emergency numbers."""
    client = make_client(nlu=_Fixed("ar", 0.6, crisis=True))
    client.send("/start")
    client.send("زوجي يضربني وأنا خائفة")  # typed instead of pressing a language button
    assert client.last[0].text == TEXTS.get("ar", "crisis.info")  # in the language it was written in
    assert client.button(t("ar", "handoff.talk_to_person"))


def test_a_crisis_in_a_photos_caption_gets_emergency_information_first(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send_media(MediaKind.PHOTO, caption="I want to kill myself")
    assert client.last[0].text == TEXTS.get("en", "crisis.info")
    client.send_media(MediaKind.PHOTO, caption="our new flat")
    assert TEXTS.get("en", "crisis.info") not in [reply.text for reply in client.last]
    assert client.last  # the photo itself is answered as before


def test_before_a_language_is_chosen_typing_its_name_or_writing_in_it_chooses_it(make_client) -> None:
    named = make_client(user_id="2001", nlu=_Fixed("en", 0.5))
    named.send("/start")
    named.send("Af-Soomaali")
    assert t("so", "onboarding.language_set") in named.text and named.button("✅")
    written = make_client(user_id="2002", nlu=_Fixed("sw", 0.95))
    written.send("habari, nataka kujua kuhusu mikutano ya wiki")  # no /start first
    assert t("sw", "onboarding.language_set") in written.text
    for user_id, nlu in (("2003", _Fixed("sw", 0.6)), ("2004", _Fixed("uk", 0.99))):  # unsure; not served
        menu = make_client(user_id=user_id, nlu=nlu)
        menu.send("привіт, коли зустріч?")
        assert [b.label for b in menu.buttons] == ["Suomi", "English", "العربية", "Русский", "Soomaali", "Kiswahili"]


def test_the_question_of_a_first_message_is_answered_once_onboarding_is_done(make_client) -> None:
    client = make_client(nlu=_Fixed("sw", 0.95, intent="topic_money"))
    client.send("habari, nahitaji msaada na Kela")  # the first message, no language chosen
    assert t("sw", "onboarding.language_set") in client.text
    client.click("✅")
    assert t("sw", "privacy.thanks") in client.text
    assert "Kela" in client.text and t("sw", "menu.title") not in client.text  # the answer, not the menu


def test_a_message_close_to_a_crisis_is_answered_and_gets_a_safety_question(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send("thanks, but I cannot go on like this")
    assert client.last[0].text == TEXTS.get("en", "chat.thanks")  # the answer comes first, as usual
    assert t("en", "menu.title") in client.text
    check = client.last[-1]
    assert check.text == TEXTS.get("en", "crisis.check")
    assert [b.label for row in check.buttons for b in row] == [
        t("en", "crisis.check_help"),
        t("en", "handoff.talk_to_person"),
    ]
    help_now = client.button(t("en", "crisis.check_help")).payload
    client.click(t("en", "menu.guide"))  # the answer's own buttons still work: the question left the step alone
    assert t("en", "menu.guide") not in [b.label for b in client.buttons]
    client.press(help_now)  # and the question's button works from wherever the family is now
    assert client.last[0].text == TEXTS.get("en", "crisis.info")


def test_the_safety_question_is_not_added_to_a_crisis_or_an_ordinary_message(make_client) -> None:
    client = make_client()
    onboard(client)
    client.send("I cannot go on, I want to kill myself")
    assert client.last[0].text == TEXTS.get("en", "crisis.info")
    assert t("en", "crisis.check") not in client.text
    client.send("thanks")
    assert t("en", "crisis.check") not in client.text


def test_state_survives_a_restart(make_client, tmp_path) -> None:
    from bot.app import build_conversation, build_services
    from tests.client import BotClient
    from tests.conftest import make_settings
    from tests.fakes import KeywordNLU

    client = make_client()
    client.send("/start")
    client.click("Русский")
    consent = client.button("✅").payload
    url = f"sqlite:///{tmp_path / 'core.db'}"
    services = build_services(make_settings(url, tmp_path), nlu=KeywordNLU())  # a new process, same database
    fresh = BotClient(build_conversation(services), user_id=client.user_id)
    fresh.press(consent)
    assert t("ru", "menu.title") in fresh.text
    services.db.dispose()


def test_an_idempotency_key_makes_a_redelivery_answer_once(make_client) -> None:
    client = make_client()
    onboard(client)
    message = Incoming(client.user, text="/help", idempotency_key=42)
    first = client.conversation.handle(message)
    second = client.conversation.handle(message)
    assert first and second == []


def test_last_contact_is_kept_to_the_minute_and_writing_again_lifts_a_block(make_client) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from bot.db.models import User

    client = make_client()
    services = client.conversation.services
    now = [datetime(2026, 11, 29, 12, 0, tzinfo=UTC)]
    services.clock = lambda: now[0]

    def stored() -> tuple[datetime, datetime | None]:
        with services.db.sessions() as session:
            user = session.scalars(select(User).where(User.external_id == client.user_id)).one()
            return user.last_seen_at, user.blocked_at

    onboard(client)
    assert stored() == (now[0], None)
    now[0] += timedelta(seconds=40)
    client.send("/help")
    assert stored()[0] == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # not rewritten within the minute
    now[0] += timedelta(minutes=2)
    client.conversation.user_blocked(client.user)
    assert stored() == (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), now[0])
    client.send("/help")
    assert stored() == (now[0], None)


def test_database_work_runs_on_postgresql_too(make_client, database_url) -> None:
    client = make_client(database_url)
    onboard(client, "العربية")
    assert t("ar", "menu.title") in client.text
    client.send("hello")
    assert t("ar", "chat.greet") in client.text


def test_the_language_menu_lets_a_family_keep_its_language(make_client) -> None:
    client = make_client(user_id="keep-language")
    client.send("/start")
    assert t("en", "common.menu") not in [button.label for button in client.buttons], "a new family chooses first"
    client.click("English")
    client.click("✅")
    client.send("/language")
    client.click(t("en", "common.menu"))  # e.g. after an unserved language brought the menu of languages
    assert t("en", "menu.title") in client.text
