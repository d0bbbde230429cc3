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

The check is recorded in ``drift_checks`` in the run's final transaction, with the ingest
runs it covered: a run that dies before that leaves the rows unchecked, and the next run
checks them (the dataset already holds them, so it finds no new file but still checks).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

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
    from headwater.ingest import ingest
    from headwater.train import require_spec

    require_spec(ws)  # the loop trains and checks a model: without [model], say so first
    if dry_run:
        return _dry_run(ws)
    with ws.writer("run", wait=wait, options={}) as run, ws.scratch():
        report = reporter(run, progress)
        result = LoopResult(run_id=run.id, status="no_new_data")
        checked = _checked_through(ws)
        with step(report, "discover", "looking for new files"):
            plan = ingest(ws, dry_run=True)
            pending = _pending(ws, checked)
        if not _has_new(ws, plan) and not pending:
            result.reason = "no new or changed file in the sources, and no rows left unchecked"
            return _finish(ws, run, result)
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
        if ing.status == "partial" and result.status in ("no_drift", "insufficient_data"):
            result.status = "partial"  # nothing else happened; failed files need a look
        return _finish(ws, run, result, check)


def _finish(
    ws: Workspace, run: Run, result: LoopResult, check: dict[str, Any] | None = None
) -> LoopResult:
    """Record the run's end (and its drift check) in one transaction."""
    from headwater import registry

    with ws.records.write() as conn:
        if check is not None:
            conn.execute(sa.insert(rs.drift_checks).values(run_id=run.id, at=now_iso(), **check))
        result.production_version = registry.production_version(conn)[0]
        result.drift_unresolved = drift_unresolved(conn, result.production_version)
        run.finish_in(ws.records, conn, result.status, result.to_dict())
    return result


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
        result.drift_unresolved = drift_unresolved(conn, production)
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

    trained = pipeline.train(ws, deploy=True, progress=report)  # a child run
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
    from headwater import dataset as ds_mod
    from headwater import monitor, registry
    from headwater.train import score

    cfg = ws.config
    with ws.records.read() as conn:
        added = ds_mod.added_since(conn, cfg.dataset.name, checked)
        history = _score_history(conn, production)
    row = registry.model_row(ws, production)
    card = json.loads(row["card"])
    features = json.loads(row["features"])
    target = row["target"]
    engine = ws.engine()
    with step(report, "score", f"{added.rows:,} new rows against model v{production}"):
        table = ds_mod.live_rows(engine, cfg.dataset_dir, added.row_parts, added.retraction_parts)
        rows = 0
        frame = None
        if table is not None:
            have = [c for c in [*features, target] if c in table.columns]
            frame = engine.to_pyarrow(table.select(*have)).to_pandas()
            rows = len(frame)
        value = None
        with_target = frame is not None and target in frame.columns
        if with_target and frame is not None and int(frame[target].notna().sum()) > 0:
            model = registry.load_model(ws, production)
            try:
                value = score(model, frame, features, target, row["metric"])
            except Exception:  # an undefined metric (one class only): no verdict
                value = None
        drift = monitor.model_drift(
            value,
            row["score"],
            history,
            row["metric"],
            cfg.monitor,
            rows=int(frame[target].notna().sum()) if with_target and frame is not None else 0,
            has_target=with_target,
        )
    with step(report, "drift", f"{len(features)} features against the model card's profile"):
        features_drift = (
            monitor.data_drift(engine, table, card.get("profile") or {}, features, cfg.monitor)
            if table is not None
            else []
        )
    result.drift = drift.to_dict()
    result.data_drift = {d.feature: d.to_dict() for d in features_drift}
    data_drifted = [d.feature for d in features_drift if d.detected]
    trigger = drift.verdict == "drift" or (data_drifted and cfg.monitor.retrain_on_data_drift)
    candidate = None
    if trigger:
        from headwater import pipeline

        why = (
            drift.reason
            if drift.verdict == "drift"
            else (f"data drift in {', '.join(data_drifted)}")
        )
        trained = pipeline.train(ws, deploy=True, progress=report)  # a child run
        result.candidate = _candidate(trained)
        candidate = trained.model_version
        outcome = "deployed" if trained.promoted else "rejected"
        result.reason = f"{why}; retrained: " + (trained.gate.reason if trained.gate else "")
    else:
        outcome = "insufficient_data" if drift.verdict == "insufficient_data" else "no_drift"
        result.reason = drift.reason + (
            f"; data drift in {', '.join(data_drifted)} (not a trigger: "
            "[monitor] retrain_on_data_drift = false)"
            if data_drifted
            else ""
        )
    result.status = outcome
    result.rows_checked = rows
    check = {
        "model_version": production,
        "dataset_version": added.version,
        "ingest_from": checked,
        "ingest_through": added.through_run,
        "rows": rows,
        "metric": row["metric"],
        "score": value,
        "baseline": drift.baseline,
        "test": drift.test,
        "verdict": "data_drift" if trigger and drift.verdict != "drift" else drift.verdict,
        "data_drift": json.dumps([d.to_dict() for d in features_drift], default=str),
        "outcome": outcome,
        "candidate_version": candidate,
        "reason": result.reason,
    }
    return check


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


def drift_unresolved(conn: sa.Connection, production: int | None) -> bool:
    """A drift the loop found and could not fix: the newest check with a verdict on the
    production model found drift and its candidate was rejected (a later deploy, rollback
    or a batch without drift resolves it)."""
    if production is None:
        return False
    c = rs.drift_checks.c
    last = conn.execute(
        sa.select(c.outcome, c.model_version)
        .where(c.verdict.in_(["drift", "no_drift", "data_drift"]))
        .order_by(c.id.desc())
        .limit(1)
    ).first()
    return bool(last and last.outcome == "rejected" and last.model_version == production)
