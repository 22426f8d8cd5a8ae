"""How many came to a group meeting: the head count column (migration 0005, on SQLite and PostgreSQL), the
`/attended` staff command (counsellors only, audited, refusals), `python -m bot admin attendance`, the count
in the statistics, and that it is no personal data (erasure leaves it, and leaves no trace of the family)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import bindparam, inspect, select, text

from bot.cli import main
from bot.core.messages import Incoming
from bot.db.base import UTCDateTime
from bot.db.database import Database, alembic_config
from bot.db.models import AuditEntry, Counsellor, User
from bot.features.groups.models import Group, Occurrence, Rsvp
from bot.features.groups.occurrences import MAX_ATTENDED
from bot.features.groups.staff_commands import whole_number
from bot.stats import compute_statistics
from tests.client import BotClient, plain
from tests.content_cache import content_loaded_once  # noqa: F401  (autouse)
from tests.privacy_scan import traces

HELSINKI = ZoneInfo("Europe/Helsinki")
# Monday 7 December 2026, 18:00 in Helsinki: the Kemi mothers' group meets on Tuesdays at 17:00.
MONDAY_EVENING = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
# Tuesday 8 December, 19:30 in Helsinki: that meeting has started (and ended); the next one is on 15 December.
TUESDAY_EVENING = datetime(2026, 12, 8, 17, 30, tzinfo=UTC)
COUNSELLOR, STRANGER = "7001", "7002"
FAMILY = "555123456"


# ---------------------------------------------------------------------- the migration
def columns(db: Database) -> dict[str, dict[str, object]]:
    return {column["name"]: column for column in inspect(db.engine).get_columns("group_occurrences")}


def test_the_migration_adds_a_nullable_head_count_and_keeps_existing_meetings(database_url: str) -> None:
    """A database made before 0005 (groups at 0002) gets the column on the next start; rows and RSVPs stay."""
    db = Database(database_url)
    try:
        with db.engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, "0002_groups")
        assert "attended" not in columns(db)
        now = datetime.now(UTC)
        moment = bindparam("at", now, type_=UTCDateTime())  # stored as the ORM stores it, on either database
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (channel, external_id, created_at, last_seen_at) VALUES ('test', 'u1', :at, :at)"
                ).bindparams(moment)
            )
        with db.session() as session:
            user_id = session.scalar(select(User.id))
            session.add(
                Group(
                    id="g",
                    names={"en": "G"},
                    municipality="kemi",
                    address="A 1",
                    weekday=1,
                    start_time="17:00",
                    duration_minutes=90,
                    audience="everyone",
                )
            )
            session.flush()
        # Through SQL: the ORM model already has the new column, which this schema does not.
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO group_occurrences (id, group_id, original_start, starts_at, ends_at, status, revision,"
                    " planned) VALUES (1, 'g', :at, :at, :at, 'scheduled', 0, '{}')"
                ).bindparams(moment)
            )
            connection.execute(
                text(
                    "INSERT INTO group_rsvps (occurrence_id, user_id, answer, answered_at)"
                    " VALUES (1, :user, 'coming', :at)"
                ).bindparams(moment, user=user_id)
            )

        db.migrate()  # what every start does: `upgrade heads`
        column = columns(db)["attended"]
        assert column["nullable"] is True and "INT" in str(column["type"]).upper()
        with db.engine.connect() as connection:
            versions = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "0005_attendance" in versions and "0002_groups" not in versions
        with db.sessions() as session:
            occurrence = session.get(Occurrence, 1)
            assert occurrence is not None and occurrence.attended is None, "existing meetings: not recorded"
            occurrence.attended = MAX_ATTENDED
            session.commit()
            assert session.scalar(select(Occurrence.attended)) == MAX_ATTENDED

        # Back down to 0002: the column goes, the meetings and their RSVPs stay (on SQLite a rebuilt table
        # would have cascaded the RSVPs away).
        with db.engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "groups@-1")
        assert "attended" not in columns(db)
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM group_rsvps")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM group_occurrences")).scalar() == 1
        db.migrate()
        assert "attended" in columns(db)
    finally:
        db.dispose()


# ---------------------------------------------------------------------- /attended in the staff group
def at(client: BotClient, moment: datetime) -> None:
    client.conversation.services.clock = lambda: moment


def t(client: BotClient, key: str, **values: object) -> str:
    return plain(client.conversation.services.texts.get("en", key, **values))


def staff_says(client: BotClient, text_: str) -> str:
    """A command in the staff group; every answer goes back to the staff group."""
    replies = client.conversation.handle(Incoming(client.user, text=text_, staff_chat=True, message_id=42))
    assert replies and all(r.to is not None and r.to.staff and r.to.reply_to == 42 for r in replies)
    return "\n".join(plain(r.text) for r in replies)


def meeting_on(client: BotClient, group_id: str, day: str) -> int:
    with client.conversation.services.db.sessions() as session:
        for row in session.scalars(select(Occurrence).where(Occurrence.group_id == group_id)):
            if row.starts_at.astimezone(HELSINKI).date().isoformat() == day:
                return row.id
    raise AssertionError(f"no meeting of {group_id} on {day}")


def head_counts(client: BotClient) -> dict[int, int]:
    with client.conversation.services.db.sessions() as session:
        return dict(
            session.execute(select(Occurrence.id, Occurrence.attended).where(Occurrence.attended.is_not(None))).all()
        )


def audit_rows(client: BotClient, *actions: str) -> list[tuple[str, str, str | None, dict[str, object]]]:
    with client.conversation.services.db.sessions() as session:
        return [
            (a.actor, a.action, a.target, a.details)
            for a in session.scalars(select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.id))
        ]


def family_with_an_answer(make_client, database_url: str) -> tuple[BotClient, int, int]:
    """A family subscribed to the Kemi mothers' group that said "coming" to the 8 December meeting, and a
    listed counsellor. Returns the family's client and the numbers of the 8 and 15 December meetings."""
    family = make_client(database_url, user_id=FAMILY, staff_language="en")
    family.channel = "telegram"
    at(family, MONDAY_EVENING)
    family.send("/start")
    family.click("English")
    family.click("✅")
    family.send("/start group-kemi-mothers")
    first, second = meeting_on(family, "kemi-mothers", "2026-12-08"), meeting_on(family, "kemi-mothers", "2026-12-15")
    family.press(f"groups.reminder:y{first}")
    with family.conversation.services.db.session() as session:
        session.add(Counsellor(telegram_id=int(COUNSELLOR), name="Counsellor", languages="fi,en"))
    return family, first, second


def test_a_counsellor_records_and_corrects_a_head_count_and_the_statistics_show_it(
    make_client, database_url: str
) -> None:
    family, first, second = family_with_an_answer(make_client, database_url)
    staff = BotClient(family.conversation, user_id=COUNSELLOR, channel="telegram")
    stranger = BotClient(family.conversation, user_id=STRANGER, channel="telegram")

    # Before the meeting: refused, nothing stored.
    assert staff_says(staff, f"/attended {first} 9") == t(family, "groups.staff.attended_not_started")
    at(family, TUESDAY_EVENING)
    assert staff_says(stranger, f"/attended {first} 9") == t(family, "groups.staff.not_staff")
    assert head_counts(family) == {}

    # `/attended` alone: the meetings that have started, with their numbers, answers and counts so far.
    listing = staff_says(staff, "/attended")
    assert t(family, "groups.staff.attended_title", days=14) in listing
    assert f"#{first} · Tue 8 Dec, 17:00 · Mothers' group · as planned · ✅ 1 ❌ 0 · 👥 not recorded" in listing
    assert f"#{second} " not in listing, "the next meeting has not started"
    assert t(family, "groups.staff.usage_attended", max=MAX_ATTENDED) in listing

    saved = staff_says(staff, f"/attended #{first} 9")
    assert saved == f"👥 Meeting #{first} (Tue 8 Dec, 17:00, Mothers' group): 9 came. Saved."
    corrected = staff_says(staff, f"/attended {first} 11")
    assert corrected == f"👥 Meeting #{first} (Tue 8 Dec, 17:00, Mothers' group): 11 came (was 9). Corrected."
    assert head_counts(family) == {first: 11}
    assert f"#{first} · Tue 8 Dec, 17:00 · Mothers' group · as planned · ✅ 1 ❌ 0 · 👥 11" in staff_says(
        staff, "/attended"
    )
    assert audit_rows(family, "groups.attendance", "groups.attended") == [
        ("unlisted", "groups.attended", None, {"refused": True}),
        (
            "counsellor:1",
            "groups.attendance",
            f"occurrence:{first}",
            {"group": "kemi-mothers", "count": 9, "previous": None},
        ),
        (
            "counsellor:1",
            "groups.attendance",
            f"occurrence:{first}",
            {"group": "kemi-mothers", "count": 11, "previous": 9},
        ),
    ]

    # The statistics of the week: the meeting's answers and its head count.
    services = family.conversation.services
    with services.db.sessions() as session:
        stats = compute_statistics(session, now=TUESDAY_EVENING, zone=HELSINKI, language="en", weeks=1)
    [meeting] = [m for m in stats.meetings if m.group == "Mothers' group"]
    assert (meeting.coming, meeting.not_coming, meeting.attended) == (1, 0, 11)
    assert (stats.weeks[0].attended, stats.weeks[0].counted) == (11, 1)
    [group] = [g for g in stats.groups if g.group == "Mothers' group"]
    assert (group.meetings, group.attended, group.counted) == (1, 11, 1)

    # A meeting that has started can be neither moved nor cancelled (families may be on their way), so its
    # head count stays with it.
    for command_text in (f"/move_occurrence {first} 10.12.2026 17:00 illness", f"/cancel_occurrence {first} illness"):
        refused = staff_says(staff, command_text)
        assert refused == t(family, "groups.staff.already_started", id=first, when="Tue 8 Dec, 17:00"), command_text
    assert head_counts(family) == {first: 11}
    assert audit_rows(family, "groups.move_occurrence", "groups.cancel_occurrence") == []


REFUSALS = [
    ("{first}", "groups.staff.usage_attended"),  # no count
    ("{first} 9 more", "groups.staff.usage_attended"),
    ("first 9", "groups.staff.usage_attended"),  # not a meeting number
    ("-{first} 9", "groups.staff.usage_attended"),
    ("99999 9", "groups.staff.no_such_meeting"),
    ("99999999999999999999 9", "groups.staff.usage_attended"),  # beyond INTEGER: never asked from the database
    ("{first} -1", "groups.staff.attended_bad_count"),
    ("{first} 501", "groups.staff.attended_bad_count"),
    ("{first} 9.5", "groups.staff.attended_bad_count"),
    ("{first} nine", "groups.staff.attended_bad_count"),
    ("{first} #9", "groups.staff.attended_bad_count"),
    ("{second} 9", "groups.staff.attended_not_started"),
    ("{cancelled} 9", "groups.staff.attended_cancelled"),
]


def test_refusals_store_nothing(make_client, database_url: str) -> None:
    family, first, second = family_with_an_answer(make_client, database_url)
    staff = BotClient(family.conversation, user_id=COUNSELLOR, channel="telegram")
    at(family, TUESDAY_EVENING)
    cancelled = meeting_on(family, "kemi-mothers", "2026-12-22")
    assert "cancelled" in staff_says(staff, f"/cancel_occurrence {cancelled} holiday")
    for argument, key in REFUSALS:
        command_text = "/attended " + argument.format(first=first, second=second, cancelled=cancelled)
        answer = staff_says(staff, command_text)
        assert answer == t(family, key, max=MAX_ATTENDED, id=99999, days=14), command_text
    assert head_counts(family) == {}
    assert audit_rows(family, "groups.attendance") == []
    # The same meeting takes the largest count allowed: the refusals above were for what was typed.
    assert staff_says(staff, f"/attended {first} {MAX_ATTENDED}").endswith("Saved.")
    assert head_counts(family) == {first: MAX_ATTENDED}


def test_whole_numbers_as_counsellors_type_them() -> None:
    assert [whole_number(s) for s in ("12", " #12 ", "٩", "0", "007")] == [12, 12, 9, 0, 7]
    assert [whole_number(s) for s in ("", "#", "-3", "+3", "9.5", "1e3", "²", "1234567890", "12a")] == [None] * 9


# ---------------------------------------------------------------------- the head count is no personal data
def test_erasing_a_family_keeps_the_head_count_and_leaves_no_trace(make_client, database_url: str) -> None:
    family, first, _second = family_with_an_answer(make_client, database_url)
    staff = BotClient(family.conversation, user_id=COUNSELLOR, channel="telegram")
    at(family, TUESDAY_EVENING)
    staff_says(staff, f"/attended {first} 9")
    services = family.conversation.services
    with services.db.sessions() as session:
        internal_id = session.scalar(select(User.id).where(User.external_id == FAMILY))
        assert session.scalar(select(Rsvp.user_id)) == internal_id
    assert internal_id is not None

    family.send("/delete")
    family.click(t(family, "privacy.delete_yes"))
    assert t(family, "privacy.deleted") in family.text
    assert head_counts(family) == {first: 9}, "a number of people is nobody's data: it stays"
    assert traces(database_url, external_id=FAMILY, internal_id=internal_id, texts=[]) == []


# ---------------------------------------------------------------------- the command line
def test_the_command_line_records_corrects_and_refuses(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["admin", "import-groups"]) == 0
    capsys.readouterr()
    # The meeting numbers the listing shows, for a meeting three days ago (generated rows start at yesterday).
    now = datetime.now(UTC)
    db = Database(database_url)
    try:
        with db.session() as session:
            past = Occurrence(
                group_id="kemi-mothers",
                original_start=now - timedelta(days=3),
                starts_at=now - timedelta(days=3),
                ends_at=now - timedelta(days=3) + timedelta(minutes=90),
                status="scheduled",
            )
            future = Occurrence(
                group_id="kemi-mothers",
                original_start=now + timedelta(days=100),
                starts_at=now + timedelta(days=100),
                ends_at=now + timedelta(days=100, minutes=90),
                status="scheduled",
            )
            session.add_all([past, future])
            session.flush()
            past_id, future_id = past.id, future.id

        assert main(["admin", "occurrences", "--group", "kemi-mothers", "--days", "1"]) == 0
        assert f"{past_id}\t" not in capsys.readouterr().out, "without --past: only meetings not ended yet"
        assert main(["admin", "occurrences", "--group", "kemi-mothers", "--days", "1", "--past", "7"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].endswith("\tsubscribers\tattended")
        [row] = [line for line in lines if line.startswith(f"{past_id}\t")]
        assert row.endswith("\t-"), "not recorded"

        assert main(["admin", "attendance", str(past_id), "12"]) == 0
        out = capsys.readouterr().out
        assert f"meeting {past_id} (" in out and "kemi-mothers): 12 came; saved" in out
        assert main(["admin", "attendance", str(past_id), "14"]) == 0
        assert "14 came (was 12); saved" in capsys.readouterr().out
        assert main(["admin", "attendance", str(past_id), "501"]) == 2
        assert "0 to 500" in capsys.readouterr().out
        assert main(["admin", "attendance", str(past_id), "-1"]) == 2
        assert main(["admin", "attendance", str(future_id), "3"]) == 1
        assert "has not started yet" in capsys.readouterr().out
        assert main(["admin", "attendance", "999999", "3"]) == 1
        assert "no such meeting" in capsys.readouterr().out

        assert main(["admin", "occurrences", "--group", "kemi-mothers", "--days", "1", "--past", "7"]) == 0
        [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"{past_id}\t")]
        assert row.endswith("\t14")
        with db.sessions() as session:
            assert session.get(Occurrence, past_id).attended == 14  # type: ignore[union-attr]
            assert session.get(Occurrence, future_id).attended is None  # type: ignore[union-attr]
            audits = session.execute(
                select(AuditEntry.actor, AuditEntry.target, AuditEntry.details)
                .where(AuditEntry.action == "groups.attendance")
                .order_by(AuditEntry.id)
            ).all()
        assert [tuple(row) for row in audits] == [
            ("cli", f"occurrence:{past_id}", {"group": "kemi-mothers", "count": 12, "previous": None}),
            ("cli", f"occurrence:{past_id}", {"group": "kemi-mothers", "count": 14, "previous": 12}),
        ]
    finally:
        db.dispose()
