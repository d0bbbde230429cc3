"""Engines: connect, read files into a table, write a table out — nothing else.

The dataset logic (cleaning, typing, de-duplication, comparison) is Ibis expressions in
the stage modules, so it runs unchanged on every engine (DESIGN.md decision 1). Engines
load lazily from one registry table; a missing optional dependency names the exact
``pip install`` to run.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import EngineError

if TYPE_CHECKING:
    from headwater.config import EngineConfig
    from headwater.engines.base import Engine


@dataclass(frozen=True)
class EngineEntry:
    """One engine: where it lives and what to install for it."""

    module: str
    cls: str
    install: str  # the pip command that brings its optional dependencies
    about: str


ENGINES: dict[str, EngineEntry] = {
    "duckdb": EngineEntry(
        "headwater.engines._duckdb",
        "DuckDBEngine",
        "pip install 'ibis-framework[duckdb]'",
        "embedded, multi-threaded, larger-than-memory data (the default)",
    ),
    "spark": EngineEntry(
        "headwater.engines._spark",
        "SparkEngine",
        "pip install 'headwater[spark]'",
        "a Spark session: local[*], a standalone cluster, YARN or Kubernetes",
    ),
}


def connect(config: EngineConfig, project_root: Path) -> Engine:
    """Return a connected engine for ``[engine] name``."""
    entry = ENGINES.get(config.name)
    if entry is None:
        raise EngineError(
            f"engine {config.name!r} is not available in this version of headwater",
            hint="use [engine] name = " + " or ".join(repr(n) for n in ENGINES),
            engine=config.name,
        )
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        raise EngineError(
            f"the {config.name} engine cannot be imported: {exc}",
            hint=entry.install,
            engine=config.name,
        ) from exc
    engine: Engine = getattr(module, entry.cls)(config, project_root)
    return engine


__all__ = ["ENGINES", "EngineEntry", "connect"]
