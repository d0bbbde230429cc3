"""Ingest: what is new in the sources → one new, de-duplicated dataset version.

Second stage of the flow (after discovery in :mod:`headwater.sources`). The run, under the
project lock:

1. removes what a crashed run left (orphan parts) and writes any missing manifest;
2. plans: lists the sources, classifies files (new, changed, alias, skipped, deferred,
   failed, missing) with cheap checks first and content hashes when they differ;
3. reads new and changed files as text, one read per group of like files — as views
   that the typing pass parses (no staged copy); if that pass fails on a file, the
   groups are staged one by one, and a failing group file by file, so that only the bad
   file fails;
4. types, validates, fingerprints and de-duplicates (or upserts by key) with Ibis
   expressions (:mod:`headwater.tables.transform`);
5. writes new rows and retractions as new immutable parts, then commits the version,
   the file records and the run's end in one record-store transaction.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from headwater.errors import reraise_machine
from headwater.ingest._plan import known_files, make_plan
from headwater.ingest._result import IngestResult, ProgressCallback, count_plan, file_view
from headwater.ingest._result import no_progress as _no_progress
from headwater.sources import clear_staging

if TYPE_CHECKING:
    from headwater.workspace import Workspace


def ingest(
    project: Workspace,
    *,
    dry_run: bool = False,
    strict: bool = False,
    rebuild: bool = False,
    wait: bool = False,
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Ingest what is new in the project's sources; see the module docstring."""
    stages = _Stages(_no_progress if progress is None else progress)
    if not project.config.sources:
        from headwater.errors import ConfigError

        raise ConfigError(
            "headwater.toml has no [[sources]]",
            hint='add a [[sources]] table with a path, e.g. path = "incoming"',
            key="sources",
        )
    if dry_run:
        result = _dry_run(project, rebuild=rebuild, progress=stages)
        stages.complete()
        return result
    options = {"strict": strict, "rebuild": rebuild}
    from headwater.ingest._job import IngestJob

    with project.writer("ingest", wait=wait, options=options) as run, project.scratch():
        job = IngestJob(project, run, strict=strict, rebuild=rebuild, progress=stages)
        try:
            result = job.execute()
        except Exception as exc:  # Ctrl-C or the machine refusing, as the engine says it
            reraise_machine(exc)
            raise
        finally:
            job.cleanup()
    stages.complete()
    return result


class _Stages:
    """``progress`` that remembers each stage's last report. A stage is announced as
    0 of 1 and its end is not always reported on its own; :meth:`complete`, called when
    the ingest succeeded, reports every unfinished stage as done, so the last frame of a
    progress display shows finished work rather than stages stuck at 0/1."""

    def __init__(self, progress: ProgressCallback) -> None:
        self.progress = progress
        self.last: dict[str, tuple[int, int, str]] = {}

    def __call__(self, stage: str, done: int, total: int, detail: str) -> None:
        self.last[stage] = (done, total, detail)
        self.progress(stage, done, total, detail)

    def complete(self) -> None:
        for stage, (done, total, detail) in list(self.last.items()):
            if done < total:
                self(stage, total, total, detail)


def _dry_run(project: Workspace, *, rebuild: bool, progress: ProgressCallback) -> IngestResult:
    from headwater import dataset as ds_mod

    cfg = project.config
    with project.records.read() as conn:
        st = ds_mod.state(conn, cfg.dataset.name)
        if not rebuild:
            ds_mod.check_key(conn, cfg.dataset.name, st, list(cfg.dataset.key))
        line = st.line + 1 if rebuild else st.line
        known = {} if rebuild else known_files(conn, cfg.dataset.name, line)
    staging = cfg.state_dir / "staging" / f"dry-{uuid.uuid4().hex[:8]}"
    try:
        plan = make_plan(cfg, known, staging, progress)
    finally:
        clear_staging(staging)
    result = IngestResult(run_id=None, status="dry-run", dry_run=True, dataset=cfg.dataset.name)
    count_plan(result, plan)
    result.dataset_version = None if rebuild else st.version
    result.dataset_rows = 0 if rebuild else st.rows
    result.output = cfg.dataset_dir
    result.files = [file_view(sf) for sf in plan.files]
    return result


__all__ = ["IngestResult", "ProgressCallback", "ingest"]
