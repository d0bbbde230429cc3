import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import RecordsError
from headwater.records.store import HEAD_REVISION, RecordStore
from tests.conftest import records_url


def test_new_store_is_migrated_to_head_in_wal_mode(tmp_path: Path):
    store = RecordStore.for_folder(tmp_path)
    store.dispose()
    con = sqlite3.connect(tmp_path / "records.db")
    tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    assert {
        "runs",
        "datasets",
        "versions",
        "parts",
        "source_files",
        "file_state",
        "rejects",
        "alembic_version",
    } <= tables
    assert con.execute("select version_num from alembic_version").fetchone()[0] == HEAD_REVISION
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_runs_round_trip_and_crash_marking(tmp_path: Path, records_backend: str):
    store = RecordStore(records_url(records_backend, tmp_path))
    a = store.start_run(kind="ingest")
    b = store.start_run(kind="ingest")
    store.finish_run(a, "ok", summary={"rows_added": 3})
    assert store.run(a)["summary"] == {"rows_added": 3}
    c = store.start_run(kind="ingest")
    assert store.mark_crashed_except(c, "gone") == [b]
    assert store.run(b)["status"] == "crashed"
    assert store.run(c)["status"] == "running"
    assert [r["id"] for r in store.runs()] == [c, b, a]


def test_garbage_database_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "records.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RecordsError, match="not a readable database"):
        RecordStore.for_folder(tmp_path)


def test_a_new_store_on_either_backend_is_at_the_head_revision(
    tmp_path: Path, records_backend: str
):
    store = RecordStore(records_url(records_backend, tmp_path))
    with store.read() as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        names = set(sa.inspect(conn).get_table_names())
    store.dispose()
    assert revision == HEAD_REVISION
    assert {"runs", "versions", "parts", "source_files", "rejects", "production"} <= names
