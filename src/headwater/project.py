"""A headwater project: one folder, one ``headwater.toml``, one record store, one lock.

:class:`Project` is the Python API the CLI calls; every command is one of its methods.
Writers run inside :meth:`Project.writer`, which takes the project lock, reconciles what a
killed process left behind, records the run, and marks it finished, failed or interrupted.
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

from headwater._lock import ProjectLock
from headwater._version import __version__
from headwater.config import CONFIG_FILE, TEMPLATE, Config, find_project, load_config
from headwater.errors import HeadwaterError, LockError, ProjectError
from headwater.records import now_iso

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

    from headwater.compare import Comparison
    from headwater.ingest import IngestResult, ProgressCallback
    from headwater.records.store import RecordStore

log = logging.getLogger(__name__)

WRITER_KINDS = ("ingest", "train", "deploy", "rollback", "run", "gc")


@dataclass
class Run:
    """The run a writer is doing: its id, and what it will record when it ends."""

    id: int
    kind: str
    status: str = "ok"
    summary: dict[str, Any] = field(default_factory=dict)
    recovered: list[int] = field(default_factory=list)
    finished: bool = False

    def finish_in(
        self, store: RecordStore, conn: sa.Connection, status: str, summary: dict[str, Any]
    ) -> None:
        """Record the end of the run inside the caller's transaction (e.g. a publish)."""
        store.finish_run(self.id, status, summary=summary, conn=conn)
        self.status, self.summary, self.finished = status, summary, True


class Project:
    """An opened headwater project.

    Use :meth:`open` (an existing folder) or :meth:`init` (a new one).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.root
        self._records: RecordStore | None = None

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        search_parents: bool = True,
    ) -> Project:
        """Open the project in ``path`` (or the nearest parent holding headwater.toml)."""
        start = Path(path)
        if not start.exists():
            raise ProjectError(
                f"project folder {str(start)!r} does not exist",
                hint="check --project, or create it with `headwater init DIR`",
                path=str(start),
            )
        root = find_project(start) if search_parents else start.resolve()
        return cls(load_config(root, env=env, overrides=overrides))

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        dataset: str = "dataset",
        config_text: str | None = None,
        force: bool = False,
    ) -> Project:
        """Create a project folder with a commented ``headwater.toml`` and open it."""
        root = Path(path).resolve()
        target = root / CONFIG_FILE
        if root.exists() and not root.is_dir():
            raise ProjectError(
                f"{str(root)!r} is a file; a project is a folder",
                hint="give a new or existing folder, e.g. headwater init my-project",
                path=str(root),
            )
        if target.exists() and not force:
            raise ProjectError(
                f"{str(target)!r} already exists",
                hint="open it with --project, or pass --force to overwrite the config file",
                path=str(target),
            )
        text = config_text or TEMPLATE.format(name=name or root.name, dataset=dataset)
        try:
            root.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            if config_text is None:
                (root / "incoming").mkdir(exist_ok=True)  # the template's source folder
            gitignore = root / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text(".headwater/\n", encoding="utf-8")
        except OSError as exc:
            raise ProjectError(
                f"cannot create the project in {str(root)!r}: {exc.strerror or exc}",
                hint="choose a folder you can write to",
                path=str(root),
            ) from exc
        project = cls.open(root, search_parents=False)
        project.records  # noqa: B018 - creates and migrates the record store now
        return project

    @property
    def records(self) -> RecordStore:
        """The record store (created and migrated on first use)."""
        if self._records is None:
            from headwater.records.store import RecordStore

            url = self.config.records.url
            if url:
                if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                    url = "sqlite:///" + self.config.resolve(url.removeprefix("sqlite:///"))
                self._records = RecordStore(url)
            else:
                self._records = RecordStore.for_folder(self.config.state_dir)
        return self._records

    def close(self) -> None:
        if self._records is not None:
            self._records.dispose()
            self._records = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    @contextmanager
    def writer(
        self, kind: str, *, wait: bool = False, options: Mapping[str, Any] | None = None
    ) -> Iterator[Run]:
        """Hold the project lock for one recorded run of ``kind``.

        A second writer gets :class:`LockError` at once (and a recorded ``skipped`` run)
        unless ``wait`` is true. Runs left ``running`` by a killed process are marked
        ``crashed`` as soon as the lock is taken.
        """
        base = {
            "kind": kind,
            "engine": self.config.engine.name,
            "host": socket.gethostname(),
            "user": _user(),
            "pid": os.getpid(),
            "headwater_version": __version__,
            "config_hash": self.config.fingerprint(),
            "options": json.dumps(dict(options or {}), default=str),
        }
        lock = ProjectLock(self.config.state_dir)
        try:
            lock.acquire(wait=wait)
        except LockError as exc:
            now = now_iso()
            skipped = self.records.start_run(
                **base, status="skipped", started=now, finished=now, note=str(exc)
            )
            exc.context["run_id"] = skipped
            exc.run_id = skipped  # type: ignore[attr-defined]
            raise
        try:
            run_id = self.records.start_run(**base)
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
            try:
                yield run
            except KeyboardInterrupt:
                self.records.finish_run(run_id, "interrupted", error="interrupted by the user")
                raise
            except HeadwaterError as exc:
                if not run.finished:
                    self.records.finish_run(run_id, "failed", error=str(exc), summary=run.summary)
                raise
            except Exception as exc:
                if not run.finished:
                    self.records.finish_run(
                        run_id, "failed", error=f"{type(exc).__name__}: {exc}", summary=run.summary
                    )
                raise
            else:
                if not run.finished:
                    self.records.finish_run(run_id, run.status, summary=run.summary)
        finally:
            lock.release()

    # -- reading the records -------------------------------------------------------------

    def history(self, limit: int | None = 50, kind: str | None = None) -> list[dict[str, Any]]:
        """The most recent runs, newest first."""
        if self._records is None and self.config.records.url is None:
            from headwater.records import _fast

            fast = _fast.runs(self.config.state_dir / "records.db", limit, kind)
            if fast is not None:
                return fast
        return self.records.runs(limit=limit, kind=kind)

    def run_record(self, run_id: int) -> dict[str, Any]:
        """Everything recorded about one run: the run row, its files, version and rejects."""
        from headwater import _explain

        return _explain.run_record(self, run_id)

    # -- the dataset -------------------------------------------------------------------

    def ingest(
        self,
        *,
        dry_run: bool = False,
        strict: bool = False,
        rebuild: bool = False,
        wait: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestResult:
        """Ingest what is new in the sources into a new dataset version."""
        from headwater.ingest import ingest

        return ingest(
            self, dry_run=dry_run, strict=strict, rebuild=rebuild, wait=wait, progress=progress
        )

    def read(self, version: int | None = None, *, provenance: bool = False) -> pa.Table:
        """The rows of a dataset version (default: the current one) as a pyarrow table."""
        from headwater.dataset import read_version

        return read_version(self, version, provenance=provenance)

    def versions(self) -> list[dict[str, Any]]:
        """Every version of the dataset, newest first."""
        from headwater.dataset import list_versions

        return list_versions(self)

    def export(
        self,
        output: str | os.PathLike[str],
        *,
        format: str | None = None,
        version: int | None = None,
        provenance: bool = False,
    ) -> dict[str, Any]:
        """Write a dataset version to ``output`` as CSV or Parquet."""
        from headwater.dataset import export_version

        return export_version(
            self, Path(output), fmt=format, version=version, provenance=provenance
        )

    def compare(self, left: Any, right: Any, *, record: bool = False, **options: Any) -> Comparison:
        """Compare two inputs (``name@N`` means a version of this project's dataset).

        With ``record``, the result is saved in the record store as a ``compare`` run
        (``headwater show`` then lists it). Options are those of :func:`headwater.compare`.
        """
        from headwater.compare import compare

        started = now_iso()
        result = compare(left, right, project=self, **options)
        if record:
            self._record_comparison(result, started)
        return result

    def _record_comparison(self, result: Comparison, started: str) -> None:
        from headwater.records import schema as rs

        summary = result.to_dict()
        summary.pop("samples", None)
        run_id = self.records.start_run(
            kind="compare",
            started=started,
            status="ok" if result.equal else "differences",
            finished=now_iso(),
            engine=self.config.engine.name,
            host=socket.gethostname(),
            user=_user(),
            pid=os.getpid(),
            headwater_version=__version__,
            config_hash=self.config.fingerprint(),
            summary=json.dumps(summary, default=str),
            note=f"{result.left} vs {result.right}",
        )
        with self.records.write() as conn:
            conn.execute(
                rs.comparisons.insert().values(
                    run_id=run_id,
                    created=now_iso(),
                    left=result.left,
                    right=result.right,
                    key=json.dumps(result.key),
                    equal=result.equal,
                    result=json.dumps(result.to_dict(), default=str),
                )
            )
        result.options["run_id"] = run_id

    # -- models ------------------------------------------------------------------------

    def train(
        self,
        *,
        deploy: bool = False,
        force: bool = False,
        wait: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Fit a candidate on the current dataset version and score it on the test data.

        With ``deploy``, the candidate then goes through the gate (see :meth:`deploy`).
        ``progress(stage, done, total, detail)`` hears read, fit, evaluate, save (and gate).
        """
        from headwater import models

        return models.train(self, deploy=deploy, force=force, wait=wait, progress=progress)

    def deploy(
        self, version: int | None = None, *, force: bool = False, wait: bool = False
    ) -> dict[str, Any]:
        """Promote ``version`` (default: the newest candidate) if it is at least as good as
        production on the same test data, within ``[deploy] tolerance``; ``force`` overrides
        (and is recorded)."""
        from headwater import models

        return models.deploy(self, version, force=force, wait=wait)

    def rollback(self, *, wait: bool = False) -> dict[str, Any]:
        """Put the previous production version back, in one recorded step."""
        from headwater import models

        return models.rollback(self, wait=wait)

    def models(self) -> dict[str, Any]:
        """Model versions, scores, data versions, production and its history."""
        from headwater import models

        return models.models_overview(self)

    def score(
        self, data: str | None = None, *, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Score production on the test data (or on ``data``); changes nothing."""
        from headwater import models

        return models.score_production(self, data, progress=progress)

    def predict(
        self,
        data: str,
        output: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Predict with the production model on ``data``; write a CSV to ``output``."""
        from headwater import models

        return models.predict(self, data, output, progress=progress)

    def diagnostics(self) -> dict[str, Any]:
        """Dataset statistics, missing values, run timings and dependency versions."""
        from headwater import models

        return models.diagnostics(self)

    def rejects(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """The rows a run refused, with file, record, column, value and reason."""
        from headwater import _explain

        return _explain.rejects(self, run_id, limit=limit)

    def record_text(self, run_id: int) -> str:
        """The human-readable record of a run (the classic ``records.txt``)."""
        from headwater import _explain

        return _explain.record_text(self, run_id)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
