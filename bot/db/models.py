"""Foundation tables: users, their place in a flow, the update inbox and the message log.

Feature modules add their own tables on the same `Base` (and their own migration branch).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class User(Base):
    """A family member who wrote to the bot. Only what the bot needs to answer them."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The Telegram user id for "telegram"; a local name for "console". Needed to write back.
    external_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_refused_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_at: Mapped[datetime | None]

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None

    @property
    def label(self) -> str:
        """A pseudonymous name for staff views and logs: never the user's real name or id."""
        return f"F-{self.id:05d}"


class ConversationState(Base):
    """Where a user is in a flow; survives restarts."""

    __tablename__ = "conversation_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    vars: Mapped[dict[str, Any]] = mapped_column(default=dict)
    misunderstood: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InboxUpdate(Base):
    """Every Telegram update is written here before it is acted on (see SPEC reliability notes).

    The raw update is kept only until it has been processed, then cleared.
    """

    __tablename__ = "inbox_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # received → handled (the core committed its effects and the replies to send) → done (replies sent)
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any] | None]
    replies: Mapped[list[Any] | None] = mapped_column(JSON)
    done_at: Mapped[datetime | None]


class MessageLog(Base):
    """Recent message texts, kept only with consent, for counsellors' context; deleted after retention."""

    __tablename__ = "message_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class GuideFeedback(Base):
    """ "Was this helpful?" answers, deliberately without any link to a user."""

    __tablename__ = "guide_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    section_id: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(8))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Counsellor(Base):
    """A member of staff who may use staff commands, claim tickets and publish slots."""

    __tablename__ = "counsellors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    languages: Mapped[str] = mapped_column(String(64), default="fi,en")  # comma-separated codes
    municipalities: Mapped[str] = mapped_column(String(200), default="")  # comma-separated names
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    @property
    def municipality_list(self) -> list[str]:
        return [name for name in self.municipalities.split(",") if name]


class AuditEntry(Base):
    """Who did what, when: every staff action and every refused attempt. No message texts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # A counsellor's id, "cli" for the command line, or "unlisted" for a refused stranger.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64))  # a pseudonymous label, a ticket or slot id
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
