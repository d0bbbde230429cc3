"""Model operations on a project: train, deploy, rollback, score, predict, diagnostics.

Each writer (train, deploy, rollback) runs under the project lock as a recorded run. A
failure at any step leaves production untouched: the pointer only moves in the final
transaction, after the candidate was saved, reloaded from disk and scored.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater._files import make_dirs, restrict
from headwater.errors import ConfigError, ProjectError, RegistryError, TrainError
from headwater.records import now_iso
from headwater.records import schema as rs
from headwater.results import (
    DeployResult,
    GateResult,
    ModelsOverview,
    PredictResult,
    RollbackResult,
    ScoreResult,
    TrainResult,
)

if TYPE_CHECKING:
    import pandas as pd

    from headwater.config import ModelConfig
    from headwater.progress import ProgressCallback
    from headwater.workspace import Run, Workspace


def require_spec(project: Workspace) -> ModelConfig:
    if project.config.model is None:
        raise ConfigError(
            "headwater.toml has no [model] section",
            hint='add [model] with at least target = "<column>" (see `headwater init` template)',
            key="model",
        )
    return project.config.model


def _user() -> str:
    from headwater.workspace import user

    return user()


def _write_bytes(folder: str, name: str, data: bytes) -> str:
    import fsspec

    from headwater import registry

    fs, path = fsspec.core.url_to_fs(folder)
    local = registry.is_local(fs)
    if local:
        make_dirs(path)
    else:
        fs.makedirs(path, exist_ok=True)
    target = f"{folder.rstrip('/')}/{name}"
    with fsspec.open(target, "wb") as fh:
        fh.write(data)
    if local:
        restrict(f"{path.rstrip('/')}/{name}")
    return target


def _report_plot(
    project: Workspace,
    version: int,
    model: Any,
    frame: pd.DataFrame,
    spec: ModelConfig,
    features: list[str],
    label: str,
) -> str:
    from headwater import registry
    from headwater.reports import plots
    from headwater.train import is_classifier

    data = frame[frame[spec.target].notna()]
    pred = model.predict(data[features])
    folder = registry.version_dir(project, version)
    if is_classifier(model):
        labels = sorted(set(data[spec.target].tolist()) | set(pred.tolist()))
        png = plots.confusion_matrix_png(
            data[spec.target], pred, labels, f"model v{version} on {label}"
        )
        return _write_bytes(folder, f"confusion_matrix_{label}.png", png)
    png = plots.residuals_png(
        data[spec.target].tolist(), pred.tolist(), f"model v{version} on {label}"
    )
    return _write_bytes(folder, f"residuals_{label}.png", png)


def _reporter(run: Run | None, progress: ProgressCallback | None) -> ProgressCallback:
    """Pass ``progress(stage, done, total, detail)`` on, and note the stage in the run's
    summary: a run that fails says how far it got."""

    def report(stage: str, done: int, total: int, detail: str) -> None:
        if run is not None and not run.finished:
            run.summary["stage"] = stage
        if progress is not None:
            progress(stage, done, total, detail)

    return report


@contextlib.contextmanager
def _stage(report: ProgressCallback, name: str, detail: str) -> Iterator[None]:
    """One stage of work: reported as 0 of 1 when it starts and 1 of 1 when it ends."""
    report(name, 0, 1, detail)
    yield
    report(name, 1, 1, detail)


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


def _score_history_path(project: Workspace) -> str | None:
    """Where the score history plot is, if one was written."""
    import fsspec

    target = f"{project.config.models_dir.rstrip('/')}/score_history.png"
    fs, path = fsspec.core.url_to_fs(target)
    return target if fs.exists(path) else None


def _write_score_history(project: Workspace) -> None:
    """Redraw the score history plot (every scored version, production marked)."""
    from headwater import registry
    from headwater.reports import plots

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
    _write_bytes(project.config.models_dir, "score_history.png", png)


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "headwater",
        "scikit-learn",
        "skops",
        "numpy",
        "pandas",
        "pyarrow",
        "duckdb",
        "ibis-framework",
        "sqlalchemy",
        "matplotlib",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def train(
    project: Workspace,
    *,
    deploy: bool = False,
    force: bool = False,
    wait: bool = False,
    progress: ProgressCallback | None = None,
) -> TrainResult:
    """Fit a candidate on the current dataset version; optionally deploy it.

    ``progress(stage, done, total, detail)`` is called as the stages ``read``, ``fit``,
    ``evaluate``, ``save`` (and ``gate`` with ``deploy``) start and end.
    """
    from headwater import registry
    from headwater.train import fit, load_training_data, profile, resolve_estimator

    spec = require_spec(project)
    with project.writer("train", wait=wait, options={"deploy": deploy, "force": force}) as run:
        resolve_estimator(spec.estimator)  # before any work: a bad path is refused, not run
        report = _reporter(run, progress)
        about: dict[str, Any] = {
            "dataset": project.config.dataset.name,
            "estimator": spec.estimator,
        }
        run.summary = dict(about)
        with _stage(report, "read", "reading the training data"):
            data = load_training_data(project, spec)
        about["dataset_rows"] = _dataset_rows(project, data.dataset_version)
        run.summary.update(about, dataset_version=data.dataset_version)
        fitted = fit(spec, data, progress=report)
        with project.records.read() as conn:
            version = registry.next_version(conn)
            production, _ = registry.production_version(conn)
        card = {
            "model_version": version,
            "created": now_iso(),
            "run_id": run.id,
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
            "libraries": _library_versions(),
            "profile": profile(data.train, data.features, spec.target),
        }
        with _stage(report, "save", f"model v{version}"):
            saved = registry.save_model(project, version, fitted.model, card)
            plot = _report_plot(
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
            conn.execute(
                sa.insert(rs.models).values(
                    version=version,
                    run_id=run.id,
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
            if not deploy:
                run.finish_in(project.records, conn, "ok", result.to_dict())
        _write_score_history(project)  # with the new candidate in the records
        if deploy:
            with _stage(report, "gate", f"model v{version} against production"):
                result.gate = _gate(
                    project, run, version, data.test, force=force, summary=result.to_dict()
                )
            run.summary = result.to_dict()
    return result


def deploy(
    project: Workspace, version: int | None = None, *, force: bool = False, wait: bool = False
) -> DeployResult:
    """Promote ``version`` (default: the newest candidate) if it passes the gate."""
    from headwater import registry
    from headwater.train import load_training_data

    spec = require_spec(project)
    with project.writer("deploy", wait=wait, options={"version": version, "force": force}) as run:
        if version is None:
            current: int | None = None
            other: int | None = None
            with project.records.read() as conn:
                version = conn.execute(
                    sa.select(sa.func.max(rs.models.c.version)).where(
                        rs.models.c.status == "candidate"
                    )
                ).scalar()
                if version is None:  # name a real version, never an example number
                    current, _ = registry.production_version(conn)
                    other = conn.execute(
                        sa.select(sa.func.max(rs.models.c.version)).where(
                            rs.models.c.version != (current or 0)
                        )
                    ).scalar()
            if version is None:
                raise RegistryError(
                    "there is no candidate model to deploy",
                    hint=(
                        f"name a version, e.g. `headwater deploy {other}`, or train a new one"
                        " (`headwater models` lists the versions)"
                        if other is not None
                        else f"v{current} is in production; `headwater train` makes a candidate"
                        " (`headwater models` lists the versions)"
                        if current is not None
                        else "run `headwater train` first"
                    ),
                )
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
) -> GateResult:
    """Score candidate and production on the same test data; move the pointer if it passes.

    ``data`` says where the test rows came from; the run's summary is ``summary`` (what the
    run did before the gate) updated with the verdict."""
    from headwater import registry
    from headwater.train import better_or_equal, meets, score

    spec = require_spec(project)
    row = registry.model_row(project, version)
    features = json.loads(row["features"])
    metric = row["metric"]
    candidate = registry.load_model(project, version)
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
        prod_model = registry.load_model(project, current)
        prod_score = score(prod_model, test, json.loads(prod_row["features"]), spec.target, metric)
        passed = better_or_equal(metric, cand_score, prod_score, tol)
        why = (
            f"{metric} {cand_score:.4f} vs production v{current} {prod_score:.4f} on the same "
            f"{len(test)} test rows (tolerance {tol}): " + ("no worse" if passed else "worse")
        )
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
    who = f"{_user()}@{socket.gethostname()}"
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
    )
    with project.records.write() as conn:
        registry.move_pointer(conn, move, run_id=run.id, user=_user(), host=socket.gethostname())
        status = "ok" if promote else "refused"
        run.finish_in(project.records, conn, status, {**(summary or {}), **result.to_dict()})
    if promote:
        _write_score_history(project)  # the plot marks the production version
    return result


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
            registry.move_pointer(
                conn, move, run_id=run.id, user=_user(), host=socket.gethostname()
            )
            run.finish_in(project.records, conn, "ok", result.to_dict())
    _write_score_history(project)
    return result


def _production(project: Workspace) -> tuple[int, Any, dict[str, Any]]:
    from headwater import registry

    with project.records.read() as conn:
        current, _ = registry.production_version(conn)
    if current is None:
        raise RegistryError("no model is in production", hint="run `headwater train --deploy`")
    return current, registry.load_model(project, current), registry.model_row(project, current)


def score_production(
    project: Workspace,
    data: str | None = None,
    progress: ProgressCallback | None = None,
    *,
    plot: bool = False,
) -> ScoreResult:
    """Score the production model on the test data (or ``data``); change nothing (with
    ``plot``, a confusion matrix or residual plot is written beside the model).

    ``progress`` hears the stages ``load``, ``read``, ``score`` (and ``report``)."""
    from headwater.train import load_training_data, numeric_features, read_frame, score

    spec = require_spec(project)
    stage = _reporter(None, progress)
    with _stage(stage, "load", "the production model"):
        version, model, row = _production(project)
    features = json.loads(row["features"])
    with _stage(stage, "read", data or "the test data"):
        if data:
            numeric = numeric_features(row["card"], features)
            frame = read_frame(project, data, [*features, spec.target], numeric=numeric)
            label = Path(data).stem or "data"
        else:
            frame = load_training_data(project, spec).test
            label = "test"
    with _stage(stage, "score", f"{row['metric']} of model v{version}"):
        value = score(model, frame, features, spec.target, row["metric"])
    report = None
    if plot:
        with _stage(stage, "report", "plotting"):
            report = _report_plot(project, version, model, frame, spec, features, label)
    return ScoreResult(
        model_version=version,
        metric=row["metric"],
        score=value,
        test_rows=int(frame[spec.target].notna().sum()),
        data=data or "test data",
        report=report,
    )


def predict(
    project: Workspace,
    data: str,
    output: str | os.PathLike[str],
    progress: ProgressCallback | None = None,
) -> PredictResult:
    """Predict with the production model; write the input rows plus predictions as CSV.

    ``progress`` hears the stages ``load``, ``read``, ``predict`` and ``write``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from headwater._output import check_output_file, write_atomically
    from headwater.train import is_classifier, numeric_features, read_frame

    target = Path(output)
    check_output_file(target, "predictions.csv")
    stage = _reporter(None, progress)
    with _stage(stage, "load", "the production model"):
        version, model, row = _production(project)
    features = json.loads(row["features"])
    with _stage(stage, "read", data):
        numeric = numeric_features(row["card"], features)  # text there: an error, named
        frame = read_frame(project, data, features, keep_all=True, numeric=numeric)
    with _stage(stage, "predict", f"{len(frame):,} rows with model v{version}"):
        try:
            pred = model.predict(frame[features])
        except ValueError as exc:
            raise TrainError(
                f"the production model v{version} cannot predict on {data!r}: {exc}",
                hint="the data must have the model's features with the same types",
            ) from exc
        out = frame.copy()
        out["prediction"] = pred
        if is_classifier(model) and hasattr(model, "predict_proba"):
            proba = model.predict_proba(frame[features])
            for i, cls in enumerate(model.classes_):
                out[f"probability_{cls}"] = proba[:, i]
    with _stage(stage, "write", str(target)):
        table = pa.Table.from_pandas(out, preserve_index=False)
        write_atomically(target, lambda tmp: pacsv.write_csv(table, tmp))
    return PredictResult(model_version=version, rows=len(out), output=str(target))


def models_overview(project: Workspace) -> ModelsOverview:
    """Every model version, the production pointer and its history. A read: it writes
    nothing (train, deploy and rollback keep the score history plot current)."""
    from headwater import registry

    info = registry.list_models(project)
    rows = sorted(info["models"], key=lambda r: r["version"])

    def about(m: dict[str, Any]) -> dict[str, Any]:
        keys = ("version", "status", "created", "dataset_version", "metric", "score", "test_rows")
        return {k: m.get(k) for k in keys}

    # the top-level fields describe the newest model (the contract); these say which is which
    info["newest"] = about(rows[-1]) if rows else None
    prod = next((m for m in rows if m["version"] == info["production_version"]), None)
    info["production"] = (
        {**about(prod), "promoted_at": info["production_since"]} if prod is not None else None
    )
    if rows:
        newest = rows[-1]
        info.update(
            model_version=newest["version"],
            metric=newest["metric"],
            score=newest["score"],
            test_rows=newest["test_rows"],
        )
        history = _score_history_path(project)
        if history is not None:
            info["score_history"] = history
    else:
        info.update(model_version=None, metric=None, score=None, test_rows=0)
    return ModelsOverview(info)


def diagnostics(project: Workspace) -> dict[str, Any]:
    """Summary statistics and missing values of the dataset, run timings from the records,
    and the installed versions of the key dependencies. Nothing is re-run."""
    from headwater import dataset as ds_mod

    name = project.config.dataset.name
    out: dict[str, Any] = {"dataset": name, "libraries": _library_versions(), "columns": {}}
    with project.records.read() as conn:
        try:
            v, row_parts, gone = ds_mod.version_parts(conn, name, None)
        except ProjectError:
            v = None
    for kind in ("ingest", "train"):
        runs = [
            r
            for r in project.history(limit=200, kind=kind)
            if r["status"] in ("ok", "partial") and r["finished"]
        ]
        if runs:
            import datetime as dt

            last = runs[0]
            took = (
                dt.datetime.fromisoformat(last["finished"])
                - dt.datetime.fromisoformat(last["started"])
            ).total_seconds()
            out[f"last_{kind}"] = {
                "run_id": last["id"],
                "finished": last["finished"],
                "seconds": round(took, 3),
            }
        else:
            out[f"last_{kind}"] = None
    if v is None:
        out["dataset_version"] = None
        out["rows"] = 0
        return out
    schema: dict[str, str] = dict(json.loads(v["schema"]))
    out["dataset_version"] = v["version"]
    out["rows"] = v["rows"]
    with project.engine_scope() as engine:
        live = ds_mod.live_rows(engine, project.config.dataset_dir, row_parts, gone)
        if live is None:
            return out
        live = ds_mod.conform(live, schema)
        aggs: dict[str, Any] = {"_n": live.count()}
        for i, (c, kind) in enumerate(schema.items()):
            aggs[f"miss{i}"] = live[c].isnull().sum()
            if kind in ("int", "float"):
                col = live[c].cast("float64")
                aggs[f"mean{i}"] = col.mean()
                aggs[f"median{i}"] = col.median()
                aggs[f"std{i}"] = col.std()
        row = engine.to_pyarrow(live.aggregate(**aggs)).to_pylist()[0]

    def number(value: Any) -> float | None:  # a SQL sum can be a Decimal: give a float
        return None if value is None else float(value)

    n = int(row["_n"] or 0)
    for i, (c, kind) in enumerate(schema.items()):
        missing = int(row[f"miss{i}"] or 0)
        entry: dict[str, Any] = {"type": kind, "missing_share": missing / n if n else 0.0}
        if kind in ("int", "float"):
            entry.update(
                mean=number(row[f"mean{i}"]),
                median=number(row[f"median{i}"]),
                std=number(row[f"std{i}"]),
            )
        out["columns"][c] = entry
    return out
