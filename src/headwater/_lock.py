"""The project lock: one writer at a time (DESIGN.md decision 6).

A ``filelock`` lock on ``.headwater/lock`` with no soft fallback: the operating system drops
it when the holder dies, so a lock held by a dead process is recovered simply by taking it.
Who holds the lock is written beside it (``lock.json``), for the message the second writer
prints; it is removed when the holder releases the lock, so it never names a finished run.

The lock alone does not prove a run dead: the lock file can be deleted under a live writer.
:func:`process_alive` is what the writer checks before it marks a run ``crashed``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from headwater._files import make_dirs
from headwater.errors import LockError

log = logging.getLogger(__name__)

FILE_MODE = 0o644  # the lock and its description: readable by all, writable by the owner


class ProjectLock:
    """Exclusive lock on one project folder's state directory."""

    def __init__(self, state_dir: Path) -> None:
        make_dirs(state_dir)  # at most 0o755, whatever the umask
        self.path = state_dir / "lock"
        self.info_path = state_dir / "lock.json"
        self._lock = FileLock(str(self.path), fallback_to_soft=False, thread_local=False)

    def acquire(self, *, wait: bool, timeout: float | None = None) -> None:
        """Take the lock, or raise :class:`LockError` if another writer holds it. With
        ``wait``, a writer that has to queue says once whom it waits for (a warning)."""
        try:
            self._lock.acquire(timeout=0)
            return
        except Timeout:
            if not wait:
                raise self._busy() from None
        log.warning("waiting for %s to finish (the project lock)", self._who(self._holder()))
        try:
            self._lock.acquire(timeout=timeout if timeout is not None else -1)
        except Timeout:
            raise self._busy() from None

    def _holder(self) -> dict[str, Any]:
        """Who holds the lock, or {} when its description is stale (the process is gone)."""
        holder = self.holder()
        if holder and not process_alive(int(holder.get("pid") or 0), None, holder.get("host")):
            holder = {}  # a stale description: say "another process", not a dead run
        return holder

    @staticmethod
    def _who(holder: dict[str, Any]) -> str:
        if not holder:
            return "another process"
        return (
            f"run {holder.get('run_id')} ({holder.get('kind')}, pid {holder.get('pid')} "
            f"on {holder.get('host')}, since {holder.get('since')})"
        )

    def _busy(self) -> LockError:
        holder = self._holder()
        return LockError(
            f"the project is busy: {self._who(holder)} holds the lock",
            hint="wait for it to finish, or pass --wait to queue behind it",
            holder=holder,
        )

    def describe(self, **info: Any) -> None:
        """Record who holds the lock (only call while holding it)."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), **info}
        _chmod(self.path)
        tmp = self.info_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            f.write(json.dumps(info))
        os.replace(tmp, self.info_path)

    def holder(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.info_path.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        """Release the lock; the description goes first, while the lock is still ours."""
        if self._lock.is_locked:
            if self.holder().get("pid") == os.getpid():
                with contextlib.suppress(OSError):  # the message only gets less precise
                    self.info_path.unlink()
            self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked


def _chmod(path: Path) -> None:
    with contextlib.suppress(OSError):  # not ours to change (another user's lock file)
        os.chmod(path, FILE_MODE)


def process_alive(pid: int, started: str | None = None, host: str | None = None) -> bool:
    """Whether process ``pid`` may still be the one that started a run at ``started``.

    On another host nothing can be known: the answer is True (never declare a run dead on
    a guess). On this host a pid that does not exist is dead; one that exists but started
    after the run did (Linux ``/proc``: a reused pid, e.g. after a reboot) is dead too.
    """
    if host is not None and host != socket.gethostname():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        pass
    if started is None:
        return True
    since = _process_start(pid)
    if since is None:
        return True
    import datetime as dt

    try:
        run_start = dt.datetime.fromisoformat(started).timestamp()
    except ValueError:
        return True
    return since <= run_start + 1.0  # clock ticks are coarse; a second of slack


def _process_start(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), from Linux's /proc; else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
