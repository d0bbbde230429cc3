"""The Workspace: writers that compose into child runs, one engine per workspace, a lock
that never declares a live run dead."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from headwater import HeadwaterError, LockError, Project, TrainError
from tests.conftest import put

MODEL = """
[model]
target = "label"
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 200 }
test_fraction = 0.3
"""


def _rows(n: int, start: int = 0) -> str:
    lines = ["id,x,y,label"]
    for i in range(start, start + n):
        lines.append(f"{i},{i % 17},{(i * 7) % 11},{int(i % 17 > 8)}")
    return "\n".join(lines) + "\n"


def test_ingest_train_deploy_under_one_parent_writer_are_child_runs(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL)
    put(tmp_path / "incoming" / "a.csv", _rows(300))
    with p.writer("run") as parent:
        ingested = p.ingest()
        p.train()
        p.deploy()
    assert ingested.status == "ok" and ingested.rows_added == 300
    runs = {r["id"]: r for r in p.history(limit=None)}
    outer = runs[parent.id]
    assert outer["kind"] == "run" and outer["status"] == "ok"
    assert outer.get("parent_id") is None
    children = sorted(
        (r for r in runs.values() if r.get("parent_id") == parent.id), key=lambda r: r["id"]
    )
    assert [c["kind"] for c in children] == ["ingest", "train", "deploy"]
    assert all(c["status"] == "ok" for c in children)
    assert children[0]["id"] == ingested.run_id
    # nothing else was recorded: no skipped run, no failed run
    assert len(runs) == 4
    # the same engine served every stage, and none of their tables outlived the stage
    engine = p.workspace.engine()
    assert engine.temp_tables() == set()
    p.close()


def test_a_failing_child_fails_the_parent_unless_the_parent_handles_it(make_project):
    p = make_project()
    with pytest.raises(HeadwaterError), p.writer("run") as unhandled:
        p.train()  # no [model]: the stage refuses, and the parent fails with it
    assert p.records.run(unhandled.id)["status"] == "failed"

    with pytest.raises(TrainError), p.writer("run") as parent, p.writer("train") as child:
        raise TrainError("the child failed")
    assert p.records.run(child.id)["status"] == "failed"
    assert p.records.run(child.id)["parent_id"] == parent.id
    assert p.records.run(parent.id)["status"] == "failed"

    with p.writer("run") as handled:
        try:
            with p.writer("train") as child2:
                raise TrainError("handled by the parent")
        except TrainError:
            pass
    assert p.records.run(child2.id)["status"] == "failed"
    assert p.records.run(handled.id)["status"] == "ok"


def test_interrupt_in_a_child_marks_both_interrupted(make_project):
    p = make_project()
    with pytest.raises(KeyboardInterrupt), p.writer("run") as parent, p.writer("ingest") as child:
        raise KeyboardInterrupt
    assert p.records.run(child.id)["status"] == "interrupted"
    assert p.records.run(parent.id)["status"] == "interrupted"


HOLD = textwrap.dedent(
    """
    import sys, time
    from headwater import Project
    p = Project.open(sys.argv[1])
    with p.writer("run") as run:
        print(run.id, flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(root: Path, seconds: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def test_another_process_is_refused_while_a_parent_writer_holds_the_lock(tmp_path):
    project = Project.init(tmp_path / "p")
    proc, held = _hold(tmp_path / "p", 3)
    try:
        with pytest.raises(LockError) as info, project.writer("ingest"):
            pytest.fail("a second process got the lock")
        assert project.records.run(info.value.run_id)["status"] == "skipped"
        assert f"run {held}" in str(info.value)
    finally:
        assert proc.wait(timeout=60) == 0
    assert project.records.run(held)["status"] == "ok"


def test_lock_description_is_removed_when_the_writer_ends(tmp_path):
    project = Project.init(tmp_path / "p")
    info = tmp_path / "p" / ".headwater" / "lock.json"
    with project.writer("ingest") as run:
        assert json.loads(info.read_text())["run_id"] == run.id
    assert not info.exists()


def test_a_deleted_lock_file_never_makes_a_live_run_crashed(tmp_path):
    project = Project.init(tmp_path / "p")
    proc, held = _hold(tmp_path / "p", 4)
    try:
        (tmp_path / "p" / ".headwater" / "lock").unlink()
        with pytest.raises(LockError) as info, project.writer("ingest"):
            pytest.fail("a second writer went ahead beside a live one")
        assert "still running" in str(info.value)
        assert project.records.run(held)["status"] == "running"
        assert project.records.run(info.value.run_id)["status"] == "skipped"
    finally:
        assert proc.wait(timeout=60) == 0
    assert project.records.run(held)["status"] == "ok"
    # and once it is gone, writers go on as usual
    with project.writer("ingest") as run:
        assert run.recovered == []


def test_a_reused_pid_is_not_taken_for_the_run_that_died(tmp_path):
    from headwater._lock import process_alive

    # this process started before now: alive for a run started now, dead for a run that
    # started before the process did (its pid was reused)
    assert process_alive(_pid(), time_iso(time.time()))
    assert not process_alive(_pid(), time_iso(time.time() - 10 * 365 * 86400))
    assert not process_alive(2**22 + 12345, None)  # above pid_max: no such process


def _pid() -> int:
    import os

    return os.getpid()


def time_iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def test_an_engine_handed_in_is_used_and_never_closed(make_project, tmp_path):
    from headwater.engines import connect

    p0 = make_project()
    engine = connect(p0.config.engine, p0.root)
    p = Project(p0.config, engine=engine)
    put(tmp_path / "incoming" / "a.csv", "id,v\n1,2\n")
    assert p.ingest().rows_added == 1
    assert p.workspace.engine() is engine
    p.close()
    assert engine.raw.execute("SELECT 42").fetchall() == [(42,)]  # still open
    engine.close()
