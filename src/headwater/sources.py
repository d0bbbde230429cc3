"""Discovery: list the files of every ``[[sources]]`` entry and fingerprint them.

First stage of the flow. Local paths are listed with the standard library (fast, and
DuckDB reads them natively); URLs (``s3://``, ``memory://`` …) go through fsspec, which
is the one door to remote storage (DESIGN.md decision 2). A remote file is staged into the
project's scratch folder while it is hashed, so the bytes hashed are the bytes read.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.config import Format, SourceConfig
from headwater.errors import SourceError

HASH_NAME = "sha256"
_CHUNK = 1 << 20

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


@dataclass
class SourceFile:
    """One file found in a source, with what the cheap and the content checks saw."""

    source_index: int
    source: str
    path: str  # absolute local path or URL: the file's identity in the records
    size: int
    mtime: float
    format: Format | None
    compression: str | None
    remote: bool = False
    hash: str | None = None
    local_path: str | None = None  # where the engine reads it (the staged copy if remote)
    status: str = "pending"
    reason: str | None = None
    alias_of: str | None = None
    file_id: int | None = None
    previous_file_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def detect_format(path: str) -> tuple[Format | None, str | None]:
    """Return (format, compression) from a file name, e.g. ``x.csv.gz`` → (csv, gzip)."""
    name = path.rsplit("/", 1)[-1].lower()
    stem, ext = os.path.splitext(name)
    compression = _COMPRESSIONS.get(ext)
    if compression:
        stem, ext = os.path.splitext(stem)
    return _EXTENSIONS.get(ext), compression


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "_", "~"))


def _has_magic(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def list_source(index: int, source: SourceConfig, resolved: str) -> list[SourceFile]:
    """List the files of one source, in a stable (sorted) order.

    Raises
    ------
    SourceError
        The path does not exist or cannot be listed.
    """
    if "://" in resolved and not resolved.startswith("file://"):
        return _list_remote(index, source, resolved)
    local = resolved.removeprefix("file://")
    if _has_magic(local):
        paths = sorted(glob.glob(local, recursive=True))
        paths = [p for p in paths if os.path.isfile(p)]
    elif os.path.isdir(local):
        paths = []
        for dirpath, dirnames, filenames in os.walk(local):
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            if not source.recursive:
                dirnames[:] = []
            paths.extend(os.path.join(dirpath, f) for f in filenames if not _is_hidden(f))
        paths.sort()
    elif os.path.isfile(local):
        paths = [local]
    else:
        raise SourceError(
            f"source path {source.path!r} does not exist (looked for {local!r})",
            hint="create the folder, fix [[sources]] path in headwater.toml, or remove the source",
            path=local,
        )
    found = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue  # vanished between listing and stat: the next run sees it
        fmt, compression = detect_format(p)
        found.append(
            SourceFile(
                source_index=index,
                source=source.path,
                path=os.path.abspath(p),
                size=st.st_size,
                mtime=st.st_mtime,
                format=source.format or fmt,
                compression=compression,
            )
        )
    return found


def _list_remote(index: int, source: SourceConfig, url: str) -> list[SourceFile]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
        if _has_magic(root):
            infos = fs.glob(root, detail=True)
        elif fs.isdir(root):
            infos = fs.find(root, detail=True, maxdepth=None if source.recursive else 1)
        elif fs.exists(root):
            infos = {root: fs.info(root)}
        else:
            raise SourceError(
                f"source URL {url!r} does not exist",
                hint="check the URL and your credentials for that store",
                path=url,
            )
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(
            f"cannot list source {url!r}: {exc}",
            hint="check the URL, the network and the credentials for that store",
            path=url,
        ) from exc
    found = []
    for name in sorted(infos):
        info = infos[name]
        if info.get("type") == "directory" or _is_hidden(name.rsplit("/", 1)[-1]):
            continue
        full = name if "://" in name else fs.unstrip_protocol(name)
        fmt, compression = detect_format(name)
        found.append(
            SourceFile(
                source_index=index,
                source=source.path,
                path=full,
                size=int(info.get("size") or 0),
                mtime=_mtime(info),
                format=source.format or fmt,
                compression=compression,
                remote=True,
            )
        )
    return found


def _mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "created", "updated"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
    return 0.0


def hash_local(path: str) -> str:
    """Content hash of a local file (``sha256:<hex>``)."""
    h = hashlib.new(HASH_NAME)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return f"{HASH_NAME}:{h.hexdigest()}"


def stage_remote(url: str, target: Path) -> str:
    """Copy a remote file to ``target`` while hashing it; return the content hash."""
    import fsspec

    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.new(HASH_NAME)
    with fsspec.open(url, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            dst.write(chunk)
    return f"{HASH_NAME}:{h.hexdigest()}"


def still_same(sf: SourceFile) -> bool:
    """True if a local file still has the size and mtime it had when it was listed."""
    if sf.remote:
        return True  # the engine read the staged copy, which is what was hashed
    try:
        st = os.stat(sf.path)
    except OSError:
        return False
    return st.st_size == sf.size and st.st_mtime == sf.mtime


def clear_staging(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
