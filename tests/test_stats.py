"""Staff statistics: exact figures on SQLite and PostgreSQL, no personal data in any output, `/stats` in the
staff group (audited, refused elsewhere), and `python -m bot admin stats` with `--json` and `--chart`."""

from __future__ import annotations

import dataclasses
import json
import struct
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.messages import Incoming
from bot.core.texts import Texts, markup_problem
from bot.db.database import Database
from bot.db.models import AuditEntry, ConversationState, Counsellor, GuideFeedback, MessageLog, User
from bot.features.booking.models import Booking, Slot
from bot.features.groups.models import Group, Occurrence, Rsvp, Subscription
from bot.features.handoff.models import Ticket
from bot.settings import ROOT
from bot.stats import (
    BookingStats,
    FeedbackStats,
    GroupStats,
    MeetingStats,
    SectionFeedback,
    Statistics,
    TicketStats,
    WeekStats,
    compute_statistics,
    period_bounds,
    render_html,
    render_text,
    write_chart,
)
from tests.client import BotClient, plain

HKI = ZoneInfo("Europe/Helsinki")
TEXTS = Texts.load(ROOT / "content" / "strings")
# A Thursday; with 4 weeks the period is ISO weeks 45–48 of 2026: Mon 2 Nov 00:00 (local) until now.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=HKI)
COUNSELLOR, STRANGER = 7001, 7002
INTERN = "7003"
COUNSELLOR_NAME = "Anna Virtanen"
SECRET_TEXT = "my husband hit me yesterday"
# Telegram ids of the seeded families: none of them may appear in any output.
FAMILY_IDS = [f"55500{n:02d}" for n in range(1, 10)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=HKI)


def en(key: str, **values: object) -> str:
    return TEXTS.get("en", key, **values)


def seed(db: Database) -> None:
    """Families in six languages over several weeks, groups with meetings and answers, bookings, requests
    for a person and guide feedback; each figure asserted below is worked out in the comments."""
    with db.session() as session:
        anna = Counsellor(telegram_id=COUNSELLOR, name=COUNSELLOR_NAME, languages="fi,en")
        session.add(anna)
        # The counsellor wrote in the staff group once, so she has a user row: she is not a family.
        session.add(User(channel="telegram", external_id=str(COUNSELLOR), created_at=at(11, 20)))
        # The privacy feature's placeholder for anonymised rows of erased families: not a family either.
        session.add(User(channel="erased", external_id="erased", created_at=at(11, 12)))
        # An intern (not on the counsellor list) who only said hello in the staff group: the engine gave her a
        # user row and a conversation state, which no private message ever took to a step. Not a family.
        intern = User(channel="telegram", external_id=INTERN, created_at=at(11, 24))
        session.add(intern)
        session.flush()
        session.add(ConversationState(user_id=intern.id, vars={}))
        families = [
            ("fi", at(10, 20), True, None),  # before the period
            ("ar", at(10, 28), True, None),  # before the period
            ("ar", at(11, 3), True, None),  # week 45
            ("so", at(11, 4), True, at(11, 21)),  # week 45, has blocked the bot since
            ("sw", at(11, 10), False, None),  # week 46
            ("fi", at(11, 22, 23, 30)),  # Sunday 23:30 local (21:30 UTC): still week 47
            ("ru", at(11, 23, 0, 30)),  # Monday 00:30 local, Sunday 22:30 UTC: week 48
            ("en", at(11, 25), True, None),  # week 48
            (None, at(11, 26, 10), False, None),  # week 48, has not chosen a language yet
        ]
        users = []
        for index, (language, created, *rest) in enumerate(families):
            consent, blocked = (rest[0], rest[1]) if rest else (True, None)
            user = User(
                channel="telegram",
                external_id=FAMILY_IDS[index],
                language=language,
                created_at=created,
                last_seen_at=created,
                consent_at=created if consent else None,
                blocked_at=blocked,
            )
            session.add(user)
            users.append(user)
        session.flush()
        u1, _u2, u3, u4, u5, _u5b, u6, u7, _u8 = users
        # A family that is somewhere in the bot (the others' states are left out: rows made outside the engine).
        session.add(ConversationState(user_id=u1.id, flow="main", step="menu", vars={}))
        session.add(MessageLog(user_id=u3.id, direction="in", text=SECRET_TEXT, created_at=at(11, 3)))

        # Groups: the second one's name has characters that HTML must escape.
        for group_id, name in (("kemi-mothers", "Mothers' group"), ("tornio-dads", "Dads & <kids>")):
            session.add(
                Group(
                    id=group_id,
                    names={"en": name, "fi": name},
                    municipality=group_id.split("-")[0],
                    address="Street 1",
                    weekday=1,
                    start_time="17:00",
                    duration_minutes=90,
                    audience="families",
                )
            )
        session.flush()
        # kemi: reminders on for u3 (new) and u4 (before the period); u5 subscribed in the period and left.
        session.add_all(
            [
                Subscription(user_id=u3.id, group_id="kemi-mothers", subscribed_at=at(11, 3)),
                Subscription(user_id=u4.id, group_id="kemi-mothers", subscribed_at=at(10, 28)),
                Subscription(
                    user_id=u5.id,
                    group_id="kemi-mothers",
                    subscribed_at=at(11, 10),
                    active=False,
                    ended_at=at(11, 20),
                ),
                Subscription(user_id=u6.id, group_id="tornio-dads", subscribed_at=at(11, 24)),
            ]
        )

        def meeting(
            group_id: str, start: datetime, status: str = "scheduled", attended: int | None = None
        ) -> Occurrence:
            row = Occurrence(
                group_id=group_id,
                original_start=start,
                starts_at=start,
                ends_at=start + timedelta(minutes=90),
                status=status,
                attended=attended,
            )
            session.add(row)
            session.flush()
            return row

        def answers(occurrence: Occurrence, *pairs: tuple[User, str]) -> None:
            for user, answer in pairs:
                session.add(Rsvp(occurrence_id=occurrence.id, user_id=user.id, answer=answer, answered_at=at(10, 1)))

        # Head counts: 5 before the period; 4 in week 45; none recorded on 17 Nov; 0 (nobody came, which is not
        # "not recorded") on 24 Nov and 3 on 25 Nov, both week 48. The cancelled meeting's 7 cannot come about
        # through the bot (a cancelled meeting gets no count); were it in the database, it would not count.
        answers(meeting("kemi-mothers", at(10, 27, 17), attended=5), (u4, "coming"))  # before the period
        answers(meeting("kemi-mothers", at(11, 3, 17), attended=4), (u3, "coming"), (u4, "coming"), (u5, "not_coming"))
        answers(meeting("kemi-mothers", at(11, 10, 17), "cancelled", attended=7), (u3, "coming"))  # not counted
        answers(meeting("kemi-mothers", at(11, 17, 17)), (u4, "coming"))
        answers(meeting("kemi-mothers", at(11, 24, 17), attended=0), (u3, "coming"), (u4, "not_coming"))
        answers(meeting("tornio-dads", at(11, 25, 18), attended=3), (u6, "coming"))
        answers(meeting("kemi-mothers", at(12, 1, 17)), (u3, "coming"))  # after the period

        # Bookings.
        session.flush()

        def slot(start: datetime, status: str = "open") -> Slot:
            row = Slot(
                counsellor_id=anna.id, starts_at=start, minutes=45, mode="phone", status=status, created_at=at(10, 1)
            )
            session.add(row)
            session.flush()
            return row

        s1, s2, s3 = slot(at(11, 5, 10)), slot(at(11, 12, 10)), slot(at(11, 19, 10))  # offered in the period
        s4, s5, s7 = slot(at(12, 3, 10)), slot(at(12, 4, 10)), slot(at(12, 10, 10))  # after it
        s6 = slot(at(11, 20, 10), "cancelled")

        def booking(user: User, on: Slot, created: datetime, **fields: object) -> Booking:
            row = Booking(slot_id=on.id, user_id=user.id, topic="school", language="ar", created_at=created, **fields)
            session.add(row)
            session.flush()
            return row

        booking(u3, s1, at(11, 2))  # week 45, held
        booking(u4, s2, at(10, 30))  # made before the period, held in it
        b3 = booking(u5, s3, at(11, 10), status="moved", ended_at=at(11, 12), ended_by="family")  # week 46
        b4 = booking(u5, s4, at(11, 12))  # the move's new booking: not a new one; ahead
        b3.moved_to_id = b4.id
        booking(u6, s6, at(11, 16), status="cancelled", ended_at=at(11, 18), ended_by="counsellor", interpreter="ar")
        booking(u7, s5, at(11, 24), status="cancelled", ended_at=at(11, 25), ended_by="family")  # week 48
        booking(u7, s7, at(11, 25), interpreter="so")  # week 48, ahead

        # Requests for a person: minutes to claim 10, 30, 1085, 5 and (claimed in the period) 4200.
        def ticket(user: User, created: datetime, wait: int | None, **fields: object) -> None:
            claimed = created + timedelta(minutes=wait) if wait is not None else None
            status = "closed" if fields.get("closed_at") else ("claimed" if claimed else "open")
            session.add(
                Ticket(
                    user_id=user.id,
                    language=user.language or "en",
                    created_at=created,
                    claimed_at=claimed,
                    status=status,
                    counsellor_id=anna.id if claimed else None,
                    **fields,
                )
            )

        ticket(u3, at(11, 3, 10), 10, closed_at=at(11, 3, 11), rating=5)
        ticket(u4, at(11, 10, 9), 30, closed_at=at(11, 10, 10), rating=4, reason="crisis", urgent=True)
        ticket(u5, at(11, 17, 14), 1085, closed_at=at(11, 18, 9), reason="misunderstood")
        ticket(u6, at(11, 24, 9), 5, reason="media")  # still with the counsellor
        ticket(u7, at(11, 25, 12), None)  # still waiting
        ticket(u1, at(10, 30, 10), 4200, closed_at=at(11, 2, 9), rating=3)  # opened before, claimed in the period

        for section, helpful, when in (
            ("health", True, at(11, 4)),
            ("health", True, at(11, 20)),
            ("health", False, at(11, 21)),
            ("school", True, at(11, 24)),
            ("money", False, at(10, 1)),  # before the period
        ):
            session.add(GuideFeedback(section_id=section, language="ar", helpful=helpful, created_at=when))


EXPECTED_WEEKS = (
    WeekStats(2026, 45, date(2026, 11, 2), 2, coming=2, not_coming=1, attended=4, counted=1, bookings=1, tickets=1),
    WeekStats(2026, 46, date(2026, 11, 9), 1, coming=0, not_coming=0, attended=0, counted=0, bookings=1, tickets=1),
    WeekStats(2026, 47, date(2026, 11, 16), 1, coming=1, not_coming=0, attended=0, counted=0, bookings=1, tickets=1),
    WeekStats(2026, 48, date(2026, 11, 23), 3, coming=2, not_coming=1, attended=3, counted=2, bookings=2, tickets=2),
)


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.migrate()
    seed(database)
    yield database  # type: ignore[misc]
    database.dispose()


def compute(db: Database, **options: object) -> Statistics:
    with db.sessions() as session:
        return compute_statistics(session, now=NOW, zone=HKI, language="en", weeks=4, **options)  # type: ignore[arg-type]


def test_the_figures_are_exact_on_both_databases(db: Database) -> None:
    stats = compute(db)
    assert stats.period_start == datetime(2026, 11, 1, 22, 0, tzinfo=UTC)  # Monday 00:00 in Helsinki (EET)
    assert stats.period_end == NOW.astimezone(UTC)
    assert stats.users == 9, "not the counsellor's own user row, the erased placeholder or the staff-group intern"
    assert dict(stats.users_by_language) == {"fi": 2, "en": 1, "ar": 2, "ru": 1, "so": 1, "sw": 1, "-": 1}
    assert (stats.users_with_consent, stats.users_blocked) == (7, 1)
    assert stats.new_users == 7
    assert stats.weeks == EXPECTED_WEEKS
    assert stats.groups == (
        GroupStats(
            "Mothers' group",
            "kemi",
            subscribers=2,
            new_subscriptions=2,
            meetings=3,
            cancelled=1,
            coming=4,
            not_coming=2,
            attended=4,  # 4 + 0, over 3 Nov and 24 Nov; 17 Nov has no count
            counted=2,
        ),
        GroupStats(
            "Dads & <kids>",
            "tornio",
            subscribers=1,
            new_subscriptions=1,
            meetings=1,
            cancelled=0,
            coming=1,
            not_coming=0,
            attended=3,
            counted=1,
        ),
    )
    assert stats.meetings == (
        MeetingStats("Mothers' group", at(11, 3, 17), cancelled=False, coming=2, not_coming=1, attended=4),
        MeetingStats("Mothers' group", at(11, 10, 17), cancelled=True, coming=1, not_coming=0, attended=None),
        MeetingStats("Mothers' group", at(11, 17, 17), cancelled=False, coming=1, not_coming=0, attended=None),
        MeetingStats("Mothers' group", at(11, 24, 17), cancelled=False, coming=1, not_coming=1, attended=0),
        MeetingStats("Dads & <kids>", at(11, 25, 18), cancelled=False, coming=1, not_coming=0, attended=3),
    )
    assert stats.bookings == BookingStats(
        booked=5,
        held=2,
        ahead=2,
        moved=1,
        cancelled_by_family=1,
        cancelled_by_counsellor=1,
        interpreter=2,
        slots_offered=3,
    )
    assert stats.tickets == TicketStats(
        opened=5,
        urgent=1,
        by_reason=(("request", 2), ("misunderstood", 1), ("crisis", 1), ("media", 1)),
        claimed=5,
        median_minutes_to_claim=30.0,  # of 5, 10, 30, 1085, 4200
        closed=4,
        waiting_now=1,
        in_conversation_now=1,
        ratings=3,
        average_rating=4.0,
    )
    assert stats.feedback == FeedbackStats(
        helpful=3, not_helpful=1, sections=(SectionFeedback("health", 2, 1), SectionFeedback("school", 1, 0))
    )


def test_an_earlier_end_day_moves_the_period(db: Database) -> None:
    stats = compute(db, until=date(2026, 11, 15))  # a Sunday: weeks 43–46
    assert [week.number for week in stats.weeks] == [43, 44, 45, 46]
    assert stats.period_end == datetime(2026, 11, 15, 22, 0, tzinfo=UTC)
    assert [week.new_users for week in stats.weeks] == [1, 1, 2, 1]
    assert stats.tickets.opened == 3 and stats.tickets.claimed == 3  # 30 Oct, 3 Nov, 10 Nov
    assert stats.tickets.median_minutes_to_claim == 30.0  # of 4200, 10, 30
    assert (stats.bookings.booked, stats.bookings.held, stats.bookings.ahead) == (3, 2, 2)  # 30 Oct, 2 and 10 Nov


def test_weeks_follow_the_local_clock_across_the_autumn_change() -> None:
    bounds = period_bounds(NOW, HKI, 6)
    # Mondays 19 Oct (summer time, UTC+3) and 26 Oct (the clocks went back on Sunday 25 Oct: UTC+2).
    assert bounds[0] == datetime(2026, 10, 18, 21, 0, tzinfo=UTC)
    assert bounds[1] == datetime(2026, 10, 25, 22, 0, tzinfo=UTC)
    assert len(bounds) == 7 and bounds[-1] == NOW.astimezone(UTC)
    with pytest.raises(ValueError):
        period_bounds(NOW.replace(tzinfo=None), HKI, 4)
    with pytest.raises(ValueError):
        period_bounds(NOW, HKI, 0)


def assert_no_personal_data(text: str) -> None:
    for external_id in [*FAMILY_IDS, str(COUNSELLOR), INTERN]:
        assert external_id not in text
    assert COUNSELLOR_NAME not in text and "Anna" not in text
    assert SECRET_TEXT not in text and "husband" not in text
    assert "F-0" not in text, "not even pseudonymous labels"


def test_the_reports_show_the_figures_escaped_and_nothing_personal(db: Database) -> None:
    stats = compute(db, towns={"kemi": "Kemi", "tornio": "Tornio"})
    report = render_html(stats, en, "en")
    assert len(report) <= 4096 and markup_problem(report) is None
    assert "Dads &amp; &lt;kids&gt;" in report and "<kids>" not in report
    text = plain(report)
    assert "📊 Statistics Mon 2 Nov – Thu 26 Nov (4 weeks)" in text
    assert "👪 Families: 9 (7 new in the period)" in text
    assert "🌐 fi 2 · en 1 · ar 2 · ru 1 · so 1 · sw 1 · no language yet 1" in text
    assert "W45 (Mon 2 Nov): 👤 2 ✅ 2 👥 4 🗓️ 1 🎫 1" in text
    assert "W48 (Mon 23 Nov): 👤 3 ✅ 2 👥 3 🗓️ 2 🎫 2" in text
    # Each group with its town: two groups of the same name in different towns can be told apart.
    assert "Mothers' group (Kemi): 🔔 2 ➕ 2 📅 3 ✅ 4 ❌ 2 👥 4 (2/3 counted)" in text
    assert "Dads & <kids> (Tornio): 🔔 1 ➕ 1 📅 1 ✅ 1 ❌ 0 👥 3 (1/1 counted)" in text
    assert "Tue 3 Nov, 17:00 · Mothers' group · ✅ 2 ❌ 1 · 👥 4" in text
    assert "Tue 10 Nov, 17:00 · Mothers' group · cancelled" in text
    assert "Tue 17 Nov, 17:00 · Mothers' group · ✅ 1 ❌ 0 · 👥 not recorded" in text
    assert "Tue 24 Nov, 17:00 · Mothers' group · ✅ 1 ❌ 1 · 👥 0" in text, "0 came is shown, not 'not recorded'"
    assert "Wed 25 Nov, 18:00 · Dads & <kids> · ✅ 1 ❌ 0 · 👥 3" in text
    assert "not recorded)" not in text and "attendance itself" not in text, "the old 'not recorded' wording is gone"
    assert "🗓️ Bookings: 5 made · 2 held · 2 coming up · 3 slots offered" in text
    assert "⏱️ Median time to claim: 30 min" in text
    assert "⭐ 4/5 (3 ratings)" in text
    assert "health: 👍 2 👎 1" in text
    assert_no_personal_data(report)
    terminal = render_text(stats, en, "en")
    assert terminal == text, "the terminal gets the same lines without markup"
    finnish = plain(render_html(stats, lambda key, **v: TEXTS.get("fi", key, **v), "fi"))
    assert "vko 45 (ma 2.11.)" in finnish and "⏱️ Mediaaniaika ottamiseen: 30 min" in finnish
    assert "(4 viikkoa)" in finnish and "(7 uutta jaksolla)" in finnish and "⭐ 4/5 (3 arviota)" in finnish
    assert "ti 17.11. klo 17.00 · Mothers' group · ✅ 1 ❌ 0 · 👥 ei kirjattu" in finnish
    assert "👥 4 (2/3 kirjattu)" in finnish
    as_json = json.dumps(stats.as_json(), ensure_ascii=False)
    assert_no_personal_data(as_json)


def test_one_of_a_kind_is_singular(db: Database) -> None:
    """One week, one rating, one new family: the singular ("1 viikko", "1 arvio"), not "1 viikkoa", "1 weeks"."""
    stats = compute(db)
    one = dataclasses.replace(
        stats,
        weeks=stats.weeks[-1:],
        new_users=1,
        tickets=dataclasses.replace(stats.tickets, ratings=1, average_rating=2.0),
        meetings=stats.meetings * 3,
    )

    def report(language: str) -> str:
        return plain(render_html(one, lambda key, **v: TEXTS.get(language, key, **v), language, meeting_lines=14))

    finnish, english, russian = report("fi"), report("en"), report("ru")
    assert "(1 viikko)" in finnish and "(1 uusi jaksolla)" in finnish and "⭐ 2/5 (1 arvio)" in finnish
    assert "… ja 1 aiempi tapaaminen" in finnish
    assert "(1 week)" in english and "⭐ 2/5 (1 rating)" in english and "… and 1 earlier meeting\n" in english
    assert "(1 неделя)" in russian and "(1 оценка)" in russian
    assert "(4 недели)" in plain(render_html(stats, lambda key, **v: TEXTS.get("ru", key, **v), "ru"))


def test_a_long_report_summarises_older_meetings_to_fit_one_telegram_message(db: Database) -> None:
    stats = compute(db)
    many = tuple(
        MeetingStats("A group with a rather long name", at(11, 2) + timedelta(hours=n), False, n % 7, n % 3, n % 5)
        for n in range(400)
    )
    longer = dataclasses.replace(stats, meetings=many)
    report = render_html(longer, en, "en")
    assert len(report) <= 4096 and markup_problem(report) is None
    assert "earlier meetings" in report
    assert plain(report).count("A group with a rather long name") < 400
    assert render_text(longer, en, "en").count("A group with a rather long name") == 400, "the terminal lists all"
    assert "🗓️ <b>Bookings</b>" in report and "📖 <b>Guide feedback</b>" in report, "the rest is all there"


def test_the_chart_is_a_png(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "weeks.png"
    stats = compute(db)
    write_chart(stats, path, en)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (1000, 700)
    # The weekly head counts are drawn: without them (the same figures otherwise) the picture differs.
    without = tmp_path / "without-head-counts.png"
    weeks = tuple(dataclasses.replace(week, attended=0) for week in stats.weeks)
    write_chart(dataclasses.replace(stats, weeks=weeks), without, en)
    assert without.read_bytes() != data
    again = tmp_path / "again.png"
    write_chart(stats, again, en)
    assert again.read_bytes() == data, "the same figures give the same picture (so the difference above is theirs)"


# ---------------------------------------------------------------------- /stats through the core
def staff_says(client: BotClient, text: str) -> str:
    replies = client.conversation.handle(Incoming(client.user, text=text, staff_chat=True, message_id=42))
    assert replies and all(r.to is not None and r.to.staff and r.to.reply_to == 42 for r in replies)
    return "\n".join(r.text for r in replies)


def audit_rows(client: BotClient) -> list[tuple[str, str, dict[str, object]]]:
    with client.conversation.services.db.sessions() as session:
        return [(a.actor, a.action, a.details) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_stats_in_the_staff_group_for_counsellors_only_and_audited(make_client, database_url: str) -> None:
    family = make_client(database_url, user_id="5550042", staff_chat_id=-100123)
    family.send("/start")
    family.click("Soomaali")
    family.click("✅")
    services = family.conversation.services
    with services.db.session() as session:
        session.add(Counsellor(telegram_id=COUNSELLOR, name=COUNSELLOR_NAME))
    counsellor = BotClient(family.conversation, user_id=str(COUNSELLOR), channel="telegram")
    stranger = BotClient(family.conversation, user_id=str(STRANGER), channel="telegram")

    report = staff_says(counsellor, "/stats")
    # The staff group reads STAFF_LANGUAGE (Finnish by default), like the ticket cards.
    assert "📊 <b>Tilastot" in report and "(8 viikkoa)" in report
    assert "👪 <b>Perheet</b>: 1 (1 uusi jaksolla)" in report, "one family; counsellors are not counted"
    assert "so 1" in report
    assert "5550042" not in report and COUNSELLOR_NAME not in report
    assert "(12 viikkoa)" in staff_says(counsellor, "/stats 12")
    assert staff_says(stranger, "/stats") == TEXTS.get("fi", "stats.not_staff")
    # People who only ever wrote in the staff group (the stranger above, an intern saying hello) are no families.
    intern = BotClient(family.conversation, user_id="7003", channel="telegram")
    assert intern.conversation.handle(Incoming(intern.user, text="Hi all, I'm the new intern", staff_chat=True)) == []
    assert "👪 <b>Perheet</b>: 1 (1 uusi jaksolla)" in staff_says(counsellor, "/stats 1")

    # In a private chat: no figures. A counsellor is sent to the staff group; a family hears "unknown command".
    counsellor.send("/stats")
    assert counsellor.text == plain(TEXTS.get("en", "stats.staff_group_only"))
    family.send("/stats")
    assert TEXTS.get("so", "errors.unknown_command") in family.text and "Tilastot" not in family.text
    assert audit_rows(family) == [
        ("counsellor:1", "stats.read", {"weeks": 8}),
        ("counsellor:1", "stats.read", {"weeks": 12}),
        ("unlisted", "stats.refused", {"where": "staff_group"}),
        ("counsellor:1", "stats.read", {"weeks": 1}),
        ("counsellor:1", "stats.refused", {"where": "private_chat"}),
        ("unlisted", "stats.refused", {"where": "private_chat"}),
    ]


# ---------------------------------------------------------------------- the command line
def test_the_command_line_prints_the_report_json_and_a_chart(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert datetime.now(UTC) > NOW, "the test's data lies before --until, which lies before the real clock"
    chart = tmp_path / "weeks.png"
    assert main(["admin", "stats", "--weeks", "4", "--until", "2026-11-26", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "📊 Statistics Mon 2 Nov – Thu 26 Nov (4 weeks)" in out
    assert "👪 Families: 9 (7 new in the period)" in out
    assert "Wed 25 Nov, 18:00 · Dads & <kids> · ✅ 1 ❌ 0 · 👥 3" in out, "the terminal gets plain text"
    assert "Mothers' group (Kemi): 🔔 2" in out, "the town's name from content/groups.yml"
    assert "Tue 17 Nov, 17:00 · Mothers' group · ✅ 1 ❌ 0 · 👥 not recorded" in out
    assert "⏱️ Median time to claim: 30 min" in out
    assert_no_personal_data(out)
    data = chart.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 20_000

    assert main(["admin", "stats", "--weeks", "4", "--until", "2026-11-26", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["users"] == 9 and figures["new_users"] == 7
    assert [week["tickets"] for week in figures["weeks"]] == [1, 1, 1, 2]
    assert [week["attended"] for week in figures["weeks"]] == [4, 0, 0, 3]
    assert [week["counted"] for week in figures["weeks"]] == [1, 0, 0, 2]
    assert [meeting["attended"] for meeting in figures["meetings"]] == [4, None, None, 0, 3]
    assert figures["tickets"]["median_minutes_to_claim"] == 30.0
    assert figures["tickets"]["by_reason"] == {"request": 2, "misunderstood": 1, "crisis": 1, "media": 1}
    assert figures["bookings"]["booked"] == 5
    assert_no_personal_data(json.dumps(figures, ensure_ascii=False))

    assert main(["admin", "stats", "--weeks", "0"]) == 2
    with db.sessions() as session:
        reads = session.scalars(select(AuditEntry.details).where(AuditEntry.actor == "cli")).all()
    assert reads == [{"weeks": 4, "chart": True}, {"weeks": 4, "chart": False}]


def test_typed_numbers_are_decimal_and_bounded() -> None:
    from bot.staff import typed_number

    assert typed_number("12") == 12 and typed_number(" #7 ") == 7 and typed_number("١٢") == 12
    for junk in ("²", "", "#", "-1", "1.5", "12a", "9" * 10):
        assert typed_number(junk) is None, junk
