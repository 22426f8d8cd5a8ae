"""Group meetings as a conversation: towns → groups → details → subscribe / calendar, reminders with RSVP
buttons (forged data refused), the QR deep link, intents, and the staff commands — in several languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select, update

from bot.core.messages import Incoming
from bot.core.texts import LANGUAGE_NAMES
from bot.db.database import Database
from bot.db.models import AuditEntry, Counsellor
from bot.features.groups.models import COMING, NOT_COMING, Occurrence, Rsvp, Subscription
from bot.features.groups.occurrences import reason_code
from bot.outbox import render
from bot.outbox_models import PENDING, OutboxMessage
from tests.client import BotClient, plain
from tests.content_cache import content_loaded_once  # noqa: F401  (autouse)

HELSINKI = ZoneInfo("Europe/Helsinki")
# Monday 7 December 2026, 18:00 in Helsinki: the Kemi mothers' group meets tomorrow (Tue) at 17:00.
MONDAY_EVENING = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def onboard(client: BotClient, language: str) -> None:
    client.send("/start")
    client.click(LANGUAGE_NAMES[language])
    client.click("✅")


def at(client: BotClient, moment: datetime) -> None:
    client.conversation.services.clock = lambda: moment


def t(client: BotClient, language: str, key: str, **values: object) -> str:
    return plain(client.conversation.services.texts.get(language, key, **values))


def occurrence_on(client: BotClient, group_id: str, day: str) -> Occurrence:
    with client.conversation.services.db.sessions() as session:
        for row in session.scalars(select(Occurrence).where(Occurrence.group_id == group_id)):
            if row.starts_at.astimezone(HELSINKI).date().isoformat() == day:
                return row
    raise AssertionError(f"no occurrence of {group_id} on {day}")


def plan(client: BotClient) -> int:
    services = client.conversation.services
    groups = services.features["groups"]
    return services.db.transaction(lambda session: groups.plan(session, services.clock()))


def queued_for(client: BotClient, language: str) -> list[tuple[OutboxMessage, object]]:
    """The user's pending outbox rows with the reply each renders to, as it would be sent."""
    services = client.conversation.services
    me = user_id(client)
    with services.db.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.user_id == me)
            .order_by(OutboxMessage.id)
        )
        texts = services.texts
        return [(row, render(texts, language, HELSINKI, row.text_key, row.values, row.buttons)) for row in rows]


def user_id(client: BotClient) -> int:
    from bot.db.models import User

    with client.conversation.services.db.sessions() as session:
        return session.scalar(select(User.id).where(User.external_id == client.user_id))  # type: ignore[return-value]


def test_a_finnish_mother_finds_her_group_subscribes_and_gets_a_calendar_file(make_client) -> None:
    client = make_client(user_id="fi-mother")
    at(client, MONDAY_EVENING)
    onboard(client, "fi")
    assert "👥 Ryhmätapaamiset" in [b.label for b in client.buttons]
    client.click("Ryhmätapaamiset")
    assert [b.label for b in client.buttons][:3] == ["📍 Kemi", "📍 Tornio", "📍 Tervola"]
    client.click("Kemi")
    assert "Äitien ryhmä" in client.text and "Nuorten ryhmä" in client.text
    assert "ti 8.12. klo 17.00" in client.text and "Kauppakatu 22, 94100 Kemi" in client.text
    client.click("Äitien ryhmä")
    details = client.text
    assert "Joka viikko: tiistai klo 17.00–18.30" in details
    assert "Seuraava tapaaminen: ti 8.12. klo 17.00" in details
    assert "ovi B" in details and "Kielet: suomi, arabia, somali" in details
    assert t(client, "fi", "groups.interpreter_yes") in details
    client.click("Muistuta minua")
    assert "Valmis! Muistutan sinua" in client.text and "ti 8.12. klo 17.00" in client.text
    with client.conversation.services.db.sessions() as session:
        subscription = session.scalar(select(Subscription).where(Subscription.group_id == "kemi-mothers"))
        assert subscription is not None and subscription.active
    client.click("Lisää kalenteriin")
    attachment = client.last[0].attachment
    assert attachment is not None and attachment.filename == "kemi-mothers.ics"
    assert attachment.mime_type == "text/calendar"
    calendar = icalendar.Calendar.from_ical(attachment.content)
    event = next(iter(calendar.walk("VEVENT")))
    assert str(event["summary"]) == "Äitien ryhmä"
    assert event["rrule"]["FREQ"] == ["WEEKLY"] and event["rrule"]["BYDAY"] == ["TU"]
    start = event.decoded("dtstart")
    assert (start.hour, start.minute, str(start.tzinfo)) == (17, 0, "Europe/Helsinki")
    assert calendar.walk("VTIMEZONE"), "the time zone travels with the file"
    # "My groups" lists it, and from there the reminders can be stopped.
    client.send("/menu")
    client.click("Ryhmätapaamiset")
    client.click("Omat ryhmät")
    assert "Äitien ryhmä" in client.text
    client.click("Äitien ryhmä")
    client.click("Lopeta muistutukset")
    assert t(client, "fi", "groups.unsubscribed", name="Äitien ryhmä") in client.text
    with client.conversation.services.db.sessions() as session:
        assert session.scalar(select(Subscription.active)) is False


def test_an_arabic_father_answers_a_reminder_and_forged_buttons_are_refused(make_client) -> None:
    client = make_client(user_id="ar-father")
    at(client, datetime(2026, 12, 8, 10, 0, tzinfo=UTC))
    onboard(client, "ar")
    client.click("لقاءات المجموعات")
    client.click("تورنيو")
    client.click("مجموعة الآباء")
    client.click("ذكّرني")
    assert "تم!" in client.text
    assert plan(client) == 0, "nothing is due yet"
    at(client, datetime(2026, 12, 9, 16, 30, tzinfo=UTC))  # Wed 18:30: the Tornio group meets Thu 18:00
    assert plan(client) == 1
    assert plan(client) == 0, "planning again queues nothing twice"
    [(row, reminder)] = queued_for(client, "ar")
    assert row.kind == "group.reminder" and row.key.endswith(":24h")
    text = plain(reminder.text)
    assert "تذكير: مجموعة الآباء" in text and "الخميس 10 ديسمبر، 18:00" in text and "Hallituskatu 10" in text
    labels = [b.label for r in reminder.buttons for b in r]
    assert labels == ["✅ سأحضر", "❌ لا أستطيع الحضور", "🔕 لا أريد تذكيرات بعد الآن"]
    mothers = occurrence_on(client, "kemi-mothers", "2026-12-15")
    fathers = occurrence_on(client, "tornio-fathers", "2026-12-10")
    # Forged: the right button shape, but a meeting of a group this user never subscribed to; and nonsense.
    for forged in (f"groups.reminder:y{mothers.id}", "groups.reminder:y999999", "groups.reminder:yabc"):
        client.press(forged)
        assert t(client, "ar", "errors.stale_button") in client.text
    with client.conversation.services.db.sessions() as session:
        assert session.scalars(select(Rsvp)).all() == []
    yes = reminder.buttons[0][0]
    client.press(yes.payload)
    assert "رائع" in client.text and "الخميس 10 ديسمبر، 18:00" in client.text
    client.press(reminder.buttons[0][1].payload)  # they change their mind: one answer per meeting
    assert t(client, "ar", "groups.rsvp_thanks_no") in client.text
    with client.conversation.services.db.sessions() as session:
        answers = session.execute(select(Rsvp.occurrence_id, Rsvp.answer)).all()
    assert answers == [(fathers.id, NOT_COMING)]
    # "No more reminders" from the reminder itself.
    client.press(reminder.buttons[1][0].payload)
    assert t(client, "ar", "groups.unsubscribed", name="مجموعة الآباء") in client.text
    client.press(yes.payload)  # not subscribed any more: the old button is refused
    assert t(client, "ar", "errors.stale_button") in client.text


def test_an_old_remind_me_button_under_another_groups_page_is_refused(make_client) -> None:
    """Mothers' group page, back, the young people's page: the mothers' old 🔔 must not subscribe to the latter."""
    client = make_client()
    at(client, MONDAY_EVENING)
    onboard(client, "en")
    client.send("/menu")
    client.click("Group meetings")
    client.click("Kemi")
    client.click("Mothers' group")
    old_bell = client.button("🔔").payload
    client.click(t(client, "en", "common.back"))
    client.click("Young people's group")
    client.press(old_bell)
    assert t(client, "en", "errors.stale_button") in client.text
    with client.conversation.services.db.sessions() as session:
        assert session.scalars(select(Subscription)).all() == []
    client.send("/menu")  # the young people's own bell still works
    client.click("Group meetings")
    client.click("Kemi")
    client.click("Young people's group")
    client.click("🔔")
    with client.conversation.services.db.sessions() as session:
        assert [row.group_id for row in session.scalars(select(Subscription))] == ["kemi-young"]


def test_a_somali_newcomer_scans_the_poster_and_is_subscribed_after_consent(make_client) -> None:
    client = make_client(user_id="so-young", language_hint="so")
    at(client, MONDAY_EVENING)
    client.send("/start group-kemi-young")
    assert client.buttons[0].label == "Soomaali"
    client.click("Soomaali")
    client.click("✅")
    assert "Waa diyaar!" in client.text and "Kooxda dhalinyarada" in client.text
    assert "Arbaco, 9 Diseembar, 16:00" in client.text
    with client.conversation.services.db.sessions() as session:
        assert session.scalar(select(Subscription.group_id).where(Subscription.active.is_(True))) == "kemi-young"
    client.send("/start group-kemi-young")  # scanning again changes nothing
    assert t(client, "so", "groups.already_subscribed", name="Kooxda dhalinyarada") in client.text


def test_without_consent_the_deep_link_explains_and_offers_consent(make_client) -> None:
    client = make_client(user_id="ru-mum")
    at(client, MONDAY_EVENING)
    client.send("/start")
    client.click("Русский")
    client.click(t(client, "ru", "privacy.decline"))
    client.send("/start group-tervola-families")
    assert t(client, "ru", "groups.consent_needed") in client.text
    client.click("Прочитать и согласиться")
    assert t(client, "ru", "privacy.notice")[:40] in client.text
    client.click(t(client, "ru", "privacy.decline"))  # no again: no nagging, the calendar is offered
    assert t(client, "ru", "groups.no_consent_ok") in client.text
    assert "📅 Добавить в календарь" in [b.label for b in client.buttons]
    client.click("Добавить в календарь")
    assert client.last[0].attachment is not None
    client.send("/start group-tervola-families")
    client.click("Прочитать и согласиться")
    client.click(t(client, "ru", "privacy.agree"))
    assert "Готово!" in client.text and "Семейная группа" in client.text
    with client.conversation.services.db.sessions() as session:
        assert session.scalar(select(Subscription.group_id)) == "tervola-families"


def test_an_unknown_group_link_shows_all_groups(make_client) -> None:
    client = make_client(user_id="en-lost")
    onboard(client, "en")
    client.send("/start group-nowhere")
    assert t(client, "en", "groups.not_found") in client.text
    assert "📍 Kemi" in [b.label for b in client.buttons]


class IntentNLU:
    def __init__(self, intent: str) -> None:
        self.intent = intent

    def understand(self, text: str, *, user_language: str | None = None, telegram_language: str | None = None):
        from tests.fakes import FixedUnderstanding

        return FixedUnderstanding(text, user_language or "en", 0.99, self.intent, 0.95, False, ((self.intent, 0.95),))


@pytest.mark.parametrize(("language", "intent"), [("sw", "group_schedule"), ("en", "reminders_on")])
def test_schedule_and_reminder_intents_lead_to_the_groups(make_client, language: str, intent: str) -> None:
    client = make_client(user_id=f"{language}-{intent}", nlu=IntentNLU(intent))
    onboard(client, language)
    client.send("when does the group meet")
    assert t(client, language, "groups.choose_municipality")[:20] in client.text
    assert "📍 Tervola" in [b.label for b in client.buttons]


def test_reminders_off_intent_stops_chosen_reminders(make_client) -> None:
    client = make_client(user_id="sw-off", nlu=IntentNLU("reminders_off"))
    onboard(client, "sw")
    client.send("acha vikumbusho")
    assert t(client, "sw", "groups.no_reminders") in client.text
    client.send("/start group-kemi-mothers")
    client.send("/start group-tervola-families")
    client.send("acha vikumbusho")
    assert t(client, "sw", "groups.stop_choose") in client.text
    client.click("Acha vikumbusho vyote")
    assert t(client, "sw", "groups.off_all_done") in client.text
    with client.conversation.services.db.sessions() as session:
        assert session.scalars(select(Subscription.active)).all() == [False, False]


def staff_says(client: BotClient, text: str) -> str:
    """A command in the staff group; the answer goes back to the staff group (in the same topic)."""
    replies = client.conversation.handle(Incoming(client.user, text=text, staff_chat=True))
    assert replies and all(r.to is not None and r.to.staff for r in replies)
    return "\n".join(plain(r.text) for r in replies)


def test_staff_see_rsvp_counts_cancel_and_move_and_strangers_are_refused(make_client) -> None:
    family = make_client(user_id="5001", staff_language="en")
    at(family, MONDAY_EVENING)
    onboard(family, "en")
    family.send("/start group-kemi-mothers")
    occurrence = occurrence_on(family, "kemi-mothers", "2026-12-08")
    family.press(f"groups.reminder:y{occurrence.id}")
    services = family.conversation.services
    with services.db.session() as session:
        session.add(Counsellor(telegram_id=7001, name="Counsellor", languages="fi,en"))
    stranger = BotClient(family.conversation, user_id="7002", channel="telegram")
    assert t(family, "en", "groups.staff.not_staff") in staff_says(stranger, "/cancel_occurrence 1 holiday")
    staff = BotClient(family.conversation, user_id="7001", channel="telegram")
    listing = staff_says(staff, "/occurrences kemi-mothers")
    assert f"#{occurrence.id} · Tue 8 Dec, 17:00 · Mothers' group · as planned · ✅ 1 ❌ 0 🔔 1" in listing
    assert t(family, "en", "groups.staff.usage_cancel")[:20] in staff_says(staff, f"/cancel_occurrence {occurrence.id}")
    reply = staff_says(staff, f"/cancel_occurrence {occurrence.id} holiday")
    assert f"#{occurrence.id}" in reply and "1 subscriber(s)" in reply
    [(row, notice)] = queued_for(family, "en")
    assert row.kind == "group.cancelled"
    assert "Cancelled: Mothers' group" in plain(notice.text) and "It is a public holiday." in plain(notice.text)
    assert "Next meeting: Tue 15 Dec, 17:00" in plain(notice.text)
    again = staff_says(staff, f"/cancel_occurrence {occurrence.id} x")
    assert t(family, "en", "groups.staff.already_cancelled") in again
    later = occurrence_on(family, "kemi-mothers", "2026-12-15")
    reply = staff_says(staff, f"/move_occurrence {later.id} 17.12.2026 18:00 illness")
    assert "Meeting #" in reply and "(Mothers' group) is moved: Tue 15 Dec, 17:00 → Thu 17 Dec, 18:00." in reply
    moved = [n for r, n in queued_for(family, "en") if r.kind == "group.moved"]
    assert "Was: Tue 15 Dec, 17:00" in plain(moved[0].text) and "Now: Thu 17 Dec, 18:00" in plain(moved[0].text)
    # Staff listings show counts only, and every staff action (and the refusal) is in the audit log.
    with services.db.sessions() as session:
        actions = [(a.actor, a.action) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("unlisted", "groups.cancel_occurrence") in actions
    assert ("counsellor:1", "groups.cancel_occurrence") in actions
    assert ("counsellor:1", "groups.move_occurrence") in actions
    # The family's view shows the cancelled meeting and the new time.
    family.send("/menu")
    family.click("Group meetings")
    family.click("Kemi")
    assert "Thu 17 Dec, 18:00" in family.text  # 8 Dec is cancelled, 15 Dec moved to 17 Dec
    family.click("Mothers' group")
    assert "❌ Tue 8 Dec, 17:00: cancelled" in family.text


def staff_and_family(make_client, language: str, **settings: object) -> tuple[BotClient, BotClient, int, int]:
    """A family (in `language`) subscribed to the Kemi mothers' group on Monday 7 December evening, a listed
    counsellor, and the numbers of the 8 and 15 December meetings."""
    family = make_client(user_id="5201", **settings)
    at(family, MONDAY_EVENING)
    onboard(family, language)
    family.send("/start group-kemi-mothers")
    with family.conversation.services.db.session() as session:
        session.add(Counsellor(telegram_id=7001, name="Counsellor", languages="fi,en"))
    staff = BotClient(family.conversation, user_id="7001", channel="telegram")
    first = occurrence_on(family, "kemi-mothers", "2026-12-08").id
    second = occurrence_on(family, "kemi-mothers", "2026-12-15").id
    return family, staff, first, second


def audited(client: BotClient, *actions: str) -> list[tuple[str, dict[str, object]]]:
    with client.conversation.services.db.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.id)
        return [(entry.action, entry.details) for entry in session.scalars(query)]


def test_staff_commands_answer_in_the_staff_language_whoever_types(make_client) -> None:
    """The staff group reads one language (STAFF_LANGUAGE, Finnish by default), as ticket cards and /stats do:
    not the bot language of whoever typed the command."""
    family, anna, first, _second = staff_and_family(make_client, "en")
    with family.conversation.services.db.session() as session:
        session.add(Counsellor(telegram_id=7003, name="Ben", languages="en"))
    ben = BotClient(family.conversation, user_id="7003", channel="telegram")
    onboard(ben, "ar")  # Ben once tried the family bot in Arabic
    listing = staff_says(anna, "/occurrences kemi-mothers")
    assert listing == staff_says(ben, "/occurrences kemi-mothers")
    line = f"#{first} · ti 8.12. klo 17.00 · Äitien ryhmä · suunnitelman mukaan · ✅ 0 ❌ 0 🔔 1"
    assert line in listing
    assert staff_says(anna, f"/rsvps {first}") == staff_says(ben, f"/rsvps {first}") == line
    assert staff_says(ben, f"/cancel_occurrence {first}") == t(family, "fi", "groups.staff.usage_cancel")
    # Someone not on the list is refused as the other staff features refuse: ⛔, in the staff language, recorded.
    stranger = BotClient(family.conversation, user_id="7002", channel="telegram")
    onboard(stranger, "en")
    refused = staff_says(stranger, f"/move_occurrence {first} 9.12. 17")
    assert refused == t(family, "fi", "groups.staff.not_staff")
    assert refused.startswith("⛔") and "kirjattiin" in refused
    assert audited(family, "groups.move_occurrence") == [("groups.move_occurrence", {"refused": True})]


def test_moves_onto_another_meeting_of_a_started_or_a_cancelled_meeting_are_refused(make_client) -> None:
    family, staff, first, second = staff_and_family(make_client, "en", staff_language="en")

    def refused(command_text: str, key: str, **values: object) -> None:
        assert staff_says(staff, command_text) == t(family, "en", key, **values), command_text

    # Onto the time of another meeting of the same group: no second meeting (and second set of reminders).
    refused(f"/move_occurrence {second} 8.12. 17.30", "groups.staff.overlap", id=first, when="Tue 8 Dec, 17:00")
    # Also onto a meeting the schedule has far ahead, before it exists as a row.
    far = staff_says(staff, f"/move_occurrence {second} 6.4.2027 18")
    assert far == t(
        family,
        "en",
        "groups.staff.overlap",
        id=occurrence_on(family, "kemi-mothers", "2027-04-06").id,
        when="Tue 6 Apr, 17:00",
    )
    # A time in the night is a typing mistake (3 for 15); the usage says which hours are allowed.
    for typed, clock in (("3", "03:00"), ("22.30", "22:30"), ("6:59", "06:59")):
        odd_hour = {"clock": clock, "earliest": "07:00", "latest": "22:00"}
        refused(f"/move_occurrence {second} 17.12. {typed}", "groups.staff.odd_hour", **odd_hour)
    assert "from 07:00 to 22:00" in staff_says(staff, f"/move_occurrence {second} 17.12.")
    refused(f"/move_occurrence {second} 15.12. 17", "groups.staff.same_time", id=second, when="Tue 15 Dec, 17:00")

    # A cancelled meeting is not silently brought back by a move: staff are told how to reinstate it.
    staff_says(staff, f"/cancel_occurrence {first} holiday")
    answer = staff_says(staff, f"/move_occurrence {first} 10.12. 17 other")
    assert answer == t(family, "en", "groups.staff.move_cancelled", id=first, when="Tue 8 Dec, 17:00")
    assert f"/reinstate_occurrence {first}" in answer
    reinstated = staff_says(staff, f"/reinstate_occurrence {first}")
    assert reinstated == (
        f"✅ Meeting #{first} (Mothers' group) takes place after all: Tue 8 Dec, 17:00. "
        "1 subscriber(s) are being told now."
    )
    [(row, notice)] = queued_for(family, "en")  # the cancellation notice not yet sent is withdrawn
    assert row.kind == "group.reinstated"
    assert "Back on: Mothers' group" in plain(notice.text) and "Tue 8 Dec, 17:00" in plain(notice.text)
    assert [b.payload for b in notice.buttons[0]] == [f"groups.reminder:y{first}", f"groups.reminder:n{first}"]
    # The 24-hour reminder fell due before the meeting was reinstated: the notice told them; the next one comes.
    with family.conversation.services.db.session() as session:  # subscribed a week ago: reminders are for her
        session.execute(update(Subscription).values(subscribed_at=datetime(2026, 11, 30, tzinfo=UTC)))
    plan(family)
    assert [r.kind for r, _n in queued_for(family, "en")] == ["group.reinstated"]
    at(family, datetime(2026, 12, 8, 13, 30, tzinfo=UTC))
    plan(family)
    assert [r.kind for r, _n in queued_for(family, "en")] == ["group.reinstated", "group.reminder"]
    refused(f"/reinstate_occurrence {first}", "groups.staff.not_cancelled", id=first)
    # Reinstated at another time, it is a moved meeting.
    staff_says(staff, f"/cancel_occurrence {second} weather")
    assert "Wed 16 Dec, 18:00" in staff_says(staff, f"/reinstate_occurrence {second} 16.12. 18")
    with family.conversation.services.db.sessions() as session:
        assert [session.get(Occurrence, n).status for n in (first, second)] == ["scheduled", "moved"]  # type: ignore[union-attr]

    # A meeting that has started can be neither moved nor cancelled: the same rule for both.
    at(family, datetime(2026, 12, 8, 15, 30, tzinfo=UTC))  # 17.30 in Kemi: the meeting is on
    for command_text in (f"/move_occurrence {first} 10.12. 17", f"/cancel_occurrence {first} illness"):
        refused(command_text, "groups.staff.already_started", id=first, when="Tue 8 Dec, 17:00")
    assert [action for action, _details in audited(family, "groups.move_occurrence")] == []
    assert [action for action, _details in audited(family, "groups.reinstate_occurrence")] == [
        "groups.reinstate_occurrence"
    ] * 2


def test_finnish_reason_words_are_the_reason_codes_and_free_text_is_flagged(make_client) -> None:
    family, staff, first, second = staff_and_family(make_client, "ar")  # the staff language: Finnish
    cancelled = staff_says(staff, f"/cancel_occurrence {first} Sairaus")
    assert cancelled == t(family, "fi", "groups.staff.cancelled", id=first, when="ti 8.12. klo 17.00", count=1)
    [(_row, notice)] = queued_for(family, "ar")
    assert t(family, "ar", "groups.reason.illness") in plain(notice.text) and "Sairaus" not in plain(notice.text)
    # Days and times as Finnish staff write them: no final dot, a two-digit year, "klo".
    moved = staff_says(staff, f"/move_occurrence {second} 17.12 18 LOMA")
    assert moved == t(
        family,
        "fi",
        "groups.staff.moved",
        id=second,
        group="Äitien ryhmä",
        old="ti 15.12. klo 17.00",
        when="to 17.12. klo 18.00",
        count=1,
    )
    assert t(family, "ar", "groups.reason.holiday") in plain(queued_for(family, "ar")[-1][1].text)
    assert "klo 18.00" in staff_says(staff, f"/move_occurrence {second} 18.12.26 18")  # no reason: other
    assert t(family, "ar", "groups.reason.other") in plain(queued_for(family, "ar")[-1][1].text)
    # Free text reaches families as written; the counsellor is told so.
    written = staff_says(staff, f"/move_occurrence {second} 16.12.2026 klo 18.30 Ohjaaja on kipeä")
    assert written.endswith(t(family, "fi", "groups.staff.reason_as_written"))
    assert "Ohjaaja on kipeä" in plain(queued_for(family, "ar")[-1][1].text)
    assert [
        details["reason"] for _action, details in audited(family, "groups.cancel_occurrence", "groups.move_occurrence")
    ] == ["illness", "holiday", "other", "text"]
    # The usage text offers the codes in the staff language, and every code it names is understood.
    usage = t(family, "fi", "groups.staff.usage_cancel")
    assert reason_code("-") == reason_code("?") == reason_code("") == "other"  # signs are no reason to show
    for word, code in (("loma", "holiday"), ("sairaus", "illness"), ("sää", "weather"), ("muu", "other")):
        assert word in usage and reason_code(word) == code
    for typed, code in (("Sairastuminen", "illness"), ("keli.", "weather"), (" SÄÄ ", "weather"), ("", "other")):
        assert reason_code(typed) == code
    assert reason_code("Ohjaaja on kipeä") is None


def test_rsvp_counts_only_count_answers(make_client) -> None:
    client = make_client(user_id="counts")
    at(client, MONDAY_EVENING)
    onboard(client, "en")
    client.send("/start group-kemi-mothers")
    occurrence = occurrence_on(client, "kemi-mothers", "2026-12-08")
    client.press(f"groups.reminder:n{occurrence.id}")
    from bot.features.groups.occurrences import rsvp_counts

    with client.conversation.services.db.sessions() as session:
        counts = rsvp_counts(session, session.get(Occurrence, occurrence.id))
        assert (counts.coming, counts.not_coming, counts.subscribers) == (0, 1, 1)
        assert session.scalar(select(Rsvp.answer)) == NOT_COMING != COMING


def test_the_command_line_imports_lists_cancels_and_makes_a_qr_code(tmp_path, monkeypatch, capsys) -> None:
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["admin", "import-groups"]) == 0
    out = capsys.readouterr().out
    assert "added: kemi-mothers, tornio-fathers, kemi-young, tervola-families" in out and "SAMPLE" in out
    assert main(["admin", "import-groups"]) == 0
    assert "added" not in capsys.readouterr().out, "importing again changes nothing"
    assert main(["admin", "occurrences", "--group", "kemi-mothers", "--days", "8"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("number\t") and len(lines) >= 2
    number = lines[1].split("\t")[0]
    assert main(["admin", "cancel-occurrence", number, "--reason", "holiday"]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert main(["admin", "cancel-occurrence", number, "--reason", "holiday"]) == 1
    assert "already cancelled" in capsys.readouterr().out
    assert main(["admin", "rsvps", number]) == 0
    assert "coming: 0" in capsys.readouterr().out
    # Moving: the day and time as in the staff group; a cancelled meeting is reinstated, not moved.
    assert main(["admin", "move-occurrence", number, "--to", "1.1. 17"]) == 1
    assert "admin reinstate-occurrence" in capsys.readouterr().out
    assert main(["admin", "reinstate-occurrence", number]) == 0
    assert "takes place after all" in capsys.readouterr().out
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.sessions() as session:
        later_id, later_start = session.execute(
            select(Occurrence.id, Occurrence.starts_at)
            .where(Occurrence.group_id == "kemi-mothers", Occurrence.starts_at > datetime.now(UTC) + timedelta(days=2))
            .order_by(Occurrence.starts_at)
        ).first()  # type: ignore[misc]
    db.dispose()
    day = later_start.astimezone(HELSINKI).date() + timedelta(days=1)  # a Wednesday: no other meeting
    for typed, clock in (
        (f"{day.day}.{day.month} 18", "18:00"),
        (f"{day.day}.{day.month}.{day.year % 100} klo 18.30", "18:30"),
    ):
        assert main(["admin", "move-occurrence", str(later_id), "--to", typed]) == 0, typed
        assert f"moved to {day:%a} {day.day} {day:%b}, {clock}" in capsys.readouterr().out
    assert main(["admin", "move-occurrence", str(later_id), "--to", f"{day.isoformat()} 3"]) == 1
    assert "03:00 is outside meeting hours" in capsys.readouterr().out
    assert main(["admin", "move-occurrence", str(later_id), "--to", "tomorrow 17"]) == 2
    assert '"10.12.2026 17.30"' in capsys.readouterr().out
    out_file = tmp_path / "poster.png"
    assert main(["admin", "qr", "kemi-mothers", "--bot-username", "@aito_test_bot", "--out", str(out_file)]) == 0
    assert "https://t.me/aito_test_bot?start=group-kemi-mothers" in capsys.readouterr().out
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["admin", "qr", "no-such-group", "--bot-username", "aito_test_bot"]) == 1


def test_a_typed_no_to_consent_after_a_group_link_is_not_asked_again(make_client, real_nlu) -> None:
    client = make_client(user_id="ru-typed-no", nlu=real_nlu)
    at(client, MONDAY_EVENING)
    client.send("/start")
    client.click("Русский")
    client.click(t(client, "ru", "privacy.decline"))
    client.send("/start group-tervola-families")
    client.click("Прочитать и согласиться")
    client.send("нет")  # typed, not pressed: the same answer
    assert t(client, "ru", "groups.no_consent_ok") in client.text
    assert t(client, "ru", "groups.consent_needed") not in client.text
