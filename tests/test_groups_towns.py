"""A town named in a message leads to its groups; "remind me" on a group's page subscribes to that group;
the languages of a group in the user's language; the Arabic groups strings in the polite plural."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.features.groups.catalog import load_catalog, parse_catalog
from bot.features.groups.models import Subscription
from bot.features.groups.towns import TownNames, fold
from tests.client import BotClient
from tests.content_cache import content_loaded_once  # noqa: F401  (autouse)
from tests.test_groups_flow import MONDAY_EVENING, IntentNLU, at, onboard, t

ROOT = Path(__file__).resolve().parents[1]
TOWNS = {"kemi": "Kemi", "tornio": "Tornio", "tervola": "Tervola"}


@pytest.fixture(scope="module")
def towns() -> TownNames:
    catalog = load_catalog(ROOT / "content" / "groups.yml")
    return TownNames.build(catalog.municipalities, catalog.spellings)


def shows_town(client: BotClient, language: str, key: str) -> bool:
    services = client.conversation.services
    name = services.features["groups"].municipality(key, language)
    return t(client, language, "groups.list_title", municipality=name) in client.text


def asks_for_town(client: BotClient, language: str) -> bool:
    return t(client, language, "groups.choose_municipality")[:20] in client.text and "📍 Tervola" in [
        b.label for b in client.buttons
    ]


# ---------------------------------------------------------------------------------------- the recogniser
@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("Kemi", "kemi"),
        ("KEMI!", "kemi"),
        ("Kemissä", "kemi"),
        ("kemissa", "kemi"),  # no ä on the keyboard
        ("Kemiin", "kemi"),
        ("Kemistä", "kemi"),
        ("Kemin ryhmä", "kemi"),
        ("Kemissäkin?", "kemi"),
        ("Tornio", "tornio"),
        ("Torniossa", "tornio"),
        ("Tornioon", "tornio"),
        ("Torniosta", "tornio"),
        ("Tervolassa", "tervola"),
        ("Tervolaan", "tervola"),
        ("Tervolan perheryhmä", "tervola"),
        ("كيمي", "kemi"),
        ("كيمى", "kemi"),  # alef maksura for ya
        ("وين الاجتماع في كِيمي؟", "kemi"),  # with a vowel mark
        ("بكيمي", "kemi"),  # "in Kemi", the preposition written together
        ("تورنيو", "tornio"),
        ("أين الاجتماع في تورنيو", "tornio"),
        ("تيرفولا", "tervola"),
        ("تيرفوله", "tervola"),  # ha for ta marbuta, like the listed تيرفولة
        ("Кеми", "kemi"),
        ("Торнио", "tornio"),
        ("Тервола", "tervola"),
        ("в Терволе", "tervola"),
        ("v Tornio", "tornio"),
        ("kogda vstrecha v tornio", "tornio"),
        ("Kemi's group", "kemi"),
        ("salam, wein el ijtima3 fi kemi", "kemi"),
        ("Ylitornio", "ylitornio"),  # a town of its own, not Tornio
        ("Ylitorniossa", "ylitornio"),
        ("Ylitorniolla", "ylitornio"),
        ("Yli-Tornio", "ylitornio"),  # two words: the longer name wins over Tornio inside it
        ("Yli-Torniossa", "ylitornio"),
        ("إيليتورنيو", "ylitornio"),
        ("في إيلي تورنيو", "ylitornio"),
        ("Юлиторнио", "ylitornio"),
        ("Simo", "simo"),
        ("Simossa", "simo"),
        ("سيمو", "simo"),
        ("Симо", "simo"),
    ],
)
def test_a_town_is_found_in_any_script_spelling_and_finnish_case(towns: TownNames, text: str, town: str) -> None:
    assert towns.find(text) == town


@pytest.mark.parametrize(
    "text",
    [
        "kemia",  # chemistry (fi, sw)
        "Kemian tunti",  # a chemistry lesson
        "kemiä",  # folds to the same letters as chemistry
        "Kemijärvi",
        "meeting in Kemijärvi",
        "Keminmaa",
        "Keminmaalla",
        "Tornionjoki",
        "kemikaali",
        "kemisti",
        "الكيمياء",  # chemistry (ar)
        "кемия",
        "when does the group meet",
        "",
        "Kemi or Tornio?",  # two towns: the family chooses with the buttons
        "Tornio or Ylitornio?",
        "Yli-Tornio ja Tornio",
    ],
)
def test_other_words_and_two_towns_name_no_town(towns: TownNames, text: str) -> None:
    assert towns.find(text) is None


@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("Simon from Tornio", "tornio"),  # "Simon" is a name before it is Simo's genitive
        ("Hi, I'm Simon. Tornio", "tornio"),
        ("I live in Tornio, my name is Simon", "tornio"),
        ("Kemi, Simon koulu", "kemi"),
        ("Kemin ja Tornion ryhmät", None),  # both inflected: still two towns
        ("Simo ja Tornio", None),
    ],
)
def test_of_two_towns_the_one_written_as_its_name_wins_over_an_inflected_one(
    towns: TownNames, text: str, town: str | None
) -> None:
    assert towns.find(text) == town


def test_a_town_added_to_the_file_is_recognised_without_code() -> None:
    raw = yaml.safe_load((ROOT / "content" / "groups.yml").read_text(encoding="utf-8"))
    raw["municipalities"]["rovaniemi"] = {
        "fi": "Rovaniemi",
        "en": "Rovaniemi",
        "ar": "روفانييمي",
        "ru": "Рованиеми",
        "so": "Rovaniemi",
        "sw": "Rovaniemi",
    }
    raw["also_written"]["rovaniemi"] = ["Rovanieme-", "Rovaniemeltä"]
    muonio = dict.fromkeys(("fi", "en", "so", "sw"), "Muonio")
    raw["municipalities"]["muonio"] = muonio | {"ar": "موونيو", "ru": "Муонио"}
    catalog, problems = parse_catalog(raw)
    assert problems == []
    towns = TownNames.build(catalog.municipalities, catalog.spellings)
    for text, town in [
        ("Rovaniemi", "rovaniemi"),
        ("Rovaniemellä", "rovaniemi"),  # the stem written with "-" takes the endings
        ("Rovaniemeen", "rovaniemi"),
        ("روفانييمي", "rovaniemi"),
        ("Рованиеми", "rovaniemi"),
        ("Muoniossa", "muonio"),
        ("Muonioon", "muonio"),
        ("في موونيو", "muonio"),
        ("Kemissä", "kemi"),
    ]:
        assert towns.find(text) == town, text
    assert towns.find("Muonion ja Kemin ryhmät") is None  # two towns


def test_problems_with_other_spellings_are_named() -> None:
    raw = {
        "municipalities": {"kemi": dict.fromkeys(("fi", "en", "ar", "ru", "so", "sw"), "Kemi")},
        "also_written": {"oulu": ["Oulussa"], "kemi": "Kemissä"},
    }
    problems = "\n".join(parse_catalog(raw, "groups.yml")[1])
    assert "also_written: 'oulu' is not listed under `municipalities:`" in problems
    assert "also_written: 'kemi' needs a list of spellings" in problems


def test_folding_keeps_letters_and_drops_marks() -> None:
    assert fold("KEMISSÄ") == "kemissa"
    assert fold("أين") == "اين" and fold("مدرسة") == "مدرسه"
    assert fold("Тёрнио") == "тернио"


# ---------------------------------------------------------------------------------------- item 1: conversations
@pytest.mark.parametrize(
    ("language", "words", "town"),
    [
        ("en", "when is the meeting in tornio", "tornio"),
        ("fi", "milloin on ryhmä tervolassa", "tervola"),
        ("ar", "salam, wein el ijtima3 fi kemi", "kemi"),
        ("ar", "أين الاجتماع في تورنيو؟", "tornio"),
        ("ru", "kogda vstrecha v tornio", "tornio"),
        ("ru", "когда встреча в Кеми?", "kemi"),
        ("so", "goorma ayuu kulanka kooxda yahay kemi", "kemi"),
        ("sw", "mkutano wa kikundi ni lini tornio", "tornio"),
    ],
)
def test_a_question_naming_a_town_shows_its_groups(make_client, real_nlu, language: str, words: str, town: str) -> None:
    client = make_client(user_id=f"town-{language}-{town}", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    onboard(client, language)
    client.send(words)
    assert shows_town(client, language, town), client.text
    assert not asks_for_town(client, language)
    services = client.conversation.services
    groups_there = [g for g in services.features["groups"].catalog.groups if g.municipality == town]
    labels = [b.label for b in client.buttons]
    assert groups_there and all(any(g.names[language] in label for label in labels) for g in groups_there)


@pytest.mark.parametrize(
    ("language", "words", "town"),
    [
        ("fi", "milloin ryhmä on Kemissä", "kemi"),
        ("fi", "tuletteko Kemiin", "kemi"),
        ("fi", "onko ryhmää Torniossa", "tornio"),
        ("en", "is there a group in KEMI", "kemi"),
        ("ar", "متى اللقاء في كيمي", "kemi"),
        ("ar", "متى اللقاء بتورنيو", "tornio"),
        ("ru", "где группа в Торнио", "tornio"),
        ("ru", "встреча в Терволе", "tervola"),
        ("so", "kooxda Tervola", "tervola"),
        ("sw", "kikundi cha Kemi", "kemi"),
    ],
)
def test_town_forms_reach_the_groups_intent(make_client, language: str, words: str, town: str) -> None:
    client = make_client(user_id=f"form-{language}-{town}", nlu=IntentNLU("group_schedule"))
    onboard(client, language)
    client.send(words)
    assert shows_town(client, language, town), client.text


@pytest.mark.parametrize(
    "words",
    [
        "when is the kemia group",  # chemistry
        "kemian ryhmä",
        "is there a group in Kemijärvi",
        "ryhmä Keminmaalla",
        "milloin on ryhmä Ylitorniossa tai Torniossa",
        "الكيمياء",
        "groups in Kemi or Tornio?",
    ],
)
def test_no_town_or_two_towns_ask_where_they_live(make_client, words: str) -> None:
    client = make_client(user_id="no-town", nlu=IntentNLU("group_schedule"))
    onboard(client, "en")
    client.send(words)
    assert asks_for_town(client, "en"), client.text
    assert not any(shows_town(client, "en", key) for key in TOWNS)


def test_a_town_typed_at_the_town_question_is_the_answer(make_client) -> None:
    client = make_client(user_id="typed-town")  # the keyword NLU: a town is out of scope for it
    onboard(client, "fi")
    client.click("Ryhmätapaamiset")
    client.send("asun Kemissä")
    assert shows_town(client, "fi", "kemi")
    client.send("entä Tornio?")  # another town, from the list
    assert shows_town(client, "fi", "tornio")
    client.click(t(client, "fi", "groups.other_town"))
    client.send("Kemijärvi")  # no group town: not understood, as before
    assert not any(shows_town(client, "fi", key) for key in TOWNS)


def test_a_longer_message_about_something_else_is_not_taken_for_a_town(make_client) -> None:
    client = make_client(user_id="doctor-in-kemi", nlu=IntentNLU("topic_health"))
    onboard(client, "en")
    client.click("Group meetings")
    client.send("where do I find a doctor in Kemi for my child")
    assert not shows_town(client, "en", "kemi")
    client.send("/menu")
    client.click("Group meetings")
    client.send("Kemi")
    assert shows_town(client, "en", "kemi")


# ---------------------------------------------------------------------------------------- item 2: "remind me"
def open_mothers_group(client: BotClient, language: str) -> None:
    client.send("/menu")
    client.click(t(client, language, "menu.groups"))
    client.click_nth(0)  # Kemi, the first town
    client.click_nth(0)  # the Kemi mothers' group
    assert t(client, language, "groups.subscribe") in [b.label for b in client.buttons]


def subscribed_groups(client: BotClient) -> list[str]:
    with client.conversation.services.db.sessions() as session:
        return list(session.scalars(select(Subscription.group_id).where(Subscription.active.is_(True))))


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "remind me"),
        ("en", "yes remind me"),
        ("fi", "muistuta minua"),
        ("ar", "ذكرني من فضلك"),
        ("ru", "напомни мне"),
        ("so", "i xasuusi"),
        ("sw", "nikumbushe"),
    ],
)
def test_remind_me_on_a_group_page_subscribes_to_that_group(make_client, real_nlu, language: str, words: str) -> None:
    client = make_client(user_id=f"remind-{language}-{len(words)}", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    onboard(client, language)
    open_mothers_group(client, language)
    client.send(words)
    name = client.conversation.services.features["groups"].catalog.groups[0].names[language]
    assert t(client, language, "groups.subscribed", name=name, next="x").split("\n")[0] in client.text
    assert t(client, language, "groups.reminders_on_hint") not in client.text
    assert subscribed_groups(client) == ["kemi-mothers"]


def test_remind_me_elsewhere_still_explains_and_asks_for_the_town(make_client) -> None:
    client = make_client(user_id="remind-elsewhere", nlu=IntentNLU("reminders_on"))
    onboard(client, "en")
    client.send("remind me")
    assert t(client, "en", "groups.reminders_on_hint") in client.text and asks_for_town(client, "en")
    client.send("/menu")
    client.send("remind me about the group in Tornio")
    assert t(client, "en", "groups.reminders_on_hint") in client.text and shows_town(client, "en", "tornio")
    assert subscribed_groups(client) == []


def test_remind_me_on_a_group_page_without_consent_asks_for_it(make_client) -> None:
    client = make_client(user_id="remind-no-consent", nlu=IntentNLU("reminders_on"))
    client.send("/start")
    client.click("English")
    client.click(t(client, "en", "privacy.decline"))
    open_mothers_group(client, "en")
    client.send("remind me")
    assert t(client, "en", "groups.consent_needed") in client.text
    assert subscribed_groups(client) == []


# ---------------------------------------------------------------------------------------- item 3: language names
@pytest.mark.parametrize(
    ("language", "spoken"),
    [
        ("en", "Languages: Finnish, Arabic, Somali"),
        ("fi", "Kielet: suomi, arabia, somali"),
        ("ru", "Языки: финский, арабский, сомалийский"),
        ("ar", "اللغات: الفنلندية، العربية، الصومالية"),
        ("so", "Af-Finishka, Af-Carabiga, Af-Soomaaliga"),
        ("sw", "Kifini, Kiarabu, Kisomali"),
    ],
)
def test_the_languages_of_a_group_are_named_in_the_users_language(make_client, language: str, spoken: str) -> None:
    client = make_client(user_id=f"names-{language}")
    onboard(client, language)
    open_mothers_group(client, language)
    assert spoken in client.text
    if language not in ("fi", "so"):
        assert "Suomi" not in client.text and "Soomaali" not in client.text
    if language != "ar":
        assert "العربية" not in client.text


# ---------------------------------------------------------------------------------------- item 4: Arabic register
# Second person masculine singular forms that the groups strings used; the polite plural replaces them.
SINGULAR = re.compile(
    r"(?<!\w)(تسكن|اختر|اضغط|انظر|لتعرف|أخبرنا|لديك|تصلك|سأذكّرك|أنت|لك|اختيارك|موافقتك|يمكنك|تقويمك|"
    r"بإمكانك|افتحه|هاتفك|عندك|اكتب|مجموعاتك|تريد|بلدتك|ستحضر|نراك|لأنك|كتبته|سجّل|اقرأ|وافق)(?!\w)"
)
# Buttons in the family's own voice ("remind me", "I'm coming") stay in the first person.
FAMILY_VOICE = {"groups.subscribe", "groups.unsubscribe", "groups.add_calendar", "groups.my_groups", "groups.off_all"}


def test_the_arabic_groups_strings_address_families_in_the_polite_plural() -> None:
    from bot.core.texts import _flatten

    strings = _flatten(yaml.safe_load((ROOT / "content/strings/groups.ar.yml").read_text(encoding="utf-8")))
    singular = {key: SINGULAR.findall(str(text)) for key, text in strings.items() if key not in FAMILY_VOICE}
    assert {key: found for key, found in singular.items() if found} == {}
    for key, plural in [
        ("groups.choose_municipality", "تسكنون"),
        ("groups.list_choose", "اختاروا"),
        ("groups.consent_needed", "يمكنكم"),
        ("groups.consent_needed", "لكم"),
        ("groups.rsvp_question", "ستحضرون"),
    ]:
        assert plural in str(strings[key])


@pytest.mark.parametrize(
    ("words", "language", "town"),
    [
        ("when is the meeting in tornio", "en", "tornio"),
        ("когда встреча в Кеми?", "ru", "kemi"),
        ("milloin on ryhmä Tervolassa", "fi", "tervola"),
    ],
)
def test_a_first_message_naming_a_town_shows_its_groups_after_consent(
    make_client, real_nlu, words: str, language: str, town: str
) -> None:
    # The first message chooses the language; consent comes before any answer, and the town is kept
    # across it (the town, not the message).
    client = make_client(user_id=f"first-{town}", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    client.send(words)
    client.click("✅")
    assert shows_town(client, language, town), client.text
    assert not asks_for_town(client, language)
    with client.conversation.services.db.sessions() as session:
        from bot.db.models import ConversationState

        stored = " ".join(str(row.vars) for row in session.query(ConversationState))
    assert words not in stored


def test_a_town_is_kept_across_a_language_switch_offer(make_client, real_nlu) -> None:
    client = make_client(user_id="switch-town", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    onboard(client, "fi")
    client.send("когда встреча в Кеми?")
    client.click("Русский")
    assert shows_town(client, "ru", "kemi"), client.text


class UnsureNLU:
    """Group meetings, but not sure enough to act on it: the family is asked "did you mean…?"."""

    def understand(self, text: str, **_: object) -> object:
        from tests.fakes import FixedUnderstanding

        ranking = (("group_schedule", 0.3), ("help", 0.2), ("topic_family", 0.1))
        return FixedUnderstanding(text, "so", 0.99, "group_schedule", 0.3, False, ranking)


def test_a_town_is_kept_when_the_family_picks_from_did_you_mean(make_client) -> None:
    # The NLU is unsure ("did you mean…?"); the town the message named is kept for the choice.
    client = make_client(user_id="clarify-town", nlu=UnsureNLU())
    at(client, MONDAY_EVENING)
    onboard(client, "so")
    client.send("waxaan ku noolahay Tornio, koox ma jirtaa?")
    client.click_nth(0)
    assert shows_town(client, "so", "tornio"), client.text
