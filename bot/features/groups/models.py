"""Group meetings as data: groups, their occurrences, who subscribed, who said they are coming, and how many came.

The database is the source of truth for scheduling (SPEC reliability notes): occurrences are rows, so a
cancelled or moved meeting, an RSVP and the reminders planned for it all refer to one stable id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow

# Occurrence.status
SCHEDULED = "scheduled"
CANCELLED = "cancelled"
MOVED = "moved"
HAPPENING = (SCHEDULED, MOVED)

# Rsvp.answer
COMING = "coming"
NOT_COMING = "not_coming"


class Group(Base):
    """A recurring group meeting, imported from `content/groups.yml` (`python -m bot admin import-groups`)."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # a slug: it appears in deep links
    names: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # language → name
    municipality: Mapped[str] = mapped_column(String(32), index=True)  # a key of `municipalities` in the file
    address: Mapped[str] = mapped_column(String(200))
    how_to_find: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # language → directions
    icon: Mapped[str] = mapped_column(String(16), default="👥")
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_time: Mapped[str] = mapped_column(String(5))  # "17:00", local wall-clock time
    duration_minutes: Mapped[int] = mapped_column(Integer)
    every_weeks: Mapped[int] = mapped_column(Integer, default=1)
    anchor: Mapped[date | None] = mapped_column(Date)  # a meeting day that fixes the weeks of a 2-weekly group
    audience: Mapped[str] = mapped_column(String(32))  # mothers | fathers | young | families | everyone
    languages: Mapped[str] = mapped_column(String(64), default="fi")  # comma-separated codes spoken there
    interpreter: Mapped[bool] = mapped_column(Boolean, default=False)
    active_from: Mapped[date | None] = mapped_column(Date)
    active_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def name(self, language: str) -> str:
        return str(self.names.get(language) or self.names.get("en") or self.names.get("fi") or self.id)

    def directions(self, language: str) -> str:
        return str(self.how_to_find.get(language) or self.how_to_find.get("en") or self.how_to_find.get("fi") or "")

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]


class Occurrence(Base):
    """One meeting of a group. Times in UTC; `original_start` is the slot the schedule gave it.

    Staff may cancel it or move it (with a reason); a move bumps `revision`, so reminders planned for
    the old time are told apart from those for the new one.
    """

    __tablename__ = "group_occurrences"
    __table_args__ = (UniqueConstraint("group_id", "original_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    original_start: Mapped[datetime]
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=SCHEDULED)
    reason: Mapped[str | None] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None]
    # Reminder kind → the time up to which subscriptions were considered (see the planner).
    planned: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # How many came (adults and children together), entered by the counsellor who led the meeting; None until
    # then. A head count only: who came is personal data the project does not need. Who entered it is audited.
    attended: Mapped[int | None] = mapped_column(Integer)

    @property
    def happening(self) -> bool:
        return self.status in HAPPENING


class Subscription(Base):
    """A family member wants reminders for a group. Deactivated, not deleted, on unsubscribe or block."""

    __tablename__ = "group_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "group_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set again when someone subscribes anew: reminders due before it are not sent to them.
    subscribed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[datetime | None]


class Rsvp(Base):
    """An answer, "coming" or "can't come", for one occurrence. Staff see only counts."""

    __tablename__ = "group_rsvps"
    __table_args__ = (UniqueConstraint("occurrence_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("group_occurrences.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
