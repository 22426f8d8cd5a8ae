"""The guide: every section reachable in every language, paging, topic intents, feedback, content checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.texts import LANGUAGE_NAMES, Texts
from bot.db.models import GuideFeedback
from bot.features.guide.feature import TOPIC_SECTIONS
from bot.features.guide.library import GuideLibrary, pages, parse_section
from bot.features.guide.section_words import CHOOSE_WORDS, Part, SectionWords, parse_entry
from bot.settings import ROOT, SERVED_LANGUAGES
from tests.client import plain
from tests.fakes import FixedUnderstanding

LIBRARY = GuideLibrary.load(ROOT / "content")
TEXTS = Texts.load(ROOT / "content" / "strings")
WORK_OR_STUDY = TOPIC_SECTIONS["topic_work_study"]
CHOICES = [ids for ids in TOPIC_SECTIONS.values() if len(ids) > 1]
SECTION_WORDS = SectionWords.build(TEXTS, CHOICES)


def t(language: str, key: str, /, **values: object) -> str:
    return plain(TEXTS.get(language, key, **values))


def onboard(client, language: str) -> None:
    client.send("/start")
    client.click(LANGUAGE_NAMES[language])
    client.click("✅")


def test_the_guide_content_passes_its_checks() -> None:
    assert LIBRARY.check() == []
    assert len(LIBRARY.ordered("en")) >= 12
    for language in SERVED_LANGUAGES:
        assert [s.id for s in LIBRARY.ordered(language)] == [s.id for s in LIBRARY.ordered("en")]
        for section in LIBRARY.ordered(language):
            assert 150 <= section.words <= 600 or language in {"ar"}, (language, section.id, section.words)


@pytest.mark.parametrize("language", SERVED_LANGUAGES)
def test_every_section_is_reachable_through_the_conversation(make_client, language: str) -> None:
    client = make_client(user_id=f"guide-{language}")
    onboard(client, language)
    for section in LIBRARY.ordered(language):
        client.send("/menu")
        client.click(client.buttons[0].label)  # the guide is the first menu button
        client.click(f"{section.icon} {section.title}")
        seen = client.text
        while True:
            next_buttons = [b for b in client.buttons if b.payload == "guide.page:next"]
            if not next_buttons:
                break
            client.press(next_buttons[0].payload)
            assert client.last[0].edit, "paging edits the page in place"
            seen += client.text
        assert section.title in seen
        last_block = section.blocks[-1].lines[0].replace("**", "")
        assert last_block[:30] in seen.replace("\u2066", "").replace("\u2069", "")
        assert all(len(r.text) <= 4096 for r in client.last)


@pytest.mark.parametrize("intent", sorted(TOPIC_SECTIONS))
def test_each_topic_intent_opens_its_section(make_client, intent: str) -> None:
    class TopicNLU:
        def understand(self, text: str, **_: object) -> FixedUnderstanding:
            return FixedUnderstanding(text, "sw", 0.95, intent, 0.93, False, ((intent, 0.93),))

    for section_id in TOPIC_SECTIONS[intent]:
        client = make_client(nlu=TopicNLU(), user_id=f"topic-{intent}-{section_id}")
        onboard(client, "sw")
        client.send("nataka kujua")
        section = LIBRARY.get("sw", section_id)
        assert section is not None
        if len(TOPIC_SECTIONS[intent]) > 1:  # "work and studies": the family picks the section
            assert t("sw", "guide.choose") in client.text
            client.click(section.title)
        assert section.title in client.text and section.summary in client.text
        client.click("📖")
        assert section.title in client.text


def test_feedback_is_stored_without_the_user(make_client, database_url: str) -> None:
    client = make_client(database_url, user_id="feedback")
    onboard(client, "fi")
    client.click("📚")
    client.click("🆘")
    while any(b.payload == "guide.page:next" for b in client.buttons):
        client.press("guide.page:next")
    client.click("👍")
    services = client.conversation.services
    with services.db.sessions() as session:
        rows = session.scalars(select(GuideFeedback)).all()
    assert [(r.section_id, r.language, r.helpful) for r in rows] == [("safety", "fi", True)]
    assert not hasattr(rows[0], "user_id")


def test_pages_split_on_paragraphs_and_escape_html(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    body = "\n\n".join(f"Paragraph {i} <tag> & **bold** " + "word " * 60 for i in range(40))
    path.write_text("---\nid: x\norder: 1\nicon: x\ntitle: T\nsummary: S\nrelated: []\nnext: []\n---\n" + body)
    result = pages(parse_section(path, "en"), limit=1500)
    assert len(result) > 1 and all(len(p) <= 1500 for p in result)
    assert all("&lt;tag&gt; &amp; <b>bold</b>" in p for p in result)


def broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


def test_check_finds_a_missing_section(tmp_path: Path) -> None:
    content = broken_copy(tmp_path)
    (content / "so" / "housing.md").unlink()
    assert "content/so/housing.md:1: section missing in 'so'" in GuideLibrary.load(content).check()


def test_check_finds_structure_links_and_markup(tmp_path: Path) -> None:
    content = broken_copy(tmp_path)
    path = content / "ru" / "money.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("related: [work, housing]", "related: [work, nowhere]")
    text = text.replace("\n## ", "\n", 1) + "\nUnclosed **bold and a <b>tag</b>\n"
    path.write_text(text, encoding="utf-8")
    problems = "\n".join(GuideLibrary.load(content).check())
    assert f"{path}:1: related section 'nowhere' does not exist" in problems
    assert "headings, the English section has" in problems
    assert "unbalanced ** (bold)" in problems


def test_content_check_command_fails_on_a_broken_file(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    content = broken_copy(tmp_path)
    (content / "sw" / "work.md").write_text("no front matter\n", encoding="utf-8")
    env = {**os.environ, "AITO_CONTENT_DIR": str(content)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "content/sw/work.md:1: a section starts with front matter" in result.stderr
    ok = subprocess.run([sys.executable, "-m", "bot", "content", "check"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr


class KelaOrHealth:
    """Reads a message that mentions Kela as about money, any other as about health care."""

    def understand(self, text: str, **_: object) -> FixedUnderstanding:
        intent = "topic_money" if "kela" in text.lower() else "topic_health"
        return FixedUnderstanding(text, "en", 0.95, intent, 0.93, False, ((intent, 0.93),))


def test_the_health_summary_carries_the_emergency_numbers(make_client) -> None:
    """A family looking for help now may open health care: the numbers are one tap away there."""

    client = make_client(nlu=KelaOrHealth(), user_id="urgent")
    onboard(client, "en")
    client.send("I need a doctor now")
    client.click(t("en", "menu.emergency"))
    assert "112" in client.text and "0800 147 111" in client.text
    client.send("kela money")
    assert t("en", "menu.emergency") not in [plain(button.label) for button in client.buttons]


def test_an_old_read_more_under_another_sections_summary_is_refused(make_client) -> None:
    client = make_client(nlu=KelaOrHealth(), user_id="old-read-more")
    onboard(client, "en")
    client.send("kela money")
    old_read_more = client.button("📖").payload
    client.send("doctor")  # the health summary is the last message now
    client.press(old_read_more)
    assert t("en", "errors.stale_button") in client.text  # not the health section's text
    health = LIBRARY.get("en", "health")
    assert health is not None and health.blocks[0].lines[0][:30] not in client.text
    client.send("doctor")
    client.click("📖")  # the health summary's own button still works
    assert health.title in client.text


# --------------------------------------------------------------------------- which section a message means
# "work and studies" is one intent for two sections: the message's own words say which, when they say one.
POINTING = [
    ("I want to study Finnish", "language-studies"),
    ("where can I learn Finnish?", "language-studies"),
    ("Finnish course for adults", "language-studies"),
    ("I am looking for a job", "work"),
    ("how do I write a CV", "work"),
    ("where is the TE office", "work"),
    ("work in Finland", "work"),
    ("haluan opiskella suomen kieltä", "language-studies"),
    ("haluan oppia suomea", "language-studies"),
    ("suomen kielen kurssi", "language-studies"),
    ("kielikurssi aikuisille", "language-studies"),
    ("etsin töitä", "work"),
    ("etsin tyota", "work"),
    ("tarvitsen työtä", "work"),
    ("työpaikka Kemistä", "work"),
    ("töitä Suomessa", "work"),
    ("TE-toimisto", "work"),
    ("أريد أن أتعلم اللغة الفنلندية", "language-studies"),
    ("أريد أن أتعلم لغة", "language-studies"),
    ("كورس فنلندي", "language-studies"),
    ("بدي ادرس بالجامعة", "language-studies"),
    ("سأتعلم الفنلندية", "language-studies"),
    ("أبحث عن عمل", "work"),
    ("أريد العمل في فنلندا", "work"),
    ("أحتاج وظيفة", "work"),
    ("بدي اشتغل", "work"),
    ("كيف اكتب السيرة الذاتية", "work"),
    ("где можно изучать финский язык", "language-studies"),
    ("курсы финского", "language-studies"),
    ("помогите финскому научиться", "language-studies"),
    ("хочу учиться", "language-studies"),
    ("ищу работу", "work"),
    ("работа в Финляндии", "work"),
    ("помощь с резюме", "work"),
    ("waxaan rabaa inaan barto luuqadda finishka", "language-studies"),
    ("koorsada af finnishka", "language-studies"),
    ("waxaan raadinayaa shaqo", "work"),
    ("xafiiska shaqada", "work"),
    ("nataka kujifunza kifini", "language-studies"),
    ("kozi ya lugha", "language-studies"),
    ("natafuta kazi", "work"),
    ("natafuta ajira", "work"),
]


@pytest.mark.parametrize(("text", "section_id"), POINTING)
def test_a_message_s_words_point_to_one_section(text: str, section_id: str) -> None:
    assert SECTION_WORDS.choose(text, WORK_OR_STUDY) == section_id


@pytest.mark.parametrize(
    ("word", "section_id"),
    [
        # Arabic with and without the article, and with a conjunction or preposition written onto the word
        *[(word, "language-studies") for word in ("لغة", "اللغة", "باللغة", "واللغة", "للغة", "فنلندي", "بالفنلندي")],
        *[(word, "work") for word in ("عمل", "العمل", "للعمل", "والعمل", "بالعمل", "وظيفة", "الوظيفة")],
        # Russian and Finnish inflections
        *[(word, "language-studies") for word in ("финский", "финского", "финскому", "языка", "языку", "курсы")],
        *[(word, "work") for word in ("работа", "работу", "работы", "работать")],
        *[(word, "language-studies") for word in ("suomea", "kieli", "kieltä", "kielen", "kielta", "kurssille")],
        *[(word, "work") for word in ("työ", "työtä", "töitä", "työpaikka", "työpaikkaa", "työttömänä")],
    ],
)
def test_inflected_and_prefixed_words_point_to_their_section(word: str, section_id: str) -> None:
    assert SECTION_WORDS.choose(word, WORK_OR_STUDY) == section_id


@pytest.mark.parametrize(
    "text",
    [
        "I want to study Finnish and find a job",
        "haluan suomen kurssille jotta saisin töitä",
        "курсы языка закончились, теперь ищу работу",
        "work and studies",
        "",  # a question kept across consent, without words
        "Kemi",  # a kept town
        "I need help",
        "Finland",  # the country is not the language
        "Suomessa",
        "في فنلندا",
        "в Финляндии",
    ],
)
def test_both_or_neither_leaves_the_choice_to_the_family(text: str) -> None:
    assert SECTION_WORDS.choose(text, WORK_OR_STUDY) is None


def test_every_choice_has_valid_words_in_every_language() -> None:
    assert SECTION_WORDS.problems == ()
    for choice in CHOICES:
        for section_id in choice:
            for language in SERVED_LANGUAGES:
                listed = TEXTS.get(language, f"{CHOOSE_WORDS}.{section_id}").split(",")
                assert all(parse_entry(raw) for raw in listed), (language, section_id)


def test_entries_are_words_stems_or_words_in_a_row() -> None:
    assert parse_entry(" cv ") == (Part("cv", False),)
    assert parse_entry("Työ*") == (Part("tyo", True),)
    assert parse_entry("te-toimisto*") == (Part("te", False), Part("toimisto", True))
    assert parse_entry("سيرة ذاتية") == (Part("سيره", False), Part("ذاتيه", False))
    for bad in ("", " ", "ab*", "*", "op*iskelu", "?!"):
        assert parse_entry(bad) is None, bad


def test_the_check_names_missing_lists_bad_entries_and_words_pointing_to_both() -> None:
    table = dict(TEXTS.by_language["en"])
    table[f"{CHOOSE_WORDS}.work"] = "job*, wo*, course"
    texts = Texts({language: table for language in SERVED_LANGUAGES})
    problems = "\n".join(SectionWords.build(texts, [("work", "language-studies"), ("health", "wellbeing")]).problems)
    assert f"{CHOOSE_WORDS}.health is missing" in problems
    assert "'wo*' is not a word, a stem of 3 or more letters" in problems
    assert "'course' (work) also points to ['language-studies']" in problems
    assert "'job'" not in problems


class WorkOrStudy:
    """Reads every message as the "work and studies" intent, whatever its words."""

    def understand(self, text: str, **_: object) -> FixedUnderstanding:
        intent = "topic_work_study"
        return FixedUnderstanding(text, "so", 0.95, intent, 0.93, False, ((intent, 0.93),))


def shows_summary(client, language: str, section_id: str) -> bool:
    section = LIBRARY.get(language, section_id)
    assert section is not None
    return section.title in client.text and section.summary in client.text


def test_the_topic_intent_opens_the_section_its_words_point_to(make_client) -> None:
    client = make_client(nlu=WorkOrStudy(), user_id="words-so")
    onboard(client, "so")
    client.send("waxaan rabaa inaan barto luuqadda finishka")
    assert shows_summary(client, "so", "language-studies"), client.text
    assert t("so", "guide.choose") not in client.text
    client.send("waxaan raadinayaa shaqo")
    assert shows_summary(client, "so", "work"), client.text
    client.send("shaqo iyo waxbarasho")  # both: the family picks
    assert t("so", "guide.choose") in client.text


@pytest.mark.parametrize(
    ("language", "text", "section_id"),
    [
        ("en", "I want to study Finnish", "language-studies"),
        ("en", "where can I learn Finnish?", "language-studies"),
        ("en", "I am looking for a job", "work"),
        ("fi", "haluan opiskella suomen kieltä", "language-studies"),
        ("fi", "etsin töitä", "work"),
        ("ar", "أريد أن أتعلم اللغة الفنلندية", "language-studies"),
        ("ar", "أبحث عن عمل", "work"),
        ("ru", "где можно изучать финский язык", "language-studies"),
        ("ru", "ищу работу", "work"),
        ("so", "waxaan rabaa inaan barto luuqadda finishka", "language-studies"),
        ("so", "waxaan raadinayaa shaqo", "work"),
        ("sw", "nataka kujifunza kifini", "language-studies"),
        ("sw", "natafuta kazi", "work"),
    ],
)
def test_a_family_s_own_words_open_the_section_without_asking(
    make_client, real_nlu, language: str, text: str, section_id: str
) -> None:
    client = make_client(nlu=real_nlu, user_id=f"words-{language}-{section_id}")
    onboard(client, language)
    client.send(text)
    assert shows_summary(client, language, section_id), client.text
    assert t(language, "guide.choose") not in client.text


def test_a_message_about_both_still_asks_which(make_client, real_nlu) -> None:
    client = make_client(nlu=real_nlu, user_id="words-both")
    onboard(client, "en")
    client.send("I want to study Finnish and find a job")
    assert t("en", "guide.choose") in client.text
    assert [b.payload.rsplit(":", 1)[1] for b in client.buttons[:2]] == list(WORK_OR_STUDY)


BOTH = {"en": "work and studies", "fi": "työ ja opiskelu", "ar": "العمل والدراسة", "ru": "работа и учёба"}


@pytest.mark.parametrize(
    ("language", "answer", "section_id"),
    [
        ("en", "Finnish", "language-studies"),  # the model alone reads it as a wish to change the language
        ("en", "the language one", "language-studies"),
        ("fi", "kieli", "language-studies"),
        ("ar", "اللغة", "language-studies"),
        ("ru", "работа", "work"),
    ],
)
def test_a_section_typed_at_the_question_opens_it(
    make_client, real_nlu, language: str, answer: str, section_id: str
) -> None:
    client = make_client(nlu=real_nlu, user_id=f"typed-{language}-{section_id}")
    onboard(client, language)
    client.send(BOTH[language])
    assert t(language, "guide.choose") in client.text
    client.send(answer)
    assert shows_summary(client, language, section_id), client.text


def test_a_question_kept_across_consent_without_its_words_still_asks(make_client, real_nlu) -> None:
    # Before consent only the intent and the words features ask for are kept, not the message: nothing
    # tells the sections apart any more, so the family picks.
    client = make_client(nlu=real_nlu, user_id="kept-study")
    client.send("I want to study Finnish")
    client.click("✅")
    assert t("en", "guide.choose") in client.text
    client.click("📚")
    assert shows_summary(client, "en", "language-studies")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Kela unemployment money", "money"),  # short, but confidently about another topic
        ("I want to change the language to Finnish", None),  # a longer wish to change the language
    ],
)
def test_at_the_question_a_message_about_something_else_is_left_to_the_model(
    make_client, real_nlu, text: str, shown: str | None
) -> None:
    client = make_client(nlu=real_nlu, user_id=f"typed-else-{shown}")
    onboard(client, "en")
    client.send(BOTH["en"])
    client.send(text)
    assert not shows_summary(client, "en", "language-studies") and not shows_summary(client, "en", "work")
    assert shown is None or shows_summary(client, "en", shown), client.text


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "what is the emergency number"),
        ("en", "poison information number"),
        ("fi", "mikä on hätänumero"),
        ("ar", "ما هو رقم الطوارئ"),
        ("ru", "какой номер скорой помощи"),
        ("so", "waa maxay lambarka degdegga"),
        ("sw", "namba ya dharura ni ipi"),
    ],
)
def test_asking_for_the_emergency_number_gets_the_numbers(make_client, real_nlu, language: str, text: str) -> None:
    client = make_client(user_id=f"sos-{language}-{len(text)}", nlu=real_nlu)
    onboard(client, language)
    client.send(text)
    emergency = plain(client.conversation.services.texts.get(language, "emergency.info"))
    assert emergency in client.text
    assert "112" in client.text


def test_a_health_question_without_emergency_words_opens_the_health_section(make_client, real_nlu) -> None:
    client = make_client(user_id="health-plain", nlu=real_nlu)
    onboard(client, "en")
    client.send("where is the health centre")
    assert plain(client.conversation.services.texts.get("en", "emergency.info")) not in client.text
