"""Progress of long work: one callback shape for every stage.

A stage that takes a while calls ``progress(stage, done, total, detail)`` as it advances
(ingest's list / hash / read / type / write / published, compare's left / right / compare /
samples, train's steps). The library never draws anything: the CLI renders the calls on
stderr when that is a terminal, and a caller of the Python API passes its own.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[str, int, int, str], None]
"""``progress(stage, done, total, detail)``: called as work advances."""


def no_progress(stage: str, done: int, total: int, detail: str) -> None:
    """The callback used when the caller gives none."""
    return None


__all__ = ["ProgressCallback", "no_progress"]
