"""The versioned dataset: parts, retractions, versions and manifests (DESIGN.md decision 4).

A version is the set of row parts of its line up to it, minus the rows retracted by the
line up to it. Parts and retraction files are immutable, uniquely named and written in
their final place before the version is committed in one record-store transaction that
compares-and-swaps the parent. A manifest (``versions/vNNNNNN.json``) is written beside
the parts after the commit — generated from the rows — so the data can be read without the
database; a missing manifest is rewritten by the next writer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater._files import make_dirs
from headwater.config import CONFIG_FILE, IBIS_TYPES
from headwater.errors import ConfigError, ProjectError, PublishError
from headwater.records import now_iso
from headwater.records import schema as rs
from headwater.storage import Store

if TYPE_CHECKING:
    import ibis
    import pyarrow as pa

    from headwater.engines.base import Engine
    from headwater.workspace import Workspace

log = logging.getLogger(__name__)

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


class Part(str):
    """A part's path relative to the dataset folder, carrying the size it was written with
    (``None`` if not recorded), so that a read can tell a part changed since."""

    size: int | None

    def __new__(cls, path: str, size: int | None = None) -> Part:
        part = super().__new__(cls, path)
        part.size = size
        return part


def _parts(conn: sa.Connection, name: str, line: int, version: int | None, kind: str) -> list[str]:
    if version is None:
        return []
    stmt = (
        sa.select(rs.parts.c.path, rs.parts.c.bytes)
        .where(
            rs.parts.c.dataset == name,
            rs.parts.c.line == line,
            rs.parts.c.version <= version,
            rs.parts.c.kind == kind,
        )
        .order_by(rs.parts.c.id)
    )
    return [Part(r[0], r[1]) for r in conn.execute(stmt)]


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


@dataclass
class Added:
    """The rows that ingest runs after a given run added to the current version."""

    version: int | None  # the current version
    through_run: int  # the newest ingest run those rows came from (``after`` if none)
    row_parts: Sequence[str]  # Part
    retraction_parts: Sequence[str]  # the current version's: rows retracted since are not live
    rows: int  # the rows those parts hold (before retractions)


def added_since(conn: sa.Connection, name: str, after_run: int) -> Added:
    """The parts of the current version's line that runs after ``after_run`` published.

    Cost grows with what those runs added, not with the dataset: only their parts are read
    (minus the version's retractions)."""
    st = state(conn, name)
    if st.version is None:
        return Added(None, after_run, [], [], 0)
    q = (
        sa.select(rs.parts.c.path, rs.parts.c.bytes, rs.parts.c.rows, rs.versions.c.run_id)
        .join(
            rs.versions,
            (rs.versions.c.dataset == rs.parts.c.dataset)
            & (rs.versions.c.version == rs.parts.c.version),
        )
        .where(
            rs.parts.c.dataset == name,
            rs.parts.c.line == st.line,
            rs.parts.c.kind == "rows",
            rs.parts.c.version <= st.version,
            rs.versions.c.run_id > after_run,
        )
        .order_by(rs.parts.c.id)
    )
    found = conn.execute(q).all()
    through = max([after_run, *(int(r.run_id) for r in found)])
    gone = _parts(conn, name, st.line, st.version, "retractions") if found else []
    row_parts = [Part(r.path, r.bytes) for r in found]
    return Added(st.version, through, row_parts, gone, sum(r.rows for r in found))


def live_rows(
    engine: Engine,
    dataset: str | Store,
    row_parts: Sequence[str],
    retraction_parts: Sequence[str],
    columns: list[str] | None = None,
) -> ibis.Table | None:
    """The rows of a version: its row parts minus its retractions (None if no parts).

    ``dataset`` is the dataset's store (``Workspace.dataset_store``); a local folder may be
    given as its path."""
    if not row_parts:
        return None
    store = dataset if isinstance(dataset, Store) else Store(dataset)
    _check_parts(store, [*row_parts, *retraction_parts])
    cols = None if columns is None else list(dict.fromkeys([*columns, *ROW_ID]))
    rows = engine.read_parquet([_abs(store, p) for p in row_parts], cols)
    if retraction_parts:
        gone = engine.read_parquet([_abs(store, p) for p in retraction_parts], list(ROW_ID))
        rows = rows.anti_join(gone, list(ROW_ID))
    return rows


def _check_parts(store: Store, parts: list[str]) -> None:
    """ProjectError if a part file of a version is gone (deleted or moved by hand), or was
    changed since it was written: its size is not the recorded one, or (a local file) it
    does not begin and end with Parquet's magic bytes. The engine would only say that no
    file matches a pattern, or read the changed rows as if they were the version's.

    In a remote store the parts' folders are listed once (one request each, however many
    parts) and sizes compared; the magic bytes are not read (two requests per part)."""
    if store.local:
        checked = {p: f for p in parts if "://" not in (f := _abs(store, p))}
        sizes = {p: os.path.getsize(f) for p, f in checked.items() if os.path.exists(f)}
    else:
        checked = {p: store.url(p) for p in parts if "://" not in p and not os.path.isabs(p)}
        sizes = _listed_sizes(store, list(checked))
    missing = [p for p in checked if p not in sizes]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ProjectError(
            f"the dataset file {missing[0]!r}{more} is missing from {store.root!r}: the "
            "version's rows cannot be read",
            hint="restore the dataset folder from a backup (its manifests list every file), "
            "or rebuild the dataset from the sources with `headwater ingest --rebuild`",
        )
    for p, f in checked.items():
        size = getattr(p, "size", None)
        problem = None
        if size is not None and sizes[p] != size:
            problem = f"has {sizes[p]} bytes where {size} were written"
        elif store.local:
            problem = _not_parquet(f, sizes[p])
        if problem:
            raise ProjectError(
                f"the dataset file {p!r} in {store.root!r} {problem}: it was changed after "
                "headwater wrote it, so the version's rows cannot be trusted",
                hint="restore the file from a backup of the dataset folder, or rebuild the "
                "dataset from the sources with `headwater ingest --rebuild`",
                path=f,
            )


def _not_parquet(path: str, size: int) -> str | None:
    """What is wrong with a local part file's bytes, if anything (cheap: 8 bytes read)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if size < 8 or head != b"PAR1" or tail != b"PAR1":
        return "is not a whole Parquet file (no PAR1 magic bytes at its start and end)"
    return None


def _listed_sizes(store: Store, parts: list[str]) -> dict[str, int]:
    """The sizes of the files in the folders of ``parts`` (one listing per folder)."""
    sizes: dict[str, int] = {}
    for folder in sorted({p.rpartition("/")[0] for p in parts}):
        for entry in store.files(folder):
            sizes[f"{folder}/{entry.name}" if folder else entry.name] = entry.size
    return sizes


def _abs(store: Store, rel: str) -> str:
    return rel if os.path.isabs(rel) or "://" in rel else store.url(rel)


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
        live = live_rows(engine, project.dataset_store, row_parts, gone)
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


def list_versions(
    project: Workspace,
    *,
    limit: int | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The dataset's versions, newest first: at most ``limit`` of those older than
    ``before`` (a page is one query, however many versions there are)."""
    name = project.config.dataset.name
    v = rs.versions.c
    stmt = sa.select(rs.versions).where(v.dataset == name).order_by(v.version.desc())
    if before is not None:
        stmt = stmt.where(v.version < before)
    if limit is not None:
        stmt = stmt.limit(limit)
    with project.records.read() as conn:
        current = state(conn, name).version
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["schema"] = json.loads(d["schema"])
        d["lineage"] = json.loads(d["lineage"]) if d["lineage"] else {}
        d["current"] = d["version"] == current
        out.append(d)
    return out


def count_versions(project: Workspace) -> int:
    v = rs.versions.c
    with project.records.read() as conn:
        stmt = sa.select(sa.func.count()).select_from(rs.versions)
        return int(conn.execute(stmt.where(v.dataset == project.config.dataset.name)).scalar() or 0)


def export_version(
    project: Workspace,
    output: Path | str,
    *,
    fmt: str | None,
    version: int | None,
    provenance: bool,
) -> dict[str, Any]:
    """Write a version as CSV or Parquet, atomically: a local file through a temporary
    file and a rename; a URL (``s3://…``) written on local disk first, then uploaded once,
    whole, with its ``[storage]`` options."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from headwater._output import check_output_file, write_atomically

    remote = isinstance(output, str) and "://" in output
    suffix = PurePosixPath(output).suffix if remote else Path(output).suffix
    if not remote:
        check_output_file(Path(output), f"{project.config.dataset.name}.csv")
    fmt = (fmt or suffix.lstrip(".") or "csv").lower()
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

    if remote:
        url = str(output)
        folder, _, name = url.rstrip("/").rpartition("/")
        store = project.store(folder)
        scratch = project.config.state_dir / "tmp"
        make_dirs(scratch)
        tmp = scratch / f"export-{uuid.uuid4().hex}.{fmt}"
        try:
            write(tmp)
            store.put_file(str(tmp), name)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        write_atomically(Path(output), write)
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
    from headwater.records.store import compare_and_set

    now = now_iso()
    latest = conn.execute(
        sa.select(sa.func.max(rs.versions.c.version)).where(rs.versions.c.dataset == name)
    ).scalar()
    version = int(latest or 0) + 1
    # claim the dataset row first: a concurrent publisher's claim waits, then fails
    claimed = compare_and_set(
        conn,
        rs.datasets,
        {"name": name},
        "current_version",
        parent.version,
        {
            "current_version": version,
            "current_line": line,
            "schema": json.dumps(list(schema.items())),
            "updated": now,
        },
    )
    if not claimed:
        cur_version = conn.execute(
            sa.select(rs.datasets.c.current_version).where(rs.datasets.c.name == name)
        ).scalar()
        raise PublishError(
            f"dataset {name!r} moved from version {parent.version} to {cur_version} during "
            "this run; nothing was published",
            hint="run the command again: it will build on the new version",
            dataset=name,
        )
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
    return version


def set_schema(conn: sa.Connection, name: str, line: int, schema: dict[str, str]) -> None:
    """Pin the schema without a new version (first run with no rows, say)."""
    from headwater.records.store import upsert

    values = {
        "schema": json.dumps(list(schema.items())),
        "current_line": line,
        "updated": now_iso(),
    }
    upsert(conn, rs.datasets, {"name": name}, values)  # current_version: NULL when new


def write_manifests(project: Workspace, conn: sa.Connection | None = None) -> list[int]:
    """Write the manifest of every committed version that lacks one; return their numbers."""
    name = project.config.dataset.name
    store = project.dataset_store
    written = []

    def _do(c: sa.Connection) -> None:
        # a remote folder is listed once (one request), not asked once per version
        listed = None if store.local else {e.name for e in store.files("versions")}
        for v in c.execute(
            sa.select(rs.versions)
            .where(rs.versions.c.dataset == name)
            .order_by(rs.versions.c.version)
        ):
            m = v._mapping
            path = f"versions/v{m['version']:06d}.json"
            name_only = path.removeprefix("versions/")
            if store.exists(path) if listed is None else name_only in listed:
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
            # locally through versions/vNNNNNN.tmp (swept if a crash leaves it)
            store.write_bytes(
                path, json.dumps(body, indent=2).encode(), temp=f"v{m['version']:06d}.tmp"
            )
            written.append(m["version"])

    if conn is not None:
        _do(conn)
    else:
        with project.records.read() as c:
            _do(c)
    return written


PART_NAME = re.compile(r"run(\d{6,})-([0-9a-f]{12})\.parquet")
MARKER = "headwater-dataset.json"


def part_tag(conn: sa.Connection, run_id: int) -> str:
    """The name of the parts run ``run_id`` writes (``run000042-<12 hex>``, + ``.parquet``).

    The hex digits are a hash of the run's record (id, start, host, pid), so that the sweep
    can tell the parts a run of *these* records wrote from any other file of the same shape.
    """
    row = conn.execute(
        sa.select(rs.runs.c.started, rs.runs.c.host, rs.runs.c.pid).where(rs.runs.c.id == run_id)
    ).one()
    return _tag(run_id, row.started, row.host, row.pid)


def _tag(run_id: int, started: str, host: str | None, pid: int | None) -> str:
    digest = hashlib.sha256(f"{run_id}|{started}|{host}|{pid}".encode()).hexdigest()
    return f"run{run_id:06d}-{digest[:12]}"


def claim_folder(project: Workspace, run_id: int) -> None:
    """Make sure the dataset folder is this project's before a writer changes anything there.

    The owner is recorded in ``<dataset folder>/headwater-dataset.json``, written by the
    first writer (run ``run_id``) of a folder that has none — a new one, or one made by a
    headwater that wrote no marker. The owner is the record store that holds the claiming
    run; a folder claimed by other records, or shared with a copy of this project that still
    exists, is refused (ProjectError) before anything is written or removed. A remote
    folder (a URL) is claimed the same way: its marker is created with the store's
    conditional write, so that of two projects claiming one prefix only one succeeds.
    """
    store = project.dataset_store
    folder = store.root
    here = {
        "dataset": project.config.dataset.name,
        "folder": os.path.realpath(folder) if store.local else folder,
        "project": os.path.realpath(project.root),
        "records": _records_shown(project),
    }
    owner = _read_marker(store)
    if owner is None:
        with project.records.read() as conn:
            row = conn.execute(
                sa.select(rs.runs.c.started).where(rs.runs.c.id == run_id)
            ).scalar_one()
        body = {
            "about": "this folder holds one headwater dataset; only the project whose "
            "records hold the claiming run writes here",
            **here,
            "claimed_by_run": {"id": run_id, "started": row},
            "claimed": now_iso(),
        }
        store.make_folder()
        if store.create(MARKER, json.dumps(body, indent=2).encode("utf-8")):
            return
        owner = _read_marker(store)  # another project claimed it meanwhile
        if owner is None:
            raise ProjectError(
                f"the dataset owner file {store.url(MARKER)!r} appeared and vanished while "
                "this run claimed the folder",
                hint="make sure no other tool writes there, then run again",
                path=store.url(MARKER),
            )
    claim = owner.get("claimed_by_run") or {}
    with project.records.read() as conn:
        started = conn.execute(
            sa.select(rs.runs.c.started).where(rs.runs.c.id == claim.get("id"))
        ).scalar_one_or_none()
    other = str(owner.get("project"))
    marker = store.url(MARKER)
    if started is None or started != claim.get("started"):
        if other == here["project"]:
            raise ProjectError(
                f"the dataset folder {folder!r} was written by another record store "
                f"({owner.get('records')!r}) than this project's ({here['records']!r})",
                hint="restore this project's records from a backup, or give the dataset "
                "another [dataset] path or name to start a new one (or move the folder away)",
                path=folder,
            )
        _refuse(folder, here["project"], owner, marker)
    same_folder = owner.get("folder") == here["folder"]
    if same_folder and other != here["project"] and os.path.exists(Path(other, CONFIG_FILE)):
        _refuse(folder, here["project"], owner, marker)  # a copy of this project, still there
    if any(owner.get(k) != v for k, v in here.items()):
        # the project or the folder was moved (or copied with its dataset): follow it
        log.info("dataset folder %s: owner marker updated for %s", folder, here["project"])
        store.write_bytes(MARKER, json.dumps({**owner, **here}, indent=2).encode("utf-8"))


def _refuse(folder: str, root: str, owner: dict[str, Any], marker: str) -> None:
    other = owner.get("project")
    raise ProjectError(
        f"the dataset folder {folder!r} belongs to another project: {other!r} (records "
        f"{owner.get('records')!r}); this project ({root!r}) must not write there",
        hint=f"give this project its own folder ([dataset] path or name in headwater.toml); "
        f"if {other!r} no longer uses it and its data is this project's, delete "
        f"{marker!r} and run again",
        path=folder,
    )


def _read_marker(store: Store) -> dict[str, Any] | None:
    marker = store.url(MARKER)
    try:
        text = store.read_bytes(MARKER).decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        text = f"(not UTF-8: {exc})"
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise ProjectError(
            f"the dataset owner file {marker!r} is not readable JSON ({exc})",
            hint="restore it from a backup; if this folder is this project's, delete it and "
            "run again (the next writer claims the folder)",
            path=marker,
        ) from exc
    return body


def _records_shown(project: Workspace) -> str:
    url = project.config.records.url
    if not url:
        return str(project.config.state_dir / "records.db")
    schema = project.config.records.pg_schema
    try:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        return shown if schema is None else f"{shown} (schema {schema})"
    except Exception:  # a URL SQLAlchemy cannot parse fails later, when it is opened
        return "(unparsable records url)"


def remove_orphans(project: Workspace) -> list[str]:
    """Delete what a crashed or failed run of this project left in the dataset folder.

    Only files named as a run of this project's records names its parts (see
    :func:`part_tag`) that no committed version references, and manifest temporary files
    of committed versions, are removed; any other file (or object under a remote folder's
    prefix) stays. Only call under the project lock, after :func:`claim_folder`: a running
    writer's parts are not committed yet.
    """
    name = project.config.dataset.name
    store = project.dataset_store
    candidates: dict[str, int] = {}
    for sub in ("parts", "retractions"):
        for entry in store.files(sub):  # regular files only: never a link or a device
            m = PART_NAME.fullmatch(entry.name)
            if m:
                candidates[f"{sub}/{entry.name}"] = int(m[1])
    # a temporary manifest is ours by its name, even as a link (a link is removed, not
    # followed)
    found = store.files("versions", links=True)
    temps = [e.name for e in found if re.fullmatch(r"v\d{6,}\.tmp", e.name)]
    if not candidates and not temps:
        return []
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
        tags = {
            r.id: _tag(r.id, r.started, r.host, r.pid)
            for r in conn.execute(
                sa.select(rs.runs.c.id, rs.runs.c.started, rs.runs.c.host, rs.runs.c.pid).where(
                    rs.runs.c.id.in_(set(candidates.values())), rs.runs.c.status != "running"
                )
            )
        }
    removed = []
    for rel, run_id in sorted(candidates.items()):
        if rel not in known and rel.split("/")[1] == f"{tags.get(run_id)}.parquet":
            store.delete(rel)
            removed.append(rel)
    for f in temps:
        if int(f[1:].removesuffix(".tmp")) in versions:
            store.delete(f"versions/{f}")
            removed.append(f"versions/{f}")
    return removed
