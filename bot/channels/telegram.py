"""The Telegram channel: python-telegram-bot 22 around the same core as the console.

Every update goes through the inbox (`bot.inbox`) before the core sees it, and is marked done only when
its replies are out; updates interrupted by a crash are finished at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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

from bot.core.engine import Conversation
from bot.core.messages import Incoming, MediaKind, Reply, UserRef
from bot.core.services import Services
from bot.inbox import Inbox
from bot.settings import SERVED_LANGUAGES, Settings

log = logging.getLogger(__name__)
CHANNEL = "telegram"
SEND_ATTEMPTS = 4
RETRY_UNFINISHED_SECONDS = 30


def to_incoming(update: Update, staff_chat_id: int | None) -> Incoming | None:
    """The core's view of an update, or None for updates the bot does not act on."""
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
    common = {
        "language_hint": hint,
        "staff_chat": staff,
        "message_id": message.message_id,
        "thread_id": message.message_thread_id if message.is_topic_message else None,
        "reply_to_message_id": message.reply_to_message.message_id if message.reply_to_message else None,
    }
    if message.text is not None:
        return Incoming(ref, text=message.text, **common)  # type: ignore[arg-type]
    kind, file_id = media_of(message)
    return Incoming(ref, media=kind, media_ref=file_id, text=message.caption, **common)  # type: ignore[arg-type]


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


class TelegramChannel:
    def __init__(self, services: Services, conversation: Conversation) -> None:
        self.services = services
        self.conversation = conversation
        self.inbox = Inbox(services.db)
        self.staff_chat_id = services.settings.staff_chat_id
        self.in_flight: set[int] = set()

    # ------------------------------------------------------------------ receiving
    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        fresh = await asyncio.to_thread(self.inbox.record, update.update_id, update.to_dict())
        if not fresh:
            log.info("update %d delivered again; already recorded", update.update_id)
            return
        await self.process(update, context.bot)

    async def process(self, update: Update, bot: Bot) -> None:
        self.in_flight.add(update.update_id)
        try:
            incoming = to_incoming(update, self.staff_chat_id)
            if update.callback_query is not None:
                await self._answer_callback(update)
            if incoming is None:
                await asyncio.to_thread(self.inbox.mark_done, update.update_id)
                return
            incoming = Incoming(**{**incoming.__dict__, "idempotency_key": update.update_id})
            replies = await asyncio.to_thread(self.conversation.handle, incoming)
            chat = update.effective_chat
            assert chat is not None  # to_incoming returned None otherwise
            origin = Origin(incoming.user, chat.id, incoming.message_id if incoming.payload is not None else None)
            await self.deliver(bot, origin, replies)
            await asyncio.to_thread(self.inbox.mark_done, update.update_id)
        finally:
            self.in_flight.discard(update.update_id)

    async def _answer_callback(self, update: Update) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()
        except TelegramError as error:  # an old query cannot be answered; the press is still handled
            log.info("callback answer failed: %s", type(error).__name__)

    async def finish_unfinished(self, bot: Bot) -> None:
        """Finish updates that a crash (or a database outage) interrupted."""
        for update_id, status, payload, replies in await asyncio.to_thread(self.inbox.unfinished):
            if update_id in self.in_flight:
                continue
            try:
                if status == "received" and payload is not None:
                    update = Update.de_json(payload, bot)
                    await self.process(update, bot)
                elif status == "handled":
                    await self.deliver(bot, None, replies)
                    await asyncio.to_thread(self.inbox.mark_done, update_id)
            except Exception as error:  # keep going: one bad update must not block the others
                log.warning("could not finish update %d: %s", update_id, type(error).__name__)

    # ------------------------------------------------------------------ sending
    def chat_for(self, reply: Reply, origin: Origin | None) -> tuple[int | None, UserRef | None]:
        if reply.to is None:
            return (origin.chat_id, origin.user) if origin else (None, None)
        if reply.to.staff:
            return self.staff_chat_id, None
        if reply.to.user is not None and reply.to.user.channel == CHANNEL:
            return int(reply.to.user.external_id), reply.to.user
        return None, None

    async def deliver(self, bot: Bot, origin: Origin | None, replies: list[Reply]) -> None:
        if origin is not None and origin.pressed_message_id is not None and not any(r.edit for r in replies):
            # The pressed message's buttons are spent: remove them so that they cannot be pressed twice.
            await self._quietly(
                bot.edit_message_reply_markup(origin.chat_id, origin.pressed_message_id, reply_markup=None)
            )
        blocked: set[int] = set()
        for reply in replies:
            chat_id, user = self.chat_for(reply, origin)
            if chat_id is None or chat_id in blocked:
                continue
            try:
                message_id = await self._send_one(bot, chat_id, reply, origin)
            except Forbidden:
                blocked.add(chat_id)
                if user is not None:
                    await asyncio.to_thread(self.conversation.user_blocked, user)
                log.info("a user has blocked the bot; their messages are paused")
                continue
            if reply.track and message_id is not None:
                hook = self.services.registry.sent_hooks.get(reply.track.split(":", 1)[0])
                if hook is not None:
                    await asyncio.to_thread(hook, reply.track, chat_id, message_id)

    async def _send_one(self, bot: Bot, chat_id: int, reply: Reply, origin: Origin | None) -> int | None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await self._send_once(bot, chat_id, reply, origin)
            except RetryAfter as error:
                wait = error.retry_after
                await asyncio.sleep(wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait))
            except (TimedOut, NetworkError) as error:
                if isinstance(error, BadRequest) or attempt == SEND_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)
        return None

    async def _send_once(self, bot: Bot, chat_id: int, reply: Reply, origin: Origin | None) -> int | None:
        markup = keyboard(reply)
        thread = reply.to.thread_id if reply.to else None
        reply_to = (
            ReplyParameters(reply.to.reply_to, allow_sending_without_reply=True)
            if reply.to and reply.to.reply_to
            else None
        )
        if reply.edit and origin is not None and origin.pressed_message_id is not None and reply.to is None:
            try:
                edited = await bot.edit_message_text(
                    reply.text, chat_id=chat_id, message_id=origin.pressed_message_id, reply_markup=markup
                )
                return edited.message_id if isinstance(edited, Message) else origin.pressed_message_id
            except BadRequest as error:
                if "not modified" in str(error).lower():
                    return origin.pressed_message_id
                # Too old to edit, or deleted: fall through and send it as a new message.
        if reply.attachment is not None:
            document = InputFile(reply.attachment.content, filename=reply.attachment.filename)
            await bot.send_document(chat_id, document, message_thread_id=thread)
        sent = await bot.send_message(
            chat_id, reply.text, reply_markup=markup, message_thread_id=thread, reply_parameters=reply_to
        )
        return sent.message_id

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
        language = (
            await asyncio.to_thread(self._language_of, update.effective_user.id) or update.effective_user.language_code
        )
        text = self.services.texts.get(language if language in SERVED_LANGUAGES else "en", "errors.technical")
        await self._quietly(context.bot.send_message(update.effective_chat.id, text))

    def _language_of(self, telegram_id: int) -> str | None:
        from sqlalchemy import select

        from bot.db.models import User

        with self.services.db.sessions() as session:
            return session.scalar(
                select(User.language).where(User.channel == CHANNEL, User.external_id == str(telegram_id))
            )

    async def register_commands(self, bot: Bot) -> None:
        """The command menu in each served language (Telegram shows the user's own)."""
        names = self.services.registry.menu_commands
        for language in (None, *SERVED_LANGUAGES):
            commands = [
                BotCommand(name, self.services.texts.get(language or "en", f"commands.{name}")) for name in names
            ]
            await self._quietly(bot.set_my_commands(commands, language_code=language))

    async def post_init(self, application: Application) -> None:  # type: ignore[type-arg]
        await self.register_commands(application.bot)
        await self.finish_unfinished(application.bot)
        if application.job_queue is not None:
            application.job_queue.run_repeating(
                self._retry_job, interval=RETRY_UNFINISHED_SECONDS, first=RETRY_UNFINISHED_SECONDS, name="inbox-retry"
            )

    async def _retry_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.finish_unfinished(context.bot)


def build_application(services: Services, conversation: Conversation) -> tuple[Application, TelegramChannel]:  # type: ignore[type-arg]
    """The PTB Application with the one handler that feeds the core."""
    settings = services.settings
    channel = TelegramChannel(services, conversation)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.timezone)))
        .post_init(channel.post_init)
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
            secret_token=settings.webhook_secret or secrets.token_urlsafe(32),
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
