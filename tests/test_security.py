"""Security: per-user flood control, the webhook's secret token, HTML escaping of user text, forged buttons."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.core.flood import FloodGuard, Verdict
from bot.core.messages import Incoming
from bot.core.texts import Texts
from bot.db.models import InboxUpdate, User
from bot.settings import ROOT
from bot.testing.fake_bot_api import FakeBotApi
from tests.client import BotClient, plain
from tests.conftest import make_settings
from tests.fakes import FixedUnderstanding, KeywordNLU
from tests.html_check import telegram_html_problem
from tests.telegram_harness import running_bot
from tests.waiting import until

TEXTS = Texts.load(ROOT / "content" / "strings")
HOSTILE = '<b>bold</b> & <script>alert("x")</script> <a href="http://evil">x</a> &amp;lt; 5 > 3'


def onboard(client: BotClient, language_label: str = "English") -> None:
    client.send("/start")
    client.click(language_label)
    client.click("✅")


# ---------------------------------------------------------------------- flood control
def test_flood_guard_window() -> None:
    now = [0.0]
    guard = FloodGuard(3, 10.0, clock=lambda: now[0])
    assert [guard.check("a") for _ in range(3)] == [Verdict.OK] * 3
    assert guard.check("a") is Verdict.SLOW_DOWN
    assert guard.check("a") is Verdict.DROP
    assert guard.check("b") is Verdict.OK  # others are unaffected
    now[0] = 9.99
    assert guard.check("a") is Verdict.DROP
    now[0] = 10.0  # the burst has left the window
    assert [guard.check("a") for _ in range(3)] == [Verdict.OK] * 3
    assert guard.check("a") is Verdict.SLOW_DOWN  # a new flood gets a new (single) warning


def test_flood_guard_forgets_quiet_users() -> None:
    now = [0.0]
    guard = FloodGuard(5, 1.0, clock=lambda: now[0])
    for user in range(20_000):
        guard.check(user)
        now[0] += 0.001
    assert len(guard) < 20_000


def test_a_flood_gets_one_polite_slowdown_then_silence(make_client) -> None:
    client = make_client(language_hint="so")
    onboard(client, "Soomaali")
    conversation = client.conversation
    now = [100.0]
    conversation.flood = FloodGuard(100, 10.0, clock=lambda: now[0])
    for i in range(100):
        assert conversation.handle(Incoming(client.user, text=f"hello {i}")), i
    slow = conversation.handle(Incoming(client.user, text="hello"))
    assert [plain(r.text) for r in slow] == [plain(TEXTS.get("so", "errors.slow_down"))]
    for i in range(50):  # dropped quietly, also through the inbox (not retried later)
        assert conversation.handle(Incoming(client.user, text="hello", idempotency_key=9000 + i)) == []
    with conversation.services.db.sessions() as session:
        statuses = set(session.scalars(select(InboxUpdate.status).where(InboxUpdate.update_id >= 9000)))
        assert statuses == {"handled"}
    other = make_client(user_id="2002")
    other.send("/start")  # someone else in the same process is served as usual
    assert other.buttons
    now[0] += 10.0
    assert client.send("/menu") and client.buttons, "served again once the window has passed"


async def test_a_flood_through_telegram_does_not_crash_or_slow_others(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    flooder, calm = 6660001, 6660002
    settings = make_settings(sqlite_url, tmp_path, flood_messages=30)
    async with running_bot(settings, api, KeywordNLU()) as bot:
        updates = [await api.user_says(flooder, f"/help {i}") for i in range(60)]
        calm_update = await api.user_says(calm, "/start")
        await api.wait_for(
            lambda: all(bot.channel.inbox.status(u["update_id"]) == "done" for u in [*updates, calm_update]),
            timeout=60,
        )
        slow_down = TEXTS.get("en", "errors.slow_down")
        to_flooder = api.messages_to(flooder)
        assert [m.text for m in to_flooder].count(slow_down) == 1
        assert len(to_flooder) == 30 + 1  # 30 answers, one slow-down, 29 dropped
        assert api.messages_to(calm), "another user is answered"


# ---------------------------------------------------------------------- webhook secret token
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_webhook_refuses_updates_without_the_secret_token(
    api: FakeBotApi, sqlite_url: str, tmp_path: Path
) -> None:
    from bot.app import build_conversation, build_services
    from bot.channels.telegram import build_application

    settings = make_settings(sqlite_url, tmp_path, telegram_api_base_url=api.base_url)
    services = build_services(settings, nlu=KeywordNLU())
    application, channel = build_application(services, build_conversation(services))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    await application.initialize()
    assert application.updater is not None
    await application.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="telegram",
        webhook_url=url,
        secret_token="s3cret-Token_1",
        drop_pending_updates=False,
    )
    await application.start()
    try:
        assert api.webhook_url == url

        def update(update_id: int, text: str) -> dict[str, object]:
            return {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "date": 1767225600,
                    "text": text,
                    "chat": {"id": 5550009, "type": "private", "first_name": "U"},
                    "from": {"id": 5550009, "is_bot": False, "first_name": "U", "language_code": "en"},
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
                },
            }

        async with httpx.AsyncClient() as http:
            missing = await http.post(url, json=update(1, "/start"))
            wrong = await http.post(url, json=update(2, "/start"), headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            right = await http.post(
                url, json=update(3, "/help"), headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            )
        assert missing.status_code == 403 and wrong.status_code == 403
        assert right.status_code == 200
        await until(lambda: channel.inbox.status(3) == "done")
        assert channel.inbox.status(1) is None and channel.inbox.status(2) is None  # never acted upon
        assert len(api.messages_to(5550009)) >= 1
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        services.db.dispose()


def test_run_always_sets_a_secret_token_in_webhook_mode(monkeypatch, tmp_path: Path) -> None:
    from telegram.ext import Application

    from bot.channels import telegram as channel_module

    seen: dict[str, object] = {}
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kwargs: seen.update(kwargs))
    monkeypatch.setattr("bot.nlu.pipeline.build_nlu", lambda _settings: KeywordNLU())
    for secret in ("", "configured-secret"):
        settings = make_settings(
            f"sqlite:///{tmp_path / 'w.db'}", tmp_path, webhook_url="https://example.org/", webhook_secret=secret
        )
        channel_module.run(settings)
        assert seen["secret_token"] and len(str(seen["secret_token"])) >= 16
        if secret:
            assert seen["secret_token"] == secret
        assert seen["drop_pending_updates"] is False


# ---------------------------------------------------------------------- HTML escaping
class HandoffNLU(KeywordNLU):
    def understand(self, text: str, **kwargs: object) -> FixedUnderstanding:
        if "person" in text.lower():
            return FixedUnderstanding(text, "en", 0.9, "human_handoff", 0.95, False, (("human_handoff", 0.95),))
        return super().understand(text, **kwargs)  # type: ignore[arg-type]


def test_user_text_is_escaped_wherever_it_is_shown(make_client) -> None:
    client = make_client(nlu=HandoffNLU(), staff_chat_id=-100777)
    onboard(client)
    sent = [client.send(HOSTILE), client.send("I need a person"), client.send(HOSTILE)]
    everything = [reply for replies in sent for reply in replies] + client.others
    for reply in everything:
        assert telegram_html_problem(reply.text) is None, reply.text
        assert "<script" not in reply.text and '<a href="http://evil"' not in reply.text
    if "handoff" in client.conversation.services.registry.features:
        relayed = [r for r in client.others if r.to is not None and r.to.staff and "alert" in r.text]
        assert relayed, "the text reached the counsellors"
        assert "&lt;script&gt;" in relayed[-1].text


# ---------------------------------------------------------------------- forged buttons
def _all_payloads(client: BotClient) -> list[str]:
    flows = client.conversation.flows
    return [step.payload(button.id) for step in flows.all_steps() for button in step.buttons]


@pytest.fixture(scope="module")
def forged_client(tmp_path_factory: pytest.TempPathFactory):
    from bot.app import build_conversation, build_services

    tmp = tmp_path_factory.mktemp("forged")
    services = build_services(
        make_settings(f"sqlite:///{tmp / 'forged.db'}", tmp, flood_messages=10**9, staff_chat_id=-100777),
        nlu=KeywordNLU(),
    )
    client = BotClient(build_conversation(services), user_id="31337")
    client.channel = "telegram"
    onboard(client)
    yield client
    services.db.dispose()


def _payloads(client: BotClient) -> st.SearchStrategy[str]:
    refs = sorted({step.ref for step in client.conversation.flows.all_steps()})
    byte_bounded = st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64)
    return st.one_of(
        byte_bounded,
        st.builds(lambda ref, choice: f"{ref}:{choice}", st.sampled_from(refs), st.text(max_size=24)),
        st.builds(lambda ref, n: f"{ref}:{n}", st.sampled_from(refs), st.integers(-(10**12), 10**12)),
        st.sampled_from(_all_payloads(client)),
    )


def test_forged_button_data_never_crashes_erases_or_changes_consent(forged_client: BotClient) -> None:
    client = forged_client

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=_payloads(client))
    def pressed(payload: str) -> None:
        client.send("/menu")
        replies = client.press(payload)
        assert replies
        for reply in replies:
            assert 1 <= len(reply.text) <= 4096
            assert telegram_html_problem(reply.text) is None, reply.text
            for row in reply.buttons:
                for button in row:
                    assert 1 <= len(button.payload.encode()) <= 64
        with client.conversation.services.db.sessions() as session:
            user = session.scalar(select(User).where(User.external_id == client.user_id))
            assert user is not None, f"{payload!r} erased the user without the confirmation question"
            assert user.consent_at is not None, f"{payload!r} changed consent without asking"

    pressed()


def test_a_forged_erase_confirmation_is_refused_even_right_after_privacy(forged_client: BotClient) -> None:
    client = forged_client
    client.send("/privacy")
    client.press("privacy.confirm_delete:erase")  # skipping the question
    assert plain(TEXTS.get("en", "errors.stale_button")) in client.text
