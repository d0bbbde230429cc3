"""A headwater project: one folder, one ``headwater.toml``, one record store, one lock.

:class:`Project` is the Python API the CLI calls; every command is one of its methods, and
each is one line over the stages. The stages never see a ``Project``: they receive its
:class:`~headwater.workspace.Workspace` (config, root, records, engine, writer), and nothing
below this module imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.config import CONFIG_FILE, TEMPLATE, Config, find_project, load_config
from headwater.errors import ConfigError, ProjectError
from headwater.workspace import WRITER_KINDS, Run, Workspace, trigger_from

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.compare import Comparison
    from headwater.engines.base import Engine
    from headwater.ingest import IngestResult, ProgressCallback
    from headwater.records.store import RecordStore
    from headwater.results import (
        DeployResult,
        LoopResult,
        ModelsOverview,
        PredictResult,
        RollbackResult,
        ScoreResult,
        TrainResult,
    )


class Project:
    """An opened headwater project.

    Use :meth:`open` (an existing folder) or :meth:`init` (a new one).
    """

    def __init__(
        self,
        config: Config,
        *,
        engine: Engine | None = None,
        trigger: tuple[str, str | None] = ("manual", None),
    ) -> None:
        self.workspace = Workspace(config, engine=engine, trigger=trigger)
        self.config = config
        self.root = config.root

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
        return cls(load_config(root, env=env, overrides=overrides), trigger=trigger_from(env))

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
        return self.workspace.records

    def close(self) -> None:
        """Close the engine and the record store (the project can be used again after)."""
        self.workspace.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    def writer(
        self, kind: str, *, wait: bool = False, options: Mapping[str, Any] | None = None
    ) -> AbstractContextManager[Run]:
        """Hold the project lock for one recorded run (see :meth:`Workspace.writer`)."""
        return self.workspace.writer(kind, wait=wait, options=options)

    # -- reading the records -------------------------------------------------------------

    def history(self, limit: int | None = 50, kind: str | None = None) -> list[dict[str, Any]]:
        """The most recent runs, newest first."""
        return self.workspace.history(limit=limit, kind=kind)

    def drift_unresolved(self) -> bool:
        """Whether the loop's last verdict on the production model found drift that its
        retrained candidate could not fix (shown by ``history``, ``models``, ``show``)."""
        from headwater.records import _fast

        db, url = self.workspace.fast_db(), str(self.config.records.url or "")
        fast = (
            _fast.drift_unresolved(db)
            if db is not None
            else _fast.drift_unresolved_postgresql(url, self.config.records.pg_schema)
            if url.startswith("postgresql")
            else None
        )
        if fast is not None:
            return fast
        from headwater import monitor, registry

        with self.workspace.records.read() as conn:
            return monitor.drift_unresolved(conn, registry.production_version(conn)[0])

    def run_record(self, run_id: int) -> dict[str, Any]:
        """Everything recorded about one run: the run row, its files, version and rejects."""
        from headwater import _explain

        return _explain.run_record(self.workspace, run_id)

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
            self.workspace,
            dry_run=dry_run,
            strict=strict,
            rebuild=rebuild,
            wait=wait,
            progress=progress,
        )

    def read(self, version: int | None = None, *, provenance: bool = False) -> pa.Table:
        """The rows of a dataset version (default: the current one) as a pyarrow table."""
        from headwater.dataset import read_version

        return read_version(self.workspace, version, provenance=provenance)

    def versions(self, limit: int | None = None, before: int | None = None) -> list[dict[str, Any]]:
        """The versions of the dataset, newest first (every one, or a page: at most
        ``limit`` of those older than version ``before``)."""
        from headwater.dataset import list_versions

        return list_versions(self.workspace, limit=limit, before=before)

    def version_count(self) -> int:
        """How many versions the dataset has."""
        from headwater.dataset import count_versions

        return count_versions(self.workspace)

    def export(
        self,
        output: str | os.PathLike[str],
        *,
        format: str | None = None,
        version: int | None = None,
        provenance: bool = False,
    ) -> dict[str, Any]:
        """Write a dataset version to ``output`` (a file, or an fsspec URL written with
        its ``[storage]`` options) as CSV or Parquet."""
        from headwater.dataset import export_version

        target = output if isinstance(output, str) and "://" in output else Path(output)
        return export_version(
            self.workspace, target, fmt=format, version=version, provenance=provenance
        )

    def compare(self, left: Any, right: Any, *, record: bool = False, **options: Any) -> Comparison:
        """Compare two inputs (``name@N`` means a version of this project's dataset).

        With ``record``, the result is saved in the record store as a ``compare`` run
        (``headwater show`` then lists it). Options are those of :func:`headwater.compare`.
        """
        from headwater.compare import compare_in

        return compare_in(self.workspace, left, right, record=record, **options)

    # -- models ------------------------------------------------------------------------

    def train(
        self,
        *,
        deploy: bool = False,
        force: bool = False,
        wait: bool = False,
        progress: ProgressCallback | None = None,
    ) -> TrainResult:
        """Fit a candidate on the current dataset version and score it on the test data.

        With ``deploy``, the candidate then goes through the gate (see :meth:`deploy`).
        ``progress(stage, done, total, detail)`` hears read, fit, evaluate, save (and gate).
        """
        from headwater import pipeline

        return pipeline.train(
            self.workspace, deploy=deploy, force=force, wait=wait, progress=progress
        )

    def deploy(
        self, version: int | None = None, *, force: bool = False, wait: bool = False
    ) -> DeployResult:
        """Promote ``version`` (default: the newest candidate) if it is at least as good as
        production on the same test data, within ``[deploy] tolerance``; ``force`` overrides
        (and is recorded)."""
        from headwater import pipeline

        return pipeline.deploy(self.workspace, version, force=force, wait=wait)

    def rollback(self, *, wait: bool = False) -> RollbackResult:
        """Put the previous production version back, in one recorded step."""
        from headwater import pipeline

        return pipeline.rollback(self.workspace, wait=wait)

    def models(self) -> ModelsOverview:
        """Model versions, scores, data versions, production and its history."""
        from headwater.reports import models

        return models.models_overview(self.workspace)

    def score(
        self,
        data: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        plot: bool = False,
    ) -> ScoreResult:
        """Score production on the test data (or on ``data``); changes nothing (``plot``
        writes a confusion matrix or residual plot beside the model)."""
        from headwater import predict

        return predict.score_production(self.workspace, data, progress=progress, plot=plot)

    def predict(
        self,
        data: str,
        output: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> PredictResult:
        """Predict with the production model on ``data``; write a CSV to ``output``."""
        from headwater import predict

        return predict.predict(self.workspace, data, output, progress=progress)

    def diagnostics(self) -> dict[str, Any]:
        """Dataset statistics, missing values, run timings and dependency versions."""
        from headwater.reports import models

        return models.diagnostics(self.workspace)

    def run(
        self,
        *,
        wait: bool = False,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> LoopResult:
        """The whole loop once: new data → ingest → drift checks → retrain → gated deploy
        (``headwater run``). ``dry_run`` says what a run would do and writes nothing."""
        from headwater import loop

        return loop.run_loop(self.workspace, wait=wait, dry_run=dry_run, progress=progress)

    def drift(self, data: str | None = None) -> LoopResult:
        """The drift checks alone against production, on ``data`` or on the rows a run
        would check now (else the last check's); changes nothing (``headwater drift``)."""
        from headwater import loop

        return loop.drift_report(self.workspace, data)

    # -- the record store --------------------------------------------------------------

    def records_migrate(self) -> dict[str, Any]:
        """Create or upgrade the record store's schema (done on first use anyway)."""
        from headwater.records import HEAD_REVISION

        store = self.workspace.records  # opening migrates
        return {"records": store.url, "schema": store.schema, "revision": HEAD_REVISION}

    def records_copy(self, to: str, schema: str | None = None) -> dict[str, Any]:
        """Copy every record into the new, empty store at ``to`` (in its PostgreSQL
        ``schema``, created if missing), verified per table."""
        from headwater.config import schema_problem
        from headwater.records.copy import copy_records

        problem = None if schema is None else schema_problem(schema)
        if problem is not None:
            raise ConfigError(f"--schema {schema!r} {problem}", hint="give a plain lowercase name")
        with self.writer("records-copy") as run:  # nothing is written meanwhile
            result = copy_records(self.workspace.records, to, run.id, schema).to_dict()
            run.summary = {"target": result["target"], "tables": len(result["tables"])}
        return result

    # -- the schedule ------------------------------------------------------------------

    def schedule_add(
        self, expression: str, job: str = "run", name: str | None = None
    ) -> dict[str, Any]:
        """Add a user crontab entry that runs ``job`` for this project at ``expression``."""
        from headwater import schedule

        return schedule.add(self.workspace, expression, job, name)

    def schedule_list(self) -> list[dict[str, Any]]:
        """This project's crontab and ``[[schedule]]`` entries: next fire, last run."""
        from headwater import schedule

        return schedule.listing(self.workspace)

    def schedule_remove(self, ids: list[str] | None) -> list[dict[str, Any]]:
        """Remove this project's crontab entries ``ids`` (None: all of them)."""
        from headwater import schedule

        return schedule.remove(self.workspace, ids)

    def schedule_fire(self, entry: str, job: str) -> int:
        """One fire of a crontab entry: the job as a child process, output to the log."""
        from headwater import schedule

        return schedule.fire(self.root, entry, job)

    def scheduler(self, say: Any) -> Any:
        """The foreground scheduler over ``[[schedule]]`` (``headwater schedule run``)."""
        from headwater import schedule

        return schedule.scheduler(self.workspace, say)

    def rejects(self, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """The rows a run refused, with file, record, column, value and reason."""
        from headwater import _explain

        return _explain.rejects(self.workspace, run_id, limit=limit)

    def record_text(self, run_id: int) -> str:
        """The human-readable record of a run (the classic ``records.txt``)."""
        from headwater import _explain

        return _explain.record_text(self.workspace, run_id)


__all__ = ["WRITER_KINDS", "Project", "Run"]
