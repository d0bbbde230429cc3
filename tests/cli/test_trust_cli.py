"""The CLI under misuse: ``-o`` on special files, consistent flags, messages, exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import put, run_cli

CSV = ['"corporation","employees"', '"acme",10', '"bolt",12']


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    out = run_cli("init", str(root), "--name", "risk")
    assert out.returncode == 0, out.stderr
    toml = root / "headwater.toml"
    toml.write_text(toml.read_text().replace("# settle_seconds = 2.0 ", "settle_seconds = 0 "))
    put(root / "incoming/a.csv", "Corporation,Employees\nacme,10\nbolt,12\n")
    out = run_cli("ingest", "-p", str(root))
    assert out.returncode == 0, out.stderr
    return root


class _Fifo:
    """A FIFO in tmp_path with a reader thread draining it. We hold a write end too, so the
    reader never blocks forever even if the command replaced the FIFO instead of writing."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(self.rfd, True)
        self.wfd = os.open(path, os.O_WRONLY)
        self.data = b""
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while chunk := os.read(self.rfd, 65536):
            self.data += chunk

    def close(self) -> bytes:
        os.close(self.wfd)
        self.thread.join(timeout=30)
        os.close(self.rfd)
        return self.data


def _commands(root: Path, tmp_path: Path, out: Path) -> dict[str, tuple[str, ...]]:
    put(tmp_path / "l.csv", "id,x\n1,a\n")
    put(tmp_path / "r.csv", "id,x\n1,a\n")
    return {
        "export": ("export", "-p", str(root), "-o", str(out)),
        "records export": ("records", "export", "1", "-p", str(root), "-o", str(out)),
        "compare": (
            "compare", str(tmp_path / "l.csv"), str(tmp_path / "r.csv"), "--key", "id",
            "--format", "json", "-o", str(out),
        ),
    }  # fmt: skip


@pytest.mark.parametrize("command", ["export", "records export", "compare"])
def test_output_into_a_fifo_writes_into_it_and_keeps_it_a_fifo(tmp_path, command):
    root = _project(tmp_path)
    fifo = _Fifo(tmp_path / "pipe")
    try:
        out = run_cli(*_commands(root, tmp_path, fifo.path)[command])
    finally:
        data = fifo.close()
    assert out.returncode == 0, out.stderr
    assert stat.S_ISFIFO(os.lstat(fifo.path).st_mode), "the FIFO was replaced by a file"
    assert data, "nothing was written into the FIFO"
    if command == "export":
        assert data.decode().splitlines() == CSV
    elif command == "compare":
        assert json.loads(data)["equal"] is True
    assert not list(tmp_path.glob(".pipe.tmp-*"))


@pytest.mark.parametrize("command", ["export", "records export", "compare"])
def test_output_through_a_symlink_replaces_its_target_not_the_link(tmp_path, command):
    root = _project(tmp_path)
    real = put(tmp_path / "real.csv", "old content\n")
    os.chmod(real, 0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    out = run_cli(*_commands(root, tmp_path, link)[command])
    assert out.returncode == 0, out.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    text = real.read_text()
    assert text != "old content\n" and text
    if command == "export":
        assert text.splitlines() == CSV
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640  # the file's mode is kept


def test_output_to_dev_null_writes_into_it(tmp_path):
    from headwater._output import write_atomically

    # first make sure the code path writes straight into a special file: on code that
    # replaces it, this FIFO check fails before /dev/null is touched
    fifo = _Fifo(tmp_path / "guard")
    try:
        write_atomically(fifo.path, lambda p: p.write_text("x\n"))
    finally:
        data = fifo.close()
    assert stat.S_ISFIFO(os.lstat(fifo.path).st_mode) and data == b"x\n"

    root = _project(tmp_path)
    out = run_cli("export", "-p", str(root), "-o", "/dev/null")
    assert out.returncode == 0, out.stderr
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert not list(Path("/dev").glob(".null.tmp-*"))


def test_output_dash_is_stdout(tmp_path):
    root = _project(tmp_path)
    out = run_cli("export", "-p", str(root), "-o", "-", cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == CSV  # only the data: the summary goes to stderr
    assert "wrote 2 rows" in out.stderr
    assert not (root / "-").exists()
    out = run_cli("records", "export", "1", "-p", str(root), "-o", "-", cwd=root)
    assert out.returncode == 0 and "run 1" in out.stdout and not (root / "-").exists()


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    root = _project(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = put(tmp_path / f".final.csv.tmp-{int(dead.stdout)}", "half an export")
    out = run_cli("export", "-p", str(root), "-o", str(tmp_path / "final.csv"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "final.csv").read_text().splitlines() == CSV
    assert not stale.exists()
    assert not list(tmp_path.glob(".final.csv.tmp-*"))
