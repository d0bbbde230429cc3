"""headwater: keep a production ML model fed with fresh, clean, versioned data.

The public API is what ``__all__`` lists; everything else is internal. Importing
``headwater`` is cheap: Ibis, DuckDB and pandas load only when a job needs them.
"""

from headwater._version import __version__
from headwater.compare import ColumnComparison, Comparison, compare
from headwater.config import Config, load_config
from headwater.errors import (
    CompareError,
    ConfigError,
    EngineError,
    HeadwaterError,
    IngestError,
    LockError,
    ProjectError,
    PublishError,
    RecordsError,
    RegistryError,
    ScheduleError,
    SourceError,
    StorageError,
    TrainError,
    ValidationError,
)
from headwater.project import Project, Run

__all__ = [
    "ColumnComparison",
    "CompareError",
    "Comparison",
    "Config",
    "ConfigError",
    "EngineError",
    "HeadwaterError",
    "IngestError",
    "LockError",
    "Project",
    "ProjectError",
    "PublishError",
    "RecordsError",
    "RegistryError",
    "Run",
    "ScheduleError",
    "SourceError",
    "StorageError",
    "TrainError",
    "ValidationError",
    "__version__",
    "compare",
    "load_config",
]
