"""The record store: every run, file, version and reject is a row (DESIGN.md decision 3).

Importing this package is light: SQLAlchemy loads with
:class:`headwater.records.store.RecordStore`, which the workspace imports on first use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

HEAD_REVISION = "0006"


def now_iso() -> str:
    """Current UTC time as ISO 8601 with microseconds (sorts as text)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def run_dict(row: Any) -> dict[str, Any]:
    """A ``runs`` row as a dict, its JSON columns decoded (both readers use this)."""
    import json

    out = dict(row)
    for name in ("summary", "options"):
        out[name] = json.loads(out[name]) if out.get(name) else {}
    return out


__all__ = ["HEAD_REVISION", "now_iso", "run_dict"]
