"""What every stage of the flow receives: a :class:`Workspace`.

A workspace is one opened project as the stages see it — the configuration, the project
folder, the record store, the engine and the writer — and nothing else. :class:`Project`
(the public façade) owns one and hands it down; no stage imports ``project`` (DESIGN.md,
"Why a Workspace").

Writers compose. :meth:`Workspace.writer` takes the project lock and records a run; a
writer opened inside another writer of the same workspace does not take the lock again:
it records a *child* run (``runs.parent_id``), and its failure fails the parent unless
the parent handles the exception. Another process is still refused (a recorded
``skipped`` run and :class:`~headwater.errors.LockError`) or waits with ``wait``.

The engine is opened on first use, once per workspace, and closed with the workspace; an
engine handed in by the caller (a notebook's session) is never closed.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater._version import __version__
from headwater.errors import HeadwaterError, LockError
from headwater.records import now_iso

if TYPE_CHECKING:
    import sqlalchemy as sa

    from headwater.config import Config
    from headwater.engines.base import Engine
    from headwater.records.store import RecordStore
    from headwater.storage import Store

log = logging.getLogger(__name__)

WRITER_KINDS = ("ingest", "train", "deploy", "rollback", "run", "gc", "records-copy")


@dataclass
class Run:
    """The run a writer is doing: its id, and what it will record when it ends."""

    id: int
    kind: str
    status: str = "ok"
    summary: dict[str, Any] = field(default_factory=dict)
    recovered: list[int] = field(default_factory=list)
    finished: bool = False
    parent_id: int | None = None

    def finish_in(
        self, store: RecordStore, conn: sa.Connection, status: str, summary: dict[str, Any]
    ) -> None:
        """Record the end of the run inside the caller's transaction (e.g. a publish)."""
        store.finish_run(self.id, status, summary=summary, conn=conn)
        self.status, self.summary, self.finished = status, summary, True


def user() -> str:
    """Who is running headwater, as recorded on every run."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


TRIGGERS = ("manual", "cron", "scheduler", "server")


def trigger_from(env: Mapping[str, str] | None) -> tuple[str, str | None]:
    """What started this process, as ``schedule fire`` and ``schedule run`` tell their
    child processes (``HEADWATER_TRIGGER``, ``HEADWATER_SCHEDULE_ENTRY``); else manual."""
    env = env or {}
    kind = env.get("HEADWATER_TRIGGER", "manual")
    if kind not in TRIGGERS:
        kind = "manual"
    entry = env.get("HEADWATER_SCHEDULE_ENTRY") if kind != "manual" else None
    return kind, (entry or None)


class Workspace:
    """Config, root, records, engine and writer of one opened project.

    Parameters
    ----------
    config
        The resolved, frozen configuration.
    engine
        An engine the caller already has (e.g. around an active Spark session): used as
        is and never closed by the workspace.
    """

    def __init__(
        self,
        config: Config,
        *,
        engine: Engine | None = None,
        trigger: tuple[str, str | None] = ("manual", None),
    ) -> None:
        self.config = config
        # what started this process's runs: (manual | cron | scheduler, the schedule entry)
        self.trigger = trigger
        self.root: Path = config.root
        self._records: RecordStore | None = None
        self._engine: Engine | None = engine
        self._owns_engine = engine is None
        self._lock: Any = None  # a ProjectLock, or an AdvisoryLock on PostgreSQL
        self._runs: list[Run] = []  # the open writers, outermost first
        self._stores: dict[str, Store] = {}
        self._attached = False  # the engine was given the remote stores it reads and writes

    # -- the record store --------------------------------------------------------------

    @property
    def records(self) -> RecordStore:
        """The record store (created and migrated on first use)."""
        if self._records is None:
            from headwater.records.store import RecordStore

            url = self.config.records.url
            if url:
                if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                    url = "sqlite:///" + self.config.resolve(url.removeprefix("sqlite:///"))
                self._records = RecordStore(url, schema=self.config.records.pg_schema)
            else:
                self._records = RecordStore.for_folder(self.config.state_dir)
        return self._records

    def history(self, limit: int | None = 50, kind: str | None = None) -> list[dict[str, Any]]:
        """The most recent runs, newest first (read without SQLAlchemy when it can be)."""
        if self._records is None and self.config.records.url is None:
            from headwater.records import _fast

            fast = _fast.runs(self.config.state_dir / "records.db", limit, kind)
            if fast is not None:
                return fast
        elif self._records is None and str(self.config.records.url).startswith("postgresql"):
            from headwater.records import _fast

            url, schema = str(self.config.records.url), self.config.records.pg_schema
            fast = _fast.runs_postgresql(url, limit, kind, schema)
            if fast is not None:
                return fast
        return self.records.runs(limit=limit, kind=kind)

    def fast_db(self) -> Path | None:
        """The SQLite file a command that only reads may query with the standard library
        (``records/_fast.py``: no SQLAlchemy import), or None when the store is elsewhere
        or already open."""
        if self._records is None and self.config.records.url is None:
            return self.config.state_dir / "records.db"
        return None

    # -- the engine --------------------------------------------------------------------

    def engine(self) -> Engine:
        """The workspace's engine, connected on first use (one per workspace)."""
        if self._engine is None:
            from headwater.engines import connect

            self._engine = connect(self.config.engine, self.root)
        if not self._attached:
            dataset = self.dataset_store
            if not dataset.local:  # parts are read and written under its URL
                self._engine.attach_store(dataset)  # a refusal is raised again on next use
            self._attached = True
        return self._engine

    # -- storage -----------------------------------------------------------------------

    def store(self, root: str) -> Store:
        """A folder of this project (the dataset's, the models'), local or a URL opened
        with its ``[storage.<scheme>]`` options; one per root."""
        found = self._stores.get(root)
        if found is None:
            from headwater.storage import Store

            found = self._stores[root] = Store(root, self.config.storage_options(root))
        return found

    @property
    def dataset_store(self) -> Store:
        """Where the dataset's parts, retractions, manifests and owner marker live."""
        return self.store(self.config.dataset_dir)

    @contextmanager
    def engine_scope(self) -> Iterator[Engine]:
        """The engine for one stage; the tables and views the stage made are dropped after
        it (see :meth:`scratch`)."""
        with self.scratch():
            yield self.engine()

    @contextmanager
    def scratch(self) -> Iterator[None]:
        """Tables and views made on the engine inside are dropped at the end, so that the
        next stage of a loop does not hold them in memory. Does not open the engine: a
        stage with nothing to do stays cheap."""
        before = self._engine.temp_tables() if self._engine is not None else set()
        try:
            yield
        finally:
            if self._engine is not None:
                try:
                    for name in sorted(self._engine.temp_tables() - before):
                        self._engine.drop(name)
                except Exception:  # cleaning up must never mask what the stage raised
                    log.debug("dropping a stage's tables failed", exc_info=True)

    def close(self) -> None:
        """Close the engine (if the workspace opened it) and the record store."""
        if self._engine is not None and self._owns_engine:
            engine, self._engine = self._engine, None
            try:
                engine.close()
            except Exception:  # pragma: no cover - closing must not mask the real error
                log.debug("engine close failed", exc_info=True)
        if self._records is not None:
            self._records.dispose()
            self._records = None

    # -- writing -----------------------------------------------------------------------

    @property
    def current_run(self) -> Run | None:
        """The innermost open writer's run, if any."""
        return self._runs[-1] if self._runs else None

    def run_values(self, kind: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What every run records about who ran it, where, and with which configuration."""
        return {
            "kind": kind,
            "engine": self.config.engine.name,
            "host": socket.gethostname(),
            "user": user(),
            "pid": os.getpid(),
            "headwater_version": __version__,
            "config_hash": self.config.fingerprint(),
            "options": json.dumps(dict(options or {}), default=str),
            "trigger": self.trigger[0],
            "schedule_entry": self.trigger[1],
        }

    @contextmanager
    def writer(
        self, kind: str, *, wait: bool = False, options: Mapping[str, Any] | None = None
    ) -> Iterator[Run]:
        """Hold the project lock for one recorded run of ``kind``.

        A second process gets :class:`LockError` at once (and a recorded ``skipped`` run)
        unless ``wait`` is true. Runs left ``running`` by a process that is gone are marked
        ``crashed`` as soon as the lock is taken (only then: a reader, or a writer refused
        or waiting, marks nothing). On PostgreSQL the free lock alone proves them gone.
        Inside another writer of this workspace, no lock is taken: the run is recorded as
        a child of the open one.
        """
        values = self.run_values(kind, options)
        parent = self.current_run
        if parent is not None:
            run_id = self.records.start_run(**values, parent_id=parent.id)
            run = Run(id=run_id, kind=kind, parent_id=parent.id)
            with self._recording(run):
                yield run
            return

        lock = self._project_lock()
        try:
            lock.acquire(wait=wait)
        except LockError as refused:
            self._record_skipped(values, refused)
            raise
        except KeyboardInterrupt:
            # a stop while queued behind another run (--wait): the run never started,
            # and says so in the records rather than vanishing
            now = now_iso()
            self.records.start_run(
                **values, status="interrupted", started=now, finished=now,
                note="interrupted while it waited for the project lock",
            )  # fmt: skip
            raise
        try:
            self._lock = lock
            busy = self._live_runs()
            if busy:
                # the lock file was removed under a live writer: the lock proves nothing,
                # so refuse rather than mark a live run crashed and sweep its parts
                stale = LockError(
                    f"run {busy[0]['id']} ({busy[0]['kind']}, pid {busy[0]['pid']}) is still "
                    "running, but the lock file .headwater/lock was removed under it",
                    hint="wait for that run to finish; never delete .headwater/lock by hand",
                    holder={k: busy[0].get(k) for k in ("id", "kind", "pid", "host")},
                )
                self._record_skipped(values, stale)
                raise stale
            run_id = self.records.start_run(**values)
            recovered = self.records.mark_crashed_except(
                run_id,
                note=f"the process died while running; found by run {run_id} at {now_iso()}",
            )
            lock.describe(run_id=run_id, kind=kind, since=now_iso())
            run = Run(id=run_id, kind=kind, recovered=recovered)
            if recovered:
                log.warning(
                    "runs %s were left running by a dead process: marked crashed", recovered
                )
            with self._recording(run):
                yield run
        finally:
            self._lock = None
            lock.release()

    def _project_lock(self) -> Any:
        """The lock follows the records: an advisory lock in PostgreSQL (every host that
        shares the records shares it), else the file lock in the project's state folder."""
        if self.records.engine.dialect.name == "postgresql":
            from headwater.records._pglock import AdvisoryLock

            return AdvisoryLock(self.records.engine)
        from headwater._lock import ProjectLock

        return ProjectLock(self.config.state_dir)

    @contextmanager
    def _recording(self, run: Run) -> Iterator[None]:
        """Record how ``run`` ends: interrupted, failed, or its own status."""
        store = self.records
        self._runs.append(run)
        try:
            yield
        except KeyboardInterrupt:
            self._finish_failed(run, "interrupted", error="interrupted by the user", summary=None)
            raise
        except HeadwaterError as exc:
            if not run.finished:
                self._finish_failed(run, "failed", error=str(exc))
            raise
        except BaseException as exc:
            if not run.finished:
                self._finish_failed(run, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        else:
            if not run.finished:
                store.finish_run(run.id, run.status, summary=run.summary)
        finally:
            self._runs.remove(run)

    def _finish_failed(self, run: Run, status: str, *, error: str, summary: Any = ...) -> None:
        """Record how a run failed, unless the record store itself went away: then the
        error the run raised is what the caller must see (the next writer marks the row
        ``crashed`` once the store is back)."""
        from headwater.errors import RecordsUnavailable

        try:
            self.records.finish_run(
                run.id, status, error=error, summary=run.summary if summary is ... else summary
            )
        except RecordsUnavailable:
            log.warning(
                "run %s could not be recorded as %s: the record store is gone", run.id, status
            )

    def _record_skipped(self, values: dict[str, Any], exc: LockError) -> None:
        now = now_iso()
        skipped = self.records.start_run(
            **values, status="skipped", started=now, finished=now, note=str(exc)
        )
        exc.context["run_id"] = skipped
        exc.run_id = skipped  # type: ignore[attr-defined]

    def _live_runs(self) -> list[dict[str, Any]]:
        """Runs still marked ``running`` whose process is alive on this host.

        Only the file lock needs this: it can be deleted under a live writer. PostgreSQL's
        advisory lock cannot, and the server frees it when its holder's session ends, so
        holding it proves every run left ``running`` dead — on any host, whatever its pid
        names here (a reused pid, another container with the same host name)."""
        from headwater._lock import ProjectLock, process_alive

        if not isinstance(self._lock, ProjectLock):
            return []

        host = socket.gethostname()
        live = []
        for r in self.records.runs_running():
            mine = r.get("host") == host and r.get("pid") and r["pid"] != os.getpid()
            if mine and process_alive(int(r["pid"]), r.get("started")):
                live.append(r)
        return live
