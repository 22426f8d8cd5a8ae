"""The entry points as a newcomer and an outside check use them: `chat`, `run` and `admin` in real processes,
and the counsellor list on the command line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from bot.cli import main
from bot.core.texts import Texts
from bot.db.database import Database, alembic_config
from bot.db.models import AuditEntry, Counsellor
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


def admin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot admin …` as a coordinator runs it, against a database in `tmp_path`."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'admin.db'}", "LOG_LEVEL": "INFO"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "admin", *args],
        cwd=tmp_path,  # no stray .env
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_admin_commands_print_no_migration_log_and_migrate_says_what_it_applied(tmp_path: Path) -> None:
    first = admin(tmp_path, "counsellor", "list")  # the first command on a new database migrates it
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stderr == "", "no alembic INFO lines (Context impl SQLiteImpl, Running upgrade …)"
    assert "no counsellors yet" in first.stdout
    # A database made before the groups branch's latest migration: `migrate` names what it applies, in one line.
    database = Database(f"sqlite:///{tmp_path / 'admin.db'}")
    try:
        with database.engine.begin() as connection:
            heads = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
            config = alembic_config(database.url)
            config.attributes["connection"] = connection
            command.downgrade(config, "groups@-1")
            (undone,) = heads - set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        database.dispose()
    applied = admin(tmp_path, "migrate")
    assert applied.returncode == 0 and applied.stderr == ""
    assert applied.stdout == f"database is up to date: applied 1 migration(s): {undone}\n"
    again = admin(tmp_path, "migrate")
    assert again.stdout == "database is up to date: nothing to apply\n" and again.stderr == ""


def test_counsellors_are_listed_with_their_ids_and_put_on_and_off_duty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'staff.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["admin", "counsellor", *args])
        out, err = capsys.readouterr()
        return code, out, err

    # Families read the name ("👋 Anna from our team is here now"); a negative id is a group's.
    for bad in (["--name", ""], ["--name", "   "], ["--telegram-id", "-5"], ["--telegram-id", "0"]):
        values = {"--telegram-id": "7005", "--name": "Eve", **dict(zip(bad[::2], bad[1::2], strict=True))}
        code, out, err = run("add", *(item for pair in values.items() for item in pair))
        assert code == 2 and out == "" and bad[0] in err, bad
    assert run("add", "--telegram-id", "7001", "--name", " Anna ", "--municipalities", "Kemi,Tornio")[0] == 0
    assert run("add", "--telegram-id", "7003", "--name", "Ben", "--languages", "fi,en,ar")[0] == 0

    assert run("duty", "--telegram-id", "7003", "off")[:2] == (0, "counsellor off duty\n")
    code, _out, err = run("duty", "--telegram-id", "7999", "on")
    assert code == 1 and "no such counsellor" in err
    code, out, _err = run("list")
    assert code == 0
    assert out.splitlines() == [
        "id\ttelegram_id\tname\tlanguages\tmunicipalities\tactive\ton_duty",
        "1\t7001\tAnna\tfi,en\tKemi,Tornio\tyes\tyes",
        "2\t7003\tBen\tfi,en,ar\t-\tyes\tno",
    ]
    assert run("duty", "--telegram-id", "7003", "on")[0] == 0

    database = Database(url)
    try:
        with database.sessions() as session:
            rows = session.scalars(select(Counsellor).order_by(Counsellor.id)).all()
            audit_rows = [(a.actor, a.action, a.target, a.details) for a in session.scalars(select(AuditEntry))]
    finally:
        database.dispose()
    assert [(row.telegram_id, row.name, row.on_duty) for row in rows] == [(7001, "Anna", True), (7003, "Ben", True)]
    assert audit_rows == [
        ("cli", "counsellor.add", "counsellor:1", {}),
        ("cli", "counsellor.add", "counsellor:2", {}),
        ("cli", "counsellor.duty", "counsellor:2", {"on_duty": False}),
        ("cli", "counsellor.duty", "counsellor:2", {"on_duty": True}),
    ]
