"""The record store's tables (SQLAlchemy Core).

Every table here is created by an Alembic migration in ``migrations/versions``; a change to
a table is a new migration, never an edit of an old one, so existing projects upgrade.
Migrations never import this module: each writes out its tables as they were at its
revision (tests/records/test_migrations.py checks that head equals what is here).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("started", sa.String(32), nullable=False),
    sa.Column("finished", sa.String(32)),
    sa.Column("status", sa.String(32), nullable=False),  # 32 since migration 0005
    sa.Column("error", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("engine", sa.String(32)),
    sa.Column("host", sa.String(255)),
    sa.Column("user", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("headwater_version", sa.String(32)),
    sa.Column("config_hash", sa.String(64)),
    sa.Column("options", sa.Text),  # JSON: flags the run was given
    sa.Column("summary", sa.Text),  # JSON: the command's result
    # Added by migration 0004: the run whose writer this run's writer was opened inside.
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("runs.id")),
    # Added by migration 0006: what started the run (manual, cron, scheduler) and the
    # schedule entry that fired it.
    sa.Column("trigger", sa.String(16)),
    sa.Column("schedule_entry", sa.String(255)),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_parent_id", "parent_id"),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("current_version", sa.Integer),
    sa.Column("current_line", sa.Integer, nullable=False, server_default="1"),
    sa.Column("schema", sa.Text),  # JSON: pinned column → type, in order
    sa.Column("updated", sa.String(32)),
)

versions = sa.Table(
    "versions",
    metadata,
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
    sa.Column("lineage", sa.Text),  # JSON: what the increment did
    sa.UniqueConstraint("dataset", "version", name="uq_versions_dataset_version"),
)

parts = sa.Table(
    "parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(255), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "rows" | "retractions"
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("bytes", sa.Integer),
    sa.Index("ix_parts_line_version", "dataset", "line", "version"),
)

source_files = sa.Table(
    "source_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("dataset", sa.String(255), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer),  # the version that published it; NULL if none
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
    sa.Column("fixes", sa.Text),  # JSON: cells trimmed, NA tokens mapped, values cast …
    sa.Index("ix_source_files_run", "run_id"),
    sa.Index("ix_source_files_path", "dataset", "line", "path"),
)

# What the dataset's current line knows about each source path: the cheap check
# (size, mtime) and the content hash, and the source_files row whose rows are live.
file_state = sa.Table(
    "file_state",
    metadata,
    sa.Column("dataset", sa.String(255), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("mtime", sa.Float, nullable=False),
    sa.Column("hash", sa.String(80), nullable=False),
    sa.Column("file_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # ingested | alias | missing
    sa.Index("ix_file_state_hash", "dataset", "line", "hash"),
)

rejects = sa.Table(
    "rejects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("file_id", sa.Integer),
    sa.Column("path", sa.Text),
    sa.Column("record", sa.Integer),
    sa.Column("column", sa.String(255)),
    sa.Column("value", sa.Text),
    sa.Column("rule", sa.String(64)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_rejects_run", "run_id"),
)

# Added by migration 0002.
comparisons = sa.Table(
    "comparisons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("left", sa.Text, nullable=False),
    sa.Column("right", sa.Text, nullable=False),
    sa.Column("key", sa.Text),  # JSON list
    sa.Column("equal", sa.Boolean, nullable=False),
    sa.Column("result", sa.Text, nullable=False),  # JSON: Comparison.to_dict()
    sa.Index("ix_comparisons_run", "run_id"),
)

# Added by migration 0003: the model registry.
models = sa.Table(
    "models",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("dataset", sa.String(255), nullable=False),
    sa.Column("dataset_version", sa.Integer),
    sa.Column("estimator", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("features", sa.Text, nullable=False),  # JSON
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("test_rows", sa.Integer, nullable=False),
    sa.Column("train_rows", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("file_hash", sa.String(80), nullable=False),
    sa.Column("trusted_types", sa.Text, nullable=False),  # JSON list
    sa.Column("card", sa.Text, nullable=False),  # JSON
    sa.Column("status", sa.String(16), nullable=False),  # candidate | rejected | promoted
)

production = sa.Table(
    "production",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # "default"
    sa.Column("version", sa.Integer),
    sa.Column("since", sa.String(32), nullable=False),
)

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # promote | rollback | refuse
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


# Added by migration 0005: each check of new rows against the production model, by the loop
# (``headwater run``). A model's per-batch score history is its rows here.
drift_checks = sa.Table(
    "drift_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("model_version", sa.Integer),  # production when the rows were scored
    sa.Column("dataset_version", sa.Integer),
    # the rows checked: those added by ingest runs ingest_from < id <= ingest_through
    sa.Column("ingest_from", sa.Integer, nullable=False),
    sa.Column("ingest_through", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(32)),
    sa.Column("score", sa.Float),  # production's score on the rows (None: not defined)
    sa.Column("baseline", sa.Float),  # the threshold the score was compared with
    sa.Column("test", sa.String(16)),  # raw | parametric | nonparametric (the one used)
    sa.Column("verdict", sa.String(32), nullable=False),  # drift | no_drift | insufficient_data
    sa.Column("data_drift", sa.Text, nullable=False),  # JSON list, one entry per feature
    sa.Column("outcome", sa.String(32), nullable=False),  # no_drift | deployed | rejected | ...
    sa.Column("candidate_version", sa.Integer),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_drift_checks_model_version", "model_version"),
)
