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
from bot.settings import ROOT, SERVED_LANGUAGES
from tests.client import plain
from tests.fakes import FixedUnderstanding

LIBRARY = GuideLibrary.load(ROOT / "content")
TEXTS = Texts.load(ROOT / "content" / "strings")


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
    """'Emergency numbers' typed reads as health care: the numbers are one tap away there."""

    client = make_client(nlu=KelaOrHealth(), user_id="urgent")
    onboard(client, "en")
    client.send("emergency numbers")
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
