"""What the API and the dashboard share in one server process."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.project import Project

_engine_locks: weakref.WeakKeyDictionary[Project, threading.Lock] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def engine_lock(project: Project) -> threading.Lock:
    """The one lock around ``project``'s engine: a workspace's engine (and the scratch
    tables each stage drops after it) serves one stage at a time, and the server's request
    threads — /scoring, /summarystats, the dashboard's test report — would otherwise share
    it at once."""
    with _guard:
        lock = _engine_locks.get(project)
        if lock is None:
            lock = _engine_locks[project] = threading.Lock()
        return lock
