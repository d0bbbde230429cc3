"""Sources under bad conditions: what cannot be listed or opened is a source error, never a
deletion; only regular files are opened; a run that ingested nothing does not exit 0; files
freshly copied in are ingested once they stop changing.

Root ignores file modes, so "permission denied" is made real in two ways: a subprocess run
with root's DAC capabilities dropped (``setpriv``), and, for a plain non-root user, chmod in
process. Symlink loops and dangling symlinks fail for root too (ELOOP, ENOENT).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import put, write_toml

RETRACT = 'on_missing = "retract"\n'
IS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")

as_root_without_dac = pytest.mark.skipif(
    IS_ROOT and SETPRIV is None, reason="needs setpriv to drop root's DAC capabilities"
)
non_root_only = pytest.mark.skipif(IS_ROOT, reason="root reads folders without permissions")


def _cli(root: Path, *args: str, drop_dac: bool = False, timeout: float = 120):
    """The real CLI in a subprocess, killed after ``timeout`` (a hang fails the test).

    ``drop_dac``: as root, run without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, so that file
    modes apply to it as they would to any user (chmod 000 denies it)."""
    prefix: list[str] = []
    if drop_dac and IS_ROOT:
        assert SETPRIV is not None
        prefix = [SETPRIV, "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "headwater", "-p", str(root), *args],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _main(capsys, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in process (``headwater.cli.main``): its exit code and what it printed."""
    from headwater.cli import main

    capsys.readouterr()
    code = main(["-p", str(root), *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def _json(out: subprocess.CompletedProcess[str]) -> dict:
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


def _ids(p) -> list[int]:
    return sorted(r["id"] for r in p.read().to_pylist())


def _errors_for(result: dict, name: str) -> list[str]:
    return [
        e["reason"]
        for e in result["source_errors"]
        if (e.get("path") or "").rstrip("/").endswith(name)
    ]


def _two_files(tmp_path: Path) -> None:
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    put(tmp_path / "incoming/sub/b.csv", "id\n2\n")


# -- 1. an unreadable folder is a source error, never "all files deleted" ----------------


@as_root_without_dac
def test_unreadable_source_folder_fails_the_run_and_keeps_every_row(make_project, tmp_path):
    p = make_project(RETRACT)
    _two_files(tmp_path)
    p.ingest()
    (tmp_path / "incoming").chmod(0)
    try:
        out = _cli(tmp_path, "ingest", "--format", "json", drop_dac=True)
    finally:
        (tmp_path / "incoming").chmod(0o755)
    r = _json(out)
    assert out.returncode == 1, out.stderr
    assert (r["status"], r["files_missing"], r["rows_retracted"]) == ("failed", 0, 0)
    assert "Permission denied" in r["source_errors"][0]["reason"]
    assert len(p.versions()) == 1 and _ids(p) == [1, 2]
    assert p.history(limit=1)[0]["status"] == "failed"


@as_root_without_dac
@pytest.mark.parametrize("source", ["incoming", "incoming/**/*.csv"])
def test_unreadable_subfolder_keeps_its_rows(make_project, tmp_path, source):
    p = make_project(RETRACT, sources=f'[[sources]]\npath = "{source}"\n')
    _two_files(tmp_path)
    p.ingest()
    put(tmp_path / "incoming/c.csv", "id\n3\n")
    (tmp_path / "incoming/sub").chmod(0)
    try:
        out = _cli(tmp_path, "ingest", "--format", "json", drop_dac=True)
    finally:
        (tmp_path / "incoming/sub").chmod(0o755)
    r = _json(out)
    assert out.returncode == 0, out.stderr
    assert (r["status"], r["files_new"], r["files_missing"], r["rows_retracted"]) == (
        "partial",
        1,
        0,
        0,
    )
    assert any("Permission denied" in e for e in _errors_for(r, "incoming/sub")), r
    assert _ids(p) == [1, 2, 3]


@non_root_only
def test_unreadable_subfolder_keeps_its_rows_in_process(make_project, tmp_path):
    p = make_project(RETRACT)
    _two_files(tmp_path)
    p.ingest()
    (tmp_path / "incoming/sub").chmod(0)
    try:
        r = p.ingest()
    finally:
        (tmp_path / "incoming/sub").chmod(0o755)
    assert (r.status, r.files_missing, r.rows_retracted) == ("partial", 0, 0)
    assert "Permission denied" in r.source_errors[0]["reason"]
    assert _ids(p) == [1, 2]


@pytest.mark.parametrize("source", ["incoming", "incoming/**/*.csv"])
def test_subfolder_turned_into_a_symlink_loop_keeps_its_rows(make_project, tmp_path, source):
    p = make_project(RETRACT, sources=f'[[sources]]\npath = "{source}"\n')
    _two_files(tmp_path)
    p.ingest()
    shutil.rmtree(tmp_path / "incoming/sub")
    os.symlink("sub", tmp_path / "incoming/sub")  # resolving it fails with ELOOP
    r = p.ingest()
    assert (r.status, r.files_missing, r.rows_retracted) == ("partial", 0, 0)
    [reason] = _errors_for(r.to_dict(), "incoming/sub")
    assert "symlink loop" in reason
    assert _ids(p) == [1, 2]


def test_source_folder_that_is_a_symlink_loop_is_named_as_such(make_project, tmp_path):
    p = make_project(RETRACT)
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    p.ingest()
    shutil.rmtree(tmp_path / "incoming")
    os.symlink("incoming", tmp_path / "incoming")
    r = p.ingest()
    assert (r.status, r.rows_retracted) == ("failed", 0)
    assert "symlink loop" in r.source_errors[0]["reason"]
    assert _ids(p) == [1]


# -- 6. only regular files are opened ---------------------------------------------------


def test_fifo_in_a_source_is_recorded_and_never_opened(make_project, tmp_path):
    p = make_project(RETRACT)
    put(tmp_path / "incoming/good.csv", "id\n1\n")
    put(tmp_path / "incoming/old.csv", "id\n2\n")
    p.ingest()
    # a FIFO where an ingested file was, and a new one: opening either would block forever
    (tmp_path / "incoming/old.csv").unlink()
    os.mkfifo(tmp_path / "incoming/old.csv")
    os.mkfifo(tmp_path / "incoming/pipe.csv")
    put(tmp_path / "incoming/new.csv", "id\n3\n")

    dry = _cli(tmp_path, "ingest", "--dry-run", "--format", "json", timeout=90)
    assert dry.returncode == 0, dry.stderr
    assert "FIFO" in _errors_for(_json(dry), "pipe.csv")[0]

    out = _cli(tmp_path, "ingest", "--format", "json", timeout=90)
    r = _json(out)
    assert out.returncode == 0, out.stderr
    assert (r["status"], r["files_new"], r["files_missing"], r["rows_retracted"]) == (
        "partial",
        1,
        0,
        0,
    )
    for name in ("old.csv", "pipe.csv"):
        [reason] = _errors_for(r, name)
        assert "FIFO" in reason and "not a regular file" in reason
    assert _ids(p) == [1, 2, 3]
    assert stat.S_ISFIFO(os.stat(tmp_path / "incoming/pipe.csv").st_mode)


def test_symlink_to_a_device_is_recorded_and_never_opened(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/good.csv", "id\n1\n")
    os.symlink("/dev/zero", tmp_path / "incoming/zero.csv")  # endless: reading never ends
    os.symlink("/dev/null", tmp_path / "incoming/null.jsonl")
    out = _cli(tmp_path, "ingest", "--format", "json", timeout=90)
    r = _json(out)
    assert out.returncode == 0, out.stderr
    assert (r["status"], r["files_new"], r["rows_added"]) == ("partial", 1, 1)
    for name, target in (("zero.csv", "/dev/zero"), ("null.jsonl", "/dev/null")):
        [reason] = _errors_for(r, name)
        assert "character device" in reason and target in reason
        assert stat.S_ISCHR(os.stat(target).st_mode)  # untouched
    assert _ids(p) == [1]


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_file_swapped_for_a_special_file_after_listing_is_not_read(tmp_path, special):
    # what hashing sees if a listed file is replaced by a FIFO or a device link before it
    # is read: it must refuse at once, not block or read forever (a subprocess, so that a
    # hang fails the test)
    path = tmp_path / "a.csv"
    if special == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(special, path)
    code = (
        "import sys\n"
        "from headwater.sources import hash_local\n"
        "try:\n    hash_local(sys.argv[1])\n"
        "except OSError as exc:\n    print(exc.strerror)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "not a regular file" in out.stdout


# -- 12. nothing ingested is not success ------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "name", "content"),
    [
        ('key = ["id"]\n', "a.csv", "name\nx\n"),  # wrong key: the file lacks it
        ("", "a.parquet", "id\n1\n"),  # wrong format: CSV text named .parquet
    ],
)
def test_run_where_every_file_failed_exits_1(
    make_project, tmp_path, capsys, dataset, name, content
):
    p = make_project(dataset)
    put(tmp_path / "incoming" / name, content)
    out = _main(capsys, tmp_path, "ingest", "--format", "json")
    r = _json(out)
    assert out.returncode == 1, out.stdout
    assert (r["status"], r["files_failed"], r["rows_added"]) == ("failed", 1, 0)
    assert "failed" in r["error"]
    run = p.history(limit=1)[0]
    assert run["status"] == "failed" and run["id"] == r["run_id"]
    assert p.versions() == []


def test_run_where_no_source_could_be_listed_exits_1(make_project, tmp_path, capsys):
    p = make_project(sources='[[sources]]\npath = "nowhere"\n[[sources]]\npath = "gone/*.csv"\n')
    out = _main(capsys, tmp_path, "ingest", "--format", "json")
    r = _json(out)
    assert out.returncode == 1
    assert r["status"] == "failed" and "listed" in r["error"]
    assert [e["source"] for e in r["source_errors"]] == ["nowhere", "gone/*.csv"]
    assert all("does not exist" in e["reason"] for e in r["source_errors"])
    assert p.history(limit=1)[0]["status"] == "failed"
    dry = _main(capsys, tmp_path, "ingest", "--dry-run")
    assert dry.returncode == 1


def test_missing_source_is_partial_and_named_first_in_the_summary(make_project, tmp_path, capsys):
    make_project(sources='[[sources]]\npath = "incoming"\n[[sources]]\npath = "nowhere"\n')
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    os.mkfifo(tmp_path / "incoming/pipe.csv")  # a lesser problem, listed earlier
    out = _main(capsys, tmp_path, "ingest")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert "partial" in first and "'nowhere'" in first and "does not exist" in first
    assert "(and 1 more source error(s))" in first
    out = _main(capsys, tmp_path, "ingest", "--format", "json")
    assert [e["source"] for e in _json(out)["source_errors"]] == ["nowhere", "incoming"]


def test_glob_matching_nothing_is_a_warning_in_the_output_and_the_record(
    make_project, tmp_path, capsys
):
    p = make_project(sources='[[sources]]\npath = "incoming"\n[[sources]]\npath = "more/*.csv"\n')
    (tmp_path / "more").mkdir()
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    r = p.ingest()
    assert r.status == "ok" and r.rows_added == 1 and r.source_errors == []
    [w] = r.warnings
    assert w["source"] == "more/*.csv" and "matches no file" in w["reason"]
    record = p.run_record(r.run_id)
    assert record["summary"]["warnings"] == [w]
    assert any("matches no file" in s for s in record["story"])
    out = _main(capsys, tmp_path, "ingest")
    assert out.returncode == 0
    assert "warning" in out.stderr and "more/*.csv" in out.stderr


# -- 14. symlinks: dangling, loops, symlinked folders -------------------------------------


def test_dangling_symlink_is_recorded_and_keeps_its_rows(make_project, tmp_path):
    p = make_project(RETRACT)
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    put(tmp_path / "store/b.csv", "id\n2\n")
    os.symlink(tmp_path / "store/b.csv", tmp_path / "incoming/b.csv")
    p.ingest()
    assert _ids(p) == [1, 2]
    (tmp_path / "store/b.csv").unlink()  # the link is left dangling
    os.symlink(tmp_path / "nothing.csv", tmp_path / "incoming/c.csv")
    r = p.ingest()
    assert (r.status, r.files_missing, r.rows_retracted) == ("partial", 0, 0)
    for name in ("b.csv", "c.csv"):
        [reason] = _errors_for(r.to_dict(), name)
        assert "dangling symlink" in reason
    assert _ids(p) == [1, 2]


@pytest.mark.parametrize("source", ["incoming", "incoming/**/*.csv"])
def test_symlinked_folder_is_listed_by_folders_and_globs_alike(make_project, tmp_path, source):
    p = make_project(sources=f'[[sources]]\npath = "{source}"\n')
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    put(tmp_path / "elsewhere/x.csv", "id\n2\n")
    os.symlink(tmp_path / "elsewhere", tmp_path / "incoming/linked")
    r = p.ingest()
    assert (r.status, r.files_new) == ("ok", 2)
    assert sorted(Path(f["path"]).relative_to(tmp_path).as_posix() for f in r.files) == [
        "incoming/a.csv",
        "incoming/linked/x.csv",
    ]
    assert _ids(p) == [1, 2]


@pytest.mark.parametrize("source", ["incoming", "incoming/**/*.csv"])
def test_symlink_loop_is_recorded_and_never_followed(make_project, tmp_path, source):
    p = make_project(sources=f'[[sources]]\npath = "{source}"\n')
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    put(tmp_path / "incoming/sub/b.csv", "id\n2\n")
    os.symlink("..", tmp_path / "incoming/sub/up")  # back to incoming: a loop
    r = p.ingest()
    assert (r.files_new, r.files_alias) == (2, 0)
    assert [f["path"] for f in r.files] == [
        str(tmp_path / "incoming/a.csv"),
        str(tmp_path / "incoming/sub/b.csv"),
    ]
    [reason] = _errors_for(r.to_dict(), "incoming/sub/up")
    assert "symlink loop" in reason and "not followed" in reason
    assert _ids(p) == [1, 2]


# -- 16. freshly copied files are ingested once they stop changing ------------------------


def test_young_file_that_stopped_changing_is_ingested_in_the_same_run(make_project, tmp_path):
    p = make_project("settle_seconds = 1\n")
    put(tmp_path / "incoming/a.csv", "id\n1\n", old=False)
    r = p.ingest()
    assert (r.status, r.files_new, r.files_deferred, r.rows_added) == ("ok", 1, 0, 1)


def test_file_still_changing_is_deferred_and_the_summary_says_so_first(
    make_project, tmp_path, capsys
):
    from headwater.cli import output

    p = make_project("settle_seconds = 1\n")
    put(tmp_path / "incoming/done.csv", "id\n1\n")
    growing = put(tmp_path / "incoming/growing.csv", "id\n2\n", old=False)

    def progress(stage, done, total, detail):
        if stage == "settle":  # the writer is still at work while ingest waits
            with open(growing, "a") as fh:
                fh.write("3\n")

    r = p.ingest(progress=progress)
    assert (r.status, r.files_new, r.files_deferred) == ("ok", 1, 1)
    [f] = [f for f in r.files if f["status"] == "deferred"]
    assert f["path"].endswith("growing.csv") and "still being written" in f["reason"]
    capsys.readouterr()
    output.ingest_result(r.to_dict())
    first = capsys.readouterr().out.splitlines()[0]
    assert "1 file deferred" in first and "still being written" in first


def test_readme_first_steps_ingest_freshly_copied_files(tmp_path):
    out = _cli(tmp_path, "init", str(tmp_path / "proj"))
    assert out.returncode == 0, out.stderr
    put(tmp_path / "somewhere/a.csv", "id,name\n1,a\n2,b\n")
    shutil.copy(tmp_path / "somewhere/a.csv", tmp_path / "proj/incoming/a.csv")  # new mtime
    out = _cli(tmp_path / "proj", "ingest", "--format", "json")
    r = _json(out)
    assert out.returncode == 0, out.stderr
    assert (r["status"], r["files_new"], r["files_deferred"], r["rows_added"]) == ("ok", 1, 0, 2)


def test_glob_whose_folder_is_missing_is_a_source_error(tmp_path, capsys):
    write_toml(
        tmp_path,
        '[[sources]]\npath = "incoming"\n[[sources]]\npath = "later/**/*.csv"\n'
        "[dataset]\nsettle_seconds = 0\n",
    )
    put(tmp_path / "incoming/a.csv", "id\n1\n")
    r = _json(_main(capsys, tmp_path, "ingest", "--format", "json"))
    assert r["status"] == "partial" and r["rows_added"] == 1
    [e] = r["source_errors"]
    assert e["source"] == "later/**/*.csv" and "does not exist" in e["reason"]
