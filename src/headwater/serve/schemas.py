"""The API's response models (the OpenAPI schema documents each endpoint with one)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    """A record as the CLI's ``--format json`` gives it: the fields named here, and more."""

    model_config = ConfigDict(extra="allow")


class PredictRequest(BaseModel):
    rows: list[Any] = Field(description="One object per row: column name → value.")


class Prediction(BaseModel):
    model_version: int
    predictions: list[Any] = Field(description="One per row, in the request's order.")
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="Per row, class → probability (classifiers only)."
    )


class ErrorBody(BaseModel):
    error: str
    hint: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None


class ModelInfo(BaseModel):
    production_version: int | None
    serving_version: int | None
    metric: str | None = None
    score: float | None = None
    test_rows: int | None = None
    dataset_version: int | None = None
    estimator: str | None = None
    promoted_at: str | None = None
    drift_unresolved: bool = False


class Health(BaseModel):
    status: str = Field(description="ok, degraded (a newer model failed to load) or unavailable.")
    model_version: int | None = None
    production_version: int | None = None
    reason: str | None = None


class RunsPage(BaseModel):
    runs: list[dict[str, Any]]
    next_before: int | None = Field(
        default=None, description="Pass as ?before= for the next (older) page; null at the end."
    )


class Run(_Open):
    id: int
    kind: str
    status: str


class Versions(BaseModel):
    versions: list[dict[str, Any]]


class Models(_Open):
    production_version: int | None = None
    models: list[dict[str, Any]] = []


class Scoring(_Open):
    model_version: int
    metric: str
    score: float
    test_rows: int


class Diagnostics(_Open):
    dataset: str


class SummaryStats(BaseModel):
    dataset_version: int | None
    rows: int
    columns: dict[str, dict[str, Any]]


class Started(BaseModel):
    run_id: int
    status: str
    log: str


class RolledBack(_Open):
    from_version: int
    production_version: int
    run_id: int
