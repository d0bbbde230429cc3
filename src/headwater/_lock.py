"""The project lock: one writer at a time (DESIGN.md decision 6).

A ``filelock`` lock on ``.headwater/lock`` with no soft fallback: the operating system drops
it when the holder dies, so a lock held by a dead process is recovered simply by taking it.
Who holds the lock is written beside it, for the message the second writer prints.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from headwater.errors import LockError


class ProjectLock:
    """Exclusive lock on one project folder's state directory."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "lock"
        self.info_path = state_dir / "lock.json"
        self._lock = FileLock(str(self.path), fallback_to_soft=False, thread_local=False)

    def acquire(self, *, wait: bool, timeout: float | None = None) -> None:
        """Take the lock, or raise :class:`LockError` if another writer holds it."""
        try:
            self._lock.acquire(timeout=(timeout if timeout is not None else -1) if wait else 0)
        except Timeout:
            holder = self.holder()
            who = (
                f"run {holder.get('run_id')} ({holder.get('kind')}, pid {holder.get('pid')} "
                f"on {holder.get('host')}, since {holder.get('since')})"
                if holder
                else "another process"
            )
            raise LockError(
                f"the project is busy: {who} holds the lock",
                hint="wait for it to finish, or pass --wait to queue behind it",
                holder=holder,
            ) from None

    def describe(self, **info: Any) -> None:
        """Record who holds the lock (only call while holding it)."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), **info}
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.info_path)

    def holder(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.info_path.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked
