"""The versioned dataset: parts, retractions, versions and manifests (DESIGN.md decision 4).

A version is the set of row parts of its line up to it, minus the rows retracted by the
line up to it. Parts and retraction files are immutable, uniquely named and written in
their final place before the version is committed in one record-store transaction that
compares-and-swaps the parent. A manifest (``versions/vNNNNNN.json``) is written beside
the parts after the commit — generated from the rows — so the data can be read without the
database; a missing manifest is rewritten by the next writer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater.config import IBIS_TYPES
from headwater.errors import ConfigError, ProjectError, PublishError
from headwater.records import now_iso
from headwater.records import schema as rs

if TYPE_CHECKING:
    import ibis
    import pyarrow as pa

    from headwater.engines.base import Engine
    from headwater.workspace import Workspace

PROVENANCE = ("_hw_file", "_hw_record", "_hw_run", "_hw_fp_hi", "_hw_fp_lo")
ROW_ID = ("_hw_file", "_hw_record")


@dataclass
class DatasetState:
    """The dataset's current pointer as the record store has it."""

    name: str
    version: int | None
    line: int
    schema: dict[str, str]
    rows: int


def state(conn: sa.Connection, name: str) -> DatasetState:
    row = conn.execute(sa.select(rs.datasets).where(rs.datasets.c.name == name)).first()
    if row is None:
        return DatasetState(name, None, 1, {}, 0)
    m = row._mapping
    rows = 0
    if m["current_version"] is not None:
        rows = conn.execute(
            sa.select(rs.versions.c.rows).where(
                rs.versions.c.dataset == name, rs.versions.c.version == m["current_version"]
            )
        ).scalar_one()
    return DatasetState(
        name=name,
        version=m["current_version"],
        line=m["current_line"],
        schema=dict(json.loads(m["schema"])) if m["schema"] else {},
        rows=rows,
    )


def check_key(conn: sa.Connection, name: str, state: DatasetState, key: list[str]) -> None:
    """Refuse to add to a version line built with another ``key`` (ConfigError).

    A line's rows were de-duplicated (append mode) or upserted by the key in force when
    they came in; adding rows under another key would mix the two rules in one version
    (rows unique by neither key, retractions chosen by the new one). The key of a version
    is in its lineage; versions without one are not checked."""
    if state.version is None:
        return
    lineage = conn.execute(
        sa.select(rs.versions.c.lineage).where(
            rs.versions.c.dataset == name, rs.versions.c.version == state.version
        )
    ).scalar_one_or_none()
    built = json.loads(lineage).get("key") if lineage else None
    if built is None or list(built) == list(key):
        return

    def shown(k: list[str]) -> str:
        return f"key = {json.dumps(list(k))}" if k else "no key (append mode)"

    back = f"dataset.key = {json.dumps(list(built))}" if built else "no dataset.key"
    raise ConfigError(
        f"dataset {name!r} is configured with {shown(key)}, but its version line "
        f"{state.line} (version {state.version}) was built with {shown(built)}",
        hint="run `headwater ingest --rebuild` to rebuild it under the new key (a new version "
        f"line; earlier versions stay readable), or go back to {back}",
        key="dataset.key",
    )


def _parts(conn: sa.Connection, name: str, line: int, version: int | None, kind: str) -> list[str]:
    if version is None:
        return []
    stmt = (
        sa.select(rs.parts.c.path)
        .where(
            rs.parts.c.dataset == name,
            rs.parts.c.line == line,
            rs.parts.c.version <= version,
            rs.parts.c.kind == kind,
        )
        .order_by(rs.parts.c.id)
    )
    return [r[0] for r in conn.execute(stmt)]


def line_parts(
    conn: sa.Connection, name: str, line: int, version: int | None
) -> tuple[list[str], list[str]]:
    """(row parts, retraction parts) that make up ``version`` of a version line."""
    return _parts(conn, name, line, version, "rows"), _parts(
        conn, name, line, version, "retractions"
    )


def version_parts(
    conn: sa.Connection, name: str, version: int | None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """A version's record and its (row parts, retraction parts); ``None``: the current one."""
    v = version_row(conn, name, version)
    return (v, *line_parts(conn, name, v["line"], v["version"]))


def live_rows(
    engine: Engine,
    dataset_dir: str,
    row_parts: list[str],
    retraction_parts: list[str],
    columns: list[str] | None = None,
) -> ibis.Table | None:
    """The rows of a version: its row parts minus its retractions (None if no parts)."""
    if not row_parts:
        return None
    _check_parts(dataset_dir, [*row_parts, *retraction_parts])
    cols = None if columns is None else list(dict.fromkeys([*columns, *ROW_ID]))
    rows = engine.read_parquet([_abs(dataset_dir, p) for p in row_parts], cols)
    if retraction_parts:
        gone = engine.read_parquet([_abs(dataset_dir, p) for p in retraction_parts], list(ROW_ID))
        rows = rows.anti_join(gone, list(ROW_ID))
    return rows


def _check_parts(dataset_dir: str, parts: list[str]) -> None:
    """ProjectError if a local part file of a version is gone (deleted or moved by hand):
    the engine would only say that no file matches a pattern."""
    full = {p: _abs(dataset_dir, p) for p in parts}
    missing = [p for p, f in full.items() if "://" not in f and not os.path.exists(f)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ProjectError(
            f"the dataset file {missing[0]!r}{more} is missing from {dataset_dir!r}: the "
            "version's rows cannot be read",
            hint="restore the dataset folder from a backup (its manifests list every file), "
            "or rebuild the dataset from the sources with `headwater ingest --rebuild`",
        )


def _abs(dataset_dir: str, rel: str) -> str:
    return rel if os.path.isabs(rel) or "://" in rel else os.path.join(dataset_dir, rel)


def version_row(conn: sa.Connection, name: str, version: int | None) -> dict[str, Any]:
    """The record of a version (``None``: the current one); ProjectError if there is none."""
    if version is None:
        st = state(conn, name)
        if st.version is None:
            raise ProjectError(
                f"dataset {name!r} has no version yet",
                hint="run `headwater ingest` first",
                dataset=name,
            )
        version = st.version
    row = conn.execute(
        sa.select(rs.versions).where(
            rs.versions.c.dataset == name, rs.versions.c.version == version
        )
    ).first()
    if row is None:
        raise ProjectError(
            f"dataset {name!r} has no version {version!r}",
            hint="`headwater versions` lists the versions",
            dataset=name,
            version=version,
        )
    return dict(row._mapping)


def read_version(project: Workspace, version: int | None, *, provenance: bool = False) -> pa.Table:
    """Read one version of the project's dataset into a pyarrow table."""
    import pyarrow as pa

    name = project.config.dataset.name
    with project.records.read() as conn:
        v, row_parts, gone = version_parts(conn, name, version)
    schema: dict[str, str] = dict(json.loads(v["schema"]))
    with project.engine_scope() as engine:
        live = live_rows(engine, project.config.dataset_dir, row_parts, gone)
        if live is None:
            return pa.table({c: pa.array([], type=_arrow_type(t)) for c, t in schema.items()})
        live = conform(live, schema)
        cols = list(schema) + (list(PROVENANCE) if provenance else [])
        expr = live.order_by(["_hw_run", "_hw_file", "_hw_record"]).select(*cols)
        return engine.to_pyarrow(expr)


def _arrow_type(kind: str) -> pa.DataType:
    import ibis

    return ibis.dtype(IBIS_TYPES[kind]).to_pyarrow()


def conform(table: ibis.Table, schema: dict[str, str]) -> ibis.Table:
    """Give ``table`` exactly the version's columns and types (older parts lack new ones)."""
    import ibis

    cols = []
    for name, kind in schema.items():
        target = IBIS_TYPES[kind]
        if name in table.columns:
            cols.append(table[name].cast(target).name(name))
        else:
            cols.append(ibis.null().cast(target).name(name))
    extra = [table[c] for c in PROVENANCE if c in table.columns]
    return table.select(*cols, *extra)


def list_versions(project: Workspace) -> list[dict[str, Any]]:
    name = project.config.dataset.name
    with project.records.read() as conn:
        current = state(conn, name).version
        rows = conn.execute(
            sa.select(rs.versions)
            .where(rs.versions.c.dataset == name)
            .order_by(rs.versions.c.version.desc())
        ).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["schema"] = json.loads(d["schema"])
        d["lineage"] = json.loads(d["lineage"]) if d["lineage"] else {}
        d["current"] = d["version"] == current
        out.append(d)
    return out


def export_version(
    project: Workspace, output: Path, *, fmt: str | None, version: int | None, provenance: bool
) -> dict[str, Any]:
    """Write a version as CSV or Parquet, atomically (temporary file, then rename)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from headwater._output import check_output_file, write_atomically

    check_output_file(output, f"{project.config.dataset.name}.csv")
    fmt = (fmt or output.suffix.lstrip(".") or "csv").lower()
    if fmt not in ("csv", "parquet"):
        raise ConfigError(
            f"cannot export as {fmt!r}", hint="use --format csv or --format parquet", key="format"
        )
    # resolve "current" once, so the version reported is the version written
    with project.records.read() as conn:
        number = int(version_row(conn, project.config.dataset.name, version)["version"])
    table = read_version(project, number, provenance=provenance)

    def write(tmp: Path) -> None:
        if fmt == "csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp, compression="zstd")

    write_atomically(output, write)
    return {"output": str(output), "format": fmt, "rows": table.num_rows, "version": number}


# -- publishing -------------------------------------------------------------------------


def publish(
    conn: sa.Connection,
    *,
    name: str,
    dataset_dir: str,
    parent: DatasetState,
    line: int,
    run_id: int,
    schema: dict[str, str],
    row_parts: list[tuple[str, int, int]],
    retraction_parts: list[tuple[str, int, int]],
    rows_added: int,
    rows_retracted: int,
    lineage: dict[str, Any],
) -> int:
    """Commit a new version inside the caller's write transaction; return its number.

    Raises :class:`PublishError` if the current version is no longer ``parent`` (another
    writer published first): nothing is committed and the run's parts become orphans.
    """
    now = now_iso()
    current = conn.execute(
        sa.select(rs.datasets.c.current_version, rs.datasets.c.current_line).where(
            rs.datasets.c.name == name
        )
    ).first()
    cur_version = current[0] if current else None
    if cur_version != parent.version:
        raise PublishError(
            f"dataset {name!r} moved from version {parent.version} to {cur_version} during "
            "this run; nothing was published",
            hint="run the command again: it will build on the new version",
            dataset=name,
        )
    latest = conn.execute(
        sa.select(sa.func.max(rs.versions.c.version)).where(rs.versions.c.dataset == name)
    ).scalar()
    version = int(latest or 0) + 1
    base_rows = parent.rows if line == parent.line else 0
    rows = base_rows + rows_added - rows_retracted
    conn.execute(
        sa.insert(rs.versions).values(
            dataset=name,
            version=version,
            line=line,
            parent=parent.version if line == parent.line else None,
            run_id=run_id,
            created=now,
            rows=rows,
            rows_added=rows_added,
            rows_retracted=rows_retracted,
            schema=json.dumps(list(schema.items())),
            location=dataset_dir,
            lineage=json.dumps(lineage, default=str),
        )
    )
    for kind, items in (("rows", row_parts), ("retractions", retraction_parts)):
        for path, n, size in items:
            conn.execute(
                sa.insert(rs.parts).values(
                    dataset=name,
                    line=line,
                    version=version,
                    kind=kind,
                    path=path,
                    rows=n,
                    bytes=size,
                )
            )
    values = {
        "current_version": version,
        "current_line": line,
        "schema": json.dumps(list(schema.items())),
        "updated": now,
    }
    if current is None:
        conn.execute(sa.insert(rs.datasets).values(name=name, **values))
    else:
        conn.execute(sa.update(rs.datasets).where(rs.datasets.c.name == name).values(**values))
    return version


def set_schema(conn: sa.Connection, name: str, line: int, schema: dict[str, str]) -> None:
    """Pin the schema without a new version (first run with no rows, say)."""
    exists = conn.execute(sa.select(rs.datasets.c.name).where(rs.datasets.c.name == name)).first()
    values = {
        "schema": json.dumps(list(schema.items())),
        "current_line": line,
        "updated": now_iso(),
    }
    if exists:
        conn.execute(sa.update(rs.datasets).where(rs.datasets.c.name == name).values(**values))
    else:
        conn.execute(sa.insert(rs.datasets).values(name=name, current_version=None, **values))


def write_manifests(project: Workspace, conn: sa.Connection | None = None) -> list[int]:
    """Write the manifest of every committed version that lacks one; return their numbers."""
    name = project.config.dataset.name
    folder = Path(project.config.dataset_dir) / "versions"
    written = []

    def _do(c: sa.Connection) -> None:
        for v in c.execute(
            sa.select(rs.versions)
            .where(rs.versions.c.dataset == name)
            .order_by(rs.versions.c.version)
        ):
            m = v._mapping
            path = folder / f"v{m['version']:06d}.json"
            if path.exists():
                continue
            body = {
                "dataset": name,
                "version": m["version"],
                "line": m["line"],
                "parent": m["parent"],
                "run_id": m["run_id"],
                "created": m["created"],
                "rows": m["rows"],
                "schema": dict(json.loads(m["schema"])),
                "parts": _parts(c, name, m["line"], m["version"], "rows"),
                "retractions": _parts(c, name, m["line"], m["version"], "retractions"),
                "provenance_columns": list(PROVENANCE),
                "how_to_read": "rows of `parts` (union by name) anti-joined with the "
                "(_hw_file, _hw_record) pairs of `retractions`; paths are relative to "
                "the dataset folder",
            }
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
            os.replace(tmp, path)
            written.append(m["version"])

    if conn is not None:
        _do(conn)
    else:
        with project.records.read() as c:
            _do(c)
    return written


def remove_orphans(project: Workspace) -> list[str]:
    """Delete part files that no committed version references (a crashed run's leftovers).

    Only call under the project lock: a running writer's parts are not committed yet.
    """
    name = project.config.dataset.name
    root = Path(project.config.dataset_dir)
    with project.records.read() as conn:
        known = {
            r[0] for r in conn.execute(sa.select(rs.parts.c.path).where(rs.parts.c.dataset == name))
        }
        versions = {
            r[0]
            for r in conn.execute(
                sa.select(rs.versions.c.version).where(rs.versions.c.dataset == name)
            )
        }
    removed = []
    for sub in ("parts", "retractions"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            rel = f"{sub}/{f.name}"
            if rel not in known:
                f.unlink(missing_ok=True)
                removed.append(rel)
    vfolder = root / "versions"
    if vfolder.is_dir():
        for f in vfolder.iterdir():
            stem = f.name.split(".")[0]
            if f.suffix == ".tmp" or (
                stem.startswith("v") and stem[1:].isdigit() and int(stem[1:]) not in versions
            ):
                f.unlink(missing_ok=True)
                removed.append(f"versions/{f.name}")
    return removed
