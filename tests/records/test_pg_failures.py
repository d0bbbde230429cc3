"""PostgreSQL failures (#18 item 4): a database that goes away mid-run fails the run
cleanly and never half-publishes; a password in the URL is never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from tests.conftest import _pg_database, put, run_cli, use_records, write_toml


def _admin(server: str) -> Any:
    import psycopg

    return psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True)


def _cut(server: str, database: str) -> None:
    """The database goes away: no new connections, every session ended (the cheap way:
    the shared cluster stays up for the other tests)."""
    with _admin(server) as c:
        c.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )


def _restore(server: str, database: str) -> None:
    with _admin(server) as c:
        c.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


def _project(root: Path, section: str) -> Project:
    write_toml(
        root,
        '[project]\nname = "t"\n[[sources]]\npath = "incoming"\n'
        '[dataset]\nname = "d"\nkey = ["id"]\nsettle_seconds = 0\n'
        '[engine]\nthreads = 1\nmemory_limit = "256MB"\n',
    )
    use_records(root, section)
    put(root / "incoming/a.csv", "id,x\n1,10\n2,20\n")
    project = Project.open(root)
    assert project.ingest().dataset_version == 1
    put(root / "incoming/b.csv", "id,x\n3,30\n4,40\n")
    return project


@pytest.mark.parametrize("stage", ["write", "publish"])
def test_a_database_that_goes_away_mid_ingest_fails_it_cleanly(
    tmp_path: Path, pg_server: str, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    from headwater.cli import app

    section = _pg_database(pg_server)
    database = section.rsplit("/", 1)[1].split('"', 1)[0]
    project = _project(tmp_path, section)
    v1 = sorted(tuple(r.values()) for r in project.read(1).to_pylist())
    ingest_before = max(r["id"] for r in project.history(limit=None))
    project.close()

    class Cutting:  # the CLI's progress display, cutting the database at ``stage``
        def __init__(self, enabled: bool) -> None:
            pass

        def __enter__(self) -> Any:
            def progress(name: str, *_: Any) -> None:
                if name == stage:
                    _cut(pg_server, database)

            return progress

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(app, "_progress", Cutting)
    try:
        out = run_cli("ingest", "-p", str(tmp_path))
    finally:
        _restore(pg_server, database)
    assert out.returncode == 1, out.stderr
    assert "lost the record store" in out.stderr and f"/{database}" in out.stderr
    assert "hint:" in out.stderr and "Traceback" not in out.stderr

    # once it is back: version 1 is still the current one, whole; the dead run is crashed
    again = Project.open(tmp_path)
    assert [v["version"] for v in again.versions()] == [1]
    assert sorted(tuple(r.values()) for r in again.read().to_pylist()) == v1
    result = again.ingest()  # the next writer reconciles the orphan row and does the work
    assert (result.dataset_version, result.rows_added) == (2, 2)
    runs = {r["id"]: r for r in again.history(limit=None)}
    lost = next(i for i in runs if ingest_before < i < result.run_id)
    assert runs[lost]["status"] in ("crashed", "failed")
    assert "running" not in {r["status"] for r in runs.values()}
    # the parts the lost run wrote were swept: every part belongs to a version
    parts = {p.name for p in (tmp_path / "data/d/parts").iterdir()}
    assert len(parts) == 2


SECRET = "s3cret"


def test_a_password_in_the_records_url_is_never_shown(tmp_path: Path) -> None:
    """A server nothing listens on: every command fails, none shows the password, and
    nothing written in the project holds it."""
    write_toml(
        tmp_path,
        '[project]\nname = "t"\n[[sources]]\npath = "incoming"\n[dataset]\nname = "d"\n'
        f'[records]\nurl = "postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x"\n',
    )
    (tmp_path / "incoming").mkdir()
    for command in (
        ["ingest"],
        ["history"],
        ["show", "1"],
        ["diagnostics"],
        ["versions"],
        ["records", "migrate"],
        ["history", "--format", "json"],
    ):
        out = run_cli(*command, "-p", str(tmp_path))
        assert out.returncode != 0, (command, out.stdout)
        assert SECRET not in out.stdout + out.stderr, command
        assert "u:***@127.0.0.1:1/x" in out.stderr, (command, out.stderr)
        assert "cannot reach the record store" in out.stderr, (command, out.stderr)
        assert "records.db" not in out.stderr  # the hint is about the server, not a file
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.name != "headwater.toml":
            assert SECRET.encode() not in f.read_bytes(), f
