"""Read-only queries with the standard library's sqlite3, for commands that only read.

``headwater history`` must start fast; SQLAlchemy alone takes a third of that budget.
Used only for the default SQLite store at the current schema revision; anything else goes
through :class:`~headwater.records.store.RecordStore`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from headwater.records import HEAD_REVISION, run_dict


def _runs_query(limit: int | None, kind: str | None, mark: str) -> tuple[str, list[Any]]:
    """The newest runs' query, with the driver's parameter ``mark`` (? or %s)."""
    sql = "SELECT * FROM runs"
    args: list[Any] = []
    if kind:
        sql += f" WHERE kind = {mark}"
        args.append(kind)
    sql += " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {mark}"
        args.append(limit)
    return sql, args


def runs(db: Path, limit: int | None, kind: str | None) -> list[dict[str, Any]] | None:
    """The newest runs, or None when this fast path cannot answer (no file, old schema)."""
    if not db.is_file():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        con.row_factory = sqlite3.Row
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] != HEAD_REVISION:
            return None
        sql, args = _runs_query(limit, kind, "?")
        return [run_dict(row) for row in con.execute(sql, args)]
    except sqlite3.Error:
        return None
    finally:
        con.close()


def drift_unresolved(db: Path) -> bool | None:
    """:func:`headwater.monitor.drift_unresolved` for the production model, in SQL (keep the
    two alike), or None when this fast path cannot answer."""
    if not db.is_file():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] != HEAD_REVISION:
            return None
        prod = con.execute("SELECT version FROM production WHERE name = 'default'").fetchone()
        if prod is None or prod[0] is None:
            return False
        last = con.execute(_DRIFT_SQL).fetchone()
        return bool(last and last[0] == "rejected" and last[1] == prod[0])
    except sqlite3.Error:
        return None
    finally:
        con.close()


def _pg_options(schema: str | None) -> dict[str, Any]:
    return {} if schema is None else {"options": f"-c search_path={schema}"}


def runs_postgresql(
    url: str, limit: int | None, kind: str | None, schema: str | None = None
) -> list[dict[str, Any]] | None:
    """:func:`runs` on PostgreSQL with the driver alone (psycopg, no SQLAlchemy), or None
    when it cannot answer (another driver, no such table, an old revision); ``schema`` is
    the project's ``[records] schema``."""
    if not url.startswith(("postgresql+psycopg://", "postgresql://")):
        return None
    try:
        import psycopg
        from psycopg.rows import dict_row
    except ImportError:
        return None
    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        with psycopg.connect(
            conninfo, row_factory=dict_row, connect_timeout=10, **_pg_options(schema)
        ) as con:
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
            if revision is None or revision["version_num"] != HEAD_REVISION:
                return None
            sql, args = _runs_query(limit, kind, "%s")
            return [run_dict(row) for row in con.execute(sql, args)]
    except psycopg.Error:
        return None


_DRIFT_SQL = (
    "SELECT outcome, model_version FROM drift_checks "
    "WHERE verdict IN ('drift', 'no_drift', 'data_drift') ORDER BY id DESC LIMIT 1"
)


def drift_unresolved_postgresql(url: str, schema: str | None = None) -> bool | None:
    """:func:`drift_unresolved` on PostgreSQL with psycopg alone, or None."""
    if not url.startswith(("postgresql+psycopg://", "postgresql://")):
        return None
    try:
        import psycopg
    except ImportError:
        return None
    try:
        conninfo = "postgresql://" + url.split("://", 1)[1]
        with psycopg.connect(conninfo, connect_timeout=10, **_pg_options(schema)) as con:
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
            if revision is None or revision[0] != HEAD_REVISION:
                return None
            prod = con.execute("SELECT version FROM production WHERE name = 'default'").fetchone()
            if prod is None or prod[0] is None:
                return False
            last = con.execute(_DRIFT_SQL).fetchone()
            return bool(last and last[0] == "rejected" and last[1] == prod[0])
    except psycopg.Error:
        return None
