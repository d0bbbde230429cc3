"""Writing one output file (an export, predictions): atomically, with clear errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.errors import ConfigError


def check_output_file(path: Path, example: str) -> None:
    """ConfigError if ``path`` is a folder; checked before the work, not after it."""
    if path.is_dir():
        raise ConfigError(
            f"{str(path)!r} is a folder; this writes one file",
            hint=f"give a file name, e.g. -o {path / example}",
            key="output",
        )


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """``write`` a temporary file beside ``path``, then rename it: readers see the old
    file or the new one, never half of it. A path that cannot be written is a ConfigError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}",
            hint="check the path, that its folder can be written, and the free space",
            key="output",
        ) from exc
