"""kill -9 of a real ingest process at several points loses nothing.

The previous version stays readable and intact, and the next run completes the work with
the same result as an uninterrupted run.
"""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headwater import Project
from tests.conftest import age, put, write_toml

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from headwater import Project
    root, point = sys.argv[1], sys.argv[2]
    def progress(stage, done, total, detail):
        if stage == point:
            os.kill(os.getpid(), signal.SIGKILL)
    Project.open(root).ingest(progress=progress)
    """
)

POINTS = ["hash", "read", "clean", "dedup", "write", "publish", "published"]


def _scenario(root: Path, records: str = "") -> Project:
    write_toml(
        root,
        '[[sources]]\npath = "in"\n[dataset]\nname = "d"\nkey = ["k"]\nsettle_seconds = 0\n'
        '[engine]\nthreads = 1\nmemory_limit = "256MB"\n' + records,
    )
    put(root / "in/a.csv", "k,v\n1,a\n2,b\n3,c\n")
    put(root / "in/b.csv", "k,v\n4,d\n")
    project = Project.open(root)
    project.ingest()
    # the second batch: a new file that upserts, and a changed file
    put(root / "in/c.csv", "k,v\n2,B\n5,e\n")
    f = put(root / "in/b.csv", "k,v\n4,D\n6,f\n")
    age(f, 100)
    return project


def _rows(project: Project, version=None):
    return sorted(tuple(r.values()) for r in project.read(version).to_pylist())


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    p = _scenario(tmp_path_factory.mktemp("clean"))
    p.ingest()
    return _rows(p)


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_any_point_loses_nothing(tmp_path, expected, point, records_backend):
    project = _scenario(tmp_path, records_backend)
    before = _rows(project, 1)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), point],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # the previous version is intact whatever happened
    assert _rows(project, 1) == before
    current = project.versions()[0]["version"]
    assert current in (1, 2)
    if point != "published":
        assert current == 1, "a killed run must not publish"
    result = project.ingest()
    assert _rows(project) == expected
    crashed = [r for r in project.history() if r["status"] == "crashed"]
    if point == "published":
        # killed after the commit: the run had already recorded its end; only the
        # manifest was missing, and the next writer wrote it
        assert not result.recovered_runs and not crashed
    else:
        assert result.recovered_runs == [crashed[0]["id"]] and len(crashed) == 1
    # every part on disk belongs to a committed version
    parts = {p.name for p in (tmp_path / "data/d/parts").iterdir()}
    recorded = {
        Path(part).name
        for v in project.versions()
        for part in __import__("json").loads(
            (tmp_path / f"data/d/versions/v{v['version']:06d}.json").read_text()
        )["parts"]
    }
    assert parts == recorded
