"""What every engine provides to the stages of the flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import ibis
    import pyarrow as pa

    from headwater.storage import Store


# the two int64 halves of a row's fingerprint, as every engine writes them
# (the fingerprint itself is engine-neutral: headwater.tables.fingerprint)
FP_COLUMNS = ("_hw_fp_hi", "_hw_fp_lo")

# The longest CSV line the engine's reader takes (DuckDB's ``max_line_size``, set to this
# in its reader). A longer line fails the read, except a last line longer than the
# reader's buffer (16 × this): that row is dropped without an error, so the last line of
# every CSV file is measured before it is read (see ``headwater.tables.read.last_line_too_long``).
MAX_LINE_BYTES = 2_000_000

# Above this many columns a batch counts as wide: a stack of projections over it is
# cheaper computed one stage at a time (each stage a table the next reads) than compiled
# and planned as one nested query, whose cost grows faster than the column count
# (Ibis's rewrites and the engine's binder walk the whole stack for every column)
WIDE_COLUMNS = 256


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, declared (the stages ask this, never ``getattr``).

    ``window_without_order``: lag/lead/row_number over a window with no ORDER BY are
    allowed and cheap (one pass, rows in the order the engine lists them); Spark requires
    an order. ``lazy_records``: :meth:`Engine.stage` with ``lazy`` leaves CSV/JSON record
    numbers null until :meth:`Engine.number_records` (DuckDB); otherwise every staged row
    is numbered at once. ``sequential_scan``: ``to_pyarrow(sequential=True)`` lists rows in
    storage order."""

    window_without_order: bool = False
    lazy_records: bool = False
    sequential_scan: bool = False


@dataclass(frozen=True)
class ReadGroup:
    """Files of one source that share a format, options and raw header: one read.

    ``columns`` are the raw names in the files; ``names`` the normalised names they
    are read into. Every value is read as text; typing is the pipeline's job.
    """

    format: str
    files: tuple[str, ...]
    columns: tuple[str, ...]
    names: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    file_ids: tuple[int, ...] = ()  # one per file: the id its rows carry as ``_hw_file``


class Engine(Protocol):
    """Connect, read files into tables, write tables out."""

    name: str
    con: Any  # the Ibis backend
    capabilities: Capabilities

    def raw_columns(self, fmt: str, path: str, options: dict[str, Any]) -> list[str]:
        """The column names of one JSON or Parquet file, in file order."""
        ...

    def stage(self, group: ReadGroup, name: str, *, lazy: bool = False) -> ibis.Table:
        """Read a group as text into table ``name`` with ``_hw_file`` and ``_hw_record``.

        ``lazy``: a view that the next query parses; its CSV and JSON rows have a null
        ``_hw_record`` until :meth:`number_records` (on the table that query wrote)."""
        ...

    def read_parquet(self, paths: list[str], columns: list[str] | None = None) -> ibis.Table:
        """Read Parquet parts (union by name) as one table."""
        ...

    def read_parquet_typed(self, paths: list[str], name: str) -> ibis.Table:
        """Parquet files with their own types, ``_hw_file`` and ``_hw_record``."""
        ...

    def empty(self, schema: dict[str, str]) -> ibis.Table:
        """An empty table with the given Ibis schema."""
        ...

    def materialize(self, expr: ibis.Table, name: str, *, ordered: bool = False) -> ibis.Table:
        """Compute ``expr`` once into table ``name`` and return it (``ordered``: keep the
        order in which its scans produce rows)."""
        ...

    def number_records(self, src: str, view: str | None = None) -> ibis.Table:
        """Fill null ``_hw_record`` of ordered materialized table ``src`` from row order."""
        ...

    def write_parquet(self, expr: ibis.Table, path: str) -> int:
        """Write ``expr`` to one Parquet file; return the number of rows. The file is at
        most ``0o644`` and the folders made for it at most ``0o755`` (``headwater._files``).
        ``path`` may be a URL under a store given to :meth:`attach_store`: the file then
        appears under its final key once, whole."""
        ...

    def attach_store(self, store: Store) -> None:
        """Read and write the files under a remote store's root (its URLs) from now on.

        DuckDB goes through the store's fsspec filesystem (no extension is downloaded); an
        engine that reads such URLs natively (Spark over Hadoop's ``s3a://``) needs only
        its own configuration."""
        ...

    def digest_halves(
        self, table: ibis.Table, text_column: str, names: tuple[str, str] = ...
    ) -> ibis.Table:
        """``table`` with row encodings ``text_column`` replaced by the two int64 halves of
        their md5 (exactly :func:`headwater.tables.fingerprint.digest_halves`)."""
        ...

    def to_pyarrow(self, expr: ibis.Table, *, sequential: bool = False) -> pa.Table:
        """The result as Arrow; ``sequential``: on one worker, so that a window with no
        ORDER BY lists rows in storage order (a hint for speed, never for correctness)."""
        ...

    def check_regex(self, pattern: str) -> str | None:
        """None when the engine's regular-expression dialect accepts ``pattern``, else the
        engine's reason (checked at config time: Python's ``re`` accepts more than RE2)."""
        ...

    def temp_tables(self) -> set[str]:
        """The names of the temporary tables and views this engine made (see ``drop``)."""
        ...

    def drop(self, name: str) -> None: ...

    def close(self) -> None: ...
