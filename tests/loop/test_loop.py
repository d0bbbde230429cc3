"""headwater run: the loop composed of the stages under one writer, on real data and models."""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import put, run_cli

MODEL = """
[model]
target = "y"
features = ["a", "b", "color"]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500, random_state = 0 }
metric = "f1"
scale = true
"""


def rows(n: int, start: int = 0, seed: int = 0, flip: bool = False, shift: float = 0.0) -> str:
    """Two numeric features and a colour; ``flip`` inverts the label (model drift),
    ``shift`` moves ``a`` (data drift)."""
    rng = random.Random(seed)
    out = ["id,a,b,color,y"]
    for i in range(start, start + n):
        a, b = rng.gauss(shift, 1), rng.gauss(0, 1)
        color = rng.choice(["red", "blue"])
        y = int(2 * (a - shift) - b + (0.5 if color == "red" else -0.5) + rng.gauss(0, 0.5) > 0)
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
