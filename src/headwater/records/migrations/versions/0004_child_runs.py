"""Child runs: ``runs.parent_id`` is the run that a nested writer ran inside.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its REFERENCES clause in place; existing rows get NULL.
        # Alembic's batch mode would copy runs into a new table and drop the old one, which
        # the store's foreign key enforcement refuses (versions, source_files, ... reference
        # runs), and PRAGMA foreign_keys cannot be switched off inside this transaction.
        op.execute("ALTER TABLE runs ADD COLUMN parent_id INTEGER REFERENCES runs (id)")
    else:
        op.add_column("runs", sa.Column("parent_id", sa.Integer))
        op.create_foreign_key("fk_runs_parent_id", "runs", "runs", ["parent_id"], ["id"])
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])


def downgrade() -> None:
    # On SQLite this copies the table: run it with foreign keys off (sqlite3's default).
    op.drop_index("ix_runs_parent_id", "runs")
    with op.batch_alter_table("runs", recreate="always") as batch:
        batch.drop_column("parent_id")
