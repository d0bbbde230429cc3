"""headwater run's guarantees (#14): kill -9 at each step loses nothing, and a step that
fails is recorded with its step and leaves production as it was.

The scenario: a first batch deployed model v1; the second batch flips the label, so the
next run ingests it, finds drift, retrains and promotes v2 through the gate. A real
process runs that loop and kills itself with SIGKILL when a given progress stage starts;
the next run must leave the records consistent and reach the end state of an
uninterrupted run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import Project
from tests.conftest import put, write_toml
from tests.loop.test_loop import MODEL, rows

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from headwater import Project
    root, point = sys.argv[1], sys.argv[2]
    stage, _, done = point.partition(":")
    def progress(name, at, total, detail):
        if name == stage and (not done or at == int(done)):
            os.kill(os.getpid(), signal.SIGKILL)
    Project.open(root).run(progress=progress)
    """
)

# where the loop dies: while the ingest reads (nothing committed), while production is
# scored (the ingest committed), while the candidate is fitted, once its files are written
# (not yet registered), while the gate compares it, right after the pointer moved
POINTS = ["read", "score", "fit", "save:1", "gate", "promoted"]

TOML = (
    '[project]\nname = "t"\n[[sources]]\npath = "incoming"\n'
    '[dataset]\nname = "d"\nkey = ["id"]\nsettle_seconds = 0\n'
    '[engine]\nthreads = 1\nmemory_limit = "256MB"\n'
)


def _scenario(root: Path, extra: str = "") -> Project:
    """Model v1 in production, and a drifting second batch waiting in the source."""
    write_toml(root, TOML + MODEL + extra)
    put(root / "incoming/a.csv", rows(200))
    project = Project.open(root)
    assert project.run().status == "deployed"
    put(root / "incoming/b.csv", rows(300, start=10_000, seed=2, flip=True))
    return project


def _rows(project: Project, version: int | None = None) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in project.read(version).to_pylist())


def _production(project: Project) -> dict[str, Any]:
    """What production is: its version and what it was trained on and scored."""
    info = project.models()
    version = info["production_version"]
    row = next(m for m in info["models"] if m["version"] == version)
    return {
        "version": version,
        "dataset_version": row["dataset_version"],
        "score": row["score"],
        "test_rows": row["test_rows"],
    }


def _table(project: Project, table: sa.Table) -> list[dict[str, Any]]:
    with project.workspace.records.read() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The end state of the same scenario, uninterrupted (and idempotent: a second run on
    the same inputs is ``no_new_data`` and changes nothing)."""
    from headwater.records import schema as rs

    p = _scenario(tmp_path_factory.mktemp("clean"))
    r = p.run()
    assert r.status == "deployed" and r.production_version == 2, r.reason
    state = {"rows": _rows(p), "production": _production(p), "versions": p.versions()}
    tables = [rs.versions, rs.models, rs.production, rs.promotions, rs.drift_checks]
    before = [_table(p, t) for t in tables]
    runs = len(p.history(limit=None))
    again = p.run()
    state["again"] = {
        "result": again,
        "before": before,
        "after": [_table(p, t) for t in tables],
        "new_runs": len(p.history(limit=None)) - runs,
    }
    return state


def test_a_second_run_on_the_same_inputs_is_no_new_data_and_changes_nothing(
    expected: dict[str, Any],
) -> None:
    again = expected["again"]
    r = again["result"]
    assert (r.status, r.files_new, r.ingest_run_id, r.candidate) == ("no_new_data", 0, None, None)
    assert r.production_version == expected["production"]["version"]
    assert again["after"] == again["before"]  # dataset, registry and checks untouched
    assert again["new_runs"] == 1  # the run itself, no child run


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from headwater import Project
    root, point = Path(sys.argv[1]), sys.argv[2]
    def progress(name, at, total, detail):
        if name == point and not (root / "go").exists():
            (root / "holding").write_text("")
            while not (root / "go").exists():
                time.sleep(0.05)
    print(Project.open(root).run(progress=progress).status)
    """
)


def test_a_run_while_another_run_works_is_skipped_and_says_who(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    project = _scenario(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), "score"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(2400):  # the holder is scoring, under the lock
            if (tmp_path / "holding").exists() or holder.poll() is not None:
                break
            time.sleep(0.05)
        assert (tmp_path / "holding").exists(), holder.communicate()
        busy = max(r["id"] for r in project.history(limit=None, kind="run"))
        out = run_cli("run", "-p", str(tmp_path))
        assert out.returncode == 2
        who = f"run {busy} (run, pid {holder.pid}"
        assert "busy" in out.stderr and who in out.stderr
        skipped = _last_run(project)
        assert skipped["status"] == "skipped" and who in skipped["note"]
    finally:
        (tmp_path / "go").write_text("")
        stdout, stderr = holder.communicate(timeout=180)
    assert holder.returncode == 0 and stdout.split() == ["deployed"], stderr
    assert project.workspace.records.run(busy)["status"] == "deployed"  # not disturbed


# on PostgreSQL, the steps whose commits go through the records the most: the ingest
# committed (scoring), the candidate saved, the pointer moved (the whole matrix would
# double the file's time for steps the records take no part in)
PG_POINTS = ["score", "save:1", "promoted"]


@pytest.mark.parametrize(
    ("point", "backend"),
    [(p, "sqlite") for p in POINTS] + [(p, "postgresql") for p in PG_POINTS],
)
def test_kill_9_of_a_run_at_any_step_loses_nothing(
    tmp_path: Path,
    expected: dict[str, Any],
    point: str,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    from headwater import registry
    from headwater.records import schema as rs

    records = ""
    if backend == "postgresql":
        from tests.conftest import _pg_database

        records = _pg_database(request.getfixturevalue("pg_server"))
    project = _scenario(tmp_path, records)
    v1 = _rows(project, 1)
    checks_before = len(_table(project, rs.drift_checks))
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), point],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    # the dataset: version 1 intact; version 2 only once the ingest committed, and whole
    assert _rows(project, 1) == v1
    current = project.versions()[0]["version"]
    assert current == (1 if point == "read" else 2)
    if current == 2:
        assert _rows(project) == expected["rows"]
    # the registry: the old production, or the new one once the pointer moved; its files load
    production = project.models()["production_version"]
    assert production == (2 if point == "promoted" else 1)
    registry.load_model(project.workspace, production)
    assert len(_table(project, rs.drift_checks)) == checks_before  # the dead run checked nothing
    dead = max(r["id"] for r in project.history(limit=None, kind="run"))
    assert project.workspace.records.run(dead)["status"] == "running"  # until a writer looks

    result = project.run()

    # the records: the dead run, and every child it did not finish, are crashed
    runs = {r["id"]: r for r in project.history(limit=None)}
    assert runs[dead]["status"] == "crashed"
    children = {r["kind"]: r["status"] for r in runs.values() if r.get("parent_id") == dead}
    assert children["ingest"] == ("crashed" if point == "read" else "ok")
    if point in ("fit", "save:1", "gate", "promoted"):
        assert children["train"] == ("ok" if point == "promoted" else "crashed")
    else:
        assert "train" not in children
    assert "running" not in {r["status"] for r in runs.values()}
    # the next run finishes the work: rows the dead run ingested are checked, not re-read
    if point == "read":
        assert (result.files_new, result.rows_added) == (1, 300)
    else:
        assert (result.files_new, result.rows_added, result.rows_checked) == (0, 0, 300)
    dead_ingest = next(
        r["id"] for r in runs.values() if r.get("parent_id") == dead and r["kind"] == "ingest"
    )
    [check] = [c for c in _table(project, rs.drift_checks) if c["run_id"] == result.run_id]
    if point != "read":
        assert check["ingest_from"] < dead_ingest <= check["ingest_through"]
    # `show` of the dead run says what its finished child runs did, and claims no more
    story = " ".join(project.run_record(dead)["story"])
    if point == "read":
        assert "Nothing it wrote was published" in story
    else:
        assert f"run {dead_ingest} (ingest, ok)" in story
        assert "Nothing it wrote was published" not in story
    # ... and reaches the same end state as an uninterrupted run
    assert _rows(project) == expected["rows"]
    assert [v["rows"] for v in project.versions()] == [v["rows"] for v in expected["versions"]]
    end = _production(project)
    registry.load_model(project.workspace, end["version"])
    if point == "gate":
        # the dead run's candidate (v2) is registered and stays a candidate; the next run
        # trained the same model again as v3 and promoted that
        assert end == {**expected["production"], "version": 3}
        models = {m["version"]: m["status"] for m in project.models()["models"]}
        assert models == {1: "promoted", 2: "candidate", 3: "promoted"}
    else:
        assert end == expected["production"]
    if point == "promoted":
        assert result.status == "no_drift", result.reason  # v2 knows these rows
    else:
        assert result.status == "deployed", result.reason
    # every part on disk belongs to a committed version; every model folder to a record
    parts = {p.name for p in (tmp_path / "data/d/parts").iterdir()}
    recorded = {
        Path(part).name
        for v in project.versions()
        for part in json.loads(
            (tmp_path / f"data/d/versions/v{v['version']:06d}.json").read_text()
        )["parts"]
    }
    assert parts == recorded
    folders = {p.name for p in (tmp_path / "models").iterdir() if p.is_dir()}
    assert folders == {f"v{m['version']:04d}" for m in project.models()["models"]}


# -- a step that fails ------------------------------------------------------------------


def _last_run(project: Project) -> dict[str, Any]:
    return project.history(limit=1, kind="run")[0]


def test_an_ingest_that_fails_is_recorded_with_its_step(tmp_path: Path) -> None:
    project = _scenario(tmp_path)
    (tmp_path / "incoming/b.csv").unlink()
    put(tmp_path / "incoming/bad.csv", "id,a\n1,2,3\n")  # every new file fails
    r = project.run()
    assert (r.status, r.step) == ("failed", "ingest")
    run = _last_run(project)
    assert run["status"] == "failed" and run["summary"]["step"] == "ingest"
    assert "the ingest achieved nothing" in run["summary"]["reason"]
    assert project.models()["production_version"] == 1
    assert [v["version"] for v in project.versions()] == [1]


@pytest.mark.parametrize("damage", ["removed", "corrupted"])
def test_a_production_model_that_cannot_be_loaded_fails_the_score_step(
    tmp_path: Path, damage: str
) -> None:
    from headwater.errors import RegistryError

    project = _scenario(tmp_path)
    model = tmp_path / "models/v0001/model.skops"
    good = model.read_bytes()
    if damage == "removed":
        model.unlink()
    else:
        model.write_bytes(good[: len(good) // 2])
    with pytest.raises(RegistryError, match="model v1"):
        project.run()
    run = _last_run(project)
    assert run["status"] == "failed" and "model v1" in run["error"]
    s = run["summary"]
    assert (s["status"], s["step"], s["stage"]) == ("failed", "score", "score")
    assert s["ingest_run_id"] is not None and s["rows_added"] == 300  # what it did is kept
    assert "score" in s["reason"] and "model v1" in s["reason"]
    assert project.models()["production_version"] == 1
    assert [m["version"] for m in project.models()["models"]] == [1]
    # once the file is restored, the next run checks the rows the failed run ingested
    model.write_bytes(good)
    r = project.run()
    assert (r.status, r.files_new, r.rows_checked, r.step) == ("deployed", 0, 300, None)


def test_a_train_that_cannot_fit_fails_the_train_step(tmp_path: Path) -> None:
    from headwater.errors import TrainError

    project = _scenario(tmp_path)
    broken = Project.open(tmp_path, env={"HEADWATER_MODEL__PARAMS": "{ C = -1.0 }"})
    with pytest.raises(TrainError, match="fitting"):
        broken.run()
    run = _last_run(project)
    s = run["summary"]
    assert run["status"] == "failed" and (s["step"], s["stage"]) == ("train", "fit")
    assert s["drift"]["detected"] is True  # the check that led to the retrain is kept
    [train] = [r for r in project.history(limit=None) if r.get("parent_id") == run["id"]
               and r["kind"] == "train"]  # fmt: skip
    assert train["status"] == "failed"
    assert project.models()["production_version"] == 1
    assert [m["version"] for m in project.models()["models"]] == [1]
    r = project.run()  # the configuration fixed: the rows are still checked, and retrained on
    assert (r.status, r.files_new, r.rows_checked) == ("deployed", 0, 300)


def test_a_gate_that_refuses_is_recorded_with_its_step(tmp_path: Path) -> None:
    write_toml(tmp_path, TOML + MODEL + "\n[deploy]\nmin_score = 0.99\n")
    put(tmp_path / "incoming/a.csv", rows(200))
    project = Project.open(tmp_path)
    r = project.run()
    assert (r.status, r.step, r.production_version) == ("rejected", "gate", None)
    run = _last_run(project)
    assert run["status"] == "rejected" and run["summary"]["step"] == "gate"
    assert "misses min_score" in run["summary"]["reason"]
    assert [m["status"] for m in project.models()["models"]] == ["rejected"]
