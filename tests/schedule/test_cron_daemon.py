"""The real thing: Debian's cron daemon runs an entry `headwater schedule add` installed.

Needs root and Debian's cron (`make test` installs it). This test changes root's crontab
while it runs — that is the point of it — and puts it back exactly as it was afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from headwater import Project
from tests.conftest import put, run_cli

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("cron") is None,
    reason="needs root and Debian's cron (`make test` installs it with apt-get)",
)
if os.environ.get("CI") and (os.geteuid() != 0 or shutil.which("cron") is None):
    raise RuntimeError("CI must run the real cron test: install cron (see the Makefile)")

USER_LINES = "# the user's own line, kept byte for byte\n17 5 * * * /bin/true  # 100% theirs\n"


@pytest.fixture
def root_crontab():
    """Root's crontab as the test found it, restored afterwards whatever happens."""
    before = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    saved = before.stdout if before.returncode == 0 else None
    try:
        yield saved
    finally:
        if saved is None:
            subprocess.run(["crontab", "-r"], capture_output=True)
        else:
            subprocess.run(["crontab", "-"], input=saved, text=True, check=True)


@pytest.fixture
def cron_daemon():
    """Debian's cron, running (started for the test when it is not)."""
    running = subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0
    proc = None
    if not running:
        proc = subprocess.Popen(
            ["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)
        assert proc.poll() is None, "cron -f exited at once"
    try:
        yield
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


def test_cron_runs_the_entry_and_remove_leaves_the_users_lines(tmp_path, root_crontab, cron_daemon):
    mine = (root_crontab or "") + USER_LINES
    subprocess.run(["crontab", "-"], input=mine, text=True, check=True)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "headwater.toml").write_text(
        '[project]\nname = "p"\n[[sources]]\npath = "in"\n[dataset]\nname = "d"\n'
        'settle_seconds = 0\n[engine]\nthreads = 1\nmemory_limit = "256MB"\n'
    )
    put(root / "in/a.csv", "k,v\n1,x\n2,y\n")
    out = run_cli("schedule", "add", "* * * * *", "--job", "ingest", "-p", str(root))
    assert out.returncode == 0, out.stderr
    p = Project.open(root)
    [entry] = p.schedule_list()
    assert entry["source"] == "crontab" and entry["job"] == "ingest"
    deadline = time.monotonic() + 130  # the next minute, and cron's re-read of the spool
    runs: list[dict] = []
    while time.monotonic() < deadline and not runs:
        time.sleep(2)
        runs = [r for r in p.history() if r["status"] != "running"]
    assert runs, "cron did not run the entry within 130 s"
    [run] = runs
    assert (run["kind"], run["status"], run["trigger"], run["schedule_entry"]) == (
        "ingest",
        "ok",
        "cron",
        entry["id"],
    )
    [listed] = p.schedule_list()
    assert listed["last_run"]["run_id"] == run["id"]
    out = run_cli("schedule", "remove", entry["id"], "-p", str(root))
    assert out.returncode == 0, out.stderr
    after = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=True).stdout
    assert after == mine  # the user's lines, byte for byte
