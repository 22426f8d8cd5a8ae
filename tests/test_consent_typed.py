"""Answers typed at the consent question instead of pressed: a clear "yes" in any of the six languages is
consent, as "✅ I agree" is; a "no" refuses; anything else gives and refuses nothing, and the question is
asked again (a question in it is kept and answered once consent is settled)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.texts import Safe, Texts
from bot.db.models import User
from bot.settings import ROOT
from tests.client import BotClient, plain
from tests.fakes import FixedUnderstanding, KeywordNLU

TEXTS = Texts.load(ROOT / "content" / "strings")
LABELS = {"fi": "Suomi", "en": "English", "ar": "العربية", "ru": "Русский", "so": "Soomaali", "sw": "Kiswahili"}
YES = {"fi": "kyllä", "en": "yes", "ar": "نعم", "ru": "да", "so": "haa", "sw": "ndiyo"}
NO = {"fi": "ei", "en": "no", "ar": "لا", "ru": "нет", "so": "maya", "sw": "hapana"}


def t(language: str, key: str, **values: object) -> str:
    return plain(TEXTS.get(language, key, **values))


class ScriptedNLU(KeywordNLU):
    """Fixed readings of the messages these tests type: (language, intent, intent confidence)."""

    READINGS = {
        "yes": ("en", "affirm", 1.0),
        "no": ("en", "deny", 1.0),
        "i agree, i think": ("en", "affirm", 0.4),  # unsure: not a clear yes
        "help with kela": ("en", "topic_money", 0.95),
        "nahitaji msaada na kela": ("sw", "topic_money", 0.95),
        "ndiyo": ("sw", "affirm", 1.0),
        "i want to talk to a person": ("en", "human_handoff", 0.95),
        "مرحبا، أين الطبيب؟": ("ar", "topic_health", 0.95),
    }

    def understand(self, text: str, **kwargs: object) -> FixedUnderstanding:
        reading = self.READINGS.get(text.lower())
        if reading is None:
            return super().understand(text, **kwargs)  # type: ignore[arg-type]
        language, intent, confidence = reading
        return FixedUnderstanding(text, language, 0.95, intent, confidence, False, ((intent, confidence),))


def at_consent(client: BotClient, language: str = "en") -> None:
    client.send("/start")
    client.click(LABELS[language])
    assert t(language, "privacy.notice") in client.text


def stored_user(client: BotClient) -> User:
    with client.conversation.services.db.sessions() as session:
        user = session.scalar(select(User).where(User.external_id == client.user_id))
        assert user is not None
        session.expunge(user)
        return user


def labels(client: BotClient) -> list[str]:
    return [plain(button.label) for button in client.buttons]


# ---------------------------------------------------------------------- yes and no, as the model reads them
@pytest.mark.parametrize("language", list(YES))
def test_a_typed_yes_is_consent_in_every_language(make_client, real_nlu, language: str) -> None:
    client = make_client(user_id=f"yes-{language}", nlu=real_nlu)
    at_consent(client, language)
    client.send(YES[language])
    assert t(language, "privacy.thanks") in client.text
    assert t(language, "menu.book") in labels(client), "booking needs consent, and consent was given"
    user = stored_user(client)
    assert user.consent_at is not None and user.consent_version and user.consent_refused_at is None
    client.send("/privacy")
    assert t(language, "privacy.consent_given") in client.text
    assert t(language, "privacy.button_withdraw") in labels(client)


@pytest.mark.parametrize("language", list(NO))
def test_a_typed_no_refuses_consent_in_every_language(make_client, real_nlu, language: str) -> None:
    client = make_client(user_id=f"no-{language}", nlu=real_nlu)
    at_consent(client, language)
    client.send(NO[language])
    assert t(language, "privacy.refused") in client.text
    user = stored_user(client)
    assert user.consent_at is None and user.consent_refused_at is not None
    client.send("/privacy")
    assert t(language, "privacy.consent_missing") in client.text
    assert t(language, "privacy.consent_given") not in client.text


def test_a_typed_yes_after_read_more_is_consent_too(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    at_consent(client)
    client.click(t("en", "privacy.read_more"))
    client.send("yes")
    assert t("en", "privacy.thanks") in client.text
    assert stored_user(client).consent_at is not None


def test_an_unsure_yes_is_not_consent_and_the_question_is_asked_again(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    at_consent(client)
    notice_agree = client.button(t("en", "privacy.agree")).payload
    client.send("I agree, I think")
    assert t("en", "onboarding.consent_again") in client.text
    assert labels(client) == [t("en", "privacy.agree"), t("en", "privacy.read_more"), t("en", "privacy.decline")]
    user = stored_user(client)
    assert user.consent_at is None and user.consent_refused_at is None
    client.press(notice_agree)  # the buttons under the notice above still work
    assert t("en", "privacy.thanks") in client.text and stored_user(client).consent_at is not None


# ---------------------------------------------------------------------- the family's first question
def test_the_first_question_is_answered_after_a_typed_yes(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    client.send("nahitaji msaada na Kela")  # the first message: it chooses Swahili, and its question is kept
    assert t("sw", "onboarding.language_set") in client.text
    client.send("ndiyo")
    assert t("sw", "privacy.thanks") in client.text
    assert "Kela" in client.text and t("sw", "menu.title") not in client.text  # the answer, not the menu


def test_a_question_typed_at_the_consent_prompt_is_kept_and_the_question_asked_again(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    at_consent(client)
    client.send("Help with Kela")
    assert t("en", "onboarding.consent_again_kept") in client.text
    assert "Kela" not in client.text, "not answered before consent is settled"
    assert client.button(t("en", "privacy.agree")) and client.button(t("en", "privacy.decline"))
    user = stored_user(client)
    assert user.consent_at is None and user.consent_refused_at is None
    client.click(t("en", "privacy.agree"))
    assert t("en", "privacy.thanks") in client.text
    assert "Kela" in client.text and t("en", "menu.title") not in client.text


def test_a_question_at_the_consent_prompt_is_answered_after_a_typed_no_too(make_client) -> None:
    client = make_client(nlu=ScriptedNLU(), staff_chat_id=-100500)
    at_consent(client)
    client.send("I want to talk to a person")
    assert t("en", "onboarding.consent_again_kept") in client.text
    client.send("no")
    assert t("en", "privacy.refused") in client.text
    assert t("en", "handoff.opened", ticket=1) in client.text
    assert stored_user(client).consent_refused_at is not None


def test_small_talk_at_the_consent_prompt_promises_no_answer(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    at_consent(client)
    client.send("hello")
    assert t("en", "onboarding.consent_again") in client.text
    assert t("en", "onboarding.consent_again_kept") not in client.text
    client.click(t("en", "privacy.agree"))
    assert t("en", "menu.title") in client.text


def test_a_language_named_at_the_consent_prompt_shows_the_notice_in_it(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    at_consent(client)
    client.send("Af-Soomaali")
    assert t("so", "onboarding.language_set") in client.text and t("so", "privacy.notice") in client.text
    client.send("/menu")
    assert stored_user(client).language == "so"


def test_a_message_in_another_language_at_the_consent_prompt_offers_the_languages(make_client) -> None:
    client = make_client(nlu=ScriptedNLU())
    at_consent(client)
    client.send("مرحبا، أين الطبيب؟")
    assert t("ar", "onboarding.hello") in client.text and client.button("العربية")
    client.click("العربية")
    assert t("ar", "privacy.notice") in client.text  # consent is still asked, now in Arabic
    client.click(t("ar", "privacy.agree"))
    assert t("ar", "menu.title") not in client.text, "the kept question is answered instead of the menu"


# ---------------------------------------------------------------------- /privacy never claims consent
def test_privacy_never_says_consent_was_given_without_it(make_client) -> None:
    undecided = make_client(user_id="undecided", nlu=ScriptedNLU())
    at_consent(undecided)
    undecided.send("/menu")  # left the question without answering it
    declined = make_client(user_id="declined", nlu=ScriptedNLU())
    at_consent(declined)
    declined.click(t("en", "privacy.decline"))
    for client in (undecided, declined):
        client.send("/privacy")
        assert t("en", "privacy.consent_given") not in client.text
        missing = t("en", "privacy.consent_missing")
        assert missing in client.text
        overview = TEXTS.get("en", "privacy.overview", days=90, ticket_days=30, consent=Safe(""))
        assert plain(overview).split("\n")[0] in client.text
        client.click(t("en", "privacy.agree"))  # the way it names is there
        assert stored_user(client).consent_at is not None


def test_the_texts_name_the_buttons_they_point_to() -> None:
    for language in LABELS:
        assert t(language, "privacy.agree") in t(language, "privacy.consent_missing"), language
        assert t(language, "privacy.delete_yes") in t(language, "privacy.delete_typed"), language
        assert "/privacy" in t(language, "privacy.refused"), language
