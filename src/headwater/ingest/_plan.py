"""Ingest planning: what is new, changed, an alias, skipped, deferred or missing.

Cheap checks first (path, size, mtime against ``file_state``), the content hash only when
they differ. Also reads each file's header, so files can be grouped into one read per
(source, format, options, header).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.config import Config
from headwater.errors import HeadwaterError
from headwater.sources import SourceFile, hash_local, restat, scan_source, stage_remote

if TYPE_CHECKING:  # SQLAlchemy loads on first use: reading files (compare) needs none
    import sqlalchemy as sa

HASH_THREADS = 4

Progress = Callable[[str, int, int, str], None]


@dataclass
class Plan:
    """The files of one run, classified, and what could not be listed."""

    files: list[SourceFile] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    source_errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unchanged: int = 0
    sources_listed: int = 0

    def by_status(self, *statuses: str) -> list[SourceFile]:
        return [f for f in self.files if f.status in statuses]


def known_files(conn: sa.Connection, dataset: str, line: int) -> dict[str, dict[str, Any]]:
    import sqlalchemy as sa

    from headwater.records import schema as rs

    rows = conn.execute(
        sa.select(rs.file_state).where(
            rs.file_state.c.dataset == dataset, rs.file_state.c.line == line
        )
    )
    return {r._mapping["path"]: dict(r._mapping) for r in rows}


def make_plan(
    config: Config,
    known: dict[str, dict[str, Any]],
    staging: Path,
    progress: Progress,
    *,
    now: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Plan:
    """List every source and classify each file against what the line already holds.

    A file modified less than ``settle_seconds`` ago is looked at again once it is that old
    (one wait of at most ``settle_seconds`` for all such files): if it did not change
    meanwhile it is taken, otherwise it is still being written and is deferred."""
    plan = Plan()
    found, listed = _list(config, plan)
    now = time.time() if now is None else now
    settle = config.dataset.settle_seconds
    seen_paths: set[str] = set()
    to_hash: list[SourceFile] = []
    young: list[SourceFile] = []
    for sf in found:
        if sf.path in seen_paths:
            continue  # two sources overlap: the first one listed owns the file
        seen_paths.add(sf.path)
        if sf.format is None:
            plan.ignored.append(sf.path)
            continue
        k = known.get(sf.path)
        if k and k["status"] != "missing" and k["size"] == sf.size and k["mtime"] == sf.mtime:
            plan.unchanged += 1
            continue
        if settle and now - sf.mtime < settle:
            young.append(sf)
            continue
        to_hash.append(sf)
    if young:
        to_hash = _settle(young, to_hash, plan, settle, now, progress, sleep, found, config)
    _hash_all(to_hash, staging, progress, config)
    _classify(to_hash, known, plan)
    _find_missing(config, known, seen_paths, listed, plan)
    return plan


def _list(config: Config, plan: Plan) -> tuple[list[SourceFile], set[int]]:
    """Every source's files, and the indexes of the sources that could be listed. What
    cannot be listed is a source error (a whole source first, then paths inside one)."""
    listed: set[int] = set()
    found: list[SourceFile] = []
    inside: list[dict[str, Any]] = []  # problems inside listed sources, after unlisted ones
    for index, source in enumerate(config.sources):
        try:
            resolved = config.resolve(source.path)
            listing = scan_source(index, source, resolved, config.storage_options(resolved))
        except HeadwaterError as exc:
            path = getattr(exc, "path", None)
            plan.source_errors.append(
                {"source": source.path, "path": path, "reason": str(exc), "scope": "source"}
            )
            continue
        listed.add(index)
        found.extend(listing.files)
        inside.extend({**e, "scope": "path"} for e in listing.problems)
        plan.warnings.extend(listing.warnings)
    plan.source_errors.extend(inside)
    plan.sources_listed = len(listed)
    return found, listed


def _hash_all(to_hash: list[SourceFile], staging: Path, progress: Progress, config: Config) -> None:
    """Hash (and fetch remote) files: I/O and hashlib, which releases the GIL, so a few
    threads overlap them."""
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        jobs = {
            pool.submit(_hash_one, sf, staging, config.storage_options(sf.path)): sf
            for sf in to_hash
        }
        for done, job in enumerate(as_completed(jobs), 1):
            job.result()
            progress("hash", done, len(to_hash), jobs[job].path)


def _classify(to_hash: list[SourceFile], known: dict[str, dict[str, Any]], plan: Plan) -> None:
    """Skipped (same content), alias (the content of another live file), changed or new,
    in listing order."""
    live_hashes = {
        k["hash"]: path for path, k in known.items() if k["status"] in ("ingested", "alias")
    }
    for sf in to_hash:
        plan.files.append(sf)
        if sf.status != "pending":
            continue
        k = known.get(sf.path)
        if k and k["hash"] == sf.hash and k["status"] != "missing":
            sf.status = "skipped"
            sf.reason = "same content as already ingested (only the modification time changed)"
            sf.previous_file_id = k["file_id"]
        elif sf.hash in live_hashes and live_hashes[sf.hash] != sf.path:
            sf.status = "alias"
            sf.alias_of = live_hashes[sf.hash]
            sf.reason = f"same content as {sf.alias_of!r}, already ingested: 0 rows taken"
        elif k and k["status"] != "missing":
            sf.status = "changed"
            sf.previous_file_id = k["file_id"]
            sf.reason = "content changed since it was ingested: its earlier rows are retracted"
        else:
            sf.status = "new"
            if k:
                sf.previous_file_id = k["file_id"]
        if sf.status in ("new", "changed") and sf.hash:
            live_hashes[sf.hash] = sf.path


def _find_missing(
    config: Config,
    known: dict[str, dict[str, Any]],
    seen_paths: set[str],
    listed: set[int],
    plan: Plan,
) -> None:
    """Known files no longer listed. Never one under a source, folder or path that could
    not be listed or opened: that is a source error, not a deletion."""
    unreadable = [e["path"] for e in plan.source_errors if e.get("path")]
    for path, k in known.items():
        if path in seen_paths or k["status"] == "missing":
            continue
        if any(o not in listed for o in _owning_sources(config, path)):
            continue  # its source could not be listed: do not mistake that for deletion
        if any(_within(path, u) for u in unreadable):
            continue  # its folder (or itself) could not be listed or opened: the same
        plan.missing.append(k)


def _settle(
    young: list[SourceFile],
    to_hash: list[SourceFile],
    plan: Plan,
    settle: float,
    now: float,
    progress: Progress,
    sleep: Callable[[float], None],
    found: list[SourceFile],
    config: Config,
) -> list[SourceFile]:
    """Wait until the youngest file is ``settle`` seconds old (at most ``settle``), then
    take the files that did not change meanwhile; defer the others. Returns the files to
    hash, in listing order."""
    wait = min(settle, max(settle - (now - sf.mtime) for sf in young))
    progress("settle", 0, len(young), f"waiting {wait:.1f}s: {len(young)} file(s) just modified")
    if wait > 0:
        sleep(wait)
    for sf in young:
        if restat(sf, config.storage_options(sf.path)) == (sf.size, sf.mtime):
            to_hash.append(sf)
            continue
        sf.status = "deferred"
        sf.reason = (
            f"still being written: it changed within the last {settle:g}s "
            "(dataset.settle_seconds); left for the next run"
        )
        plan.files.append(sf)
    progress("settle", len(young), len(young), "")
    order = {id(sf): i for i, sf in enumerate(found)}
    return sorted(to_hash, key=lambda sf: order[id(sf)])


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _bare(path: str) -> str:
    """A path without its URL scheme and leading slashes, for prefix comparisons."""
    return re.sub(r"^[a-z0-9+.-]+://", "", path).lstrip("/")


def _owning_sources(config: Config, path: str) -> list[int]:
    """Every source whose path (a glob's folder part) holds ``path``."""
    owners = []
    for index, source in enumerate(config.sources):
        root = _bare(config.resolve(source.path))
        base = re.split(r"[*?\[]", root, maxsplit=1)[0]
        if base != root:  # a glob: its folder part ends at the last "/" before the magic
            base = base.rsplit("/", 1)[0] if "/" in base else ""
        if not base or _within(_bare(path), base.rstrip("/")):
            owners.append(index)
    return owners


def _hash_one(sf: SourceFile, staging: Path, options: dict[str, Any]) -> None:
    try:
        if sf.remote:
            target = staging / f"{abs(hash(sf.path)) % 10**12}-{Path(sf.path).name}"
            sf.hash = stage_remote(sf.path, target, options)
            sf.local_path = str(target)
            sf.size = target.stat().st_size
            return
        before = os.stat(sf.path)
        sf.hash = hash_local(sf.path)
        after = os.stat(sf.path)
        sf.local_path = sf.path
        if (before.st_size, before.st_mtime) != (after.st_size, after.st_mtime) or (
            after.st_size != sf.size
        ):
            sf.status = "deferred"
            sf.reason = (
                "its size changed while it was being listed and hashed: left for the next run"
            )
    except OSError as exc:
        sf.status = "failed"
        sf.reason = f"cannot read the file: {exc.strerror or exc}"
    except Exception as exc:
        sf.status = "failed"
        sf.reason = f"cannot read the file: {exc}"
