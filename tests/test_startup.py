"""A command with nothing to do must not import the heavy libraries."""

import subprocess
import sys

from headwater import Project

HEAVY = ("ibis", "duckdb", "pandas", "sklearn", "pyarrow", "numpy", "alembic")

SCRIPT = """
import sys
from headwater.cli import main
sys.argv = ["headwater", "--project", {root!r}, {cmd!r}]
code = main()  # the exit code, returned
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY=" + ",".join(heavy))
print("CODE=" + str(code))
"""


def _run(root, cmd):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root=str(root), cmd=cmd, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return lines, out


def test_history_and_versions_do_not_import_heavy_libraries(tmp_path):
    Project.init(tmp_path / "p")
    for cmd in ("history", "versions"):
        lines, out = _run(tmp_path / "p", cmd)
        assert lines.get("CODE") == "0", out.stderr
        assert lines.get("HEAVY") == "", f"{cmd} imported {lines.get('HEAVY')}"


def test_history_reads_the_records_without_sqlalchemy(tmp_path):
    # history is the command people run most: it reads SQLite with the standard library
    project = Project.init(tmp_path / "p")
    with project.writer("ingest"):
        pass
    script = SCRIPT.format(root=str(tmp_path / "p"), cmd="history", heavy=(*HEAVY, "sqlalchemy"))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert lines.get("CODE") == "0", out.stderr
    assert lines.get("HEAVY") == "", lines.get("HEAVY")
    assert "ingest" in out.stdout


def test_history_on_postgresql_reads_without_sqlalchemy_too(tmp_path, pg_server):
    from tests.conftest import _pg_database, use_records

    project = Project.init(tmp_path / "p")
    use_records(tmp_path / "p", _pg_database(pg_server))
    with Project.open(tmp_path / "p").writer("ingest"):
        pass
    script = SCRIPT.format(root=str(tmp_path / "p"), cmd="history", heavy=(*HEAVY, "sqlalchemy"))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert lines.get("CODE") == "0", out.stderr
    assert lines.get("HEAVY") == "", lines.get("HEAVY")
    assert "ingest" in out.stdout
    del project


def test_importing_headwater_is_light():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, headwater; print([m for m in {HEAVY!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
