"""One ingest run, step by step (see the package docstring for the steps)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater import dataset as ds_mod
from headwater.errors import IngestError, StorageError, ValidationError, operating_error
from headwater.ingest._plan import Plan, known_files, make_plan
from headwater.ingest._result import IngestResult, ProgressCallback
from headwater.ingest._result import count_plan as _count_plan
from headwater.ingest._result import file_view as _file_view
from headwater.ingest._result import nothing_ingested as _nothing_ingested
from headwater.ingest._result import summary as _summary
from headwater.records import schema as rs
from headwater.sources import SourceFile, clear_staging
from headwater.tables.fingerprint import COLUMNS as FP_COLUMNS
from headwater.tables.read import cleaned_text, fail, read_once_or_isolate, read_text, recheck

if TYPE_CHECKING:
    from headwater.engines.base import Engine
    from headwater.workspace import Run, Workspace

log = logging.getLogger(__name__)


@dataclass
class _Increment:
    """What one run adds and retracts, before anything is written."""

    schema: dict[str, str]
    engine: Engine | None = None
    decision: Any = None  # the schema decision, when files were read
    stats: dict[int, dict[str, Any]] = field(default_factory=dict)  # per file id
    rejects: list[dict[str, Any]] = field(default_factory=list)
    new_rows: Any = None  # the rows to add (a table expression)
    retractions: Any = None  # (file, record) of the rows this run retracts
    file_gone: Any = None  # the retractions of whole files (changed or deleted)


class IngestJob:
    def __init__(
        self,
        project: Workspace,
        run: Run,
        *,
        strict: bool,
        rebuild: bool,
        progress: ProgressCallback,
    ) -> None:
        self.project = project
        self.cfg = project.config
        self.ds = project.config.dataset
        self.run = run
        self.strict = strict
        self.rebuild = rebuild
        self.progress = progress
        self.staging = self.cfg.state_dir / "staging" / f"run-{run.id}"
        self.engine: Engine | None = None
        self.started = time.monotonic()
        self.schema: dict[str, str] = {}
        self.tolerated: dict[str, dict[str, Any]] = {}
        self.staged: list[str] = []
        self._parent_rows: Any = None

    def cleanup(self) -> None:
        # the engine is the workspace's (its tables go with the writer's scratch scope)
        clear_staging(self.staging)

    # -- the run -----------------------------------------------------------------------

    def execute(self) -> IngestResult:
        """The run, in order: prepare the dataset folder and read the parent version; plan
        the files; read, type, check and de-duplicate what is new; tally; refuse under
        ``--strict``; write the parts; publish (one transaction); write the manifests."""
        orphans = self._prepare()
        plan = self._plan()
        result = IngestResult(run_id=self.run.id, status="ok", dataset=self.ds.name)
        result.orphans_removed = len(orphans)
        result.recovered_runs = list(self.run.recovered)
        result.output = self.cfg.dataset_dir
        inc = self._increment(plan, result)
        _count_plan(result, plan)
        self._tally(plan, inc, result)
        self._refuse_if_strict(plan, inc, result)
        row_parts, retraction_parts = self._write_parts(inc, result)
        self._retracted_per_file(inc.engine, plan, inc.file_gone)
        self._publish(plan, inc, result, row_parts, retraction_parts)
        self._write_manifests(result)
        self.progress("done", 1, 1, "done")
        return result

    # -- steps ----------------------------------------------------------------------------

    def _prepare(self) -> list[str]:
        """Claim the dataset folder, sweep orphans, rewrite missing manifests, and read the
        parent version, the line this run writes and the files it already knows."""
        project, ds = self.project, self.ds
        ds_mod.claim_folder(project, self.run.id)
        orphans = ds_mod.remove_orphans(project)
        ds_mod.write_manifests(project)
        with project.records.read() as conn:
            parent = ds_mod.state(conn, ds.name)
            if not self.rebuild:
                ds_mod.check_key(conn, ds.name, parent, list(ds.key))
            self.line = parent.line + 1 if self.rebuild else parent.line
            self.known = known_files(conn, ds.name, self.line)
        if self.rebuild and parent.version is not None:
            # a rebuild re-reads every file into a new line; start its numbering clean
            self.known = {}
        self.parent = parent
        self.pinned = {} if self.rebuild else dict(parent.schema)
        return orphans

    def _plan(self) -> Plan:
        """List the sources, classify their files and give each a record."""
        self.progress("list", 0, len(self.cfg.sources), "listing sources")
        plan = make_plan(self.cfg, self.known, self.staging, self.progress)
        self._register_files(plan)
        for f in plan.by_status("new", "changed"):
            if f.size == 0 and f.format == "parquet":  # an empty CSV is 0 rows; this is not
                fail(f, "is an empty file, not Parquet (0 bytes); replace it or remove it")
        return plan

    def _retractable(self, plan: Plan) -> list[int]:
        """Files whose earlier rows this run retracts. A changed file's earlier rows go only
        once its new content was read: if the new content fails (or is still being
        written) the earlier rows stay."""
        ids = [f.previous_file_id for f in plan.by_status("changed") if f.previous_file_id]
        if self.ds.on_missing == "retract":
            ids += [k["file_id"] for k in plan.missing if k["status"] == "ingested"]
        return [int(i) for i in ids]

    def _increment(self, plan: Plan, result: IngestResult) -> _Increment:
        """What this run adds and retracts, as (lazy) tables; nothing is written yet."""
        to_read = [f for f in plan.by_status("new", "changed") if f.size > 0]
        inc = _Increment(schema=self.pinned)
        if not to_read and not self._retractable(plan):
            return inc
        engine = inc.engine = self.engine = self._connect()
        if to_read:
            from headwater.tables import transform as pl

            # a rule Python accepts may not be in the engine's dialect (RE2): say so now
            pl.check_regex_rules(self.ds, engine.check_regex)
            typed_run = self._read_and_type(engine, to_read)
            if typed_run is not None:
                self._decide(engine, plan, inc, result, *typed_run)
        retract_files = self._retractable(plan)
        if retract_files:
            inc.file_gone = self._file_retractions(engine, retract_files)
            if inc.file_gone is not None:
                inc.retractions = (
                    inc.file_gone
                    if inc.retractions is None
                    else inc.retractions.union(inc.file_gone)
                )
        return inc

    def _read_and_type(self, engine: Engine, files: list[SourceFile]) -> Any:
        """The files read, typed, checked and fingerprinted: (table, decision, labels), or
        None when no file could be read. One fused pass; file by file if it fails."""

        def attempt(lazy: bool) -> Any:
            batch = self._read(engine, files, lazy=lazy)
            return None if batch is None else self._type(engine, batch, self.pinned, files, lazy)

        def undo() -> None:
            for name in self.staged:
                engine.drop(name)

        typed_run = read_once_or_isolate(attempt, undo=undo, what=f"{len(files)} file(s)")
        undo()  # the raw text is no longer needed
        return typed_run

    def _decide(
        self,
        engine: Engine,
        plan: Plan,
        inc: _Increment,
        result: IngestResult,
        typed: Any,
        decision: Any,
        labels: list[tuple[str, str]],
    ) -> None:
        """De-duplicate the typed batch against the live rows: per-file counts, the rejected
        rows, the rows to add and (with a key) the rows they replace."""
        from headwater.tables import transform as pl

        ds = self.ds
        schema = inc.schema = self.schema = decision.schema
        inc.decision = decision
        self.tolerated = decision.tolerated
        result.warnings += self._absent_warnings(decision, schema)
        existing = self._existing(engine, self._retractable(plan))
        self.progress("dedup", 0, 1, "de-duplicating")
        decisions = engine.materialize(pl.decide(typed, existing, ds, schema), "_hw_decisions")
        read_q, decided_q = pl.file_stats(typed, decisions, schema)
        inc.stats = pl.merge_file_stats(
            engine.to_pyarrow(read_q).to_pylist(), engine.to_pyarrow(decided_q).to_pylist()
        )
        bad = typed.filter(typed._hw_check.notnull())
        inc.rejects = [
            {
                "_hw_file": r["_hw_file"],
                "_hw_record": r["_hw_record"],
                "_hw_reject_column": labels[r["_hw_check"]][0],
                "_hw_reject_rule": labels[r["_hw_check"]][1],
                "_hw_reject_value": r["_hw_reject_value"],
            }
            for r in engine.to_pyarrow(
                bad.select("_hw_file", "_hw_record", "_hw_check", "_hw_reject_value").order_by(
                    ["_hw_file", "_hw_record"]
                )
            ).to_pylist()
        ]
        added = pl.added_rows(typed, decisions)
        inc.new_rows = added.select(
            *schema,
            _hw_file=added._hw_file,
            _hw_record=added._hw_record,
            _hw_run=ibis_literal_int(self.run.id),
            _hw_fp_hi=added._hw_fp_hi,
            _hw_fp_lo=added._hw_fp_lo,
        )  # not sorted: readers order by provenance, and a sort costs a pass
        if ds.key:
            replaced = decisions.filter(decisions._hw_old_file.notnull())
            inc.retractions = replaced.select(
                _hw_file=replaced._hw_old_file, _hw_record=replaced._hw_old_record
            )

    def _tally(self, plan: Plan, inc: _Increment, result: IngestResult) -> None:
        """Per-file and run totals from the counts; the schema changes (a widening that
        would round existing values is refused here)."""
        for sf in plan.files:
            if sf.file_id not in inc.stats:
                continue
            s = inc.stats[sf.file_id]
            sf.extra.update(
                rows_read=int(s["rows_read"]),
                rows_rejected=int(s["reject"]),
                duplicates=int(s["duplicate"]),
                rows_superseded=int(s["superseded"]) + int(s["stale"]),
                rows_added=int(s["added"]),
                fixes={
                    "cells_trimmed": int(s["cells_trimmed"] or 0),
                    "na_tokens_mapped": int(s["na_tokens_mapped"] or 0),
                    "values_cast": int(s["values_cast"] or 0),
                    "thousands_separators_removed": int(s.get("thousands_removed") or 0),
                },
            )
            result.rows_read += int(s["rows_read"])
            result.rows_rejected += int(s["reject"])
            result.duplicates_dropped += int(s["duplicate"])
            result.rows_superseded += int(s["superseded"])
            result.rows_stale += int(s["stale"])
        decision = inc.decision
        if decision is None:
            return
        changes: dict[str, Any] = {}
        if decision.added:
            changes["added" if self.pinned else "pinned"] = decision.added
        if decision.widened:
            changes["widened"] = decision.widened
        if decision.frozen_out:
            changes["refused_by_freeze"] = decision.frozen_out
        if decision.tolerated:
            changes["tolerated"] = decision.tolerated
        result.schema_changes = changes
        if decision.widened and inc.engine is not None:
            self._refuse_rounding_widening(inc.engine, decision.widened, plan, inc.rejects, result)

    def _refuse_if_strict(self, plan: Plan, inc: _Increment, result: IngestResult) -> None:
        problems = result.files_failed + len(result.source_errors) + result.rows_rejected
        if not (problems and self.strict):
            return
        self._record_failure(plan, inc.rejects, result)
        raise ValidationError(
            f"strict ingest refused: {result.files_failed} file(s) failed, "
            f"{len(result.source_errors)} source(s) could not be listed, "
            f"{result.rows_rejected} row(s) rejected; nothing was published",
            hint=f"see `headwater show {self.run.id}` and `headwater rejects {self.run.id}`; "
            "fix the files or run without --strict",
            run_id=self.run.id,
        )

    def _write_parts(
        self, inc: _Increment, result: IngestResult
    ) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
        """The new rows and the retractions as immutable, uniquely named parts in their
        final place: (relative path, rows, bytes) each; an empty part is not kept."""
        with self.project.records.read() as conn:
            tag = ds_mod.part_tag(conn, self.run.id)  # names the sweep can tell are ours

        store = self.project.dataset_store

        def write(expr: Any, rel: str) -> tuple[list[tuple[str, int, int]], int]:
            assert inc.engine is not None
            n = inc.engine.write_parquet(expr, store.url(rel))
            if not n:
                store.delete(rel)
                return [], 0
            return [(rel, n, store.size(rel))], n

        row_parts: list[tuple[str, int, int]] = []
        retraction_parts: list[tuple[str, int, int]] = []
        if inc.new_rows is not None:
            self.progress("write", 0, 1, "writing new rows")
            row_parts, result.rows_added = write(inc.new_rows, f"parts/{tag}.parquet")
        if inc.retractions is not None:
            retraction_parts, result.rows_retracted = write(
                inc.retractions.distinct(), f"retractions/{tag}.parquet"
            )
        return row_parts, retraction_parts

    def _publish(
        self,
        plan: Plan,
        inc: _Increment,
        result: IngestResult,
        row_parts: list[tuple[str, int, int]],
        retraction_parts: list[tuple[str, int, int]],
    ) -> None:
        """One transaction: the new version (compare-and-swap on the parent), the files,
        the rejects and the run's end."""
        ds, parent, line, schema = self.ds, self.parent, self.line, inc.schema
        partial = result.files_failed or result.source_errors or result.rows_rejected
        result.status = "partial" if partial else "ok"
        result.error = _nothing_ingested(result)
        if result.error:
            result.status = "failed"  # recorded as such; the CLI exits 1
        schema_changed = schema != parent.schema or (self.rebuild and schema)
        self.progress("publish", 0, 1, "publishing")
        with self.project.records.write() as conn:
            version = parent.version if line == parent.line else None
            rows = parent.rows if line == parent.line else 0
            if row_parts or retraction_parts or (self.rebuild and parent.version is not None):
                version = ds_mod.publish(
                    conn,
                    name=ds.name,
                    dataset_dir=self.cfg.dataset_dir,
                    parent=parent,
                    line=line,
                    run_id=self.run.id,
                    schema=schema,
                    row_parts=row_parts,
                    retraction_parts=retraction_parts,
                    rows_added=result.rows_added,
                    rows_retracted=result.rows_retracted,
                    lineage=self._lineage(result),
                )
                rows = rows + result.rows_added - result.rows_retracted
            elif schema_changed and schema:
                ds_mod.set_schema(conn, ds.name, line, schema)
            self._record_files(conn, plan, version)
            self._record_rejects(conn, inc.rejects, plan)
            result.dataset_version = version
            result.dataset_rows = rows
            result.seconds = round(time.monotonic() - self.started, 3)
            result.files = [_file_view(sf) for sf in plan.files]
            self.run.finish_in(self.project.records, conn, result.status, _summary(result))
        self.progress("published", 1, 1, f"version {result.dataset_version}")

    def _lineage(self, result: IngestResult) -> dict[str, Any]:
        return {
            "files": {
                s: getattr(result, f"files_{s}") for s in ("new", "changed", "alias", "missing")
            },
            "rows_read": result.rows_read,
            "rows_rejected": result.rows_rejected,
            "duplicates_dropped": result.duplicates_dropped,
            "rows_superseded": result.rows_superseded,
            "rows_stale": result.rows_stale,
            "schema_changes": result.schema_changes,
            "mode": "upsert" if self.ds.key else "append",
            "key": list(self.ds.key),
            "rebuild": self.rebuild,
        }

    def _write_manifests(self, result: IngestResult) -> None:
        """After the commit: a failure is a warning (the next run writes the manifest)."""
        versions = self.project.dataset_store.url("versions")
        try:
            ds_mod.write_manifests(self.project)
        except (OSError, StorageError) as exc:  # the version is committed; the next run writes it
            err = operating_error(exc)
            note = (
                f"version {result.dataset_version} is published, but its manifest could not "
                f"be written in {versions!r}: {err or exc}; the next run writes it"
            )
            log.warning("%s", note)
            result.warnings.append({"path": versions, "reason": note})

    def _connect(self) -> Engine:
        return self.project.engine()

    def _register_files(self, plan: Plan) -> None:
        """Give every file of the run a record (and so an id for its rows' provenance)."""
        with self.project.records.write() as conn:
            for sf in plan.files:
                res = conn.execute(
                    sa.insert(rs.source_files).values(
                        run_id=self.run.id,
                        dataset=self.ds.name,
                        line=self.line,
                        source_index=sf.source_index,
                        source=sf.source,
                        path=sf.path,
                        size=sf.size,
                        mtime=sf.mtime,
                        hash=sf.hash,
                        format=sf.format,
                        status="reading" if sf.status in ("new", "changed") else sf.status,
                        reason=sf.reason,
                        alias_of=sf.alias_of,
                    )
                )
                sf.file_id = int(res.inserted_primary_key[0])  # type: ignore[index]
            for k in plan.missing:
                conn.execute(
                    sa.insert(rs.source_files).values(
                        run_id=self.run.id,
                        dataset=self.ds.name,
                        line=self.line,
                        path=k["path"],
                        size=k["size"],
                        mtime=k["mtime"],
                        hash=k["hash"],
                        status="missing",
                        reason=(
                            "the file is gone from its source; its rows are retracted"
                            if self.ds.on_missing == "retract" and k["status"] == "ingested"
                            else "the file is gone from its source; its rows are kept "
                            "(dataset.on_missing = 'keep')"
                        ),
                        alias_of=str(k["file_id"]),
                    )
                )

    def _type(
        self,
        engine: Engine,
        batch: Any,
        pinned: dict[str, str],
        files: list[SourceFile],
        lazy: bool,
    ) -> tuple[Any, Any, list[tuple[str, str]]]:
        """Clean, type, check and fingerprint the batch into one table: (table, schema
        decision, check labels). With a ``lazy`` batch this is also the read."""
        from headwater.tables import transform as pl

        ds = self.ds
        data_cols = [c for c in batch.columns if not c.startswith("_hw_")]
        self.progress("clean", 0, 1, "cleaning")
        # each stage is a subquery of the next (so nothing is computed twice); the cleaned
        # text is not stored (but for a wide batch, see cleaned_text): a sample of it
        # proposes the types, and the typing pass reads it once, straight from the files
        # (lazy) or the staged text
        text, stored = cleaned_text(engine, batch, ds, name="_hw_text", lazy=lazy)
        self.staged += stored  # dropped with the raw text
        self.progress("types", 0, 1, "inferring types")
        widen = [
            c
            for c in data_cols
            if pinned.get(c) == "int" and c not in ds.columns and ds.schema_mode == "evolve"
        ]
        labels: list[tuple[str, str]] = []

        def inferred(d: Any) -> list[str]:  # and so checked (an int may widen)
            return [c for c in d.added if c not in ds.columns] + widen

        flagged: list[str] = []

        def typed_as(d: Any) -> Any:
            nonlocal labels
            if not flagged:  # the first decision's inferred columns carry the flags
                flagged.extend(inferred(d))
            self.progress(
                "type", 0, 1, "reading, typing and validating" if lazy else "typing and validating"
            )
            stage = pl.type_stage(text, d.schema, d.frozen_out)
            checked, labels = pl.check_stage(
                stage, d.schema, d.frozen_out, ds, flagged, engine.digest_halves
            )
            table = engine.materialize(checked, "_hw_typed", ordered=lazy)
            return engine.number_records("_hw_typed") if lazy else table

        typed, decision = pl.type_by_sample(
            text, pinned, data_cols, ds, engine.to_pyarrow, typed_as, inferred
        )
        if lazy:
            changed = recheck(files, ("new", "changed"))
            if changed:
                typed = typed.filter(~typed._hw_file.isin(changed))
        return typed, decision, labels

    def _read(self, engine: Engine, files: list[SourceFile], *, lazy: bool) -> Any:
        """Read files as text into one table; failures are recorded against their file."""
        required = [
            *self.ds.key,
            *([self.ds.order_by] if self.ds.order_by else []),
            *[c for c, r in self.ds.columns.items() if r.not_null],
        ]
        table, self.staged = read_text(
            engine,
            files,
            self.cfg.sources,
            normalize=self.ds.normalize_headers,
            required=list(dict.fromkeys(required)),
            progress=self.progress,
            lazy=lazy,
        )
        for sf in files:
            if sf.status == "failed":
                log.warning("file %s failed: %s", sf.path, sf.reason)
        return table

    def _absent_warnings(self, decision: Any, schema: dict[str, str]) -> list[dict[str, Any]]:
        """A warning for each configured column that no file of the run has."""
        import difflib

        out = []
        for c in decision.absent:
            close = difflib.get_close_matches(c, list(schema), n=1)
            reason = (
                f"column {c!r} is configured in [dataset.columns] but no file has it"
                + (f"; did you mean {close[0]!r}?" if close else "")
                + " (it is not added to the dataset)"
            )
            log.warning("%s", reason)
            out.append({"column": c, "reason": reason})
        return out

    def _refuse_rounding_widening(
        self,
        engine: Engine,
        widened: dict[str, str],
        plan: Plan,
        rejects: list[dict[str, Any]],
        result: IngestResult,
    ) -> None:
        """Refuse the run (recorded) if widening an int column to float would change a
        stored value: a double holds whole numbers exactly only up to ±2**53."""
        from headwater.tables.transform import FLOAT_EXACT

        live = self._parent_live(engine)
        cols = [c for c in widened if live is not None and c in live.columns]
        if not cols:
            return
        aggs = {}
        for i, c in enumerate(cols):
            beyond = (live[c] > FLOAT_EXACT) | (live[c] < -FLOAT_EXACT)
            aggs[f"n{i}"] = beyond.cast("int64").sum()
            aggs[f"hi{i}"] = live[c].max()
            aggs[f"lo{i}"] = live[c].min()
        row = engine.to_pyarrow(live.aggregate(**aggs)).to_pylist()[0]
        hit = {c: int(row[f"n{i}"] or 0) for i, c in enumerate(cols) if row[f"n{i}"]}
        if not hit:
            return
        c, n = next(iter(hit.items()))
        i = cols.index(c)
        example = row[f"hi{i}"] if row[f"hi{i}"] > FLOAT_EXACT else row[f"lo{i}"]
        refused = {k: f"int → float would change {m} stored value(s)" for k, m in hit.items()}
        result.schema_changes["refused"] = refused
        self._record_failure(plan, rejects, result)
        raise IngestError(
            f"cannot widen column {c!r} int → float: it would change {n} stored value(s) "
            f"such as {example} (a float holds whole numbers exactly only up to ±2**53); "
            "nothing was published",
            hint=f'pin the column\'s type ([dataset.columns.{c}] type = "int": the values '
            "that are not whole numbers become rejected rows), or run `headwater ingest "
            "--rebuild` to infer its type again from every file",
            run_id=self.run.id,
            column=c,
        )

    def _parent_live(self, engine: Engine) -> Any:
        """Live rows of the parent version in this line (None if there are none); read once."""
        if self.line != self.parent.line or self.parent.version is None:
            return None
        if self._parent_rows is None:
            with self.project.records.read() as conn:
                rows, gone = ds_mod.line_parts(conn, self.ds.name, self.line, self.parent.version)
            self._parent_rows = ds_mod.live_rows(engine, self.project.dataset_store, rows, gone)
        return self._parent_rows

    def _existing(self, engine: Engine, retract_files: list[int]) -> Any:
        """Live rows of the parent version that the batch is compared against."""
        live = self._parent_live(engine)
        if live is None:
            return None
        cols = [*FP_COLUMNS, *self.ds.key, *([self.ds.order_by] if self.ds.order_by else [])]
        live = live.select(*dict.fromkeys([*cols, *ds_mod.ROW_ID]))
        if retract_files:
            live = live.filter(~live._hw_file.isin(retract_files))
        return live

    def _file_retractions(self, engine: Engine, file_ids: list[int]) -> Any:
        """The (file, record) of every live row that came from the files in ``file_ids``."""
        live = self._parent_live(engine)
        if live is None:
            return None
        hit = live.filter(live._hw_file.isin(file_ids))
        return hit.select("_hw_file", "_hw_record")

    def _retracted_per_file(self, engine: Engine | None, plan: Plan, file_gone: Any) -> None:
        """Record how many rows each changed or missing file lost."""
        if engine is None or file_gone is None:
            return
        agg = file_gone.group_by("_hw_file").aggregate(n=file_gone.count())
        counts = {int(r["_hw_file"]): int(r["n"]) for r in engine.to_pyarrow(agg).to_pylist()}
        for sf in plan.files:
            if sf.previous_file_id in counts and sf.status == "changed":
                sf.extra["rows_retracted"] = counts[sf.previous_file_id]
        for k in plan.missing:
            if k["file_id"] in counts:
                k["rows_retracted"] = counts[k["file_id"]]

    def _record_files(self, conn: sa.Connection, plan: Plan, version: int | None) -> None:
        for sf in plan.files:
            final = sf.status
            values: dict[str, Any] = {
                "status": final,
                "reason": sf.reason,
                "version": version if final in ("new", "changed", "alias") else None,
                "rows_read": sf.extra.get("rows_read", 0),
                "rows_rejected": sf.extra.get("rows_rejected", 0),
                "duplicates": sf.extra.get("duplicates", 0),
                "rows_added": sf.extra.get("rows_added", 0),
                "rows_superseded": sf.extra.get("rows_superseded", 0),
                "rows_retracted": sf.extra.get("rows_retracted", 0),
                "fixes": json.dumps(sf.extra.get("fixes", {})),
            }
            conn.execute(
                sa.update(rs.source_files)
                .where(rs.source_files.c.id == sf.file_id)
                .values(**values)
            )
            if final in ("new", "changed", "alias", "skipped"):
                state = "alias" if final == "alias" else "ingested"
                file_id = sf.previous_file_id if final == "skipped" else sf.file_id
                self._upsert_state(
                    conn, sf.path, sf.size, sf.mtime, sf.hash or "", file_id or 0, state
                )
        for k in plan.missing:
            self._upsert_state(
                conn, k["path"], k["size"], k["mtime"], k["hash"], k["file_id"], "missing"
            )

    def _upsert_state(
        self,
        conn: sa.Connection,
        path: str,
        size: int,
        mtime: float,
        hash_: str,
        file_id: int,
        status: str,
    ) -> None:
        from headwater.records.store import upsert

        values = {"size": size, "mtime": mtime, "hash": hash_, "file_id": file_id, "status": status}
        keys = {"dataset": self.ds.name, "line": self.line, "path": path}
        upsert(conn, rs.file_state, keys, values)

    def _record_rejects(
        self, conn: sa.Connection, rejects: list[dict[str, Any]], plan: Plan
    ) -> None:
        paths = {sf.file_id: sf.path for sf in plan.files}
        rows = []
        for r in rejects:
            rows.append(
                {
                    "run_id": self.run.id,
                    "file_id": r["_hw_file"],
                    "path": paths.get(r["_hw_file"]),
                    "record": r["_hw_record"],
                    "column": r["_hw_reject_column"],
                    "value": r["_hw_reject_value"],
                    "rule": r["_hw_reject_rule"],
                    "reason": self._reason(
                        r["_hw_reject_column"], r["_hw_reject_rule"], r["_hw_reject_value"]
                    ),
                }
            )
        if rows:
            conn.execute(sa.insert(rs.rejects), rows)

    def _reason(self, column: str, rule: str, value: str | None) -> str:
        rules = self.ds.columns.get(column)
        if rule == "type":
            return self._type_reason(column, value)
        if rule == "schema":
            return f"column {column!r} is not in the frozen schema (dataset.schema = 'freeze')"
        if rule == "key":
            return f"key column {column!r} is empty"
        if rule == "not_null":
            return f"column {column!r} is empty but is configured not_null"
        if rule == "min" and rules:
            return f"{value!r} in column {column!r} is below the minimum {rules.min}"
        if rule == "max" and rules:
            return f"{value!r} in column {column!r} is above the maximum {rules.max}"
        if rule == "allowed" and rules:
            return f"{value!r} in column {column!r} is not one of {rules.allowed!r}"
        if rule == "regex" and rules:
            return f"{value!r} in column {column!r} does not match {rules.regex!r}"
        return f"{value!r} in column {column!r} failed rule {rule!r}"

    def _type_reason(self, column: str, value: str | None) -> str:
        import re

        from headwater.tables.transform import PATTERNS

        kind = self._schema_kind(column)
        whole = value is not None and re.fullmatch(PATTERNS["int"], value) is not None
        if kind == "int" and whole:
            reason = f"{value!r} is outside the int64 range for column {column!r}"
        elif kind == "float" and whole:
            reason = (
                f"{value!r} is a whole number beyond ±2**53 that float column {column!r} "
                'would hold rounded; pin the column as type = "string" to keep it exactly'
            )
        else:
            reason = f"{value!r} is not a valid {kind} for column {column!r}"
        t = self.tolerated.get(column)
        if t:
            reason += (
                f" (the column was inferred as {t['type']}: {t['not_fitting']} of "
                f"{t['values']} values did not fit, within dataset.infer_tolerance = "
                f"{self.ds.infer_tolerance})"
            )
        return reason

    def _schema_kind(self, column: str) -> str:
        return self.schema.get(column, "value")

    def _record_failure(
        self, plan: Plan, rejects: list[dict[str, Any]], result: IngestResult
    ) -> None:
        with self.project.records.write() as conn:
            for sf in plan.files:
                conn.execute(
                    sa.update(rs.source_files)
                    .where(rs.source_files.c.id == sf.file_id)
                    .values(
                        status=sf.status
                        if sf.status in ("failed", "deferred")
                        else "not_published",
                        reason=sf.reason,
                        rows_read=sf.extra.get("rows_read", 0),
                        rows_rejected=sf.extra.get("rows_rejected", 0),
                        duplicates=sf.extra.get("duplicates", 0),
                    )
                )
            self._record_rejects(conn, rejects, plan)
        result.status = "failed"
        result.files = [_file_view(sf) for sf in plan.files]
        self.run.summary = _summary(result)


def ibis_literal_int(value: int) -> Any:
    import ibis

    return ibis.literal(value, type="int64")
