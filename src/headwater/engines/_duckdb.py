"""The embedded default engine: DuckDB through Ibis.

Local files are read by DuckDB's own readers (fast, multi-threaded); everything is read
as text so that typing, with its rejects, is done once, in the pipeline's Ibis expressions.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from headwater._files import make_dirs, restrict
from headwater.config import EngineConfig
from headwater.engines.base import FP_COLUMNS, MAX_LINE_BYTES, WIDE_COLUMNS, Capabilities, ReadGroup
from headwater.errors import EngineError
from headwater.storage import Store


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(paths: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_lit(p) for p in paths) + "]"


# The fingerprint halves (see tables/fingerprint.py: each half of the md5 hex as an
# unsigned number, minus 2**63) without formatting and parsing hex: md5_number is the
# digest as one little-endian 128-bit number, so each half is a byte-swapped 64-bit slice
# of it (on 10M encodings alone: md5 + hex + parse 2.4 s, this 1.45 s; in the whole typing
# pass the gain is ~0.4 s).
_MACROS = (
    "hw_low64(n) AS (n & 18446744073709551615::UHUGEINT)::UBIGINT",
    "hw_high64(n) AS (n >> 64)::UBIGINT",
    "hw_bswap64(x) AS ((x & 255::UBIGINT) << 56) | (((x >> 8) & 255::UBIGINT) << 48)"
    " | (((x >> 16) & 255::UBIGINT) << 40) | (((x >> 24) & 255::UBIGINT) << 32)"
    " | (((x >> 32) & 255::UBIGINT) << 24) | (((x >> 40) & 255::UBIGINT) << 16)"
    " | (((x >> 48) & 255::UBIGINT) << 8) | (x >> 56)",
    "hw_minus_half(u) AS CASE WHEN u >= 9223372036854775808::UBIGINT"
    " THEN (u - 9223372036854775808::UBIGINT)::BIGINT"
    " ELSE u::BIGINT - 9223372036854775807 - 1 END",
)


@ibis.udf.scalar.builtin(name="md5_number")
def _md5_number(value: str) -> int:  # type: ignore[empty-body]
    """DuckDB's md5 as a 128-bit number (UHUGEINT; Ibis only passes it on to the macros)."""


@ibis.udf.scalar.builtin(name="hw_low64")
def _low64(n: int) -> int:  # type: ignore[empty-body]
    """Macro: the low 64 bits of a UHUGEINT (digest bytes 0-7, little-endian)."""


@ibis.udf.scalar.builtin(name="hw_high64")
def _high64(n: int) -> int:  # type: ignore[empty-body]
    """Macro: the high 64 bits of a UHUGEINT (digest bytes 8-15, little-endian)."""


@ibis.udf.scalar.builtin(name="hw_bswap64")
def _bswap64(x: int) -> int:  # type: ignore[empty-body]
    """Macro: a UBIGINT with its bytes reversed (little-endian read → big-endian read)."""


@ibis.udf.scalar.builtin(name="hw_minus_half")
def _minus_half(u: int) -> int:  # type: ignore[empty-body]
    """Macro: a UBIGINT minus 2**63, as a BIGINT."""


def _joins(raw: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The join operators of the physical plan of ``sql`` (none: its output keeps the
    order of its scans)."""
    import json

    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        name = str(node.get("name", ""))
        if "JOIN" in name or name in ("CROSS_PRODUCT", "POSITIONAL_SCAN"):
            found.append(name)
        for child in node.get("children", []):
            walk(child)

    for row in raw.execute("EXPLAIN (FORMAT json) " + sql).fetchall():
        for node in json.loads(row[-1]):
            walk(node)
    return found


def _stages(top: Any, name: str) -> list[tuple[str, Any]]:
    """The stack of projections and filters under relation ``top`` as (table, relation)
    pairs, bottom first: each relation reads the table of the one before it by name (an
    unbound table of the same schema), the last one is ``top`` written as ``name``."""
    import ibis.expr.operations as ops

    stack = (ops.Project, ops.Filter)
    out: list[tuple[str, Any]] = []
    node, into = top, name
    while isinstance(node, stack) and isinstance(node.parent, stack):
        below = f"{name}__stage{len(out) + 1}"
        out.append((into, _reading(node, ops.UnboundTable(name=below, schema=node.parent.schema))))
        node, into = node.parent, below
    out.append((into, node))
    return out[::-1]


def _reading(node: Any, table: Any) -> Any:
    """Projection or filter ``node`` over ``table`` instead of its parent (same schema).
    Only the node's own values are rewritten (the traversal stops at relations), so a cut
    costs the size of one stage, not of the stack below it."""
    import ibis.expr.operations as ops

    parent = node.parent

    def rebind(n: Any, kwargs: dict[str, Any] | None) -> Any:
        if isinstance(n, ops.Field) and n.rel is parent:
            return ops.Field(table, n.name)
        return n.__recreate__(kwargs) if kwargs else n

    def values(v: Any) -> Any:
        return v.replace(rebind, filter=ops.Value)

    if isinstance(node, ops.Project):
        return ops.Project(table, {k: values(v) for k, v in node.values.items()})
    return ops.Filter(table, tuple(values(v) for v in node.predicates))


class DuckDBEngine:
    """DuckDB via Ibis, with memory limit, threads and spill folder from ``[engine]``."""

    name = "duckdb"
    # lag/lead/row_number over a window with no ORDER BY: one cheap pass
    capabilities = Capabilities(window_without_order=True, lazy_records=True, sequential_scan=True)

    def __init__(self, config: EngineConfig, project_root: Path) -> None:
        temp = Path(config.temp_directory)
        if not temp.is_absolute():
            temp = project_root / temp
        make_dirs(temp)
        try:
            self.con = ibis.duckdb.connect()
        except Exception as exc:  # pragma: no cover - environment problem
            raise EngineError(f"cannot start DuckDB: {exc}") from exc
        self.raw: duckdb.DuckDBPyConnection = self.con.con
        self._wide = False
        self._stores: dict[str, Store] = {}  # the remote roots attached (attach_store)
        self.raw.execute(f"SET memory_limit = {_lit(config.memory_limit)}")
        self.raw.execute(f"SET temp_directory = {_lit(str(temp))}")
        self.raw.execute("SET TimeZone = 'UTC'")
        # Order matters only while staging (record numbers come from the scan order, see
        # stage); everywhere else results are ordered explicitly, and keeping insertion
        # order would cost parallelism and memory.
        self.raw.execute("SET preserve_insertion_order = false")
        self.raw.execute("SET enable_progress_bar = false")
        if config.threads:
            self.raw.execute(f"SET threads = {int(config.threads)}")
        for macro in _MACROS:
            self.raw.execute(f"CREATE OR REPLACE TEMP MACRO {macro}")

    # -- reading -----------------------------------------------------------------------

    def raw_columns(self, fmt: str, path: str, options: dict[str, Any]) -> list[str]:
        reader = self._reader_sql(fmt, (path,), options, columns=None)
        rel = self.raw.sql(f"DESCRIBE SELECT * FROM {reader}")
        hidden = ("filename", "file_row_number")
        return [row[0] for row in rel.fetchall() if row[0] not in hidden]

    def _reader_sql(
        self,
        fmt: str,
        files: tuple[str, ...],
        options: dict[str, Any],
        columns: tuple[str, ...] | None,
    ) -> str:
        paths = _list(files)
        if fmt in ("csv", "tsv"):
            opts = [
                "all_varchar = true",
                "filename = true",
                "strict_mode = true",
                f"header = {str(bool(options.get('header', True))).lower()}",
                f"delim = {_lit(options.get('delimiter') or (chr(9) if fmt == 'tsv' else ','))}",
                f"quote = {_lit(options.get('quote') or chr(34))}",
                f"escape = {_lit(options.get('escape') or options.get('quote') or chr(34))}",
                f"skip = {int(options.get('skip_rows', 0))}",
                f"encoding = {_lit(options.get('encoding', 'utf-8'))}",
                "compression = 'auto'",
                f"max_line_size = {MAX_LINE_BYTES}",
                "auto_detect = false",
                "null_padding = false",
            ]
            if columns is not None:
                cols = ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in columns)
                opts.append(f"columns = {{{cols}}}")
            return f"read_csv({paths}, {', '.join(opts)})"
        if fmt in ("json", "jsonl"):
            layout = "newline_delimited" if fmt == "jsonl" else "auto"
            # records: a file of scalars (or of arrays) fails instead of becoming a
            # column named "json"
            return (
                f"read_json({paths}, format = {_lit(layout)}, records = 'true', "
                "filename = true, union_by_name = true, sample_size = -1)"
            )
        if fmt == "parquet":
            return f"read_parquet({paths}, filename = true, file_row_number = true)"
        raise EngineError(f"unknown format {fmt!r}", hint="use csv, tsv, json, jsonl or parquet")

    def stage(self, group: ReadGroup, name: str, *, lazy: bool = False) -> ibis.Table:
        # CSV columns are named by position for the reader (the header line is skipped):
        # a raw header may be empty (a trailing delimiter) or otherwise unusable in SQL
        in_file = (
            tuple(f"c{i}" for i in range(len(group.columns)))
            if group.format in ("csv", "tsv")
            else group.columns
        )
        reader = self._reader_sql(group.format, group.files, group.options, in_file)
        casts = ", ".join(
            f"{self._as_text(group.format, raw)} AS {_q(new)}"
            for raw, new in zip(in_file, group.names, strict=True)
        )
        select = f"{casts}, " if casts else ""
        ids = group.file_ids or tuple(range(1, len(group.files) + 1))
        id_list = "[" + ", ".join(str(int(i)) for i in ids) + "]"
        # file_index (the file's position in the list) maps to its id by list lookup: no
        # per-row join on the file name. Only Parquet has a row-number column; CSV and JSON
        # records stay null until number_records() derives them from the scan order.
        file_id = f"CAST({id_list}[CAST(p.file_index AS BIGINT) + 1] AS BIGINT) AS _hw_file"
        record = (
            "CAST(p.file_row_number + 1 AS BIGINT)"
            if group.format == "parquet"
            else "CAST(NULL AS BIGINT)"
        )
        body = f"SELECT {select}{file_id}, {record} AS _hw_record FROM {reader} p"
        if lazy:  # a view: the files are parsed by the query that reads it
            self.raw.execute(f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS {body}")
            return self.con.table(name)
        if group.format == "parquet":
            self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {_q(name)} AS {body}")
            return self.con.table(name)
        # the text stored in scan order (file by file, line by line), numbered by a view
        raw_name = f"{name}__raw"
        self.raw.execute(f"DROP VIEW IF EXISTS {_q(name)}")
        with self._scan_order(body, raw_name):
            self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {_q(raw_name)} AS {body}")
        return self.number_records(raw_name, view=name)

    @staticmethod
    def _as_text(fmt: str, column: str) -> str:
        if fmt in ("csv", "tsv"):
            return _q(column)
        if fmt in ("json", "jsonl"):
            # JSON values of mixed type arrive as DuckDB's JSON type, whose text keeps the
            # quotes of strings; extracting the root value as a string removes them.
            return f"json_extract_string(to_json({_q(column)}), '$')"
        return f"CAST({_q(column)} AS VARCHAR)"

    def read_parquet(self, paths: list[str], columns: list[str] | None = None) -> ibis.Table:
        cols = ", ".join(_q(c) for c in columns) if columns else "*"
        name = f"_hw_parts_{abs(hash(tuple(paths))) % 10**12}_{len(paths)}"
        self.raw.execute(
            f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT {cols} "
            f"FROM read_parquet({_list(paths)}, union_by_name = true)"
        )
        return self.con.table(name)

    def read_parquet_typed(self, paths: list[str], name: str) -> ibis.Table:
        """Parquet files with their own types, plus ``_hw_file`` (1-based position in
        ``paths``) and ``_hw_record`` (1-based row number in its file); a view, not a copy."""
        self.raw.execute(
            f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT p.* EXCLUDE (file_row_number), "
            f"CAST(p.file_index + 1 AS BIGINT) AS _hw_file, "
            f"CAST(p.file_row_number + 1 AS BIGINT) AS _hw_record "
            f"FROM read_parquet({_list(paths)}, union_by_name = true, "
            f"file_row_number = true) p"
        )
        return self.con.table(name)

    def empty(self, schema: dict[str, str]) -> ibis.Table:
        return ibis.memtable(
            pa.table({k: pa.array([], type=ibis.dtype(v).to_pyarrow()) for k, v in schema.items()})
        )

    def materialize(self, expr: ibis.Table, name: str, *, ordered: bool = False) -> ibis.Table:
        """``expr`` computed once into table ``name``; ``ordered`` keeps the rows in the
        order the expression's scans produce them (see :meth:`number_records`)."""
        # through Ibis (not raw SQL) so that in-memory tables the expression uses are registered
        self.raw.execute(f"DROP VIEW IF EXISTS {_q(name + '__numbered')}")
        self.raw.execute(f"DROP TABLE IF EXISTS {_q(name)}")
        self._wide = len(expr.columns) > WIDE_COLUMNS
        try:
            if self._wide:
                return self._materialize_by_stage(expr, name, ordered=ordered)
            return self._materialize_one(expr, name, ordered=ordered)
        finally:
            self._wide = False

    def _materialize_by_stage(self, expr: ibis.Table, name: str, *, ordered: bool) -> ibis.Table:
        """A wide ``expr`` written one projection (or filter) at a time, each into a table
        of its own that the next one reads.

        Compiled as one query, a stack of projections over thousands of columns costs
        more than linear time twice: Ibis merges the stacked selects (rewrites over the
        whole tree) and DuckDB binds the nested subqueries (1,000 columns, 6 rows: 9 s and
        12 s). Stage by stage each compile and each plan is one flat projection over a
        table (the same: 5 s and 3 s in all). Each stage is a scan of the table before it,
        so the rows keep their order (``ordered``)."""
        import ibis.expr.operations as ops

        before: str | None = None  # the table the current stage reads (dropped after it)
        try:
            for into, stage in _stages(expr.op(), name):
                self.raw.execute(f"DROP TABLE IF EXISTS {_q(into)}")
                # a projection or filter of the stage before, and nothing else: its plan
                # has no join, so an ordered write needs no EXPLAIN to show it
                flat = before is not None and not any(
                    r.name != before for r in stage.find(ops.Relation) if r is not stage
                )
                if (ordered and not flat) or stage.find(ops.InMemoryTable):
                    self._materialize_one(stage.to_expr(), into, ordered=ordered)
                else:  # compiled once, and no schema read back until the last stage
                    sql = str(self.con.compile(stage.to_expr()))
                    with self._insertion_order(ordered):
                        self.raw.execute(f"CREATE TEMP TABLE {_q(into)} AS {sql}")
                if before is not None:
                    self.raw.execute(f"DROP TABLE IF EXISTS {_q(before)}")
                before = into
        finally:
            if before is not None and before != name:
                self.raw.execute(f"DROP TABLE IF EXISTS {_q(before)}")
        return self.con.table(name)

    def _materialize_one(self, expr: ibis.Table, name: str, *, ordered: bool) -> ibis.Table:
        if not ordered:
            with self._optimizers():
                return self.con.create_table(name, obj=expr, temp=True)
        import ibis.expr.operations as ops

        sql = str(self.con.compile(expr))
        with self._scan_order(sql, name):
            if expr.op().find(ops.InMemoryTable):
                return self.con.create_table(name, obj=expr, temp=True)
            # compiled once (a wide query's compile costs more than running it)
            self.raw.execute(f"CREATE TEMP TABLE {_q(name)} AS {sql}")
            return self.con.table(name)

    @contextlib.contextmanager
    def _optimizers(self, *disabled: str) -> Iterator[None]:
        """DuckDB's optimizers ``disabled`` for a statement; for a wide one (see
        :data:`WIDE_COLUMNS`) also the common-subexpression pass, whose time grows with the
        square of a projection's width (200 columns: 1.3 s, 800: 10.7 s of a 13 s query
        over 3 rows) and which our stages do not need (each value is computed once, in the
        projection before the one that uses it)."""
        names = [*disabled, *(["common_subexpressions"] if self._wide else [])]
        if not names:
            yield
            return
        self.raw.execute(f"SET disabled_optimizers = {_lit(','.join(names))}")
        try:
            yield
        finally:
            self.raw.execute("RESET disabled_optimizers")

    @contextlib.contextmanager
    def _insertion_order(self, keep: bool) -> Iterator[None]:
        """A statement whose written rows keep the order of its scans (``keep``) or not;
        see :meth:`_scan_order` for why IN lists then stay expressions."""
        if keep:
            self.raw.execute("SET preserve_insertion_order = true")
        try:
            with self._optimizers(*(["in_clause"] if keep else [])):
                yield
        finally:
            if keep:
                self.raw.execute("SET preserve_insertion_order = false")

    @contextlib.contextmanager
    def _scan_order(self, sql: str, name: str) -> Iterator[None]:
        """Run the statement that writes table ``name`` from query ``sql`` so that its rows
        keep the order of the query's scans (record numbers are derived from it).

        Insertion order is kept through scans, projections and filters, not joins; the
        optimizer plans a long IN list (the NA tokens) as a hash join, which scrambled the
        rows of a CSV parsed in parallel chunks: IN lists stay expressions here, and a plan
        with a join is refused (our own query: a bug, not bad input)."""
        with self._insertion_order(True):
            joins = _joins(self.raw, sql)
            if joins:
                raise RuntimeError(f"an ordered materialization would run {joins}: {name}")
            yield

    def number_records(self, src: str, view: str | None = None) -> ibis.Table:
        """A view (``view``, default ``<src>__numbered``) of a table written in scan order
        in which a null ``_hw_record`` (a CSV or JSON row: their readers have no row
        number) is the row's 1-based position among the rows of its file: the scan keeps
        files in list order and records in file order."""
        firsts = self.raw.execute(
            f"SELECT _hw_file, min(rowid) FROM {_q(src)} WHERE _hw_record IS NULL GROUP BY 1"
        ).fetchall()
        if not firsts and view is None:
            return self.con.table(src)
        low = min((int(f) for f, _ in firsts), default=0)
        slots: list[str] = ["NULL"] * (max((int(f) for f, _ in firsts), default=0) - low + 1)
        for f, first in firsts:
            slots[int(f) - low] = str(int(first))
        name = view or src + "__numbered"
        self.raw.execute(
            f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT * REPLACE (COALESCE(_hw_record, "
            f"CAST(rowid AS BIGINT) - [{', '.join(slots)}][_hw_file - {low} + 1] + 1) "
            f"AS _hw_record) FROM {_q(src)}"
        )
        return self.con.table(name)

    def write_parquet(self, expr: ibis.Table, path: str) -> int:
        store = self._store_of(path) if "://" in path else None
        target = path
        if store is not None:  # written here at DuckDB's speed, then uploaded once, whole
            folder = self.raw.execute("SELECT current_setting('temp_directory')").fetchall()
            target = os.path.join(str(folder[0][0]), f"upload-{uuid.uuid4().hex}.parquet")
        make_dirs(os.path.dirname(target))
        try:
            self.con.to_parquet(expr, target, compression="zstd", row_group_size=122_880)
            restrict(target)  # DuckDB creates it 0o666 minus the umask
            rows = self.raw.execute(
                f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata({_lit(target)})"
            ).fetchall()
            if store is not None and rows and rows[0][0]:  # an empty part is not kept
                store.put_file(target, path[len(store.root) :].lstrip("/"))
        finally:
            if store is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target)
        return int(rows[0][0]) if rows else 0

    def attach_store(self, store: Store) -> None:
        # DuckDB's fsspec bridge: its readers open the store's URLs through the filesystem
        # (at Python speed; the httpfs extension would be downloaded, which fails offline)
        if store.root in self._stores:
            return
        scheme = store.root.split("://", 1)[0]
        # one filesystem per scheme on a connection (fsspec hands out one instance per set
        # of options): a second store of the scheme with other options cannot be served
        same = [s.fs for s in self._stores.values() if s.root.startswith(f"{scheme}://")]
        known = same[0] if same else None
        if known is None:
            self.raw.register_filesystem(store.fs)
        elif known is not store.fs:
            raise EngineError(
                f"this DuckDB engine already reads {scheme}:// URLs with other options than "
                f"those of {store.root!r}",
                hint=f"give every {scheme}:// path of the project the same [storage.{scheme}] "
                "options, or use one engine per project",
                url=store.root,
            )
        self._stores[store.root] = store

    def _store_of(self, url: str) -> Store:
        for root, store in self._stores.items():
            if url.startswith(root.rstrip("/") + "/"):
                return store
        raise EngineError(
            f"cannot write {url!r}: no store is attached for it",
            hint="this is a bug in headwater: the workspace attaches the dataset's store",
            url=url,
        )

    def digest_halves(
        self,
        table: ibis.Table,
        text_column: str,
        names: tuple[str, str] = FP_COLUMNS,
    ) -> ibis.Table:
        """:func:`headwater.tables.fingerprint.digest_halves`, computed from ``md5_number``.

        One projection per step, so that each value is computed once (a macro repeats its
        argument wherever it is used)."""
        rest = [c for c in table.columns if c != text_column]
        n = table.select(*rest, _hw_md5=_md5_number(table[text_column]))
        u = n.select(*rest, _hw_u0=_low64(n._hw_md5), _hw_u1=_high64(n._hw_md5))
        b = u.select(*rest, _hw_b0=_bswap64(u._hw_u0), _hw_b1=_bswap64(u._hw_u1))
        return b.select(*rest, **{names[0]: _minus_half(b._hw_b0), names[1]: _minus_half(b._hw_b1)})

    def to_pyarrow(self, expr: ibis.Table, *, sequential: bool = False) -> pa.Table:
        import ibis.expr.operations as ops

        if expr.op().find(ops.InMemoryTable):  # Ibis registers in-memory tables first
            return self.con.to_pyarrow(expr)
        # compiled by Ibis, run by DuckDB: Ibis's own result conversion imports pandas
        # (a third of a second on every command that reads data)
        sql = self.con.compile(expr)
        if not sequential:
            return self.raw.sql(sql).to_arrow_table()
        # one thread: scans, and so windows with no ORDER BY, list rows in storage order
        threads = self.scalar("SELECT current_setting('threads')")
        self.raw.execute("SET threads = 1")
        try:
            return self.raw.sql(sql).to_arrow_table()
        finally:
            self.raw.execute(f"SET threads = {int(threads)}")

    def scalar(self, sql: str) -> Any:
        rows = self.raw.execute(sql).fetchall()
        return rows[0][0] if rows else None

    def check_regex(self, pattern: str) -> str | None:
        try:
            self.raw.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:  # RE2 refused it (look-around, back-references)
            return str(exc).splitlines()[0]
        return None

    def temp_tables(self) -> set[str]:
        # Ibis registers in-memory tables as views of its own: they are not ours to drop
        rows = self.raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'temp'"
        ).fetchall()
        return {r[0] for r in rows if not r[0].startswith("ibis_")}

    def drop(self, name: str) -> None:
        kinds = self.raw.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            f"WHERE table_name IN ({_lit(name)}, {_lit(name + '__raw')})"
        ).fetchall()
        for table, kind in sorted(kinds, key=lambda r: r[1] != "VIEW"):  # views first
            what = "VIEW" if kind == "VIEW" else "TABLE"
            self.raw.execute(f"DROP {what} IF EXISTS {_q(table)}")

    def close(self) -> None:
        self.con.disconnect()
