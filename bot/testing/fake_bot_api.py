"""A small Telegram Bot API server on 127.0.0.1, for running the real python-telegram-bot code offline.

It keeps chats in memory, serves `getUpdates` long polling, records what the bot sends, and can be told
to misbehave (429, 500, 403 for a chat that blocked the bot, a global messages-per-second limit).
Unknown methods get 400 (python-telegram-bot maps 404 to an invalid token).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornado.httputil import HTTPServerRequest
from tornado.web import Application, RequestHandler

from bot.core.messages import telegram_length

BOT_USER = {"id": 777000111, "is_bot": True, "first_name": "Aito", "username": "aito_test_bot"}
RAW_STRING_FIELDS = {"text", "caption", "callback_query_id", "name", "description", "secret_token", "url", "query"}


@dataclass
class Sent:
    """A message the bot sent or edited."""

    method: str
    chat_id: int
    message_id: int
    text: str
    buttons: list[list[dict[str, Any]]]
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def button_labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    def payload_of(self, label_part: str) -> str:
        for row in self.buttons:
            for button in row:
                if label_part in button["text"]:
                    return str(button["callback_data"])
        raise KeyError(f"no button with {label_part!r} in {self.button_labels}")


@dataclass
class Fault:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None


class FakeBotApi:
    def __init__(self, *, messages_per_second: float | None = None) -> None:
        self.updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self.answered_callbacks: list[str] = []
        self.blocked_chats: set[int] = set()
        self.faults: list[Fault] = []
        self.messages_per_second = messages_per_second
        self._window: deque[float] = deque()
        self.rate_limited = 0
        self.webhook_url = ""
        self.forum_topics: list[dict[str, Any]] = []
        self.forum_chats: set[int] = set()  # group chats that have topics (getChat reports is_forum)
        self.changed = asyncio.Condition()
        self.port = 0
        self._server: Any = None
        self._forum_ids = itertools.count(100)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); returns the base URL for TELEGRAM_API_BASE_URL."""
        app = Application([(r"/bot(?P<token>[^/]+)/(?P<method>\w+)", _Handler, {"api": self})])
        self._server = app.listen(0, address="127.0.0.1")
        self.port = next(iter(self._server._sockets.values())).getsockname()[1]
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()

    # ------------------------------------------------------------------ what users do
    def _user(self, user_id: int, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def _message(self, user_id: int, chat_id: int | None, language_code: str | None, **content: Any) -> dict[str, Any]:
        chat_id = chat_id if chat_id is not None else user_id
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        if chat_id > 0:
            chat["first_name"] = f"User{user_id}"
        else:
            chat["title"] = "Staff"
        return {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id, language_code),
            **content,
        }

    async def push(self, update: dict[str, Any]) -> dict[str, Any]:
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        self.updates.append(update)
        async with self.changed:
            self.changed.notify_all()
        return update

    async def user_says(
        self, user_id: int, text: str, *, language_code: str | None = "en", chat_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text, **extra}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.push({"message": self._message(user_id, chat_id, language_code, **content)})

    async def user_sends(
        self,
        user_id: int,
        content: dict[str, Any],
        *,
        language_code: str | None = "en",
        chat_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Media and other non-text messages: `content` is e.g. {"sticker": {...}}."""
        return await self.push({"message": self._message(user_id, chat_id, language_code, **content, **extra)})

    def reply_to(self, message: Sent) -> dict[str, Any]:
        """The `reply_to_message` of a user's reply to `message` (pass it as an extra to `user_says`/`user_sends`)."""
        chat = {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "supergroup"}
        return {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "text": message.text,
        }

    async def user_presses(
        self, user_id: int, message: Sent, label_part: str, *, language_code: str | None = "en", data: str | None = None
    ) -> dict[str, Any]:
        callback_data = data if data is not None else message.payload_of(label_part)
        query: dict[str, Any] = {
            "id": str(next(self._update_ids) * 7919),
            "from": self._user(user_id, language_code),
            "chat_instance": str(message.chat_id),
            "data": callback_data,
            "message": {
                "message_id": message.message_id,
                "date": int(time.time()),
                "chat": {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "supergroup"},
                "from": BOT_USER,
                "text": message.text,
            },
        }
        if message.params.get("message_thread_id"):  # a button on a message in a forum topic
            query["message"]["message_thread_id"] = _int(message.params["message_thread_id"])
            query["message"]["is_topic_message"] = True
        return await self.push({"callback_query": query})

    # ------------------------------------------------------------------ what tests wait for
    def messages_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked whenever the bot calls the server)."""
        deadline = time.monotonic() + timeout
        async with self.changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        "condition not met; last messages: " + repr([s.text[:60] for s in self.sent[-5:]])
                    )
                try:
                    await asyncio.wait_for(self.changed.wait(), remaining)
                except TimeoutError:
                    pass

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Sent]:
        await self.wait_for(lambda: len(self.messages_to(chat_id)) >= count, timeout)
        return self.messages_to(chat_id)

    async def wait_until_consumed(self, timeout: float = 10.0) -> None:
        """Until the bot has fetched every pushed update (its offset passed them)."""
        await self.wait_for(lambda: not self._pending_for_offset(), timeout)

    def _pending_for_offset(self) -> list[dict[str, Any]]:
        return [u for u in self.updates if u["update_id"] >= getattr(self, "_offset", 0)]

    # ------------------------------------------------------------------ the API
    async def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, params))
        for fault in list(self.faults):
            if fault.method == method and (fault.chat_id is None or fault.chat_id == _int(params.get("chat_id"))):
                self.faults.remove(fault)
                body: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": fault.description}
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                return fault.status, body
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: method {method} not found"}
        try:
            result = await handler(params)
        except _ApiError as error:
            return error.status, error.body
        finally:
            async with self.changed:
                self.changed.notify_all()
        return 200, {"ok": True, "result": result}

    async def api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def api_deleteWebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        return True

    async def api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = str(params.get("url", ""))
        return True

    async def api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params.get("offset")) or 0
        self._offset = max(getattr(self, "_offset", 0), offset)
        timeout = float(params.get("timeout") or 0)
        limit = _int(params.get("limit")) or 100
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset][:limit]
            if ready or time.monotonic() >= deadline:
                return ready
            async with self.changed:
                try:
                    await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    pass

    def _check_chat(self, chat_id: int) -> None:
        if chat_id in self.blocked_chats:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if self.messages_per_second is not None:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.messages_per_second:
                self.rate_limited += 1
                raise _ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            self._window.append(now)

    def _record(self, method: str, params: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        chat_id = _int(params.get("chat_id"))
        assert chat_id is not None
        text = str(params.get("text") or params.get("caption") or "")
        # Telegram counts the length after entity parsing: tags do not count, "&amp;" is one character.
        length = telegram_length(text) if params.get("parse_mode") == "HTML" else len(text.encode("utf-16-le")) // 2
        if method in ("sendMessage", "editMessageText") and not 1 <= length <= 4096:
            raise _ApiError(400, "Bad Request: message text is empty or too long")
        if params.get("caption") is not None and length > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        buttons = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        for row in buttons:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        mid = message_id if message_id is not None else next(self._message_ids[chat_id])
        self.sent.append(Sent(method, chat_id, mid, text, buttons, params))
        message: dict[str, Any] = {
            "message_id": mid,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
            "text": text,
        }
        if params.get("message_thread_id"):
            message["message_thread_id"] = _int(params["message_thread_id"])
            message["is_topic_message"] = True
        if buttons:
            message["reply_markup"] = {"inline_keyboard": buttons}
        return message

    async def api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        return self._record("sendMessage", params)

    async def api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("sendDocument", params)
        message["document"] = {"file_id": "doc", "file_unique_id": "doc", "file_name": params.get("_filename", "")}
        return message

    async def api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("sendPhoto", params)
        message["photo"] = [{"file_id": str(params.get("photo")), "file_unique_id": "p", "width": 1, "height": 1}]
        return message

    async def api_sendVoice(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("sendVoice", params)
        message["voice"] = {"file_id": str(params.get("voice")), "file_unique_id": "v", "duration": 1}
        return message

    async def api_sendAudio(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("sendAudio", params)
        message["audio"] = {"file_id": str(params.get("audio")), "file_unique_id": "a", "duration": 1}
        return message

    async def api_sendVideo(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("sendVideo", params)
        message["video"] = {
            "file_id": str(params.get("video")),
            "file_unique_id": "vi",
            "width": 1,
            "height": 1,
            "duration": 1,
        }
        return message

    async def api_sendSticker(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("sendSticker", params)
        message["sticker"] = {
            "file_id": str(params.get("sticker")),
            "file_unique_id": "s",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return message

    async def api_copyMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(_int(params.get("chat_id")) or 0)
        message = self._record("copyMessage", params)
        return {"message_id": message["message_id"]}

    async def api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._record("editMessageText", params, message_id=_int(params.get("message_id")))

    async def api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _int(params.get("chat_id")) or 0
        self.calls.append(("_edited_markup", {"chat_id": chat_id, "message_id": params.get("message_id")}))
        return {
            "message_id": _int(params.get("message_id")),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": "",
        }

    async def api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answered_callbacks.append(str(params.get("callback_query_id")))
        return True

    async def api_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        self.commands[params.get("language_code") or None] = list(commands or [])
        return True

    async def api_createForumTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        topic = {"message_thread_id": next(self._forum_ids), "name": params.get("name", ""), "icon_color": 7322096}
        self.forum_topics.append(topic)
        return topic

    async def api_closeForumTopic(self, _params: dict[str, Any]) -> bool:
        return True

    async def api_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _int(params.get("chat_id")) or 0
        return {
            "id": chat_id,
            "type": "private" if chat_id > 0 else "supergroup",
            "is_forum": chat_id in self.forum_chats,
            "accent_color_id": 0,
            "max_reaction_count": 11,
        }


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        self.status = status
        self.body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            self.body["parameters"] = {"retry_after": retry_after}


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _decode(request: HTTPServerRequest) -> dict[str, Any]:
    if request.headers.get("Content-Type", "").startswith("application/json") and request.body:
        return dict(json.loads(request.body))
    params: dict[str, Any] = {}
    for key, values in request.body_arguments.items():
        raw = values[-1].decode()
        if key in RAW_STRING_FIELDS:
            params[key] = raw
            continue
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    for key, files in request.files.items():
        params[key] = files[0]["body"]
        params["_filename"] = files[0]["filename"]
    for key, values in request.query_arguments.items():
        params.setdefault(key, values[-1].decode())
    return params


class _Handler(RequestHandler):
    def initialize(self, api: FakeBotApi) -> None:
        self.api = api

    async def post(self, token: str, method: str) -> None:
        status, body = await self.api.call(method, _decode(self.request))
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)
