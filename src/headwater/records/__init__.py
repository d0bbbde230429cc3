"""The record store: every run, file, version and reject is a row (DESIGN.md decision 3).

Importing this package is light: SQLAlchemy loads with :class:`RecordStore`, on first use.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

HEAD_REVISION = "0004"

if TYPE_CHECKING:
    from headwater.records.store import RecordStore


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


def __getattr__(name: str) -> Any:
    if name == "RecordStore":
        from headwater.records.store import RecordStore

        return RecordStore
    raise AttributeError(f"module 'headwater.records' has no attribute {name!r}")


__all__ = ["HEAD_REVISION", "RecordStore", "now_iso", "run_dict"]
