"""booking: counsellors' slots and families' bookings (at most one active booking per slot)

Revision ID: 0003_booking
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa
import bot.db.base


revision = "0003_booking"
down_revision = "0001_foundation"
branch_labels = ("booking",)
# Booking reminders are rows in the outbox, which the groups branch creates.
depends_on = ("0002_groups",)

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "booking_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("municipality", sa.String(length=64), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("minutes > 0 AND minutes <= 480", name=op.f("ck_booking_slots_minutes_range")),
        sa.CheckConstraint("mode IN ('in_person', 'phone', 'video')", name=op.f("ck_booking_slots_mode_known")),
        sa.CheckConstraint("status IN ('open', 'cancelled')", name=op.f("ck_booking_slots_status_known")),
        sa.ForeignKeyConstraint(
            ["counsellor_id"], ["counsellors.id"], name=op.f("fk_booking_slots_counsellor_id_counsellors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_slots")),
        sa.UniqueConstraint("counsellor_id", "starts_at", name=op.f("uq_booking_slots_counsellor_id_starts_at")),
    )
    with op.batch_alter_table("booking_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_slots_counsellor_id"), ["counsellor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_booking_slots_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("interpreter", sa.String(length=8), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=16), nullable=True),
        sa.Column("moved_to_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'cancelled', 'moved')", name=op.f("ck_bookings_status_known")),
        sa.ForeignKeyConstraint(["slot_id"], ["booking_slots.id"], name=op.f("fk_bookings_slot_id_booking_slots")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bookings_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookings_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_user_id"), ["user_id"], unique=False)
        # The promise "a slot is booked at most once", kept by the database on SQLite and PostgreSQL.
        batch_op.create_index(
            "uq_bookings_active_slot", ["slot_id"], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("uq_bookings_active_slot")
        batch_op.drop_index(batch_op.f("ix_bookings_user_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_slot_id"))

    op.drop_table("bookings")
    with op.batch_alter_table("booking_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_slots_starts_at"))
        batch_op.drop_index(batch_op.f("ix_booking_slots_counsellor_id"))

    op.drop_table("booking_slots")
