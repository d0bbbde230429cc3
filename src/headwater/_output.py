"""Writing one output file (an export, predictions, a report, a record): atomically for a
regular file, in place for a FIFO or a device, to stdout for ``-``; with clear errors.

A temporary file renamed over the target would *replace* a special file: a FIFO would stop
being one and, as root, ``-o /dev/null`` would turn the system's ``/dev/null`` into a
regular file. So only a regular file (or a path that does not exist yet) is replaced, and
through a symlink it is the link's target that is replaced, never the link.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.errors import ConfigError

STDOUT = "-"


def is_stdout(path: str | os.PathLike[str]) -> bool:
    """``-o -``: the output goes to standard output."""
    return os.fspath(path) == STDOUT


def check_output_file(path: Path, example: str) -> None:
    """ConfigError if ``path`` is a folder; checked before the work, not after it."""
    if not is_stdout(path) and path.is_dir():
        raise ConfigError(
            f"{str(path)!r} is a folder; this writes one file",
            hint=f"give a file name, e.g. -o {path / example}",
            key="output",
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, it is someone else's
        return True
    return True


def _remove_stale(target: Path) -> None:
    """Remove ``.NAME.tmp-PID`` files a killed writer left beside ``target`` (its process
    is gone); a live writer's temporary file is left alone."""
    for name in glob.glob(glob.escape(str(target.parent / f".{target.name}.tmp-")) + "*"):
        pid = name.rpartition(".tmp-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            Path(name).unlink(missing_ok=True)


def _through_a_copy(write: Callable[[Path], Any], sink: Callable[[Any], None]) -> None:
    """``write`` a private temporary file, then stream it into ``sink`` (an open FIFO, a
    device, stdout): the writer may need to seek, which a pipe cannot."""
    with tempfile.TemporaryDirectory(prefix="headwater-out-") as folder:
        tmp = Path(folder) / "output"
        write(tmp)
        with tmp.open("rb") as src:
            sink(src)


def _to_stdout(src: Any) -> None:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        shutil.copyfileobj(src, buffer)
        buffer.flush()
    else:  # a text-only stream (an embedding program's): decode
        sys.stdout.write(src.read().decode("utf-8", errors="replace"))
        sys.stdout.flush()


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """``write`` the output for ``path``.

    A regular file (or a new one) is written as a temporary file beside it, then renamed:
    readers see the old file or the new one, never half of it; its mode is kept. Through a
    symlink, the link's target is replaced. A FIFO or a device is opened and written in
    place, never replaced; ``-`` writes to stdout. A path that cannot be written is a
    ConfigError.
    """
    try:
        if is_stdout(path):
            _through_a_copy(write, _to_stdout)
            return
        target = Path(os.path.realpath(path))  # through symlinks: replace the target
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                check_output_file(target, "output")

            def into_special(src: Any) -> None:
                with open(target, "wb") as dst:  # no O_TRUNC effect on FIFOs/devices
                    shutil.copyfileobj(src, dst)

            _through_a_copy(write, into_special)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(target)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            write(tmp)
            if st is not None:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}",
            hint="check the path, that its folder can be written, and the free space",
            key="output",
        ) from exc
