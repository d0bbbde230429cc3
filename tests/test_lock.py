"""The project lock: one writer at a time, dead writers recovered, skips recorded."""

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from headwater import LockError, Project
from tests.conftest import use_records

WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    from headwater import Project, LockError
    root, log, wait, hold = sys.argv[1], sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])
    p = Project.open(root)
    try:
        with p.writer("ingest", wait=wait) as run:
            start = time.time()
            time.sleep(hold)
            with open(log, "a") as fh:
                fh.write(json.dumps({"run": run.id, "start": start, "end": time.time()}) + "\\n")
    except LockError as exc:
        with open(log, "a") as fh:
            fh.write(json.dumps({"skipped": exc.run_id}) + "\\n")
    """
)

DIE = textwrap.dedent(
    """
    import os, signal, sys
    from headwater import Project
    p = Project.open(sys.argv[1])
    with p.writer("ingest") as run:
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )


def test_concurrent_writers_never_overlap_when_waiting(tmp_path: Path, records_backend: str):
    Project.init(tmp_path / "p")
    use_records(tmp_path / "p", records_backend)
    log = tmp_path / "log.jsonl"
    procs = [_spawn(WRITER, str(tmp_path / "p"), str(log), "1", "0.3") for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    spans = sorted((e["start"], e["end"]) for e in map(json.loads, log.read_text().splitlines()))
    assert len(spans) == 4
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "two writers held the lock at the same time"


def test_second_writer_skips_at_once_and_is_recorded(tmp_path: Path, records_backend: str):
    Project.init(tmp_path / "p")
    use_records(tmp_path / "p", records_backend)
    project = Project.open(tmp_path / "p")
    log = tmp_path / "log.jsonl"
    holder = _spawn(WRITER, str(tmp_path / "p"), str(log), "0", "3")
    # the holder has described itself: lock.json, or its session on PostgreSQL
    lock = project.workspace._project_lock()
    deadline = time.time() + 30
    while not lock.holder().get("kind" if records_backend else "run_id"):
        assert time.time() < deadline, "the first writer never took the lock"
        time.sleep(0.05)
    t0 = time.time()
    with pytest.raises(LockError) as info, project.writer("ingest"):
        pytest.fail("second writer proceeded while the first held the lock")
    assert time.time() - t0 < 2
    assert "busy" in str(info.value) and "pid" in str(info.value)
    assert "run " in str(info.value) and "(ingest" in str(info.value)  # names the holder
    assert holder.wait(timeout=60) == 0
    skipped = project.records.run(info.value.run_id)
    assert skipped["status"] == "skipped"
    assert "holds the lock" in skipped["note"]


def test_killed_writer_lock_and_running_row_are_recovered(tmp_path: Path, records_backend: str):
    Project.init(tmp_path / "p")
    use_records(tmp_path / "p", records_backend)
    project = Project.open(tmp_path / "p")
    proc = _spawn(DIE, str(tmp_path / "p"))
    dead_run = int(proc.stdout.readline())
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert project.records.run(dead_run)["status"] == "running"
    with project.writer("ingest") as run:
        assert run.recovered == [dead_run]
    crashed = project.records.run(dead_run)
    assert crashed["status"] == "crashed"
    assert f"found by run {run.id}" in crashed["note"]
    assert project.records.run(run.id)["status"] == "ok"


def test_failed_writer_is_recorded_and_releases_the_lock(tmp_path: Path, records_backend: str):
    Project.init(tmp_path / "p")
    use_records(tmp_path / "p", records_backend)
    project = Project.open(tmp_path / "p")
    with pytest.raises(RuntimeError), project.writer("ingest"):
        raise RuntimeError("boom")
    last = project.history(limit=1)[0]
    assert last["status"] == "failed" and "boom" in last["error"]
    with project.writer("ingest"):
        pass
    # the lock follows the records: a file beside them, or PostgreSQL's advisory lock
    assert os.path.exists(tmp_path / "p" / ".headwater" / "lock") != bool(records_backend)


def test_on_postgresql_the_lock_holds_across_project_folders(tmp_path: Path, pg_server: str):
    """Two hosts: two folders (two file locks) sharing one record store on PostgreSQL —
    the advisory lock in the records makes them one project with one writer."""
    from tests.conftest import _pg_database

    section = _pg_database(pg_server)
    for host in ("a", "b"):
        Project.init(tmp_path / host)
        use_records(tmp_path / host, section)
    a, b = Project.open(tmp_path / "a"), Project.open(tmp_path / "b")
    with a.writer("ingest") as run:
        with pytest.raises(LockError) as refused, b.writer("ingest"):
            pytest.fail("a second folder's writer got in while the first held the lock")
        assert f"run {run.id} (ingest" in str(refused.value)
    with b.writer("ingest") as later:  # free again once the first ended
        assert later.recovered == []
    skipped = b.records.run(refused.value.run_id)
    assert skipped["status"] == "skipped" and f"run {run.id}" in skipped["note"]
