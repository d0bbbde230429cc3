"""``headwater records copy --to URL``: a project's records moved to another store (SQLite
to PostgreSQL or back), verified; the source is only read.

Every table of the schema is copied in foreign-key order, ids kept (runs, files, versions,
parts, rejects, comparisons, models, promotions, drift checks, …), in one transaction on
the target: a copy that fails leaves the target as it was. Then each table is counted and
checksummed on both sides (SHA-256 over its rows in primary-key order, values as text);
any difference is an error naming the table. PostgreSQL's id sequences are moved past the
copied ids, so the next run gets a fresh id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from headwater.errors import RecordsError
from headwater.records import schema as rs
from headwater.records.store import RecordStore

BATCH = 5_000


@dataclass
class CopyResult:
    source: str
    target: str
    schema: str | None = None  # the target's PostgreSQL schema
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # rows, checksum

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "schema": self.schema,
            "tables": self.tables,
        }


def copy_records(
    source: RecordStore, target_url: str, run_id: int | None = None, schema: str | None = None
) -> CopyResult:
    """Copy every row of ``source`` into the (new or empty) store at ``target_url`` (in
    its PostgreSQL ``schema``).

    ``run_id`` is the copying run (``running`` in the source while it copies): in the
    copy it is finished, so the new store does not hold a run no process will end."""
    from headwater.records import now_iso

    target = RecordStore(target_url, schema)  # created and migrated to the same revision
    result = CopyResult(source.url, target.url, schema)
    with source.read() as src, target.write() as dst:
        _refuse_if_not_empty(dst, target.url)
        for table in rs.metadata.sorted_tables:
            _copy_table(src, dst, table)
        if dst.dialect.name == "postgresql":
            _advance_sequences(dst)
        if run_id is not None:
            dst.execute(
                sa.update(rs.runs)
                .where(rs.runs.c.id == run_id)
                .values(
                    status="ok", finished=now_iso(), note=f"copied the records from {source.url}"
                )
            )
    with source.read() as src, target.read() as dst:
        for table in rs.metadata.sorted_tables:
            if table is rs.runs and run_id is not None:
                continue  # the copying run differs by design: checked apart, below
            here, there = _checksum(src, table), _checksum(dst, table)
            if here != there:
                raise RecordsError(
                    f"the copy of table {table.name!r} differs from the source "
                    f"({here[0]} rows vs {there[0]} copied)",
                    hint="the source is unchanged; empty the target and copy again",
                    table=table.name,
                )
            result.tables[table.name] = {"rows": here[0], "checksum": here[1]}
        if run_id is not None:
            old = src.execute(sa.select(sa.func.count()).select_from(rs.runs)).scalar()
            new = dst.execute(sa.select(sa.func.count()).select_from(rs.runs)).scalar()
            if old != new:
                raise RecordsError(
                    f"the copy of table 'runs' has {new} rows, the source {old}",
                    hint="the source is unchanged; empty the target and copy again",
                    table="runs",
                )
            result.tables["runs"] = {"rows": int(old or 0), "checksum": None}
    target.dispose()
    return result


def _refuse_if_not_empty(conn: sa.Connection, url: str) -> None:
    for table in rs.metadata.sorted_tables:
        if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
            raise RecordsError(
                f"the record store at {url!r} already holds records (table {table.name!r})",
                hint="copy into a new, empty database (or schema); nothing was written",
                table=table.name,
            )


def _copy_table(src: sa.Connection, dst: sa.Connection, table: sa.Table) -> None:
    order = list(table.primary_key.columns) or list(table.columns)
    # a table that refers to itself (runs.parent_id): parents first, by id order
    rows = src.execute(sa.select(table).order_by(*order)).mappings()
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(row))
        if len(batch) >= BATCH:
            dst.execute(sa.insert(table), batch)
            batch = []
    if batch:
        dst.execute(sa.insert(table), batch)


def _checksum(conn: sa.Connection, table: sa.Table) -> tuple[int, str]:
    order = list(table.primary_key.columns) or list(table.columns)
    h = hashlib.sha256()
    n = 0
    for row in conn.execute(sa.select(table).order_by(*order)):
        h.update(repr(tuple(_plain(v) for v in row)).encode())
        n += 1
    return n, h.hexdigest()


def _plain(value: Any) -> Any:
    """Values as both databases give them back (floats by repr, the rest as text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _advance_sequences(conn: sa.Connection) -> None:
    for table in rs.metadata.sorted_tables:
        for col in table.primary_key.columns:
            if col.autoincrement is True or (
                col.autoincrement == "auto" and isinstance(col.type, sa.Integer)
            ):
                seq = conn.execute(
                    sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": col.name},
                ).scalar()
                if seq:
                    conn.execute(
                        sa.text(
                            f"SELECT setval('{seq}', COALESCE((SELECT max({col.name}) "
                            f"FROM {table.name}), 0) + 1, false)"
                        )
                    )
