"""A file's header, read before the engine reads its rows: raw column names, CSV read
options (delimiter sniffed, encoding checked, UTF-16 and binary content named), and the
normalised names with their collisions. Shared by ingest and the comparison/training inputs.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from typing import Any

from headwater.config import SourceConfig
from headwater.sources import SourceFile

RESERVED_PREFIX = "_hw_"


def normalize_header(name: str) -> str:
    """trim, lower case, runs of whitespace → ``_``."""
    return re.sub(r"\s+", "_", name.strip().lower())


def _open_text(path: str, compression: str | None, encoding: str) -> io.TextIOBase:
    raw: Any
    if compression == "gzip":
        raw = gzip.open(path, "rb")  # noqa: SIM115 - closed by the TextIOWrapper
    elif compression == "zstd":
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))  # noqa: SIM115
    else:
        raw = open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, errors="strict", newline="")


def _codec(encoding: str) -> str:
    """Python's codec for ``encoding``; UTF-8 as ``utf-8-sig``, which drops the byte order
    mark that spreadsheet exports put first (it would otherwise join the first column's
    name: "\ufeffid"). DuckDB skips it when it reads the rows."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def csv_header(sf: SourceFile, source: SourceConfig, fmt: str) -> tuple[list[str], dict[str, Any]]:
    """Read the first record of a CSV/TSV file; return (raw columns, read options)."""
    assert sf.local_path is not None
    with open(sf.local_path, "rb") as fh:
        head = fh.read(8192)
    if sf.compression is None and b"\x00" in head and source.encoding != "utf-16":
        if _looks_utf16(head):
            raise FileProblem(
                'is UTF-16 (set encoding = "utf-16" for this source in headwater.toml)',
                "or save the file as UTF-8",
            )
        raise FileProblem(
            "looks like a binary file, not text (it contains NUL bytes)",
            "remove it from the source folder, or give it the right extension",
        )
    try:
        with _open_text(sf.local_path, sf.compression, _codec(source.encoding)) as text:
            for _ in range(source.skip_rows):
                text.readline()
            first = text.readline()
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"is not valid {source.encoding} text (byte {exc.object[exc.start : exc.start + 1]!r} "
            f"at offset {exc.start})",
            "set `encoding` for this source in headwater.toml (utf-8, utf-16 or latin-1)",
        ) from exc
    except (OSError, EOFError) as exc:
        raise FileProblem(f"cannot be decompressed or read: {exc}", "replace the file") from exc
    delimiter = source.delimiter or ("\t" if fmt == "tsv" else _sniff_delimiter(first))
    quote = source.quote or '"'
    row = next(csv.reader([first], delimiter=delimiter, quotechar=quote), [])
    cols = [f"column_{i}" for i in range(1, len(row) + 1)] if not source.header else row
    options = {
        "delimiter": delimiter,
        "quote": quote,
        "escape": source.escape,
        "encoding": source.encoding,
        "header": source.header,
        "skip_rows": source.skip_rows,
    }
    return cols, options


def _looks_utf16(head: bytes) -> bool:
    """A byte order mark, or text whose every other byte is NUL (ASCII in UTF-16)."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    even, odd = head[0::2], head[1::2]
    n = len(odd)
    if n < 2:
        return False
    return (odd.count(0) >= 0.9 * n and even.count(0) <= 0.1 * n) or (
        even.count(0) >= 0.9 * n and odd.count(0) <= 0.1 * n
    )


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


class FileProblem(Exception):
    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def check_names(raw: list[str], normalize: bool, required: list[str]) -> list[str]:
    """Normalised column names for one file; raise FileProblem on a collision."""
    names = [normalize_header(c) if normalize else c for c in raw]
    for i, n in enumerate(names):
        if not n:
            names[i] = f"column_{i + 1}"
    seen: dict[str, str] = {}
    for original, n in zip(raw, names, strict=True):
        if n.startswith(RESERVED_PREFIX):
            raise FileProblem(
                f"has a column {original!r}: names starting with {RESERVED_PREFIX!r} are reserved",
                "rename the column in the file",
            )
        if n in seen:
            raise FileProblem(
                f"has headers {seen[n]!r} and {original!r} that both become {n!r}",
                "rename one of them in the file (or set dataset.normalize_headers = false "
                "if they differ only in case or spaces)",
            )
        seen[n] = original
    lacking = [c for c in required if c not in seen]
    if lacking:
        raise FileProblem(
            f"lacks column(s) {', '.join(map(repr, lacking))} that the dataset requires "
            f"(found {', '.join(map(repr, names)) or 'no columns'})",
            "add the column to the file, or change dataset.key / order_by / not_null",
        )
    return names
