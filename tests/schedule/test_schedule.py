"""Crontab entries (as text, and as cron's /bin/sh runs them), fires and the foreground
scheduler, with real child processes and the real project lock."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater import Project
from headwater.cron import parse
from headwater.errors import ScheduleError
from headwater.schedule import crontab
from headwater.schedule.runner import Planned, Scheduler, log_path, open_log
from tests.conftest import put

USER_CRONTAB = (
    "# my own jobs: leave them alone\n"
    "MAILTO=ops@example.com\n"
    "SHELL=/bin/sh\n"
    "\n"
    "0 4 * * * /usr/local/bin/backup --all  # nightly, with 100% of the data\n"
    "@reboot /usr/bin/true\n"
)


def test_entries_are_added_and_removed_leaving_every_other_line_byte_for_byte(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    text = crontab.with_entry(USER_CRONTAB, a, parse("*/10 * * * *"), "run", "ten minutes")
    text = crontab.with_entry(text, a, parse("@daily"), "ingest", None)
    text = crontab.with_entry(text, b, parse("*/10 * * * *"), "run", None)
    assert text.startswith(USER_CRONTAB)
    mine = crontab.entries(text, a)
    assert [(e.expression, e.job, e.name) for e in mine] == [
        ("*/10 * * * *", "run", "ten minutes"),
        ("@daily", "ingest", None),
    ]
    assert len(crontab.entries(text, b)) == 1 and len(crontab.entries(text)) == 3
    # remove one of a's: the rest stays; remove all of a's: b's stays
    one, gone = crontab.without(text, {mine[0].id}, a)
    assert [e.id for e in gone] == [mine[0].id] and len(crontab.entries(one, a)) == 1
    rest, gone = crontab.without(text, None, a)
    assert len(gone) == 2 and [e.project for e in crontab.entries(rest)] == [str(b.resolve())]
    none, _ = crontab.without(rest, None, b)
    assert none == USER_CRONTAB  # byte for byte


def test_the_same_expression_and_job_twice_is_refused(tmp_path):
    text = crontab.with_entry("", tmp_path, parse("0 3 * * *"), "run", None)
    with pytest.raises(ScheduleError, match="already has the entry"):
        crontab.with_entry(text, tmp_path, parse("0  3 * * *"), "run", "again")
    # another job at the same time is another entry
    crontab.with_entry(text, tmp_path, parse("0 3 * * *"), "ingest", None)
    with pytest.raises(ScheduleError, match="unknown job"):
        crontab.with_entry(text, tmp_path, parse("0 3 * * *"), "train", None)


def _project(tmp_path: Path, extra: str = "") -> Project:
    root = tmp_path / "my project 100%"  # a space and a % (a newline to cron)
    root.mkdir()
    (root / "headwater.toml").write_text(
        '[project]\nname = "p"\n[[sources]]\npath = "in"\n[dataset]\nname = "d"\n'
        'settle_seconds = 0\n[engine]\nthreads = 1\nmemory_limit = "256MB"\n' + extra
    )
    put(root / "in/a.csv", "k,v\n1,x\n2,y\n")
    return Project.open(root)


def test_an_entry_runs_in_crons_environment(tmp_path):
    """The line as cron runs it: /bin/sh, a bare PATH, HOME as the working folder, no
    terminal, no PYTHONPATH — it still finds the project and headwater, logs, records."""
    p = _project(tmp_path)
    text = crontab.with_entry("", p.root, parse("* * * * *"), "ingest", None)
    [entry] = crontab.entries(text, p.root)
    command = entry.line.split(" ", 5)[5]  # after the five fields
    assert "\\%" in command  # cron would cut the line at a bare %
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHELL": "/bin/sh", "LOGNAME": "root"}
    # cron unescapes \% before handing the line to /bin/sh
    proc = subprocess.run(
        ["/bin/sh", "-c", command.replace("\\%", "%")],
        cwd=home,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # cron would mail any output
    [run] = p.history()
    assert (run["kind"], run["status"], run["trigger"], run["schedule_entry"]) == (
        "ingest",
        "ok",
        "cron",
        entry.id,
    )
    log = log_path(p.root).read_text()
    assert f"cron entry {entry.id}: headwater ingest" in log and "exit 0" in log


def test_the_log_is_size_capped_and_a_special_file_is_never_replaced(tmp_path):
    path = tmp_path / "logs/schedule.log"
    for i in range(5):
        with open_log(path, cap=100, keep=2) as log:
            log.write(f"{i}".encode() * 150)
    assert path.stat().st_size == 150 and path.read_bytes() == b"4" * 150
    assert (tmp_path / "logs/schedule.log.1").read_bytes() == b"3" * 150
    assert (tmp_path / "logs/schedule.log.2").read_bytes() == b"2" * 150
    assert not (tmp_path / "logs/schedule.log.3").exists()
    link = tmp_path / "logs/null.log"
    link.symlink_to("/dev/null")
    for _ in range(2):
        with open_log(link, cap=1) as log:
            log.write(b"x" * 10)
    assert link.is_symlink() and os.readlink(link) == "/dev/null"


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.t = start
        self.jumps: list[dt.timedelta] = []

    def now(self) -> dt.datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += self.jumps.pop(0) if self.jumps else dt.timedelta(seconds=seconds)


def test_a_fire_missed_while_asleep_runs_once_on_wake_never_a_burst(tmp_path):
    clock = Clock(dt.datetime(2026, 5, 4, 12, 0, 30, tzinfo=dt.UTC))
    started: list[str] = []

    def spawn(entry: Planned) -> subprocess.Popen[bytes]:
        started.append(clock.now().isoformat())
        return subprocess.Popen([sys.executable, "-c", "pass"])

    entry = Planned("e1", "*/10 * * * *", "run", None)
    said: list[str] = []
    s = Scheduler(tmp_path, [entry], said.append, now=clock.now, sleep=clock.sleep, spawn=spawn)
    # the machine sleeps from 12:00:30 to 15:05 (18 fire times missed), then runs on
    clock.jumps = [dt.timedelta(hours=3, minutes=4, seconds=30)]
    s.serve(once=True)
    assert started == ["2026-05-04T15:05:00+00:00"]  # one fire, on wake
    assert any("missed; firing once now" in line for line in said)
    assert entry.next_at == dt.datetime(2026, 5, 4, 15, 10, tzinfo=dt.UTC)


def test_a_fire_while_another_run_holds_the_lock_is_recorded_skipped_naming_it(tmp_path):
    p = _project(tmp_path)
    clock = Clock(dt.datetime(2026, 5, 4, 12, 9, 59, tzinfo=dt.UTC))
    entry = Planned("nightly", "*/10 * * * *", "ingest", None)
    said: list[str] = []
    s = Scheduler(p.root, [entry], said.append, now=clock.now, sleep=clock.sleep)
    with p.writer("run") as holder:  # a run still going when the fire comes
        assert s.serve(once=True) == 2  # the child's exit code: skipped
    skipped = next(r for r in p.history() if r["status"] == "skipped")
    assert (skipped["kind"], skipped["trigger"], skipped["schedule_entry"]) == (
        "ingest",
        "scheduler",
        "nightly",
    )
    assert f"run {holder.id}" in (skipped["note"] or "")
    story = " ".join(p.run_record(skipped["id"])["story"])
    assert "started by the foreground scheduler (nightly)" in story and "did nothing" in story
    assert any("exited 2" in line for line in said)
    log = log_path(p.root).read_text()
    assert "scheduler entry nightly" in log and "holds the lock" in log


def test_schedule_run_fires_config_entries_and_stops_cleanly_on_sigterm(tmp_path):
    p = _project(tmp_path, '\n[[schedule]]\ncron = "* * * * *"\njob = "ingest"\nname = "m"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater", "-p", str(p.root), "schedule", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "scheduler for" in first and "'* * * * *' → ingest" in first
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, first + out
    assert "stopping" in out


def test_schedule_run_without_entries_says_how_to_add_one(tmp_path):
    from tests.conftest import run_cli

    p = _project(tmp_path)
    out = run_cli("schedule", "run", "-p", str(p.root))
    assert out.returncode == 2 and "[[schedule]]" in out.stderr


def test_without_a_crontab_command_the_error_says_what_to_do(tmp_path, monkeypatch):
    from tests.conftest import run_cli

    p = _project(tmp_path, '\n[[schedule]]\ncron = "@daily"\n')
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    out = run_cli("schedule", "add", "@daily", "-p", str(p.root))
    assert out.returncode == 2
    assert "no `crontab` command" in out.stderr and "apt-get install cron" in out.stderr
    assert "schedule run" in out.stderr
    # list still shows the config's entries
    [entry] = p.schedule_list()
    assert entry["source"] == "config" and entry["expression"] == "@daily"


def test_a_stop_lets_the_running_job_finish(tmp_path):
    p = _project(tmp_path)
    clock = Clock(dt.datetime(2026, 5, 4, 12, 9, 59, tzinfo=dt.UTC))
    entry = Planned("e", "*/10 * * * *", "ingest", None)
    said: list[str] = []
    s = Scheduler(p.root, [entry], said.append, now=clock.now)

    def sleep(seconds: float) -> None:  # SIGTERM arrives while the fired job runs
        if entry.children and not s.stopping:
            s.stop(signal.SIGTERM)
        clock.sleep(seconds)
        time.sleep(0.05)

    s.sleep = sleep
    assert s.serve() == 0
    assert any("waiting for 1 running job" in line for line in said)
    assert any("exited 0" in line for line in said)
    [run] = p.history()
    assert (run["status"], run["trigger"]) == ("ok", "scheduler")


def test_a_second_stop_interrupts_the_running_job_and_it_is_recorded(tmp_path):
    """SIGTERM twice: the running child gets SIGINT, records its run ``interrupted``, the
    scheduler reaps it and returns 130. The child here is queued behind a run the test
    holds (``--wait``), so it is certainly still going when the second stop comes."""
    p = _project(tmp_path)
    clock = Clock(dt.datetime(2026, 5, 4, 12, 9, 59, tzinfo=dt.UTC))
    entry = Planned("e", "*/10 * * * *", "ingest", None)
    said: list[str] = []

    def spawn(planned: Planned) -> subprocess.Popen[bytes]:
        from headwater.schedule.runner import child_command, child_env

        return subprocess.Popen(
            [*child_command(p.root, planned.job), "--wait"],
            env=child_env("scheduler", planned.id),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    s = Scheduler(p.root, [entry], said.append, now=clock.now, spawn=spawn)

    def sleep(seconds: float) -> None:
        if entry.children and not s.stopping:
            child = entry.children[0]
            queued = child.stderr.readline()  # type: ignore[union-attr]
            assert f"waiting for run {holder.id} (run" in queued
            s.stop(signal.SIGTERM)
            assert child.poll() is None  # the first stop lets it go on
            s.stop(signal.SIGTERM)
        clock.sleep(seconds)
        time.sleep(0.05)

    s.sleep = sleep
    with p.writer("run") as holder:
        assert s.serve() == 130
    assert s.exits == [130]
    assert any("interrupting the running job" in line for line in said)
    interrupted = [r for r in p.history() if r["id"] != holder.id]
    assert [(r["kind"], r["status"], r["trigger"], r["schedule_entry"]) for r in interrupted] == [
        ("ingest", "interrupted", "scheduler", "e")
    ]
    assert "waited for the project lock" in (interrupted[0]["note"] or "")


def test_an_at_reboot_entry_is_a_crontab_line_with_no_next_time_but_at_boot(tmp_path):
    from headwater.schedule import _entry

    text = crontab.with_entry(USER_CRONTAB, tmp_path, parse("@reboot"), "run", "boot")
    [mine] = crontab.entries(text, tmp_path)
    assert mine.expression == "@reboot" and mine.line.startswith("@reboot ")
    assert "headwater" in mine.line and str(tmp_path.resolve()) in mine.line
    shown = _entry(
        mine.id, "crontab", mine.expression, mine.job, mine.name, dt.datetime.now(dt.UTC)
    )
    assert (shown["next"], shown["next_note"]) == (None, "at boot")
    assert crontab.without(text, {mine.id}, tmp_path)[0] == USER_CRONTAB
