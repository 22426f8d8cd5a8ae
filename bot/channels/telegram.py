"""The Telegram channel: python-telegram-bot 22 around the same core as the console.

Every update goes through the inbox (`bot.inbox`) before the core sees it, and is marked done only when
its replies are out; updates interrupted by a crash are finished at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults, TypeHandler

from bot.channels.http_client import AiohttpRequest
from bot.core.engine import Conversation
from bot.core.messages import Incoming, MediaKind, Recipient, Reply, UserRef, telegram_length
from bot.core.services import Services
from bot.db.base import utcnow
from bot.inbox import Inbox
from bot.metrics import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEFERRED,
    DUPLICATE,
    FAILED,
    HANDLED,
    IGNORED,
    REFUSED,
    UNAVAILABLE,
    UNRECORDED,
    Metrics,
    outbox_backlog,
    serve,
    stop_serving,
)
from bot.settings import SERVED_LANGUAGES, Settings

log = logging.getLogger(__name__)
CHANNEL = "telegram"
SEND_ATTEMPTS = 4
MAX_CAPTION = 1024  # Telegram's limit for a media caption, after entity parsing
RETRY_UNFINISHED_SECONDS = 30
# The periodic retry leaves a handled update's unsent replies alone this long: another worker may be
# sending them right now (several webhook workers share the inbox). At start-up nothing waits.
HANDLED_GRACE = timedelta(seconds=90)
# Updates of different users are handled side by side, so that one slow chat (a hanging request, a
# retried send) does not hold up everyone else; each user's own updates stay in order (_in_order).
CONCURRENT_UPDATES = 16
# After each getUpdates that returned, wait this long before the next: under load the updates that arrive
# meanwhile come in one call instead of one call each (bench/load.py: Bot API calls per update 3.33 ->
# 2.92, the bot's CPU per update -6%). An update that arrives during the pause waits for it; a long poll
# still returns the moment an update arrives, so a family writing to an idle bot waits no longer.
POLL_INTERVAL_SECONDS = 0.02
# Database work (and the core, which runs in one transaction): where it runs.
# - With the embedded NLU: on the event loop's own thread (Database.run_on_loop).
#   - SQLite: the core then waits on nothing but a local file, SQLite takes one writer at a time and the
#     GIL lets Python run on one thread at a time, so a worker thread adds no parallelism, only hand-offs
#     (a wake-up and a GIL switch each way per call). Runs alternating with and without it
#     (bench/load.py, SQLite at capacity): 153, 158, 149 -> 183, 171, 204 updates/s; the bot's CPU per
#     update 6.4 -> 5.3 ms. A transaction holds the loop for its few milliseconds, and for as long as
#     another writer (a scheduled job) holds the lock.
#   - PostgreSQL: through asyncpg, each round trip awaited, so the loop goes on with other updates
#     meanwhile. Against four worker threads over psycopg, runs alternating (PostgreSQL at capacity):
#     108, 135, 123 -> 143, 150, 168 updates/s; the bot's CPU per update 7.4-8.2 -> 5.7-6.7 ms.
# - The Rasa backend can keep the core waiting for up to its 2 s time-out: worker threads, so the loop
#   goes on sending meanwhile. One on SQLite: several threads of one process racing for its lock sleep
#   in its busy handler with a back-off of up to 100 ms, and throughput collapsed under load. Several on
#   PostgreSQL, which locks rows, not the database.
SQLITE_DB_THREADS = 1
POSTGRES_DB_THREADS = 4
# Keep-alive connections to the Bot API for sending (PTB's own default for the bot's requests).
BOT_API_CONNECTIONS = 256
T = TypeVar("T")
# Why a tracked reply will never arrive (passed to `Registry.undelivered_hooks`).
UNDELIVERED_BLOCKED = "blocked"  # 403: the recipient blocked the bot
UNDELIVERED_REFUSED = "refused"  # Telegram refused the message for good
# "/close@aito_bot 3": a command with the username of the bot it is addressed to (groups with several bots).
ADDRESSED_COMMAND = re.compile(r"/([^\s@]*)@(\S*)")


def to_incoming(update: Update, staff_chat_id: int | None, bot_username: str | None = None) -> Incoming | None:
    """The core's view of an update, or None for updates the bot does not act on.

    In a group, `/queue@other_bot` is addressed to another bot: ignored. `/queue@our_bot` reaches the core as
    `/queue` (`bot_username`: ours; None, as before it is known, takes every address for ours)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    staff = staff_chat_id is not None and chat.id == staff_chat_id
    if not staff and chat.type != ChatType.PRIVATE:
        return None
    ref = UserRef(CHANNEL, str(user.id))
    hint = user.language_code
    query = update.callback_query
    if query is not None:
        message = query.message if isinstance(query.message, Message) else None
        return Incoming(
            ref,
            payload=query.data or "",
            language_hint=hint,
            staff_chat=staff,
            message_id=message.message_id if message else None,
            thread_id=message.message_thread_id if message else None,
        )
    message = update.message
    if message is None:
        return None
    replied = message.reply_to_message
    if replied is not None and replied.forum_topic_created is not None:
        replied = None  # in a forum topic every message "replies" to the topic's first message: no reply
    common = {
        "language_hint": hint,
        "staff_chat": staff,
        "message_id": message.message_id,
        "thread_id": message.message_thread_id if message.is_topic_message else None,
        "reply_to_message_id": replied.message_id if replied else None,
        "reply_to_bot": replied is not None and _from_us(replied, bot_username),
    }
    if message.text is not None:
        text = addressed_to_us(message.text, bot_username)
        return Incoming(ref, text=text, **common) if text is not None else None  # type: ignore[arg-type]
    kind, file_id = media_of(message)
    return Incoming(ref, media=kind, media_ref=file_id, text=message.caption, **common)  # type: ignore[arg-type]


def addressed_to_us(text: str, bot_username: str | None) -> str | None:
    """A command's text without our own `@username` ("/close@aito_bot 3" → "/close 3"), None for a command
    addressed to another bot; any other text as it is. Telegram compares usernames without case."""
    addressed = ADDRESSED_COMMAND.match(text)
    if addressed is None:
        return text
    if bot_username is not None and addressed.group(2).casefold() != bot_username.casefold():
        return None
    return f"/{addressed.group(1)}{text[addressed.end() :]}"


def _from_us(message: Message, bot_username: str | None) -> bool:
    """Whether `message` was sent by this bot (`bot_username`: ours; None, before it is known: any bot)."""
    sender = message.from_user
    if sender is None or not sender.is_bot:
        return False
    return bot_username is None or (sender.username or "").casefold() == bot_username.casefold()


def _username(bot: Bot) -> str | None:
    """Our bot's username, known once the application has initialised (getMe)."""
    try:
        return bot.username
    except RuntimeError:
        return None


def media_of(message: Message) -> tuple[MediaKind, str | None]:
    if message.sticker:
        return MediaKind.STICKER, message.sticker.file_id
    if message.photo:
        return MediaKind.PHOTO, message.photo[-1].file_id
    if message.voice:
        return MediaKind.VOICE, message.voice.file_id
    if message.audio:
        return MediaKind.AUDIO, message.audio.file_id
    if message.video or message.video_note or message.animation:
        media = message.video or message.video_note or message.animation
        return MediaKind.VIDEO, media.file_id if media else None
    if message.document:
        return MediaKind.DOCUMENT, message.document.file_id
    if message.location or message.venue:
        return MediaKind.LOCATION, None
    if message.contact:
        return MediaKind.CONTACT, None
    return MediaKind.OTHER, None


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in reply.buttons]
    )


@dataclass(frozen=True)
class Origin:
    """Where an update came from, for replies addressed to "the sender"."""

    user: UserRef
    chat_id: int
    pressed_message_id: int | None = None


def _edits_pressed(reply: Reply, origin: Origin) -> bool:
    """Whether `reply` replaces the message whose button was pressed (not some other message, e.g. a card)."""
    if not reply.edit:
        return False
    target = reply.to.edit_message_id if reply.to is not None else None
    return target is None or target == origin.pressed_message_id


def _addressed(reply: Reply, origin: Origin | None) -> Reply:
    """A reply kept for later names its recipient: the retry sends it without the original update."""
    if reply.to is not None or origin is None:
        return reply
    return replace(reply, to=Recipient(user=origin.user))


class TelegramChannel:
    def __init__(self, services: Services, conversation: Conversation) -> None:
        self.services = services
        self.conversation = conversation
        self.inbox = Inbox(services.db)
        self.staff_chat_id = services.settings.staff_chat_id
        self.in_flight: set[int] = set()
        # Updates received while the database was unreachable, in memory until they can be recorded.
        self.unrecorded: dict[int, Update] = {}
        self._user_locks: dict[int, list[Any]] = {}  # user id → [lock, updates holding or awaiting it]
        self._forum: dict[int, bool] = {}  # chat id → whether it has topics (asked once with getChat)
        self._done_waiting: set[int] = set()  # updates whose replies are out, to be marked done (_mark_done)
        self._done_lock = asyncio.Lock()
        self.metrics = Metrics()
        self.metrics.add_database_gauges(
            services.db,
            {
                "aito_outbox_backlog": ("Scheduled messages that are due and not yet sent", outbox_backlog),
                **services.registry.gauges,
            },
        )
        self._health_server: Any = None
        self._db_threads: ThreadPoolExecutor | None = None  # None: on the loop's thread (see SQLITE_DB_THREADS)
        db = services.db
        on_loop = services.settings.nlu_backend == "embedded" and (db.is_sqlite or db.loop_engine is not None)
        if not on_loop:
            threads = SQLITE_DB_THREADS if db.is_sqlite else POSTGRES_DB_THREADS
            self._db_threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="aito-db")

    async def in_db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run database work (or the core) where this database and NLU want it (SQLITE_DB_THREADS)."""
        if self._db_threads is None:
            return await self.services.db.run_on_loop(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_threads, functools.partial(fn, *args, **kwargs))

    # ------------------------------------------------------------------ receiving
    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        started = time.perf_counter()
        outcome = FAILED  # unless _receive returns: the exception goes on to on_error
        try:
            outcome = await self._receive(update, context.bot)
        finally:
            self.metrics.updates.labels(outcome).inc()
            if outcome not in (DUPLICATE, UNRECORDED):
                self.metrics.latency.observe(time.perf_counter() - started)

    @contextlib.asynccontextmanager
    async def _in_order(self, update: Update) -> AsyncIterator[None]:
        """Updates are handled concurrently (CONCURRENT_UPDATES), but one user's strictly one after another.

        PTB starts the handling of updates in the order it fetched them, and each reaches this lock before
        its first pause; asyncio locks serve waiters first come, first served.
        """
        user = update.effective_user
        chat = update.effective_chat
        key = user.id if user is not None else chat.id if chat is not None else 0
        entry = self._user_locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._user_locks[key]

    async def _receive(self, update: Update, bot: Bot) -> str:
        """Record the update, then act on it; returns the outcome (a label of aito_updates_total)."""
        update_id = update.update_id
        async with self._in_order(update):  # taken before the first pause: see _in_order
            try:
                fresh = await self.in_db(self.inbox.record, update_id, update.to_dict())
            except SQLAlchemyError as error:
                # The database is away. Telegram will not send this update again (polling has acknowledged
                # it), so it waits here until the database is back (finish_unfinished records it then).
                self.unrecorded[update_id] = update
                log.warning("update %d not recorded (%s); it waits for a retry", update_id, type(error).__name__)
                return UNRECORDED
            if not fresh:
                log.info("update %d delivered again; already recorded", update_id)
                return DUPLICATE
            self.in_flight.add(update_id)
            try:
                unsent = await self._handle(update, bot)
            except BaseException:
                self.in_flight.discard(update_id)
                raise
        try:
            return await self._finish(update_id, unsent)
        finally:
            self.in_flight.discard(update_id)

    async def _handle(self, update: Update, bot: Bot) -> list[Reply] | None:
        """The core's replies, sent; returns those still to send, or None for an update the bot ignores."""
        answered: asyncio.Task[None] | None = None
        try:
            incoming = to_incoming(update, self.staff_chat_id, _username(bot))
            if update.callback_query is not None:
                # Answered while the core works (it only stops the button's spinner), not before it.
                answered = asyncio.create_task(self._answer_callback(update))
            if incoming is None:
                return None
            incoming = replace(incoming, idempotency_key=update.update_id)
            replies = await self.in_db(self.conversation.handle, incoming)
            chat = update.effective_chat
            assert chat is not None  # to_incoming returned None otherwise
            origin = Origin(incoming.user, chat.id, incoming.message_id if incoming.payload is not None else None)
            return await self.deliver(bot, origin, replies)
        finally:
            if answered is not None:
                await answered

    async def _finish(self, update_id: int, unsent: list[Reply] | None) -> str:
        """Done when every reply is out; otherwise only the unsent ones stay for the retry (no resends).

        Runs after the user's turn has ended: the next update of the same user need not wait for it.
        """
        if unsent:
            await self.in_db(self.inbox.keep_unsent, update_id, unsent)
            return DEFERRED
        await self._mark_done(update_id)
        return IGNORED if unsent is None else HANDLED

    async def _mark_done(self, update_id: int) -> None:
        """Group commit: updates that finish together, or while a batch is being written, go in one.

        Under load one transaction marks dozens of updates; alone, an update is marked at once as before.
        """
        self._done_waiting.add(update_id)
        # One turn of the loop for the others finishing now to join: on SQLite the write below does not
        # pause (it runs on the loop's thread), so nothing could join while it runs.
        await asyncio.sleep(0)
        async with self._done_lock:
            if update_id not in self._done_waiting:
                return  # the batch just written carried it
            batch = sorted(self._done_waiting)
            self._done_waiting.clear()
            try:
                await self.in_db(self.inbox.mark_done, *batch)
            except BaseException:
                self._done_waiting.update(batch)  # still to do: the next in line tries them again
                raise

    async def _answer_callback(self, update: Update) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()
        except TelegramError as error:  # an old query cannot be answered; the press is still handled
            log.info("callback answer failed: %s", type(error).__name__)

    async def finish_unfinished(self, bot: Bot, *, grace: timedelta = timedelta(0)) -> None:
        """Finish updates that a crash (or a database outage) interrupted.

        `grace`: replies of updates handled less than this long ago are left to whoever is sending them.
        """
        for update_id, waiting in sorted(self.unrecorded.items()):
            try:
                await self.in_db(self.inbox.record, update_id, waiting.to_dict())
            except SQLAlchemyError:
                return  # still away: the next round tries again
            del self.unrecorded[update_id]  # recorded: handled below like any interrupted update
        for update_id, status, payload, replies in await self.in_db(self.inbox.unfinished, utcnow() - grace):
            if update_id in self.in_flight:
                continue
            self.in_flight.add(update_id)  # from here on, nothing else starts it
            outcome = FAILED
            try:
                # The list was read before the earlier ones were finished; meanwhile this update's own
                # handler may have finished it (sending its replies now would repeat them): look again.
                if await self.in_db(self.inbox.status, update_id) != status:
                    continue
                if status == "received" and payload is not None:
                    update = Update.de_json(payload, bot)
                    async with self._in_order(update):
                        unsent = await self._handle(update, bot)
                    outcome = await self._finish(update_id, unsent)
                elif status == "handled":
                    outcome = await self._finish(update_id, await self.deliver(bot, None, replies))
                else:
                    continue
            except Exception as error:  # keep going: one bad update must not block the others
                log.warning("could not finish update %d: %s", update_id, type(error).__name__)
            finally:
                self.in_flight.discard(update_id)
            self.metrics.updates.labels(outcome).inc()

    # ------------------------------------------------------------------ sending
    def chat_for(self, reply: Reply, origin: Origin | None) -> tuple[int | None, UserRef | None]:
        if reply.to is None:
            return (origin.chat_id, origin.user) if origin else (None, None)
        if reply.to.staff:
            return self.staff_chat_id, None
        if reply.to.user is not None and reply.to.user.channel == CHANNEL:
            return int(reply.to.user.external_id), reply.to.user
        return None, None

    async def deliver(self, bot: Bot, origin: Origin | None, replies: list[Reply]) -> list[Reply]:
        """Send the replies; returns those that could not be sent yet (Telegram unreachable), to retry.

        Errors are per recipient: a counsellor who never opened the bot (400 chat not found) or a family
        who blocked it (403) loses only their own replies, everyone else's still go out, and nothing is
        sent twice. A chat that fails is skipped for the rest of the update, so its messages keep their order.
        """
        if (
            origin is not None
            and origin.pressed_message_id is not None
            and not any(_edits_pressed(r, origin) for r in replies)
        ):
            # The pressed message's buttons are spent: remove them so that they cannot be pressed twice.
            await self._quietly(
                bot.edit_message_reply_markup(origin.chat_id, origin.pressed_message_id, reply_markup=None)
            )
        dropped: dict[int, str] = {}  # chats that will never take this update's messages, and why
        waiting: set[int] = set()  # chats that cannot be reached now: their messages wait for the retry
        unsent: list[Reply] = []
        lost: list[tuple[str, str]] = []  # (track, why) of tracked replies that will never arrive
        for reply in replies:
            chat_id, user = self.chat_for(reply, origin)
            if chat_id is None:
                continue
            if chat_id in dropped:
                if reply.track:
                    lost.append((reply.track, dropped[chat_id]))
                continue
            if chat_id in waiting:
                unsent.append(_addressed(reply, origin))
                continue
            try:
                # A new forum topic is made once per reply, outside the send retries (no duplicate topics).
                new_thread = await self._new_topic(bot, chat_id, reply.to.new_topic) if reply.to else None
                message_ids = await self._send_one(bot, chat_id, reply, origin, new_thread)
            except Forbidden:
                dropped[chat_id] = UNDELIVERED_BLOCKED
                self.metrics.delivery_errors.labels(BLOCKED).inc()
                log.info("a recipient has blocked the bot (or never started it); their messages are paused")
                if user is not None:
                    await self.in_db(self.conversation.user_blocked, user)
                if reply.track:
                    lost.append((reply.track, UNDELIVERED_BLOCKED))
                continue
            except BadRequest as error:
                # Permanent for this message: sending it again would fail again.
                dropped[chat_id] = UNDELIVERED_REFUSED
                reason = CHAT_NOT_FOUND if "chat not found" in str(error).lower() else REFUSED
                self.metrics.delivery_errors.labels(reason).inc()
                log.warning("a reply was refused by Telegram (%s)", reason)
                if reply.track:
                    lost.append((reply.track, UNDELIVERED_REFUSED))
                continue
            except (TimedOut, NetworkError, RetryAfter) as error:
                waiting.add(chat_id)
                unsent.append(_addressed(reply, origin))
                self.metrics.delivery_errors.labels(UNAVAILABLE).inc()
                log.warning("a reply could not be sent now (%s); the retry sends it", type(error).__name__)
                continue
            except TelegramError as error:  # e.g. a group that became a supergroup: nothing to resend
                dropped[chat_id] = UNDELIVERED_REFUSED
                self.metrics.delivery_errors.labels(REFUSED).inc()
                log.warning("a reply was refused by Telegram (%s)", type(error).__name__)
                if reply.track:
                    lost.append((reply.track, UNDELIVERED_REFUSED))
                continue
            self.metrics.replies.inc()
            hook = self.services.registry.sent_hooks.get(reply.track.split(":", 1)[0]) if reply.track else None
            if hook is not None:
                # Every message the reply became (media and the text after it, a card sent anew) is reported.
                for message_id in message_ids:
                    if new_thread is not None:
                        await self.in_db(hook, reply.track, chat_id, message_id, thread_id=new_thread)
                    else:
                        await self.in_db(hook, reply.track, chat_id, message_id)
        if lost:
            unsent += await self.deliver(bot, None, await self._instead_of_lost(lost))
        return unsent

    async def _instead_of_lost(self, lost: list[tuple[str, str]]) -> list[Reply]:
        """What the features send about replies that will never arrive (a counsellor's message to a family who
        blocked the bot: the staff group is told). Once per track: the parts of one message share it."""
        instead: list[Reply] = []
        for track, why in dict.fromkeys(lost):
            hook = self.services.registry.undelivered_hooks.get(track.split(":", 1)[0])
            if hook is not None:
                instead += await self.in_db(hook, track, why)
        return instead

    async def _new_topic(self, bot: Bot, chat_id: int, name: str | None) -> int | None:
        """Open a forum topic named `name` where the chat has topics; None elsewhere (or if that fails)."""
        if not name:
            return None
        if chat_id not in self._forum:
            try:
                chat = await bot.get_chat(chat_id)
            except Exception as error:  # whatever went wrong, the ticket card must still reach the group
                log.warning("could not ask whether the staff group has topics: %s", type(error).__name__)
                return None
            self._forum[chat_id] = bool(getattr(chat, "is_forum", False))
        if not self._forum[chat_id]:
            return None
        try:
            topic = await bot.create_forum_topic(chat_id, name)
        except TelegramError as error:  # e.g. the bot may not manage topics: post in the group instead
            log.warning("could not open a forum topic: %s", type(error).__name__)
            return None
        return topic.message_thread_id

    async def _send_one(
        self, bot: Bot, chat_id: int, reply: Reply, origin: Origin | None, thread: int | None = None
    ) -> list[int]:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await self._send_once(bot, chat_id, reply, origin, thread)
            except RetryAfter as error:
                if attempt == SEND_ATTEMPTS:
                    raise  # still throttled: the caller keeps the reply for the retry (it was not sent)
                wait = error.retry_after
                await asyncio.sleep(wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait))
            except (TimedOut, NetworkError) as error:
                if isinstance(error, BadRequest) or attempt == SEND_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send_once(
        self, bot: Bot, chat_id: int, reply: Reply, origin: Origin | None, new_thread: int | None = None
    ) -> list[int]:
        """Send (or edit) one reply; returns the ids of the messages it became (media, then a long text)."""
        markup = keyboard(reply)
        thread = new_thread if new_thread is not None else (reply.to.thread_id if reply.to else None)
        reply_to = (
            ReplyParameters(reply.to.reply_to, allow_sending_without_reply=True)
            if reply.to and reply.to.reply_to and new_thread is None
            else None
        )
        # An edit replaces the message it names (`Recipient.edit_message_id`: a ticket card whose state
        # changed), else the pressed message, which must then be in this chat (a crash replay sends anew).
        target = reply.to.edit_message_id if reply.to is not None else None
        if target is None and origin is not None and chat_id == origin.chat_id:
            target = origin.pressed_message_id
        if reply.edit and target is not None:
            try:
                edited = await bot.edit_message_text(
                    reply.text, chat_id=chat_id, message_id=target, reply_markup=markup
                )
                return [edited.message_id if isinstance(edited, Message) else target]
            except BadRequest as error:
                if "not modified" in str(error).lower():
                    return [target]
                # Too old to edit, or deleted: fall through and send it as a new message.
        if reply.attachment is not None:
            document = InputFile(reply.attachment.content, filename=reply.attachment.filename)
            await bot.send_document(chat_id, document, message_thread_id=thread)
        if reply.media is not None:
            return await self._send_media(bot, chat_id, reply, thread, reply_to, markup)
        sent = await bot.send_message(
            chat_id, reply.text, reply_markup=markup, message_thread_id=thread, reply_parameters=reply_to
        )
        return [sent.message_id]

    async def _send_media(
        self,
        bot: Bot,
        chat_id: int,
        reply: Reply,
        thread: int | None,
        reply_to: ReplyParameters | None,
        markup: InlineKeyboardMarkup | None,
    ) -> list[int]:
        """Send media again by its file id (relayed between a family and a counsellor), `text` as caption."""
        assert reply.media is not None
        kind, file_id = reply.media
        long_text = telegram_length(reply.text) > MAX_CAPTION
        caption = None if long_text or not reply.text else reply.text
        common: dict[str, Any] = {"message_thread_id": thread, "reply_parameters": reply_to}
        if not long_text:
            common["reply_markup"] = markup
        if kind == MediaKind.PHOTO:
            sent = await bot.send_photo(chat_id, file_id, caption=caption, **common)
        elif kind == MediaKind.VOICE:
            sent = await bot.send_voice(chat_id, file_id, caption=caption, **common)
        elif kind == MediaKind.AUDIO:
            sent = await bot.send_audio(chat_id, file_id, caption=caption, **common)
        elif kind == MediaKind.VIDEO:
            sent = await bot.send_video(chat_id, file_id, caption=caption, **common)
        elif kind == MediaKind.STICKER:
            sent = await bot.send_sticker(chat_id, file_id, message_thread_id=thread, reply_parameters=reply_to)
            caption = None
            long_text = bool(reply.text)
        else:
            sent = await bot.send_document(chat_id, file_id, caption=caption, **common)
        if long_text:  # captions are limited to 1024 characters: the text follows as its own message
            text = await bot.send_message(
                chat_id,
                reply.text,
                reply_markup=markup,
                message_thread_id=thread,
                reply_parameters=ReplyParameters(sent.message_id, allow_sending_without_reply=True),
            )
            return [sent.message_id, text.message_id]
        return [sent.message_id]

    async def _quietly(self, call: object) -> None:
        try:
            await call  # type: ignore[misc]
        except TelegramError as error:
            log.debug("ignored: %s", type(error).__name__)

    # ------------------------------------------------------------------ errors and set-up
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """One error handler: a kind word to the user, a log line without personal data for us."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed: %s", update_id, type(error).__name__, exc_info=error)
        if not isinstance(update, Update) or update.effective_chat is None or update.effective_user is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE:
            return
        sender = UserRef(CHANNEL, str(update.effective_user.id))
        language = await self.in_db(self.conversation.stored_language, sender) or update.effective_user.language_code
        text = self.services.texts.get(language if language in SERVED_LANGUAGES else "en", "errors.technical")
        await self._quietly(context.bot.send_message(update.effective_chat.id, text))

    async def register_commands(self, bot: Bot) -> None:
        """The command menu in each served language (Telegram shows the user's own)."""
        names = self.services.registry.menu_commands
        for language in (None, *SERVED_LANGUAGES):
            commands = [
                BotCommand(name, self.services.texts.get(language or "en", f"commands.{name}")) for name in names
            ]
            await self._quietly(bot.set_my_commands(commands, language_code=language))

    async def post_init(self, application: Application) -> None:  # type: ignore[type-arg]
        self.start_health_server()
        await self.register_commands(application.bot)
        await self.finish_unfinished(application.bot)
        if application.job_queue is not None:
            application.job_queue.run_repeating(
                self._retry_job, interval=RETRY_UNFINISHED_SECONDS, first=RETRY_UNFINISHED_SECONDS, name="inbox-retry"
            )
        # What start-up built (the NLU's models above all, some 100,000 objects) lives as long as the bot.
        # Left to the collector, each full collection walks all of it: tens of milliseconds during which no
        # update moves. Frozen, the collections see only what updates create.
        gc.collect()
        gc.freeze()

    async def post_shutdown(self, _application: Application) -> None:  # type: ignore[type-arg]
        gc.unfreeze()
        await self.stop_health_server()
        if self._db_threads is not None:
            self._db_threads.shutdown(wait=True)
        await self.services.db.close_on_loop()

    def start_health_server(self) -> None:
        """/healthz and /metrics on HEALTH_PORT, on this (the bot's) asyncio loop, in polling and webhook mode."""
        port = self.services.settings.health_port
        if not port or self._health_server is not None:
            return
        leadership = self.services.leadership
        self._health_server = serve(self.metrics, self.services.db, port, leader=lambda: leadership.is_leader)
        log.info("health and metrics on port %d", port)

    async def stop_health_server(self) -> None:
        if self._health_server is not None:
            await stop_serving(self._health_server)
            self._health_server = None

    async def _retry_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.finish_unfinished(context.bot, grace=HANDLED_GRACE)


def build_application(services: Services, conversation: Conversation) -> tuple[Application, TelegramChannel]:  # type: ignore[type-arg]
    """The PTB Application with the one handler that feeds the core."""
    settings = services.settings
    channel = TelegramChannel(services, conversation)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .rate_limiter(AIORateLimiter(overall_max_rate=settings.send_messages_per_second, max_retries=3))
        .request(AiohttpRequest(connection_pool_size=BOT_API_CONNECTIONS))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.timezone)))
        .post_init(channel.post_init)
        .post_shutdown(channel.post_shutdown)
        .concurrent_updates(CONCURRENT_UPDATES)
    )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url).base_file_url(
            settings.telegram_api_base_url.removesuffix("/bot") + "/file/bot"
        )
    application = builder.build()
    application.add_handler(TypeHandler(Update, channel.on_update))
    application.add_error_handler(channel.on_error)
    for hook in services.registry.telegram_hooks:
        hook(application, channel)
    return application, channel


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, else one derived from the token: every worker calls setWebhook at start, so they
    must all present the same secret (a random one each would leave all but the last refusing Telegram)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    return hashlib.sha256(b"aito-bot webhook secret:" + settings.telegram_bot_token.encode()).hexdigest()


def run(settings: Settings) -> None:
    from bot.app import build_conversation, build_services

    services = build_services(settings)
    application, _channel = build_application(services, build_conversation(services))
    if settings.webhook_url:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url.rstrip("/") + "/telegram",
            secret_token=webhook_secret(settings),
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )
    else:
        application.run_polling(
            allowed_updates=Update.ALL_TYPES, drop_pending_updates=False, poll_interval=POLL_INTERVAL_SECONDS
        )
