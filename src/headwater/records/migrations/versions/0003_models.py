"""The model registry: model versions, the production pointer and its history.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("dataset", sa.String(255), nullable=False),
        sa.Column("dataset_version", sa.Integer),
        sa.Column("estimator", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("test_rows", sa.Integer, nullable=False),
        sa.Column("train_rows", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("file_hash", sa.String(80), nullable=False),
        sa.Column("trusted_types", sa.Text, nullable=False),
        sa.Column("card", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "production",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer),
        sa.Column("since", sa.String(32), nullable=False),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.Integer),
        sa.Column("to_version", sa.Integer),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("user", sa.String(255)),
        sa.Column("host", sa.String(255)),
        sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("candidate_score", sa.Float),
        sa.Column("production_score", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("promotions")
    op.drop_table("production")
    op.drop_table("models")
