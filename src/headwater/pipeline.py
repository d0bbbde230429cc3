"""The jobs that change what a project serves: train, deploy, rollback — each one writer
(a recorded run under the project lock, or a child run inside another writer).

A failure at any step leaves production untouched: the pointer only moves in the final
transaction, after the candidate was saved, reloaded from disk and scored.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater.errors import RegistryError
from headwater.predict import report_plot
from headwater.progress import no_progress, reporter, step
from headwater.records import now_iso
from headwater.records import schema as rs
from headwater.results import DeployResult, GateResult, RollbackResult, TrainResult
from headwater.train import library_versions, require_spec
from headwater.workspace import user

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

    from headwater.progress import ProgressCallback
    from headwater.workspace import Run, Workspace


def train(
    project: Workspace,
    *,
    deploy: bool = False,
    force: bool = False,
    wait: bool = False,
    progress: ProgressCallback | None = None,
    new_after: int | None = None,
) -> TrainResult:
    """Fit a candidate on the current dataset version; optionally deploy it.

    ``progress(stage, done, total, detail)`` is called as the stages ``read``, ``fit``,
    ``evaluate``, ``save`` (and ``gate`` with ``deploy``) start and end, and as
    ``promoted`` right after the candidate went into production. ``new_after``
    (the loop's last checked ingest run) names the new rows ``[deploy] gate_on =
    ["test", "new_rows"]`` holds out for the gate.
    """
    from headwater import registry
    from headwater.train import fit, load_training_data, resolve_estimator

    spec = require_spec(project)
    with project.writer("train", wait=wait, options={"deploy": deploy, "force": force}) as run:
        resolve_estimator(spec.estimator)  # before any work: a bad path is refused, not run
        report = reporter(run, progress)
        about: dict[str, Any] = {
            "dataset": project.config.dataset.name,
            "estimator": spec.estimator,
        }
        run.summary = dict(about)
        with step(report, "read", "reading the training data"):
            on_new = deploy and "new_rows" in project.config.deploy.gate_on
            data = load_training_data(project, spec, new_after=new_after if on_new else None)
        about["dataset_rows"] = _dataset_rows(project, data.dataset_version)
        run.summary.update(about, dataset_version=data.dataset_version)
        fitted = fit(spec, data, progress=report)
        with project.records.read() as conn:
            version = registry.next_version(conn)
            production, _ = registry.production_version(conn)
        card = _card(project, spec, data, fitted, version, run.id)
        with step(report, "save", f"model v{version}"):
            saved = registry.save_model(project, version, fitted.model, card)
            plot = report_plot(
                project, version, fitted.model, data.test, spec, data.features, "test"
            )
        result = TrainResult(
            model_version=version,
            metric=fitted.metric,
            score=fitted.score,
            test_rows=fitted.test_rows,
            train_rows=fitted.train_rows,
            dataset_version=data.dataset_version,
            production_version=production,
            location=saved["location"],
            report=plot,
            seconds=fitted.seconds,
            dataset=about["dataset"],
            estimator=about["estimator"],
            dataset_rows=about["dataset_rows"],
            test_data=data.test_source,
            run_id=run.id,
        )
        with project.records.write() as conn:
            _register_candidate(conn, project, spec, data, fitted, card, saved, run.id)
            if not deploy:
                run.finish_in(project.records, conn, "ok", result.to_dict())
        _write_score_history(project)  # with the new candidate in the records
        if deploy:
            with step(report, "gate", f"model v{version} against production"):
                result.gate = _gate(
                    project,
                    run,
                    version,
                    data.test,
                    force=force,
                    summary=result.to_dict(),
                    new_rows=data.new_rows,
                    progress=report,
                )
            run.summary = result.to_dict()
    return result


def _card(
    project: Workspace, spec: Any, data: Any, fitted: Any, version: int, run_id: int
) -> dict[str, Any]:
    """The model card: what a later reader needs to know about a model version — its data,
    estimator, preprocessing, score, libraries and the reference profile drift checks use."""
    from headwater.train import profile

    return {
        "model_version": version,
        "created": now_iso(),
        "run_id": run_id,
        "dataset": project.config.dataset.name,
        "dataset_version": data.dataset_version,
        "estimator": spec.estimator,
        "params": spec.params,
        "preprocessing": {"scale": spec.scale, "one_hot": spec.one_hot, "impute": spec.impute},
        "features": data.features,
        "target": spec.target,
        "classes": fitted.classes,
        "metric": fitted.metric,
        "score": fitted.score,
        "test_data": data.test_source,
        "train_rows": fitted.train_rows,
        "test_rows": fitted.test_rows,
        "seconds": fitted.seconds,
        "libraries": library_versions(),
        "profile": profile(data.train, data.features, spec.target),
    }


def _register_candidate(
    conn: sa.Connection,
    project: Workspace,
    spec: Any,
    data: Any,
    fitted: Any,
    card: dict[str, Any],
    saved: dict[str, Any],
    run_id: int,
) -> None:
    """The saved model's row in the registry, as a candidate."""
    conn.execute(
        sa.insert(rs.models).values(
            version=card["model_version"],
            run_id=run_id,
            created=card["created"],
            dataset=project.config.dataset.name,
            dataset_version=data.dataset_version,
            estimator=spec.estimator,
            params=json.dumps(spec.params, default=str),
            features=json.dumps(data.features),
            target=spec.target,
            metric=fitted.metric,
            score=fitted.score,
            test_rows=fitted.test_rows,
            train_rows=fitted.train_rows,
            seconds=fitted.seconds,
            location=saved["location"],
            file_hash=saved["file_hash"],
            trusted_types=json.dumps(saved["trusted_types"]),
            card=json.dumps(card, default=str),
            status="candidate",
        )
    )


def _no_candidate(conn: sa.Connection) -> RegistryError:
    """ "No candidate", with a hint that names a real version, never an example number."""
    from headwater import registry

    current, _ = registry.production_version(conn)
    other = conn.execute(
        sa.select(sa.func.max(rs.models.c.version)).where(rs.models.c.version != (current or 0))
    ).scalar()
    listing = " (`headwater models` lists the versions)"
    if other is not None:
        hint = f"name a version, e.g. `headwater deploy {other}`, or train a new one" + listing
    elif current is not None:
        hint = f"v{current} is in production; `headwater train` makes a candidate" + listing
    else:
        hint = "run `headwater train` first"
    return RegistryError("there is no candidate model to deploy", hint=hint)


def deploy(
    project: Workspace, version: int | None = None, *, force: bool = False, wait: bool = False
) -> DeployResult:
    """Promote ``version`` (default: the newest candidate) if it passes the gate."""
    from headwater.train import load_training_data

    spec = require_spec(project)
    with project.writer("deploy", wait=wait, options={"version": version, "force": force}) as run:
        if version is None:
            with project.records.read() as conn:
                version = conn.execute(
                    sa.select(sa.func.max(rs.models.c.version)).where(
                        rs.models.c.status == "candidate"
                    )
                ).scalar()
                if version is None:
                    raise _no_candidate(conn)
        data = load_training_data(project, spec)
        about = {
            "dataset": project.config.dataset.name,
            "dataset_version": data.dataset_version,
            "dataset_rows": _dataset_rows(project, data.dataset_version),
            "test_data": data.test_source,
        }
        result = _gate(project, run, int(version), data.test, force=force, data=about)
        run.summary = result.to_dict()
    return result


def _gate(
    project: Workspace,
    run: Run,
    version: int,
    test: pd.DataFrame,
    *,
    force: bool,
    data: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
    new_rows: pd.DataFrame | None = None,
    progress: ProgressCallback | None = None,
) -> GateResult:
    """Score candidate and production on the same test data; move the pointer if it passes.

    ``data`` says where the test rows came from; the run's summary is ``summary`` (what the
    run did before the gate) updated with the verdict. With ``[deploy] gate_on`` naming
    ``new_rows``, the candidate must also be no worse than production on ``new_rows``.
    ``progress`` hears ``promoted`` start right after the pointer moved, and end once the
    score history plot shows it."""
    from headwater import registry
    from headwater.train import better_or_equal, meets, score

    spec = require_spec(project)
    row = registry.model_row(project, version)
    features = json.loads(row["features"])
    metric = row["metric"]
    candidate = registry.load_model(project, version)
    loaded = {version: candidate}
    cand_score = score(candidate, test, features, spec.target, metric)
    with project.records.read() as conn:
        current, _ = registry.production_version(conn)
    tol = project.config.deploy.tolerance
    prod_score = None
    if current == version:
        raise RegistryError(f"model v{version} is already in production", hint="nothing to do")
    if current is None:
        minimum = project.config.deploy.min_score
        passed = minimum is None or meets(metric, cand_score, minimum)
        why = f"nothing in production; {metric} {cand_score:.4f}" + (
            "" if minimum is None else f" {'meets' if passed else 'misses'} min_score {minimum}"
        )
    else:
        prod_row = registry.model_row(project, current)
        loaded[current] = registry.load_model(project, current)
        prod_score = score(
            loaded[current], test, json.loads(prod_row["features"]), spec.target, metric
        )
        passed = better_or_equal(metric, cand_score, prod_score, tol)
        why = (
            f"{metric} {cand_score:.4f} vs production v{current} {prod_score:.4f} on the same "
            f"{len(test)} test rows (tolerance {tol}): " + ("no worse" if passed else "worse")
        )
    on_new = None
    if "new_rows" in project.config.deploy.gate_on:
        on_new = _on_new_rows(project, version, current, new_rows, loaded)
        why += f"; {on_new['reason']}"
        passed = passed and on_new.get("passed", True)
    promote = passed or force
    move = registry.Move(
        action="promote" if promote else "refuse",
        from_version=current,
        to_version=version,
        reason=why + ("; forced" if force and not passed else ""),
        forced=force and not passed,
        candidate_score=cand_score,
        production_score=prod_score,
    )
    who = f"{user()}@{socket.gethostname()}"
    result = GateResult(
        model_version=version,
        metric=metric,
        score=cand_score,
        test_rows=int(test[spec.target].notna().sum()),
        promoted=promote,
        forced=move.forced,
        forced_by=who if move.forced else None,
        production_score=prod_score,
        previous_production_version=current,
        production_version=version if promote else current,
        tolerance=tol,
        min_score=project.config.deploy.min_score if current is None else None,
        reason=move.reason,
        run_id=run.id,
        data=dict(data or {}),
        new_rows=on_new,
    )
    with project.records.write() as conn:
        registry.move_pointer(conn, move, run_id=run.id, user=user(), host=socket.gethostname())
        status = "ok" if promote else "refused"
        run.finish_in(project.records, conn, status, {**(summary or {}), **result.to_dict()})
    if promote:
        with step(progress or no_progress, "promoted", f"model v{version} is in production"):
            _write_score_history(project)  # the plot marks the production version
    return result


def _on_new_rows(
    project: Workspace,
    version: int,
    current: int | None,
    new_rows: pd.DataFrame | None,
    loaded: dict[int, Any],
) -> dict[str, Any]:
    """The gate's second judgement: candidate against production on the held-out slice of
    the new rows; ``skipped`` (with the reason) when there is nothing to judge on.
    ``loaded``: the models the gate already loaded, by version (not loaded again)."""
    from headwater import registry
    from headwater.errors import TrainError
    from headwater.train import better_or_equal, score

    target = require_spec(project).target
    rows = 0 if new_rows is None else int(new_rows[target].notna().sum())
    out: dict[str, Any] = {"rows": rows, "score": None, "production_score": None}
    if current is None:
        return {**out, "skipped": True, "reason": "new rows: nothing in production to compare"}
    if new_rows is None:
        why = "new rows: not judged (only `headwater run` holds new rows out of training)"
        return {**out, "skipped": True, "reason": why}
    if rows < project.config.monitor.min_rows:
        why = (
            f"new rows: {rows} held-out new rows with a target, fewer than [monitor] "
            f"min_rows {project.config.monitor.min_rows}: skipped"
        )
        return {**out, "skipped": True, "reason": why}
    metric = registry.model_row(project, version)["metric"]

    def on_new(v: int) -> float:
        model = loaded[v] if v in loaded else registry.load_model(project, v)
        features = json.loads(registry.model_row(project, v)["features"])
        return score(model, new_rows, features, target, metric)

    try:
        cand, prod = on_new(version), on_new(current)
    except TrainError as exc:  # e.g. one class only: the metric is undefined on the slice
        why = f"new rows: {metric} cannot be computed on {rows} held-out new rows ({exc}): skipped"
        return {**out, "skipped": True, "reason": why}
    tol = project.config.deploy.tolerance
    passed = better_or_equal(metric, cand, prod, tol)
    why = f"on {rows} held-out new rows {metric} {cand:.4f} vs production {prod:.4f}: " + (
        "no worse" if passed else "worse"
    )
    return {**out, "score": cand, "production_score": prod, "passed": passed, "reason": why}


def rollback(project: Workspace, *, wait: bool = False) -> RollbackResult:
    """Move production back to the version before the current one, in one step."""
    from headwater import registry

    with project.writer("rollback", wait=wait) as run:
        with project.records.read() as conn:
            current, target = registry.rollback_target(conn)
        registry.load_model(project, target)  # refuse to roll back onto a broken file
        move = registry.Move(
            action="rollback",
            from_version=current,
            to_version=target,
            reason=f"rollback from v{current} to v{target}",
        )
        result = RollbackResult(from_version=current, production_version=target, run_id=run.id)
        with project.records.write() as conn:
            registry.move_pointer(conn, move, run_id=run.id, user=user(), host=socket.gethostname())
            run.finish_in(project.records, conn, "ok", result.to_dict())
    _write_score_history(project)
    return result


def _dataset_rows(project: Workspace, version: int | None) -> int | None:
    """How many rows the dataset version a model was trained or tested on has."""
    if version is None:
        return None
    with project.records.read() as conn:
        rows = conn.execute(
            sa.select(rs.versions.c.rows).where(
                rs.versions.c.dataset == project.config.dataset.name,
                rs.versions.c.version == version,
            )
        ).scalar()
    return None if rows is None else int(rows)


SCORE_HISTORY = "score_history.png"


def _write_score_history(project: Workspace) -> None:
    """Redraw the score history plot; best effort: it is drawn from the records, so a
    failure to draw or write it (a full disk) is a warning, never a failed deploy, and
    :func:`refresh_score_history` redraws it in the next run."""
    try:
        _draw_score_history(project)
    except Exception as exc:
        log.warning(
            "the score history plot %s/%s was not redrawn (%s: %s); the next `headwater run` "
            "redraws it",
            project.config.models_dir, SCORE_HISTORY, type(exc).__name__, exc,
        )  # fmt: skip


def refresh_score_history(project: Workspace) -> bool:
    """Redraw the plot when the records moved on since it was drawn (a run killed right
    after the production pointer moved, or a plot that could not be written): a model
    registered or a promotion or rollback newer than the file. True when it redrew."""
    import datetime as dt
    from pathlib import Path

    folder = project.config.models_dir
    if "://" in folder:
        return False  # a remote store: no cheap modification time; redrawn on promotion
    with project.records.read() as conn:
        newest = max(
            conn.execute(sa.select(sa.func.max(rs.models.c.created))).scalar() or "",
            conn.execute(
                sa.select(sa.func.max(rs.promotions.c.at)).where(
                    rs.promotions.c.action.in_(("promote", "rollback"))
                )
            ).scalar()
            or "",
        )
    if not newest:
        return False
    try:
        drawn = Path(folder, SCORE_HISTORY).stat().st_mtime
    except FileNotFoundError:
        drawn = 0.0
    if dt.datetime.fromisoformat(newest).timestamp() <= drawn:
        return False
    _write_score_history(project)
    return True


def _draw_score_history(project: Workspace) -> None:
    """Draw the score history plot (every scored version, production marked)."""
    from headwater import plots, registry

    info = registry.list_models(project)
    scored = sorted(
        (r for r in info["models"] if r["score"] is not None), key=lambda r: r["version"]
    )
    if not scored:
        return
    png = plots.score_history_png(
        [r["version"] for r in scored],
        [r["score"] for r in scored],
        scored[-1]["metric"],
        info["production_version"],
    )
    registry.write_bytes(project, project.config.models_dir, SCORE_HISTORY, png)
