"""Using the production model: score it (on the test data or a file) and predict. Reads
only: nothing in the project changes (``score --plot`` writes a plot beside the model)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import RegistryError, TrainError
from headwater.progress import reporter, step
from headwater.results import PredictResult, ScoreResult

if TYPE_CHECKING:
    import pandas as pd

    from headwater.config import ModelConfig
    from headwater.progress import ProgressCallback
    from headwater.workspace import Workspace


def production(project: Workspace) -> tuple[int, Any, dict[str, Any]]:
    """The production version, its model (loaded and checked) and its registry row."""
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
    from headwater.train import (
        load_training_data,
        numeric_features,
        read_frame,
        require_spec,
        score,
    )

    spec = require_spec(project)
    stage = reporter(None, progress)
    with step(stage, "load", "the production model"):
        version, model, row = production(project)
    features = json.loads(row["features"])
    with step(stage, "read", data or "the test data"):
        if data:
            numeric = numeric_features(row["card"], features)
            frame = read_frame(project, data, [*features, spec.target], numeric=numeric)
            label = Path(data).stem or "data"
        else:
            frame = load_training_data(project, spec).test
            label = "test"
    with step(stage, "score", f"{row['metric']} of model v{version}"):
        value = score(model, frame, features, spec.target, row["metric"])
    report = None
    if plot:
        with step(stage, "report", "plotting"):
            report = report_plot(project, version, model, frame, spec, features, label)
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
    stage = reporter(None, progress)
    with step(stage, "load", "the production model"):
        version, model, row = production(project)
    features = json.loads(row["features"])
    with step(stage, "read", data):
        numeric = numeric_features(row["card"], features)  # text there: an error, named
        frame = read_frame(project, data, features, keep_all=True, numeric=numeric)
    with step(stage, "predict", f"{len(frame):,} rows with model v{version}"):
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
    with step(stage, "write", str(target)):
        table = pa.Table.from_pandas(out, preserve_index=False)
        write_atomically(target, lambda tmp: pacsv.write_csv(table, tmp))
    return PredictResult(model_version=version, rows=len(out), output=str(target))


def report_plot(
    project: Workspace,
    version: int,
    model: Any,
    frame: pd.DataFrame,
    spec: ModelConfig,
    features: list[str],
    label: str,
) -> str:
    from headwater import plots, registry
    from headwater.train import is_classifier

    data = frame[frame[spec.target].notna()]
    pred = model.predict(data[features])
    folder = registry.version_dir(project, version)
    if is_classifier(model):
        labels = sorted(set(data[spec.target].tolist()) | set(pred.tolist()))
        png = plots.confusion_matrix_png(
            data[spec.target], pred, labels, f"model v{version} on {label}"
        )
        return registry.write_bytes(project, folder, f"confusion_matrix_{label}.png", png)
    png = plots.residuals_png(
        data[spec.target].tolist(), pred.tolist(), f"model v{version} on {label}"
    )
    return registry.write_bytes(project, folder, f"residuals_{label}.png", png)
