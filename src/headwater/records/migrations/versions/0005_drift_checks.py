"""The loop's drift checks, and run statuses up to 32 characters.

``drift_checks``: one row per check of new rows against the production model (model drift:
its score on them; data drift: per-feature statistics), with what the loop did about it.
The per-batch score history of a model is its rows here. ``runs.status`` grows to 32
characters for the loop's statuses (``insufficient_data``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_declared_type("runs", "status VARCHAR(16)", "status VARCHAR(32)")
    else:
        op.alter_column("runs", "status", type_=sa.String(32), existing_nullable=False)
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("model_version", sa.Integer),
        sa.Column("dataset_version", sa.Integer),
        sa.Column("ingest_from", sa.Integer, nullable=False),
        sa.Column("ingest_through", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("metric", sa.String(32)),
        sa.Column("score", sa.Float),
        sa.Column("baseline", sa.Float),
        sa.Column("test", sa.String(16)),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("data_drift", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("candidate_version", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_drift_checks_model_version", "drift_checks", ["model_version"])


def _sqlite_declared_type(table: str, old: str, new: str) -> None:
    """Change a column's declared type in SQLite's schema text, in place.

    SQLite never enforces a VARCHAR length, so this changes nothing on disk: it is the
    documented procedure for schema changes that do not affect stored content
    (https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema
    changes"). Alembic's batch mode would copy ``runs`` into a new table instead, which
    the tables referencing it refuse with foreign keys on (see 0004).
    """
    conn = op.get_bind()
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ?",
            (old, new, table),
        )
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(version or 0) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def downgrade() -> None:
    op.drop_index("ix_drift_checks_model_version", "drift_checks")
    op.drop_table("drift_checks")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_declared_type("runs", "status VARCHAR(32)", "status VARCHAR(16)")
    else:
        op.alter_column("runs", "status", type_=sa.String(16), existing_nullable=False)
