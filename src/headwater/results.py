"""What the model jobs return: typed results with the JSON the CLI prints.

Each result is a dataclass; :meth:`to_dict` is the JSON contract of its command (``train``,
``deploy``, ``rollback``, ``score``, ``predict``, ``models``), unchanged from when these were
plain dicts. Reading a result like a mapping (``result["promoted"]``) still works, for
scripts written against the dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Result:
    """Mapping-style reads over :meth:`to_dict` (the older dict results)."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every result defines it
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self) -> Any:
        return self.to_dict().keys()


@dataclass
class GateResult(_Result):
    """The gate's verdict on a candidate: scores on the same test rows, and the pointer."""

    model_version: int
    metric: str
    score: float
    test_rows: int
    promoted: bool
    forced: bool
    forced_by: str | None
    production_score: float | None
    previous_production_version: int | None
    production_version: int | None
    tolerance: float
    min_score: float | None
    reason: str
    run_id: int | None = None
    # where the test rows came from (deploy; a train run says it itself)
    data: dict[str, Any] = field(default_factory=dict)
    # [deploy] gate_on = ["test", "new_rows"]: the verdict on the held-out new rows (rows,
    # score, production_score, passed, or skipped with the reason)
    new_rows: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.data,
            "model_version": self.model_version,
            "metric": self.metric,
            "score": self.score,
            "test_rows": self.test_rows,
            "promoted": self.promoted,
            "forced": self.forced,
            "forced_by": self.forced_by,
            "production_score": self.production_score,
            "previous_production_version": self.previous_production_version,
            "production_version": self.production_version,
            "tolerance": self.tolerance,
            "min_score": self.min_score,
            "reason": self.reason,
            "run_id": self.run_id,
            **({"new_rows": self.new_rows} if self.new_rows is not None else {}),
        }


DeployResult = GateResult


@dataclass
class TrainResult(_Result):
    """A candidate fitted and scored (and, with ``deploy``, the gate's verdict on it)."""

    model_version: int
    metric: str
    score: float
    test_rows: int
    train_rows: int
    dataset_version: int | None
    production_version: int | None
    location: str
    report: str | None
    seconds: float
    dataset: str
    estimator: str
    dataset_rows: int | None
    test_data: str
    run_id: int | None = None
    gate: GateResult | None = None

    @property
    def promoted(self) -> bool:
        return bool(self.gate and self.gate.promoted)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "model_version": self.model_version,
            "metric": self.metric,
            "score": self.score,
            "test_rows": self.test_rows,
            "train_rows": self.train_rows,
            "dataset_version": self.dataset_version,
            "promoted": False,
            "production_version": self.production_version,
            "location": self.location,
            "report": self.report,
            "seconds": self.seconds,
            "dataset": self.dataset,
            "estimator": self.estimator,
            "dataset_rows": self.dataset_rows,
            "test_data": self.test_data,
            "run_id": self.run_id,
        }
        return {**out, **self.gate.to_dict()} if self.gate is not None else out


@dataclass
class RollbackResult(_Result):
    from_version: int | None
    production_version: int
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_version": self.from_version,
            "production_version": self.production_version,
            "model_version": self.production_version,
            "run_id": self.run_id,
        }


@dataclass
class ScoreResult(_Result):
    """Production scored on the test data (or given data); nothing recorded or written
    unless a plot was asked for."""

    model_version: int
    metric: str
    score: float
    test_rows: int
    data: str
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "production_version": self.model_version,
            "metric": self.metric,
            "score": self.score,
            "test_rows": self.test_rows,
            "data": self.data,
            "report": self.report,
        }


@dataclass
class PredictResult(_Result):
    model_version: int
    rows: int
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "production_version": self.model_version,
            "rows": self.rows,
            "output": self.output,
        }


@dataclass
class ModelsOverview(_Result):
    """Every model version, the production pointer and its history (a read: writes nothing).

    ``info`` is the registry's listing as the JSON has always carried it; the newest model's
    fields are kept at the top level for compatibility (``newest_*`` / ``production_*``
    name which is which)."""

    info: dict[str, Any]

    @property
    def models(self) -> list[dict[str, Any]]:
        return list(self.info.get("models", []))

    @property
    def production_version(self) -> int | None:
        return self.info.get("production_version")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.info)


__all__ = [
    "DeployResult",
    "GateResult",
    "ModelsOverview",
    "PredictResult",
    "RollbackResult",
    "ScoreResult",
    "TrainResult",
]


@dataclass
class LoopResult(_Result):
    """One pass of the loop (``headwater run``): what came in, what the checks found, what
    was done about it. ``status`` is the outcome (README, "headwater run", for the exit
    codes)."""

    run_id: int | None
    status: str  # no_new_data, no_drift, insufficient_data, deployed, rejected, failed, partial
    reason: str = ""
    files_new: int = 0  # new and changed files ingested
    rows_added: int = 0
    ingest_run_id: int | None = None
    rows_checked: int = 0  # the rows the checks read (added since the last check)
    drift: dict[str, Any] | None = None  # model drift: test, score, baseline, detected, rows
    data_drift: dict[str, dict[str, Any]] = field(default_factory=dict)  # per feature
    candidate: dict[str, Any] | None = None  # model_version, score, promoted (when trained)
    production_version: int | None = None
    drift_unresolved: bool = False
    warnings: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    plan: dict[str, Any] = field(default_factory=dict)  # with dry_run: what a run would do
    notifications: list[dict[str, Any]] = field(default_factory=list)  # [notify]: what was sent
    # where it stopped short: the step that failed (discover, ingest, score, drift, train,
    # gate) or the gate that refused the candidate; None when it went through
    step: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "files_new": self.files_new,
            "rows_added": self.rows_added,
            "ingest_run_id": self.ingest_run_id,
            "rows_checked": self.rows_checked,
            "drift": self.drift,
            "data_drift": self.data_drift,
            "candidate": self.candidate,
            "production_version": self.production_version,
            "drift_unresolved": self.drift_unresolved,
            "warnings": self.warnings,
            "step": self.step,
            "dry_run": self.dry_run,
            "notifications": self.notifications,
            **({"plan": self.plan} if self.dry_run else {}),
        }
