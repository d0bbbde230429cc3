"""headwater run: the loop composed of the stages under one writer, on real data and models."""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import put, run_cli, run_cli_subprocess

MODEL = """
[model]
target = "y"
features = ["a", "b", "color"]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500, random_state = 0 }
metric = "f1"
scale = true
"""


def rows(
    n: int,
    start: int = 0,
    seed: int = 0,
    flip: bool = False,
    shift: float = 0.0,
    noise: float = 0.5,
) -> str:
    """Two numeric features and a colour; ``flip`` inverts the label (model drift),
    ``shift`` moves ``a`` (data drift), ``noise`` is the label noise (0: a batch the model
    scores better on than on its test rows, so the raw test finds no drift)."""
    rng = random.Random(seed)
    out = ["id,a,b,color,y"]
    for i in range(start, start + n):
        a, b = rng.gauss(shift, 1), rng.gauss(0, 1)
        color = rng.choice(["red", "blue"])
        y = int(2 * (a - shift) - b + (0.5 if color == "red" else -0.5) + rng.gauss(0, noise) > 0)
        out.append(f"{i},{a:.4f},{b:.4f},{color},{1 - y if flip else y}")
    return "\n".join(out) + "\n"


@pytest.fixture
def proj(make_project):
    return make_project('key = ["id"]\n', extra=MODEL)


def _runs(p, kind=None):
    return [r for r in p.history(limit=None) if kind is None or r["kind"] == kind]


def test_nothing_new_is_no_new_data_with_no_child_run(proj):
    r = proj.run()
    assert (r.status, r.production_version, r.files_new) == ("no_new_data", None, 0)
    [run] = _runs(proj)
    assert (run["kind"], run["status"]) == ("run", "no_new_data")
    assert run["summary"]["status"] == "no_new_data"


def test_first_data_trains_and_deploys_the_first_model(proj, tmp_path):
    put(tmp_path / "incoming/a.csv", rows(600))
    r = proj.run()
    assert r.status == "deployed" and r.production_version == 1
    assert r.files_new == 1 and r.rows_added == 600
    assert r.candidate["model_version"] == 1 and r.candidate["promoted"] is True
    runs = _runs(proj)
    parent = next(x for x in runs if x["kind"] == "run")
    children = [x for x in runs if x.get("parent_id") == parent["id"]]
    assert sorted(x["kind"] for x in children) == ["ingest", "train"]
    assert parent["status"] == "deployed"
    # the same inputs again: nothing new, nothing changes
    again = proj.run()
    assert again.status == "no_new_data" and again.production_version == 1
    assert proj.models()["production_version"] == 1


def test_cli_run_exit_codes_and_json(proj, tmp_path):
    out = run_cli("run", "--format", "json", "-p", str(tmp_path))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("run_id", "status", "files_new", "rows_added", "drift", "data_drift",
                "candidate", "production_version", "drift_unresolved"):  # fmt: skip
        assert key in data
    assert data["status"] == "no_new_data"
    put(tmp_path / "incoming/bad.csv", "id,a\n1,2,3\n")  # every file fails: nothing achieved
    failed = run_cli("run", "-p", str(tmp_path))
    assert failed.returncode == 1 and "failed" in failed.stdout + failed.stderr


def test_a_run_without_a_model_section_says_so(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", rows(10))
    out = run_cli("run", "-p", str(tmp_path))
    assert out.returncode == 2 and "[model]" in out.stderr
    assert p.versions() == []  # nothing was ingested


def test_dry_run_writes_nothing(proj, tmp_path):
    put(tmp_path / "incoming/a.csv", rows(50))
    r = proj.run(dry_run=True)
    assert r.dry_run and r.plan["files_new"] == 1 and "first model" in r.reason
    assert _runs(proj) == [] and proj.versions() == []


def _deployed(proj, tmp_path):
    put(tmp_path / "incoming/a.csv", rows(800))
    assert proj.run().status == "deployed"


def test_a_batch_like_the_training_data_is_no_drift_and_changes_nothing(proj, tmp_path):
    _deployed(proj, tmp_path)
    put(tmp_path / "incoming/b.csv", rows(300, start=10_000, seed=1, noise=0))
    r = proj.run()
    assert r.status == "no_drift", r.reason
    assert r.rows_checked == 300 and r.drift["rows"] == 300 and r.drift["detected"] is False
    assert r.drift["test"] == "raw" and r.drift["baseline"] is not None
    assert set(r.data_drift) == {"a", "b", "color"}
    assert not any(v["detected"] for v in r.data_drift.values()), r.data_drift
    assert r.candidate is None and r.production_version == 1
    assert [m["version"] for m in proj.models()["models"]] == [1]  # nothing trained


def test_a_drifting_batch_retrains_and_promotes_a_better_model(proj, tmp_path):
    _deployed(proj, tmp_path)
    # the world changed: the label flips; production scores badly on the new rows
    put(tmp_path / "incoming/b.csv", rows(1500, start=10_000, seed=2, flip=True))
    r = proj.run()
    assert r.drift["detected"] is True and r.drift["score"] < r.drift["baseline"]
    assert r.candidate is not None and r.candidate["model_version"] == 2
    assert r.status in ("deployed", "rejected")
    story = " ".join(proj.run_record(r.run_id)["story"])
    assert "drift detected" in story and "model v2" in story
    # the check is recorded once, with the ingest run it covered
    again = proj.run()
    assert again.status == "no_new_data"


def test_a_rejected_candidate_leaves_drift_unresolved(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL + "\n[deploy]\ntolerance = 0.0\n")
    put(tmp_path / "incoming/a.csv", rows(800))
    assert p.run().status == "deployed"
    # a retrain cannot help: the new rows are noise the model cannot learn, and the test
    # rows (mostly the old world) judge the candidate; a weak estimator makes it worse
    from headwater import Project

    weak = Project.open(tmp_path, env={"HEADWATER_MODEL__FEATURES": '["color"]'})
    put(tmp_path / "incoming/b.csv", rows(400, start=10_000, seed=3, flip=True))
    r = weak.run()
    assert r.drift["detected"] is True
    assert r.status == "rejected" and r.drift_unresolved is True
    assert r.production_version == 1
    out = run_cli("run", "-p", str(tmp_path))  # nothing new: the flag stays, exit 0
    assert out.returncode == 0
    # models and history say so too
    models = json.loads(run_cli("models", "--format", "json", "-p", str(tmp_path)).stdout)
    assert models["drift_unresolved"] is True
    assert "drift unresolved" in run_cli("models", "-p", str(tmp_path)).stderr
    assert "drift unresolved" in run_cli("history", "-p", str(tmp_path)).stderr
    assert p.drift_unresolved() is True
    # a later batch without drift on production resolves it
    put(tmp_path / "incoming/c.csv", rows(400, start=20_000, seed=4, noise=0))
    later = p.run()
    assert later.status == "no_drift" and later.drift_unresolved is False
    assert p.models()["drift_unresolved"] is False
    assert "drift unresolved" not in run_cli("history", "-p", str(tmp_path)).stderr


def test_rows_of_a_plain_ingest_are_checked_by_the_next_run(proj, tmp_path):
    _deployed(proj, tmp_path)
    put(tmp_path / "incoming/b.csv", rows(200, start=10_000, seed=5, noise=0))
    proj.ingest()  # not through the loop (or by a run that died before its check)
    r = proj.run()
    assert r.status == "no_drift" and r.rows_checked == 200 and r.ingest_run_id is not None


def test_data_drift_is_recorded_and_can_trigger_a_retrain(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL + "\n[monitor]\nretrain_on_data_drift = true\n")
    put(tmp_path / "incoming/a.csv", rows(800))
    assert p.run().status == "deployed"
    put(tmp_path / "incoming/b.csv", rows(600, start=10_000, seed=6, shift=3.0))
    r = p.run()
    assert r.data_drift["a"]["detected"] is True and r.data_drift["b"]["detected"] is False
    assert {c["method"] for c in r.data_drift["a"]["checks"]} == {"psi", "ks"}
    assert r.candidate is not None  # data drift was a trigger


def test_new_rows_without_the_target_check_data_drift_only(proj, tmp_path):
    _deployed(proj, tmp_path)
    put(tmp_path / "incoming/b.csv", "id,a,b,color\n" + "".join(
        f"{i},{i % 7 / 7:.3f},0.1,red\n" for i in range(10_000, 10_050)
    ))  # fmt: skip
    r = proj.run()
    assert r.status == "insufficient_data" and "only data drift" in r.drift["reason"]
    assert r.data_drift  # still checked


def test_a_second_run_while_one_holds_the_lock_is_skipped(proj, tmp_path):
    with proj.workspace.writer("ingest") as holder:  # another process's writer
        out = run_cli_subprocess("run", "-p", str(tmp_path))
        as_json = run_cli_subprocess("run", "-p", str(tmp_path), "--format", "json")
    assert out.returncode == 2 and "busy" in out.stderr
    assert any(r["kind"] == "run" and r["status"] == "skipped" for r in _runs(proj))
    # a script reading --format json gets the skipped run on stdout, the error on stderr
    assert as_json.returncode == 2 and "busy" in as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["status"] == "skipped" and f"run {holder.id}" in doc["error"]
    assert proj.workspace.records.run(doc["run_id"])["status"] == "skipped"


def test_a_failed_step_still_gives_the_runs_json(proj, tmp_path):
    _deployed(proj, tmp_path)
    (tmp_path / "models/v0001/model.skops").write_bytes(b"not a model")
    put(tmp_path / "incoming/b.csv", rows(300, start=10_000, seed=1))
    out = run_cli("run", "-p", str(tmp_path), "--format", "json")
    assert out.returncode == 2 and "model v1" in out.stderr  # a registry error
    doc = json.loads(out.stdout)
    assert (doc["status"], doc["step"], doc["rows_added"]) == ("failed", "score", 300)
    assert "model v1" in doc["error"] and doc["hint"]
    assert proj.workspace.records.run(doc["run_id"])["status"] == "failed"


def test_drift_checks_alone_change_nothing(proj, tmp_path):
    out = run_cli("drift", "-p", str(tmp_path))
    assert out.returncode == 2 and "no model is in production" in out.stderr
    _deployed(proj, tmp_path)
    before = len(_runs(proj))
    put(tmp_path / "elsewhere/shifted.csv", rows(500, start=50_000, seed=8, shift=3.0))
    out = run_cli("drift", "--data", str(tmp_path / "elsewhere"), "-p", str(tmp_path),
                  "--format", "json")  # fmt: skip
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["data_drift"]["a"]["detected"] is True and data["rows_checked"] == 500
    assert data["status"] in ("drift", "data_drift")
    # without --data: the rows the last check covered (the first model's data)
    again = proj.drift()
    assert again.rows_checked == 800 and again.status in ("no_drift", "drift", "data_drift")
    assert len(_runs(proj)) == before  # nothing recorded


def test_the_score_plot_is_best_effort_and_the_next_run_redraws_a_stale_one(proj, tmp_path, caplog):
    import os

    _deployed(proj, tmp_path)
    plot = tmp_path / "models/score_history.png"
    assert plot.stat().st_size > 0
    plot.unlink()
    plot.mkdir()  # the plot cannot be written: the promotion must stand all the same
    with caplog.at_level("WARNING", logger="headwater.pipeline"):
        result = proj.train(deploy=True, force=True)
    assert result.gate is not None and result.gate.promoted
    assert proj.models()["production_version"] == 2
    assert proj.history(limit=1, kind="train")[0]["status"] == "ok"
    assert any("score history plot" in r.getMessage() for r in caplog.records)
    plot.rmdir()
    assert proj.run().status == "no_new_data"
    assert plot.read_bytes().startswith(b"\x89PNG")  # redrawn by the next run
    os.utime(plot, (0, 0))  # as a run killed right after the pointer moved leaves it
    proj.run()
    assert plot.stat().st_mtime > 0
    drawn = plot.stat().st_mtime
    proj.run()
    assert plot.stat().st_mtime == drawn  # up to date: not drawn again


def test_rejected_rows_alone_do_not_make_a_run_partial_a_failed_file_does(proj, tmp_path):
    _deployed(proj, tmp_path)
    batch = rows(300, start=10_000, seed=1, noise=0)
    put(tmp_path / "incoming/b.csv", batch + "10999,not a number,0.1,red,1\n")
    r = proj.run()
    assert r.status == "no_drift", r.reason  # the rejected row is in the ingest's records
    assert proj.history(limit=1, kind="ingest")[0]["status"] == "partial"
    put(tmp_path / "incoming/c.csv", rows(300, start=20_000, seed=2, noise=0))
    put(tmp_path / "incoming/broken.csv", "id,a\n1,2,3\n")  # a file that fails
    r = proj.run()
    assert r.status == "partial", r.reason
