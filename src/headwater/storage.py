"""Where the dataset and the models are kept: a local folder or an fsspec URL (DESIGN.md
decision 2), behind the few operations the dataset store and the registry need.

A local folder keeps headwater's own file handling exactly: ``os`` calls, files written to
a temporary name and renamed into place, at most ``0o644`` / ``0o755``
(:mod:`headwater._files`), symbolic links and special files never listed as ours. A URL
(``s3://bucket/lake``, ``gs://…``, ``memory://…``) goes through ``fsspec.core.url_to_fs``
with the ``[storage.<scheme>]`` options the caller passes (or the library's own defaults:
for s3fs, the ``AWS_*`` environment variables and ``~/.aws``). An object store has no
rename, so a file is written once, under its final key, in one request (an object appears
whole or not at all); an exclusive create uses the store's conditional write where it has
one.

Every failure of a remote store becomes a :class:`~headwater.errors.StorageError` naming
the URL. The options may hold credentials: they are kept out of messages (any secret value
that a library's error repeats is masked) and out of ``repr``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from headwater._files import FILE_MODE, make_dirs, restrict
from headwater.errors import HeadwaterError, StorageError

# option names whose values are credentials (masked wherever an error might repeat them)
_SECRET_NAME = re.compile(r"secret|password|passwd|token|credential|key|auth|sas|signature", re.I)


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``scheme://…``) rather than a local path."""
    return "://" in path


def secrets(options: Mapping[str, Any]) -> list[str]:
    """The credential values in ``options`` (nested tables included), longest first."""
    found: list[str] = []

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, secret or bool(_SECRET_NAME.search(str(k))))
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v, secret)
        elif secret and node is not None and len(str(node)) >= 3:
            found.append(str(node))

    walk(options, False)
    return sorted(set(found), key=len, reverse=True)


def mask(text: str, options: Mapping[str, Any]) -> str:
    """``text`` with every credential value of ``options`` replaced by ``***``."""
    for value in secrets(options):
        text = text.replace(value, "***")
    return text


@dataclass(frozen=True)
class Entry:
    """A file directly in a listed folder: its name and size in bytes."""

    name: str
    size: int


class Store:
    """A root folder, local or remote, and the operations on the files under it.

    Paths given to the methods are relative to the root, ``/``-separated
    (``parts/run000001-….parquet``); :meth:`url` gives the full location.
    """

    def __init__(self, root: str, options: Mapping[str, Any] | None = None) -> None:
        self.root = root.rstrip("/") if is_url(root) else root
        self.local = not is_url(root)
        self._options = dict(options or {})
        self._fs: Any = None
        self._path = root

    def __repr__(self) -> str:  # never the options: they may be credentials
        return f"Store({self.root!r})"

    # -- the filesystem ---------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of a remote root (made on first use); None when local."""
        if self.local:
            return None
        if self._fs is None:
            import fsspec

            with self._errors("open"):
                self._fs, self._path = fsspec.core.url_to_fs(self.root, **self._options)
        return self._fs

    def url(self, rel: str = "") -> str:
        """The full location of ``rel``: a local path, or a URL under the root."""
        if not rel:
            return self.root
        if self.local:
            return os.path.join(self.root, rel)
        return f"{self.root}/{rel.lstrip('/')}"

    def _key(self, rel: str) -> str:
        """The filesystem's own path of ``rel`` (for s3fs: ``bucket/prefix/rel``)."""
        self.fs  # noqa: B018 - resolves the root's path
        return f"{self._path.rstrip('/')}/{rel.lstrip('/')}" if rel else self._path

    @contextlib.contextmanager
    def _errors(self, what: str, rel: str = "", *, writing: bool = False) -> Iterator[None]:
        """A remote store's failure as a StorageError naming the URL, credentials masked.
        FileNotFoundError (reading) and FileExistsError pass through: callers decide what
        they mean; a write that finds nothing to write into (no such bucket) fails."""
        try:
            yield
        except (HeadwaterError, FileExistsError):
            raise
        except FileNotFoundError as exc:
            if not writing:
                raise
            target = self.url(rel)
            raise StorageError(
                f"cannot {what} {target!r}: {mask(str(exc) or 'not found', self._options)}",
                hint="create the bucket (or container) first: headwater does not create "
                "buckets; or fix the URL",
                url=target,
            ) from None
        except Exception as exc:
            target = self.url(rel)
            reason = mask(
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self._options
            )
            raise StorageError(
                f"cannot {what} {target!r}: {type(exc).__name__}: {reason}",
                hint="check that the store is reachable and the [storage] options or the "
                "environment's credentials (for s3://: AWS_* variables) are right, then run "
                "again",
                url=target,
            ) from None  # the library's exception may carry the request, credentials included

    # -- reading ----------------------------------------------------------------------

    def exists(self, rel: str) -> bool:
        if self.local:
            return os.path.exists(self.url(rel))
        with self._errors("check", rel):
            return bool(self.fs.exists(self._key(rel)))

    def files(self, folder: str, *, links: bool = False) -> list[Entry]:
        """The regular files directly in ``folder`` (none if it does not exist). Locally a
        symbolic link or special file is not listed (it was never written by headwater),
        except a symbolic link with ``links`` (removing one never touches its target)."""
        if self.local:
            path = self.url(folder)
            if not os.path.isdir(path):
                return []
            out = []
            with os.scandir(path) as it:
                for e in it:
                    if e.is_file(follow_symlinks=False) or (links and e.is_symlink()):
                        out.append(Entry(e.name, e.stat(follow_symlinks=False).st_size))
            return out
        with self._errors("list", folder):
            try:
                found = self.fs.ls(self._key(folder), detail=True, refresh=True)
            except FileNotFoundError:
                return []
        return [
            Entry(str(f["name"]).rstrip("/").rsplit("/", 1)[-1], int(f.get("size") or 0))
            for f in found
            if f.get("type") == "file"
        ]

    def size(self, rel: str) -> int:
        if self.local:
            return os.path.getsize(self.url(rel))
        with self._errors("read the size of", rel):
            return int(self.fs.size(self._key(rel)))

    def read_bytes(self, rel: str) -> bytes:
        if self.local:
            with open(self.url(rel), "rb") as fh:
                return fh.read()
        with self._errors("read", rel):
            return bytes(self.fs.cat_file(self._key(rel)))

    def ends(self, rel: str, n: int) -> tuple[int, bytes, bytes]:
        """(size, first ``n`` bytes, last ``n`` bytes) of a file: two small reads."""
        if self.local:
            path = self.url(rel)
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                head = fh.read(n)
                fh.seek(max(size - n, 0))
                return size, head, fh.read(n)
        with self._errors("read", rel):
            key = self._key(rel)
            size = int(self.fs.size(key))
            head = bytes(self.fs.cat_file(key, start=0, end=min(n, size)))
            tail = bytes(self.fs.cat_file(key, start=max(size - n, 0), end=size))
            return size, head, tail

    # -- writing ----------------------------------------------------------------------

    def make_folder(self, folder: str = "") -> None:
        """Create ``folder`` locally (at most ``0o755``); an object store has no folders."""
        if self.local:
            make_dirs(self.url(folder))

    def write_bytes(self, rel: str, data: bytes, *, temp: str | None = None) -> None:
        """Write ``rel`` whole: locally to a temporary file beside it (``temp``, default
        ``.<name>.tmp``) then renamed over it, at most ``0o644``; remotely in one request
        under its final key."""
        if self.local:
            path = self.url(rel)
            make_dirs(os.path.dirname(path))
            tmp = os.path.join(os.path.dirname(path), temp or f".{os.path.basename(path)}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
            restrict(tmp)
            os.replace(tmp, path)
            return
        with self._errors("write", rel, writing=True):
            self.fs.pipe_file(self._key(rel), data)

    def create(self, rel: str, data: bytes) -> bool:
        """Write ``rel`` only if there is none; False if it exists. Locally ``O_EXCL``;
        remotely the store's conditional write (S3: ``If-None-Match``), else check-then-write
        (the project lock keeps writers of one project apart)."""
        if self.local:
            path = self.url(rel)
            make_dirs(os.path.dirname(path))
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return True
        with self._errors("write", rel, writing=True):
            key = self._key(rel)
            try:
                self.fs.pipe_file(key, data, mode="create")
            except FileExistsError:
                return False
            except (TypeError, NotImplementedError):  # no conditional write in this library
                if self.fs.exists(key):
                    return False
                self.fs.pipe_file(key, data)
            return True

    def put_file(self, local_path: str, rel: str) -> None:
        """Upload a local file as ``rel`` (remote only): the final key is written once, by
        one request or one multipart upload that becomes visible only when complete."""
        with self._errors("write", rel, writing=True):
            self.fs.put_file(local_path, self._key(rel))

    def delete(self, rel: str) -> None:
        """Remove ``rel``; nothing if it is already gone."""
        if self.local:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.url(rel))
            return
        with self._errors("delete", rel), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._key(rel))
