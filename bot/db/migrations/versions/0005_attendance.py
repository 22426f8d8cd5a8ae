"""groups: a head count per meeting (how many came, adults and children together), no list of who came

Revision ID: 0005_attendance
Revises: 0002_groups

Who recorded the count is in the audit log (`groups.attendance`), not on the row.
"""

from alembic import op
import sqlalchemy as sa


revision = "0005_attendance"
down_revision = "0002_groups"
branch_labels = None  # on the groups branch, after 0002_groups
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (batch mode does not rebuild the table for it on SQLite).
    with op.batch_alter_table("group_occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attended", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite that would rebuild the table, and with foreign keys on (bot/db/database.py) the
    # DROP of the old table would cascade and delete every RSVP. SQLite ≥ 3.35 drops a column in place.
    op.execute("ALTER TABLE group_occurrences DROP COLUMN attended")
