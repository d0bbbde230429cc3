"""Comparison and training inputs → typed Ibis tables with an order column (``_hw_order``).

An input is a file, folder, glob or fsspec URL (read like an ingest source: same readers,
options, cleaning and strict type inference), a project dataset version (``name@N``,
``name@latest``), or — from Python — a pandas DataFrame or pyarrow Table. The order column
is what pairs duplicate keys: file path then record number, a dataset's run/file/record,
or a table's row position.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.config import DatasetConfig, SourceConfig
from headwater.errors import CompareError, HeadwaterError, ProjectError

if TYPE_CHECKING:
    import ibis

    from headwater.engines.base import Engine
    from headwater.sources import SourceFile
    from headwater.workspace import Workspace

log = logging.getLogger(__name__)

VERSION_REF = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)@(?P<version>latest|\d+)$")


@dataclass
class Side:
    """One side of a comparison, read and typed."""

    label: str
    table: ibis.Table
    schema: dict[str, str]  # column → headwater kind
    problems: list[str] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)
    # the table is a plain scan (files, a stored table, an in-memory table: no joins), so
    # one more pass over its keys is cheap; a dataset version may join its retractions
    scannable: bool = False


def _kind_of(dtype: Any) -> str:
    if dtype.is_boolean():
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_floating() or dtype.is_decimal():
        return "float"
    if dtype.is_timestamp():
        return "timestamp"
    if dtype.is_date():
        return "date"
    return "string"


@contextlib.contextmanager
def staging_dir() -> Iterator[Path]:
    """A private folder for the local copies of remote inputs, removed afterwards (close
    the engine first: its views read those copies)."""
    path = Path(tempfile.mkdtemp(prefix="headwater-compare-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def read_side(
    engine: Engine,
    obj: Any,
    *,
    label: str,
    project: Workspace | None,
    source: SourceConfig | None,
    prefix: str,
    staging: Path,
) -> Side:
    """Resolve one input into a typed table; raise CompareError on bad input. Remote
    files are copied into ``staging`` (see :func:`staging_dir`)."""
    import ibis
    import pyarrow as pa

    if isinstance(obj, pa.Table) or type(obj).__name__ == "DataFrame":
        if isinstance(obj, pa.Table):
            table = obj
        else:
            try:
                table = pa.Table.from_pandas(obj, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise CompareError(
                    f"{label}: the DataFrame cannot be converted to a table: {exc}",
                    hint="give each column one type, e.g. df[col] = df[col].astype(str)",
                ) from exc
        table = table.append_column("_hw_order", pa.array(range(table.num_rows), pa.int64()))
        t = ibis.memtable(table)
        schema = {c: _kind_of(t[c].type()) for c in t.columns if c != "_hw_order"}
        return Side(label, t, schema, scannable=True)
    if not isinstance(obj, str | Path):
        raise CompareError(
            f"cannot compare an object of type {type(obj).__name__!r}",
            hint="pass a path, a URL, 'dataset@N', a pandas DataFrame or a pyarrow Table",
        )
    text = str(obj)
    m = VERSION_REF.match(text)
    if m and not Path(text).exists():
        return _dataset_side(engine, m["name"], m["version"], label=label, project=project)
    # a URL is listed and fetched with the project's [storage.<scheme>] options, if any
    options = project.config.storage_options(text) if project is not None else {}
    return _file_side(
        engine, text, label=label, source=source, prefix=prefix, staging=staging, options=options
    )


def _dataset_side(
    engine: Engine, name: str, version: str, *, label: str, project: Workspace | None
) -> Side:
    from headwater import dataset as ds_mod

    if project is None:
        raise CompareError(
            f"{label!r} names a dataset version, but there is no project here",
            hint="run inside a project folder or pass --project DIR",
        )
    if name != project.config.dataset.name:
        raise CompareError(
            f"project {project.config.project.name!r} has no dataset {name!r} "
            f"(its dataset is {project.config.dataset.name!r})",
            hint=f"use {project.config.dataset.name}@N",
        )
    wanted = None if version == "latest" else int(version)
    try:
        with project.records.read() as conn:
            v, rows, gone = ds_mod.version_parts(conn, name, wanted)
    except ProjectError as exc:
        raise CompareError(str(exc), hint=exc.hint) from exc
    import json

    schema = dict(json.loads(v["schema"]))
    live = ds_mod.live_rows(engine, project.dataset_store, rows, gone)
    if live is None:
        table = engine.empty(
            {**{c: ds_mod.IBIS_TYPES[k] for c, k in schema.items()}, "_hw_order": "int64"}
        )
        return Side(label, table, schema)
    live = ds_mod.conform(live, schema)

    from headwater.tables.transform import ordinal

    # file ids grow with runs, so (file, record) orders rows as they were ingested
    return Side(label, live.select(*schema, _hw_order=ordinal(live)), schema)


def _file_side(
    engine: Engine,
    path: str,
    *,
    label: str,
    source: SourceConfig | None,
    prefix: str,
    staging: Path,
    options: dict[str, Any],
) -> Side:
    """A file, folder, glob or URL, read as an ingest source would be."""
    src = (source or SourceConfig(path=path)).model_copy(update={"path": path})
    files = _list_files(path, src, label=label, prefix=prefix, staging=staging, options=options)
    readable = [f for f in files if f.size > 0]
    if readable and all(f.format == "parquet" for f in readable):
        return _parquet_side(engine, readable, label=label, prefix=prefix)
    return _text_side(engine, files, src, label=label, prefix=prefix)


def _list_files(
    path: str,
    src: SourceConfig,
    *,
    label: str,
    prefix: str,
    staging: Path,
    options: dict[str, Any],
) -> list[SourceFile]:
    """The readable files under ``path``, numbered in listing order, remote ones copied
    into ``staging``; an error when there is none or one cannot be opened."""
    from headwater.sources import list_source, stage_remote

    resolved = str(Path(path).expanduser().resolve()) if "://" not in path else path
    try:
        files = list_source(0, src, resolved, options)
    except HeadwaterError as exc:
        raise CompareError(str(exc).replace("source path", "path"), hint="check the path") from exc
    files = [f for f in files if f.format is not None]
    if not files:
        raise CompareError(
            f"{label!r} holds no file headwater can read",
            hint="give a .csv, .tsv, .json, .jsonl or .parquet file (or a folder of them), "
            "or set --input-format",
        )
    for i, sf in enumerate(files, 1):
        sf.file_id = i
        sf.status = "new"
        try:
            if sf.remote:
                target = staging / f"{prefix}-{i}-{Path(sf.path).name}"
                sf.hash = stage_remote(sf.path, target, options)
                sf.local_path = str(target)
            else:
                sf.local_path = sf.path
                if sf.size > 0:  # fail early and clearly on an unreadable file (no hash:
                    with open(sf.path, "rb") as fh:  # reading it all cost 0.27 s at 5M rows)
                        fh.read(1)
        except OSError as exc:
            raise CompareError(
                f"cannot read {sf.path!r}: {exc.strerror or exc}", hint="check the path"
            ) from exc
    return files


def _text_side(
    engine: Engine, files: list[SourceFile], src: SourceConfig, *, label: str, prefix: str
) -> Side:
    """CSV/TSV/JSON files read as text, cleaned and typed as ingest does (the typed read
    once: one fused pass, file by file if it fails)."""
    from headwater.tables import transform as pl
    from headwater.tables.read import cleaned_text, read_once_or_isolate, read_text, recheck

    readable = [f for f in files if f.size > 0]
    ds = DatasetConfig()

    def unreadable() -> None:
        failed = [f for f in files if f.status != "new"]
        if failed:
            raise CompareError(
                f"cannot read {failed[0].path!r} ({label}): {failed[0].reason}",
                hint="fix or remove the file; a comparison needs every file of both sides",
            )

    def typed_text(lazy: bool) -> tuple[Any, dict[str, str], list[str]]:
        table, staged = read_text(
            engine,
            readable,
            [src],
            normalize=True,
            required=[],
            progress=lambda *a: None,
            readable_status=("new",),
            prefix=prefix,
            lazy=lazy,
        )
        staged_names[:] = staged
        unreadable()
        if table is None:
            raise CompareError(f"{label!r} has no rows to read", hint="check the input")
        # as in ingest: cleaned text is a subquery of the typing pass (but for a wide
        # batch), not stored (and with ``lazy``, the files are parsed by that pass)
        text, stored = cleaned_text(engine, table, ds, name=f"{prefix}_text", lazy=lazy)
        staged += stored
        staged_names[:] = staged
        cols = [c for c in text.columns if not c.startswith("_hw_")]

        def typed_as(decision: Any) -> Any:
            name = f"{prefix}_typed"
            t = engine.materialize(_typed(text, decision.schema), name, ordered=lazy)
            return engine.number_records(name) if lazy else t

        typed, decision = pl.type_by_sample(text, {}, cols, ds, engine.to_pyarrow, typed_as)
        if lazy:
            recheck(readable, ("new",))
            unreadable()
        return typed, decision.schema, staged

    staged_names: list[str] = []

    def undo() -> None:
        for name in staged_names:
            engine.drop(name)

    typed, schema, staged = read_once_or_isolate(typed_text, undo=undo, what=label)
    for name in staged:  # the raw text is no longer needed
        engine.drop(name)
    # file ids follow the sorted listing, so (file, record) is path-then-record order
    side = Side(
        label, typed.select(*schema, _hw_order=pl.ordinal(typed)), dict(schema), scannable=True
    )
    return side


def _typed(text: ibis.Table, schema: dict[str, str]) -> ibis.Table:
    """Typed columns, provenance and the did-not-fit flags (no text copies)."""
    from headwater.tables import transform as pl

    t = pl.type_stage(text, schema, [])
    return t.select(*schema, "_hw_file", "_hw_record", **pl.did_not_fit(t, schema))


def _parquet_side(engine: Engine, files: list[Any], *, label: str, prefix: str) -> Side:
    """Parquet keeps its own types: read natively (no text round trip), names normalised."""
    from headwater.tables.headers import FileProblem, check_names
    from headwater.tables.read import engine_reason
    from headwater.tables.transform import ordinal

    paths = [f.local_path or f.path for f in files]
    try:
        raw_cols = engine.raw_columns("parquet", paths[0], {})
        names = check_names(raw_cols, True, [])
        table = engine.read_parquet_typed(paths, f"{prefix}_pq")
    except FileProblem as exc:
        raise CompareError(f"cannot read {label!r}: {exc.reason}", hint=exc.hint) from exc
    except Exception as exc:
        raise CompareError(
            f"cannot read {label!r}: it {engine_reason(exc, 'parquet')}",
            hint="fix or remove the file; a comparison needs every file of both sides",
        ) from exc
    data = [c for c in table.columns if not c.startswith("_hw_")]
    mapping = dict(zip(raw_cols, names, strict=True))
    renamed = {mapping.get(c, c): c for c in data}
    schema = {new: _kind_of(table[old].type()) for new, old in renamed.items()}
    order = ordinal(table)  # (file, record) as one number: no sort needed
    # a view, not a copy: the comparison reads the files once, in its join; text columns
    # stay text (Parquet has real nulls and types: a text column holds what its writer
    # meant as text — against a typed column of the other side it is compared by the
    # typed value's canonical text)
    t = table.select(*[table[old].name(new) for new, old in renamed.items()], _hw_order=order)
    return Side(label, t, schema, scannable=True)
