"""Comparisons saved with ``headwater compare --record``.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("left", sa.Text, nullable=False),
        sa.Column("right", sa.Text, nullable=False),
        sa.Column("key", sa.Text),
        sa.Column("equal", sa.Boolean, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_index("ix_comparisons_run", "comparisons", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_run", "comparisons")
    op.drop_table("comparisons")
