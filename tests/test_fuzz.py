"""Fuzzing the core with the real NLU: whatever a family sends, they get a valid answer and nothing breaks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.messages import Incoming, MediaKind, UserRef
from bot.settings import Settings
from tests.client import BotClient
from tests.conftest import make_settings
from tests.html_check import telegram_html_problem

MARKS = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\ufeff",
    "\u061c",
]
RTL_WORDS = ["مرحبا", "أريد موعد", "شكرا", "שלום", "سلام", "مساعدة", "١٢٣"]
EMOJI = ["😀", "🙏", "👨‍👩‍👧‍👦", "🇫🇮", "❤️", "🆘", "👍🏽", "🫶"]

any_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400)
marked = st.lists(st.one_of(st.sampled_from(MARKS), st.sampled_from(RTL_WORDS), st.text(max_size=8)), max_size=30).map(
    "".join
)
emoji_only = st.lists(st.sampled_from(EMOJI), min_size=1, max_size=60).map("".join)
long_text = st.integers(4000, 10_000).flatmap(
    lambda n: st.sampled_from(["a", "ä", "م", "😀", "I need help ", "\u200f"]).map(lambda s: (s * n)[:n])
)
commands = st.builds(lambda name, rest: f"/{name} {rest}", st.text(max_size=20), any_text)
messages = st.one_of(any_text, marked, emoji_only, long_text, commands, st.sampled_from(["", " ", "\n\n", "/"]))


@pytest.fixture(scope="module")
def fuzz_conversation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The core with the real embedded NLU (trained once for the module)."""
    from bot.app import build_conversation, build_services

    tmp = tmp_path_factory.mktemp("fuzz")
    # The default cache directory: the NLU trained here is the one `python -m bot` subprocesses use too.
    settings_ = make_settings(
        f"sqlite:///{tmp / 'fuzz.db'}", tmp, flood_messages=10**9, staff_chat_id=-100555, cache_dir=Settings().cache_dir
    )
    services = build_services(settings_)
    yield build_conversation(services)
    services.db.dispose()


def _check(replies: list, *, staff: bool = False) -> None:
    assert staff or replies, "the core must always answer"
    for reply in replies:
        assert 1 <= len(reply.text) <= 4096
        assert telegram_html_problem(reply.text) is None, reply.text[:300]
        for row in reply.buttons:
            for button in row:
                assert button.label and 1 <= len(button.payload.encode()) <= 64


def test_random_messages_always_get_a_valid_reply(fuzz_conversation) -> None:
    conversation = fuzz_conversation
    onboarded = BotClient(conversation, user_id="fuzz-onboarded")  # type: ignore[arg-type]
    onboarded.send("/start")
    onboarded.click("العربية")
    onboarded.click("✅")
    fresh_ids = itertools.count(1)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=messages, who=st.sampled_from(["onboarded", "fresh"]), hint=st.sampled_from([None, "ar", "fi", "xx"]))
    @example(text="x" * 10_000, who="onboarded", hint=None)
    @example(text="", who="fresh", hint=None)
    @example(text="\u200f\u200e\u202e\u2066\u200b", who="onboarded", hint="ar")
    @example(text="😀" * 2000, who="onboarded", hint=None)
    def handled(text: str, who: str, hint: str | None) -> None:
        user = UserRef("test", "fuzz-onboarded" if who == "onboarded" else f"fuzz-{next(fresh_ids)}")
        _check(conversation.handle(Incoming(user, text=text, language_hint=hint)))

    handled()


def test_random_media_and_captions_always_get_a_valid_reply(fuzz_conversation) -> None:
    conversation = fuzz_conversation

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(list(MediaKind)), caption=st.one_of(st.none(), any_text))
    def handled(kind: MediaKind, caption: str | None) -> None:
        user = UserRef("test", "fuzz-media")
        _check(conversation.handle(Incoming(user, media=kind, text=caption, media_ref="file-id")))

    handled()


def test_random_button_data_always_gets_a_valid_reply(fuzz_conversation) -> None:
    conversation = fuzz_conversation
    refs = sorted({step.ref for step in conversation.flows.all_steps()})  # type: ignore[attr-defined]
    payloads = st.one_of(
        st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64),
        st.builds(lambda ref, choice: f"{ref}:{choice}"[:64], st.sampled_from(refs), any_text),
    )

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=payloads, who=st.sampled_from(["fuzz-onboarded", "fuzz-buttons"]))
    def pressed(payload: str, who: str) -> None:
        _check(conversation.handle(Incoming(UserRef("test", who), payload=payload)))

    pressed()


def test_the_staff_group_may_stay_silent_but_never_crashes(fuzz_conversation) -> None:
    conversation = fuzz_conversation

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=messages)
    def handled(text: str) -> None:
        user = UserRef("telegram", "4999999")  # not a listed counsellor
        _check(conversation.handle(Incoming(user, text=text, staff_chat=True)), staff=True)

    handled()
