"""What started a run: ``runs.trigger`` (``manual``, ``cron``, ``scheduler``) and
``runs.schedule_entry`` (the crontab entry id or ``[[schedule]]`` name that fired it).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on every dialect (existing rows: NULL, read as "manual")
    op.add_column("runs", sa.Column("trigger", sa.String(16)))
    op.add_column("runs", sa.Column("schedule_entry", sa.String(255)))


def downgrade() -> None:
    # On SQLite this copies the table: run it with foreign keys off (sqlite3's default).
    with op.batch_alter_table("runs", recreate="always") as batch:
        batch.drop_column("schedule_entry")
        batch.drop_column("trigger")
