"""The first tables: runs, datasets, versions, parts, source files, file state, rejects.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tables as this revision created them, written out: never built from schema.py, whose
# tables are the newest ones (a later migration that adds a column would then find it here
# already). A change to one of these tables is a new migration; this one stays as it is.


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("started", sa.String(32), nullable=False),
        sa.Column("finished", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("engine", sa.String(32)),
        sa.Column("host", sa.String(255)),
        sa.Column("user", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("headwater_version", sa.String(32)),
        sa.Column("config_hash", sa.String(64)),
        sa.Column("options", sa.Text),
        sa.Column("summary", sa.Text),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("current_version", sa.Integer),
        sa.Column("current_line", sa.Integer, nullable=False, server_default="1"),
        sa.Column("schema", sa.Text),
        sa.Column("updated", sa.String(32)),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("parent", sa.Integer),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("rows_added", sa.Integer, nullable=False),
        sa.Column("rows_retracted", sa.Integer, nullable=False),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("lineage", sa.Text),
        sa.UniqueConstraint("dataset", "version", name="uq_versions_dataset_version"),
    )
    op.create_table(
        "parts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(255), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("bytes", sa.Integer),
    )
    op.create_index("ix_parts_line_version", "parts", ["dataset", "line", "version"])
    op.create_table(
        "source_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("dataset", sa.String(255), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("source_index", sa.Integer),
        sa.Column("source", sa.Text),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.Integer),
        sa.Column("mtime", sa.Float),
        sa.Column("hash", sa.String(80)),
        sa.Column("format", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("alias_of", sa.Text),
        sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_added", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_superseded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_retracted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fixes", sa.Text),
    )
    op.create_index("ix_source_files_run", "source_files", ["run_id"])
    op.create_index("ix_source_files_path", "source_files", ["dataset", "line", "path"])
    op.create_table(
        "file_state",
        sa.Column("dataset", sa.String(255), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("mtime", sa.Float, nullable=False),
        sa.Column("hash", sa.String(80), nullable=False),
        sa.Column("file_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_file_state_hash", "file_state", ["dataset", "line", "hash"])
    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("file_id", sa.Integer),
        sa.Column("path", sa.Text),
        sa.Column("record", sa.Integer),
        sa.Column("column", sa.String(255)),
        sa.Column("value", sa.Text),
        sa.Column("rule", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_rejects_run", "rejects", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_rejects_run", "rejects")
    op.drop_table("rejects")
    op.drop_index("ix_file_state_hash", "file_state")
    op.drop_table("file_state")
    op.drop_index("ix_source_files_path", "source_files")
    op.drop_index("ix_source_files_run", "source_files")
    op.drop_table("source_files")
    op.drop_index("ix_parts_line_version", "parts")
    op.drop_table("parts")
    op.drop_table("versions")
    op.drop_table("datasets")
    op.drop_index("ix_runs_status", "runs")
    op.drop_table("runs")
