"""Crash reconciliation follows the lock (#18 item 2): on PostgreSQL a run left ``running``
is marked ``crashed`` only when the project's lock is free — never by its pid, which means
nothing on another host (or in another container with the same host name)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import LockError, Project
from headwater.records import schema as rs
from tests.conftest import _pg_database, use_records

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

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from headwater import Project
    p = Project.open(sys.argv[1])
    go = Path(sys.argv[2])
    with p.writer("ingest") as run:
        print(run.id, flush=True)
        while not go.exists():
            time.sleep(0.05)
    """
)


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )


def _set_pid(project: Project, run_id: int, pid: int) -> None:
    with project.workspace.records.write() as conn:
        conn.execute(sa.update(rs.runs).where(rs.runs.c.id == run_id).values(pid=pid))


def test_a_killed_run_whose_pid_lives_here_is_crashed_once_the_lock_is_free(
    tmp_path: Path, pg_server: str
) -> None:
    """The dead writer's pid now names a live process on this host (pid reuse, or another
    container with the same host name): the free advisory lock proves it dead all the same."""
    Project.init(tmp_path / "p")
    use_records(tmp_path / "p", _pg_database(pg_server))
    project = Project.open(tmp_path / "p")
    alive = subprocess.Popen(["sleep", "120"])  # started before the dead run, still alive
    try:
        proc = _spawn(DIE, str(tmp_path / "p"))
        dead = int(proc.stdout.readline())  # type: ignore[union-attr]
        assert proc.wait(timeout=60) == -signal.SIGKILL
        _set_pid(project, dead, alive.pid)
        with project.writer("ingest") as run:
            assert run.recovered == [dead]
    finally:
        alive.kill()
        alive.wait()
    crashed = project.records.run(dead)
    assert crashed["status"] == "crashed" and f"found by run {run.id}" in crashed["note"]


@pytest.mark.parametrize("same_folder", [True, False], ids=["same-folder", "other-host"])
def test_a_live_run_is_not_crashed_by_a_reader_or_a_waiting_writer(
    tmp_path: Path, pg_server: str, same_folder: bool
) -> None:
    """A run in another process (holding the lock) stays ``running`` for every reader and
    for a second writer that waits for the lock; it ends ``ok``, and the waiting writer
    recovers nothing. ``other-host``: a second project folder on the same records, the
    holder's row naming another host."""
    section = _pg_database(pg_server)
    for name in ("a", "b"):
        Project.init(tmp_path / name)
        use_records(tmp_path / name, section)
    go = tmp_path / "go"
    holder = _spawn(HOLD, str(tmp_path / "a"), str(go))
    live = int(holder.stdout.readline())  # type: ignore[union-attr]
    other = Project.open(tmp_path / ("a" if same_folder else "b"))
    if not same_folder:
        with other.workspace.records.write() as conn:
            conn.execute(sa.update(rs.runs).where(rs.runs.c.id == live).values(host="elsewhere"))
    try:
        assert other.history(limit=1)[0]["status"] == "running"  # a reader (fast path)
        assert other.records.run(live)["status"] == "running"
        with pytest.raises(LockError), other.writer("ingest"):
            pytest.fail("a second writer got in while the first held the lock")
        assert other.records.run(live)["status"] == "running"
        time.sleep(0.3)
        go.write_text("")  # the holder ends while the next writer waits
        with other.writer("ingest", wait=True) as run:
            assert run.recovered == []
    finally:
        go.write_text("")
        assert holder.wait(timeout=60) == 0
    assert other.records.run(live)["status"] == "ok"
    assert other.records.run(run.id)["status"] == "ok"


def test_on_sqlite_a_live_pid_still_refuses_a_removed_lock_file(tmp_path: Path) -> None:
    """The file lock can be deleted under a live writer, so on SQLite the pid still counts."""
    Project.init(tmp_path / "p")
    project = Project.open(tmp_path / "p")
    go = tmp_path / "go"
    holder = _spawn(HOLD, str(tmp_path / "p"), str(go))
    try:
        live = int(holder.stdout.readline())  # type: ignore[union-attr]
        (tmp_path / "p/.headwater/lock").unlink()
        with pytest.raises(LockError, match="still running"), project.writer("ingest"):
            pytest.fail("a writer got in beside a live one")
        assert project.records.run(live)["status"] == "running"
    finally:
        go.write_text("")
        assert holder.wait(timeout=60) == 0
