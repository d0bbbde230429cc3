"""The commands agree with each other (#13 items 19, 22): JSON numbers are numbers, a
missing path is exit 2 everywhere, hints name real versions, `models` says which model is
the newest and which is in production, flags that do nothing are refused, and a bad value
in a numeric feature is named instead of surfacing as scikit-learn's message."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from numbers import Number

import pytest

from headwater import ConfigError
from tests.conftest import put, run_cli

MODEL = """
[model]
target = "y"
features = ["a", "b", "color"]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500, random_state = 0 }
metric = "f1"
impute = "median"
"""


def _rows(n: int, start: int = 0, seed: int = 0) -> str:
    rng = random.Random(seed)
    out = ["id,a,b,color,y"]
    for i in range(start, start + n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        color = rng.choice(["red", "blue"])
        y = int(2 * a - b + (0.5 if color == "red" else -0.5) + rng.gauss(0, 0.5) > 0)
        out.append(f"{i},{a:.4f},{'' if i % 50 == 0 else f'{b:.4f}'},{color},{y}")
    return "\n".join(out) + "\n"


@pytest.fixture
def proj(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL)
    put(tmp_path / "incoming/a.csv", _rows(300))
    p.ingest()
    return p


@pytest.fixture
def deployed(proj):
    proj.train(deploy=True)
    return proj


def _strings_that_are_numbers(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _strings_that_are_numbers(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _strings_that_are_numbers(v, f"{path}[{i}]")
    elif isinstance(x, str):
        try:
            float(x)
        except ValueError:
            return
        yield path


# item 19 ------------------------------------------------------------------------------------


def test_diagnostics_json_gives_numbers_not_decimal_strings(proj, tmp_path):
    r = run_cli("diagnostics", "-p", str(tmp_path), "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    b = d["columns"]["b"]
    assert isinstance(b["missing_share"], float) and 0 < b["missing_share"] < 0.05
    for c in d["columns"].values():
        assert isinstance(c["missing_share"], (int, float)), c
    assert isinstance(d["rows"], int) and isinstance(d["dataset_version"], int)
    assert list(_strings_that_are_numbers(d["columns"])) == []
    # the Python API returns plain numbers too, not Decimal
    py = proj.diagnostics()
    assert not isinstance(py["columns"]["b"]["missing_share"], Decimal)
    assert isinstance(py["columns"]["b"]["missing_share"], Number)


def test_every_json_output_writes_decimals_and_numpy_numbers_as_numbers(capsys):
    import numpy as np

    from headwater.cli import output

    output.emit_json(
        {"share": Decimal("0.25"), "n": Decimal("3"), "i": np.int64(7), "f": np.float32(0.5)}
    )
    assert json.loads(capsys.readouterr().out) == {"share": 0.25, "n": 3, "i": 7, "f": 0.5}
    text = output.json_text({"d": Decimal("1.5")})  # the form -o -, compare and records use
    assert json.loads(text) == {"d": 1.5}


def test_json_outputs_of_the_model_commands_carry_no_numbers_as_strings(deployed, tmp_path):
    root = str(tmp_path)
    for args in (["models"], ["history"], ["show", "1"], ["records", "export", "2"]):
        r = run_cli(*args, "-p", root, "--format", "json")
        assert r.returncode == 0, (args, r.stderr)
        assert list(_strings_that_are_numbers(json.loads(r.stdout))) == [], args


def test_predict_and_rollback_json_are_objects_not_the_text_of_a_result(deployed, tmp_path):
    root = str(tmp_path)
    put(tmp_path / "new/batch.csv", _rows(5, start=9000, seed=2))
    args = ("--data", str(tmp_path / "new/batch.csv"), "--format", "json")
    p = run_cli("predict", "-p", root, *args, "-o", str(tmp_path / "p.csv"))
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert (
        got["model_version"] == 1 and got["rows"] == 5 and got["output"] == str(tmp_path / "p.csv")
    )
    to_stdout = run_cli("predict", "-p", root, *args, "-o", "-")
    assert json.loads(to_stdout.stderr)["rows"] == 5  # stdout carries the predictions
    deployed.train(deploy=True)
    rb = run_cli("rollback", "-p", root, "--format", "json")
    assert rb.returncode == 0, rb.stderr
    assert json.loads(rb.stdout)["production_version"] == 1


# item 22: a missing --data path --------------------------------------------------------------


@pytest.mark.parametrize("command", ["score", "predict"])
def test_a_missing_data_path_exits_2_like_other_missing_paths(deployed, tmp_path, command):
    missing = tmp_path / "nope.csv"
    r = run_cli(command, "-p", str(tmp_path), "--data", str(missing))
    assert r.returncode == 2, r.stderr
    assert "does not exist" in r.stderr and "nope.csv" in r.stderr
    assert "hint:" in r.stderr and "--data" in r.stderr
    # the same situation in compare, for comparison
    c = run_cli("compare", str(missing), str(missing))
    assert c.returncode == 2 and "does not exist" in c.stderr


def test_a_missing_test_data_path_in_the_config_exits_2(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL + 'test_data = "no-such-folder"\n')
    put(tmp_path / "incoming/a.csv", _rows(100))
    p.ingest()
    r = run_cli("train", "-p", str(tmp_path))
    assert r.returncode == 2, r.stderr
    assert "no-such-folder" in r.stderr and "test_data" in r.stderr


# item 22: the "no candidate" hint --------------------------------------------------------------


def test_no_candidate_hint_names_a_real_version_not_deploy_3(deployed, tmp_path):
    r = run_cli("deploy", "-p", str(tmp_path))
    assert r.returncode == 2
    assert "no candidate" in r.stderr
    assert "deploy 3" not in r.stderr
    assert "headwater models" in r.stderr


def test_no_candidate_hint_names_the_newest_model_not_in_production(deployed, tmp_path):
    deployed.train(deploy=True)  # v2, the same data: promoted; v1 leaves production
    assert deployed.models()["production_version"] == 2
    r = run_cli("deploy", "-p", str(tmp_path))
    assert r.returncode == 2
    assert "`headwater deploy 1`" in r.stderr and "deploy 3" not in r.stderr


def test_no_model_at_all_hint_says_train(proj, tmp_path):
    r = run_cli("deploy", "-p", str(tmp_path))
    assert r.returncode == 2
    assert "headwater train" in r.stderr and "deploy 3" not in r.stderr


# item 22: models --format json: newest and production -----------------------------------------


def test_models_json_says_which_is_newest_and_which_is_in_production(deployed, tmp_path):
    deployed.train()  # v2: a candidate, newer than production v1
    r = run_cli("models", "-p", str(tmp_path), "--format", "json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    # the contract: the top-level fields stay, and describe the newest model
    assert m["model_version"] == 2 and m["production_version"] == 1
    assert m["newest"]["version"] == 2 and m["newest"]["status"] == "candidate"
    assert m["newest"]["score"] == m["score"] and m["newest"]["metric"] == "f1"
    prod = m["production"]
    assert prod["version"] == 1 and prod["metric"] == "f1"
    assert isinstance(prod["score"], float)
    assert prod["promoted_at"] == m["production_since"]
    text = run_cli("models", "-p", str(tmp_path)).stdout
    assert "newest: v2" in text and "in production: v1" in text


def test_models_json_with_nothing_in_production(proj, tmp_path):
    proj.train()
    m = json.loads(run_cli("models", "-p", str(tmp_path), "--format", "json").stdout)
    assert m["production"] is None and m["newest"]["version"] == 1
    assert "in production: none" in run_cli("models", "-p", str(tmp_path)).stdout


# item 22: train --force without --deploy --------------------------------------------------------


def test_train_force_without_deploy_is_a_usage_error(proj, tmp_path):
    r = run_cli("train", "-p", str(tmp_path), "--force")
    assert r.returncode == 2
    assert "--force only applies with --deploy" in r.stderr
    assert proj.models()["models"] == []  # nothing was trained
    ok = run_cli("train", "-p", str(tmp_path), "--deploy", "--force")
    assert ok.returncode == 0, ok.stderr


# item 22: text in a numeric feature -------------------------------------------------------------

MESSY = "id,a,b,color\n1,oops,0.5,red\n2,1.5,-0.2,blue\n3,1.2,,red\n4,n/a?,1,blue\n"


def test_predict_names_the_rows_column_and_value_of_text_in_a_numeric_feature(deployed, tmp_path):
    put(tmp_path / "new/messy.csv", MESSY)
    out = tmp_path / "pred.csv"
    r = run_cli(
        "predict", "-p", str(tmp_path), "--data", str(tmp_path / "new/messy.csv"), "-o", str(out)
    )
    assert r.returncode == 2, r.stderr
    err = " ".join(r.stderr.split())
    assert "'a'" in err and "'oops'" in err and "'n/a?'" in err
    assert "row 1" in err and "4" in err
    assert "hint:" in err
    assert "scikit-learn" not in err and "NaN" not in err and len(r.stderr) < 600
    assert not out.exists()  # nothing written
    # an empty value is missing, not bad: imputed as before
    put(tmp_path / "new/gaps.csv", "id,a,b,color\n1,0.3,,red\n2,,1.0,blue\n")
    ok = deployed.predict(str(tmp_path / "new/gaps.csv"), out)
    assert ok["rows"] == 2


def test_score_names_text_in_a_numeric_feature_too(deployed, tmp_path):
    put(tmp_path / "new/messy.csv", "id,a,b,color,y\n1,0.4,zero,red,1\n2,1.5,-0.2,blue,0\n")
    with pytest.raises(ConfigError, match=r"'b'.*'zero'") as caught:
        deployed.score(str(tmp_path / "new/messy.csv"))
    assert caught.value.hint and caught.value.exit_code == 2


# item 22: no internal issue names ----------------------------------------------------------------


def test_the_config_template_and_errors_name_no_internal_issue(tmp_path):
    r = run_cli("init", str(tmp_path / "new"))
    assert r.returncode == 0, r.stderr
    template = (tmp_path / "new/headwater.toml").read_text()
    assert "issue" not in template.lower()
    assert "duckdb" in template
    toml = template.replace('name = "duckdb"', 'name = "flink"', 1)  # not an engine
    (tmp_path / "new/headwater.toml").write_text(toml)
    s = run_cli("versions", "-p", str(tmp_path / "new"))
    assert s.returncode == 2
    assert "issue" not in s.stderr.lower()
    assert "duckdb" in s.stderr and "spark" in s.stderr.lower()
