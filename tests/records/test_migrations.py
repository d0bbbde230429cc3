"""Record store migrations: each revision creates what it created at its time, and a project
made at any earlier revision upgrades to head without losing a row (issue #12).

The files in ``data/`` were written by headwater itself at the commit that made each
revision the head: ``schema_0001.sql`` and ``schema_0002.sql`` are empty record stores,
``records_0003.sql`` is the demo project (two ingests, a training with deployment, a recorded
comparison, a failed rollback) as the code before migration 0004 left it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext

import headwater.records
from headwater import Project, RecordsError
from headwater.records import HEAD_REVISION, _fast, schema
from headwater.records.store import RecordStore
from tests.conftest import ProjectFactory, run_cli

DATA = Path(__file__).parent / "data"
MIGRATIONS = Path(headwater.records.__file__).parent / "migrations"
EARLIER = ["0001", "0002", "0003", "0004"]


def _engine(db: Path) -> sa.Engine:
    """An engine set up as RecordStore sets up its own: our BEGIN, foreign keys enforced."""
    engine = sa.create_engine(f"sqlite:///{db}")

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _upgrade(db: Path, revision: str) -> None:
    """Run the migrations up to ``revision`` on ``db``, in one transaction as the store does."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = _engine(db)
    try:
        with engine.connect() as conn, conn.begin():
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _load(db: Path, dump: str) -> None:
    con = sqlite3.connect(db)
    try:
        con.executescript((DATA / dump).read_text(encoding="utf-8"))
    finally:
        con.close()


def _revision(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return str(con.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        con.close()


def _structure(db: Path) -> dict[str, dict[str, Any]]:
    """Every table's columns, foreign keys and indexes, as SQLite reports them."""
    con = sqlite3.connect(db)
    try:
        out: dict[str, dict[str, Any]] = {}
        tables = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        for (name,) in tables.fetchall():
            indexes = []
            for _seq, index, unique, origin, partial in con.execute(
                f'PRAGMA index_list("{name}")'
            ).fetchall():
                cols = tuple(r[2] for r in con.execute(f'PRAGMA index_info("{index}")'))
                indexes.append((index, unique, origin, partial, cols))
            out[name] = {
                # cid, name, type, notnull, default, pk
                "columns": con.execute(f'PRAGMA table_info("{name}")').fetchall(),
                # table, from, to, on_update, on_delete, match
                "foreign_keys": sorted(
                    r[2:] for r in con.execute(f'PRAGMA foreign_key_list("{name}")')
                ),
                "indexes": sorted(indexes),
            }
        return out
    finally:
        con.close()


def _contents(db: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table's column names and rows (in rowid order where there is one)."""
    con = sqlite3.connect(db)
    try:
        out = {}
        tables = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        for (name,) in tables.fetchall():
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{name}")')]
            rows = con.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall()
            out[name] = (cols, rows)
        return out
    finally:
        con.close()


def _differences_from_schema_py(db: Path) -> list[Any]:
    engine = _engine(db)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), schema.metadata))
    finally:
        engine.dispose()


# Rows a project could have had at each revision, in the columns of that revision.
_T = "2026-01-01T00:00:00.000000+00:00"
ROWS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "0001": {
        "runs": [
            {"id": 1, "kind": "ingest", "started": _T, "finished": _T, "status": "ok",
             "engine": "duckdb", "host": "h", "user": "u", "pid": 7, "headwater_version": "0.1",
             "config_hash": "c" * 64, "options": "{}", "summary": '{"rows_added": 2}'},
            {"id": 2, "kind": "ingest", "started": _T, "status": "failed", "error": "boom",
             "note": "a note"},
        ],
        "datasets": [
            {"name": "d", "current_version": 1, "current_line": 1, "schema": '[["a", "int"]]',
             "updated": _T},
        ],
        "versions": [
            {"id": 1, "dataset": "d", "version": 1, "line": 1, "parent": None, "run_id": 1,
             "created": _T, "rows": 2, "rows_added": 2, "rows_retracted": 0,
             "schema": '[["a", "int"]]', "location": "data/d", "lineage": "{}"},
        ],
        "parts": [
            {"id": 1, "dataset": "d", "line": 1, "version": 1, "kind": "rows",
             "path": "data/d/part-1.parquet", "rows": 2, "bytes": 300},
        ],
        "source_files": [
            {"id": 1, "run_id": 1, "dataset": "d", "line": 1, "version": 1, "source_index": 0,
             "source": "incoming", "path": "incoming/a.csv", "size": 10, "mtime": 1.5,
             "hash": "h1", "format": "csv", "status": "ingested", "rows_read": 3,
             "rows_rejected": 1, "rows_added": 2, "fixes": "{}"},
        ],
        "file_state": [
            {"dataset": "d", "line": 1, "path": "incoming/a.csv", "size": 10, "mtime": 1.5,
             "hash": "h1", "file_id": 1, "status": "ingested"},
        ],
        "rejects": [
            {"id": 1, "run_id": 1, "file_id": 1, "path": "incoming/a.csv", "record": 3,
             "column": "a", "value": "x", "rule": "type", "reason": "not an int"},
        ],
    },
    "0002": {
        "comparisons": [
            {"id": 1, "run_id": 1, "created": _T, "left": "d@1", "right": "d@1",
             "key": '["a"]', "equal": 1, "result": '{"equal": true}'},
        ],
    },
    "0003": {
        "models": [
            {"version": 1, "run_id": 1, "created": _T, "dataset": "d", "dataset_version": 1,
             "estimator": "sklearn.linear_model.LogisticRegression", "params": "{}",
             "features": '["a"]', "target": "y", "metric": "f1", "score": 0.5, "test_rows": 1,
             "train_rows": 1, "seconds": 0.1, "location": "models/v1.skops",
             "file_hash": "f" * 64, "trusted_types": "[]", "card": "{}", "status": "promoted"},
        ],
        "production": [{"name": "default", "version": 1, "since": _T}],
        "promotions": [
            {"id": 1, "at": _T, "action": "promote", "from_version": None, "to_version": 1,
             "run_id": 1, "user": "u", "host": "h", "forced": 0, "reason": "first model",
             "candidate_score": 0.5, "production_score": None},
        ],
    },
    "0004": {  # a child run
        "runs": [
            {"id": 3, "kind": "ingest", "started": _T, "finished": _T, "status": "ok",
             "parent_id": 1},
        ],
    },
}  # fmt: skip


def _insert_rows_of(db: Path, revision: str) -> None:
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        for rev in EARLIER[: EARLIER.index(revision) + 1]:
            for table, rows in ROWS[rev].items():
                for row in rows:
                    cols = ", ".join(f'"{c}"' for c in row)
                    marks = ", ".join("?" for _ in row)
                    con.execute(
                        f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values())
                    )
        con.commit()
    finally:
        con.close()


# -- each revision as it was -------------------------------------------------------------


def test_migrations_do_not_import_the_live_schema(tmp_path: Path):
    # A migration that builds its tables from schema.py creates the newest tables at the
    # oldest revision, and the next migration that alters one fails on a new project.
    code = f"""
import sys
from alembic import command
from alembic.config import Config
import sqlalchemy as sa
cfg = Config()
cfg.set_main_option("script_location", {str(MIGRATIONS)!r})
engine = sa.create_engine("sqlite:///{tmp_path / "records.db"}")
with engine.begin() as conn:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
loaded = sorted(m for m in sys.modules if m.startswith("headwater"))
print(loaded)
assert "headwater.records.schema" not in sys.modules, loaded
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    assert _revision(tmp_path / "records.db") == HEAD_REVISION


@pytest.mark.parametrize(
    ("revision", "dump"),
    [("0001", "schema_0001.sql"), ("0002", "schema_0002.sql"), ("0003", "records_0003.sql")],
)
def test_each_revision_creates_what_it_created_at_its_time(
    tmp_path: Path, revision: str, dump: str
):
    _upgrade(tmp_path / "new.db", revision)
    _load(tmp_path / "then.db", dump)
    assert _revision(tmp_path / "then.db") == revision
    assert _structure(tmp_path / "new.db") == _structure(tmp_path / "then.db")


def test_revision_0001_creates_runs_without_the_columns_added_later(tmp_path: Path):
    _upgrade(tmp_path / "records.db", "0001")
    columns = [c[1] for c in _structure(tmp_path / "records.db")["runs"]["columns"]]
    assert "parent_id" not in columns
    assert columns[-2:] == ["options", "summary"]


def test_empty_database_upgraded_to_head_matches_schema_py(tmp_path: Path):
    _upgrade(tmp_path / "records.db", "head")
    assert _revision(tmp_path / "records.db") == HEAD_REVISION
    assert _differences_from_schema_py(tmp_path / "records.db") == []


def test_new_store_matches_schema_py(tmp_path: Path):
    RecordStore.for_folder(tmp_path).dispose()
    assert _differences_from_schema_py(tmp_path / "records.db") == []


# -- older projects upgrade ----------------------------------------------------------------


@pytest.mark.parametrize("revision", EARLIER)
def test_project_at_an_earlier_revision_upgrades_to_head_keeping_its_rows(
    tmp_path: Path, revision: str
):
    db = tmp_path / "records.db"
    _upgrade(db, revision)
    _insert_rows_of(db, revision)
    before = _contents(db)
    assert all(rows for _cols, rows in before.values())  # a row in every table

    RecordStore.for_folder(tmp_path).dispose()  # opening migrates

    assert _revision(db) == HEAD_REVISION
    assert _differences_from_schema_py(db) == []
    after = _contents(db)
    for table, (cols, rows) in before.items():
        if table == "alembic_version":
            continue
        after_cols, after_rows = after[table]
        assert after_cols[: len(cols)] == cols, table
        assert [r[: len(cols)] for r in after_rows] == rows, table
    runs_cols = after["runs"][0]
    added = (["parent_id"] if revision < "0004" else []) + ["trigger", "schedule_entry"]
    assert runs_cols[len(before["runs"][0]) :] == added
    for col in added:  # existing runs: NULL (a NULL trigger reads as manual)
        assert all(r[runs_cols.index(col)] is None for r in after["runs"][1]), col
    assert after["drift_checks"] == (after["drift_checks"][0], [])  # 0005: a new table


def _project_from_previous_release(make_project: ProjectFactory, tmp_path: Path) -> Path:
    # a SQLite file of an older release, even when the suite's records are on PostgreSQL
    make_project(extra="[records]\n").close()
    state = tmp_path / ".headwater"
    state.mkdir(exist_ok=True)
    _load(state / "records.db", "records_0003.sql")
    return state / "records.db"


def test_project_created_before_0004_opens_and_is_upgraded(
    make_project: ProjectFactory, tmp_path: Path
):
    db = _project_from_previous_release(make_project, tmp_path)
    before = _contents(db)
    assert _revision(db) == "0003"

    with Project.open(tmp_path) as project:
        runs = project.history()
        assert [(r["id"], r["kind"], r["status"]) for r in runs] == [
            (5, "rollback", "failed"),
            (4, "compare", "differences"),
            (3, "train", "ok"),
            (2, "ingest", "ok"),
            (1, "ingest", "partial"),
        ]
        assert all(r["parent_id"] is None for r in runs)
        assert project.run_record(1)["files"]  # its source files are still there
        child = project.records.start_run(kind="ingest", parent_id=3)
        assert project.records.run(child)["parent_id"] == 3

    assert _revision(db) == HEAD_REVISION
    assert _differences_from_schema_py(db) == []
    after = _contents(db)
    for table, (cols, rows) in before.items():
        if table in ("alembic_version", "runs"):
            continue
        assert after[table] == (cols, rows), table
    assert [r[: len(before["runs"][0])] for r in after["runs"][1][:5]] == before["runs"][1]


def test_history_and_show_json_of_an_upgraded_project_add_parent_id(
    make_project: ProjectFactory, tmp_path: Path
):
    _project_from_previous_release(make_project, tmp_path)
    out = run_cli("history", "--format", "json", "-p", str(tmp_path))
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    assert [r["id"] for r in runs] == [5, 4, 3, 2, 1]
    assert list(runs[0]) == [c.name for c in schema.runs.columns]
    assert runs[2]["summary"]["model_version"] == 1 and runs[2]["parent_id"] is None
    # Now at head, history takes the fast path; it answers the same.
    again = run_cli("history", "--format", "json", "-p", str(tmp_path))
    assert json.loads(again.stdout) == runs
    shown = json.loads(run_cli("show", "1", "-p", str(tmp_path), "--format", "json").stdout)
    assert shown["parent_id"] is None and shown["kind"] == "ingest" and shown["files"]


# -- child runs ----------------------------------------------------------------------------


def test_child_run_records_its_parent_in_every_reader(tmp_path: Path):
    store = RecordStore.for_folder(tmp_path)
    try:
        outer = store.start_run(kind="run")
        inner = store.start_run(kind="ingest", parent_id=outer)
        store.finish_run(inner, "ok")
        assert store.run(inner)["parent_id"] == outer
        assert store.run(outer)["parent_id"] is None
        assert [(r["id"], r["parent_id"]) for r in store.runs()] == [(inner, outer), (outer, None)]
    finally:
        store.dispose()
    fast = _fast.runs(tmp_path / "records.db", None, None)
    assert fast is not None  # the fast reader answers at head
    assert [(r["id"], r["parent_id"]) for r in fast] == [(inner, outer), (outer, None)]


def test_child_run_of_an_unknown_parent_is_refused(tmp_path: Path):
    store = RecordStore.for_folder(tmp_path)
    try:
        with pytest.raises(RecordsError, match="parent run 99"):
            store.start_run(kind="ingest", parent_id=99)
        assert store.runs() == []
    finally:
        store.dispose()
