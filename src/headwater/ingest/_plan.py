"""Ingest planning: what is new, changed, an alias, skipped, deferred or missing.

Cheap checks first (path, size, mtime against ``file_state``), the content hash only when
they differ. Also reads each file's header, so files can be grouped into one read per
(source, format, options, header).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.config import Config, SourceConfig
from headwater.errors import HeadwaterError
from headwater.sources import SourceFile, hash_local, restat, scan_source, stage_remote

if TYPE_CHECKING:  # SQLAlchemy loads on first use: reading files (compare) needs none
    import sqlalchemy as sa

HASH_THREADS = 4

Progress = Callable[[str, int, int, str], None]

RESERVED_PREFIX = "_hw_"


@dataclass
class Plan:
    """The files of one run, classified, and what could not be listed."""

    files: list[SourceFile] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    source_errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unchanged: int = 0
    sources_listed: int = 0

    def by_status(self, *statuses: str) -> list[SourceFile]:
        return [f for f in self.files if f.status in statuses]


def known_files(conn: sa.Connection, dataset: str, line: int) -> dict[str, dict[str, Any]]:
    import sqlalchemy as sa

    from headwater.records import schema as rs

    rows = conn.execute(
        sa.select(rs.file_state).where(
            rs.file_state.c.dataset == dataset, rs.file_state.c.line == line
        )
    )
    return {r._mapping["path"]: dict(r._mapping) for r in rows}


def make_plan(
    config: Config,
    known: dict[str, dict[str, Any]],
    staging: Path,
    progress: Progress,
    *,
    now: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Plan:
    """List every source and classify each file against what the line already holds.

    A file modified less than ``settle_seconds`` ago is looked at again once it is that old
    (one wait of at most ``settle_seconds`` for all such files): if it did not change
    meanwhile it is taken, otherwise it is still being written and is deferred."""
    plan = Plan()
    listed_ok_sources: set[int] = set()
    found: list[SourceFile] = []
    inside: list[dict[str, Any]] = []  # problems inside listed sources, after unlisted ones
    for index, source in enumerate(config.sources):
        try:
            listing = scan_source(index, source, config.resolve(source.path))
        except HeadwaterError as exc:
            path = getattr(exc, "path", None)
            plan.source_errors.append(
                {"source": source.path, "path": path, "reason": str(exc), "scope": "source"}
            )
            continue
        listed_ok_sources.add(index)
        found.extend(listing.files)
        inside.extend({**e, "scope": "path"} for e in listing.problems)
        plan.warnings.extend(listing.warnings)
    plan.source_errors.extend(inside)
    plan.sources_listed = len(listed_ok_sources)
    # what could not be listed or opened inside a listed source: rows from there are kept
    unreadable = [e["path"] for e in plan.source_errors if e.get("path")]

    now = time.time() if now is None else now
    settle = config.dataset.settle_seconds
    live_hashes = {
        k["hash"]: path for path, k in known.items() if k["status"] in ("ingested", "alias")
    }
    seen_paths: set[str] = set()
    to_hash: list[SourceFile] = []
    young: list[SourceFile] = []
    for sf in found:
        if sf.path in seen_paths:
            continue  # two sources overlap: the first one listed owns the file
        seen_paths.add(sf.path)
        if sf.format is None:
            plan.ignored.append(sf.path)
            continue
        k = known.get(sf.path)
        if k and k["status"] != "missing" and k["size"] == sf.size and k["mtime"] == sf.mtime:
            plan.unchanged += 1
            continue
        if settle and now - sf.mtime < settle:
            young.append(sf)
            continue
        to_hash.append(sf)
    if young:
        to_hash = _settle(young, to_hash, plan, settle, now, progress, sleep, found)

    # hashing (and fetching remote files) is I/O and hashlib, which releases the GIL: a few
    # threads overlap them; the files are then classified in listing order
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        jobs = {pool.submit(_hash_one, sf, staging): sf for sf in to_hash}
        for done, job in enumerate(as_completed(jobs), 1):
            job.result()
            progress("hash", done, len(to_hash), jobs[job].path)
    for sf in to_hash:
        plan.files.append(sf)
        if sf.status != "pending":
            continue
        k = known.get(sf.path)
        if k and k["hash"] == sf.hash and k["status"] != "missing":
            sf.status = "skipped"
            sf.reason = "same content as already ingested (only the modification time changed)"
            sf.previous_file_id = k["file_id"]
        elif sf.hash in live_hashes and live_hashes[sf.hash] != sf.path:
            sf.status = "alias"
            sf.alias_of = live_hashes[sf.hash]
            sf.reason = f"same content as {sf.alias_of!r}, already ingested: 0 rows taken"
        elif k and k["status"] != "missing":
            sf.status = "changed"
            sf.previous_file_id = k["file_id"]
            sf.reason = "content changed since it was ingested: its earlier rows are retracted"
        else:
            sf.status = "new"
            if k:
                sf.previous_file_id = k["file_id"]
        if sf.status in ("new", "changed") and sf.hash:
            live_hashes[sf.hash] = sf.path

    for path, k in known.items():
        if path in seen_paths or k["status"] == "missing":
            continue
        if any(o not in listed_ok_sources for o in _owning_sources(config, path)):
            continue  # its source could not be listed: do not mistake that for deletion
        if any(_within(path, u) for u in unreadable):
            continue  # its folder (or itself) could not be listed or opened: the same
        plan.missing.append(k)
    return plan


def _settle(
    young: list[SourceFile],
    to_hash: list[SourceFile],
    plan: Plan,
    settle: float,
    now: float,
    progress: Progress,
    sleep: Callable[[float], None],
    found: list[SourceFile],
) -> list[SourceFile]:
    """Wait until the youngest file is ``settle`` seconds old (at most ``settle``), then
    take the files that did not change meanwhile; defer the others. Returns the files to
    hash, in listing order."""
    wait = min(settle, max(settle - (now - sf.mtime) for sf in young))
    progress("settle", 0, len(young), f"waiting {wait:.1f}s: {len(young)} file(s) just modified")
    if wait > 0:
        sleep(wait)
    for sf in young:
        if restat(sf) == (sf.size, sf.mtime):
            to_hash.append(sf)
            continue
        sf.status = "deferred"
        sf.reason = (
            f"still being written: it changed within the last {settle:g}s "
            "(dataset.settle_seconds); left for the next run"
        )
        plan.files.append(sf)
    progress("settle", len(young), len(young), "")
    order = {id(sf): i for i, sf in enumerate(found)}
    return sorted(to_hash, key=lambda sf: order[id(sf)])


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _bare(path: str) -> str:
    """A path without its URL scheme and leading slashes, for prefix comparisons."""
    return re.sub(r"^[a-z0-9+.-]+://", "", path).lstrip("/")


def _owning_sources(config: Config, path: str) -> list[int]:
    """Every source whose path (a glob's folder part) holds ``path``."""
    owners = []
    for index, source in enumerate(config.sources):
        root = _bare(config.resolve(source.path))
        base = re.split(r"[*?\[]", root, maxsplit=1)[0]
        if base != root:  # a glob: its folder part ends at the last "/" before the magic
            base = base.rsplit("/", 1)[0] if "/" in base else ""
        if not base or _within(_bare(path), base.rstrip("/")):
            owners.append(index)
    return owners


def _hash_one(sf: SourceFile, staging: Path) -> None:
    try:
        if sf.remote:
            target = staging / f"{abs(hash(sf.path)) % 10**12}-{Path(sf.path).name}"
            sf.hash = stage_remote(sf.path, target)
            sf.local_path = str(target)
            sf.size = target.stat().st_size
            return
        before = os.stat(sf.path)
        sf.hash = hash_local(sf.path)
        after = os.stat(sf.path)
        sf.local_path = sf.path
        if (before.st_size, before.st_mtime) != (after.st_size, after.st_mtime) or (
            after.st_size != sf.size
        ):
            sf.status = "deferred"
            sf.reason = (
                "its size changed while it was being listed and hashed: left for the next run"
            )
    except OSError as exc:
        sf.status = "failed"
        sf.reason = f"cannot read the file: {exc.strerror or exc}"
    except Exception as exc:
        sf.status = "failed"
        sf.reason = f"cannot read the file: {exc}"


# -- headers ----------------------------------------------------------------------------


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
            raise _FileProblem(
                'is UTF-16 (set encoding = "utf-16" for this source in headwater.toml)',
                "or save the file as UTF-8",
            )
        raise _FileProblem(
            "looks like a binary file, not text (it contains NUL bytes)",
            "remove it from the source folder, or give it the right extension",
        )
    try:
        with _open_text(sf.local_path, sf.compression, _codec(source.encoding)) as text:
            for _ in range(source.skip_rows):
                text.readline()
            first = text.readline()
    except UnicodeDecodeError as exc:
        raise _FileProblem(
            f"is not valid {source.encoding} text (byte {exc.object[exc.start : exc.start + 1]!r} "
            f"at offset {exc.start})",
            "set `encoding` for this source in headwater.toml (utf-8, utf-16 or latin-1)",
        ) from exc
    except (OSError, EOFError) as exc:
        raise _FileProblem(f"cannot be decompressed or read: {exc}", "replace the file") from exc
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


class _FileProblem(Exception):
    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


FileProblem = _FileProblem


def check_names(raw: list[str], normalize: bool, required: list[str]) -> list[str]:
    """Normalised column names for one file; raise FileProblem on a collision."""
    names = [normalize_header(c) if normalize else c for c in raw]
    for i, n in enumerate(names):
        if not n:
            names[i] = f"column_{i + 1}"
    seen: dict[str, str] = {}
    for original, n in zip(raw, names, strict=True):
        if n.startswith(RESERVED_PREFIX):
            raise _FileProblem(
                f"has a column {original!r}: names starting with {RESERVED_PREFIX!r} are reserved",
                "rename the column in the file",
            )
        if n in seen:
            raise _FileProblem(
                f"has headers {seen[n]!r} and {original!r} that both become {n!r}",
                "rename one of them in the file (or set dataset.normalize_headers = false "
                "if they differ only in case or spaces)",
            )
        seen[n] = original
    lacking = [c for c in required if c not in seen]
    if lacking:
        raise _FileProblem(
            f"lacks column(s) {', '.join(map(repr, lacking))} that the dataset requires "
            f"(found {', '.join(map(repr, names)) or 'no columns'})",
            "add the column to the file, or change dataset.key / order_by / not_null",
        )
    return names
