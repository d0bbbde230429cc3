"""The project lock when the records are on PostgreSQL: a session advisory lock.

The lock follows the records: every writer of a project — on any host — takes the same
advisory lock, keyed by the record store (its database and schema), on a connection it
keeps for the whole run. The server releases it when that connection ends, so a writer
that dies (kill -9, a host that goes away) frees it without anyone's help — the guarantee
the file lock gives on one host, across hosts. Who holds it is the holding session's
``application_name`` (``headwater run=12 kind=ingest pid=345 host=…``), read from
``pg_stat_activity`` for the refused writer's message: no table, nothing to clean up.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import sqlalchemy as sa

from headwater.errors import LockError

CLASS_ID = 0x4857  # "HW": the first key of pg_advisory_lock(int, int), headwater's own
_KEY = "hashtext(current_database() || '/' || current_schema())"


class AdvisoryLock:
    """The same interface as :class:`headwater._lock.ProjectLock`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._conn: sa.Connection | None = None

    def acquire(self, *, wait: bool, timeout: float | None = None) -> None:
        conn = self.engine.connect()
        try:
            conn.execute(
                sa.text("SELECT set_config('application_name', :n, false)"), {"n": _name()}
            )
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                got = conn.execute(
                    sa.text(f"SELECT pg_try_advisory_lock({CLASS_ID}, {_KEY})")
                ).scalar()
                conn.commit()  # the lock is the session's, not the transaction's
                if got:
                    self._conn = conn
                    return
                if not wait or (deadline is not None and time.monotonic() > deadline):
                    holder = self.holder()
                    raise LockError(
                        f"the project is busy: {_who(holder)} holds the lock",
                        hint="wait for it to finish, or pass --wait to queue behind it",
                        holder=holder,
                    )
                time.sleep(0.2)
        except BaseException:
            if self._conn is None:
                conn.close()
            raise

    def describe(self, **info: Any) -> None:
        """Say who holds the lock, in the holding session's application_name."""
        if self._conn is not None:
            self._conn.execute(
                sa.text("SELECT set_config('application_name', :n, false)"), {"n": _name(**info)}
            )
            self._conn.commit()

    def holder(self) -> dict[str, Any]:
        """The session holding this project's lock, as far as the server tells."""
        q = sa.text(
            "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            f"WHERE l.locktype = 'advisory' AND l.classid = {CLASS_ID} "
            f"AND l.objid = ({_KEY})::oid AND l.granted LIMIT 1"
        )
        try:
            with self.engine.connect() as conn:
                row = conn.execute(q).first()
        except sa.exc.SQLAlchemyError:
            return {}
        if row is None:
            return {}
        out: dict[str, Any] = dict(
            part.split("=", 1) for part in str(row[0]).split()[1:] if "=" in part
        )
        out["since"] = str(row[2]) if row[2] is not None else None
        return out

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(sa.text(f"SELECT pg_advisory_unlock({CLASS_ID}, {_KEY})"))
                self._conn.commit()
            except sa.exc.DBAPIError:
                pass  # the session is gone (the server went away), and the lock with it
            finally:
                self._conn.close()  # ending the session frees it in any case
                self._conn = None

    @property
    def is_locked(self) -> bool:
        return self._conn is not None


def _name(**info: Any) -> str:
    """A session's application_name: at most 63 bytes, ``key=value`` words."""
    parts = {"run": info.get("run_id"), "kind": info.get("kind"), "pid": os.getpid()}
    words = " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)
    return f"headwater {words} host={socket.gethostname()}"[:63]


def _who(holder: dict[str, Any]) -> str:
    if not holder:
        return "another process"
    if holder.get("run"):
        return (
            f"run {holder.get('run')} ({holder.get('kind')}, pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('since')})"
        )
    return f"a writer (pid {holder.get('pid')} on {holder.get('host')})"
