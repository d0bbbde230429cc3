"""The scale-out engine: Spark through Ibis's pyspark backend.

The same Ibis expressions as on DuckDB (DESIGN.md decision 1); this module only connects,
reads files into tables (every value as text, with ``_hw_file`` and ``_hw_record``),
materializes, and writes one Parquet file.

The session. Inside ``spark-submit`` or a notebook the active session is used: it is never
stopped, and the settings this engine needs while it runs (:data:`_SETTINGS`, among them
the two Ibis's ``connect`` sets) are put back as they were by :meth:`SparkEngine.close`.
Otherwise a session is built from ``[engine] master`` (default ``local[*]``) and
``conf``, with its warehouse, Derby metastore, scratch space and event logs kept under the
project's ``.headwater/spark`` (the product writes nothing outside the project or a temp
folder), no web UI, and it is stopped on close. Nothing is downloaded (no
``spark.jars.packages``).

Record numbers. Spark's readers have no row number for CSV or JSON, and
``monotonically_increasing_id`` depends on the partitioning. Each read is frozen once
(``localCheckpoint``) with the file it came from, its partition and its position in that
partition; the splits of one file are read in offset order into partitions in increasing
order (Spark sorts splits by size, stably, and only a file's last split is smaller), so a
file's record number is its row's rank over (partition, position): computed from one small
aggregate per (file, partition), the same whatever the partitioning, and equal to DuckDB's.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import ibis
import ibis.backends.pyspark  # an ImportError here names the extra to install
import pyarrow as pa
from ibis.backends.sql.compilers.pyspark import PySparkCompiler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from headwater._files import make_dirs, restrict
from headwater.config import EngineConfig
from headwater.engines.base import FP_COLUMNS, Capabilities, ReadGroup
from headwater.errors import EngineError
from headwater.storage import Store

log = logging.getLogger(__name__)

# Session settings this engine needs while it runs (the first two are set by Ibis's
# connect): restored on close, so a user's session is as it was.
_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    # readable as timestamps by every engine (Spark's default, INT96, is deprecated)
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

# Defaults of a session this engine builds on one machine (``local[…]``; ``[engine] conf``
# overrides them). A read of more than 32 paths lists them with a Spark job of one task per
# path (9 s for 1,000 files on local[2]); on one machine the driver lists them in no time.
_LOCAL = {"spark.sql.sources.parallelPartitionDiscovery.threshold": "1000000"}

_POS_BITS = 33  # monotonically_increasing_id: partition id << 33 | position in partition


def _subnormal_texts() -> str:
    """``map(x, text, …)`` of the subnormal doubles whose shortest text has one digit (the
    ~150 values ``float("de-E")``): Schubfach, like Java, writes at least two digits, and
    for a normal double the closest two are ``d.0``, but not for these (``4.9E-324`` is
    Python's ``5e-324``)."""
    found = {
        repr(x)
        for x in (float(f"{d}e{e}") for d in range(1, 10) for e in range(-324, -307))
        if 0 < x < sys.float_info.min and len(repr(x).split("e")[0]) == 1
    }
    return "map(" + ", ".join(f"CAST('{t}' AS DOUBLE), '{t}'" for t in sorted(found)) + ")"


# Spark's text of a double is Java's (``1.0E-5``, and on Java 17 not always the shortest
# digits: ``9.999999999999999E22`` for 1e23); DuckDB's and Python's is the shortest
# round-trip repr (``1e-05``), and fingerprints must not differ. Every double → string cast
# compiled for this engine is therefore this expression, all in the JVM: the shortest
# digits from Schubfach (Jackson's port of the algorithm behind Java 19's Double.toString,
# on Spark's class path), laid out as Python does (positional for a decimal point position
# ``e`` in (-4, 16], else ``d.ddde±XX``). Reflection is called once per value, only for a
# value that is not null (fingerprints give the function only the values whose source text
# was not already their shortest form), and the lambdas bind each part once.
_SCHUBFACH = "com.fasterxml.jackson.core.io.schubfach.DoubleToDecimal"
_SUBNORMAL = _subnormal_texts()
_FLOAT_TEXT = """CASE
    WHEN ({x}) IS NULL THEN CAST(NULL AS STRING)
    WHEN isnan({x}) THEN 'nan'
    WHEN ({x}) = CAST('Infinity' AS DOUBLE) THEN 'inf'
    WHEN ({x}) = CAST('-Infinity' AS DOUBLE) THEN '-inf'
    WHEN ({x}) = 0 THEN CAST(({x}) AS STRING)
    WHEN abs({x}) < 2.2250738585072014E-308 AND element_at(SUBNORMAL, abs({x})) IS NOT NULL
        THEN concat(IF(({x}) < 0, '-', ''), element_at(SUBNORMAL, abs({x})))
    ELSE transform(array(java_method('SCHUBFACH', 'toString', {x})), j ->
      transform(array(named_struct(
          'neg', startswith(j, '-'), 'a', IF(startswith(j, '-'), substr(j, 2), j))), p ->
        transform(array(IF(instr(p.a, 'E') > 0,
            named_struct(
              'd', regexp_replace(replace(substring_index(p.a, 'E', 1), '.', ''), '0+$', ''),
              'e', try_cast(substring_index(p.a, 'E', -1) AS INT) + 1),
            IF(substring_index(p.a, '.', 1) != '0',
              named_struct(
                'd', regexp_replace(replace(p.a, '.', ''), '0+$', ''),
                'e', length(substring_index(p.a, '.', 1))),
              named_struct(
                'd', regexp_replace(regexp_replace(substring_index(p.a, '.', -1), '^0+', ''),
                                    '0+$', ''),
                'e', length(regexp_replace(substring_index(p.a, '.', -1), '^0+', ''))
                     - length(substring_index(p.a, '.', -1)))))), q ->
          concat(IF(p.neg, '-', ''), CASE
            WHEN q.e > 16 OR q.e <= -4 THEN concat(
              substr(q.d, 1, 1), IF(length(q.d) > 1, concat('.', substr(q.d, 2)), ''), 'e',
              IF(q.e - 1 < 0, '-', '+'), IF(abs(q.e - 1) < 10, '0', ''),
              CAST(abs(q.e - 1) AS STRING))
            WHEN q.e <= 0 THEN concat('0.', repeat('0', -q.e), q.d)
            WHEN q.e < length(q.d) THEN concat(substr(q.d, 1, q.e), '.', substr(q.d, q.e + 1))
            ELSE concat(q.d, repeat('0', q.e - length(q.d)), '.0') END))[0])[0])[0]
END""".replace("SUBNORMAL", _SUBNORMAL).replace("SCHUBFACH", _SCHUBFACH)


def float_text_sql(x: str) -> str:
    """Spark SQL for Python's text of the double ``x`` (an SQL expression): see above."""
    return _FLOAT_TEXT.replace("{x}", x)


_PLACEHOLDER = "_hw_float_text_arg"


@functools.cache
def _float_text_tree() -> Any:
    """:func:`float_text_sql` parsed once, its argument a placeholder column."""
    import sqlglot

    return sqlglot.parse_one(float_text_sql(_PLACEHOLDER), read="spark")


class _Compiler(PySparkCompiler):
    """Ibis's Spark SQL compiler, with DuckDB's text of doubles (see :func:`float_text_sql`)."""

    def visit_Cast(self, op: Any, *, arg: Any, to: Any) -> Any:
        if to.is_string() and op.arg.dtype.is_floating():
            import sqlglot.expressions as sge

            # the template's tree with ``arg`` in place of its placeholder (a copy; the
            # template is parsed once, not once per cast)
            return _float_text_tree().transform(
                lambda n: arg.copy() if isinstance(n, sge.Column) and n.name == _PLACEHOLDER else n
            )
        return super().visit_Cast(op, arg=arg, to=to)

    def visit_Strftime(self, op: Any, *, arg: Any, format_str: Any) -> Any:
        # sqlglot leaves literal letters of a format unquoted ('T' in an ISO timestamp),
        # which Spark refuses: a literal format is translated here, quoting literal text
        import ibis.expr.operations as ops
        import sqlglot.expressions as sge

        fmt = op.format_str
        if not isinstance(fmt, ops.Literal):
            return super().visit_Strftime(op, arg=arg, format_str=format_str)
        return self.f.date_format(arg, sge.convert(_java_format(str(fmt.value))))


_STRFTIME = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS"}


def _java_format(fmt: str) -> str:
    """A strftime format (the directives in :data:`_STRFTIME`) as a Spark datetime pattern."""
    out, literal, i = [], "", 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt) and fmt[i + 1] in _STRFTIME:
            if literal:
                out.append("'" + literal.replace("'", "''") + "'")
                literal = ""
            out.append(_STRFTIME[fmt[i + 1]])
            i += 2
        else:
            literal += fmt[i]
            i += 1
    if literal:
        out.append("'" + literal.replace("'", "''") + "'")
    return "".join(out)


def explain(exc: BaseException) -> str:
    """A Spark failure as its deepest cause's message, then the whole text (Py4J's first
    line, "An error occurred while calling o80.localCheckpoint.", says nothing)."""
    text = str(exc)
    head = text.split("\nDriver stacktrace:", 1)[0]
    causes = re.findall(r"^(?:Caused by: |: )[\w.$]+: (.+)$", head, re.M)
    lines = [line for line in text.splitlines() if line.strip()]
    first = causes[-1] if causes else (lines[0] if lines else type(exc).__name__)
    first = re.sub(r"\s*SQLSTATE: \w+\s*$", "", first).strip()
    return f"{first}\n{text}"


@contextlib.contextmanager
def _explaining() -> Any:
    """Reading failures re-raised with their cause first (see :func:`explain`)."""
    from headwater.errors import HeadwaterError

    try:
        yield
    except (HeadwaterError, KeyboardInterrupt, MemoryError, OSError):
        raise
    except Exception as exc:
        raise RuntimeError(explain(exc)) from exc


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _session(config: EngineConfig, project_root: Path) -> tuple[SparkSession, bool]:
    """The active session (not ours), or a new one built from ``config`` (ours)."""
    active = SparkSession.getActiveSession()
    if active is None:
        active = SparkSession._instantiatedSession  # made on another thread
    if active is None and not config.master and os.environ.get("PYSPARK_GATEWAY_PORT"):
        # a Python application of spark-submit (or the pyspark shell) before its first
        # session: the session is the application's, its settings the submit's options
        active = SparkSession.builder.getOrCreate()
    if active is not None:
        master = active.sparkContext.master
        if config.master and config.master != master:
            log.warning(
                "[engine] master %r ignored: using the active Spark session (%s)",
                config.master,
                master,
            )
        if config.conf:
            log.warning("[engine] conf ignored: the active Spark session keeps its settings")
        return active, False
    state = project_root / ".headwater" / "spark"
    folders = {k: state / k for k in ("warehouse", "local", "derby", "events")}
    for folder in folders.values():
        make_dirs(folder)
    master = config.master or "local[*]"
    conf = {
        "spark.app.name": "headwater",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": str(folders["warehouse"]),
        "spark.local.dir": str(folders["local"]),
        "spark.eventLog.dir": str(folders["events"]),
        **_SETTINGS,
        **(_LOCAL if master.startswith("local") else {}),
        **config.conf,
    }
    derby = f"-Dderby.system.home={folders['derby']}"
    conf["spark.driver.extraJavaOptions"] = " ".join(
        x for x in (config.conf.get("spark.driver.extraJavaOptions"), derby) if x
    )
    builder = SparkSession.builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
        if master.startswith("local") and session.sparkContext.pythonExec == "python3":
            # pyspark's default when PYSPARK_PYTHON is not set: Python workers, if Spark
            # starts any, must run this interpreter, whatever `python3` is on the PATH
            session.sparkContext.pythonExec = sys.executable
        return session, True
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EngineError(
            f"cannot start Spark ({master}): {first}",
            hint="check [engine] master and conf, and that Java 17 or 21 is installed",
            engine="spark",
        ) from exc


class SparkEngine:
    """Spark via Ibis: the active session, or one built from ``[engine] master``/``conf``."""

    name = "spark"
    # Spark requires an ORDER BY in lag/lead/row_number windows; records are numbered as
    # files are staged; there is no "one worker, storage order" mode
    capabilities = Capabilities()

    def __init__(self, config: EngineConfig, project_root: Path) -> None:
        self.session, self._owned = _session(config, project_root)
        conf = self.session.conf
        self._saved = {k: conf.get(k, None) for k in _SETTINGS}
        try:
            self.con = ibis.pyspark.connect(self.session)
            for key, value in _SETTINGS.items():
                conf.set(key, value)
        except Exception as exc:
            self._restore()
            raise EngineError(f"cannot connect Ibis to Spark: {exc}", engine="spark") from exc
        self.con.compiler = _Compiler()
        self._check_schubfach()
        # in-memory tables go to Spark as Arrow: Ibis's way, through pandas, turns the
        # nulls of an int column into floats and those of a string column into 'NaN'
        self.con._register_in_memory_table = self._register_memtable
        self._views: dict[str, DataFrame | None] = {}  # ours, with the frame they hold
        # where ingest copies remote sources (on the driver: see _check_readable)
        self._staging = os.path.join(os.path.abspath(project_root), ".headwater", "staging")

    def _check_schubfach(self) -> None:
        """The text of a double needs Jackson's Schubfach class (see :func:`float_text_sql`):
        a Spark without it is refused here, not at the first float of a job."""
        jvm = self.session._jvm
        assert jvm is not None
        try:
            jvm.java.lang.Class.forName(_SCHUBFACH)
        except Exception as exc:
            if self._owned:
                self.session.stop()
            else:
                self._restore()
            raise EngineError(
                f"this Spark has no {_SCHUBFACH} (jackson-core 2.14 or later), which "
                "headwater needs for the text of a double",
                hint="use Spark 3.5 or 4.0 as released (they ship jackson-core 2.15 or later)",
                engine="spark",
            ) from exc

    def _register_memtable(self, op: Any) -> None:
        from ibis.backends.pyspark.datatypes import PySparkSchema

        data = op.data.to_pyarrow(op.schema)
        df = self.session.createDataFrame(data, schema=PySparkSchema.from_ibis(op.schema))
        df.createOrReplaceTempView(op.name)

    # -- reading -----------------------------------------------------------------------

    def raw_columns(self, fmt: str, path: str, options: dict[str, Any]) -> list[str]:
        with _explaining():
            return self._raw_columns(fmt, path)

    def _raw_columns(self, fmt: str, path: str) -> list[str]:
        if fmt == "parquet":
            return list(self.session.read.parquet(path).columns)
        if fmt in ("json", "jsonl"):
            # Spark's schema inference sorts the names; DuckDB's, and ours, are in order of
            # first appearance in the file
            return _json_keys(path, fmt)
        raise EngineError(f"raw_columns reads JSON and Parquet headers, not {fmt!r}")

    def _reader(
        self, fmt: str, files: tuple[str, ...], options: dict[str, Any], columns: tuple[str, ...]
    ) -> DataFrame:
        """The files' rows as text columns ``columns`` (header lines included for CSV)."""
        text = T.StructType([T.StructField(c, T.StringType()) for c in columns])
        read = self.session.read
        if fmt in ("csv", "tsv"):
            quote = options.get("quote") or '"'
            return read.csv(
                list(files),
                schema=text,
                sep=options.get("delimiter") or ("\t" if fmt == "tsv" else ","),
                quote=quote,
                escape=options.get("escape") or quote,
                header=False,  # header and skipped lines are dropped by record number
                multiLine=True,  # quoted newlines, as DuckDB; a file is then one split
                mode="FAILFAST",
                encoding=options.get("encoding", "utf-8"),
                unescapedQuoteHandling="RAISE_ERROR",
                ignoreLeadingWhiteSpace=False,
                ignoreTrailingWhiteSpace=False,
                enforceSchema=True,
            )
        if fmt in ("json", "jsonl"):
            frames = []
            # a JSON file is one document (an array of objects, or one object); JSONL and
            # JSON written one object per line are read line by line (splittable)
            whole = [f for f in files if fmt == "json" and _is_document(f)]
            lines = [f for f in files if f not in whole]
            for group, multi in ((whole, True), (lines, False)):
                if group:
                    frames.append(
                        read.json(
                            group,
                            schema=text,
                            multiLine=multi,
                            mode="FAILFAST",
                            primitivesAsString=True,
                        )
                    )
            if len(frames) == 1:
                return frames[0]
            # each read tagged with its files before the union (see _numbered)
            out = _tag(frames[0])
            for other in frames[1:]:
                out = out.unionByName(_tag(other))
            return out
        if fmt == "parquet":
            df = read.parquet(*files)
            return df.select(*[self._as_text(df, c) for c in columns])
        raise EngineError(f"unknown format {fmt!r}", hint="use csv, tsv, json, jsonl or parquet")

    @staticmethod
    def _as_text(df: DataFrame, column: str) -> Any:
        kind = df.schema[column].dataType
        col = F.col(_q(column))
        if isinstance(kind, T.DoubleType | T.FloatType):
            return F.expr(float_text_sql(f"CAST({_q(column)} AS DOUBLE)")).alias(column)
        if isinstance(kind, T.StringType):
            return col
        return col.cast("string").alias(column)

    def _numbered(
        self, df: DataFrame, files: tuple[str, ...], ids: tuple[int, ...], skip: int = 0
    ) -> DataFrame:
        """``df`` (one reader's rows) with ``_hw_file`` and ``_hw_record``, the 1-based
        record number within its file after its first ``skip`` records (see the module
        docstring), frozen so that a later query reads the same rows."""
        qualified = {self._qualified(f): i for f, i in zip(files, ids, strict=True)}
        tagged = (df if "_hw_path" in df.columns else _tag(df)).localCheckpoint(eager=True)
        runs = (
            tagged.groupBy("_hw_path", "_hw_part")
            .agg(
                F.min("_hw_pos").alias("first"),
                F.count(F.lit(1)).alias("n"),
                F.max("_hw_pos").alias("last"),
            )
            .collect()
        )
        bases: list[tuple[str, int, int, int]] = []
        seen: dict[str, int] = {}
        rows = [r.asDict() | {"_hw_path": _same_uri(r["_hw_path"])} for r in runs]
        for r in sorted(rows, key=lambda r: (r["_hw_path"], r["_hw_part"])):
            if r["last"] - r["first"] + 1 != r["n"]:  # a file's rows not contiguous: our bug
                raise RuntimeError(f"rows of {r['_hw_path']} are not contiguous in a partition")
            if r["_hw_path"] not in qualified:
                raise RuntimeError(f"Spark read {r['_hw_path']!r}, not one of {sorted(qualified)}")
            before = seen.get(r["_hw_path"], 0)
            # record = pos - first + before + 1 - skip
            bases.append(
                (
                    r["_hw_path"],
                    int(r["_hw_part"]),
                    before + 1 - skip - int(r["first"]),
                    qualified[r["_hw_path"]],
                )
            )
            seen[r["_hw_path"]] = before + int(r["n"])
        schema = "_hw_path string, _hw_part int, _hw_base long, _hw_id long"
        table = self.session.createDataFrame(bases, schema)
        # file:/x and file:///x are one file (the reader spells it the first way)
        tagged = tagged.withColumn("_hw_path", F.regexp_replace("_hw_path", "^file:///", "file:/"))
        joined = tagged.join(F.broadcast(table), ["_hw_path", "_hw_part"], "inner")
        data = [c for c in df.columns if c not in ("_hw_file", "_hw_record", *_TAGS)]
        out = joined.select(
            *[F.col(_q(c)) for c in data],
            F.col("_hw_id").alias("_hw_file"),
            (F.col("_hw_pos") + F.col("_hw_base")).alias("_hw_record"),
        )
        return out.where(F.col("_hw_record") >= 1) if skip else out

    def _qualified(self, path: str) -> str:
        """``path`` as Spark's ``_metadata.file_path`` spells it (a qualified, encoded URI)."""
        jvm = self.session._jvm
        assert jvm is not None
        p = jvm.org.apache.hadoop.fs.Path(path)
        fs = p.getFileSystem(self.session._jsc.hadoopConfiguration())
        return _same_uri(str(fs.makeQualified(p).toUri().toString()))

    def stage(self, group: ReadGroup, name: str, *, lazy: bool = False) -> ibis.Table:
        # records are numbered here, lazy or not (capabilities.lazy_records is False)
        with _explaining():
            return self._stage(group, name)

    def _check_readable(self, files: tuple[str, ...]) -> None:
        """Refuse, on a cluster, files that a remote source staged on the driver: the
        executors would not find them (reading remote sources where they are, through
        ``s3a://``, is not built)."""
        master = self.session.sparkContext.master or ""
        if master.startswith("local"):
            return
        staged = [f for f in files if os.path.abspath(f).startswith(self._staging + os.sep)]
        if staged:
            raise EngineError(
                f"{len(staged)} file(s) of a remote source are copied to the driver, which "
                f"the executors of {master} cannot read",
                hint="on a cluster, read sources from a filesystem every executor mounts "
                "(hdfs://, a shared folder), or run this ingest with [engine] master = "
                '"local[*]" or on DuckDB (see the README, Remote storage)',
            )

    def _stage(self, group: ReadGroup, name: str) -> ibis.Table:
        self._check_readable(group.files)
        csv = group.format in ("csv", "tsv")
        in_file = tuple(f"c{i}" for i in range(len(group.columns))) if csv else group.columns
        ids = group.file_ids or tuple(range(1, len(group.files) + 1))
        df = self._reader(group.format, group.files, group.options, in_file)
        skip = 0
        if csv:
            skip = int(group.options.get("skip_rows", 0)) + bool(group.options.get("header", True))
        numbered = self._numbered(df, group.files, ids, skip)
        out = numbered.select(
            *[F.col(_q(raw)).alias(new) for raw, new in zip(in_file, group.names, strict=True)],
            "_hw_file",
            "_hw_record",
        )
        return self._view(out, name)

    def _view(self, df: DataFrame, name: str, *, freeze: bool = False) -> ibis.Table:
        if freeze:
            df = df.localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._views[name] = df
        return self.con.table(name)

    def read_parquet(self, paths: list[str], columns: list[str] | None = None) -> ibis.Table:
        df = self.session.read.option("mergeSchema", "true").parquet(*paths)
        if columns:
            df = df.select(*[F.col(_q(c)) for c in columns])
        return self._view(df, f"_hw_parts_{uuid.uuid4().hex[:12]}")

    def read_parquet_typed(self, paths: list[str], name: str) -> ibis.Table:
        with _explaining():
            df = self.session.read.option("mergeSchema", "true").parquet(*paths)
            ids = tuple(range(1, len(paths) + 1))
            return self._view(self._numbered(df, tuple(paths), ids), name)

    def empty(self, schema: dict[str, str]) -> ibis.Table:
        return ibis.memtable(
            pa.table({k: pa.array([], type=ibis.dtype(v).to_pyarrow()) for k, v in schema.items()})
        )

    def _frame(self, expr: ibis.Table) -> DataFrame:
        self.con._run_pre_execute_hooks(expr)  # in-memory tables and UDFs registered
        return self.session.sql(str(self.con.compile(expr)))

    def materialize(self, expr: ibis.Table, name: str, *, ordered: bool = False) -> ibis.Table:
        # ``ordered`` needs nothing here: records were numbered when staged
        return self._view(self._frame(expr), name, freeze=True)

    def number_records(self, src: str, view: str | None = None) -> ibis.Table:
        """Records are numbered when staged: ``src`` itself (or a view of it, ``view``)."""
        if view is None:
            return self.con.table(src)
        return self._view(self.session.table(_q(src)), view)

    def write_parquet(self, expr: ibis.Table, path: str) -> int:
        """One Parquet file at ``path``: Spark writes a folder of parts, so one part is
        written into a scratch folder next to ``path`` and moved into place."""
        folder = os.path.dirname(os.path.abspath(path))
        make_dirs(folder)
        scratch = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.spark")
        try:
            df = self._frame(expr).coalesce(1)
            df.write.mode("error").option("compression", "zstd").parquet(scratch)
            parts = sorted(p for p in os.listdir(scratch) if p.endswith(".parquet"))
            if len(parts) > 1:
                raise RuntimeError(f"Spark wrote {len(parts)} parts for one file: {scratch}")
            if parts:
                os.replace(os.path.join(scratch, parts[0]), path)
            else:  # no rows, no part: the schema alone
                import pyarrow.parquet as pq

                pq.write_table(expr.schema().to_pyarrow().empty_table(), path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        restrict(path)
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows)

    def digest_halves(
        self,
        table: ibis.Table,
        text_column: str,
        names: tuple[str, str] = FP_COLUMNS,
    ) -> ibis.Table:
        """:func:`headwater.tables.fingerprint.digest_halves` without 64-bit unsigned
        arithmetic (Spark has none): a half minus 2**63, as int64, is the half with its top
        bit flipped read as a signed number, so the first hex digit is flipped (``0``↔``8``
        … ``7``↔``f``) and ``conv(…, 16, -10)`` reads the 16 digits as a signed number."""
        rest = [c for c in table.columns if c != text_column]
        h = table.select(*rest, _hw_fp_hex=table[text_column].hexdigest("md5"))
        hexed = h._hw_fp_hex

        def signed(start: int) -> Any:
            top = hexed.substr(start, 1).translate("0123456789abcdef", "89abcdef01234567")
            return _conv(top + hexed.substr(start + 1, 15), 16, -10).cast("int64")

        return h.select(*rest, **{names[0]: signed(0), names[1]: signed(16)})

    def to_pyarrow(self, expr: ibis.Table, *, sequential: bool = False) -> pa.Table:
        from ibis.formats.pyarrow import PyArrowData

        df = self._frame(expr)
        if hasattr(df, "toArrow"):  # pyspark >= 4.0
            table = df.toArrow()
        else:  # pragma: no cover - pyspark 3.5
            return self.con.to_pyarrow(expr)
        return PyArrowData.convert_table(table, expr.schema())

    def check_regex(self, pattern: str) -> str | None:
        """Spark matches with ``java.util.regex``: compiled by the JVM itself."""
        jvm = self.session._jvm
        assert jvm is not None
        try:
            jvm.java.util.regex.Pattern.compile(pattern)
        except Exception as exc:  # py4j wraps PatternSyntaxException
            text = str(exc).strip()
            for line in text.splitlines():
                if "PatternSyntaxException" in line:
                    return line.split("PatternSyntaxException:", 1)[-1].strip()
            return text.splitlines()[0] if text else type(exc).__name__
        return None

    def attach_store(self, store: Store) -> None:
        # Spark's readers and writers open paths through Hadoop's filesystems on every
        # executor (s3a:// with the hadoop-aws JARs), not through fsspec on the driver:
        # that path is not built yet, so a URL dataset fails here, before any work
        raise EngineError(
            f"the Spark engine cannot keep the dataset at a URL yet ({store.root!r})",
            hint="use a local or cluster-mounted dataset path with the Spark engine, or "
            '[engine] name = "duckdb" for a dataset in an object store (see the README, '
            "Remote storage)",
            url=store.root,
        )

    def temp_tables(self) -> set[str]:
        return set(self._views)

    def drop(self, name: str) -> None:
        for view in (name, name + "__raw"):
            if view in self._views:
                df = self._views.pop(view)
                self.session.catalog.dropTempView(view)
                if df is not None:
                    df.unpersist()

    def _restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                self.session.conf.unset(key)
            else:
                self.session.conf.set(key, value)

    def close(self) -> None:
        for name in list(self._views):
            self.drop(name)
        if self._owned:
            self.session.stop()
            return
        self._restore()  # the user's session, as it was


@ibis.udf.scalar.builtin(name="conv")
def _conv(value: str, from_base: int, to_base: int) -> str:  # type: ignore[empty-body]
    """Spark's ``conv``: digits in one base as digits in another (negative: signed)."""


_TAGS = ("_hw_path", "_hw_part", "_hw_pos")


def _tag(df: DataFrame) -> DataFrame:
    """One reader's rows with the file each came from, its partition and its position in
    that partition (the inputs of the record numbers, see SparkEngine._numbered)."""
    mask = (1 << _POS_BITS) - 1
    return df.select(
        "*",
        F.col("_metadata.file_path").alias("_hw_path"),
        F.spark_partition_id().alias("_hw_part"),
        (F.monotonically_increasing_id().bitwiseAND(F.lit(mask))).alias("_hw_pos"),
    )


def _same_uri(uri: str) -> str:
    return "file:/" + uri[len("file:///") :] if uri.startswith("file:///") else uri


def _is_document(path: str) -> bool:
    """Whether a ``.json`` file is one JSON document (an array, or an object over several
    lines) rather than one object per line."""
    import json

    with _open_text(path) as f:
        head = f.read(1 << 16).lstrip()
        if head.startswith("["):
            return True
        first = head.split("\n", 1)[0]
    try:
        json.loads(first)
    except ValueError:
        return True
    return False


def _open_text(path: str) -> Any:
    import fsspec

    return fsspec.open(path, "rt", encoding="utf-8", compression="infer").open()


def _json_keys(path: str, fmt: str) -> list[str]:
    """The keys of a JSON(L) file's objects in order of first appearance."""
    import json

    keys: dict[str, None] = {}
    try:
        if fmt == "json" and _is_document(path):
            with _open_text(path) as f:
                doc = json.load(f)
            rows = doc if isinstance(doc, list) else [doc]
        else:
            with _open_text(path) as f:
                rows = [json.loads(line) for line in f if line.strip()]
    except ValueError as exc:  # said as the engine's reader would (tables.read.engine_reason)
        raise RuntimeError(f"malformed JSON: {exc}") from exc
    for row in rows:
        if not isinstance(row, dict):
            raise EngineError(
                "expected records: the file holds non-record JSON values (not objects)"
            )
        keys.update(dict.fromkeys(row))
    return list(keys)


__all__ = ["SparkEngine", "explain"]
