"""Reads about models and data for people: the models overview and the diagnostics. Reads
only — they write nothing (train, deploy and rollback keep the score history plot current).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError
from headwater.results import ModelsOverview

if TYPE_CHECKING:
    from headwater.workspace import Workspace


def models_overview(project: Workspace) -> ModelsOverview:
    """Every model version, the production pointer and its history. A read: it writes
    nothing (train, deploy and rollback keep the score history plot current)."""
    from headwater import monitor, registry

    info = registry.list_models(project)
    rows = sorted(info["models"], key=lambda r: r["version"])
    with project.records.read() as conn:
        # the loop found drift on production and its retrained candidate was rejected
        info["drift_unresolved"] = monitor.drift_unresolved(conn, info["production_version"])
    # the top-level fields describe the newest model (the contract); these say which is which
    info["newest"] = _about(rows[-1]) if rows else None
    prod = next((m for m in rows if m["version"] == info["production_version"]), None)
    info["production"] = (
        {**_about(prod), "promoted_at": info["production_since"]} if prod is not None else None
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


def _score_history_path(project: Workspace) -> str | None:
    """Where the score history plot is, if one was written."""
    store = project.store(project.config.models_dir)
    return store.url("score_history.png") if store.exists("score_history.png") else None


def diagnostics(project: Workspace) -> dict[str, Any]:
    """Summary statistics and missing values of the dataset, run timings from the records,
    and the installed versions of the key dependencies. Nothing is re-run."""
    from headwater import dataset as ds_mod
    from headwater.train import library_versions

    name = project.config.dataset.name
    out: dict[str, Any] = {"dataset": name, "libraries": library_versions(), "columns": {}}
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
        live = ds_mod.live_rows(engine, project.dataset_store, row_parts, gone)
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
    n = int(row["_n"] or 0)
    for i, (c, kind) in enumerate(schema.items()):
        missing = int(row[f"miss{i}"] or 0)
        entry: dict[str, Any] = {"type": kind, "missing_share": missing / n if n else 0.0}
        if kind in ("int", "float"):
            entry.update(
                mean=_number(row[f"mean{i}"]),
                median=_number(row[f"median{i}"]),
                std=_number(row[f"std{i}"]),
            )
        out["columns"][c] = entry
    return out


def _about(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("version", "status", "created", "dataset_version", "metric", "score", "test_rows")
    return {k: m.get(k) for k in keys}


def _number(value: Any) -> float | None:
    """A SQL sum or mean can be a Decimal: JSON gets a float."""
    return None if value is None else float(value)
