"""What an ingest did: the result object (the JSON ``headwater ingest`` prints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from headwater.ingest._plan import Plan
from headwater.sources import SourceFile

ProgressCallback = Callable[[str, int, int, str], None]
"""``progress(stage, done, total, detail)``: called as work advances."""


def no_progress(stage: str, done: int, total: int, detail: str) -> None:
    return None


@dataclass
class IngestResult:
    """What an ingest did (``--format json`` prints exactly this)."""

    run_id: int | None
    status: str
    files_new: int = 0
    files_changed: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    files_alias: int = 0
    files_deferred: int = 0
    files_missing: int = 0
    files_ignored: int = 0
    rows_read: int = 0
    rows_rejected: int = 0
    duplicates_dropped: int = 0
    rows_superseded: int = 0
    rows_stale: int = 0
    rows_added: int = 0
    rows_retracted: int = 0
    dataset: str = ""
    dataset_version: int | None = None
    dataset_rows: int = 0
    output: str = ""
    schema_changes: dict[str, Any] = field(default_factory=dict)
    source_errors: list[dict[str, Any]] = field(default_factory=list)
    orphans_removed: int = 0
    recovered_runs: list[int] = field(default_factory=list)
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    files: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_plan(result: IngestResult, plan: Plan) -> None:
    for sf in plan.files:
        attr = {
            "new": "files_new",
            "changed": "files_changed",
            "skipped": "files_skipped",
            "failed": "files_failed",
            "alias": "files_alias",
            "deferred": "files_deferred",
        }.get(sf.status)
        if attr:
            setattr(result, attr, getattr(result, attr) + 1)
    result.files_skipped += plan.unchanged
    result.files_missing = len(plan.missing)
    result.files_ignored = len(plan.ignored)
    result.source_errors = list(plan.source_errors)


def file_view(sf: SourceFile) -> dict[str, Any]:
    return {
        "path": sf.path,
        "status": sf.status,
        "reason": sf.reason,
        "size": sf.size,
        "hash": sf.hash,
        "format": sf.format,
        **sf.extra,
    }


def summary(result: IngestResult) -> dict[str, Any]:
    out = result.to_dict()
    out["files"] = out["files"][:200]  # the per-file rows live in source_files
    return out
