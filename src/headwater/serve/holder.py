"""The production model as the server holds it, reloaded when the pointer moves.

Every request reads :meth:`ModelHolder.serving` — one attribute read, never a wait. At
most every ``interval`` seconds a request also wakes a background check of the production
pointer (one small query); when the pointer names another version (a deploy, a rollback,
a scheduled run in another process), that version is loaded and hash-checked in the
background and swapped in with one assignment, so requests in flight keep the model they
started with and the next ones get the new one. A version that fails to load leaves the
old one serving and the holder ``degraded`` (``/health`` says why) until the pointer
moves again or ``retry`` seconds have passed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One loaded model version and what requests need to use it."""

    version: int
    model: Any
    row: dict[str, Any]
    features: list[str]
    numeric: list[str]
    classifier: bool
    since: str | None


@dataclass(frozen=True)
class Failed:
    """A production version that could not be loaded."""

    version: int
    error: str
    at: float


class ModelHolder:
    def __init__(self, ws: Workspace, interval: float = 0.5, retry: float = 30.0) -> None:
        self._ws = ws
        self.interval = interval
        self.retry = retry
        self._serving: Loaded | None = None
        self._failed: Failed | None = None
        self._pointer: int | None = None
        self._checked = 0.0
        self._checking = threading.Lock()

    # -- what requests read -------------------------------------------------------------

    def serving(self) -> Loaded | None:
        """The model to answer with now; wakes a background pointer check when one is due."""
        if time.monotonic() - self._checked >= self.interval and not self._checking.locked():
            threading.Thread(target=self.check, name="headwater-reload", daemon=True).start()
        return self._serving

    @property
    def failed(self) -> Failed | None:
        return self._failed

    @property
    def pointer(self) -> int | None:
        """The production version at the last check."""
        return self._pointer

    # -- the check ------------------------------------------------------------------------

    def check(self) -> None:
        """Read the pointer; load and swap in the version it names if that is new."""
        if not self._checking.acquire(blocking=False):
            return  # another check is under way
        try:
            self._checked = time.monotonic()
            from headwater import registry

            try:
                with self._ws.records.read() as conn:
                    pointer, since = registry.production_version(conn)
            except Exception as exc:  # the records are unreachable: keep serving
                log.warning("cannot read the production pointer: %s", exc)
                return
            self._pointer = pointer
            serving = self._serving
            if pointer is None:
                return  # nothing in production (yet): /health says so
            if serving is not None and serving.version == pointer:
                self._failed = None  # the pointer is back on what serves
                return
            failed = self._failed
            if (
                failed is not None
                and failed.version == pointer
                and time.monotonic() - failed.at < self.retry
            ):
                return  # do not reload a broken file twice a second
            self._load(pointer, since)
        finally:
            self._checking.release()

    def _load(self, version: int, since: str | None) -> None:
        from headwater import registry
        from headwater.train import is_classifier, numeric_features

        started = time.monotonic()
        try:
            model = registry.load_model(self._ws, version)
            row = registry.model_row(self._ws, version)
        except Exception as exc:
            self._failed = Failed(version, str(exc) or type(exc).__name__, time.monotonic())
            kept = f"v{self._serving.version} still serves" if self._serving else "none serves"
            log.warning("model v%s cannot be loaded (%s); %s", version, exc, kept)
            return
        features = list(json.loads(row["features"]))
        self._serving = Loaded(
            version=version,
            model=model,
            row=row,
            features=features,
            numeric=numeric_features(row["card"], features),
            classifier=bool(is_classifier(model) and hasattr(model, "predict_proba")),
            since=since,
        )
        self._failed = None
        log.info("serving model v%s (loaded in %.2fs)", version, time.monotonic() - started)
