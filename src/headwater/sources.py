"""Discovery: list the files of every ``[[sources]]`` entry and fingerprint them.

First stage of the flow. Local paths are listed with the standard library (fast, and
DuckDB reads them natively); URLs (``s3://``, ``memory://`` …) go through fsspec, which
is the one door to remote storage (DESIGN.md decision 2). A remote file is staged into the
project's scratch folder while it is hashed, so the bytes hashed are the bytes read.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.config import Format, SourceConfig
from headwater.errors import SourceError
from headwater.storage import mask

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


def list_source(
    index: int, source: SourceConfig, resolved: str, options: Mapping[str, Any] | None = None
) -> list[SourceFile]:
    """List the files of one source, in a stable (sorted) order; strict: anything in it that
    cannot be listed or opened (see :func:`scan_source`) raises.

    Raises
    ------
    SourceError
        The path does not exist, or it or something in it cannot be listed or opened.
    """
    listing = scan_source(index, source, resolved, options)
    if listing.problems:
        first = listing.problems[0]
        raise SourceError(
            first["reason"],
            hint="fix or remove it, or point the path elsewhere",
            path=first["path"],
        )
    return listing.files


@dataclass
class Listing:
    """What listing one source found: its files, what could not be listed or opened
    (``problems``: each a dict with ``source``, ``path``, ``reason``; rows already ingested
    from under such a path are kept) and ``warnings`` (a glob that matches nothing)."""

    files: list[SourceFile] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def scan_source(
    index: int, source: SourceConfig, resolved: str, options: Mapping[str, Any] | None = None
) -> Listing:
    """List one source: its files in sorted path order, and what could not be listed.
    ``options``: the fsspec options of a URL (``[storage.<scheme>]``; never shown).

    Local folders and globs are walked the same way: symlinked folders are followed unless
    they lead back to a folder being walked (a loop, recorded and not followed); only
    regular files are listed (a FIFO or a device would block or never end); a subfolder
    that cannot be listed, a dangling symlink or a file that cannot be opened is a
    *problem* of the listing, so that its files are never taken for deleted ones.

    Raises
    ------
    SourceError
        The source path itself does not exist or cannot be listed.
    """
    if "://" in resolved and not resolved.startswith("file://"):
        return Listing(files=_list_remote(index, source, resolved, options or {}))
    local = resolved.removeprefix("file://")
    walk = _Walk(source)
    if _has_magic(local):
        base, pattern = _split_glob(local)
        root = _root_folder(source, base)
        walk.glob(root, os.stat(root), pattern, frozenset())
        if not walk.found and not walk.problems:
            walk.warnings.append(
                {
                    "source": source.path,
                    "path": base,
                    "reason": f"glob {source.path!r} matches no file (looked in {base!r})",
                }
            )
    else:
        st = _stat_root(source, local)
        if stat.S_ISDIR(st.st_mode):
            walk.folder(_root_folder(source, local), st, frozenset())
        elif stat.S_ISREG(st.st_mode):
            walk.found[local] = st
        else:
            raise SourceError(
                f"source path {source.path!r} is {_kind(st.st_mode)}, not a regular file or "
                "a folder; only regular files are read",
                hint="point the source at a folder or a data file",
                path=local,
            )
    found = []
    for p in sorted(walk.found):
        st = walk.found[p]
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
    return Listing(files=found, problems=walk.problems, warnings=walk.warnings)


def _split_glob(pattern: str) -> tuple[str, list[str]]:
    """``/a/b/*/c.csv`` → (``/a/b``, ``["*", "c.csv"]``): the folder to start in, and the
    components left to match."""
    parts = pattern.split("/")
    first = next(i for i, part in enumerate(parts) if _has_magic(part))
    base = "/".join(parts[:first]) or ("/" if pattern.startswith("/") else ".")
    return base, [p for p in parts[first:] if p]


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _stat_root(source: SourceConfig, local: str) -> os.stat_result:
    """The source path's own stat (symlinks followed), or a SourceError saying why not."""
    try:
        return os.stat(local)
    except OSError as exc:
        if exc.errno == errno.ENOENT and not os.path.lexists(local):
            raise SourceError(
                f"source path {source.path!r} does not exist (looked for {local!r})",
                hint="create the folder, fix [[sources]] path in headwater.toml, "
                "or remove the source",
                path=local,
            ) from exc
        if exc.errno == errno.ELOOP:
            what = "is a symlink loop (resolving it never ends)"
        elif exc.errno == errno.ENOENT:
            what = f"is a dangling symlink (its target {_readlink(local)!r} does not exist)"
        else:
            what = f"cannot be listed: {_why(exc)}"
        raise SourceError(
            f"source path {source.path!r} {what}; nothing in it was read and rows "
            "already ingested from it are kept",
            hint="fix the path or its permissions, or remove the source from headwater.toml",
            path=local,
        ) from exc


def _root_folder(source: SourceConfig, folder: str) -> str:
    """``folder`` if it can be listed (a SourceError naming the reason if not)."""
    try:
        st = os.stat(folder)
    except OSError:
        _stat_root(source, folder)  # raises, naming the reason
        raise  # pragma: no cover - _stat_root always raises here
    if not stat.S_ISDIR(st.st_mode):
        raise SourceError(
            f"source path {source.path!r} needs {folder!r} to be a folder, but it is not one",
            hint="fix [[sources]] path in headwater.toml",
            path=folder,
        )
    try:
        with os.scandir(folder) as it:
            next(it, None)
    except OSError as exc:
        raise SourceError(
            f"source folder {folder!r} cannot be listed: {_why(exc)}; nothing in it was read "
            "and rows already ingested from it are kept",
            hint="give the user running headwater read and execute permission on it",
            path=folder,
        ) from exc
    return folder


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


class _Walk:
    """One walk over local folders: the regular files found, and what could not be listed.

    ``seen`` is the (device, inode) of every folder on the way down: a symlinked folder
    that is one of them is a loop."""

    def __init__(self, source: SourceConfig) -> None:
        self.source = source
        self.found: dict[str, os.stat_result] = {}
        self.problems: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self._noted: set[str] = set()
        self._listed: dict[str, list[os.DirEntry[str]]] = {}

    def problem(self, path: str, reason: str) -> None:
        path = os.path.abspath(path)
        if path not in self._noted:
            self._noted.add(path)
            self.problems.append({"source": self.source.path, "path": path, "reason": reason})

    def entries(self, folder: str) -> list[os.DirEntry[str]]:
        if folder not in self._listed:
            try:
                with os.scandir(folder) as it:
                    self._listed[folder] = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self._listed[folder] = []
                self.problem(
                    folder,
                    f"folder {folder!r} cannot be listed: {_why(exc)}; its files are not read "
                    "and rows already ingested from them are kept",
                )
        return self._listed[folder]

    def classify(self, path: str) -> tuple[str, os.stat_result | None]:
        """("dir" | "file" | "special" | "none", stat); a path that cannot be resolved is
        a problem (it may be a folder or a file: its rows are kept); one that vanished since
        it was listed is "none"."""
        try:
            st = os.stat(path)
        except OSError as exc:
            link = os.path.islink(path)
            if exc.errno == errno.ENOENT and not link:
                return "none", None  # vanished since it was listed: the next run sees it
            if exc.errno == errno.ELOOP:
                why = "is a symlink loop (resolving it never ends); not followed"
            elif exc.errno == errno.ENOENT:
                why = f"is a dangling symlink (its target {_readlink(path)!r} does not exist)"
            else:
                why = f"cannot be opened: {_why(exc)}"
            self.problem(path, f"{path!r} {why}; rows already ingested from it are kept")
            return "none", None
        if stat.S_ISDIR(st.st_mode):
            return "dir", st
        if stat.S_ISREG(st.st_mode):
            return "file", st
        return "special", st

    def add_file(self, path: str, kind: str, st: os.stat_result) -> None:
        if kind == "file":
            self.found[path] = st
            return
        if self.source.format is None and detect_format(path)[0] is None:
            self.found[path] = st  # never opened: counted as ignored, as any unknown file
            return
        target = f" (a symlink to {os.path.realpath(path)!r})" if os.path.islink(path) else ""
        self.problem(
            path,
            f"{path!r}{target} is {_kind(st.st_mode)}, not a regular file: it is not read "
            "(only regular files are)",
        )

    def enter(self, path: str, st: os.stat_result, seen: frozenset[tuple[int, int]]) -> bool:
        """True if the folder at ``path`` may be walked (it is not a loop)."""
        if (st.st_dev, st.st_ino) in seen:
            self.problem(
                path,
                f"{path!r} is a symlink loop: it leads back to {os.path.realpath(path)!r}, "
                "which contains it; not followed",
            )
            return False
        return True

    def folder(self, folder: str, here: os.stat_result, seen: frozenset[tuple[int, int]]) -> None:
        """Every regular file under ``folder`` (its subfolders if the source is recursive)."""
        seen = seen | {(here.st_dev, here.st_ino)}
        for entry in self.entries(folder):
            if _is_hidden(entry.name):
                continue
            kind, st = self.classify(entry.path)
            if st is None:
                continue
            if kind == "dir":
                if self.source.recursive and self.enter(entry.path, st, seen):
                    self.folder(entry.path, st, seen)
            else:
                self.add_file(entry.path, kind, st)

    def glob(
        self,
        folder: str,
        here: os.stat_result,
        pattern: list[str],
        seen: frozenset[tuple[int, int]],
    ) -> None:
        """The regular files under ``folder`` that match ``pattern`` (glob components;
        ``**`` is any number of folders, as for :func:`glob.glob`, hidden ones excepted).
        Only what the pattern can reach is listed, so problems elsewhere do not concern
        this source."""
        seen = seen | {(here.st_dev, here.st_ino)}
        head, rest = pattern[0], pattern[1:]
        if head == "**":
            if rest:
                self.glob(folder, here, rest, seen)
            for entry in self.entries(folder):
                if entry.name.startswith("."):
                    continue
                if rest and not entry.is_symlink() and not entry.is_dir(follow_symlinks=False):
                    continue  # a plain file: the zero-folder match above took it if it fits
                kind, st = self.classify(entry.path)
                if st is None:
                    continue
                if kind == "dir":
                    if self.enter(entry.path, st, seen):
                        self.glob(entry.path, st, pattern, seen)
                elif not rest:
                    self.add_file(entry.path, kind, st)
            return
        if _has_magic(head):
            names = [
                e.name
                for e in self.entries(folder)
                if fnmatch.fnmatchcase(e.name, head)
                and (head.startswith(".") or not e.name.startswith("."))
            ]
        elif os.path.lexists(os.path.join(folder, head)):
            names = [head]
        else:
            names = []
        for name in names:
            path = os.path.join(folder, name)
            kind, st = self.classify(path)
            if st is None:
                continue
            if rest:
                if kind == "dir" and self.enter(path, st, seen):
                    self.glob(path, st, rest, seen)
            elif kind != "dir":
                self.add_file(path, kind, st)


def _list_remote(
    index: int, source: SourceConfig, url: str, options: Mapping[str, Any]
) -> list[SourceFile]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
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
            f"cannot list source {url!r}: {mask(str(exc), options)}",
            hint="check the URL, the network and the credentials for that store",
            path=url,
        ) from None  # the library's exception may carry the request, credentials included
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
    """Content hash of a local file (``sha256:<hex>``).

    Opened without blocking and checked to be a regular file before a byte is read: a path
    swapped for a FIFO or a device since it was listed fails here instead of hanging."""
    h = hashlib.new(HASH_NAME)
    _regular(os.stat(path).st_mode, path)  # not even opened otherwise (opening a device acts)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as fh:
        _regular(os.fstat(fd).st_mode, path)
        os.set_blocking(fd, True)
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return f"{HASH_NAME}:{h.hexdigest()}"


def _regular(mode: int, path: str) -> None:
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"it is {_kind(mode)}, not a regular file", path)


def restat(sf: SourceFile, options: Mapping[str, Any] | None = None) -> tuple[int, float] | None:
    """(size, mtime) of a listed file now, or None if it cannot be seen any more."""
    if not sf.remote:
        try:
            st = os.stat(sf.path)
        except OSError:
            return None
        return st.st_size, st.st_mtime
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(sf.path, **(options or {}))
        info = fs.info(root)
    except Exception:
        return None
    return int(info.get("size") or 0), _mtime(info)


def stage_remote(url: str, target: Path, options: Mapping[str, Any] | None = None) -> str:
    """Copy a remote file to ``target`` while hashing it; return the content hash."""
    import fsspec

    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.new(HASH_NAME)
    with fsspec.open(url, "rb", **(options or {})) as src, open(target, "wb") as dst:
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
