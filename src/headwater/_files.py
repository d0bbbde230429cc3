"""The modes of the files and folders headwater writes (records, dataset parts, manifests,
models), so that none is group- or world-writable whatever the umask.

Files are at most ``0o644`` and folders at most ``0o755``; a stricter umask still applies
(``umask 077`` gives ``0o600`` / ``0o700``). Only what headwater creates is touched: a folder
that already exists keeps its mode.
"""

from __future__ import annotations

import os
import stat

FILE_MODE = 0o644
DIR_MODE = 0o755


def make_dirs(path: str | os.PathLike[str]) -> None:
    """Create ``path`` and any missing parent, each with at most :data:`DIR_MODE`."""
    missing = []
    here = os.path.abspath(path)
    while not os.path.isdir(here):
        missing.append(here)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)  # the umask applies on top, as it should
        except FileExistsError:  # made meanwhile by another process
            if not os.path.isdir(folder):
                raise


def restrict(path: str | os.PathLike[str]) -> None:
    """Give a file headwater (or a library for it) just created at most :data:`FILE_MODE`.

    Libraries create files with ``0o666`` minus the umask; this keeps the umask's
    restrictions and drops group/world write and any execute bit."""
    os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & FILE_MODE)


def create_file(path: str | os.PathLike[str]) -> None:
    """Create an empty file with at most :data:`FILE_MODE` if there is none."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
