"""Starting scheduled jobs: one fire from cron (``schedule fire``) and the foreground
scheduler (``schedule run``).

Every fire starts the job (``headwater run`` or ``ingest``) as a child process — never in
this process, so a crash in a run cannot take the scheduler down — with its output
appended to ``.headwater/logs/schedule.log`` and ``HEADWATER_TRIGGER`` /
``HEADWATER_SCHEDULE_ENTRY`` in its environment, which the run records. A fire that finds
another run holding the project lock is recorded by that child as ``skipped``, naming the
holder: the scheduler never starts a job in its own process, and never queues one.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from headwater.cron import now_local

LOG_CAP = 5 * 1024 * 1024  # bytes of schedule.log before it is rotated
LOG_KEEP = 3  # rotated logs kept: schedule.log.1 … .3


def log_path(root: Path) -> Path:
    return root / ".headwater" / "logs" / "schedule.log"


def open_log(path: Path, cap: int = LOG_CAP, keep: int = LOG_KEEP) -> IO[bytes]:
    """The log, opened to append; rotated first when it is over ``cap`` bytes. A log that
    is not a regular file (a symlink, a FIFO, /dev/null) is appended to, never rotated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    import stat

    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > cap:
        for i in range(keep, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            newer = path.with_name(f"{path.name}.{i - 1}") if i > 1 else path
            if newer.exists():
                os.replace(newer, older)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    return os.fdopen(fd, "ab")


def child_command(root: Path, job: str) -> list[str]:
    return [sys.executable, "-m", "headwater", "-p", str(root), job]


def child_env(trigger: str, entry: str) -> dict[str, str]:
    env = dict(os.environ)
    env["HEADWATER_TRIGGER"] = trigger
    env["HEADWATER_SCHEDULE_ENTRY"] = entry
    env.setdefault("COLUMNS", "120")  # the log is read later, at any width
    return env


def _stamp() -> str:
    return now_local().isoformat(timespec="seconds")


def fire(root: Path, entry: str, job: str, trigger: str = "cron") -> int:
    """One fire: the job as a child process, its output appended to the log; returns the
    child's exit code (what cron sees)."""
    with open_log(log_path(root)) as log:
        log.write(f"--- {_stamp()} {trigger} entry {entry}: headwater {job}\n".encode())
        log.flush()
        proc = subprocess.run(
            child_command(root, job),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(trigger, entry),
            cwd=root,
            check=False,
        )
        log.write(f"--- {_stamp()} entry {entry}: exit {proc.returncode}\n".encode())
    return proc.returncode


@dataclass
class Planned:
    """A ``[[schedule]]`` entry as the scheduler tracks it."""

    id: str
    expression: str
    job: str
    name: str | None
    next_at: dt.datetime | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)


@dataclass
class Scheduler:
    """The foreground scheduler over ``entries`` (see :func:`serve`). ``now``, ``sleep``
    and ``spawn`` are the clock, the wait and the child start (tests pass their own)."""

    root: Path
    entries: Sequence[Planned]
    say: Callable[[str], None]
    now: Callable[[], dt.datetime] = now_local
    sleep: Callable[[float], None] = time.sleep
    spawn: Callable[[Planned], subprocess.Popen[bytes]] | None = None
    stopping: bool = False
    forced: bool = False
    exits: list[int] = field(default_factory=list)

    def plan(self, after: dt.datetime, entry: Planned) -> None:
        from headwater.cron import next_fires

        fires = next_fires(entry.expression, 1, after)
        entry.next_at = fires[0].at if fires else None

    def start(self, entry: Planned) -> None:
        if self.spawn is not None:
            child = self.spawn(entry)
        else:
            log = open_log(log_path(self.root))
            log.write(
                f"--- {_stamp()} scheduler entry {entry.id}: headwater {entry.job}\n".encode()
            )
            log.flush()
            child = subprocess.Popen(
                child_command(self.root, entry.job),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env("scheduler", entry.id),
                cwd=self.root,
            )
            log.close()  # the child has its own copy
        entry.children.append(child)
        self.say(f"fired {entry.id} ({entry.expression!r}): headwater {entry.job}, pid {child.pid}")

    def reap(self) -> None:
        for entry in self.entries:
            for child in list(entry.children):
                rc = child.poll()
                if rc is not None:
                    entry.children.remove(child)
                    self.exits.append(rc)
                    self.say(f"{entry.id}: headwater {entry.job} (pid {child.pid}) exited {rc}")

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [c for e in self.entries for c in e.children]

    def stop(self, signum: int, _frame: Any = None) -> None:
        """First SIGTERM/SIGINT: start nothing more, let running jobs finish. Second: pass
        SIGINT to them (each records its run ``interrupted``)."""
        if self.stopping:
            self.forced = True
            for child in self.running():
                child.send_signal(signal.SIGINT)
            self.say("stopping now: interrupting the running job(s)")
        else:
            self.stopping = True
            n = len(self.running())
            self.say(
                "stopping: " + (f"waiting for {n} running job(s)" if n else "nothing is running")
            )

    def serve(self, *, once: bool = False) -> int:
        """Fire each entry at its times until stopped (``once``: the first fire time, then
        exit). A fire time missed while the machine slept fires once on wake, never a burst:
        the next time is computed from the clock after each fire. Returns 0; 130 when a
        second stop interrupted running jobs; with ``once`` the worst exit code of what it
        fired."""
        start = self.now()
        for entry in self.entries:
            self.plan(start, entry)
        fired = False
        while not self.stopping:
            t = self.now()
            due = [e for e in self.entries if e.next_at is not None and e.next_at <= t]
            for entry in due:
                late = (t - entry.next_at).total_seconds() if entry.next_at else 0
                if late > 60:
                    self.say(f"{entry.id}: its fire at {entry.next_at} was missed; firing once now")
                self.start(entry)
                self.plan(t, entry)
                fired = True
            self.reap()
            if once and fired:
                break
            upcoming = [e.next_at for e in self.entries if e.next_at is not None]
            if not upcoming and not self.running():
                self.say("no entry has a next fire time: stopping")
                break
            wait = min(upcoming) - self.now() if upcoming else dt.timedelta(seconds=1)
            self.sleep(max(0.05, min(1.0, wait.total_seconds())))
        while self.running():
            self.reap()
            if self.running():
                self.sleep(0.2)
        self.reap()
        if once:
            return max(self.exits, default=0)
        return 130 if self.forced else 0
