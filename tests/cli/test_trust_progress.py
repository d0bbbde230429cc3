"""Progress: every stage a long command reports ends complete (ingest, train, score,
predict), and the demo's suggested commands are never cut at the terminal's width."""

import pytest

from tests.conftest import put, run_cli_subprocess
from tests.models.test_models import MODEL, _rows


class Events:
    """A progress callback that keeps what it heard."""

    def __init__(self):
        self.heard = []

    def __call__(self, stage, done, total, detail):
        self.heard.append((stage, done, total, detail))

    def __repr__(self):
        return repr(self.heard)

    def stages(self):
        return list(dict.fromkeys(e[0] for e in self.heard))

    def unfinished(self):
        last = {}
        for stage, done, total, _ in self.heard:
            last[stage] = (done, total)
        return {s: dt for s, dt in last.items() if dt[0] != dt[1]}


@pytest.fixture
def proj(make_project, tmp_path):
    p = make_project('key = ["id"]\n', extra=MODEL)
    put(tmp_path / "incoming/a.csv", _rows(300))
    return p


def test_ingest_ends_with_every_stage_complete(proj, tmp_path):
    events = Events()
    proj.ingest(progress=events)
    assert {"list", "read", "dedup", "write", "publish", "done"} <= set(events.stages())
    assert events.unfinished() == {}, events
    put(tmp_path / "incoming/b.csv", _rows(50, start=5000))
    again = Events()
    proj.ingest(progress=again)  # an incremental run, too
    assert again.unfinished() == {}, again


def test_train_score_and_predict_report_their_stages(proj, tmp_path):
    proj.ingest()
    events = Events()
    r = proj.train(deploy=True, progress=events)
    assert r["promoted"]
    assert events.stages() == ["read", "fit", "evaluate", "save", "gate", "promoted"]
    assert events.unfinished() == {}
    for stage in events.stages():  # each is announced before it ends
        mine = [e for e in events.heard if e[0] == stage]
        assert (mine[0][1], mine[-1][1]) == (0, mine[-1][2])
    # the progress stages are not recorded as the run's summary
    assert "stage" not in r and "stage" not in proj.history(limit=1)[0]["summary"]

    scored = Events()
    proj.score(progress=scored, plot=True)
    assert scored.stages() == ["load", "read", "score", "report"] and scored.unfinished() == {}

    put(tmp_path / "new/batch.csv", _rows(20, start=90_000, seed=3))
    predicted = Events()
    proj.predict(str(tmp_path / "new/batch.csv"), tmp_path / "pred.csv", progress=predicted)
    assert predicted.stages() == ["load", "read", "predict", "write"]
    assert predicted.unfinished() == {}


def test_demo_try_next_commands_are_never_wrapped(tmp_path):
    where = tmp_path / "a-rather-long-folder-name-for-the-demo-project"
    # a process: the printed commands name the way headwater was started
    out = run_cli_subprocess("demo", str(where), "--rows", "800", env={"COLUMNS": "40"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    commands = lines[lines.index("try next:") + 1 :]
    assert len(commands) >= 8
    for command in commands:
        assert command.startswith("  ") and " -m headwater -p " in command, command
        assert f"-p {where} " in command, command
    predict = next(c for c in commands if " predict " in c)
    assert predict.endswith(f"-o {where}/predictions.csv")
    compare = next(c for c in commands if " compare " in c)
    assert compare.endswith("--key date,ticker")
