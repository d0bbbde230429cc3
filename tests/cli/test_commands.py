"""The real ``headwater`` command in a subprocess: contracts, exit codes, output."""

import json

from tests.conftest import put, run_cli

CONTRACT = {
    "run_id",
    "status",
    "files_new",
    "files_changed",
    "files_skipped",
    "files_failed",
    "rows_read",
    "rows_rejected",
    "duplicates_dropped",
    "rows_added",
    "rows_retracted",
    "dataset_version",
    "dataset_rows",
    "output",
}


def _project(tmp_path):
    out = run_cli("init", str(tmp_path / "p"), "--name", "risk")
    assert out.returncode == 0, out.stderr
    root = tmp_path / "p"
    text = (
        (root / "headwater.toml")
        .read_text()
        .replace("# settle_seconds = 2.0 ", "settle_seconds = 0 ")
    )
    (root / "headwater.toml").write_text(text)
    return root


def test_init_ingest_history_show_rejects_export_records(tmp_path):
    root = _project(tmp_path)
    put(root / "incoming/a.csv", "Corporation,Employees\nacme,10\nbolt,x\nacme,10\n")
    out = run_cli("ingest", "--format", "json", cwd=root)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= CONTRACT
    assert (result["rows_read"], result["rows_added"], result["duplicates_dropped"]) == (3, 2, 1)
    run_id = result["run_id"]

    out = run_cli("history", "--format", "json", "-p", str(root))
    assert out.returncode == 0
    [run] = json.loads(out.stdout)
    assert run["id"] == run_id and run["kind"] == "ingest" and run["status"] == "ok"

    out = run_cli("-p", str(root), "history")
    assert out.returncode == 0 and "ingest" in out.stdout

    out = run_cli("show", str(run_id), "-p", str(root))
    assert out.returncode == 0
    assert "published version 1" in out.stdout and "a.csv" in out.stdout

    out = run_cli("show", str(run_id), "-p", str(root), "--format", "json")
    shown = json.loads(out.stdout)
    assert shown["files"][0]["rows_read"] == 3 and shown["version"]["version"] == 1

    out = run_cli("rejects", str(run_id), "-p", str(root), "--format", "json")
    assert json.loads(out.stdout) == []

    out = run_cli("export", "-o", str(tmp_path), "-p", str(root))  # a folder: refused
    assert out.returncode == 2 and "is a folder" in out.stderr and "bug" not in out.stderr
    out = run_cli("export", "-o", str(tmp_path / "final.csv"), "-p", str(root))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "final.csv").read_text().splitlines() == [
        '"corporation","employees"',
        '"acme","10"',
        '"bolt","x"',
    ]

    out = run_cli("records", "export", str(run_id), "-p", str(root))
    assert out.returncode == 0
    assert "duplicates=1" in out.stdout and "output:" in out.stdout


def test_exit_codes(tmp_path):
    root = _project(tmp_path)
    assert run_cli("show", "999", "-p", str(root)).returncode == 2
    assert run_cli("history", "--bogus", "-p", str(root)).returncode == 2
    put(root / "incoming/bad.csv", "a,b\n1,2,3\n")
    strict = run_cli("ingest", "--strict", "-p", str(root))
    assert strict.returncode == 1
    assert "nothing was published" in strict.stderr and "hint:" in strict.stderr
    put(root / "incoming/good.csv", "a,b\n1,2\n")  # with only bad.csv nothing is achieved: 1
    partial = run_cli("ingest", "-p", str(root))
    assert partial.returncode == 0 and "failed" in partial.stderr
    assert run_cli("--version").returncode == 0


def test_busy_project_exits_2_and_records_a_skipped_run(tmp_path):
    from headwater import Project

    root = _project(tmp_path)
    project = Project.open(root)
    with project.writer("ingest"):
        out = run_cli("ingest", "-p", str(root))
    assert out.returncode == 2
    assert "busy" in out.stderr and "--wait" in out.stderr
    assert project.history(limit=1)[0]["status"] == "skipped"


def test_dry_run_json(tmp_path):
    root = _project(tmp_path)
    put(root / "incoming/a.csv", "x\n1\n")
    out = run_cli("ingest", "--dry-run", "--format", "json", "-p", str(root))
    data = json.loads(out.stdout)
    assert data["dry_run"] is True and data["files_new"] == 1 and data["run_id"] is None


def test_demo_tells_the_whole_loop(tmp_path):
    out = run_cli("demo", str(tmp_path / "demo"), "--rows", "2000")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "run 1" in text and "run 2" in text and "run 3" in text and "try next" in text
    hist = json.loads(run_cli("history", "--format", "json", "-p", str(tmp_path / "demo")).stdout)
    loops = [(r["status"], r["summary"]["candidate"] is not None)
             for r in reversed(hist) if r["kind"] == "run"]  # fmt: skip
    # first data: a model deployed; the same market: nothing trained (its rejected rows are
    # the ingest's business: no_drift); the market changed: drift, retrained, promoted
    assert loops == [("deployed", True), ("no_drift", False), ("deployed", True)]
    assert "no drift" in text and "nothing retrained: v1 stays" in text
    assert "drift detected" in text and "model v2 → promoted" in text
    assert "in production: v2" in text and "confusion matrix:" in text


def test_init_example_stocks_does_not_run(tmp_path):
    out = run_cli("init", str(tmp_path / "s"), "--example", "stocks")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s/brokers/broker_a").is_dir()
    assert (
        json.loads(run_cli("history", "--format", "json", "-p", str(tmp_path / "s")).stdout) == []
    )
    out = run_cli("ingest", "--format", "json", "-p", str(tmp_path / "s"))
    assert json.loads(out.stdout)["rows_added"] > 7000


def test_text_output_shows_bracketed_data_as_it_is(tmp_path):
    """Values, paths and messages are printed verbatim: "[/x]" is data, not terminal
    markup (rich used to read it as a closing tag and crash with a traceback)."""
    root = _project(tmp_path)
    text = (root / "headwater.toml").read_text() + '\n[dataset.columns.employees]\ntype = "int"\n'
    (root / "headwater.toml").write_text(text)
    put(root / "incoming/a.csv", "Corporation,Employees\n[/x],10\nbolt,[bold]9[/]\n")
    out = run_cli("ingest", cwd=root)
    assert out.returncode == 0, out.stderr
    run_id = json.loads(run_cli("history", "--format", "json", cwd=root).stdout)[0]["id"]
    out = run_cli("rejects", str(run_id), cwd=root)
    assert out.returncode == 0, out.stderr
    assert "[bold]9[/]" in out.stdout and "Traceback" not in out.stderr

    put(tmp_path / "l.csv", "id,v\n1,[/x]\n2,[red]b\n")
    put(tmp_path / "r.csv", "id,v\n1,a\n2,b\n")
    out = run_cli("compare", str(tmp_path / "l.csv"), str(tmp_path / "r.csv"), "--key", "id")
    assert out.returncode == 1, out.stderr
    assert "[/x]" in out.stdout and "[red]b" in out.stdout

    missing = tmp_path / "[/y]" / "none.csv"
    out = run_cli("compare", str(missing), str(tmp_path / "r.csv"))
    assert out.returncode == 2 and "[/y]" in out.stderr and "Traceback" not in out.stderr


def test_paths_of_the_wrong_kind_are_clear_errors(tmp_path):
    """A file where a folder is wanted, or a folder where a file is: exit 2 with a message,
    never "unexpected error … a bug"."""
    put(tmp_path / "afile", "")
    for args in (
        ("init", str(tmp_path / "afile")),
        ("init", str(tmp_path / "afile" / "sub")),
    ):
        out = run_cli(*args)
        assert out.returncode == 2 and "bug" not in out.stderr, (args, out.stderr)
    root = _project(tmp_path)
    put(root / "incoming/a.csv", "Corporation,Employees\nacme,10\n")
    assert run_cli("ingest", cwd=root).returncode == 0
    out = run_cli("records", "export", "1", "-o", str(tmp_path), cwd=root)
    assert out.returncode == 2 and "is a folder" in out.stderr and "bug" not in out.stderr
    out = run_cli("records", "export", "1", "-o", str(tmp_path / "rec.txt"), cwd=root)
    assert out.returncode == 0 and "run 1" in (tmp_path / "rec.txt").read_text()
