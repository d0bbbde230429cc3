"""The dashboard of ``headwater serve``: server-rendered HTML over the records.

Where it sits: on the top floor with the CLI; it reads a :class:`~headwater.project.Project`
opened once per app and queries the records on every request (a scheduled run in another
process changes them while the server runs). Every page is a read: no lock taken, no file
written; only the page shown is queried, so it stays fast with thousands of runs. Charts
are inline SVG drawn in the templates from numbers computed here; the templates escape
everything (file and column names are user data), and the assets ship in the package.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fastapi
    import jinja2
    from fastapi.responses import HTMLResponse

    from headwater.project import Project

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

PAGE_SIZE = 50
"""Runs per page of the timeline, versions per page of the dataset."""
LATEST = 10
"""Runs on the overview."""
DRIFT_CHECKS = 12
"""Drift checks in the per-feature drift history (the newest)."""
RESIDUAL_POINTS = 400
"""At most this many points in the residual plot (every n-th test row)."""


def router(project: Project) -> fastapi.APIRouter:
    """The dashboard's routes over ``project``: ``/``, ``/ui/runs``, ``/ui/runs/{id}``,
    ``/ui/dataset``, ``/ui/models`` and ``/static/{name}``."""
    import fastapi
    from fastapi.responses import FileResponse, HTMLResponse

    from headwater.errors import HeadwaterError

    env = _environment()
    reports = _ReportCache(project)
    assets = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    api = fastapi.APIRouter()

    def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("project_name", project.config.project.name)
        html = env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    def failed(exc: HeadwaterError) -> HTMLResponse:
        log.warning("dashboard: %s", exc)
        return render(
            "error.html",
            503,
            title="Cannot read the records",
            message=str(exc),
            hint=getattr(exc, "hint", None),
        )

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview() -> HTMLResponse:
        try:
            return render("overview.html", **_overview(project))
        except HeadwaterError as exc:
            return failed(exc)

    @api.get("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs(before: str | None = None) -> HTMLResponse:
        if before is not None and not before.isdigit():
            return render(
                "error.html",
                400,
                title="Bad page",
                message=f"before={before!r} is not a run id",
                hint="follow the links at the bottom of the runs page",
            )
        try:
            return render("runs.html", **_timeline(project, int(before) if before else None))
        except HeadwaterError as exc:
            return failed(exc)

    @api.get("/ui/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(run_id: str) -> HTMLResponse:
        missing = render(
            "error.html",
            404,
            title="No such run",
            message=f"no run with id {run_id!r}",
            hint="the runs page lists every recorded run",
        )
        if not run_id.isdigit():
            return missing
        try:
            if not _run_exists(project, int(run_id)):
                return missing
            return render("run.html", **_run(project, int(run_id)))
        except HeadwaterError as exc:
            return failed(exc)

    @api.get("/ui/dataset", response_class=HTMLResponse, include_in_schema=False)
    def dataset(before: str | None = None) -> HTMLResponse:
        if before is not None and not before.isdigit():
            return render(
                "error.html",
                400,
                title="Bad page",
                message=f"before={before!r} is not a version number",
                hint="follow the links at the bottom of the dataset page",
            )
        try:
            return render("dataset.html", **_dataset(project, int(before) if before else None))
        except HeadwaterError as exc:
            return failed(exc)

    @api.get("/ui/models", response_class=HTMLResponse, include_in_schema=False)
    def models() -> HTMLResponse:
        try:
            return render("models.html", **_models(project, reports))
        except HeadwaterError as exc:
            return failed(exc)

    @api.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> fastapi.Response:
        path = assets.get(name)  # only the files shipped in serve/static, by name
        if path is None:
            return fastapi.Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    return api


def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every page shows user data: file, column and dataset names
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["when"] = _when
    return env


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _when(value: Any) -> str:
    """An ISO timestamp as people read it, to the second, in UTC."""
    if not value:
        return "–"
    try:
        t = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if t.tzinfo is not None else "")


# -- the pages' data ---------------------------------------------------------------------


def _brief(run: dict[str, Any]) -> list[str]:
    """What a run did and why, in the words of ``headwater show`` (its story without the
    first line, which says who started it where)."""
    from headwater._explain import story

    try:
        return story({"files": [], "version": None, **run})[1:]
    except (KeyError, TypeError, ValueError):  # an old or odd summary: say what is known
        log.debug("no story for run %s", run.get("id"), exc_info=True)
        return [str(run.get("note") or run.get("error") or "")]


def _overview(project: Project) -> dict[str, Any]:
    runs = project.records.runs(limit=LATEST)
    for r in runs:
        r["brief"] = _brief(r)
    info = project.models().info
    versions, _ = _versions_page(project, limit=1)
    return {
        "title": "Overview",
        "runs": runs,
        "production": info.get("production"),
        "has_models": bool(info.get("models")),
        "has_model_config": project.config.model is not None,
        "drift_unresolved": bool(info.get("drift_unresolved")),
        "last_check": _last_drift_check(project),
        "version": versions[0] if versions else None,
    }


def _timeline(project: Project, before: int | None) -> dict[str, Any]:
    rows = project.records.runs(limit=PAGE_SIZE + 1, before=before)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for r in rows:
        r["brief"] = _brief(r)
    return {
        "title": "Runs",
        "runs": rows,
        "before": before,
        "older": rows[-1]["id"] if more and rows else None,
    }


def _run_exists(project: Project, run_id: int) -> bool:
    import sqlalchemy as sa

    from headwater.records import schema as rs

    with project.records.read() as conn:
        stmt = sa.select(rs.runs.c.id).where(rs.runs.c.id == run_id)
        return conn.execute(stmt).first() is not None


def _run(project: Project, run_id: int) -> dict[str, Any]:
    run = project.run_record(run_id)
    return {
        "title": f"Run {run_id}",
        "run": run,
        "record_text": project.record_text(run_id),
        "summary_json": json.dumps(run.get("summary") or {}, indent=2, default=str),
    }


def _versions_page(
    project: Project, limit: int, before: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the dataset's versions, newest first, with their files, rejects and schema
    changes (``Project.versions()`` plus grouped counts over the page), and whether older
    versions exist."""
    import sqlalchemy as sa

    from headwater.records import schema as rs

    # one more than the page: it says whether there are older ones, and the oldest shown
    # is compared with it
    versions = project.versions(limit=limit + 1, before=before)
    more = len(versions) > limit
    name = project.config.dataset.name
    run_ids = [v["run_id"] for v in versions[:limit]]
    numbers = [v["version"] for v in versions[:limit]]
    with project.records.read() as conn:
        sf = rs.source_files.c
        files: dict[Any, Any] = {
            r[0]: r[1]
            for r in conn.execute(
                sa.select(sf.version, sa.func.count())
                .where(sf.dataset == name, sf.version.in_(numbers))
                .group_by(sf.version)
            )
        }
        rj = rs.rejects.c
        rejects: dict[Any, Any] = {
            r[0]: r[1]
            for r in conn.execute(
                sa.select(rj.run_id, sa.func.count())
                .where(rj.run_id.in_(run_ids))
                .group_by(rj.run_id)
            )
        }
        schemas = {v["version"]: v["schema"] for v in versions}
        parents = {v["parent"] for v in versions if v.get("parent")} - set(schemas)
        if parents:  # made from an older version (a rebuild, a rollback) off this page
            vc = rs.versions.c
            stmt = sa.select(vc.version, vc.schema).where(
                vc.dataset == name, vc.version.in_(sorted(parents))
            )
            schemas |= {r[0]: json.loads(r[1]) for r in conn.execute(stmt)}
    page = versions[:limit]
    for i, v in enumerate(page):
        v["columns"] = dict(v["schema"])  # pairs, in order
        v["files"] = int(files.get(v["version"], 0))
        v["rejects"] = int(rejects.get(v["run_id"], 0))
        older = versions[i + 1]["schema"] if i + 1 < len(versions) else None
        parent = schemas.get(v.get("parent"), older)
        v["schema_changes"] = _schema_changes(parent, v["schema"])
    return page, more


def _schema_changes(before: Any, after: Any) -> list[str]:
    new = dict(after or {})
    if before is None:
        return [f"{len(new)} column(s)"] if new else []
    old = dict(before)
    out = [f"+ {c} ({t})" for c, t in new.items() if c not in old]
    out += [f"− {c}" for c in old if c not in new]
    out += [f"{c}: {old[c]} → {t}" for c, t in new.items() if c in old and old[c] != t]
    return out


def _dataset(project: Project, before: int | None) -> dict[str, Any]:
    versions, more = _versions_page(project, PAGE_SIZE, before)
    return {
        "title": "Dataset",
        "dataset": project.config.dataset.name,
        "versions": versions,
        "count": project.version_count(),
        "before": before,
        "older": versions[-1]["version"] if more and versions else None,
    }


def _drift_checks(project: Project, limit: int) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from headwater.records import schema as rs

    with project.records.read() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(rs.drift_checks).order_by(rs.drift_checks.c.id.desc()).limit(limit)
            )
        ]
    for r in rows:
        r["data_drift"] = json.loads(r["data_drift"]) if r["data_drift"] else []
    return rows


def _last_drift_check(project: Project) -> dict[str, Any] | None:
    checks = _drift_checks(project, 1)
    return checks[0] if checks else None


def _feature_drift(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Drift per feature and method across checks (oldest first): a table's rows."""
    ordered = list(reversed(checks))
    rows: dict[tuple[str, str], list[dict[str, Any] | None]] = {}
    for i, c in enumerate(ordered):
        for d in c["data_drift"]:
            key = (str(d.get("feature")), str(d.get("method")))
            rows.setdefault(key, [None] * len(ordered))[i] = d
    return {
        "checks": ordered,
        "rows": [{"feature": f, "method": m, "cells": cells} for (f, m), cells in rows.items()],
    }


def _models(project: Project, reports: _ReportCache) -> dict[str, Any]:
    info = project.models().info
    models = sorted(info.get("models", []), key=lambda m: m["version"])
    history = sorted(info.get("history", []), key=lambda h: h["id"])
    checks = _drift_checks(project, 500)  # the score history: a few per day at most
    return {
        "title": "Models",
        "models": list(reversed(models)),
        "history": list(reversed(history)),
        "production": info.get("production"),
        "production_version": info.get("production_version"),
        "drift_unresolved": bool(info.get("drift_unresolved")),
        "has_model_config": project.config.model is not None,
        "chart": _score_chart(models, history, list(reversed(checks))),
        "drift": _feature_drift(checks[:DRIFT_CHECKS]),
        "report": reports.get(info.get("production_version")),
    }


# -- the score history chart ---------------------------------------------------------------

_W, _H = 720, 260
_L, _R, _T, _B = 56, 16, 16, 40


def _seconds(value: Any) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(value)).timestamp()
    except (TypeError, ValueError):
        return None


def _score_chart(
    models: list[dict[str, Any]], history: list[dict[str, Any]], checks: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Geometry of the score-history chart over time: each model's test score when it was
    trained (rings), production's score on each checked batch (dots joined by a line) and
    the production periods (bands, from the promotions and rollbacks)."""
    scored = [m for m in models if m.get("score") is not None and _seconds(m["created"])]
    batches = [c for c in checks if c.get("score") is not None and _seconds(c["at"])]
    if not scored and not batches:
        return None
    periods: list[dict[str, Any]] = []
    for h in history:
        if h["action"] in ("promote", "rollback") and h.get("to_version") is not None:
            t = _seconds(h["at"])
            if t is not None:
                periods.append({"version": h["to_version"], "start": t, "action": h["action"]})
    times = [_seconds(m["created"]) for m in scored] + [_seconds(c["at"]) for c in batches]
    times += [p["start"] for p in periods]
    t0, t1 = min(t for t in times if t is not None), max(t for t in times if t is not None)
    if t1 - t0 < 1e-9:
        t0, t1 = t0 - 1, t1 + 1
    values = [float(m["score"]) for m in scored] + [float(c["score"]) for c in batches]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or 0.05
    lo, hi = lo - pad, hi + pad
    width, height = _W - _L - _R, _H - _T - _B

    def x(t: float) -> float:
        return round(_L + (t - t0) / (t1 - t0) * width, 1)

    def y(v: float) -> float:
        return round(_T + (hi - v) / (hi - lo) * height, 1)

    bands = []
    for i, p in enumerate(periods):
        end = periods[i + 1]["start"] if i + 1 < len(periods) else t1
        x0, x1 = x(p["start"]), x(end)
        bands.append(
            {
                "x": x0,
                "width": max(round(x1 - x0, 1), 2.0),
                "version": p["version"],
                "action": p["action"],
                "shade": i % 2,
            }
        )
    points = [
        {
            "x": x(_seconds(m["created"]) or t0),
            "y": y(float(m["score"])),
            "label": f"model v{m['version']} ({m['status']}): {m['metric']} "
            f"{float(m['score']):.4f} on its test rows",
            "version": m["version"],
        }
        for m in scored
    ]
    line = [
        {
            "x": x(_seconds(c["at"]) or t0),
            "y": y(float(c["score"])),
            "label": f"run {c['run_id']}: production v{c['model_version']} scored "
            f"{float(c['score']):.4f} on {c['rows']} new rows ({c['verdict']})",
            "drift": c["verdict"] == "drift",
        }
        for c in batches
    ]
    ticks = [lo + (hi - lo) * k / 4 for k in range(5)]
    metric = next((m["metric"] for m in scored), None) or next((c["metric"] for c in batches), "")
    return {
        "width": _W,
        "height": _H,
        "left": _L,
        "right": _W - _R,
        "top": _T,
        "bottom": _H - _B,
        "bands": bands,
        "points": points,
        "line": line,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in line),
        "yticks": [{"y": y(v), "label": f"{v:.3f}"} for v in ticks],
        "xticks": [
            {"x": _L, "label": _when(dt.datetime.fromtimestamp(t0, dt.UTC).isoformat())},
            {"x": _W - _R, "label": _when(dt.datetime.fromtimestamp(t1, dt.UTC).isoformat())},
        ],
        "metric": metric,
    }


# -- the production model on the test data -------------------------------------------------


class _ReportCache:
    """The production model's confusion matrix (classifier) or residuals (regressor) on
    the test data, computed once per production version and kept in memory (the model and
    the test rows of a version do not change). One computation at a time: the engine is
    shared by the app's threads."""

    def __init__(self, project: Project) -> None:
        from headwater.serve.shared import engine_lock

        self.project = project
        self.lock = engine_lock(project)  # the API's /scoring uses the same engine
        self.done: dict[int, dict[str, Any]] = {}

    def get(self, version: int | None) -> dict[str, Any] | None:
        if version is None or self.project.config.model is None:
            return None
        with self.lock:
            if version not in self.done:
                self.done = {version: self._compute(version)}  # only production's is kept
            return self.done[version]

    def _compute(self, version: int) -> dict[str, Any]:
        from headwater.errors import HeadwaterError

        try:
            return _test_report(self.project)
        except HeadwaterError as exc:
            log.warning("dashboard: no test report for model v%s: %s", version, exc)
            return {"error": str(exc)}
        except Exception as exc:  # a page must still load; the log has the traceback
            log.exception("dashboard: the test report of model v%s failed", version)
            return {"error": f"{type(exc).__name__}: {exc}"}


def _test_report(project: Project) -> dict[str, Any]:
    from headwater import predict
    from headwater.train import is_classifier, load_training_data, require_spec

    ws = project.workspace
    spec = require_spec(ws)
    version, model, row = predict.production(ws)
    features = json.loads(row["features"])
    with ws.engine_scope():
        frame = load_training_data(ws, spec).test
    data = frame[frame[spec.target].notna()]
    truth = data[spec.target].tolist()
    pred = model.predict(data[features]).tolist() if len(data) else []
    if is_classifier(model):
        labels = sorted(set(truth) | set(pred), key=str)
        index = {v: i for i, v in enumerate(labels)}
        matrix = [[0] * len(labels) for _ in labels]
        for t, p in zip(truth, pred, strict=True):
            matrix[index[t]][index[p]] += 1
        peak = max((n for r in matrix for n in r), default=0) or 1
        return {
            "kind": "confusion",
            "version": version,
            "rows": len(truth),
            "labels": [str(v) for v in labels],
            "matrix": [
                [{"n": n, "shade": round(0.1 + 0.9 * n / peak, 3)} for n in r] for r in matrix
            ],
            "correct": sum(matrix[i][i] for i in range(len(labels))),
        }
    return {"kind": "residuals", "version": version, **_residuals(truth, pred)}


def _residuals(truth: list[Any], pred: list[Any]) -> dict[str, Any]:
    pairs = [(float(p), float(t) - float(p)) for t, p in zip(truth, pred, strict=True)]
    step = max(1, len(pairs) // RESIDUAL_POINTS)
    shown = pairs[::step]
    w, h, left, top = 480, 260, 56, 12
    width, height = w - left - 12, h - top - 36
    if not shown:
        return {"rows": 0, "points": [], "width": w, "height": h}
    xs, ys = [p for p, _ in shown], [r for _, r in shown]
    x0, x1 = min(xs), max(xs)
    span = max(abs(v) for v in ys) or 1.0
    x1 = x1 if x1 > x0 else x0 + 1

    def sx(v: float) -> float:
        return round(left + (v - x0) / (x1 - x0) * width, 1)

    def sy(v: float) -> float:
        return round(top + (span - v) / (2 * span) * height, 1)

    return {
        "rows": len(pairs),
        "shown": len(shown),
        "width": w,
        "height": h,
        "left": left,
        "right": w - 12,
        "top": top,
        "bottom": top + height,
        "zero": sy(0.0),
        "points": [{"x": sx(p), "y": sy(r)} for p, r in shown],
        "xlabels": [{"x": left, "label": f"{x0:.3g}"}, {"x": w - 12, "label": f"{x1:.3g}"}],
        "ylabels": [
            {"y": sy(span), "label": f"{span:.3g}"},
            {"y": sy(-span), "label": f"{-span:.3g}"},
        ],
        "mae": sum(abs(r) for _, r in pairs) / len(pairs),
    }
