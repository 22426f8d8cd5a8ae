"""booking: the family's phone number for a phone or video meeting, kept only until the meeting is over

Revision ID: 0006_booking_phone
Revises: 0003_booking
"""

from alembic import op
import sqlalchemy as sa


revision = "0006_booking_phone"
down_revision = "0003_booking"
branch_labels = None  # on the booking branch, after 0003_booking
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (batch mode does not rebuild the table for it on SQLite).
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # As 0005: not batch mode, which would rebuild the table on SQLite; SQLite >= 3.35 drops a column in place.
    op.execute("ALTER TABLE bookings DROP COLUMN phone")
