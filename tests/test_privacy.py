"""Privacy: /privacy, /mydata, /delete (complete erasure, checked table by table), consent withdrawal,
retention, and the admin commands that answer requests and read the audit log."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from bot.core.messages import Incoming, Reply, UserRef
from bot.core.services import Services
from bot.core.texts import Safe, Texts
from bot.db.models import AuditEntry, ConversationState, InboxUpdate, MessageLog, User
from bot.settings import ROOT, SERVED_LANGUAGES
from tests.client import BotClient, plain
from tests.fakes import FixedUnderstanding, KeywordNLU
from tests.privacy_scan import traces

TEXTS = Texts.load(ROOT / "content" / "strings")
TELEGRAM_ID = "987654321"
SECRETS = ["My daughter has nightmares since the move 7f3a", "Our landlord shouts at us qz81"]


def t(language: str, key: str, **values: object) -> str:
    return plain(TEXTS.get(language, key, **values))


def overview(language: str, *, consent: bool, days: int = 90, ticket_days: int = 30) -> str:
    """/privacy as a family with (or without) consent reads it."""
    said = TEXTS.get(language, "privacy.consent_given" if consent else "privacy.consent_missing")
    return t(language, "privacy.overview", days=days, ticket_days=ticket_days, consent=Safe(said))


class PrivacyNLU(KeywordNLU):
    """KeywordNLU that also understands "forget me"."""

    def understand(self, text: str, **kwargs: object) -> FixedUnderstanding:
        for words, intent in (("forget me", "privacy_delete"), ("talk to a person", "human_handoff")):
            if words in text.lower():
                return FixedUnderstanding(text, "en", 0.9, intent, 0.95, False, ((intent, 0.95),))
        return super().understand(text, **kwargs)  # type: ignore[arg-type]


def onboard(client: BotClient, language_label: str = "English") -> None:
    client.send("/start")
    client.click(language_label)
    client.click("✅")


def telegram_client(make_client, database_url: str | None = None, **kwargs: object) -> BotClient:
    client = make_client(database_url, nlu=PrivacyNLU(), user_id=TELEGRAM_ID, **kwargs)
    client.channel = "telegram"
    return client


def services_of(client: BotClient):
    return client.conversation.services


# ---------------------------------------------------------------------- /privacy
@pytest.mark.parametrize("language,label", [("so", "Soomaali"), ("ar", "العربية"), ("fi", "Suomi")])
def test_privacy_explains_in_the_users_language(make_client, language: str, label: str) -> None:
    client = make_client(nlu=PrivacyNLU())
    onboard(client, label)
    client.send("/privacy")
    assert overview(language, consent=True) in client.text
    labels = [b.label for b in client.buttons]
    assert TEXTS.get(language, "privacy.button_export") in labels
    assert TEXTS.get(language, "privacy.button_delete") in labels
    assert TEXTS.get(language, "privacy.button_withdraw") in labels  # they agreed: they can take it back


def test_privacy_texts_agree_with_the_consent_details_and_settings(make_client) -> None:
    """The overview says what `privacy.details` (shown before consent) says, with the configured periods."""
    for language in SERVED_LANGUAGES:
        text = TEXTS.by_language[language]["privacy.overview"]
        assert "{days}" in text and "{ticket_days}" in text and "{consent}" in text
        assert "/mydata" in text and "/delete" in text
        assert "90" in TEXTS.by_language[language]["privacy.details"]  # the default RETENTION_DAYS
    client = make_client(nlu=PrivacyNLU(), retention_days=30, closed_ticket_retention_days=7)
    onboard(client)
    client.send("/privacy")
    assert overview("en", consent=True, days=30, ticket_days=7) in client.text


def test_privacy_commands_are_in_the_command_menu_in_every_language(make_client) -> None:
    client = make_client(nlu=PrivacyNLU())
    registry = services_of(client).registry
    for name in ("privacy", "mydata", "delete"):
        assert name in registry.menu_commands
        for language in SERVED_LANGUAGES:
            assert 3 <= len(TEXTS.get(language, f"commands.{name}")) <= 256


def test_privacy_works_before_onboarding_too(make_client) -> None:
    client = make_client(nlu=PrivacyNLU())
    client.send("/privacy")
    assert overview("en", consent=False) in client.text
    agree = client.button(t("en", "privacy.agree"))  # no consent yet: it can be given here
    assert agree


# ---------------------------------------------------------------------- /mydata
def test_mydata_sends_everything_kept_as_json(make_client) -> None:
    client = telegram_client(make_client)
    onboard(client, "Kiswahili")
    for text in SECRETS:
        client.send(text)
    replies = client.send("/mydata")
    files = [r.attachment for r in replies if r.attachment is not None]
    assert len(files) == 1
    assert files[0].mime_type == "application/json" and files[0].filename.endswith(".json")
    document = json.loads(files[0].content.decode("utf-8"))
    assert document["profile"]["telegram_user_id"] == TELEGRAM_ID
    assert document["profile"]["language"] == "sw"
    assert document["profile"]["consent_given_at"] and document["profile"]["consent_notice_version"]
    assert [m["text"] for m in document["messages"]] == SECRETS
    assert t("sw", "privacy.export_ready") in client.text
    assert client.buttons, "never a dead end"


def test_mydata_holds_no_other_users_data(make_client) -> None:
    other = make_client(nlu=PrivacyNLU(), user_id="111222333")
    onboard(other)
    other.send("Someone else's private words 99zz")
    client = telegram_client(make_client)
    onboard(client)
    replies = client.send("/mydata")
    content = next(r.attachment for r in replies if r.attachment).content.decode()
    assert "99zz" not in content and "111222333" not in content


# ---------------------------------------------------------------------- /delete
def test_delete_asks_first_and_no_keeps_everything(make_client) -> None:
    client = telegram_client(make_client)
    onboard(client)
    client.send(SECRETS[0])
    client.send("/delete")
    assert t("en", "privacy.delete_confirm") in client.text
    client.click(t("en", "privacy.delete_no"))
    assert t("en", "privacy.kept") in client.text and t("en", "menu.title") in client.text  # said, then the menu
    assert client.text.index(t("en", "privacy.kept")) < client.text.index(t("en", "menu.title"))
    with services_of(client).db.sessions() as session:
        assert session.scalar(select(User).where(User.external_id == TELEGRAM_ID)) is not None
        assert session.scalar(select(MessageLog.text)) == SECRETS[0]


YES = {"fi": "kyllä", "en": "yes", "ar": "نعم", "ru": "да", "so": "haa", "sw": "ndiyo"}
LABELS = {"fi": "Suomi", "en": "English", "ar": "العربية", "ru": "Русский", "so": "Soomaali", "sw": "Kiswahili"}


@pytest.mark.parametrize("language", list(YES))
def test_a_typed_yes_at_delete_says_nothing_was_deleted_and_asks_again(make_client, real_nlu, language) -> None:
    """Only the button erases; a typed "yes" is told so, with the two buttons again (the real NLU)."""
    client = make_client(nlu=real_nlu, user_id=f"typed-yes-{language}")
    onboard(client, LABELS[language])
    client.send("/delete")
    asked = client.button(t(language, "privacy.delete_yes")).payload
    client.send(YES[language])
    assert t(language, "privacy.delete_typed") in client.text
    assert t(language, "menu.title") not in client.text
    assert [b.label for b in client.buttons] == [
        TEXTS.get(language, "privacy.delete_no"),
        TEXTS.get(language, "privacy.delete_yes"),
    ]
    with services_of(client).db.sessions() as session:
        assert session.scalar(select(User).where(User.external_id == client.user_id)) is not None
    client.press(asked)  # the button under the question above still works: the family is still at it
    assert t(language, "privacy.deleted") in client.text
    with services_of(client).db.sessions() as session:
        assert session.scalar(select(User).where(User.external_id == client.user_id)) is None


def test_a_typed_no_at_delete_keeps_the_data_and_says_so(make_client) -> None:
    nlu = PrivacyNLU()
    client = make_client(nlu=_Reading(nlu, {"no": "deny"}))
    onboard(client)
    client.send("/delete")
    client.send("no")
    assert t("en", "privacy.kept") in client.text and t("en", "menu.title") in client.text
    client.send("/delete")
    client.send("thanks")  # small talk: not an answer, and nothing is deleted
    assert t("en", "privacy.delete_typed") in client.text
    client.send("menu")  # a request the bot answers is answered: the family leaves the question
    assert t("en", "menu.title") in client.text
    with services_of(client).db.sessions() as session:
        assert session.scalar(select(User).where(User.external_id == client.user_id)) is not None


class _Reading:
    """An NLU reading some words as fixed intents (confidently), and the rest as `base` does."""

    def __init__(self, base: KeywordNLU, intents: dict[str, str]) -> None:
        self.base = base
        self.intents = intents

    def understand(self, text: str, **kwargs: object) -> FixedUnderstanding:
        intent = self.intents.get(text.lower())
        if intent is None:
            return self.base.understand(text, **kwargs)  # type: ignore[arg-type]
        return FixedUnderstanding(text, "en", 0.9, intent, 0.95, False, ((intent, 0.95),))


def test_the_privacy_delete_intent_asks_the_same_question(make_client) -> None:
    client = telegram_client(make_client)
    onboard(client)
    client.send("Please forget me")
    assert t("en", "privacy.delete_confirm") in client.text
    assert client.button(t("en", "privacy.delete_yes"))


def test_a_delete_confirmation_from_an_old_message_is_refused(make_client) -> None:
    """ "Yes, delete" works only right after the question: an old or forged press erases nothing."""
    client = telegram_client(make_client)
    onboard(client)
    client.send("/delete")
    yes = client.button(t("en", "privacy.delete_yes")).payload
    client.send("/menu")
    client.press(yes)
    assert t("en", "errors.stale_button") in client.text
    with services_of(client).db.sessions() as session:
        assert session.scalar(select(User).where(User.external_id == TELEGRAM_ID)) is not None


def test_delete_then_write_again_starts_afresh(make_client) -> None:
    client = telegram_client(make_client)
    onboard(client, "Русский")
    client.send("/delete")
    client.click(t("ru", "privacy.delete_yes"))
    assert t("ru", "privacy.deleted") in client.text
    client.click(t("ru", "privacy.start_again"))  # one press: the same language, then the consent question
    assert client.button(t("ru", "privacy.agree"))
    with services_of(client).db.sessions() as session:
        user = session.scalar(select(User).where(User.external_id == TELEGRAM_ID))
        assert user is not None and user.language == "ru" and user.consent_at is None


def _seed_feature_rows(services, user_id: int, now: datetime) -> dict[str, bool]:
    """Rows of every feature whose tables exist: bookings (one future, one past, one cancelled), a group
    subscription with an RSVP, and a reminder waiting in the outbox."""
    tables = set(inspect(services.db.engine).get_table_names())
    seeded = {"booking": False, "groups": False}
    with services.db.session() as session:
        if {"booking_slots", "bookings"} <= tables:
            from bot.db.models import Counsellor
            from bot.features.booking.models import Booking, Slot

            counsellor = Counsellor(telegram_id=4000001, name="Aino", languages="fi,en")
            session.add(counsellor)
            session.flush()
            for days, status in ((3, "active"), (-3, "active"), (5, "cancelled")):
                slot = Slot(
                    counsellor_id=counsellor.id,
                    starts_at=now + timedelta(days=days, hours=days),
                    minutes=45,
                    mode="phone",
                    municipality="Kemi",
                    languages="fi,en",
                )
                session.add(slot)
                session.flush()
                session.add(Booking(slot_id=slot.id, user_id=user_id, status=status, topic="school", language="en"))
            seeded["booking"] = True
        if {"groups", "group_occurrences", "group_subscriptions", "group_rsvps"} <= tables:
            from bot.features.groups.models import Group, Occurrence, Rsvp, Subscription

            group = Group(
                id="kemi-test",
                names={"en": "Mothers' group"},
                municipality="kemi",
                address="Kemi 1",
                weekday=1,
                start_time="17:00",
                duration_minutes=90,
                audience="mothers",
            )
            session.add(group)
            session.flush()
            start = now + timedelta(days=2)
            occurrence = Occurrence(
                group_id=group.id, original_start=start, starts_at=start, ends_at=start + timedelta(hours=1)
            )
            session.add(occurrence)
            session.flush()
            session.add(Subscription(user_id=user_id, group_id=group.id, subscribed_at=now))
            session.add(Rsvp(occurrence_id=occurrence.id, user_id=user_id, answer="coming", answered_at=now))
            seeded["groups"] = True
        if "outbox" in tables:
            from bot.outbox_models import OutboxMessage

            session.add(
                OutboxMessage(
                    key=f"test:{user_id}",
                    user_id=user_id,
                    kind="group.reminder",
                    ref="occurrence:1",
                    text_key="common.menu",
                    values={},
                    buttons=[],
                    due_at=now + timedelta(days=1),
                )
            )
    return seeded


def test_erasure_leaves_no_trace_in_any_table(make_client, database_url: str) -> None:
    """After /delete no table holds the user's Telegram id, internal id, label or any text they sent."""
    client = telegram_client(make_client, database_url, staff_chat_id=-100500)
    services = services_of(client)
    onboard(client)
    for text in SECRETS:
        client.send(text)
    client.send("/mydata")
    if "handoff" in services.registry.features:
        client.send("I want to talk to a person")  # a ticket; what they write next is relayed to staff
        client.send(SECRETS[1] + " (for the counsellor)")
    with services.db.sessions() as session:
        user = session.scalar(select(User).where(User.external_id == TELEGRAM_ID))
        assert user is not None
        internal_id = user.id
    seeded = _seed_feature_rows(services, internal_id, services.clock())
    # An update of theirs still waiting in the inbox (e.g. interrupted by a crash) goes too.
    with services.db.session() as session:
        session.add(
            InboxUpdate(
                update_id=77,
                status="received",
                attempts=0,
                payload={"update_id": 77, "message": {"from": {"id": int(TELEGRAM_ID)}, "text": SECRETS[1]}},
            )
        )
        session.add(
            AuditEntry(
                actor="unlisted", action="ticket.claim.refused", target=None, details={"who": f"F-{internal_id:05d}"}
            )
        )
    assert traces(database_url, external_id=TELEGRAM_ID, internal_id=internal_id, texts=SECRETS), (
        "the scan must find the data before erasure (or it proves nothing)"
    )

    client.send("/delete")
    replies = client.click(t("en", "privacy.delete_yes"))
    assert t("en", "privacy.deleted") in client.text

    found = traces(database_url, external_id=TELEGRAM_ID, internal_id=internal_id, texts=SECRETS)
    assert found == []
    notices = [r for r in client.others if r.to is not None and r.to.user is not None]
    if seeded["booking"]:
        # the one future booking was cancelled and its counsellor told (in a private message)
        assert [r.to.user.external_id for r in notices] == ["4000001"]
        from bot.features.booking.models import Booking, Slot

        with services.db.sessions() as session:
            assert session.scalars(select(Booking)).all() == []
            assert len(session.scalars(select(Slot)).all()) == 3  # the counsellors' times stay
    if "handoff" in services.registry.features:
        from bot.features.handoff.models import Ticket

        with services.db.sessions() as session:
            tickets = session.scalars(select(Ticket)).all()
            assert tickets and all(ticket.status == "closed" for ticket in tickets)  # kept, anonymised
    with services.db.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).one()
        assert entry.actor == "family" and entry.target is None
        assert entry.details["message_log"] >= len(SECRETS)
    assert all(isinstance(r, Reply) for r in replies)


def test_erasure_through_the_inbox_keeps_only_the_goodbye_until_sent(make_client, database_url: str) -> None:
    """With an idempotency key (the Telegram channel), the handled row holds only the reply to send."""
    client = telegram_client(make_client, database_url)
    services = services_of(client)
    onboard(client)
    client.send(SECRETS[0])
    client.send("/delete")
    yes = client.button(t("en", "privacy.delete_yes")).payload
    with services.db.sessions() as session:
        internal_id = session.scalar(select(User.id).where(User.external_id == TELEGRAM_ID))
    replies = client.conversation.handle(Incoming(client.user, payload=yes, idempotency_key=4242))
    assert replies and t("en", "privacy.deleted") in plain(replies[0].text)
    with services.db.sessions() as session:
        row = session.get(InboxUpdate, 4242)
        assert row is not None and row.status == "handled" and row.payload is None
    from bot.inbox import Inbox

    Inbox(services.db).mark_done(4242)  # what the channel does once the goodbye is sent
    assert traces(database_url, external_id=TELEGRAM_ID, internal_id=internal_id, texts=SECRETS) == []


# ---------------------------------------------------------------------- consent withdrawal
def test_withdrawing_consent_deletes_the_kept_texts_and_stops_keeping_new_ones(make_client) -> None:
    client = telegram_client(make_client)
    onboard(client)
    client.send(SECRETS[0])
    client.send("/privacy")
    client.click(t("en", "privacy.button_withdraw"))
    client.click(t("en", "privacy.withdraw_yes"))
    assert t("en", "privacy.withdrawn") in client.text
    client.send(SECRETS[1])
    with services_of(client).db.sessions() as session:
        assert session.scalars(select(MessageLog)).all() == []
        user = session.scalar(select(User).where(User.external_id == TELEGRAM_ID))
        assert user is not None and user.consent_at is None and user.consent_refused_at is not None


# ---------------------------------------------------------------------- retention
def test_retention_deletes_old_texts_only(make_client, database_url: str) -> None:
    from bot.features.privacy.retention import purge_expired

    client = telegram_client(make_client, database_url)
    services = services_of(client)
    onboard(client)
    now = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    with services.db.session() as session:
        user_id = session.scalar(select(User.id))
        for age_days, text in ((91, "old"), (89, "recent"), (90, "edge")):
            session.add(
                MessageLog(
                    user_id=user_id, direction="in", text=text, created_at=now - timedelta(days=age_days, seconds=1)
                )
            )
        session.add(
            InboxUpdate(
                update_id=5,
                status="received",
                attempts=3,
                payload={"text": "stuck"},
                received_at=now - timedelta(days=100),
            )
        )
        session.add(
            InboxUpdate(
                update_id=6,
                status="received",
                attempts=0,
                payload={"text": "fresh"},
                received_at=now - timedelta(minutes=1),
            )
        )
    with services.db.session() as session:
        counts = purge_expired(session, now, services.settings, services.registry)
    assert counts["message_log"] == 2 and counts["inbox_updates"] == 1
    with services.db.sessions() as session:
        assert session.scalars(select(MessageLog.text)).all() == ["recent"]
        assert session.get(InboxUpdate, 5).payload is None
        assert session.get(InboxUpdate, 6).payload == {"text": "fresh"}  # still to be retried


def test_retention_deletes_the_messages_of_long_closed_tickets(make_client, database_url: str) -> None:
    from bot.features.privacy.retention import purge_expired

    client = telegram_client(make_client, database_url, staff_chat_id=-100500)
    services = services_of(client)
    if "handoff" not in services.registry.features:
        pytest.skip("the handoff feature is not registered")
    from bot.features.handoff.models import Ticket, TicketMessage

    now = services.clock()
    with services.db.session() as session:
        user = User(channel="telegram", external_id="5", language="en", consent_at=now, created_at=now)
        session.add(user)
        session.flush()
        for closed_days_ago in (31, 29):
            ticket = Ticket(
                user_id=user.id,
                language="en",
                status="closed",
                created_at=now - timedelta(days=40),
                closed_at=now - timedelta(days=closed_days_ago),
            )
            session.add(ticket)
            session.flush()
            session.add(
                TicketMessage(
                    ticket_id=ticket.id,
                    direction="in",
                    text=f"closed {closed_days_ago} days",
                    created_at=now - timedelta(days=35),
                )
            )
    with services.db.session() as session:
        counts = purge_expired(session, now, services.settings, services.registry)
    assert counts["ticket_messages"] == 1
    with services.db.sessions() as session:
        assert session.scalars(select(TicketMessage.text)).all() == ["closed 29 days"]


def _with_retention_hook(services: Services) -> Any:
    """A PTB Application with the privacy feature's Telegram hook applied (it schedules the retention job)."""
    from telegram.ext import ApplicationBuilder

    application = ApplicationBuilder().token("123456:TEST-token").build()
    for hook in services.registry.telegram_hooks:
        if getattr(hook, "__qualname__", "").endswith("retention_job_hook"):
            hook(application, None)
    return application


def _add_ancient_text(services: Services) -> None:
    """A message text 200 days old: past every retention period."""
    with services.db.session() as session:
        user_id = session.scalar(select(User.id))
        session.add(
            MessageLog(
                user_id=user_id, direction="in", text="ancient", created_at=services.clock() - timedelta(days=200)
            )
        )


def test_retention_job_runs_only_where_the_scheduler_runs(tmp_path: Path) -> None:
    from bot.app import build_services
    from tests.conftest import make_settings

    for run_scheduler, expected in ((True, 1), (False, 0)):
        settings = make_settings(f"sqlite:///{tmp_path / 'jobs.db'}", tmp_path, run_scheduler=run_scheduler)
        services = build_services(settings, nlu=PrivacyNLU())
        application = _with_retention_hook(services)
        assert len(application.job_queue.get_jobs_by_name("privacy-retention")) == expected
        services.db.dispose()


async def test_the_retention_job_deletes_old_texts_when_run(make_client) -> None:
    client = telegram_client(make_client)
    services = services_of(client)
    onboard(client)
    _add_ancient_text(services)
    with services.db.session() as session:
        session.add(
            InboxUpdate(update_id=31, status="done", attempts=1, received_at=services.clock() - timedelta(days=3))
        )
        session.add(InboxUpdate(update_id=32, status="done", attempts=1, received_at=services.clock()))
    application = _with_retention_hook(services)
    (job,) = application.job_queue.get_jobs_by_name("privacy-retention")
    await job.run(application)
    with services.db.sessions() as session:
        assert "ancient" not in session.scalars(select(MessageLog.text)).all()
        assert session.get(InboxUpdate, 31) is None, "the inbox is pruned too"
        assert session.get(InboxUpdate, 32) is not None


async def test_the_retention_job_waits_while_another_process_leads(make_client) -> None:
    """Every worker has the job; only the scheduler lock's holder deletes (another worker holds it here)."""
    from bot.leader import Leadership

    client = telegram_client(make_client)
    services = services_of(client)
    onboard(client)
    _add_ancient_text(services)
    other_worker = Leadership(services.db)  # its own lock handle, as another process would have
    assert other_worker.try_acquire()
    application = _with_retention_hook(services)
    (job,) = application.job_queue.get_jobs_by_name("privacy-retention")
    try:
        await job.run(application)
        with services.db.sessions() as session:
            assert "ancient" in session.scalars(select(MessageLog.text)).all(), "a follower deletes nothing"
        other_worker.release()  # the leader is gone: the next run here takes over
        await job.run(application)
        with services.db.sessions() as session:
            assert "ancient" not in session.scalars(select(MessageLog.text)).all()
    finally:
        other_worker.release()
        services.leadership.release()


# ---------------------------------------------------------------------- the command line
@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def _cli(tmp_path: Path, database_url: str, *args: str) -> CliResult:
    """`python -m bot admin …`, run in this process (the parser and handler the command line uses)."""
    from bot.cli import build_parser
    from tests.conftest import make_settings

    parsed = build_parser().parse_args(["admin", *args])
    out, err = io.StringIO(), io.StringIO()
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        code = parsed.handler(parsed, make_settings(database_url, tmp_path))
        stdout.flush()
    out.write(buffer.getvalue().decode("utf-8"))
    return CliResult(code, out.getvalue(), err.getvalue())


def test_admin_privacy_export_and_erase_answer_a_request_and_are_audited(make_client, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    client = telegram_client(make_client, url)
    onboard(client)
    client.send(SECRETS[0])
    services = services_of(client)
    with services.db.sessions() as session:
        internal_id = session.scalar(select(User.id).where(User.external_id == TELEGRAM_ID))

    exported = _cli(tmp_path, url, "privacy", "export", "--telegram-id", TELEGRAM_ID)
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert json.loads(exported.stdout)["messages"][0]["text"] == SECRETS[0]
    refused = _cli(tmp_path, url, "privacy", "erase", "--telegram-id", TELEGRAM_ID)
    assert refused.returncode == 2  # not without --yes
    erased = _cli(tmp_path, url, "privacy", "erase", "--telegram-id", TELEGRAM_ID, "--yes")
    assert erased.returncode == 0, erased.stderr[-2000:]
    assert _cli(tmp_path, url, "privacy", "export", "--telegram-id", TELEGRAM_ID).returncode == 1
    assert traces(url, external_id=TELEGRAM_ID, internal_id=internal_id, texts=SECRETS) == []

    audit_log = _cli(tmp_path, url, "audit", "--limit", "10")
    assert audit_log.returncode == 0, audit_log.stderr[-2000:]
    lines = audit_log.stdout.strip().splitlines()
    assert any("\tcli\tprivacy.export\t" in line for line in lines)
    assert any("\tcli\tprivacy.erase\t-\t" in line for line in lines)
    assert TELEGRAM_ID not in audit_log.stdout and SECRETS[0] not in audit_log.stdout


def test_admin_audit_lists_staff_actions_oldest_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    added = _cli(tmp_path, url, "counsellor", "add", "--telegram-id", "4000002", "--name", "Aino")
    assert added.returncode == 0, added.stderr[-2000:]
    removed = _cli(tmp_path, url, "counsellor", "remove", "--telegram-id", "4000002")
    assert removed.returncode == 0, removed.stderr[-2000:]
    result = _cli(tmp_path, url, "audit")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line]
    actions = [line.split("\t")[2] for line in lines]
    assert actions[-2:] == ["counsellor.add", "counsellor.remove"]
    when, actor, _action, target, _details = lines[-1].split("\t")
    assert when.endswith("Z") and actor == "cli" and target.startswith("counsellor:")
    assert "Aino" not in result.stdout  # names stay out of the audit log
    limited = _cli(tmp_path, url, "audit", "--limit", "1")
    assert [line for line in limited.stdout.splitlines() if line] == lines[-1:]


def test_user_ref_of_the_test_client_is_a_telegram_user(make_client) -> None:
    client = telegram_client(make_client)
    assert client.user == UserRef("telegram", TELEGRAM_ID)
    with services_of(client).db.sessions() as session:
        assert session.scalars(select(ConversationState)).all() == []


@pytest.mark.parametrize(
    "language,label,words",
    [
        ("fi", "Suomi", "poista tietoni"),
        ("en", "English", "please delete my data"),
        ("ar", "العربية", "احذف بياناتي"),
        ("ru", "Русский", "удалите мои данные"),
        ("so", "Soomaali", "tirtir xogtayda"),
        ("sw", "Kiswahili", "futa data yangu"),
    ],
)
def test_asking_in_words_to_be_forgotten_asks_for_confirmation(make_client, language, label, words) -> None:
    """The real NLU: `privacy_delete` in every language leads to the same confirmation as /delete."""
    from bot.nlu.pipeline import build_nlu
    from bot.settings import Settings

    nlu = _REAL_NLU.setdefault("nlu", build_nlu(Settings()))  # the default cache: trained once per machine
    client = make_client(nlu=nlu)
    onboard(client, label)
    client.send(words)
    assert t(language, "privacy.delete_confirm") in client.text
    assert client.button(t(language, "privacy.delete_yes"))


_REAL_NLU: dict[str, object] = {}
