"""Records → words: what ``show``, ``rejects`` and ``records export`` say about a run.

Everything here reads the record store only; human-readable text is generated from the
rows, never the other way round (DESIGN.md decision 3).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater.records import schema as rs

if TYPE_CHECKING:
    from headwater.project import Project


def run_record(project: Project, run_id: int) -> dict[str, Any]:
    """The run row plus its files, the version it published and a count of its rejects."""
    run = project.records.run(run_id)
    with project.records.read() as conn:
        files = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(rs.source_files)
                .where(rs.source_files.c.run_id == run_id)
                .order_by(rs.source_files.c.id)
            )
        ]
        version = conn.execute(sa.select(rs.versions).where(rs.versions.c.run_id == run_id)).first()
        n_rejects = conn.execute(
            sa.select(sa.func.count()).select_from(rs.rejects).where(rs.rejects.c.run_id == run_id)
        ).scalar_one()
    for f in files:
        f["fixes"] = json.loads(f["fixes"]) if f.get("fixes") else {}
    run["files"] = files
    run["rejects"] = int(n_rejects)
    if version is not None:
        v = dict(version._mapping)
        v["schema"] = dict(json.loads(v["schema"]))
        v["lineage"] = json.loads(v["lineage"]) if v["lineage"] else {}
        run["version"] = v
    else:
        run["version"] = None
    run["story"] = story(run)
    return run


def story(run: dict[str, Any]) -> list[str]:
    """A run explained in plain sentences."""
    s = run.get("summary") or {}
    lines = [
        f"Run {run['id']} ({run['kind']}) was started by {run.get('user')} on {run.get('host')} "
        f"at {run['started']} with headwater {run.get('headwater_version')} on "
        f"{run.get('engine')}; it ended {run.get('finished') or '(not recorded)'} with status "
        f"{run['status']!r}."
    ]
    if run["status"] == "skipped":
        lines.append(f"It did nothing: {run.get('note')}")
    if run["status"] == "crashed":
        lines.append(f"It never finished: {run.get('note')}. Nothing it wrote was published.")
    if run.get("error"):
        lines.append(f"Error: {run['error']}")
    if run["kind"] == "compare" and s:
        verdict = "equal" if s.get("equal") else "different"
        lines.append(
            f"It compared {s.get('left')!r} with {s.get('right')!r}"
            + (f" by key {', '.join(s.get('key') or [])}" if s.get("key") else " as whole rows")
            + f": {verdict}. Left {s.get('rows_left')} rows, right {s.get('rows_right')}; "
            f"{s.get('rows_in_both')} in both, {s.get('rows_only_left')} only left, "
            f"{s.get('rows_only_right')} only right"
            + (f", {s.get('rows_with_differences')} with differences." if s.get("key") else ".")
        )
    if run["kind"] in ("train", "deploy") and s.get("model_version") is not None:
        if run["kind"] == "train":
            lines.append(
                f"It trained model v{s['model_version']} on dataset version "
                f"{s.get('dataset_version')} ({s.get('train_rows')} rows): {s.get('metric')} = "
                f"{s.get('score')} on {s.get('test_rows')} test rows."
            )
        if "reason" in s:
            lines.append(
                f"The gate {'promoted' if s.get('promoted') else 'refused'} v{s['model_version']}: "
                f"{s['reason']}. Production is now v{s.get('production_version')}."
            )
    if run["kind"] == "rollback" and s:
        lines.append(
            f"It rolled production back from v{s.get('from_version')} to "
            f"v{s.get('production_version')}."
        )
    if run["kind"] == "ingest" and s:
        files = run.get("files", [])
        lines.append(
            f"It found {s.get('files_new', 0)} new and {s.get('files_changed', 0)} changed "
            f"file(s), skipped {s.get('files_skipped', 0)} already ingested, "
            f"{s.get('files_alias', 0)} alias(es), {s.get('files_deferred', 0)} deferred, "
            f"{s.get('files_missing', 0)} missing and {s.get('files_failed', 0)} failed."
        )
        lines.append(
            f"It read {s.get('rows_read', 0)} row(s): {s.get('rows_rejected', 0)} rejected, "
            f"{s.get('duplicates_dropped', 0)} duplicate(s) dropped, "
            f"{s.get('rows_superseded', 0) + s.get('rows_stale', 0)} superseded, "
            f"{s.get('rows_added', 0)} added; "
            f"{s.get('rows_retracted', 0)} earlier row(s) retracted."
        )
        if run.get("version"):
            v = run["version"]
            lines.append(
                f"It published version {v['version']} of dataset {v['dataset']!r} "
                f"({v['rows']} rows) at {v['location']}."
            )
        elif s.get("dataset_version") is not None:
            lines.append(
                f"Nothing new was published; version {s['dataset_version']} stays current."
            )
        if s.get("schema_changes"):
            lines.append(f"Schema: {json.dumps(s['schema_changes'])}.")
        if s.get("error"):
            lines.append(f"It failed: {s['error']}.")
        for err in s.get("source_errors", []):
            if err.get("scope", "source") == "source":
                lines.append(f"Source {err['source']!r} could not be listed: {err['reason']}")
            else:
                lines.append(f"Source {err['source']!r}, not read: {err['reason']}")
        for w in s.get("warnings", []):
            lines.append(f"Warning, source {w['source']!r}: {w['reason']}")
        for f in files:
            if f["status"] in ("failed", "deferred", "changed", "alias", "missing"):
                lines.append(f"  {f['status']}: {f['path']} — {f['reason']}")
        if s.get("recovered_runs"):
            lines.append(f"It found runs {s['recovered_runs']} left running by a dead process.")
    return lines


def rejects(project: Project, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    project.records.run(run_id)  # raises for an unknown run
    stmt = (
        sa.select(rs.rejects)
        .where(rs.rejects.c.run_id == run_id)
        .order_by(rs.rejects.c.path, rs.rejects.c.record)
    )
    if limit:
        stmt = stmt.limit(limit)
    with project.records.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def record_text(project: Project, run_id: int) -> str:
    """The classic ``records.txt``: sources, date, counts, duplicates, fixes, output."""
    run = run_record(project, run_id)
    s = run.get("summary") or {}
    out = [
        f"headwater record — run {run['id']} ({run['kind']})",
        "=" * 60,
        f"date:        {run['started']} → {run.get('finished')}",
        f"status:      {run['status']}",
        f"by:          {run.get('user')}@{run.get('host')} (pid {run.get('pid')})",
        f"headwater:   {run.get('headwater_version')}  engine: {run.get('engine')}  "
        f"config: {run.get('config_hash')}",
        "",
    ]
    if run.get("error"):
        out += [f"error:       {run['error']}", ""]
    if run["kind"] == "ingest":
        out.append("sources:")
        for f in run["files"]:
            fixes = ", ".join(f"{k}={v}" for k, v in f["fixes"].items() if v) or "none"
            out.append(f"  - {f['path']}")
            out.append(
                f"      status={f['status']} size={f['size']} hash={f['hash']} format={f['format']}"
            )
            out.append(
                f"      rows read={f['rows_read']} rejected={f['rows_rejected']} "
                f"duplicates={f['duplicates']} superseded={f['rows_superseded']} "
                f"added={f['rows_added']} retracted={f['rows_retracted']}"
            )
            out.append(f"      fixes: {fixes}")
            if f.get("reason"):
                out.append(f"      note: {f['reason']}")
        out += [
            "",
            "totals:",
            f"  files new={s.get('files_new', 0)} changed={s.get('files_changed', 0)} "
            f"skipped={s.get('files_skipped', 0)} alias={s.get('files_alias', 0)} "
            f"failed={s.get('files_failed', 0)} deferred={s.get('files_deferred', 0)} "
            f"missing={s.get('files_missing', 0)}",
            f"  rows read={s.get('rows_read', 0)} rejected={s.get('rows_rejected', 0)} "
            f"duplicates dropped={s.get('duplicates_dropped', 0)} added={s.get('rows_added', 0)} "
            f"retracted={s.get('rows_retracted', 0)}",
            "",
            f"output:      {s.get('output', '')}",
            f"version:     {s.get('dataset_version')} ({s.get('dataset_rows', 0)} rows)",
        ]
    else:
        out.append(json.dumps(s, indent=2, default=str))
    return "\n".join(out) + "\n"
