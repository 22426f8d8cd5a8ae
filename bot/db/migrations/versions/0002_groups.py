"""groups: group meetings, occurrences, subscriptions, RSVPs; the outbox of scheduled messages

Revision ID: 0002_groups
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa
import bot.db.base


revision = "0002_groups"
down_revision = "0001_foundation"
branch_labels = ("groups",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("municipality", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("how_to_find", sa.JSON(), nullable=False),
        sa.Column("icon", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("every_weeks", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=True),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("interpreter", sa.Boolean(), nullable=False),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("active_until", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("updated_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_groups_municipality"), ["municipality"], unique=False)

    op.create_table(
        "group_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("original_start", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("starts_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_occurrences_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_occurrences")),
        sa.UniqueConstraint("group_id", "original_start", name=op.f("uq_group_occurrences_group_id_original_start")),
    )
    with op.batch_alter_table("group_occurrences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_occurrences_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_occurrences_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "group_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_subscriptions_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_subscriptions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_subscriptions")),
        sa.UniqueConstraint("user_id", "group_id", name=op.f("uq_group_subscriptions_user_id_group_id")),
    )
    with op.batch_alter_table("group_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_subscriptions_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_subscriptions_subscribed_at"), ["subscribed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_subscriptions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("text_key", sa.String(length=80), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("due_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_outbox_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_ref"), ["ref"], unique=False)
        batch_op.create_index("ix_outbox_status_due_at", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_user_id"), ["user_id"], unique=False)

    op.create_table(
        "group_rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("answered_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["group_occurrences.id"],
            name=op.f("fk_group_rsvps_occurrence_id_group_occurrences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_rsvps_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_rsvps")),
        sa.UniqueConstraint("occurrence_id", "user_id", name=op.f("uq_group_rsvps_occurrence_id_user_id")),
    )
    with op.batch_alter_table("group_rsvps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_rsvps_occurrence_id"), ["occurrence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_rsvps_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("group_rsvps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_rsvps_user_id"))
        batch_op.drop_index(batch_op.f("ix_group_rsvps_occurrence_id"))

    op.drop_table("group_rsvps")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_user_id"))
        batch_op.drop_index("ix_outbox_status_due_at")
        batch_op.drop_index(batch_op.f("ix_outbox_ref"))

    op.drop_table("outbox")
    with op.batch_alter_table("group_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_subscriptions_user_id"))
        batch_op.drop_index(batch_op.f("ix_group_subscriptions_subscribed_at"))
        batch_op.drop_index(batch_op.f("ix_group_subscriptions_group_id"))

    op.drop_table("group_subscriptions")
    with op.batch_alter_table("group_occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_occurrences_starts_at"))
        batch_op.drop_index(batch_op.f("ix_group_occurrences_group_id"))

    op.drop_table("group_occurrences")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_groups_municipality"))

    op.drop_table("groups")
