"""The first tables: runs, datasets, versions, parts, source files, file state, rejects.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from headwater.records import schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tables of this revision only; later revisions create their own tables and alter these
# with op.add_column etc. Before changing one of these tables in schema.py, copy its
# current definition here so that this revision keeps creating it as it was.
_TABLES = ["runs", "datasets", "versions", "parts", "source_files", "file_state", "rejects"]


def upgrade() -> None:
    bind = op.get_bind()
    # Frozen copies of the tables as they were at this revision: later migrations alter
    # them with op.add_column etc.; this one only creates.
    for name in _TABLES:
        schema.metadata.tables[name].create(bind)


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
