"""The automated loop, ``headwater run``: new data → drift checks → retrain → gated deploy.

One writer (a ``run`` run under the project lock); every stage it calls records a child run
(ingest, train). The steps:

1. **Discover**: plan the sources as ``ingest --dry-run`` does. Nothing new or changed, and
   no ingested rows left unchecked (by a run that died, or a plain ``headwater ingest``):
   the run is ``no_new_data`` and stops.
2. **Ingest** the new files (a child run). An ingest that achieved nothing fails the loop.
3. **Nothing in production**: train and deploy through the gate (``deployed`` or
   ``rejected``).
4. **Check** the rows added since the last check — only those parts are read — against
   the production model: its score on them against its recorded test score or its
   per-batch history (model drift), and each feature against the model card's profile
   (data drift); see :mod:`headwater.monitor`.
5. **On drift**: train on the latest dataset version and deploy through the gate.
   Without drift production stays exactly as it is.
6. **Notify** (``[notify]``, :mod:`headwater.notify`): once the run's record is final and
   the lock released, its summary goes to a command and/or a webhook when its status (or
   drift left unresolved) is one of ``on``; a notifier's failure is recorded, never raised.

The check is recorded in ``drift_checks`` in the run's final transaction, with the ingest
runs it covered: a run that dies before that leaves the rows unchecked, and the next run
checks them (the dataset already holds them, so it finds no new file but still checks).
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater import monitor
from headwater.errors import HeadwaterError, LockError, TrainError, interrupted
from headwater.progress import reporter, step
from headwater.records import now_iso
from headwater.records import schema as rs
from headwater.results import LoopResult

if TYPE_CHECKING:
    from headwater.progress import ProgressCallback
    from headwater.workspace import Run, Workspace

# what a loop run's status means for a cron job (README, "headwater run")
EXIT_CODES = {
    "no_new_data": 0,
    "no_drift": 0,
    "insufficient_data": 0,
    "deployed": 0,
    "partial": 0,
    "rejected": 1,
    "failed": 1,
    "skipped": 2,
}


def run_loop(
    ws: Workspace,
    *,
    wait: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> LoopResult:
    """The whole loop, once; see the module docstring."""
    from headwater.train import require_spec

    require_spec(ws)  # the loop trains and checks a model: without [model], say so first
    if dry_run:
        return _dry_run(ws)  # sends nothing
    from headwater import notify

    result = LoopResult(run_id=None, status="no_new_data")
    try:
        with ws.writer("run", wait=wait, options={}) as run, ws.scratch():
            result.run_id, result.step = run.id, "discover"
            try:
                _loop(ws, run, result, reporter(run, progress))
            except Exception as exc:
                _failed(run, result, exc)  # the step that failed, in the run's summary
                raise
    except Exception as exc:
        # the writer has recorded the run (failed, or skipped: another writer holds the
        # lock); notifying about it must not mask what went wrong
        if interrupted(exc):  # Ctrl-C as the engine reports it: nothing to tell anyone
            raise
        if result.run_id is None and isinstance(exc, LockError):
            result.run_id, result.status = exc.context.get("run_id"), "skipped"
        elif result.run_id is not None:
            result.status = "failed"
        else:
            raise
        result.reason = str(exc) or type(exc).__name__
        sent = notify.send(ws, result)
        if sent and isinstance(exc, HeadwaterError):
            exc.context["notifications"] = sent
        with contextlib.suppress(AttributeError, TypeError):  # an exception without __dict__
            exc.loop_result = result  # type: ignore[attr-defined]  # --format json prints it
        raise
    notify.send(ws, result)  # after the record is final and the lock released
    return result


def _loop(ws: Workspace, run: Run, result: LoopResult, report: ProgressCallback) -> LoopResult:
    """The steps of one run under its writer; ``result`` is filled in as they go."""
    from headwater.ingest import ingest
    from headwater.pipeline import refresh_score_history

    checked = _checked_through(ws)
    with step(report, "discover", "looking for new files"):
        refresh_score_history(ws)  # a run killed after the pointer moved left it stale
        plan = ingest(ws, dry_run=True)
        pending = _pending(ws, checked)
    if not _has_new(ws, plan) and not pending:
        result.reason = "no new or changed file in the sources, and no rows left unchecked"
        return _finish(ws, run, result)
    result.step = "ingest"
    ing = ingest(ws, progress=report)  # a child run
    result.ingest_run_id = ing.run_id
    result.files_new = ing.files_new + ing.files_changed
    result.rows_added = ing.rows_added
    result.warnings = list(ing.warnings)
    if ing.status == "failed":
        result.status = "failed"
        result.reason = f"the ingest achieved nothing: {ing.error}"
        return _finish(ws, run, result)
    production = _production(ws)
    if production is None:
        return _first_model(ws, run, result, checked, report)
    check = _check(ws, result, checked, production, report)
    failed = ing.files_failed or ing.source_errors  # rejected rows alone are recorded, not this
    if failed and result.status in ("no_drift", "insufficient_data"):
        result.status = "partial"  # nothing else happened; failed files need a look
    return _finish(ws, run, result, check)


def _finish(
    ws: Workspace, run: Run, result: LoopResult, check: dict[str, Any] | None = None
) -> LoopResult:
    """Record the run's end (and its drift check) in one transaction."""
    from headwater import registry

    if result.status == "rejected":
        result.step = "gate"
    elif result.status != "failed":
        result.step = None

    with ws.records.write() as conn:
        if check is not None:
            conn.execute(sa.insert(rs.drift_checks).values(run_id=run.id, at=now_iso(), **check))
        result.production_version = registry.production_version(conn)[0]
        result.drift_unresolved = monitor.drift_unresolved(conn, result.production_version)
        run.finish_in(ws.records, conn, result.status, result.to_dict())
    return result


def _failed(run: Run, result: LoopResult, exc: Exception) -> None:
    """A step raised: the run's summary says which step (and the progress stage it was
    in) and keeps what the run did before; the writer records it with the error. Nothing
    was checked, so the next run checks the rows this one ingested."""
    stage = run.summary.get("stage")
    if result.step == "train" and stage in ("gate", "promoted"):
        result.step = "gate"  # the train step's child run ends with the gate
    result.status = "failed"
    moved = " after the candidate went into production" if stage == "promoted" else ""
    result.reason = f"the {result.step} step failed{moved}: {exc}"
    run.summary = {**result.to_dict(), "stage": stage}


def _dry_run(ws: Workspace) -> LoopResult:
    """What a run would do now, from the plan and the records; nothing is written."""
    from headwater.ingest import ingest

    plan = ingest(ws, dry_run=True)
    checked = _checked_through(ws)
    production = _production(ws)
    new = _has_new(ws, plan)
    pending = _pending(ws, checked)
    result = LoopResult(run_id=None, status="dry-run", dry_run=True)
    result.files_new = plan.files_new + plan.files_changed
    result.production_version = production
    if not new and not pending:
        result.reason = "no new or changed file, no rows left unchecked: a run would stop there"
    elif production is None:
        result.reason = "a run would ingest, then train and deploy the first model"
    else:
        result.reason = (
            f"a run would ingest, then check the new rows against model v{production}"
            + ("" if new else " (rows already ingested but not yet checked)")
        )
    result.plan = {
        "files_new": plan.files_new,
        "files_changed": plan.files_changed,
        "files_deferred": plan.files_deferred,
        "rows_unchecked": pending,
        "checked_through_ingest_run": checked,
    }
    with ws.records.read() as conn:
        result.drift_unresolved = monitor.drift_unresolved(conn, production)
    return result


def drift_report(ws: Workspace, data: str | None = None) -> LoopResult:
    """The drift checks alone, against production; nothing is written (``headwater drift``).

    On ``data`` (a file, folder or glob, read with the dataset's types) or, without it, on
    the rows a run would check now — those added since the last check — or, when none
    are, on the rows the last check covered."""
    import ibis

    from headwater import registry
    from headwater.errors import RegistryError
    from headwater.train import read_frame, require_spec

    require_spec(ws)
    production = _production(ws)
    if production is None:
        raise RegistryError(
            "no model is in production: there is nothing to check drift against",
            hint="run `headwater run` or `headwater train --deploy` first",
        )
    row = registry.model_row(ws, production)
    features = json.loads(row["features"])
    columns = [*features, row["target"]]
    result = LoopResult(run_id=None, status="no_drift", production_version=production)
    with ws.engine_scope() as engine:
        if data is not None:
            frame = read_frame(ws, data, features, keep_all=True)  # the target, if present
            have = [c for c in columns if c in frame.columns]
            frame = frame[have]
            table = ibis.memtable(frame)
            result.reason = f"checked {len(frame):,} rows of {data}"
        else:
            checked = _checked_through(ws)
            if not _pending(ws, checked):
                checked = _last_check_from(ws)
            _, table, frame = _new_rows(ws, checked, columns)
            result.reason = (
                "no rows to check" if frame is None else f"checked {len(frame):,} ingested rows"
            )
        drift, _ = _model_drift(ws, production, row, table, frame)
        profile = json.loads(row["card"]).get("profile") or {}
        checks = (
            monitor.data_drift(engine, table, profile, features, ws.config.monitor)
            if table is not None
            else []
        )
    result.rows_checked = 0 if frame is None else len(frame)
    result.drift = drift.to_dict()
    result.data_drift = _per_feature(checks)
    drifted = [f for f, v in result.data_drift.items() if v["detected"]]
    if drift.verdict == "drift" or not drifted:
        result.status = drift.verdict
    else:
        result.status = "data_drift"
    result.reason += f": {drift.reason}" + (
        f"; data drift in {', '.join(drifted)}" if drifted else ""
    )
    with ws.records.read() as conn:
        result.drift_unresolved = monitor.drift_unresolved(conn, production)
    return result


# -- the steps --------------------------------------------------------------------------


def _has_new(ws: Workspace, plan: Any) -> bool:
    """Whether an ingest would have work: new or changed files, or files to retract."""
    retract = plan.files_missing and ws.config.dataset.on_missing == "retract"
    return bool(plan.files_new or plan.files_changed or retract)


def _first_model(
    ws: Workspace, run: Run, result: LoopResult, checked: int, report: ProgressCallback
) -> LoopResult:
    """Nothing in production: train and deploy through the gate (``[deploy] min_score``)."""
    from headwater import pipeline

    result.step = "train"
    trained = pipeline.train(ws, deploy=True, progress=report, new_after=checked)  # a child run
    result.candidate = _candidate(trained)
    result.status = "deployed" if trained.promoted else "rejected"
    result.reason = "nothing was in production: " + (
        trained.gate.reason if trained.gate else "trained"
    )
    with ws.records.read() as conn:
        from headwater import dataset as ds_mod

        added = ds_mod.added_since(conn, ws.config.dataset.name, checked)
    check = {
        "model_version": None,
        "dataset_version": added.version,
        "ingest_from": checked,
        "ingest_through": added.through_run,
        "rows": added.rows,
        "metric": trained.metric,
        "score": None,
        "baseline": None,
        "test": None,
        "verdict": "no_production",
        "data_drift": "[]",
        "outcome": result.status,
        "candidate_version": trained.model_version,
        "reason": result.reason,
    }
    return _finish(ws, run, result, check)


def _check(
    ws: Workspace, result: LoopResult, checked: int, production: int, report: ProgressCallback
) -> dict[str, Any]:
    """Score production on the rows added since the last check, test model and data
    drift, and retrain and deploy through the gate when they say so."""
    from headwater import registry

    cfg = ws.config
    row = registry.model_row(ws, production)
    features = json.loads(row["features"])
    result.step = "score"
    with step(report, "score", f"the new rows against model v{production}"):
        added, table, frame = _new_rows(ws, checked, [*features, row["target"]])
        drift, value = _model_drift(ws, production, row, table, frame)
    result.step = "drift"
    with step(report, "drift", f"{len(features)} features against the model card's profile"):
        profile = json.loads(row["card"]).get("profile") or {}
        checks = (
            monitor.data_drift(ws.engine(), table, profile, features, cfg.monitor)
            if table is not None
            else []
        )
    result.drift = drift.to_dict()
    result.data_drift = _per_feature(checks)
    result.rows_checked = 0 if frame is None else len(frame)
    data_drifted = [f for f, v in result.data_drift.items() if v["detected"]]
    trigger = drift.verdict == "drift" or (data_drifted and cfg.monitor.retrain_on_data_drift)
    candidate = None
    if trigger:
        from headwater import pipeline

        why = (
            drift.reason if drift.verdict == "drift" else f"data drift in {', '.join(data_drifted)}"
        )
        result.step = "train"
        trained = pipeline.train(ws, deploy=True, progress=report, new_after=checked)  # a child run
        result.candidate = _candidate(trained)
        candidate = trained.model_version
        result.status = "deployed" if trained.promoted else "rejected"
        result.reason = f"{why}; retrained: " + (trained.gate.reason if trained.gate else "")
    else:
        result.status = "insufficient_data" if drift.verdict == "insufficient_data" else "no_drift"
        result.reason = drift.reason + (
            f"; data drift in {', '.join(data_drifted)} (not a trigger: "
            "[monitor] retrain_on_data_drift = false)"
            if data_drifted
            else ""
        )
    return {
        "model_version": production,
        "dataset_version": added.version,
        "ingest_from": checked,
        "ingest_through": added.through_run,
        "rows": result.rows_checked,
        "metric": row["metric"],
        "score": value,
        "baseline": drift.baseline,
        "test": drift.test,
        "verdict": "data_drift" if trigger and drift.verdict != "drift" else drift.verdict,
        "data_drift": json.dumps([d.to_dict() for d in checks], default=str),
        "outcome": result.status,
        "candidate_version": candidate,
        "reason": result.reason,
    }


def _new_rows(ws: Workspace, checked: int, columns: list[str]) -> tuple[Any, Any, Any]:
    """The rows added since the last check: (what was added, the rows as a table, the
    model's columns of them as a pandas frame for scoring). Only their parts are read."""
    from headwater import dataset as ds_mod

    cfg = ws.config
    with ws.records.read() as conn:
        added = ds_mod.added_since(conn, cfg.dataset.name, checked)
        schema = ds_mod.state(conn, cfg.dataset.name).schema
    engine = ws.engine()
    table = ds_mod.live_rows(engine, ws.dataset_store, added.row_parts, added.retraction_parts)
    if table is None:
        return added, None, None
    table = ds_mod.conform(table, schema)  # parts from before a schema change lack columns
    have = [c for c in columns if c in table.columns]
    return added, table, engine.to_pyarrow(table.select(*have)).to_pandas()


def _model_drift(
    ws: Workspace, production: int, row: dict[str, Any], table: Any, frame: Any
) -> tuple[Any, float | None]:
    """Production's score on the new rows with a target, tested against its baseline or
    its per-batch history: (the verdict, the score)."""
    from headwater import registry
    from headwater.train import score

    cfg, target = ws.config, row["target"]
    with ws.records.read() as conn:
        history = _score_history(conn, production)
    targets = 0 if frame is None or target not in frame else int(frame[target].notna().sum())
    if not targets:
        return monitor.ModelDrift(
            test=cfg.monitor.drift_test,
            score=None,
            baseline=None,
            detected=False,
            rows=0,
            verdict="insufficient_data",
            reason=(
                f"the new rows have no values in the target column {target!r}: only data drift "
                "is checked"
                if table is not None
                else "no new rows to check"
            ),
            history=len(history),
        ), None
    value, failure = None, None
    try:
        model = registry.load_model(ws, production)
        value = score(model, frame, json.loads(row["features"]), target, row["metric"])
    except TrainError as exc:  # e.g. an undefined metric (one class only)
        failure = str(exc)
    drift = monitor.model_drift(value, row["score"], history, row["metric"], cfg.monitor, targets)
    if failure:
        drift.reason = f"production could not be scored on the new rows ({failure}); {drift.reason}"
    return drift, value


def _per_feature(checks: list[Any]) -> dict[str, dict[str, Any]]:
    """One entry per feature: the check that decides (a detected one first, else PSI) with
    its ``method``, ``statistic``, ``threshold`` and ``detected``, and every check made."""
    out: dict[str, dict[str, Any]] = {}
    for feature in dict.fromkeys(c.feature for c in checks):
        mine = [c for c in checks if c.feature == feature]
        lead = next((c for c in mine if c.detected), None) or next(
            (c for c in mine if c.method == "psi"), mine[0]
        )
        out[feature] = {
            **lead.to_dict(),
            "detected": any(c.detected for c in mine),
            "checks": [c.to_dict() for c in mine],
        }
    return out


def _candidate(trained: Any) -> dict[str, Any]:
    return {
        "model_version": trained.model_version,
        "score": trained.score,
        "metric": trained.metric,
        "promoted": trained.promoted,
        "reason": trained.gate.reason if trained.gate else None,
    }


# -- what the records say ---------------------------------------------------------------


def _production(ws: Workspace) -> int | None:
    from headwater import registry

    with ws.records.read() as conn:
        return registry.production_version(conn)[0]


def _checked_through(ws: Workspace) -> int:
    """The newest ingest run whose rows a finished loop run checked (0: none yet)."""
    with ws.records.read() as conn:
        value = conn.execute(sa.select(sa.func.max(rs.drift_checks.c.ingest_through))).scalar()
    return int(value or 0)


def _last_check_from(ws: Workspace) -> int:
    """Where the newest check started (its rows are those after that ingest run)."""
    c = rs.drift_checks.c
    with ws.records.read() as conn:
        value = conn.execute(sa.select(c.ingest_from).order_by(c.id.desc()).limit(1)).scalar()
    return int(value or 0)


def _pending(ws: Workspace, checked: int) -> bool:
    """Whether the current version holds rows added after the last check."""
    from headwater import dataset as ds_mod

    with ws.records.read() as conn:
        return ds_mod.added_since(conn, ws.config.dataset.name, checked).rows > 0


def _score_history(conn: sa.Connection, model_version: int) -> list[float]:
    """The model's per-batch scores, oldest first."""
    c = rs.drift_checks.c
    rows = conn.execute(
        sa.select(c.score)
        .where(c.model_version == model_version, c.score.is_not(None))
        .order_by(c.id)
    ).all()
    return [float(r[0]) for r in rows]
