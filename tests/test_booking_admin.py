"""`python -m bot admin slots …`: CSV import (all or nothing), recurring availability, list, cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.db.database import Database
from bot.db.models import AuditEntry, Counsellor, User
from bot.features.booking.models import Booking, Slot
from bot.outbox_models import OutboxMessage

HKI = ZoneInfo("Europe/Helsinki")
COUNSELLOR = 4440001


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        session.add(Counsellor(telegram_id=COUNSELLOR, name="Anna", languages="fi,en,ar", municipalities="Kemi"))
    yield database  # type: ignore[misc]
    database.dispose()


def ahead(days: int) -> date:
    return (datetime.now(UTC).astimezone(HKI) + timedelta(days=days)).date()


def slots(db: Database) -> list[Slot]:
    with db.sessions() as session:
        return list(session.scalars(select(Slot).order_by(Slot.starts_at)).unique())


def test_import_adds_valid_slots_and_is_idempotent(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "slots.csv"
    path.write_text(
        "counsellor_telegram_id,date,start,minutes,mode,municipality,place,languages\n"
        f'{COUNSELLOR},{ahead(3)},9:00,45,in_person,Kemi,"Perhekeskus, Valtakatu 1",\n'
        f"{COUNSELLOR},{ahead(3)},10:00,45,phone,,,fi\n",
        encoding="utf-8",
    )
    assert main(["admin", "slots", "import", str(path), "--dry-run"]) == 0
    assert slots(db) == []
    assert main(["admin", "slots", "import", str(path)]) == 0
    assert "2 slot(s) added" in capsys.readouterr().out
    rows = slots(db)
    assert [(s.mode, s.municipality, s.place, s.languages) for s in rows] == [
        ("in_person", "Kemi", "Perhekeskus, Valtakatu 1", "fi,en,ar"),
        ("phone", None, None, "fi"),
    ]
    assert rows[0].starts_at.astimezone(HKI).strftime("%H:%M") == "09:00"
    assert main(["admin", "slots", "import", str(path)]) == 0
    assert "0 slot(s) added, 2 already there" in capsys.readouterr().out
    with db.sessions() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "slots.import")) is not None


def test_a_file_with_any_problem_imports_nothing(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "slots.csv"
    path.write_text(
        "counsellor_telegram_id;date;start;minutes;mode;municipality;place\n"
        f"{COUNSELLOR};{ahead(3)};9.00;45;in_person;Kemi;Perhekeskus\n"
        f"999;{ahead(3)};9.00;45;phone;;\n"
        f"{COUNSELLOR};{ahead(3)};9.30;45;in_person;Kemi;Perhekeskus\n",
        encoding="utf-8",
    )
    assert main(["admin", "slots", "import", str(path)]) == 1
    out = capsys.readouterr().out
    assert "line 3: no active counsellor" in out and "line 4:" in out and "overlaps" in out
    assert "nothing imported" in out
    assert slots(db) == []


def test_recurring_tuesdays_nine_to_twelve_for_four_weeks(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    command = [
        "admin",
        "slots",
        "recurring",
        "--counsellor",
        str(COUNSELLOR),
        "--weekday",
        "tue",
        "--from",
        "9:00",
        "--to",
        "12:00",
        "--minutes",
        "45",
        "--weeks",
        "4",
        "--mode",
        "in_person",
        "--municipality",
        "kemi",
        "--place",
        "Perhekeskus",
    ]
    assert main([*command, "--dry-run"]) == 0
    assert "would be added" in capsys.readouterr().out
    assert main(command) == 0
    rows = slots(db)
    assert 12 <= len(rows) <= 16, "four Tuesdays × four slots, less today's past ones"
    assert {s.starts_at.astimezone(HKI).strftime("%a") for s in rows} == {"Tue"}
    assert {s.starts_at.astimezone(HKI).strftime("%H:%M") for s in rows} <= {"09:00", "09:45", "10:30", "11:15"}
    assert {s.municipality for s in rows} == {"Kemi"}
    assert main(command) == 0
    assert "0 slot(s) added" in capsys.readouterr().out.splitlines()[-1]
    assert main([*command[:4], "999", *command[5:]]) == 1
    assert (
        main(
            [
                "admin",
                "slots",
                "recurring",
                "--counsellor",
                str(COUNSELLOR),
                "--weekday",
                "someday",
                "--from",
                "9:00",
                "--to",
                "12:00",
                "--minutes",
                "45",
            ]
        )
        == 2
    )


def test_recurring_with_a_town_that_has_no_slots_says_so_once(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    command = ["admin", "slots", "recurring", "--counsellor", str(COUNSELLOR), "--weekday", "tue"]
    assert main([*command, "--from", "9:00", "--to", "12:00", "--minutes", "45", "--municipality", "Rovaniemi"]) == 2
    out = capsys.readouterr().out
    assert out.count("needs a municipality (Kemi, Tornio, Tervola, Simo, Ylitornio)") == 1, out
    assert slots(db) == []


def test_list_and_cancel_tell_the_family_through_the_outbox(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    start = datetime.now(UTC) + timedelta(days=3)
    with db.session() as session:
        counsellor = session.scalar(select(Counsellor))
        assert counsellor is not None
        slot = Slot(
            counsellor_id=counsellor.id, starts_at=start, minutes=45, mode="video", languages="fi", status="open"
        )
        family = User(channel="telegram", external_id="5550001", language="so", consent_at=start)
        session.add_all([slot, family])
        session.flush()
        session.add(Booking(slot_id=slot.id, user_id=family.id, status="active", topic="money", language="so"))
        slot_id = slot.id
    assert main(["admin", "slots", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{slot_id}\t" in listed and "booked by F-0" in listed and "5550001" not in listed
    assert main(["admin", "slots", "cancel", str(slot_id)]) == 0
    assert "the family will be told" in capsys.readouterr().out
    with db.sessions() as session:
        booking = session.scalar(select(Booking))
        assert booking is not None and (booking.status, booking.ended_by) == ("cancelled", "counsellor")
        (notice,) = session.scalars(select(OutboxMessage)).all()
        assert (notice.text_key, notice.status, notice.user_id) == (
            "booking.cancelled_by_counsellor",
            "pending",
            booking.user_id,
        )
        assert notice.buttons[0][0][1] == "booking.notice:book"
    assert main(["admin", "slots", "cancel", str(slot_id)]) == 1, "only once"
