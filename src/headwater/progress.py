"""Progress of long work: one callback shape for every stage.

A stage that takes a while calls ``progress(stage, done, total, detail)`` as it advances
(ingest's list / hash / read / type / write / published, compare's left / right / compare /
samples, train's steps). The library never draws anything: the CLI renders the calls on
stderr when that is a terminal, and a caller of the Python API passes its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

ProgressCallback = Callable[[str, int, int, str], None]
"""``progress(stage, done, total, detail)``: called as work advances."""


def no_progress(stage: str, done: int, total: int, detail: str) -> None:
    """The callback used when the caller gives none."""
    return None


def reporter(run: Any, progress: ProgressCallback | None) -> ProgressCallback:
    """Pass ``progress(stage, done, total, detail)`` on, and note the stage in the run's
    summary (``run``: a :class:`headwater.workspace.Run`, or None): a run that fails says
    how far it got."""

    def report(stage: str, done: int, total: int, detail: str) -> None:
        if run is not None and not run.finished:
            run.summary["stage"] = stage
        if progress is not None:
            progress(stage, done, total, detail)

    return report


@contextlib.contextmanager
def step(report: ProgressCallback, name: str, detail: str) -> Iterator[None]:
    """One stage of work: reported as 0 of 1 when it starts and 1 of 1 when it ends."""
    report(name, 0, 1, detail)
    yield
    report(name, 1, 1, detail)


__all__ = ["ProgressCallback", "no_progress", "reporter", "step"]
