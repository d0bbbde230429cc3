"""``[records] schema`` (#18): one PostgreSQL schema per project, created if missing; two
projects on one database do not see each other's runs, nor share a lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headwater import ConfigError, Project
from tests.conftest import _pg_database, put, run_cli, write_toml
from tests.test_startup import HEAVY, SCRIPT

BASE = (
    '[project]\nname = "t"\n[[sources]]\npath = "incoming"\n'
    '[dataset]\nname = "d"\nsettle_seconds = 0\n'
    '[engine]\nthreads = 1\nmemory_limit = "256MB"\n'
)


def _url(section: str) -> str:
    return section.split('url = "', 1)[1].split('"', 1)[0]


def _project(root: Path, url: str, schema: str | None) -> Project:
    records = f'[records]\nurl = "{url}"\n' + (f'schema = "{schema}"\n' if schema else "")
    write_toml(root, BASE + records)
    (root / "incoming").mkdir(exist_ok=True)
    return Project.open(root)


def _tables(url: str) -> dict[str, set[str]]:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as c:
        rows = c.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for schema, name in rows:
        out.setdefault(schema, set()).add(name)
    return out


def test_two_projects_in_two_schemas_of_one_database_are_apart(tmp_path: Path, pg_server: str):
    url = _url(_pg_database(pg_server))
    risk = _project(tmp_path / "risk", url, "risk")
    ops = _project(tmp_path / "ops", url, "ops")
    put(tmp_path / "risk/incoming/a.csv", "id,x\n1,2\n2,3\n")
    assert risk.ingest().dataset_version == 1
    # another project's lock is not the one risk's writer takes
    with ops.writer("gc"), risk.writer("ingest"):
        pass
    tables = _tables(url)
    assert {"runs", "versions", "alembic_version"} <= tables["risk"] == tables["ops"]
    assert "public" not in tables  # nothing outside the projects' schemas
    assert [r["kind"] for r in risk.history(limit=None)] == ["ingest", "ingest"]
    migrated = run_cli("records", "migrate", "-p", str(tmp_path / "ops"))
    assert migrated.returncode == 0 and "(schema ops): at revision" in migrated.stdout
    assert [r["kind"] for r in ops.history(limit=None)] == ["gc"]
    assert ops.versions() == [] and [v["version"] for v in risk.versions()] == [1]
    # the fast path (psycopg alone) reads the project's own schema too
    script = SCRIPT.format(root=str(tmp_path / "ops"), cmd="history", heavy=(*HEAVY, "sqlalchemy"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert lines.get("CODE") == "0" and lines.get("HEAVY") == "", out.stderr
    assert "gc" in out.stdout and "ingest" not in out.stdout


@pytest.mark.parametrize("bad", ["Risk", "risk-2", "1risk", "pg_risk", "a;drop", "x" * 64, ""])
def test_a_schema_that_is_not_a_plain_identifier_is_refused(tmp_path: Path, bad: str):
    write_toml(tmp_path, BASE + f'[records]\nurl = "postgresql+psycopg://h/db"\nschema = "{bad}"\n')
    with pytest.raises(ConfigError, match=r"schema") as info:
        Project.open(tmp_path)
    assert repr(bad) in str(info.value) and info.value.hint


def test_records_copy_refuses_a_schema_for_sqlite(tmp_path: Path):
    write_toml(tmp_path, BASE)
    out = run_cli(
        "records",
        "copy",
        "--to",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--schema",
        "risk",
        "-p",
        str(tmp_path),
    )
    assert out.returncode == 2 and "PostgreSQL" in out.stderr, out.stderr
    assert not (tmp_path / "x.db").exists()
    bad = run_cli(
        "records", "copy", "--to", "postgresql+psycopg://h/db", "--schema", "a;drop",
        "-p", str(tmp_path),
    )  # fmt: skip
    assert bad.returncode == 2 and "'a;drop'" in bad.stderr and "lowercase" in bad.stderr


def test_a_schema_on_sqlite_is_refused(tmp_path: Path):
    write_toml(tmp_path, BASE + '[records]\nschema = "risk"\n')
    out = run_cli("history", "-p", str(tmp_path))
    assert out.returncode == 2
    assert "schema" in out.stderr and "PostgreSQL" in out.stderr


def test_records_copy_into_a_schema(tmp_path: Path, pg_server: str):
    root = tmp_path / "p"
    write_toml(root, BASE)
    put(root / "incoming/a.csv", "id,x\n1,2\n")
    p = Project.open(root)
    p.ingest()
    before = [(r["id"], r["kind"], r["status"]) for r in p.history(limit=None)]
    url = _url(_pg_database(pg_server))
    out = run_cli("records", "copy", "--to", url, "--schema", "risk", "-p", str(root))
    assert out.returncode == 0, out.stderr
    assert "runs" in _tables(url)["risk"] and "public" not in _tables(url)
    assert "schema risk" in out.stdout and "[records] url and schema" in out.stdout
    on_pg = _project(root, url, "risk")  # the same project, pointed at the copy
    after = [(r["id"], r["kind"], r["status"]) for r in on_pg.history(limit=None)]
    assert after[1:] == before and after[0][1:] == ("records-copy", "ok")
    put(root / "incoming/b.csv", "id,x\n5,6\n")
    assert on_pg.ingest().run_id == after[0][0] + 1  # the schema's sequences moved on
