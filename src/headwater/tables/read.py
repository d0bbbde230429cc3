"""Reading files as text: one engine read per group of like files, bad files isolated.

Shared by ingest and the comparison/training inputs (:mod:`headwater.inputs`). A group is
the files of one source that share a format, read options and raw header; a group whose
read fails is re-read file by file so that only the bad file fails. Failures and files
that changed while being read are recorded on the :class:`~headwater.sources.SourceFile`
itself (``status``, ``reason``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from headwater.config import SourceConfig
from headwater.engines.base import MAX_LINE_BYTES, WIDE_COLUMNS
from headwater.errors import EngineError, HeadwaterError, reraise_machine
from headwater.sources import SourceFile, still_same
from headwater.tables.headers import FileProblem, check_names, csv_header

if TYPE_CHECKING:
    import ibis

    from headwater.config import DatasetConfig
    from headwater.engines.base import Engine

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, str], None]
T = TypeVar("T")


def read_once_or_isolate(
    attempt: Callable[[bool], T], *, undo: Callable[[], None], what: str = "the files"
) -> T:
    """``attempt(lazy=True)``, the fused read: every file parsed by the one query that
    types them; if the engine fails on some file in it, ``undo()`` (drop what the attempt
    staged) and ``attempt(lazy=False)``, which stages group by group and a failing group
    file by file (:func:`read_text`), so that only the bad file fails.

    Not retried: a :class:`HeadwaterError` (the input is wrong as a whole, or an operating
    error) and an interrupt or the machine refusing (:func:`reraise_machine`).
    """
    try:
        return attempt(True)
    except HeadwaterError:
        raise
    except Exception as exc:
        reraise_machine(exc, writing=False)  # Ctrl-C, memory, disk: not a bad file
        log.info("reading %s in one pass failed (%s); isolating the bad file", what, exc)
        undo()
    return attempt(False)


def read_text(
    engine: Engine,
    files: Sequence[SourceFile],
    sources: Sequence[SourceConfig],
    *,
    normalize: bool,
    required: Sequence[str],
    progress: Progress,
    readable_status: tuple[str, ...] = ("new", "changed"),
    prefix: str = "_hw_stage",
    lazy: bool = False,
) -> tuple[ibis.Table | None, list[str]]:
    """Read ``files`` as text into one table; return it and the staged table names.

    The table has the normalised data columns (text) and ``_hw_record`` (1-based record
    number in its file), ``_hw_file`` (``SourceFile.file_id``) and ``_hw_thousands`` (the
    source's thousands separator or ``""``). None when no
    file could be read. File ids must follow (source, path) order: ordering by
    (``_hw_file``, ``_hw_record``) is then source, path and record order.

    ``lazy``: the groups become views that the next query parses (no copy of the text;
    CSV and JSON record numbers are null until the engine's ``number_records`` on the
    table that query wrote); a file that cannot be parsed then fails that query, and one
    that changes while it is read is found by :func:`recheck` after it — the caller falls
    back to an eager read to isolate a bad file (:func:`read_once_or_isolate`).
    """
    groups = _groups(engine, files, sources, normalize, required, progress)
    tables, staged = _stage(engine, groups, prefix, lazy, progress)
    # a file that changed while it was read is left for the next run
    readable: dict[int, SourceFile] = {}
    for _, members in tables:
        for sf in members:
            if sf.status not in readable_status:
                continue
            if lazy or still_same(sf):  # lazily read files are checked after the read
                readable[int(sf.file_id or 0)] = sf
            else:
                defer(sf)
    if not readable:
        return None, staged
    return _union(tables, sources, readable), staged


def cleaned_text(
    engine: Engine, batch: ibis.Table, ds: DatasetConfig, *, name: str, lazy: bool
) -> tuple[ibis.Table, list[str]]:
    """The batch trimmed and cleaned (NA tokens → null), and the temporary tables that
    holds, to drop with the raw text.

    Normally a subquery of the typing pass (nothing is stored: a sample of it proposes the
    types and the typing pass reads it once, straight from the files with ``lazy``). A
    wide batch (more than :data:`~headwater.engines.base.WIDE_COLUMNS` columns) is stored
    once instead, as table ``name``: the type sample and the typing pass then start from a
    table rather than compiling the trim and clean stages into each of their queries,
    whose cost grows faster than the column count (and the typing pass would store it
    stage by stage anyway)."""
    from headwater.tables import transform as pl

    text = pl.clean_stage(pl.trim_stage(batch), ds)
    if sum(1 for c in batch.columns if not c.startswith("_hw_")) <= WIDE_COLUMNS:
        return text, []
    text = engine.materialize(text, name, ordered=lazy)
    if lazy:  # the rows were parsed by that write: their record numbers come from it
        text = engine.number_records(name)
    return text, [f"{name}__numbered", name]  # views first


Group = tuple[Any, ...]  # (source index, format, raw columns, names, options as JSON)


def _groups(
    engine: Engine,
    files: Sequence[SourceFile],
    sources: Sequence[SourceConfig],
    normalize: bool,
    required: Sequence[str],
    progress: Progress,
) -> dict[Group, list[SourceFile]]:
    """Each file's header read and checked (a bad one fails its file), and the files
    grouped by source, format, header and read options: one engine read per group."""
    groups: dict[Group, list[SourceFile]] = {}
    for done, sf in enumerate(files, 1):
        progress("header", done, len(files), sf.path)
        source = sources[sf.source_index]
        fmt = sf.format or "csv"
        try:
            if fmt in ("csv", "tsv"):
                raw, options = csv_header(sf, source, fmt)
                too_long = last_line_too_long(sf)
                if too_long != 0:
                    fail(sf, long_line_reason(too_long))
                    continue
            else:
                options = {}
                raw = engine.raw_columns(fmt, sf.local_path or sf.path, options)
            names = check_names(raw, normalize, list(required))
        except FileProblem as exc:
            fail(sf, f"{exc.reason}; {exc.hint}")
            continue
        except Exception as exc:
            reraise_machine(exc, writing=False)
            fail(sf, engine_reason(exc, fmt))
            continue
        key = (sf.source_index, fmt, tuple(raw), tuple(names), json.dumps(options, sort_keys=True))
        groups.setdefault(key, []).append(sf)
    return groups


def _stage(
    engine: Engine,
    groups: dict[Group, list[SourceFile]],
    prefix: str,
    lazy: bool,
    progress: Progress,
) -> tuple[list[tuple[ibis.Table, list[SourceFile]]], list[str]]:
    """One staged table (or view, with ``lazy``) per group; a group the engine cannot read
    is staged file by file, so that only its bad files fail."""
    from headwater.engines.base import ReadGroup

    staged: list[str] = []
    tables: list[tuple[ibis.Table, list[SourceFile]]] = []
    for i, (key, members) in enumerate(groups.items()):
        progress("read", i + 1, len(groups), f"{len(members)} file(s)")
        fmt = key[1]

        def group_of(sfs: list[SourceFile], key: Group = key) -> ReadGroup:
            return ReadGroup(
                format=key[1],
                files=tuple(m.local_path or m.path for m in sfs),
                columns=tuple(key[2]),
                names=tuple(key[3]),
                options=json.loads(key[4]),
                file_ids=tuple(int(m.file_id or 0) for m in sfs),
            )

        try:
            name = f"{prefix}_{i}"
            tables.append((engine.stage(group_of(members), name, lazy=lazy), members))
            staged.append(name)
        except Exception as exc:
            reraise_machine(exc, writing=False)
            if len(members) == 1:
                fail(members[0], engine_reason(exc, fmt))
                continue
            for j, m in enumerate(members):  # isolate the bad file(s)
                name = f"{prefix}_{i}_{j}"
                try:
                    tables.append((engine.stage(group_of([m]), name), [m]))
                    staged.append(name)
                except Exception as exc2:
                    reraise_machine(exc2, writing=False)
                    fail(m, engine_reason(exc2, fmt))
    return tables, staged


def _union(
    tables: list[tuple[ibis.Table, list[SourceFile]]],
    sources: Sequence[SourceConfig],
    readable: dict[int, SourceFile],
) -> ibis.Table:
    """The staged tables as one, over the union of their columns (a column a group lacks
    is null), without the rows of files that failed or changed meanwhile."""
    import ibis

    all_cols: list[str] = []
    for t, _ in tables:
        for c in t.columns:
            if not c.startswith("_hw_") and c not in all_cols:
                all_cols.append(c)
    parts = []
    staged_ids: list[int] = []
    for t, members in tables:
        source = sources[members[0].source_index]  # a group is files of one source
        staged_ids += [int(m.file_id or 0) for m in members]
        cols = [t[c] if c in t.columns else ibis.null("string").name(c) for c in all_cols]
        parts.append(
            t.select(
                *cols,
                t._hw_record.cast("int64"),
                t._hw_file.cast("int64"),
                _hw_thousands=ibis.literal(source.thousands or "", "string"),
            )
        )
    table = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    dropped = [i for i in staged_ids if i not in readable]  # failed or changed meanwhile
    if dropped:
        table = table.filter(~table._hw_file.isin(dropped))
    return table


def defer(sf: SourceFile) -> None:
    sf.status = "deferred"
    sf.reason = "it changed while it was being read: left for the next run"


def recheck(files: Sequence[SourceFile], readable_status: tuple[str, ...]) -> list[int]:
    """After a lazy read: defer the files that changed while they were read; their ids."""
    changed = [sf for sf in files if sf.status in readable_status and not still_same(sf)]
    for sf in changed:
        defer(sf)
    return [int(sf.file_id or 0) for sf in changed]


def fail(sf: SourceFile, reason: str) -> None:
    sf.status = "failed"
    sf.reason = reason


def last_line_too_long(sf: SourceFile) -> int | None:
    """0 when the file's last line is within :data:`MAX_LINE_BYTES`; else its length in
    bytes, or None when it is only known to be longer.

    Cost: an uncompressed file reads at most ``MAX_LINE_BYTES + 3`` bytes from its end,
    whatever its size; a compressed one is decompressed once more, in 1 MiB chunks.
    """
    path = sf.local_path or sf.path
    if sf.compression is None:
        with open(path, "rb") as fh:
            start = max(0, fh.seek(0, os.SEEK_END) - MAX_LINE_BYTES - 3)
            fh.seek(start)
            length = _last_line_length(fh)
        if length <= MAX_LINE_BYTES:
            return 0
        return None if start and length >= MAX_LINE_BYTES + 1 else length
    if sf.compression == "gzip":
        import gzip

        with gzip.open(path, "rb") as fh:
            length = _last_line_length(fh)
    elif sf.compression == "zstd":
        import zstandard

        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
            length = _last_line_length(fh)
    else:  # pragma: no cover - no other compression is detected
        return 0
    return length if length > MAX_LINE_BYTES else 0


def _last_line_length(fh: Any) -> int:
    """The length of the last line read from ``fh`` (to its end), without its newline."""
    run = 0  # bytes after the last newline so far
    last = 0  # length of the line that the last newline ended
    while chunk := fh.read(1 << 20):
        nl = chunk.rfind(b"\n")
        if nl < 0:
            run += len(chunk)
            continue
        prev = chunk.rfind(b"\n", 0, nl)
        last = nl - prev - 1 if prev >= 0 else run + nl
        run = len(chunk) - nl - 1
    return run or last


def long_line_reason(length: int | None) -> str:
    size = f"of {length:,} bytes " if length else ""
    return (
        f"has a line {size}longer than the reader's limit of {MAX_LINE_BYTES:,} bytes; "
        "split the value over several rows or columns, or deliver the file as Parquet"
    )


def engine_reason(exc: Exception, fmt: str) -> str:
    """A short, actionable reason for a file the engine could not read."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    low = text.lower()
    if isinstance(exc, HeadwaterError):
        return str(exc)
    found = re.search(r"maximum line size of \d+ bytes exceeded\. actual size: ?(\d+)", low)
    if found or "does not support a full read on this file" in low:
        # the second: a line longer than the reader's buffer, not in the last line
        return long_line_reason(int(found.group(1)) if found else None)
    if "expected records" in low and "non-record json" in low:
        return (
            "holds JSON values that are not objects (expected objects, one per row: "
            '{"column": value, ...}); fix the file or remove it from the source'
        )
    if "expected number of columns" in low or "too many columns" in low or "ragged" in low:
        return f"has rows with the wrong number of fields ({first}); fix the file's rows or quoting"
    if "unterminated quote" in low or "quote" in low:
        return (
            f"has broken quoting ({first}); fix the quotes or set `quote`/`escape` for the source"
        )
    if "unicode" in low or "utf-8" in low or "encoding" in low:
        return (
            f"is not valid text in the configured encoding ({first}); set `encoding` for the source"
        )
    if fmt == "parquet" and ("parquet" in low or "magic" in low or "metadata" in low):
        return f"is not a readable Parquet file ({first}); replace it"
    if "json" in low:
        return f"is not valid {fmt} ({first}); fix the file or set `format` for the source"
    if isinstance(exc, EngineError):
        return str(exc)
    if "no such file" in low:
        return f"cannot be read ({first}): it was moved or removed while the run read it"
    if isinstance(exc, OSError) or "permission" in low:
        return f"cannot be read ({first}); check its permissions"
    return f"could not be read as {fmt} ({first})"
