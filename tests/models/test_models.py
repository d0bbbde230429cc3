"""Train, gate, registry, rollback, score, predict, diagnostics — on real sklearn models."""

import json
import random

import pytest

from headwater import ConfigError, RegistryError, TrainError
from headwater.train import better_or_equal
from tests.conftest import put, run_cli

MODEL = """
[model]
target = "y"
features = ["a", "b", "color"]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500, random_state = 0 }
metric = "f1"
scale = true
impute = "median"
"""


def _rows(n, start=0, seed=0, flip=False):
    rng = random.Random(seed)
    out = ["id,a,b,color,y"]
    for i in range(start, start + n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        color = rng.choice(["red", "blue"])
        signal = 2 * a - b + (0.5 if color == "red" else -0.5)
        y = int(signal + rng.gauss(0, 0.5) > 0)
        if flip:
            y = 1 - y
        out.append(f"{i},{a:.4f},{'' if i % 97 == 0 else f'{b:.4f}'},{color},{y}")
    return "\n".join(out) + "\n"


@pytest.fixture
def proj(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL)
    put(tmp_path / "incoming/a.csv", _rows(600))
    p.ingest()
    return p


def test_train_records_a_candidate_with_a_card_and_report(proj, tmp_path):
    r = proj.train()
    assert r["model_version"] == 1 and r["promoted"] is False and r["production_version"] is None
    assert r["metric"] == "f1" and 0.7 < r["score"] <= 1.0
    assert r["test_rows"] + r["train_rows"] == 600 and 60 < r["test_rows"] < 200
    card = json.loads((tmp_path / "models/v0001/card.json").read_text())
    assert card["dataset_version"] == 1 and card["features"] == ["a", "b", "color"]
    assert card["profile"]["features"]["a"]["kind"] == "numeric"
    assert set(card["profile"]["target_balance"]) == {"0", "1"}
    assert card["libraries"]["scikit-learn"]
    assert (tmp_path / "models/v0001/confusion_matrix_test.png").read_bytes()[:4] == b"\x89PNG"
    info = proj.models()
    assert [m["status"] for m in info["models"]] == ["candidate"]


def test_deploy_gate_rollback_and_history(proj, tmp_path):
    first = proj.train(deploy=True)
    assert first["promoted"] and first["production_version"] == 1
    # a worse candidate (it only sees one weak feature) is refused and stays visible
    from headwater import Project

    weak = Project.open(tmp_path, env={"HEADWATER_MODEL__FEATURES": '["color"]'})
    worse = weak.train(deploy=True)
    assert worse["promoted"] is False and worse["production_version"] == 1
    assert "worse" in worse["reason"]
    info = proj.models()
    assert {m["version"]: m["status"] for m in info["models"]} == {1: "promoted", 2: "rejected"}
    # forcing is possible and recorded
    forced = proj.deploy(2, force=True)
    assert forced["promoted"] and forced["forced"] and forced["production_version"] == 2
    hist = proj.models()["history"]
    assert hist[0]["action"] == "promote" and hist[0]["forced"] and hist[0]["user"]
    # rollback is one step back, and itself recorded
    back = proj.rollback()
    assert (back["from_version"], back["production_version"]) == (2, 1)
    assert proj.models()["history"][0]["action"] == "rollback"
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        proj.rollback()
    assert proj.models()["production_version"] == 1


def test_tampered_model_is_refused_and_production_untouched(proj, tmp_path):
    proj.train(deploy=True)
    f = tmp_path / "models/v0001/model.skops"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="does not match its record"):
        proj.score()
    with pytest.raises(RegistryError, match="does not match its record"):
        proj.train(deploy=True)  # the gate must load production to compare: refused
    assert proj.models()["production_version"] == 1


def test_a_moved_project_loads_its_own_models(proj, tmp_path):
    """Models are found in the project's own models folder, not only where they were
    written: a moved project keeps working, and a copy never borrows the original's file."""
    import shutil

    from headwater import Project

    proj.train(deploy=True)
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.copytree(tmp_path, moved)
    shutil.rmtree(tmp_path / "models")  # the old place is gone, as after a move
    assert Project.open(moved).score()["model_version"] == 1
    # a copy with a damaged model is refused even though the original is intact
    copy = tmp_path.parent / f"{tmp_path.name}-copy"
    shutil.copytree(moved, copy)
    shutil.copytree(moved / "models", tmp_path / "models")  # the recorded place is back
    (copy / "models/v0001/model.skops").write_bytes(b"not a model")
    with pytest.raises(RegistryError, match="does not match its record"):
        Project.open(copy).score()


def test_hold_out_is_stable_across_dataset_versions(proj, tmp_path):
    from headwater.train import load_training_data

    spec = proj.config.model
    before = set(load_training_data(proj.workspace, spec).test["id"])
    put(tmp_path / "incoming/more.csv", _rows(300, start=5000, seed=9))
    proj.ingest()
    after = load_training_data(proj.workspace, spec)
    # train and test partition the rows; every earlier test row is still a test row
    assert len(after.train) + len(after.test) == 900
    assert before <= set(after.test["id"])
    assert any(i >= 5000 for i in after.test["id"])


def test_score_predict_and_diagnostics(proj, tmp_path):
    proj.train(deploy=True)
    s = proj.score()
    assert s["model_version"] == 1 and s["score"] > 0.7
    put(tmp_path / "new/batch.csv", _rows(20, start=90_000, seed=3))
    s2 = proj.score(str(tmp_path / "new/batch.csv"))
    assert s2["test_rows"] == 20
    out = proj.predict(str(tmp_path / "new/batch.csv"), tmp_path / "pred.csv")
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert out["rows"] == 20 and len(lines) == 21
    assert lines[0].split(",")[-3:] == ['"prediction"', '"probability_0"', '"probability_1"']
    # data is read with the dataset's types: an empty value is missing, imputed (text in a
    # numeric feature is an error naming it: tests/test_trust_cli.py)
    put(tmp_path / "new/messy.csv", "id,a,b,color\n1,,0.5,red\n2,1.5,-0.2,blue\n")
    messy = proj.predict(str(tmp_path / "new/messy.csv"), tmp_path / "pred2.csv")
    assert messy["rows"] == 2
    assert (tmp_path / "pred2.csv").read_text().splitlines()[0].startswith('"id","a","b","color"')
    with pytest.raises(ConfigError, match="is a folder"):  # checked before any work
        proj.predict(str(tmp_path / "new/batch.csv"), tmp_path / "new")
    d = proj.diagnostics()
    assert d["rows"] == 600 and d["columns"]["a"]["mean"] is not None
    assert 0 < d["columns"]["b"]["missing_share"] < 0.05
    assert d["last_ingest"]["seconds"] >= 0 and d["last_train"] is not None
    assert "scikit-learn" in d["libraries"]


def test_metric_direction():
    assert better_or_equal("rmse", 1.0, 2.0, 0.0)
    assert not better_or_equal("rmse", 2.0, 1.0, 0.5)
    assert better_or_equal("rmse", 1.4, 1.0, 0.5)
    assert better_or_equal("f1", 0.8, 0.9, 0.1)
    assert not better_or_equal("f1", 0.7, 0.9, 0.1)


def test_regression_with_rmse(make_project, tmp_path):
    p = make_project(
        extra="""
        [model]
        target = "y"
        estimator = "sklearn.linear_model.Ridge"
        metric = "rmse"
    """
    )
    rng = random.Random(1)
    rows = ["x,y"] + [f"{x},{3 * x + rng.gauss(0, 1):.3f}" for x in range(300)]
    put(tmp_path / "incoming/a.csv", "\n".join(rows) + "\n")
    p.ingest()
    r = p.train(deploy=True)
    assert r["promoted"] and r["score"] < 2.0
    assert (tmp_path / "models/v0001/residuals_test.png").exists()


@pytest.mark.parametrize(
    ("model", "data", "error", "match"),
    [
        (MODEL.replace('"a", "b", "color"', '"a", "nope"'), None, TrainError, "'nope' are not in"),
        (
            MODEL.replace("one_hot", "x").replace(
                'metric = "f1"', 'metric = "f1"\none_hot = false'
            ),
            None,
            TrainError,
            "one_hot",
        ),
        (MODEL, "single", TrainError, "single class"),
        (
            MODEL.replace("sklearn.linear_model.LogisticRegression", "sklearn.nothing.Here"),
            None,
            TrainError,
            "cannot be imported",
        ),
        (
            MODEL.replace("max_iter = 500", "max_iterations = 500"),
            None,
            TrainError,
            "rejects params",
        ),
        (MODEL.replace('metric = "f1"', 'metric = "rmse"'), None, TrainError, "does not suit"),
    ],
)
def test_bad_model_input_is_a_clear_error_and_nothing_is_promoted(
    make_project, tmp_path, model, data, error, match
):
    p = make_project('key = ["id"]\n', extra=model)
    text = _rows(200)
    if data == "single":
        text = (
            "\n".join(line[:-1] + "1" if i else line for i, line in enumerate(text.splitlines()))
            + "\n"
        )
    put(tmp_path / "incoming/a.csv", text)
    p.ingest()
    with pytest.raises(error, match=match):
        p.train(deploy=True)
    assert p.models()["production_version"] is None
    assert p.history(limit=1)[0]["status"] == "failed"


def test_empty_dataset_and_missing_model_section(make_project, tmp_path):
    p = make_project(extra=MODEL)
    with pytest.raises(TrainError, match="no version to train on"):
        p.train()
    q = make_project()
    with pytest.raises(ConfigError, match=r"no \[model\] section"):
        q.train()


def test_cli_json_contracts(proj, tmp_path):
    root = str(tmp_path)
    t = json.loads(run_cli("train", "-p", root, "--format", "json").stdout)
    for k in ("model_version", "metric", "score", "test_rows", "promoted", "production_version"):
        assert k in t, k
    d = run_cli("deploy", "-p", root, "--format", "json")
    assert d.returncode == 0, d.stderr
    dj = json.loads(d.stdout)
    assert dj["promoted"] is True and dj["production_version"] == t["model_version"]
    s = json.loads(run_cli("score", "-p", root, "--format", "json").stdout)
    assert {"model_version", "metric", "score", "test_rows", "production_version"} <= set(s)
    m = json.loads(run_cli("models", "-p", root, "--format", "json").stdout)
    assert {"model_version", "metric", "score", "test_rows", "production_version"} <= set(m)
    text = run_cli("models", "-p", root)
    assert "production" in text.stdout
    diag = run_cli("diagnostics", "-p", root)
    assert diag.returncode == 0 and "missing" in diag.stdout
    shown = run_cli("show", str(t["model_version"] + 1), "-p", root)
    assert shown.returncode == 0


def test_reads_write_nothing_and_results_are_typed(proj, tmp_path):
    """`models` and `score` are reads: no plot, no file; train and deploy keep the plots."""
    from pathlib import Path

    from headwater.results import ModelsOverview, ScoreResult, TrainResult

    trained = proj.train(deploy=True)
    assert isinstance(trained, TrainResult) and trained.promoted
    assert trained["promoted"] is True and trained.to_dict()["run_id"] == trained.run_id
    history = tmp_path / "models" / "score_history.png"
    assert history.read_bytes()[:4] == b"\x89PNG"  # written by train/deploy

    def files() -> dict[str, float]:
        return {str(p): p.stat().st_mtime_ns for p in (tmp_path / "models").rglob("*")}

    before = files()
    info = proj.models()
    scored = proj.score()
    assert isinstance(info, ModelsOverview) and isinstance(scored, ScoreResult)
    assert info.to_dict()["score_history"] == str(history)
    assert scored.report is None and scored.to_dict()["report"] is None
    assert files() == before, "a read wrote into the project"
    plotted = proj.score(plot=True)
    assert plotted.report and Path(plotted.report).exists()
