"""Every run kind tells its story: ``show``, the ``history`` summary line and the
``records export`` text of train, deploy, rollback, compare, skipped and failed runs."""

import getpass
import json
import socket

import pytest

from headwater import Project, RegistryError
from headwater._explain import summary_line
from tests.conftest import put, run_cli
from tests.models.test_models import MODEL, _rows


@pytest.fixture
def proj(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL)
    put(tmp_path / "incoming/a.csv", _rows(600))
    p.ingest()
    return p


def _story(p, run_id):
    return "\n".join(p.run_record(run_id)["story"])


def test_train_story_names_data_estimator_score_and_candidate(proj):
    r = proj.train()
    run_id = proj.history(limit=1)[0]["id"]
    story = _story(proj, run_id)
    assert "dataset 'd' version 1" in story and "600 rows" in story
    assert "sklearn.linear_model.LogisticRegression" in story
    assert f"f1 = {r['score']:.4f} on {r['test_rows']} test rows" in story
    assert "candidate model v1" in story and "not deployed" in story
    assert "None" not in story
    line = summary_line(proj.history(limit=1)[0])
    assert line.startswith("v1 LogisticRegression") and f"f1 {r['score']:.4f}" in line
    assert "data v1" in line and "not deployed" in line


def test_train_with_deploy_records_the_data_and_the_gate(proj, tmp_path):
    proj.train(deploy=True)
    weak = Project.open(tmp_path, env={"HEADWATER_MODEL__FEATURES": '["color"]'})
    worse = weak.train(deploy=True)
    run = proj.history(limit=1)[0]
    assert run["status"] == "refused"
    s = run["summary"]
    # what the train part knew is kept next to what the gate decided
    assert (s["dataset_version"], s["train_rows"] + s["test_rows"]) == (1, 600)
    assert s["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert s["reason"] == worse["reason"] and s["tolerance"] == 0.0
    story = _story(proj, run["id"])
    assert "None" not in story
    assert "dataset 'd' version 1 (600 rows)" in story
    assert f"{worse['score']:.4f}" in story and f"{worse['production_score']:.4f}" in story
    assert "tolerance 0.0" in story and "refused" in story
    assert "production stays v1" in story.lower()
    line = summary_line(run)
    assert "refused" in line and "v2" in line and "prod v1" in line


def test_deploy_story_says_promoted_or_refused_why_and_who_forced(proj, tmp_path):
    proj.train()
    weak = Project.open(tmp_path, env={"HEADWATER_MODEL__FEATURES": '["color"]'})
    weak.train()
    first = proj.deploy(1)
    first_id = proj.history(limit=1)[0]["id"]
    forced = proj.deploy(2, force=True)
    run = proj.history(limit=1)[0]
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    assert run["summary"]["forced_by"] == who
    story = _story(proj, run["id"])
    assert f"candidate v2 scored f1 {forced['score']:.4f}" in story
    assert f"production v1 scored {forced['production_score']:.4f}" in story
    assert "tolerance 0.0" in story
    assert f"forced by {who}" in story and "Production is now v2" in story
    assert "promoted v2" in summary_line(run) and "forced" in summary_line(run)
    story1 = _story(proj, first_id)
    assert "nothing was in production" in story1.lower() and "promoted" in story1
    assert f"f1 {first['score']:.4f}" in summary_line(proj.history(limit=2)[1])


def test_rollback_and_failed_runs_have_a_summary_line(proj):
    proj.train(deploy=True)
    with pytest.raises(RegistryError):
        proj.rollback()
    failed = proj.history(limit=1)[0]
    assert failed["status"] == "failed"
    assert summary_line(failed).startswith("failed: ")
    assert "nothing to roll back to" in _story(proj, failed["id"])
    proj.deploy(proj.train()["model_version"], force=True)
    proj.rollback()
    run = proj.history(limit=1)[0]
    assert summary_line(run) == "production v2 → v1"
    assert "rolled production back from v2 to v1" in _story(proj, run["id"])


def test_a_failed_train_says_how_far_it_got(make_project, tmp_path):
    bad = MODEL.replace("max_iter = 500", "max_iter = -3")
    p = make_project('key = ["id"]\n', extra=bad)
    put(tmp_path / "incoming/a.csv", _rows(200))
    p.ingest()
    with pytest.raises(Exception, match="max_iter"):
        p.train()
    run = p.history(limit=1)[0]
    assert run["status"] == "failed"
    assert run["summary"]["dataset_version"] == 1 and run["summary"]["stage"] == "fit"
    story = _story(p, run["id"])
    assert "It failed while fitting" in story and "dataset 'd' version 1" in story


def test_skipped_and_compare_runs_have_stories_and_summaries(proj, tmp_path):
    with proj.writer("train"):
        out = run_cli("train", "-p", str(tmp_path))
    assert out.returncode == 2
    skipped = proj.history(limit=1)[0]
    assert skipped["status"] == "skipped"
    assert summary_line(skipped).startswith("skipped: ") and "busy" in summary_line(skipped)
    assert "It did nothing" in _story(proj, skipped["id"])
    proj.compare("d@1", "d@latest", key=["id"], record=True)
    cmp_run = proj.history(limit=1)[0]
    assert summary_line(cmp_run) == "d@1 vs d@latest: equal, 600 rows each side"


def test_history_and_records_export_text_for_model_runs(proj, tmp_path):
    root = str(tmp_path)
    t = proj.train(deploy=True)
    proj.deploy(proj.train()["model_version"], force=True)
    proj.rollback()
    out = run_cli("history", "-p", root)
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[2].strip(): line for line in out.stdout.splitlines() if "│" in line}
    assert f"f1 {t['score']:.4f}" in rows["train"] and "deployed" in rows["train"]
    assert "production v2 → v1" in rows["rollback"] and "promoted v2" in rows["deploy"]
    for run in proj.history():
        if run["kind"] == "ingest":  # the classic records.txt, unchanged
            continue
        text = run_cli("records", "export", str(run["id"]), "-p", root)
        assert text.returncode == 0, text.stderr
        assert "{" not in text.stdout, text.stdout  # words, not a JSON dump
        story = proj.run_record(run["id"])["story"]
        assert story[-1].split()[-1] in text.stdout
    train_text = run_cli("records", "export", str(proj.history(kind="train")[-1]["id"]), "-p", root)
    assert "estimator:   sklearn.linear_model.LogisticRegression" in train_text.stdout
    assert f"score:       f1 = {t['score']:.4f} on {t['test_rows']} test rows" in train_text.stdout
    as_json = json.loads(run_cli("records", "export", "2", "-p", root, "--format", "json").stdout)
    assert as_json["summary"]["model_version"] == 1  # the JSON keeps its fields
