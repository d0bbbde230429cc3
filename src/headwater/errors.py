"""Every error headwater raises on purpose.

The tree::

    HeadwaterError                 root; ``exit_code`` tells the CLI what to return
    ├── ConfigError                headwater.toml or a flag is wrong (names key, value, fix)
    ├── ProjectError               no project here, unknown run id, unknown version …
    ├── LockError                  another writer holds the project lock
    ├── RecordsError               the record store cannot be opened or migrated
    │   └── RecordsUnavailable     its database server cannot be reached, or went away
    ├── SourceError                a source path or URL cannot be listed or read
    ├── StorageError               the dataset's or models' store (an fsspec URL) failed
    ├── IngestError                an ingest run failed (``run_id`` says which)
    │   └── ValidationError        rows failed validation and ``--strict`` was given
    ├── PublishError               a dataset version could not be committed (parent moved)
    ├── CompareError               a comparison could not be run
    ├── TrainError                 fitting or evaluating a model failed
    ├── RegistryError              a model version is missing, tampered or refused
    ├── ScheduleError              a cron expression or crontab change failed
    ├── EngineError                the compute engine (DuckDB, Spark) failed or is missing
    └── OperatingError             the machine refused: disk full, permission, out of memory

Every error carries its context as attributes (``run_id``, ``path``, ``key`` …) as well as
in its message, and a ``hint`` saying what to do. ``transient`` marks errors that a retry
may fix (a busy lock, a moved parent version), so a scheduler can tell them apart.

:func:`operating_error` is the one place where an operating-system or engine failure of
the machine itself (a full disk, a refused write, the engine's memory limit) becomes an
:class:`OperatingError` instead of passing for a bug.
"""

from __future__ import annotations

import errno
import re
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


class RecordsUnavailable(RecordsError):
    """The record store's database server cannot be reached, or went away mid-run: the
    job failed (nothing was published) and a retry may succeed once it is back."""

    exit_code = 1
    transient = True


class SourceError(HeadwaterError):
    """A source path or URL cannot be listed or read."""


class StorageError(HeadwaterError):
    """The store behind a URL (``[dataset] path`` or ``[model] path`` as ``s3://…``)
    cannot be reached or refused an operation; ``url`` names it. The message never holds
    the store's credentials. The job failed (nothing was published); a retry may succeed
    once the store is back."""

    exit_code = 1
    transient = True


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


class OperatingError(HeadwaterError):
    """The machine refused: a full disk, a refused write, the engine's memory limit.

    Not bad input and not a bug: the run failed; the fix is on the machine (free space,
    permissions, ``[engine] memory_limit``). ``path`` or ``limit`` says where.
    """

    exit_code = 1


_SPACE = "free space on that disk (or raise the quota), then run again"
_OS_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", _SPACE),
    errno.EDQUOT: ("no space left: the disk quota is exceeded", _SPACE),
    errno.EFBIG: (
        "the file size limit was reached (the file is too large)",
        "raise the file size limit (`ulimit -f`) or free space, then run again",
    ),
    errno.EACCES: ("permission denied", "give the user running headwater write access to it"),
    errno.EPERM: ("permission denied", "give the user running headwater write access to it"),
    errno.EROFS: ("the file system is read-only", "put the project on a writable file system"),
}
# the same failures as DuckDB (and SQLite) word them: they carry no errno
_TEXTS = (
    ("no space left on device", errno.ENOSPC),
    ("database or disk is full", errno.ENOSPC),
    ("disk quota exceeded", errno.EDQUOT),
    ("file too large", errno.EFBIG),
    ("read-only file system", errno.EROFS),
    ("permission denied", errno.EACCES),
)


def operating_error(exc: BaseException, *, writing: bool = True) -> OperatingError | None:
    """``exc`` as an :class:`OperatingError` when the machine refused, else None.

    ``writing=False`` (reading a source file): only a full disk or the memory limit count
    (the engine spills while it reads); a source file that cannot be opened is that
    file's failure, not the run's.
    """
    if isinstance(exc, OperatingError):
        return exc
    if isinstance(exc, HeadwaterError):
        return None
    text = str(exc)
    low = text.lower()
    if type(exc).__name__ == "OutOfMemoryException" or "out of memory error" in low:
        first = text.splitlines()[0] if text else "out of memory"
        return OperatingError(
            f"the engine ran out of memory ({first})",
            hint="raise `[engine] memory_limit` in headwater.toml, or lower `[engine] threads`",
            limit="memory_limit",
        )
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None:
        code = next((c for words, c in _TEXTS if words in low), None)
    if code not in _OS_ERRORS or (not writing and code in (errno.EACCES, errno.EPERM)):
        return None
    what, hint = _OS_ERRORS[code]
    path = getattr(exc, "filename", None) if isinstance(exc, OSError) else None
    if path is None:  # DuckDB: Could not write file "<path>": No space left on device
        named = re.search(r'file \\?"(.+?)\\?"', text)
        path = named.group(1) if named else None
    where = f": {path!r}" if path else f" ({text.splitlines()[0]})" if text else ""
    return OperatingError(f"{what}{where}", hint=hint, path=path, errno=code)


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C as the engine reports it: DuckDB turns SIGINT during a
    query into an ordinary Exception (``RuntimeError("Query interrupted")`` from its Python
    client's signal check, ``InterruptException`` from an interrupted connection)."""
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":
        return True
    return isinstance(exc, RuntimeError) and str(exc).strip() == "Query interrupted"


def reraise_machine(exc: BaseException, *, writing: bool = True) -> None:
    """Raise ``KeyboardInterrupt`` or an :class:`OperatingError` (from ``exc``) when
    ``exc`` is an interrupt or the machine refusing; return otherwise. For the places
    that would take any exception for a bad file or a bug."""
    if interrupted(exc):
        raise KeyboardInterrupt from exc
    err = operating_error(exc, writing=writing)
    if err is not None and err is not exc:
        raise err from exc
    if err is not None:
        raise err


__all__ = [
    "CompareError",
    "ConfigError",
    "EngineError",
    "HeadwaterError",
    "IngestError",
    "LockError",
    "OperatingError",
    "ProjectError",
    "PublishError",
    "RecordsError",
    "RecordsUnavailable",
    "RegistryError",
    "ScheduleError",
    "SourceError",
    "TrainError",
    "ValidationError",
]
