"""Records → words: what ``show``, ``rejects`` and ``records export`` say about a run.

Everything here reads the record store only; human-readable text is generated from the
rows, never the other way round (DESIGN.md decision 3).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.workspace import Workspace


def run_record(project: Workspace, run_id: int) -> dict[str, Any]:
    """The run row plus its files, the version it published and a count of its rejects."""
    import sqlalchemy as sa

    from headwater.records import schema as rs

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
        children = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(rs.runs.c.id, rs.runs.c.kind, rs.runs.c.status)
                .where(rs.runs.c.parent_id == run_id)
                .order_by(rs.runs.c.id)
            )
        ]
    for f in files:
        f["fixes"] = json.loads(f["fixes"]) if f.get("fixes") else {}
    run["files"] = files
    run["rejects"] = int(n_rejects)
    run["children"] = children
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
    if run.get("trigger") in ("cron", "scheduler"):
        by = "a crontab entry" if run["trigger"] == "cron" else "the foreground scheduler"
        lines.append(f"It was started by {by} ({run.get('schedule_entry')}).")
    elif run.get("trigger") == "server":
        lines.append("It was started through the API (POST /runs of `headwater serve`).")
    if run["status"] == "skipped":
        lines.append(f"It did nothing: {run.get('note')}")
    if run["status"] == "crashed":
        # a child run that finished committed its work (an ingest's version, a promotion)
        done = [c for c in run.get("children", []) if c["status"] not in ("running", "crashed")]
        lines.append(
            f"It never finished: {run.get('note')}. "
            + (
                "Its child run(s) "
                + ", ".join(f"run {c['id']} ({c['kind']}, {c['status']})" for c in done)
                + " had finished, and what they recorded stands; nothing else it wrote "
                "was published."
                if done
                else "Nothing it wrote was published."
            )
        )
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
    if run["kind"] == "train":
        lines += _train_story(run, s)
    if run["kind"] == "deploy":
        lines += _gate_story(s)
    if run["kind"] == "rollback" and s.get("from_version") is not None:
        lines.append(
            f"It rolled production back from v{s.get('from_version')} to "
            f"v{s.get('production_version')}."
        )
    if run["kind"] == "run" and s:
        lines += _loop_story(s)
    if run["kind"] not in _KINDS and s:
        lines.append(f"It recorded: {_plain(s)}.")
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
            where = f", source {w['source']!r}" if "source" in w else ""
            lines.append(f"Warning{where}: {w['reason']}")
        for f in files:
            if f["status"] in ("failed", "deferred", "changed", "alias", "missing"):
                lines.append(f"  {f['status']}: {f['path']} — {f['reason']}")
        if s.get("recovered_runs"):
            lines.append(f"It found runs {s['recovered_runs']} left running by a dead process.")
    return lines


def _loop_story(s: dict[str, Any]) -> list[str]:
    """``headwater run``: why it did or did not retrain and deploy, with the numbers."""
    out = []
    if s.get("ingest_run_id"):
        out.append(
            f"It ingested {s.get('files_new', 0)} new or changed file(s) in run "
            f"{s['ingest_run_id']}: {s.get('rows_added', 0)} row(s) added."
        )
    d = s.get("drift")
    if d:

        def num(x: Any) -> str:
            return "-" if x is None else f"{x:.4f}"

        asked = d.get("requested")
        fallback = f", asked for {asked}" if asked not in (None, d.get("test")) else ""
        out.append(
            f"Model drift ({d.get('test')}{fallback}): production scored "
            f"{num(d.get('score'))} on {d.get('rows', 0)} new row(s) against "
            f"{num(d.get('baseline'))}: "
            + ("drift detected." if d.get("detected") else "no drift.")
        )
    drifted = {f: v for f, v in (s.get("data_drift") or {}).items() if v.get("detected")}
    if s.get("data_drift"):
        out.append(
            f"Data drift in {len(drifted)} of {len(s['data_drift'])} feature(s)"
            + (
                ": "
                + "; ".join(
                    f"{f} ({v.get('method')} {v.get('statistic'):.3f} > {v.get('threshold'):.3f})"
                    for f, v in drifted.items()
                )
                if drifted
                else "."
            )
        )
    c = s.get("candidate")
    if c:
        out.append(
            f"It trained model v{c.get('model_version')} ({c.get('metric')} {c.get('score')}): "
            + ("promoted" if c.get("promoted") else "not promoted")
            + (f" — {c['reason']}" if c.get("reason") else "")
            + "."
        )
    if s.get("reason"):
        out.append(f"Outcome {s.get('status')!r}: {s['reason']}.")
    if s.get("drift_unresolved"):
        out.append("Drift is unresolved: the retrained candidate was not better than production.")
    for n in s.get("notifications") or []:
        what = f"{n.get('via')} {n.get('target')} about {', '.join(n.get('events') or [])}"
        failed = f"Notifying by {what} failed: {n.get('error')}."
        out.append(f"It notified by {what}." if n.get("ok") else failed)
    return out


_KINDS = ("ingest", "train", "deploy", "rollback", "compare", "run")
"""Run kinds with a story of their own; any other kind tells what its summary holds."""

_DOING = {
    "read": "reading the training data",
    "fit": "fitting",
    "evaluate": "scoring the candidate on the test data",
    "save": "saving the candidate",
    "gate": "comparing the candidate with production",
}


def _num(value: Any) -> str:
    """A score as people read it: four decimals (the record keeps every digit)."""
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _plain(value: Any) -> str:
    """A summary value in words: ``k=v`` pairs and comma lists, never a JSON dump."""
    if isinstance(value, dict):
        return (
            ", ".join(
                f"{k}=({_plain(v)})" if isinstance(v, dict) else f"{k}={_plain(v)}"
                for k, v in value.items()
            )
            or "none"
        )
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _data(s: dict[str, Any]) -> str:
    """``dataset 'd' version 3 (1,200 rows)``, with what is known of it."""
    text = f"dataset {s['dataset']!r} " if s.get("dataset") else "dataset "
    text += f"version {s.get('dataset_version')}"
    if s.get("dataset_rows") is not None:
        text += f" ({s['dataset_rows']} rows)"
    return text


def _train_story(run: dict[str, Any], s: dict[str, Any]) -> list[str]:
    estimator = s.get("estimator")
    if s.get("model_version") is None:  # it ended before a candidate existed
        if run["status"] == "failed" and s.get("stage"):
            doing = _DOING.get(s["stage"], s["stage"])
            what = f" {estimator}" if estimator and s["stage"] == "fit" else ""
            on = f" on {_data(s)}" if s.get("dataset_version") is not None else ""
            return [f"It failed while {doing}{what}{on}; no candidate was saved."]
        return []
    lines = [
        f"It trained candidate model v{s['model_version']}"
        + (f" ({estimator})" if estimator else "")
        + f" on {_data(s)}, {s.get('train_rows')} rows for training: "
        f"{s.get('metric')} = {_num(s.get('score'))} on {s.get('test_rows')} test rows"
        + (f" ({s['test_data']})." if s.get("test_data") else ".")
    ]
    if "reason" in s:  # trained with --deploy: the gate's verdict follows
        lines += _gate_story(s)
    else:
        now = s.get("production_version")
        lines.append(
            f"It was not deployed (`headwater deploy {s['model_version']}` deploys it); "
            + (f"production stays v{now}." if now is not None else "nothing is in production.")
        )
    return lines


def _gate_story(s: dict[str, Any]) -> list[str]:
    """What the gate compared, what it decided and why (deploy, and train --deploy)."""
    if s.get("model_version") is None or "reason" not in s:
        return []
    v, metric = s["model_version"], s.get("metric")
    before = s.get("previous_production_version")
    rows = f"{s.get('test_rows')} test rows"
    if s.get("dataset_version") is not None:
        rows += f" of {_data(s)}"
    passed = bool(s.get("promoted")) and not s.get("forced")
    if "tolerance" not in s:  # recorded before the gate kept its parts: its own words
        compared = f"The gate said: {s['reason']}"
    elif before is None:
        compared = (
            f"Nothing was in production; candidate v{v} scored {metric} "
            f"{_num(s.get('score'))} on {rows}"
        )
        if s.get("min_score") is not None:
            compared += f", {'meeting' if passed else 'missing'} min_score {s['min_score']}"
    else:
        compared = (
            f"On the same {rows}, candidate v{v} scored {metric} {_num(s.get('score'))} "
            f"and production v{before} scored {_num(s.get('production_score'))} "
            f"(tolerance {s['tolerance']}): {'no worse' if passed else 'worse'}"
        )
    lines = [f"{compared}."]
    if s.get("promoted"):
        forced = (
            f" although it did not pass: forced by {s.get('forced_by') or 'the user'}"
            if s.get("forced")
            else ""
        )
        lines.append(f"It promoted v{v}{forced}. Production is now v{s.get('production_version')}.")
    else:
        now = s.get("production_version")
        lines.append(
            f"It refused v{v}; production stays " + (f"v{now}." if now is not None else "empty.")
        )
    return lines


def summary_line(run: dict[str, Any]) -> str:
    """One line for ``headwater history``: what the run did, or why it did nothing."""
    s = run.get("summary") or {}
    status, kind = run["status"], run["kind"]
    if status in ("skipped", "failed", "crashed", "interrupted"):
        why = run.get("error") or s.get("error") or run.get("note") or "no reason recorded"
        return f"{status}: {why}"
    if kind == "ingest" and s:
        return (
            f"+{s.get('rows_added', 0)} rows, -{s.get('rows_retracted', 0)}, "
            f"{s.get('files_new', 0)} new/{s.get('files_changed', 0)} changed/"
            f"{s.get('files_failed', 0)} failed files → v{s.get('dataset_version')}"
        )
    if kind == "train" and s.get("model_version") is not None:
        est = str(s.get("estimator") or "model").rsplit(".", 1)[-1]
        text = (
            f"v{s['model_version']} {est} on data v{s.get('dataset_version')}: "
            f"{s.get('metric')} {_num(s.get('score'))}; "
        )
        if "reason" not in s:
            return text + "not deployed"
        if s.get("promoted"):
            return text + ("deployed (forced)" if s.get("forced") else "deployed")
        return text + f"refused, prod v{s.get('production_version')}"
    if kind == "deploy" and s.get("model_version") is not None:
        v, metric = s["model_version"], s.get("metric")
        before = s.get("previous_production_version")
        verdict = f"{'promoted' if s.get('promoted') else 'refused'} v{v}"
        if s.get("forced"):
            verdict += " (forced)"
        if before is None:
            return f"{verdict}: {metric} {_num(s.get('score'))}, nothing in production"
        return (
            f"{verdict}: {metric} {_num(s.get('score'))} vs prod v{before} "
            f"{_num(s.get('production_score'))}"
        )
    if kind == "rollback" and s.get("from_version") is not None:
        return f"production v{s['from_version']} → v{s.get('production_version')}"
    if kind == "compare" and s:
        name = f"{s.get('left')} vs {s.get('right')}"
        if s.get("equal"):
            if s.get("rows_left") == s.get("rows_right"):
                return f"{name}: equal, {s.get('rows_left')} rows each side"
            return f"{name}: equal"
        parts = [f"{s.get('rows_only_left')} only left", f"{s.get('rows_only_right')} only right"]
        if s.get("key"):
            parts.append(f"{s.get('rows_with_differences')} with differences")
        return f"{name}: different, " + ", ".join(parts)
    if s and kind not in _KINDS:
        return _plain(s)
    return run.get("note") or run.get("error") or ""


def rejects(project: Workspace, run_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from headwater.records import schema as rs

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


def record_text(project: Workspace, run_id: int) -> str:
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
        out += _model_fields(run["kind"], s)
        out.append("what happened:")
        out += [f"  {text}" for text in run["story"][1:]] or ["  (nothing more recorded)"]
        if s:
            out += ["", "recorded:"]
            out += [f"  {k}: {_plain(v)}" for k, v in s.items()]
    return "\n".join(out) + "\n"


def _model_fields(kind: str, s: dict[str, Any]) -> list[str]:
    """The labelled lines of a train or deploy record (empty for other kinds)."""
    if kind not in ("train", "deploy") or s.get("model_version") is None:
        return []
    out = [f"model:       v{s['model_version']}"]
    if s.get("estimator"):
        out.append(f"estimator:   {s['estimator']}")
    if s.get("dataset_version") is not None:
        out.append(f"data:        {_data(s)}")
    out.append(
        f"score:       {s.get('metric')} = {_num(s.get('score'))} on {s.get('test_rows')} test rows"
    )
    if "reason" in s:
        verdict = "promoted" if s.get("promoted") else "refused"
        if s.get("forced"):
            verdict += f" (forced by {s.get('forced_by') or 'the user'})"
        out.append(f"gate:        {verdict}: {s['reason']}")
    else:
        out.append("gate:        not deployed")
    now = s.get("production_version")
    out.append(f"production:  {'none' if now is None else f'v{now}'}")
    return [*out, ""]
