"""What a channel hands to the core, and what the core hands back."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MediaKind(StrEnum):
    STICKER = "sticker"
    PHOTO = "photo"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    OTHER = "other"


@dataclass(frozen=True)
class UserRef:
    """Who wrote: the channel and the id the channel knows them by."""

    channel: str
    external_id: str


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: typed text, pressed a button, or sent media."""

    user: UserRef
    text: str | None = None
    payload: str | None = None
    media: MediaKind | None = None
    language_hint: str | None = None  # Telegram's language_code: a hint, never a decision
    # Opaque handle of media that a counsellor may need relayed (a Telegram file id); never logged.
    media_ref: str | None = None
    # Set by channels that deliver at-least-once: the core records the message as handled under this key
    # in the same transaction as its effects, so a redelivered message is answered once.
    idempotency_key: int | None = None
    # Where it came from when not a private chat with the bot (the staff group), for staff features.
    staff_chat: bool = False
    thread_id: int | None = None
    message_id: int | None = None
    reply_to_message_id: int | None = None
    # The message replied to is one of this bot's own (a staff-group reply that may be meant for a family).
    reply_to_bot: bool = False

    @property
    def command(self) -> tuple[str, str] | None:
        """`/start group-3` → ("start", "group-3"); None for plain text.

        A channel hands over only commands addressed to this bot, without its `@username` (Telegram:
        `to_incoming`); `/queue@someone` here is no command of ours, and the name keeps the address."""
        if not self.text or not self.text.startswith("/"):
            return None
        head, _, rest = self.text[1:].partition(" ")
        name = head.lower()
        return (name, rest.strip()) if name else None


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class Reply:
    """One message to send. `text` is Telegram-safe HTML (user data already escaped)."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    # Replace the message whose button was pressed instead of sending a new one (paging).
    edit: bool = False
    attachment: Attachment | None = None
    # None: to the user who wrote. Otherwise another recipient, e.g. the staff group.
    to: Recipient | None = None
    # A label the channel reports back with the sent message's id (e.g. to link a ticket card to it).
    track: str | None = None
    # Media to send again by the channel's own handle (a Telegram file id), with `text` as its caption.
    media: tuple[MediaKind, str] | None = None


@dataclass(frozen=True)
class Recipient:
    """A destination other than the sender: a user by reference, or the staff group (optionally a topic)."""

    user: UserRef | None = None
    staff: bool = False
    thread_id: int | None = None
    reply_to: int | None = None
    # For the staff group: open a new forum topic with this name (where the group has topics) and send
    # there; the channel reports the topic's thread id to the sent hook as `thread_id=`.
    new_topic: str | None = None
    # With `Reply.edit`: the message to replace in this recipient's chat (e.g. a ticket card whose state
    # changed), instead of the message whose button was pressed.
    edit_message_id: int | None = None


TAG = re.compile(r"<[^>]*>")


def telegram_length(text: str) -> int:
    """The length Telegram holds an HTML message to (4096; a caption 1024): counted after entity parsing,
    so tags do not count and `&amp;` is one character, in UTF-16 code units (an emoji may be two)."""
    visible = html.unescape(TAG.sub("", text))
    return len(visible.encode("utf-16-le")) // 2


def reply_to_json(reply: Reply) -> dict[str, Any]:
    """A reply as JSON, so that replies decided in a transaction can be sent (again) after a crash."""
    return {
        "text": reply.text,
        "buttons": [[[b.label, b.payload] for b in row] for row in reply.buttons],
        "edit": reply.edit,
        "attachment": None
        if reply.attachment is None
        else {
            "filename": reply.attachment.filename,
            "content": base64.b64encode(reply.attachment.content).decode(),
            "mime_type": reply.attachment.mime_type,
        },
        "to": None
        if reply.to is None
        else {
            "user": None if reply.to.user is None else [reply.to.user.channel, reply.to.user.external_id],
            "staff": reply.to.staff,
            "thread_id": reply.to.thread_id,
            "reply_to": reply.to.reply_to,
            "new_topic": reply.to.new_topic,
            "edit_message_id": reply.to.edit_message_id,
        },
        "track": reply.track,
        "media": None if reply.media is None else [reply.media[0].value, reply.media[1]],
    }


def reply_from_json(data: dict[str, Any]) -> Reply:
    attachment = data.get("attachment")
    to = data.get("to")
    media = data.get("media")
    return Reply(
        text=data["text"],
        buttons=tuple(tuple(Button(label, payload) for label, payload in row) for row in data.get("buttons", [])),
        edit=bool(data.get("edit")),
        attachment=None
        if not attachment
        else Attachment(attachment["filename"], base64.b64decode(attachment["content"]), attachment["mime_type"]),
        to=None
        if not to
        else Recipient(
            user=UserRef(*to["user"]) if to.get("user") else None,
            staff=bool(to.get("staff")),
            thread_id=to.get("thread_id"),
            reply_to=to.get("reply_to"),
            new_topic=to.get("new_topic"),
            edit_message_id=to.get("edit_message_id"),
        ),
        track=data.get("track"),
        media=(MediaKind(media[0]), str(media[1])) if media else None,
    )
