"""[deploy] gate_on = ["test", "new_rows"]: the gate also judges a retrained candidate on a
hash-chosen slice of the new rows, which the candidate never trains on."""

from __future__ import annotations

import pytest

from headwater import Project
from headwater.errors import ConfigError
from tests.conftest import put, run_cli
from tests.loop.test_loop import MODEL, rows

GATE = '\n[deploy]\ngate_on = ["test", "new_rows"]\n'


def _gate(p: Project, run_id: int) -> dict:
    """The gate's verdict in the loop's train child run (merged into its summary)."""
    [train] = [r for r in p.history(limit=None) if r.get("parent_id") == run_id and
               r["kind"] == "train"]  # fmt: skip
    return train["summary"]


def test_a_retrained_candidate_is_judged_on_held_out_new_rows_too(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL + GATE)
    put(tmp_path / "incoming/a.csv", rows(800))
    first = p.run()
    assert first.status == "deployed"
    put(tmp_path / "incoming/b.csv", rows(1500, start=10_000, seed=2, flip=True))
    r = p.run()
    assert r.drift["detected"] is True and r.candidate is not None
    new = _gate(p, r.run_id)["new_rows"]
    # about test_fraction (0.2) of the 1,500 new rows, by the key's hash
    assert 200 < new["rows"] < 400, new
    # production never saw the flipped world; the candidate learnt it
    assert new["passed"] is True and new["score"] > new["production_score"]
    assert "held-out new rows" in new["reason"]
    assert r.status == "deployed" and r.production_version == 2
    story = " ".join(p.run_record(r.run_id)["story"])
    assert "held-out new rows" in story


def test_with_a_test_file_the_new_slice_is_left_out_of_training(make_project, tmp_path):
    put(tmp_path / "testdata/t.csv", rows(300, start=90_000, seed=9))
    extra = MODEL + 'test_data = "testdata"\n' + GATE
    p = make_project('key = ["id"]\n', extra=extra)
    put(tmp_path / "incoming/a.csv", rows(800))
    assert p.run().status == "deployed"
    put(tmp_path / "incoming/b.csv", rows(1000, start=10_000, seed=2, flip=True))
    r = p.run()
    assert r.candidate is not None
    [train] = [x for x in p.history(limit=None) if x.get("parent_id") == r.run_id and
               x["kind"] == "train"]  # fmt: skip
    held = train["summary"]["new_rows"]["rows"]
    assert held > 0
    # every dataset row is trained on except the held-out slice of the new rows
    assert train["summary"]["train_rows"] == 1800 - held


def test_a_candidate_worse_on_the_new_rows_is_rejected(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL + GATE)
    put(tmp_path / "incoming/a.csv", rows(800))
    assert p.run().status == "deployed"
    # a weak candidate (one feature) cannot fix the drift
    weak = Project.open(tmp_path, env={"HEADWATER_MODEL__FEATURES": '["color"]'})
    put(tmp_path / "incoming/b.csv", rows(400, start=10_000, seed=3, flip=True))
    r = weak.run()
    new = _gate(weak, r.run_id)["new_rows"]
    assert r.status == "rejected" and r.drift_unresolved is True and r.production_version == 1
    assert new["rows"] > 0 and "passed" in new and "skipped" not in new


def test_a_slice_without_targets_is_skipped_and_said(make_project, tmp_path):
    extra = MODEL + GATE + "\n[monitor]\nretrain_on_data_drift = true\n"
    p = make_project('key = ["id"]\n', extra=extra)
    put(tmp_path / "incoming/a.csv", rows(800))
    assert p.run().status == "deployed"
    # data drift (a moved) triggers the retrain, but no new row has a target yet: there is
    # nothing to judge the new rows on
    lines = rows(300, start=10_000, seed=5, shift=4).splitlines()
    blank = [lines[0], *(x.rsplit(",", 1)[0] + "," for x in lines[1:])]
    put(tmp_path / "incoming/b.csv", "\n".join(blank) + "\n")
    r = p.run()
    assert r.candidate is not None, r.reason
    new = _gate(p, r.run_id)["new_rows"]
    assert new["skipped"] is True and new["rows"] == 0 and "min_rows" in new["reason"]


def test_train_deploy_outside_a_run_says_the_new_rows_part_was_not_judged(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL + GATE)
    put(tmp_path / "incoming/a.csv", rows(800))
    assert p.run().status == "deployed"
    put(tmp_path / "incoming/b.csv", rows(200, start=10_000, seed=6))
    p.ingest()
    t = p.train(deploy=True)
    assert t.gate is not None and t.gate.new_rows is not None
    assert t.gate.new_rows["skipped"] is True and "headwater run" in t.gate.new_rows["reason"]


@pytest.mark.parametrize(
    "value, words",
    [('["new_rows"]', 'must include "test"'), ('["test", "fresh"]', "gate_on")],
)
def test_bad_gate_on_values_are_config_errors(make_project, tmp_path, value, words):
    with pytest.raises(ConfigError) as err:
        make_project(extra=MODEL + f"\n[deploy]\ngate_on = {value}\n")
    assert words in str(err.value) and "gate_on" in str(err.value)
    out = run_cli("check", "-p", str(tmp_path))
    assert out.returncode == 2
