"""A town the association serves without a group (Simo, Ylitornio): a family who names it hears that there is no
group there yet and gets the nearest towns' buttons (`nearest:` in content/groups.yml), and a person to talk to;
a town without an active group is never a button that leads to an empty list."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from bot.features.booking.places import PlaceNames
from bot.features.groups.catalog import load_catalog, parse_catalog
from bot.features.groups.models import Group
from tests.client import BotClient
from tests.content_cache import content_loaded_once  # noqa: F401  (autouse)
from tests.test_groups_flow import MONDAY_EVENING, IntentNLU, at, onboard, t

ROOT = Path(__file__).resolve().parents[1]
GROUP_TOWNS = ["kemi", "tornio", "tervola"]  # the towns of the sample groups, in the file's order


def town(client: BotClient, key: str, language: str) -> str:
    return client.conversation.services.features["groups"].municipality(key, language)


def labels(client: BotClient) -> list[str]:
    return [button.label for button in client.buttons]


def says_no_group(client: BotClient, language: str, key: str) -> bool:
    return t(client, language, "groups.no_group_yet", municipality=town(client, key, language)) in client.text


def asks_for_town(client: BotClient, language: str) -> bool:
    return t(client, language, "groups.choose_municipality")[:20] in client.text


def set_nearest(client: BotClient, nearest: dict[str, tuple[str, ...]]) -> None:
    groups = client.conversation.services.features["groups"]
    groups.catalog = replace(groups.catalog, nearest=nearest)


# ---------------------------------------------------------------------------------------- the file
def test_simo_and_ylitornio_are_towns_of_the_file_with_their_nearest_groups() -> None:
    catalog = load_catalog(ROOT / "content" / "groups.yml")
    assert list(catalog.municipalities) == [*GROUP_TOWNS, "simo", "ylitornio"]
    assert catalog.municipalities["simo"]["ru"] == "Симо" and catalog.municipalities["simo"]["ar"] == "سيمو"
    assert catalog.municipalities["ylitornio"]["ru"] == "Юлиторнио"
    assert catalog.municipalities["ylitornio"]["ar"] == "إيليتورنيو"
    assert catalog.nearest == {"simo": ("kemi",), "ylitornio": ("tornio",)}
    assert not any(group.municipality in ("simo", "ylitornio") for group in catalog.groups)


def test_problems_with_the_nearest_towns_are_named() -> None:
    names = dict.fromkeys(("fi", "en", "ar", "ru", "so", "sw"), "X")
    group = {
        "id": "kemi-x",
        "municipality": "kemi",
        "name": names,
        "how_to_find": names,
        "address": "Kauppakatu 1",
        "schedule": {"weekday": "monday", "start": "17:00", "duration_minutes": 60},
    }
    raw = {
        "municipalities": {key: names for key in ("kemi", "tornio", "simo")},
        "nearest": {"simo": ["kemi", "oulu", "simo", "tornio"], "rovaniemi": ["kemi"], "tornio": {"kemi": 1}},
        "groups": [group],
    }
    problems = "\n".join(parse_catalog(raw, "groups.yml")[1])
    assert "nearest: 'simo': 'oulu' is not listed under `municipalities:`" in problems
    assert "nearest: 'simo': a town cannot be its own nearest" in problems
    assert "nearest: 'simo': 'tornio' has no group in this file" in problems
    assert "nearest: 'rovaniemi' is not listed under `municipalities:`" in problems
    assert "nearest: 'tornio' needs a list of town keys" in problems
    assert "'kemi' has no group" not in problems
    catalog, problems_of_one = parse_catalog({**raw, "nearest": {"simo": "kemi"}}, "groups.yml")
    assert problems_of_one == [] and catalog.nearest == {"simo": ("kemi",)}  # one key alone is a list of one
    assert parse_catalog({**raw, "nearest": ["simo"]}, "groups.yml")[1] == [
        "groups.yml: nearest: expected a town key with a list of town keys on each line"
    ]
    assert parse_catalog({key: value for key, value in raw.items() if key != "nearest"})[0].nearest == {}


def test_booking_shows_and_understands_the_new_towns_in_every_script() -> None:
    places = PlaceNames.load(ROOT / "content" / "groups.yml")
    assert [places.name("Simo", language) for language in ("ar", "ru", "fi")] == ["سيمو", "Симо", "Simo"]
    assert places.name("Ylitornio", "ar") == "إيليتورنيو" and places.name("Ylitornio", "ru") == "Юлиторнио"
    offered = ["Kemi", "Tornio", "Simo", "Ylitornio"]
    for text, stored in [
        ("Simossa", "Simo"),
        ("في سيمو", "Simo"),
        ("Ylitorniossa", "Ylitornio"),
        ("Юлиторнио", "Ylitornio"),
        ("Yli-Tornio", "Ylitornio"),
        ("Torniosta", "Tornio"),
    ]:
        assert places.named(text, offered) == stored, text
    assert places.named("Ylitornio", ["Kemi", "Tornio"]) is None  # Ylitornio is not offered: not taken for Tornio


# ---------------------------------------------------------------------------------------- conversations
@pytest.mark.parametrize(
    ("language", "words", "key", "nearest"),
    [
        ("en", "I live in Simo, is there a group?", "simo", "kemi"),
        ("en", "when is the group in Ylitornio", "ylitornio", "tornio"),
        ("fi", "milloin on ryhmä Simossa", "simo", "kemi"),
        ("fi", "asun Ylitorniolla, onko ryhmää", "ylitornio", "tornio"),
        ("ar", "هل توجد مجموعة في سيمو؟", "simo", "kemi"),
        ("ar", "متى اللقاء في إيليتورنيو", "ylitornio", "tornio"),
        ("ru", "есть ли группа в Юлиторнио?", "ylitornio", "tornio"),
        ("so", "koox ma jirtaa Simo?", "simo", "kemi"),
        ("sw", "kuna kikundi Simo?", "simo", "kemi"),
    ],
)
def test_a_family_in_a_town_without_a_group_hears_so_and_gets_the_nearest_town(
    make_client, real_nlu, language: str, words: str, key: str, nearest: str
) -> None:
    client = make_client(user_id=f"no-group-{language}-{key}", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    onboard(client, language)
    client.send(words)
    assert says_no_group(client, language, key), client.text
    assert t(client, language, "groups.nearest_groups", towns=town(client, nearest, language)) in client.text
    assert not asks_for_town(client, language)
    nearest_button = f"📍 {town(client, nearest, language)}"
    assert labels(client) == [
        nearest_button,
        t(client, language, "handoff.talk_to_person"),
        t(client, language, "groups.other_town"),
        t(client, language, "common.menu"),
    ]
    client.click(nearest_button)
    assert t(client, language, "groups.list_title", municipality=town(client, nearest, language)) in client.text


def test_a_town_typed_at_the_town_question_without_a_group_is_answered(make_client) -> None:
    client = make_client(user_id="typed-simo")  # the keyword NLU: a town is out of scope for it
    at(client, MONDAY_EVENING)
    onboard(client, "fi")
    client.click("Ryhmätapaamiset")
    assert labels(client)[:3] == ["📍 Kemi", "📍 Tornio", "📍 Tervola"]
    assert not any("Simo" in label or "Ylitornio" in label for label in labels(client))
    client.send("Simo")
    assert says_no_group(client, "fi", "simo"), client.text
    client.send("entä Ylitorniossa?")  # another town, typed at the answer
    assert says_no_group(client, "fi", "ylitornio"), client.text
    client.click(t(client, "fi", "groups.other_town"))
    assert asks_for_town(client, "fi")
    assert not any("Simo" in label or "Ylitornio" in label for label in labels(client))


def test_a_family_without_a_group_nearby_can_talk_to_a_person(make_client) -> None:
    client = make_client(user_id="simo-person", nlu=IntentNLU("group_schedule"))
    onboard(client, "ru")
    client.send("когда встреча в Симо?")
    assert says_no_group(client, "ru", "simo"), client.text
    client.click(t(client, "ru", "handoff.talk_to_person"))
    assert t(client, "ru", "handoff.opened", ticket=1) in client.text


def test_several_nearest_towns_are_named_together_and_towns_without_groups_are_left_out(make_client) -> None:
    client = make_client(user_id="simo-two", nlu=IntentNLU("group_schedule"))
    set_nearest(client, {"simo": ("ylitornio", "kemi", "tornio")})  # Ylitornio has no group: not offered
    onboard(client, "ar")
    client.send("هل توجد مجموعة في سيمو؟")
    assert "أقرب لقاءات المجموعات إليكم في كيمي وتورنيو." in client.text, client.text
    assert labels(client)[:2] == ["📍 كيمي", "📍 تورنيو"]
    assert not any("إيليتورنيو" in label for label in labels(client))
    set_nearest(client, {"simo": ("kemi", "tornio", "tervola")})
    client.send("متى اللقاء في سيمو")
    assert "كيمي، تورنيو وتيرفولا" in client.text, client.text


def test_without_nearest_towns_every_town_with_a_group_is_offered(make_client) -> None:
    client = make_client(user_id="simo-all", nlu=IntentNLU("group_schedule"))
    set_nearest(client, {})
    onboard(client, "en")
    client.send("is there a group in Simo?")
    assert says_no_group(client, "en", "simo") and t(client, "en", "groups.towns_with_groups") in client.text
    assert labels(client) == [
        "📍 Kemi",
        "📍 Tornio",
        "📍 Tervola",
        t(client, "en", "handoff.talk_to_person"),
        t(client, "en", "common.menu"),
    ], "no 'another town': every town is here already"


def test_a_town_whose_groups_ended_is_no_longer_a_button_and_is_answered(make_client) -> None:
    client = make_client(user_id="tervola-gone", nlu=IntentNLU("group_schedule"))
    at(client, MONDAY_EVENING)
    onboard(client, "en")
    client.send("when does the group meet")  # imports the sample groups
    assert "📍 Tervola" in labels(client)
    client.conversation.services.db.transaction(
        lambda session: session.execute(update(Group).where(Group.municipality == "tervola").values(active=False))
    )
    client.send("/menu")
    client.send("when does the group meet")
    assert labels(client)[:2] == ["📍 Kemi", "📍 Tornio"] and "📍 Tervola" not in labels(client)
    client.send("is there a group in Tervola?")
    assert says_no_group(client, "en", "tervola"), client.text
    assert "📍 Tervola" not in labels(client) and labels(client)[:2] == ["📍 Kemi", "📍 Tornio"]


def test_a_first_message_naming_simo_is_answered_after_consent(make_client, real_nlu) -> None:
    client = make_client(user_id="first-simo", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    client.send("is there a group in Simo?")
    client.click("✅")
    assert says_no_group(client, "en", "simo"), client.text
    assert "📍 Kemi" in labels(client)


def test_the_no_group_strings_name_the_town_in_every_language() -> None:
    for language in ("fi", "en", "ar", "ru", "so", "sw"):
        strings = yaml.safe_load((ROOT / f"content/strings/groups.{language}.yml").read_text(encoding="utf-8"))
        assert "no_groups" not in strings["groups"], "replaced by the no-group step"
        assert "{municipality}" in strings["groups"]["no_group_yet"] and "🙏" in strings["groups"]["no_group_yet"]
        assert "{towns}" in strings["groups"]["nearest_groups"]
