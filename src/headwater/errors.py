"""Every error headwater raises on purpose.

The tree::

    HeadwaterError                 root; ``exit_code`` tells the CLI what to return
    ├── ConfigError                headwater.toml or a flag is wrong (names key, value, fix)
    ├── ProjectError               no project here, unknown run id, unknown version …
    ├── LockError                  another writer holds the project lock
    ├── RecordsError               the record store cannot be opened or migrated
    ├── SourceError                a source path or URL cannot be listed or read
    ├── IngestError                an ingest run failed (``run_id`` says which)
    │   └── ValidationError        rows failed validation and ``--strict`` was given
    ├── PublishError               a dataset version could not be committed (parent moved)
    ├── CompareError               a comparison could not be run
    ├── TrainError                 fitting or evaluating a model failed
    ├── RegistryError              a model version is missing, tampered or refused
    ├── ScheduleError              a cron expression or crontab change failed
    └── EngineError                the compute engine (DuckDB, Spark) failed or is missing

Every error carries its context as attributes (``run_id``, ``path``, ``key`` …) as well as
in its message, and a ``hint`` saying what to do. ``transient`` marks errors that a retry
may fix (a busy lock, a moved parent version), so a scheduler can tell them apart.
"""

from __future__ import annotations

from typing import Any


class HeadwaterError(Exception):
    """Root of every error headwater raises on purpose."""

    exit_code: int = 2
    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = context
        for name, value in context.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return self.message


class ConfigError(HeadwaterError):
    """headwater.toml, an environment override or a flag has a bad value."""


class ProjectError(HeadwaterError):
    """No project where one was expected, or an unknown run, file or version."""


class LockError(HeadwaterError):
    """Another writer holds the project lock."""

    transient = True


class RecordsError(HeadwaterError):
    """The record store cannot be opened, migrated or written."""


class SourceError(HeadwaterError):
    """A source path or URL cannot be listed or read."""


class IngestError(HeadwaterError):
    """An ingest run failed; nothing was published."""

    exit_code = 1


class ValidationError(IngestError):
    """Rows or files were refused and the run was strict."""


class PublishError(HeadwaterError):
    """A dataset version could not be committed because its parent moved."""

    transient = True
    exit_code = 1


class CompareError(HeadwaterError):
    """A comparison could not be run."""


class TrainError(HeadwaterError):
    """Fitting or evaluating a model failed."""

    exit_code = 1


class RegistryError(HeadwaterError):
    """A model version is missing, tampered with, or refused by the gate."""


class ScheduleError(HeadwaterError):
    """A cron expression or a crontab change failed."""


class EngineError(HeadwaterError):
    """The compute engine failed, or its optional dependency is not installed."""


__all__ = [
    "CompareError",
    "ConfigError",
    "EngineError",
    "HeadwaterError",
    "IngestError",
    "LockError",
    "ProjectError",
    "PublishError",
    "RecordsError",
    "RegistryError",
    "ScheduleError",
    "SourceError",
    "TrainError",
    "ValidationError",
]
