"""Engines: connect, read files into a table, write a table out — nothing else.

The dataset logic (cleaning, typing, de-duplication, comparison) is Ibis expressions in
the stage modules, so it runs unchanged on every engine (DESIGN.md decision 1). Engines
load lazily; a missing optional dependency names the exact ``pip install`` to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import EngineError

if TYPE_CHECKING:
    from headwater.config import EngineConfig
    from headwater.engines.base import Engine


def connect(config: EngineConfig, project_root: Path) -> Engine:
    """Return a connected engine for ``[engine] name``."""
    if config.name == "duckdb":
        try:
            from headwater.engines._duckdb import DuckDBEngine
        except ImportError as exc:  # pragma: no cover - duckdb is a core dependency
            raise EngineError(
                f"the DuckDB engine cannot be imported: {exc}",
                hint="pip install 'ibis-framework[duckdb]'",
            ) from exc
        return DuckDBEngine(config, project_root)
    raise EngineError(
        f"engine {config.name!r} is not available in this version of headwater",
        hint='use [engine] name = "duckdb" (the only engine in this version)',
        engine=config.name,
    )


__all__ = ["connect"]
