"""The reader under bad input and misuse (issue #13): no row lost in silence, Ctrl-C is an
interrupt, operating errors are not bugs, and reasons that say what happened.
"""

from __future__ import annotations

import errno
import gzip
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from headwater import Project
from headwater.errors import HeadwaterError, OperatingError, operating_error
from tests.conftest import put, run_cli

MiB = 1 << 20


def _good(tmp_path: Path) -> None:
    put(tmp_path / "incoming/good.csv", "id,name\n1,a\n2,b\n")


def _file(result, name):
    [f] = [f for f in result.files if f["path"].endswith(name)]
    return f


# -- item 2: a line the reader cannot take fails its file --------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"id,name\n1,a\n2," + b"x" * (40 * MiB) + b"\n", id="last-line-40MiB"),
        pytest.param(b"id,name\n1,a\n2," + b"x" * (40 * MiB), id="last-line-no-newline"),
        pytest.param(b"id,name\n2," + b"x" * (50 * MiB) + b"\n", id="only-row-50MiB"),
        pytest.param(b"id,name\n1,a\n2," + b"x" * (40 * MiB) + b"\n3,c\n", id="middle-40MiB"),
        pytest.param(b"id,name\n1,a\n2," + b"x" * (3 * MiB) + b"\n3,c\n", id="middle-3MiB"),
    ],
)
def test_a_line_too_long_for_the_reader_fails_its_file_and_is_retried(make_project, tmp_path, body):
    p = make_project()
    _good(tmp_path)
    put(tmp_path / "incoming/long.csv", body)
    r = p.ingest()
    f = _file(r, "long.csv")
    assert f["status"] == "failed", f
    assert "line" in f["reason"] and "longer than" in f["reason"], f["reason"]
    assert "quot" not in f["reason"], f["reason"]
    assert (r.status, r.rows_added) == ("partial", 2)
    # never recorded as ingested: the next run tries it again
    assert p.ingest().files_failed == 1


def test_a_huge_last_line_of_a_compressed_file_fails_it(make_project, tmp_path):
    p = make_project()
    put(
        tmp_path / "incoming/long.csv.gz",
        gzip.compress(b"id,name\n1,a\n2," + b"x" * (40 * MiB) + b"\n", compresslevel=1),
    )
    r = p.ingest()
    f = _file(r, "long.csv.gz")
    assert f["status"] == "failed" and "longer than" in f["reason"], f
    assert r.rows_added == 0


def test_a_long_line_under_the_limit_is_read(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "id,name\n1," + "x" * (MiB) + "\n2,b\n")
    r = p.ingest()
    assert (r.status, r.rows_added) == ("ok", 2)


# -- item 14: reasons that say what happened ---------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("id,name\n1,a\n".encode("utf-16"), id="utf-16-bom"),
        pytest.param("id,name\n1,a\n".encode("utf-16-be"), id="utf-16-be-no-bom"),
        pytest.param("id,name\n1,a\n".encode("utf-16-le"), id="utf-16-le-no-bom"),
    ],
)
def test_utf16_text_is_named_utf16_not_binary(make_project, tmp_path, data):
    p = make_project()
    _good(tmp_path)
    put(tmp_path / "incoming/wide.csv", data)
    r = p.ingest()
    f = _file(r, "wide.csv")
    assert f["status"] == "failed"
    assert 'UTF-16 (set encoding = "utf-16"' in f["reason"], f["reason"]
    assert "binary" not in f["reason"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("scalars.json", "[1, 2, 3]"),
        ("scalar.json", "42"),
        ("strings.json", '["a", "b"]'),
        ("scalars.jsonl", "1\n2\n"),
    ],
)
def test_json_that_is_not_objects_fails_the_file(make_project, tmp_path, name, content):
    p = make_project()
    _good(tmp_path)
    put(tmp_path / "incoming" / name, content)
    r = p.ingest()
    f = _file(r, name)
    assert f["status"] == "failed" and "expected objects" in f["reason"], f
    assert "json" not in p.read().column_names


def test_json_objects_still_read(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.json", '[{"id": 1, "name": "a"}]')
    put(tmp_path / "incoming/b.jsonl", '{"id": 2, "name": "b"}\n')
    r = p.ingest()
    assert (r.status, r.rows_added) == ("ok", 2)


def test_empty_parquet_file_fails(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    put(tmp_path / "incoming/empty.parquet", b"")
    r = p.ingest()
    f = _file(r, "empty.parquet")
    assert f["status"] == "failed" and "empty file, not Parquet" in f["reason"], f
    assert (r.status, r.rows_added) == ("partial", 2)


# -- item 8: Ctrl-C is an interrupt --------------------------------------------------------


def _many_rows(path: Path, rows: int = 1_500_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("id,name,amount,day\n")
        for i in range(0, rows, 10_000):
            fh.write(
                "".join(
                    f"{j},name{j % 977},{j * 0.5},2024-01-{j % 28 + 1:02d}\n"
                    for j in range(i, i + 10_000)
                )
            )
    t = os.path.getmtime(path) - 3600
    os.utime(path, (t, t))


def test_ctrl_c_during_the_one_pass_read_is_an_interrupt(make_project, tmp_path):
    p = make_project()
    _many_rows(tmp_path / "incoming/big.csv")
    sent = threading.Event()

    def progress(stage, done, total, detail):
        # the typing pass is also the read (lazy): SIGINT lands while DuckDB parses
        if stage == "type" and not sent.is_set():
            sent.set()
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt):
        p.ingest(progress=progress)
    assert sent.is_set()
    [run] = p.history()
    assert run["status"] == "interrupted", run
    assert p.versions() == []


def test_ctrl_c_in_the_cli_exits_130_and_publishes_nothing(make_project, tmp_path):
    make_project()
    _many_rows(tmp_path / "incoming/big.csv")
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater", "ingest", "--project", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / ".headwater/records.db"
    watcher = Project.open(tmp_path)
    on_sqlite = watcher.config.records.url is None
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # until the run is recorded
        try:
            if on_sqlite:  # read-only: never creates the file the child is creating
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                    if con.execute("SELECT count(*) FROM runs").fetchone()[0]:
                        break
            elif watcher.history(limit=1):
                break
        except (sqlite3.Error, HeadwaterError):
            pass
        time.sleep(0.05)
    watcher.close()
    time.sleep(0.4)  # into the listing, hashing or the read (~1.5 s): wherever it lands
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "bug" not in err
    p = Project.open(tmp_path)
    assert p.history()[0]["status"] == "interrupted"
    assert p.versions() == []


# -- item 13: operating errors are not bugs ----------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left"),
        (errno.EDQUOT, "no space left"),
        (errno.EFBIG, "file size limit"),
        (errno.EACCES, "permission"),
        (errno.EPERM, "permission"),
        (errno.EROFS, "read-only"),
    ],
)
def test_os_errors_of_the_machine_become_operating_errors(tmp_path, code, words):
    path = str(tmp_path / "x.parquet")
    err = operating_error(OSError(code, os.strerror(code), path))
    assert isinstance(err, OperatingError) and err.exit_code == 1
    assert words in str(err).lower() and path in str(err)
    assert err.hint and "records.db" not in err.hint


def test_an_ordinary_error_is_not_an_operating_error():
    assert operating_error(ValueError("no")) is None
    assert operating_error(OSError(errno.ENOENT, "No such file", "x")) is None


def _limit_file_size(limit: int):
    def pre() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_a_full_disk_while_writing_the_dataset_is_a_clear_failure(make_project, tmp_path):
    make_project()
    _many_rows(tmp_path / "incoming/big.csv", rows=300_000)
    Project.open(tmp_path).records.runs()  # the record store exists before the limit
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "headwater", "ingest", "--project", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size(2 * MiB),
    )
    assert proc.returncode == 1, proc
    assert "bug" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
    assert "records.db" not in proc.stderr and "move it away" not in proc.stderr
    assert "file size limit" in proc.stderr.lower() or "space" in proc.stderr.lower()
    assert str(tmp_path) in proc.stderr.replace("\n", "")  # names the path
    p = Project.open(tmp_path)
    assert p.history()[0]["status"] == "failed"
    assert p.versions() == []


def test_out_of_memory_is_a_clear_failure_naming_the_limit(make_project, tmp_path):
    p = make_project(extra="")
    (tmp_path / "headwater.toml").write_text(
        (tmp_path / "headwater.toml").read_text().replace('"512MB"', '"1MB"')
    )
    p = Project.open(tmp_path)
    _many_rows(tmp_path / "incoming/big.csv", rows=200_000)
    with pytest.raises(OperatingError) as info:
        p.ingest()
    assert "memory_limit" in str(info.value) + (info.value.hint or "")
    assert info.value.exit_code == 1
    assert p.history()[0]["status"] == "failed"
    assert p.versions() == []
    r = run_cli("ingest", "--project", str(tmp_path))
    assert r.returncode == 1 and "bug" not in r.stderr and "memory" in r.stderr, r.stderr


def test_a_manifest_that_cannot_be_written_after_the_commit_is_a_warning(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    versions = Path(p.config.dataset_dir) / "versions"

    def progress(stage, done, total, detail):
        tmp = versions / "v000001.tmp"
        if stage == "publish" and not tmp.is_symlink():  # after the sweep, before the commit
            versions.mkdir(parents=True, exist_ok=True)
            tmp.symlink_to("/dev/full")  # its write: ENOSPC

    r = p.ingest(progress=progress)
    assert (r.status, r.dataset_version, r.rows_added) == ("ok", 1, 2)
    [warning] = r.warnings
    note = warning["reason"]
    assert "version 1 is published" in note and "manifest" in note and str(versions) in note
    assert "no space left" in note
    assert not (versions / "v000001.json").exists()
    assert p.history()[0]["status"] == "ok"
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)  # the special file is untouched
    # the next run writes the missing manifest
    p.ingest()
    assert (versions / "v000001.json").exists()
