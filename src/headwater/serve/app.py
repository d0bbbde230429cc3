"""The prediction API of ``headwater serve`` (FastAPI), over one opened project.

Reads answer from the records as they are when the request comes (a scheduled run in
another process changes them); predictions come from the model the holder serves
(:mod:`headwater.serve.holder`: reloaded in the background when the pointer moves). The
two writes are guarded by a bearer token and never run a job inside the server: ``POST
/runs`` starts ``headwater run`` as its own process, ``POST /rollback`` moves the pointer
under the project lock. Errors map to HTTP statuses in one place (:data:`STATUSES`).
"""

from __future__ import annotations

import hmac
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastapi  # only the server imports this module: `headwater` itself starts without it
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from headwater.errors import (
    ConfigError,
    HeadwaterError,
    LockError,
    ProjectError,
    RecordsError,
    RegistryError,
    TrainError,
)
from headwater.serve import schemas, shared
from headwater.serve.holder import ModelHolder
from headwater.serve.rows import BadRows, TooLarge, check_size, frame, rows_from_csv

if TYPE_CHECKING:
    from headwater.config import ServeConfig
    from headwater.project import Project

log = logging.getLogger(__name__)


class Unauthorized(HeadwaterError):
    """A write endpoint without a valid bearer token."""


class Forbidden(HeadwaterError):
    """A write endpoint while no token is configured."""


# the one place errors become statuses (the first class that matches); the body is
# {"error", "hint", ...}
STATUSES: list[tuple[type[HeadwaterError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (BadRows, 422),
    (TooLarge, 413),
    (LockError, 409),
    (TrainError, 422),  # rows the model cannot take
    (ProjectError, 404),  # an unknown run or version
    (RegistryError, 503),  # no model in production, or it cannot be loaded
    (RecordsError, 503),
    (ConfigError, 400),
]


def status_of(exc: HeadwaterError) -> int:
    for cls, status in STATUSES:
        if isinstance(exc, cls):
            return status
    return 500


@dataclass
class _Context:
    """What the routes of one app share."""

    project: Project
    cfg: ServeConfig
    holder: ModelHolder
    engine_lock: threading.Lock
    scored: dict[int, dict[str, Any]] = field(default_factory=dict)  # /scoring, per version
    errors: dict[int | str, dict[str, Any]] = field(
        default_factory=lambda: {
            s: {"model": schemas.ErrorBody} for s in (401, 403, 404, 409, 413, 422, 503)
        }
    )


def create_app(project: Project, settings: ServeConfig | None = None) -> fastapi.FastAPI:
    """The API over ``project`` (:func:`headwater.serve.server.build` adds the dashboard
    to the same app)."""
    from headwater._version import __version__

    cfg = settings or project.config.serve
    holder = ModelHolder(project.workspace, interval=cfg.reload_seconds)
    holder.check()  # the first load, before the first request
    app = fastapi.FastAPI(
        title="headwater",
        version=__version__,
        description="Predictions from the production model, and the project's records.",
    )
    app.state.holder = holder
    _error_handlers(app)
    c = _Context(project, cfg, holder, shared.engine_lock(project))
    _prediction_routes(app, c)
    _model_routes(app, c)
    _record_routes(app, c)
    _write_routes(app, c)
    return app


def _error_handlers(app: fastapi.FastAPI) -> None:
    """HeadwaterError → its status (:data:`STATUSES`); a bad parameter → 422; both with
    the body ``{"error", "hint", ...}``."""

    @app.exception_handler(HeadwaterError)
    async def _error(_request: fastapi.Request, exc: HeadwaterError) -> JSONResponse:
        status = status_of(exc)
        body: dict[str, Any] = {"error": str(exc), "hint": exc.hint}
        for key in ("row", "column", "value"):
            if key in exc.context:
                body[key] = exc.context[key]
        if status >= 500:
            log.warning("%s: %s", type(exc).__name__, exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: fastapi.Request, exc: RequestValidationError) -> JSONResponse:
        # a bad query parameter gets the same {"error", "hint"} body as every other error
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        body = {"error": "bad request: " + "; ".join(problems), "hint": "GET /docs shows what "
                "each endpoint takes"}  # fmt: skip
        return JSONResponse(body, status_code=422)


def _prediction_routes(app: fastapi.FastAPI, c: _Context) -> None:
    """POST /predict and /prediction."""
    cfg = c.cfg
    holder = c.holder
    errors = c.errors

    async def _rows(request: fastapi.Request) -> list[Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cfg.max_bytes:
            raise TooLarge(
                f"the request body has {int(declared):,} bytes, more than [serve] max_bytes "
                f"{cfg.max_bytes:,}",
                hint="send fewer rows per request, or raise [serve] max_bytes",
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cfg.max_bytes:
                raise TooLarge(
                    f"the request body is over [serve] max_bytes {cfg.max_bytes:,}",
                    hint="send fewer rows per request, or raise [serve] max_bytes",
                )
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("text/csv", "application/csv"):
            rows = rows_from_csv(bytes(body))
        else:
            rows = _json_rows(bytes(body))
        check_size(rows, cfg.max_rows)
        return rows

    def _predict(rows: list[Any], probabilities_wanted: bool) -> fastapi.Response:
        loaded = holder.serving()
        if loaded is None:
            raise RegistryError(_no_model(holder), hint="run `headwater train --deploy`")
        x = frame(rows, loaded)
        try:
            pred, proba = _predict_both(loaded.model, x, loaded.classifier and probabilities_wanted)
        except ValueError as exc:
            raise TrainError(
                f"model v{loaded.version} cannot predict on these rows: {exc}",
                hint="send the model's features with the types it was trained on",
            ) from exc
        probabilities = None
        if proba is not None:
            classes = [str(c) for c in loaded.model.classes_]
            # tolist() gives Python floats in one call, not one numpy scalar per cell
            probabilities = [dict(zip(classes, p, strict=True)) for p in proba.tolist()]
        # built as the response model's fields, trusted (they are ours, not the client's)
        # and serialized here: validating them again costs more than the model's predict
        out = schemas.Prediction.model_construct(
            model_version=loaded.version,
            predictions=pred.tolist(),
            probabilities=probabilities,
        )
        return fastapi.Response(out.model_dump_json(), media_type="application/json")

    predict_doc = {
        "requestBody": {
            "content": {
                "application/json": {"schema": schemas.PredictRequest.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    }

    async def predict(
        request: fastapi.Request,
        probabilities: bool = fastapi.Query(
            True,
            description="Per row, class → probability (classifiers). `false` leaves them "
            "out: a 1,000-row answer is ~20× smaller.",
        ),
    ) -> fastapi.Response:
        """Rows as JSON ``{"rows": [{column: value}, ...]}`` or a CSV body (``text/csv``)
        → one prediction per row, in order, with the model version that made them."""
        # CPU-bound under the GIL: in the event loop, one at a time, as fast as it gets
        # (a thread pool here only adds contention on a worker's one interpreter)
        return _predict(await _rows(request), probabilities)

    for path, summary in (
        ("/predict", "Predict with the production model"),
        ("/prediction", "As /predict (the classic project's name)"),
    ):
        app.add_api_route(
            path,
            predict,
            methods=["POST"],
            response_model=schemas.Prediction,
            responses=errors,
            openapi_extra=predict_doc,
            summary=summary,
            operation_id=path.strip("/"),
        )


def _model_routes(app: fastapi.FastAPI, c: _Context) -> None:
    """/health, /model, /scoring, /summarystats, /diagnostics."""
    project = c.project
    holder = c.holder
    engine_lock = c.engine_lock
    scored = c.scored
    errors = c.errors

    @app.get("/health", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
    def health() -> Any:
        """200 while a model serves (``degraded`` when a newer production model failed to
        load); 503 with the reason when none does."""
        loaded = holder.serving()
        failed = holder.failed
        if loaded is None:
            body = schemas.Health(
                status="unavailable",
                production_version=holder.pointer,
                reason=_no_model(holder),
            )
            return JSONResponse(body.model_dump(), status_code=503)
        if failed is not None:
            return schemas.Health(
                status="degraded",
                model_version=loaded.version,
                production_version=holder.pointer,
                reason=f"model v{failed.version} is in production but cannot be loaded "
                f"({failed.error}); v{loaded.version} still serves",
            )
        return schemas.Health(
            status="ok", model_version=loaded.version, production_version=holder.pointer
        )

    @app.get("/model", response_model=schemas.ModelInfo)
    def model() -> schemas.ModelInfo:
        """The production model: version, score, metric, data version, when it was
        promoted, and whether drift is left unresolved."""
        loaded = holder.serving()
        overview = project.models().to_dict()
        current = overview.get("production_version")
        row: dict[str, Any] = next(
            (m for m in overview.get("models", []) if m["version"] == current), {}
        )
        return schemas.ModelInfo(
            production_version=current,
            serving_version=loaded.version if loaded else None,
            metric=row.get("metric"),
            score=row.get("score"),
            test_rows=row.get("test_rows"),
            dataset_version=row.get("dataset_version"),
            estimator=row.get("estimator"),
            promoted_at=overview.get("production_since"),
            drift_unresolved=project.drift_unresolved() if current is not None else False,
        )

    @app.get("/scoring", response_model=schemas.Scoring, responses=errors)
    def scoring() -> schemas.Scoring:
        """The production model scored on the test data (cached per model version)."""
        with engine_lock:
            current = holder.pointer
            if current is None or current not in scored:
                result = project.score().to_dict()
                scored[result["model_version"]] = result
                current = result["model_version"]
            return schemas.Scoring(**scored[current])

    @app.get("/summarystats", response_model=schemas.SummaryStats, responses=errors)
    def summarystats() -> schemas.SummaryStats:
        """Per column of the current dataset version: type, missing share, and for
        numbers mean, median and standard deviation."""
        with engine_lock:
            d = project.diagnostics()
        return schemas.SummaryStats(
            dataset_version=d.get("dataset_version"), rows=d.get("rows", 0), columns=d["columns"]
        )

    @app.get("/diagnostics", response_model=schemas.Diagnostics, responses=errors)
    def diagnostics() -> schemas.Diagnostics:
        """Dataset statistics, run timings and library versions, from the records (no run
        is started, nothing is written)."""
        with engine_lock:
            return schemas.Diagnostics(**project.diagnostics())


def _record_routes(app: fastapi.FastAPI, c: _Context) -> None:
    """/runs, /runs/{id}, /datasets, /models: the records as JSON."""
    project = c.project
    errors = c.errors
    ws = c.project.workspace

    @app.get("/runs", response_model=schemas.RunsPage)
    def runs(
        limit: int = fastapi.Query(50, ge=1, le=500),
        before: int | None = fastapi.Query(None, ge=1, description="Runs older than this id."),
        kind: str | None = None,
    ) -> schemas.RunsPage:
        """The newest runs first, one page at a time."""
        page = _runs_page(ws, limit + 1, before, kind)
        more = len(page) > limit
        page = page[:limit]
        return schemas.RunsPage(runs=page, next_before=page[-1]["id"] if more else None)

    @app.get("/runs/{run_id}", response_model=schemas.Run, responses=errors)
    def run(run_id: int) -> Any:
        """Everything recorded about one run (as ``headwater show --format json``)."""
        return project.run_record(run_id)

    @app.get("/datasets", response_model=schemas.Versions)
    def datasets() -> schemas.Versions:
        """The dataset's versions, newest first."""
        return schemas.Versions(versions=project.versions())

    @app.get("/models", response_model=schemas.Models)
    def models() -> Any:
        """Every model version, the production pointer and its history."""
        return project.models().to_dict()


def _write_routes(app: fastapi.FastAPI, c: _Context) -> None:
    """POST /runs and /rollback, behind the bearer token."""
    project = c.project
    cfg = c.cfg
    holder = c.holder
    errors = c.errors

    def _authorized(request: fastapi.Request) -> None:
        name = cfg.token_env
        expected = os.environ.get(name, "") if name else ""
        if not expected:
            why = (
                "no [serve] token_env is configured"
                if not name
                else f"the environment variable {name} is not set"
            )
            raise Forbidden(
                f"this endpoint is disabled: {why}",
                hint="set [serve] token_env to the name of a variable holding a token, and "
                "start the server with it set",
            )
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            raise Unauthorized(
                "a valid bearer token is required",
                hint="send `Authorization: Bearer <token>`",
            )

    @app.post("/runs", status_code=202, response_model=schemas.Started, responses=errors)
    def start_run(request: fastapi.Request) -> schemas.Started:
        """Start ``headwater run`` as its own process: 202 with its run id once it has
        the lock, 409 when another run holds it (the refused run is recorded skipped)."""
        _authorized(request)
        return _start_run(project)

    @app.post("/rollback", response_model=schemas.RolledBack, responses=errors)
    def rollback(request: fastapi.Request) -> Any:
        """Move production back to the version before the current one."""
        _authorized(request)
        result = project.rollback().to_dict()
        holder.check()  # serve the rolled-back model from the next request on
        return result


def _predict_both(model: Any, x: Any, proba: bool) -> tuple[Any, Any]:
    """``model.predict(x)`` and, for a classifier, ``predict_proba(x)``; a Pipeline's
    preprocessing runs once for both (exactly what Pipeline.predict does, step by step)."""
    from sklearn.pipeline import Pipeline

    final = model
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        x, final = model[:-1].transform(x), model.steps[-1][1]
    return final.predict(x), (final.predict_proba(x) if proba else None)


def _json_rows(body: bytes) -> list[Any]:
    import json

    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BadRows(
            f"the body is not JSON ({exc})",
            hint='send {"rows": [...]} as application/json, or a CSV body as text/csv',
        ) from None
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise BadRows(
            'the body has no "rows" list',
            hint='send {"rows": [{"column": value, ...}, ...]}',
        )
    return rows


def _no_model(holder: ModelHolder) -> str:
    failed = holder.failed
    if failed is not None:
        return f"model v{failed.version} is in production but cannot be loaded: {failed.error}"
    return "no model is in production"


def _runs_page(ws: Any, limit: int, before: int | None, kind: str | None) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from headwater.records import run_dict
    from headwater.records import schema as rs

    c = rs.runs.c
    query = sa.select(rs.runs).order_by(c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(c.id < before)
    if kind:
        query = query.where(c.kind == kind)
    with ws.records.read() as conn:
        return [run_dict(r._mapping) for r in conn.execute(query)]


RUN_WAIT = 30.0  # seconds POST /runs waits for the child's run to be recorded


def _start_run(project: Project) -> schemas.Started:
    """``headwater run`` as a child process; its run id from the records (the row it
    starts carries its pid)."""
    import sqlalchemy as sa

    from headwater.records import schema as rs

    ws = project.workspace
    logs = ws.config.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / "server-runs.log"
    env = {**os.environ, "HEADWATER_TRIGGER": "server", "COLUMNS": "120"}
    env.pop("HEADWATER_SCHEDULE_ENTRY", None)
    token_env = ws.config.serve.token_env
    if token_env:
        env.pop(token_env, None)  # the run has no use for the server's token
    with open(log_file, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "headwater", "-p", str(ws.root), "run"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ws.root,
            start_new_session=True,  # a server restart does not take the run with it
        )
    threading.Thread(target=child.wait, daemon=True).start()  # reaped when it ends
    c = rs.runs.c
    deadline = time.monotonic() + RUN_WAIT
    while time.monotonic() < deadline:
        with ws.records.read() as conn:
            row = conn.execute(
                sa.select(c.id, c.status, c.note)
                .where(c.pid == child.pid, c.kind == "run", c.parent_id.is_(None))
                .order_by(c.id.desc())
            ).first()
        if row is not None:
            if row.status == "skipped":
                raise LockError(
                    row.note or "another run holds the project lock",
                    hint="wait for it to finish (GET /runs shows it), then try again",
                    run_id=row.id,
                )
            return schemas.Started(run_id=row.id, status=row.status, log=str(log_file))
        if child.poll() is not None:
            break
        time.sleep(0.05)
    raise RecordsError(
        f"`headwater run` (pid {child.pid}) recorded no run"
        + (f" and exited {child.returncode}" if child.returncode is not None else ""),
        hint=f"its output is in {Path(log_file)}",
    )
