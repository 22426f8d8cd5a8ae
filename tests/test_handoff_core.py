"""The handoff desk through the core (no Telegram): what families and counsellors see, and what is stored."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.core.messages import (
    Incoming,
    MediaKind,
    Recipient,
    Reply,
    UserRef,
    reply_from_json,
    reply_to_json,
)
from bot.db.models import AuditEntry, Counsellor
from bot.features.handoff.models import Ticket, TicketMessage, TicketStatus
from bot.features.handoff.translate import LibreTranslateClient, NoTranslation, build_translator
from tests.client import BotClient, plain
from tests.handoff_support import (
    COUNSELLOR,
    HELSINKI,
    MONDAY_0030,
    SATURDAY_11,
    STAFF_CHAT,
    WEDNESDAY_10,
    Clock,
    HandoffNLU,
    t,
)

SECOND_COUNSELLOR = 7003


class Room:
    """Plays the Telegram channel's part for the staff group: numbers messages and reports tracked ones."""

    def __init__(self, client: BotClient) -> None:
        self.client = client
        self.conversation = client.conversation
        self.services = client.conversation.services
        self.ids = itertools.count(500)
        self.staff: list[tuple[int, Reply]] = []
        self.to_family: list[Reply] = []
        self.seen = 0
        self.updates = itertools.count(1)

    def sync(self, replies: list[Reply] | None = None, pressed: int | None = None) -> None:
        if replies is None:
            replies, self.seen = self.client.others[self.seen :], len(self.client.others)
        for reply in replies:
            if reply.to is not None and reply.to.staff:
                edited = (reply.to.edit_message_id or pressed) if reply.edit else None
                message_id = edited or next(self.ids)
                self.staff.append((message_id, reply))
                if reply.track:
                    self.services.registry.sent_hooks["ticket"](reply.track, STAFF_CHAT, message_id)
            elif reply.to is not None and reply.to.user == self.client.user:
                self.to_family.append(reply)

    def family(self, text: str) -> list[Reply]:
        replies = self.client.send(text)
        self.sync()
        return replies

    def press(self, label: str) -> list[Reply]:
        replies = self.client.click(label)
        self.sync()
        return replies

    def counsellor(self, who: int, text: str | None = None, **fields: Any) -> list[Reply]:
        """A message in the staff group; replying to one of the bot's messages there is marked as such."""
        if fields.get("reply_to_message_id") in {message_id for message_id, _ in self.staff}:
            fields.setdefault("reply_to_bot", True)
        incoming = Incoming(UserRef("telegram", str(who)), text=text, staff_chat=True, **fields)
        if incoming.message_id is None:
            incoming = Incoming(**{**incoming.__dict__, "message_id": next(self.ids)})
        replies = self.conversation.handle(incoming)
        self.sync(replies, pressed=incoming.message_id if incoming.payload else None)
        return replies

    def card_id(self, ticket_id: int = 1) -> int:
        return int(self.ticket(ticket_id).card_message_id or 0)

    def claim(self, who: int = COUNSELLOR, ticket_id: int = 1) -> list[Reply]:
        return self.counsellor(who, payload=f"ticket:claim:{ticket_id}", message_id=self.card_id(ticket_id))

    def ticket(self, ticket_id: int = 1) -> Ticket:
        with self.services.db.sessions() as session:
            row = session.get(Ticket, ticket_id)
            assert row is not None
            return row

    def staff_texts(self) -> list[str]:
        return [plain(reply.text) for _, reply in self.staff]

    def relayed_texts(self) -> list[str]:
        """The family's messages (each part) as relayed to the staff group: no cards, no notices."""
        return [plain(reply.text) for _, reply in self.staff if (reply.track or "").startswith("ticket:msg:")]

    def card_texts(self) -> list[tuple[Reply, str]]:
        """Every version of the cards (sent, then edited in place), as (reply, plain text)."""
        return [(reply, plain(reply.text)) for _, reply in self.staff if (reply.track or "").startswith("ticket:card:")]

    def family_texts(self) -> list[str]:
        return [plain(reply.text) for reply in self.to_family]


EIGHT_SW = "08:00 (saa 2 asubuhi)"  # opening time in Swahili: the clock and its Swahili reading
FOUR_SW = "16:00 (saa 10 alasiri)"  # closing time
FRIDAY_1555 = datetime(2026, 11, 6, 15, 55, tzinfo=HELSINKI)  # five minutes before the weekend


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_10)


def make_room(
    make_client,
    clock: Clock,
    database_url: str | None = None,
    *,
    consent: bool = True,
    language: str = "Kiswahili",
    **settings: object,
) -> Room:
    client = make_client(database_url, nlu=HandoffNLU(), staff_chat_id=STAFF_CHAT, **settings)
    client.conversation.services.clock = clock
    with client.conversation.services.db.session() as session:
        for telegram_id, name in ((COUNSELLOR, "Anna"), (SECOND_COUNSELLOR, "Pekka")):
            if session.scalar(select(Counsellor).where(Counsellor.telegram_id == telegram_id)) is None:
                session.add(Counsellor(telegram_id=telegram_id, name=name))
    client.send("/start")
    client.click(language)
    client.click("✅" if consent else "🙅")
    return Room(client)


def test_outside_office_hours_the_family_hears_when_and_gets_the_emergency_numbers(make_client, clock) -> None:
    clock.now = SATURDAY_11
    room = make_room(make_client, clock)
    room.family("nataka mtu")
    texts = [reply.text for reply in room.client.last]
    assert t("sw", "handoff.answer_later", day=t("sw", "handoff.weekday.mon"), date="9 Novemba", time=EIGHT_SW) in texts
    assert texts[-1] == t("sw", "emergency.info")
    assert room.client.button(t("sw", "handoff.cancel"))


@pytest.mark.parametrize(
    ("now", "date"),
    [
        (datetime(2026, 12, 25, 11, 0, tzinfo=HELSINKI), "28 Desemba"),  # Christmas Day (a Friday)
        (datetime(2026, 12, 24, 11, 0, tzinfo=HELSINKI), "28 Desemba"),  # Christmas Eve (a Thursday)
        (datetime(2027, 3, 29, 11, 0, tzinfo=HELSINKI), "30 Machi"),  # Easter Monday: next is Tuesday
    ],
)
def test_on_a_public_holiday_the_family_hears_the_next_working_day_and_the_emergency_numbers(
    make_client, clock, now, date
) -> None:
    clock.now = now
    room = make_room(make_client, clock)
    room.family("nataka mtu")
    texts = [reply.text for reply in room.client.last]
    day = "mon" if now.year == 2026 else "tue"
    assert t("sw", "handoff.answer_later", day=t("sw", f"handoff.weekday.{day}"), date=date, time=EIGHT_SW) in texts
    assert texts[-1] == t("sw", "emergency.info")
    assert t("sw", "handoff.answer_today", until=FOUR_SW) not in texts


def test_a_local_day_off_from_holidays_is_honoured_too(make_client, clock) -> None:
    clock.now = datetime(2026, 12, 28, 11, 0, tzinfo=HELSINKI)  # an ordinary Monday, closed locally
    room = make_room(make_client, clock, holidays="2026-12-28")
    room.family("nataka mtu")
    texts = [reply.text for reply in room.client.last]
    assert (
        t("sw", "handoff.answer_later", day=t("sw", "handoff.weekday.tue"), date="29 Desemba", time=EIGHT_SW) in texts
    )
    assert texts[-1] == t("sw", "emergency.info")


def test_just_before_closing_on_a_friday_the_family_hears_monday_and_the_emergency_numbers(make_client, clock) -> None:
    clock.now = FRIDAY_1555
    room = make_room(make_client, clock)
    room.family("nataka mtu")
    texts = [reply.text for reply in room.client.last]
    monday = t("sw", "handoff.weekday.mon")
    assert t("sw", "handoff.answer_closing", until=FOUR_SW, day=monday, date="9 Novemba", time=EIGHT_SW) in texts
    assert texts[-1] == t("sw", "emergency.info")
    assert t("sw", "handoff.answer_today", until=FOUR_SW) not in texts


def test_just_before_closing_a_crisis_hears_when_it_will_be_read(make_client, clock) -> None:
    clock.now = FRIDAY_1555
    room = make_room(make_client, clock)
    replies = room.family("I want to kill myself")
    assert replies[0].text == t("sw", "crisis.info")
    monday = t("sw", "handoff.weekday.mon")
    expected = t("sw", "handoff.urgent_closing", until=FOUR_SW, day=monday, date="9 Novemba", time=EIGHT_SW)
    assert replies[-1].text == expected
    assert room.ticket().urgent


def test_before_the_office_opens_the_family_hears_today_not_the_next_working_day(make_client, clock) -> None:
    clock.now = MONDAY_0030
    room = make_room(make_client, clock)
    room.family("nataka mtu")
    texts = [reply.text for reply in room.client.last]
    assert t("sw", "handoff.answer_later_today", time=EIGHT_SW) in texts
    assert texts[-1] == t("sw", "emergency.info")


def test_before_the_office_opens_a_crisis_is_read_today_too(make_client, clock) -> None:
    clock.now = MONDAY_0030
    room = make_room(make_client, clock)
    room.family("I want to kill myself")
    assert t("sw", "handoff.urgent_later_today", time=EIGHT_SW) in [reply.text for reply in room.client.last]


def test_two_misunderstood_messages_offer_a_person_and_yes_opens_a_ticket(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("asdf qwerty")
    assert room.client.button(t("sw", "handoff.talk_to_person"))  # on "not understood" too
    room.family("zxcv")
    assert room.client.text == plain(t("sw", "handoff.offer_person"))
    room.press("✅")
    assert room.ticket().reason == "misunderstood" and room.ticket().status == TicketStatus.OPEN
    card = room.staff_texts()[0]
    assert "asdf qwerty" in card and "zxcv" in card, "the card shows recent messages (consent given)"


def test_menu_button_opens_a_ticket_and_a_second_request_joins_the_first(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.client.send("/menu")
    room.press(t("sw", "menu.person"))
    assert room.ticket().reason == "request"
    room.press("🏠")  # away from the waiting step: a new request is recognised as one
    room.press(t("sw", "menu.person"))
    assert t("sw", "handoff.already", ticket=1) in [r.text for r in room.client.last]
    room.press("🏠")
    room.family("mtu tena")  # typed, it may say why: passed on to the request that is open
    assert room.client.text.startswith(plain(t("sw", "handoff.noted")))
    with room.services.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_what_the_family_writes_while_waiting_is_passed_on(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu tafadhali")
    room.family("Mtoto wangu ni mgonjwa")
    assert room.client.text.startswith(plain(t("sw", "handoff.noted")))
    assert "Mtoto wangu ni mgonjwa" in room.staff_texts()[-1]
    assert room.staff[-1][1].to == Recipient(staff=True, reply_to=room.card_id())


def test_claim_relay_stop_and_rating_with_the_bot_quiet_meanwhile(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu tafadhali")
    room.claim()
    assert room.family_texts()[-1] == plain(t("sw", "handoff.connected", name="Anna"))
    # a second counsellor is too late
    room.claim(SECOND_COUNSELLOR)
    assert plain(t("fi", "handoff.staff.already_claimed", ticket=1, name="Anna")) in room.staff_texts()
    assert room.family("hello") == [], "the bot stays quiet: the message went to the counsellor"
    assert room.staff_texts()[-1].endswith("hello")
    # /menu still works and the conversation goes on
    room.family("/menu")
    assert plain(t("sw", "menu.title")) in room.client.text
    assert room.ticket().status == TicketStatus.CLAIMED
    # /stop ends it from the family side: the staff are told, the family is asked for a rating
    room.family("/stop")
    assert room.ticket().status == TicketStatus.CLOSED and room.ticket().closed_by == "family"
    assert plain(t("fi", "handoff.staff.family_stopped", ticket=1)) in room.staff_texts()
    rating = [r for r in room.to_family if r.text == t("sw", "handoff.rate_question")]
    assert rating and rating[-1].buttons
    room.client.press("handoff.rate:3")
    assert room.ticket().rating == 3
    room.client.press("handoff.rate:1")  # only once: the old button cannot change it
    assert room.ticket().rating == 3
    assert plain(t("sw", "errors.stale_button")) in room.client.text


def test_forged_rating_and_cancel_buttons_are_checked_against_the_database(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.client.press("handoff.rate:5")
    assert plain(t("sw", "errors.stale_button")) in room.client.text
    room.client.press("handoff.rate:9")
    assert room.client.buttons
    room.client.press("handoff.start:cancel")
    assert plain(t("sw", "handoff.nothing_to_cancel")) in room.client.text
    room.family("mtu")
    cancel = room.client.button(t("sw", "handoff.cancel")).payload
    room.client.press(cancel)
    room.sync()
    assert room.ticket().status == TicketStatus.CLOSED and room.ticket().rating is None
    assert plain(t("fi", "handoff.staff.family_cancelled", ticket=1)) in room.staff_texts()
    # cancelling while a counsellor has it ends the conversation: one closing message, one rating question
    room.family("mtu tena")
    room.claim(ticket_id=2)
    room.client.press(cancel)  # the cancel button of the earlier message still means "end my request"
    room.sync()
    assert room.ticket(2).status == TicketStatus.CLOSED
    assert [r.text for r in room.to_family].count(t("sw", "handoff.rate_question")) == 1


def test_crisis_during_a_conversation_shows_the_numbers_and_alerts_the_counsellor(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    replies = room.family("I want to kill myself")
    assert replies[0].text == t("sw", "crisis.info")
    assert room.ticket().urgent
    staff = room.staff_texts()
    assert any(text.endswith("I want to kill myself") for text in staff)
    assert plain(t("fi", "handoff.staff.crisis_alert", ticket=1)) in staff
    assert sum("I want to kill myself" in text for text in staff) == 1, "relayed once"


def test_stop_withdraws_a_request_no_counsellor_has_taken_yet(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("/stop")
    assert t("sw", "handoff.nothing_to_cancel") in [reply.text for reply in room.client.last]
    room.family("mtu")
    room.family("/stop")
    assert t("sw", "handoff.cancelled") in [reply.text for reply in room.client.last]
    assert room.ticket().status != TicketStatus.OPEN


def test_crisis_while_a_request_waits_makes_it_urgent(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    replies = room.family("kill myself")
    assert replies[0].text == t("sw", "crisis.info")
    assert replies[-1].text == t("sw", "handoff.urgent_now")
    assert room.ticket().urgent
    assert any(text.endswith("kill myself") for text in room.staff_texts())


def test_the_safety_questions_help_button_is_a_crisis_with_an_urgent_ticket(make_client, clock) -> None:
    room = make_room(make_client, clock)
    replies = room.family("I cannot go on")
    assert replies[-1].text == t("sw", "crisis.check")
    with room.services.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0  # a question, no ticket yet
    assert not room.staff_texts()
    replies = room.press(plain(t("sw", "crisis.check_help")))
    assert replies[0].text == t("sw", "crisis.info")
    assert room.ticket().urgent
    assert room.staff_texts(), "the counsellors are told at once"


def test_without_consent_nothing_of_the_messages_is_kept(make_client, clock) -> None:
    room = make_room(make_client, clock, consent=False)
    room.family("mtu")
    room.claim()
    room.family("siri yangu")
    room.counsellor(COUNSELLOR, "jibu", reply_to_message_id=room.card_id())
    with room.services.db.sessions() as session:
        rows = session.scalars(select(TicketMessage).where(TicketMessage.direction.in_(("in", "out")))).all()
    assert len(rows) == 2 and all(row.text is None for row in rows)
    assert "siri yangu" in room.staff_texts()[-1], "still relayed: that is what the family asked for"
    assert plain(t("fi", "handoff.staff.recent")) not in room.staff_texts()[0]


def test_a_family_without_consent_is_told_that_counsellors_read_what_they_write(make_client, clock) -> None:
    room = make_room(make_client, clock, consent=False)
    assert plain(t("sw", "handoff.without_consent")) in [plain(reply.text) for reply in room.family("mtu")]


def test_a_family_with_consent_is_not_told_about_consent_at_the_request(make_client, clock) -> None:
    room = make_room(make_client, clock)
    assert plain(t("sw", "handoff.without_consent")) not in [plain(reply.text) for reply in room.family("mtu")]


def test_counsellor_close_command_routing_and_refusals(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.counsellor(COUNSELLOR, "/close")  # not a reply, no number: which one?
    assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.which_ticket"))
    for forged in ("/close ²", "/close 99999999999999999999", "/close #-1"):  # no crash, no database error
        room.counsellor(COUNSELLOR, forged)
        assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.which_ticket")), forged
    room.counsellor(7777, "/close 1")
    assert room.ticket().status == TicketStatus.OPEN
    room.counsellor(7777, "/queue")
    room.counsellor(COUNSELLOR, "/queue")
    assert "#1" in room.staff_texts()[-1] and "F-0000" in room.staff_texts()[-1]
    room.counsellor(COUNSELLOR, "/close 1")
    assert room.ticket().status == TicketStatus.CLOSED
    room.counsellor(COUNSELLOR, "late answer", reply_to_message_id=room.card_id())
    assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.closed_not_delivered", ticket=1))
    with room.services.db.sessions() as session:
        audited = [(a.actor, a.action) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("unlisted", "ticket.close.refused") in audited and ("unlisted", "ticket.queue.refused") in audited
    assert audited[-1][1] == "ticket.close"
    # unrelated staff chatter is left alone
    assert room.counsellor(COUNSELLOR, "kahvia?") == []


def test_relayed_texts_are_deleted_after_the_retention_periods(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("ujumbe")

    def purge(days: int) -> int:
        """Relayed messages gone with the purge (the links of the bot's notices go with them)."""
        before = relayed_count(room)
        with room.services.db.session() as session:
            later = clock.now + timedelta(days=days)
            for hook in room.services.registry.retention_hooks:
                hook(session, later)
        return before - relayed_count(room)

    assert purge(89) == 0
    assert purge(91) == 1  # RETENTION_DAYS (90) for a ticket still open
    room.family("ujumbe tena")
    room.counsellor(COUNSELLOR, "/close 1")
    assert purge(29) == 0
    assert purge(31) == 1  # CLOSED_TICKET_RETENTION_DAYS (30) after the ticket was closed


def test_mydata_exports_the_requests_and_delete_anonymises_them(make_client, clock) -> None:
    from bot.db.models import User

    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    room.family("siri")
    with room.services.db.sessions() as session:
        family = session.scalar(select(User).where(User.external_id == room.client.user_id))
        exported = {}
        for exporter in room.services.registry.privacy_exporters:
            exported.update(exporter(session, family))
    requests = exported["counsellor_requests"]
    assert requests[0]["status"] == "claimed" and requests[0]["messages"][0]["text"] == "siri"
    # /delete while a counsellor has the request: the command reaches the privacy feature, not the counsellor
    room.family("/delete")
    assert not any("/delete" in text for text in room.staff_texts())
    room.client.click(t("sw", "privacy.delete_yes"))
    room.sync()
    with room.services.db.sessions() as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None and ticket.status == TicketStatus.CLOSED
        assert session.get(User, ticket.user_id).external_id != room.client.user_id  # the placeholder
        kept = session.scalars(select(TicketMessage)).all()
        # only links from the staff group's messages to the (anonymous) ticket: no text, no kind, no direction
        assert all(row.text is None and row.media is None and row.direction == "staff" for row in kept)
        assert all(row.staff_message_id is not None for row in kept)
    assert plain(t("fi", "handoff.staff.family_erased", ticket=1)) in room.staff_texts()


def test_the_whole_desk_works_on_both_databases_and_survives_a_restart(make_client, clock, database_url) -> None:
    from bot.app import build_conversation, build_services
    from tests.conftest import make_settings

    room = make_room(make_client, clock, database_url)
    room.family("mtu")
    room.claim()
    room.family("swali")
    # a new process on the same database: the relay goes on from where it was
    services = build_services(
        make_settings(database_url, room.services.settings.cache_dir.parent, staff_chat_id=STAFF_CHAT),
        nlu=HandoffNLU(),
    )
    services.clock = clock
    try:
        fresh = Room(BotClient(build_conversation(services), user_id=room.client.user_id))
        assert fresh.client.send("swali la pili") == []
        fresh.sync()
        assert fresh.staff_texts()[-1].endswith("swali la pili")
        fresh.counsellor(COUNSELLOR, "/close 1")
        assert fresh.ticket().status == TicketStatus.CLOSED
        fresh.client.press("handoff.rate:4")
        assert fresh.ticket().rating == 4

        # at most one active ticket per family, enforced by the database itself
        def another_ticket(status: str) -> Ticket:
            return Ticket(
                user_id=fresh.ticket().user_id,
                language="sw",
                status=status,
                created_at=clock.now,
                alerts=0,
                topics="",
                urgent=False,
                reason="request",
            )

        with services.db.session() as session:
            session.add(another_ticket("open"))
        with pytest.raises(IntegrityError), services.db.session() as session:
            session.add(another_ticket("claimed"))
    finally:
        services.db.dispose()


def test_replies_with_media_and_new_topics_survive_the_inbox_round_trip() -> None:
    reply = Reply(
        text="x",
        to=Recipient(staff=True, new_topic="#1 Kiswahili"),
        media=(MediaKind.VOICE, "file-1"),
        track="ticket:card:1",
    )
    assert reply_from_json(json.loads(json.dumps(reply_to_json(reply)))) == reply


# ---------------------------------------------------------------------- machine translation
class _FakeLibreTranslate(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    fail = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        if type(self).fail:
            self.send_response(500)
            self.end_headers()
            return
        payload = json.dumps({"translatedText": f"[{body['target']}] {body['q']}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture
def translate_url() -> Iterator[str]:
    _FakeLibreTranslate.requests = []
    _FakeLibreTranslate.fail = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLibreTranslate)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_libretranslate_client_against_a_local_server(translate_url: str) -> None:
    client = LibreTranslateClient(translate_url)
    assert client.translate("Habari", "sw", "fi") == "[fi] Habari"
    assert _FakeLibreTranslate.requests[-1] == {
        "path": "/translate",
        "q": "Habari",
        "source": "sw",
        "target": "fi",
        "format": "text",
    }
    assert client.translate("Hei", "fi", "fi") is None, "same language: nothing is sent"
    _FakeLibreTranslate.fail = True
    assert client.translate("Habari", "sw", "fi") is None
    assert isinstance(build_translator(""), NoTranslation)
    assert LibreTranslateClient("http://127.0.0.1:9").translate("Habari", "sw", "fi") is None  # nobody listens


def test_the_counsellor_sees_a_marked_machine_translation_beside_the_original(
    make_client, clock, translate_url: str
) -> None:
    room = make_room(make_client, clock, translate_url=translate_url)
    room.family("mtu")
    room.family("Mtoto wangu ni mgonjwa")
    relayed = room.staff_texts()[-1]
    assert "Mtoto wangu ni mgonjwa" in relayed
    assert (
        plain(
            t(
                "fi",
                "handoff.staff.machine_translation",
                source="sw",
                target="fi",
                translation="[fi] Mtoto wangu ni mgonjwa",
            )
        )
        in relayed
    )


def test_without_a_translation_server_nothing_is_translated(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("Mtoto wangu ni mgonjwa")
    assert "🌐" not in room.staff_texts()[-1]


def test_media_without_a_file_id_offered_to_a_counsellor_opens_a_ticket(make_client, clock) -> None:
    """The console's media (and any without a file id) once crashed the "send it to a counsellor" button."""
    room = make_room(make_client, clock)
    room.client.send_media(MediaKind.VOICE)
    assert room.client.text == plain(t("sw", "handoff.media_offer.voice"))
    room.press(t("sw", "handoff.media_yes"))
    assert room.ticket().reason == "media"
    assert t("sw", "handoff.opened", ticket=1) in [r.text for r in room.client.last]
    assert plain(t("fi", "handoff.staff.media_not_relayed")) in room.staff_texts()[-1]  # staff read Finnish


# ---------------------------------------------------------------------- a request open while the family uses the bot
def relayed_count(room: Room) -> int:
    with room.services.db.sessions() as session:
        relayed = select(func.count()).select_from(TicketMessage).where(TicketMessage.direction.in_(("in", "out")))
        return session.scalar(relayed) or 0


def test_after_the_menu_what_a_waiting_family_writes_is_still_added_to_their_request(make_client, clock) -> None:
    """QA: after /menu (or a page of the guide) the family's words went to the intent model, not to the request."""
    room = make_room(make_client, clock)
    room.family("mtu tafadhali")
    replies = room.family("/menu")
    assert replies[0].text == t("sw", "handoff.still_open", ticket=1), "leaving the request does not withdraw it"
    assert replies[-1].text == t("sw", "menu.title")
    assert room.client.button(t("sw", "handoff.write")) and room.client.button(t("sw", "handoff.cancel"))
    room.family("Mtoto wangu ni mgonjwa")
    assert room.client.text.startswith(plain(t("sw", "handoff.noted")))
    assert room.staff_texts()[-1].endswith("Mtoto wangu ni mgonjwa")
    # anywhere else in the bot too: here, the guide's topics
    room.family("/menu")
    room.press(plain(t("sw", "menu.guide")))
    room.family("Tafadhali nipigie simu kesho")
    assert room.client.text.startswith(plain(t("sw", "handoff.noted")))
    assert room.staff_texts()[-1].endswith("Tafadhali nipigie simu kesho")
    assert relayed_count(room) == 2
    assert room.ticket().status == TicketStatus.OPEN


def test_the_requests_own_menu_button_says_the_request_is_still_open(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    replies = room.press("🏠")
    assert replies[0].text == t("sw", "handoff.still_open", ticket=1)
    assert replies[-1].text == t("sw", "menu.title")
    room.press(t("sw", "handoff.write"))  # back to the request: what they write now is passed on
    assert t("sw", "handoff.already", ticket=1) in [reply.text for reply in room.client.last]
    room.family("swali langu")
    assert room.staff_texts()[-1].endswith("swali langu")
    # withdrawn from the reminder: the menu shows no reminder any more
    room.press("🏠")
    room.press(t("sw", "handoff.cancel"))
    assert room.ticket().status == TicketStatus.CLOSED
    assert room.family("/menu")[0].text == t("sw", "menu.title")


def test_a_topic_the_bot_knows_is_answered_and_marked_as_not_reaching_the_counsellors(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("/menu")
    staff_before = len(room.staff)
    replies = room.family("shule")
    assert replies[0].text == t("sw", "handoff.answered_here", ticket=1)
    assert len(replies) > 1, "and the bot's own answer below it"
    assert len(room.staff) == staff_before and relayed_count(room) == 0
    # a long message is a family's situation, however well its words match a topic: it goes to the request
    situation = "Mtoto wangu ana shida shuleni. " * 12
    room.family(situation)
    assert room.client.text.startswith(plain(t("sw", "handoff.noted")))
    assert relayed_count(room) == 1
    # so does small talk, and another "a person, please" (it may say why)
    room.family("/menu")
    room.family("mtu tafadhali, mtoto wangu")
    assert room.client.text.startswith(plain(t("sw", "handoff.noted")))
    assert room.staff_texts()[-1].endswith("mtu tafadhali, mtoto wangu")
    with room.services.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_crisis_after_the_menu_comes_first_and_makes_the_waiting_request_urgent(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("/menu")
    replies = room.family("I want to kill myself")
    assert replies[0].text == t("sw", "crisis.info")
    assert room.ticket().urgent
    assert sum("I want to kill myself" in text for text in room.relayed_texts()) == 1, "added once"


def test_a_message_close_to_a_crisis_reaches_the_request_and_gets_the_safety_question(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("/menu")
    replies = room.family("I cannot go on")
    assert replies[0].text.startswith(t("sw", "handoff.noted"))
    assert replies[-1].text == t("sw", "crisis.check")
    assert room.staff_texts()[-1].endswith("I cannot go on")


def test_a_screen_that_asks_its_own_question_still_gets_the_answer(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("/menu")
    room.press(plain(t("sw", "menu.groups")))
    room.family("Kemi")  # the town typed instead of pressed
    assert "Kemi" in room.client.text and not room.client.text.startswith(plain(t("sw", "handoff.noted")))
    assert relayed_count(room) == 0


def test_without_consent_what_is_added_after_the_menu_is_relayed_but_not_kept(
    make_client, clock, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.db.models import MessageLog

    room = make_room(make_client, clock, consent=False)
    room.family("mtu")
    room.family("/menu")
    with caplog.at_level("DEBUG"):
        room.family("siri yangu ya familia")
    assert room.staff_texts()[-1].endswith("siri yangu ya familia")
    with room.services.db.sessions() as session:
        assert [row.text for row in session.scalars(select(TicketMessage))] == [None]
        assert session.scalar(select(func.count()).select_from(MessageLog)) == 0
    assert "siri" not in caplog.text and "F-0000" not in caplog.text


def test_a_claimed_conversation_goes_on_after_the_menu_and_the_guide(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    replies = room.family("/menu")
    assert replies[0].text == t("sw", "handoff.in_conversation")
    room.press(plain(t("sw", "menu.guide")))  # buttons are still the bot's
    assert room.family("shule") == [], "even a topic the bot knows goes to the counsellor, who is there"
    assert room.staff_texts()[-1].endswith("shule")
    room.client.send("/menu")
    room.press(t("sw", "menu.person"))
    assert room.client.text == plain(t("sw", "handoff.in_conversation"))
    assert room.ticket().status == TicketStatus.CLAIMED


def test_the_card_writes_its_times_as_the_staffs_language_does(make_client, clock) -> None:
    clock.now = WEDNESDAY_10.replace(hour=9, minute=5)
    room = make_room(make_client, clock)
    room.family("nataka mtu")
    assert "4.11. 9.05" in room.staff_texts()[0]  # Finnish staff: no leading zero, as Finnish writes it
    room.claim()
    assert any("klo 9.05 alkaen" in text for text in room.staff_texts()), "claimed: the card's status line"


# ---------------------------------------------------------------------- the staff side: nothing lost, nothing stale
def staff_id(room: Room, part: str) -> int:
    """The id of the latest message of the bot in the staff group that contains `part`."""
    return next(message_id for message_id, reply in reversed(room.staff) if part in plain(reply.text))


def last_card(room: Room) -> Reply:
    return room.card_texts()[-1][0]


def test_a_reply_to_any_message_of_a_request_reaches_the_family(make_client, clock) -> None:
    """QA: answers to the bot's notices, to a later part of a relayed message or to one's own message were lost."""
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    notice = staff_id(room, plain(t("fi", "handoff.staff.claimed_reply", ticket=1, name="Anna")))
    room.counsellor(COUNSELLOR, "Jibu kwa tangazo", reply_to_message_id=notice)
    assert room.family_texts()[-1].endswith("Jibu kwa tangazo")
    own = room.counsellor(COUNSELLOR, "Ujumbe wangu", reply_to_message_id=room.card_id())
    assert own and room.family_texts()[-1].endswith("Ujumbe wangu")
    room.counsellor(COUNSELLOR, "Na zaidi", reply_to_message_id=501, message_id=900)
    room.counsellor(COUNSELLOR, "Jibu kwa ujumbe wangu", reply_to_message_id=900)  # a reply to her own message
    assert room.family_texts()[-1].endswith("Jibu kwa ujumbe wangu")
    # every message the channel reports for one relayed message (media, then its long text) is linked
    room.family("ujumbe mrefu")
    row_track = room.staff[-1][1].track
    assert row_track is not None and row_track.startswith("ticket:msg:")
    room.services.registry.sent_hooks["ticket"](row_track, STAFF_CHAT, 4242)
    room.counsellor(COUNSELLOR, "Jibu kwa sehemu ya pili", reply_to_message_id=4242, reply_to_bot=True)
    assert room.family_texts()[-1].endswith("Jibu kwa sehemu ya pili")


def test_a_counsellors_reply_that_reaches_no_family_is_answered_and_chat_is_left_alone(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.counsellor(COUNSELLOR, "/queue")
    queue = room.staff[-1][0]
    before = len(room.to_family)
    room.counsellor(COUNSELLOR, "Tämä menee perheelle?", reply_to_message_id=queue)
    assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.not_routed"))
    assert room.staff[-1][1].to is not None and room.staff[-1][1].to.reply_to is not None, "as a reply to it"
    assert room.ticket().status == TicketStatus.OPEN and len(room.to_family) == before
    # chat between counsellors (no reply to the bot), and anyone not on the list, get nothing
    assert room.counsellor(COUNSELLOR, "kahvia?") == []
    assert room.counsellor(7777, "moi", reply_to_message_id=queue) == []


def test_after_the_familys_erasure_a_reply_hears_it_is_closed_and_the_card_shows_no_label(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    room.family("siri")
    relayed = staff_id(room, "siri")
    room.family("/delete")
    room.client.click(t("sw", "privacy.delete_yes"))
    room.sync()
    card = last_card(room)
    assert card.edit and card.to is not None and card.to.edit_message_id == room.card_id()
    assert plain(t("fi", "handoff.staff.erased_label")) in plain(card.text)
    assert "F-0000" not in plain(card.text) and not card.buttons
    before = len(room.to_family)
    room.counsellor(COUNSELLOR, "Nitakupigia simu", reply_to_message_id=relayed)
    assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.closed_not_delivered", ticket=1))
    assert len(room.to_family) == before


def test_long_messages_are_relayed_whole_in_parts_within_telegrams_limit(make_client, clock) -> None:
    from bot.core.messages import telegram_length

    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    words = " ".join(f"[{n:04}] & <x>" for n in range(315))  # 4,095 characters, full of HTML's own characters
    room.family(words)
    parts = [reply for _, reply in room.staff if (reply.track or "").startswith("ticket:msg:")]
    assert len(parts) == 2 and all(telegram_length(reply.text) <= 4096 for reply in parts)
    assert plain(parts[0].text).startswith(plain(t("fi", "handoff.staff.from_family", label="F-00001", ticket=1)))
    assert "(1/2)" in plain(parts[0].text).split("\n")[0] and "(2/2)" in plain(parts[1].text).split("\n")[0]
    relayed = " ".join(plain(reply.text).split("\n", 1)[1] for reply in parts)
    assert relayed == words, "nothing is left out"
    answer = "\n".join(f"Mstari {n:03} wa jibu & maelezo." for n in range(160))  # 4,799 characters
    room.counsellor(COUNSELLOR, answer, reply_to_message_id=room.card_id())
    sent = [reply for reply in room.to_family if (reply.track or "").startswith("ticket:out:")]
    assert len(sent) == 2 and all(telegram_length(reply.text) <= 4096 for reply in sent)
    assert "\n".join(plain(reply.text).split("\n", 1)[1] for reply in sent) == answer
    assert plain(sent[1].text).split("\n")[0].endswith("(2/2)")


def test_split_text_cuts_at_paragraphs_lines_sentences_and_words() -> None:
    from bot.features.handoff.desk import split_text

    assert split_text("short", 300) == ["short"]
    text = "First paragraph. " * 20 + "\n\n" + "Second one. " * 20
    assert split_text(text, 300)[0] == ("First paragraph. " * 17).rstrip()
    pieces = split_text("x" * 1000, 300)
    assert [len(piece) for piece in pieces] == [300, 300, 300, 100], "no boundary: a hard cut"
    emoji = "😀" * 400  # two UTF-16 units each, as Telegram counts them
    assert [len(piece) for piece in split_text(emoji, 300)] == [150, 150, 100]


def test_internal_notes_stay_in_the_group_and_never_claim(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.family("Swali langu")
    relayed = staff_id(room, "Swali langu")
    before = len(room.to_family)
    note = room.counsellor(SECOND_COUNSELLOR, "// kuka puhuu swahilia?", reply_to_message_id=relayed, message_id=910)
    assert note == []
    assert room.ticket().status == TicketStatus.OPEN, "a note does not claim"
    assert room.counsellor(COUNSELLOR, "minä kysyn tulkkia", reply_to_message_id=910) == [], "a reply to a note"
    assert room.counsellor(COUNSELLOR, "  //huomenna soitto", reply_to_message_id=room.card_id()) == []
    assert room.counsellor(COUNSELLOR, "// ei mihinkään pyyntöön") == [], "no 'unknown command /'"
    assert room.ticket().status == TicketStatus.OPEN and len(room.to_family) == before
    with room.services.db.sessions() as session:
        notes = session.scalars(select(TicketMessage).where(TicketMessage.direction == "note")).all()
    assert {row.staff_message_id for row in notes} >= {910} and all(row.text is None for row in notes)
    room.counsellor(COUNSELLOR, "Habari, mimi ni Anna", reply_to_message_id=relayed)  # no marker: the answer
    assert room.ticket().status == TicketStatus.CLAIMED and room.family_texts()[-1].endswith("Habari, mimi ni Anna")


def test_the_card_is_edited_whenever_the_request_changes(make_client, clock) -> None:
    """QA: the card kept "waiting" and its Claim button after a claim by reply, a close, a withdrawal."""
    room = make_room(make_client, clock)
    room.family("mtu")
    card_id = room.card_id()
    room.family("kill myself")  # a crisis while it waits: the card turns urgent
    card = last_card(room)
    assert card.edit and card.to is not None and card.to.edit_message_id == card_id
    assert plain(t("fi", "handoff.staff.urgent")) in plain(card.text)
    assert plain(t("fi", "handoff.staff.became_urgent")) in plain(card.text)
    room.counsellor(COUNSELLOR, "Habari", reply_to_message_id=card_id)  # a claim by replying
    card = last_card(room)
    assert plain(t("fi", "handoff.staff.status_claimed", name="Anna", time="10.00")) in plain(card.text)
    assert [b.label for row in card.buttons for b in row] == [
        t("fi", "handoff.staff.take_over"),
        t("fi", "handoff.staff.close"),
    ]
    room.family("/stop")  # the family ends it
    card = last_card(room)
    assert plain(t("fi", "handoff.staff.status_closed", time="10.00")) in plain(card.text) and not card.buttons
    assert card.to is not None and card.to.edit_message_id == card_id
    # withdrawn while waiting, and closed by /close N: the card follows too
    room.family("mtu tena")
    room.family("/stop")
    assert not last_card(room).buttons and last_card(room).to.edit_message_id == room.card_id(2)  # type: ignore[union-attr]
    room.family("mtu mara ya tatu")
    room.counsellor(COUNSELLOR, "/close 3")
    assert not last_card(room).buttons and last_card(room).to.edit_message_id == room.card_id(3)  # type: ignore[union-attr]


def test_closing_a_request_nobody_took_asks_first_and_tells_the_family_honestly(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.counsellor(COUNSELLOR, payload="ticket:close:1", message_id=room.card_id())
    assert room.ticket().status == TicketStatus.OPEN, "Close beside Claim asks first"
    labels = [b.label for row in last_card(room).buttons for b in row]
    assert labels == [t("fi", "handoff.staff.close_confirm"), t("fi", "handoff.staff.close_back")]
    room.counsellor(COUNSELLOR, payload="ticket:close_back:1", message_id=room.card_id())
    assert next(b.label for row in last_card(room).buttons for b in row) == t("fi", "handoff.staff.claim")
    room.counsellor(COUNSELLOR, payload="ticket:close:1", message_id=room.card_id())
    room.counsellor(COUNSELLOR, payload="ticket:close_confirmed:1", message_id=room.card_id())
    assert room.ticket().status == TicketStatus.CLOSED
    assert room.family_texts()[-1] == plain(t("sw", "handoff.closed_unanswered", ticket=1))
    assert t("sw", "handoff.rate_question") not in [reply.text for reply in room.to_family]
    assert t("sw", "handoff.closed") not in [reply.text for reply in room.to_family]
    assert [b.label for b in room.to_family[-1].buttons[0]] == [t("sw", "handoff.talk_to_person")]
    assert plain(t("fi", "handoff.staff.closed_unanswered", ticket=1, name="Anna")) in room.staff_texts()
    room.client.press("handoff.rate:5")  # an old or forged rating button: nothing to rate
    assert room.ticket().rating is None
    room.client.press(room.to_family[-1].buttons[0][0].payload)  # "talk to a person" opens a new request
    assert room.ticket(2).status == TicketStatus.OPEN


def test_a_confirmed_close_that_a_colleagues_claim_overtook_closes_nothing(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.counsellor(COUNSELLOR, payload="ticket:close:1", message_id=room.card_id())  # "close without …?"
    room.claim(SECOND_COUNSELLOR)  # a colleague takes it meanwhile
    room.counsellor(COUNSELLOR, payload="ticket:close_confirmed:1", message_id=room.card_id())
    assert room.ticket().status == TicketStatus.CLAIMED
    assert t("sw", "handoff.rate_question") not in [reply.text for reply in room.to_family]
    room.counsellor(COUNSELLOR, "/close 1")  # nor by command: the holder closes (or a colleague takes over)
    assert room.ticket().status == TicketStatus.CLAIMED
    room.counsellor(SECOND_COUNSELLOR, "/close 1")
    assert room.ticket().status == TicketStatus.CLOSED


def test_only_the_holder_writes_to_the_family_and_a_colleague_can_take_over(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    room.family("Swali")
    relayed = staff_id(room, "Swali")
    before = len(room.to_family)
    room.counsellor(SECOND_COUNSELLOR, "Mimi ni Pekka", reply_to_message_id=relayed, message_id=920)
    assert len(room.to_family) == before, "not relayed"
    notice_id, notice = room.staff[-1]
    assert plain(notice.text) == plain(t("fi", "handoff.staff.held_by_colleague", ticket=1, name="Anna"))
    assert notice.to is not None and notice.to.reply_to == 920
    assert [b.payload for row in notice.buttons for b in row] == ["ticket:take_over:1"]
    room.counsellor(COUNSELLOR, payload="ticket:take_over:1", message_id=notice_id)  # the holder herself
    assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.already_yours", ticket=1))
    room.counsellor(SECOND_COUNSELLOR, payload="ticket:take_over:1", message_id=4711)  # not a message of #1
    assert room.staff_texts()[-1] == plain(t("fi", "handoff.staff.stale"))
    room.counsellor(SECOND_COUNSELLOR, payload="ticket:take_over:1", message_id=notice_id)
    assert plain(t("fi", "handoff.staff.taken_over", ticket=1, name="Pekka", previous="Anna")) in room.staff_texts()
    assert room.family_texts()[-1] == plain(t("sw", "handoff.connected", name="Pekka"))
    assert "Pekka" in plain(last_card(room).text)
    room.counsellor(SECOND_COUNSELLOR, "Mimi ni Pekka", reply_to_message_id=relayed)
    assert room.family_texts()[-1].endswith("Mimi ni Pekka")
    room.counsellor(COUNSELLOR, "Anna hapa", reply_to_message_id=relayed)
    assert not room.family_texts()[-1].endswith("Anna hapa")
    assert room.counsellor(COUNSELLOR, "// Pekka jatkaa, hyvä", reply_to_message_id=relayed) == []
    with room.services.db.sessions() as session:
        audited = [(a.action, a.details) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        pekka = session.scalar(select(Counsellor).where(Counsellor.telegram_id == SECOND_COUNSELLOR))
        anna = session.scalar(select(Counsellor).where(Counsellor.telegram_id == COUNSELLOR))
        assert pekka is not None and anna is not None
    assert room.ticket().counsellor_id == pekka.id
    assert ("ticket.take_over", {"previous": f"counsellor:{anna.id}"}) in audited


def test_a_counsellors_message_that_cannot_be_delivered_is_reported_as_a_reply_to_it(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    replies = room.counsellor(COUNSELLOR, "Habari", reply_to_message_id=room.card_id(), message_id=930)
    track = next(reply.track for reply in replies if reply.to is not None and reply.to.user is not None)
    assert track is not None and track.startswith("ticket:out:")
    hook = room.services.registry.undelivered_hooks["ticket"]
    blocked = hook(track, "blocked")
    assert [plain(reply.text) for reply in blocked] == [plain(t("fi", "handoff.staff.family_blocked", ticket=1))]
    assert blocked[0].to is not None and blocked[0].to.reply_to == 930 and blocked[0].track == "ticket:notice:1"
    refused = hook(track, "refused")
    assert plain(refused[0].text) == plain(t("fi", "handoff.staff.not_delivered", ticket=1))
    assert hook("ticket:msg:1", "blocked") == [], "only a counsellor's message to the family is reported"


# ---------------------------------------------------------------------- media the bot cannot pass on
def family_sends(room: Room, kind: MediaKind, media_ref: str | None) -> list[Reply]:
    replies = room.client._handle(Incoming(room.client.user, media=kind, media_ref=media_ref))
    room.sync()
    return replies


@pytest.mark.parametrize("claimed", [False, True])
def test_a_sticker_reaches_the_request_and_a_location_asks_for_words(make_client, clock, claimed: bool) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    if claimed:
        room.claim()
    relayed = len(room.relayed_texts())
    family_sends(room, MediaKind.STICKER, "sticker-1")  # a counsellor can look at a sticker or a video note
    assert len(room.relayed_texts()) == relayed + 1
    replies = family_sends(room, MediaKind.LOCATION, None)  # no file to pass on: say so, relay nothing empty
    assert plain(t("sw", "handoff.media_not_passed")) in [plain(r.text) for r in replies]
    assert len(room.relayed_texts()) == relayed + 1
    # While waiting, the way on (the menu, with the request's own line); in a conversation the bot stays quiet.
    assert any(r.buttons for r in replies) is not claimed


def test_a_counsellors_location_is_not_sent_as_an_empty_message(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    room.claim()
    before = len(room.to_family)
    reply_to = room.card_id()
    room.counsellor(COUNSELLOR, None, media=MediaKind.LOCATION, reply_to_message_id=reply_to)
    assert len(room.to_family) == before
    assert plain(t("fi", "handoff.staff.media_not_delivered", ticket=1)) in room.staff_texts()


def test_an_internal_note_in_full_width_slashes_stays_in_the_group(make_client, clock) -> None:
    room = make_room(make_client, clock)
    room.family("mtu")
    before = len(room.to_family)
    room.counsellor(COUNSELLOR, "／／ does anyone speak Swahili?", reply_to_message_id=room.card_id())
    assert len(room.to_family) == before and room.ticket().status == TicketStatus.OPEN
