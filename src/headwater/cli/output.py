"""The only place that prints: tables, summaries, JSON and errors."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from headwater.errors import HeadwaterError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _json_value(value: Any) -> Any:
    """What ``json`` cannot write itself: a Decimal (SQL sums, DuckDB's HUGEINT) or a numpy
    scalar is written as the number it is, never as a string; a typed result as its
    ``to_dict()`` (the contract); anything else as its text."""
    from decimal import Decimal

    if callable(getattr(value, "to_dict", None)):
        return value.to_dict()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    return str(value)


def json_text(data: Any) -> str:
    """``data`` as indented JSON text: the one form every ``--format json`` prints."""
    return json.dumps(data, indent=2, default=_json_value)


def emit_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def line(text: str = "", *, soft_wrap: bool = False) -> None:
    """A line of text; ``soft_wrap`` for a command or path to copy: never cut at the
    terminal's width (the terminal wraps it for the eye; the text stays one line)."""
    console.print(text, markup=False, soft_wrap=soft_wrap)


def _add_row(table: Table, *cells: Any) -> None:
    """A table row whose cells show as they are: rich reads "[...]" in a plain string as
    markup (a value "[/x]" in the data made it raise); styled cells are ``Text``."""
    table.add_row(*[c if isinstance(c, Text) else Text(str(c)) for c in cells])


def note(text: str) -> None:
    """A plain line on stderr: what a command did when stdout carries its output (``-o -``)."""
    err_console.print(text, markup=False, highlight=False)


def markup(text: str) -> None:
    console.print(text)


def error(exc: HeadwaterError, *, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[dim]hint:[/] {escape(exc.hint)}", soft_wrap=True)
    notifications(exc.context.get("notifications") or [], quiet=True)  # a failed `run`


def error_line(text: str) -> None:
    err_console.print(Text(text, style="bold red"))


def warn(text: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)


def _took(run: dict[str, Any]) -> str:
    import datetime as dt

    if not run.get("finished"):
        return "-"
    a = dt.datetime.fromisoformat(run["started"])
    b = dt.datetime.fromisoformat(run["finished"])
    secs = (b - a).total_seconds()
    return f"{secs:.2f}s" if secs < 120 else f"{secs / 60:.1f}m"


def _run_summary(run: dict[str, Any]) -> str:
    from headwater._explain import summary_line

    return summary_line(run)


DRIFT_UNRESOLVED = (
    "drift unresolved: the loop found drift on the production model and the retrained "
    "candidate was rejected (`headwater show` on the last run says why)"
)


def history(runs: list[dict[str, Any]], drift_unresolved: bool = False) -> None:
    table = Table(title="runs", title_justify="left")
    for col in ("id", "kind", "started", "took", "status", "summary"):
        table.add_column(col, overflow="fold")
    colors = {
        "ok": "green",
        "partial": "yellow",
        "failed": "red",
        "crashed": "red",
        "skipped": "dim",
        "running": "cyan",
        "interrupted": "red",
    }
    for r in runs:
        st = r["status"]
        _add_row(
            table,
            str(r["id"]),
            r["kind"],
            r["started"][:19].replace("T", " "),
            _took(r),
            Text(st, style=colors.get(st, "white")),
            _run_summary(r),
        )
    if not runs:
        line("no runs yet — try `headwater ingest`")
        return
    console.print(table)
    if drift_unresolved:
        warn(DRIFT_UNRESOLVED)


def show(run: dict[str, Any]) -> None:
    for text in run["story"]:
        line(text)
    files = run.get("files") or []
    if files:
        table = Table(title=f"files of run {run['id']}", title_justify="left")
        for col in ("status", "path", "rows", "rejected", "dups", "added", "retracted"):
            table.add_column(col, overflow="fold")
        for f in files[:500]:
            _add_row(
                table,
                f["status"],
                f["path"],
                str(f["rows_read"]),
                str(f["rows_rejected"]),
                str(f["duplicates"]),
                str(f["rows_added"]),
                str(f["rows_retracted"]),
            )
        console.print(table)
        if len(files) > 500:
            line(f"… and {len(files) - 500} more (use --format json for all)")
    if run.get("rejects"):
        line(f"{run['rejects']} rejected row(s): `headwater rejects {run['id']}` lists them.")


def _ingest_headline(r: dict[str, Any]) -> str:
    """The first line of an ingest summary: the status, then what needs attention first."""
    head = (
        "dry run: what ingest would do"
        if r["dry_run"]
        else f"ingest run {r['run_id']}: {r['status']}"
    )
    notes = []
    if r.get("error"):
        notes.append(r["error"])
    errors = r["source_errors"]
    if errors:
        more = f" (and {len(errors) - 1} more source error(s))" if len(errors) > 1 else ""
        notes.append(f"source {errors[0]['source']!r}: {errors[0]['reason']}{more}")
    if r["files_failed"] and not r.get("error"):
        notes.append(f"{r['files_failed']} file(s) failed")
    if n := r["files_deferred"]:
        notes.append(
            f"{n} file{'s' if n > 1 else ''} deferred: still being written, left for the next run"
        )
    return f"{head} — {'; '.join(notes)}" if notes else head


def ingest_result(r: dict[str, Any]) -> None:
    console.print(_ingest_headline(r), markup=False, soft_wrap=True)  # one line, however long
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("files new", r["files_new"]),
        ("files changed", r["files_changed"]),
        ("files skipped (already ingested)", r["files_skipped"]),
        ("files alias", r["files_alias"]),
        ("files deferred (still being written)", r["files_deferred"]),
        ("files missing", r["files_missing"]),
        ("files failed", r["files_failed"]),
        ("files ignored (unknown extension)", r["files_ignored"]),
    ]
    if not r["dry_run"]:
        rows += [
            ("rows read", r["rows_read"]),
            ("rows rejected", r["rows_rejected"]),
            ("duplicates dropped", r["duplicates_dropped"]),
            ("rows superseded", r["rows_superseded"] + r["rows_stale"]),
            ("rows added", r["rows_added"]),
            ("rows retracted", r["rows_retracted"]),
        ]
    for what, n in rows:
        if n or what in ("files new", "rows added"):
            _add_row(table, what, f"{n:,}")
    console.print(table)
    for f in r["files"]:
        if f["status"] in ("failed", "deferred"):
            warn(f"{f['status']}: {f['path']}: {f['reason']}")
    for e in [*r["source_errors"], *r.get("warnings", [])]:
        warn(f"source {e['source']!r}: {e['reason']}" if "source" in e else e["reason"])
    if r["schema_changes"]:
        line(f"schema: {json.dumps(r['schema_changes'])}")
    if r["dry_run"]:
        line("nothing was written (dry run)")
        return
    v = r["dataset_version"]
    line(
        f"dataset {r['dataset']!r}: version {v if v is not None else '(none yet)'}, "
        f"{r['dataset_rows']:,} rows, at {r['output']} ({r['seconds']:.2f}s)"
    )
    if r["rows_rejected"]:
        line(f"see the rejected rows with `headwater rejects {r['run_id']}`")


def rejects(rows: list[dict[str, Any]], run_id: int) -> None:
    if not rows:
        line(f"run {run_id} rejected no rows")
        return
    table = Table(title=f"rows rejected by run {run_id}", title_justify="left")
    for col in ("file", "record", "column", "value", "rule", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        _add_row(
            table,
            r["path"] or "",
            str(r["record"]),
            r["column"] or "",
            str(r["value"]),
            r["rule"] or "",
            r["reason"],
        )
    console.print(table)


def versions(rows: list[dict[str, Any]]) -> None:
    if not rows:
        line("no dataset versions yet — run `headwater ingest`")
        return
    table = Table(title="dataset versions", title_justify="left")
    for col in ("version", "line", "parent", "run", "created", "rows", "added", "retracted", ""):
        table.add_column(col)
    for v in rows:
        _add_row(
            table,
            str(v["version"]),
            str(v["line"]),
            str(v["parent"]),
            str(v["run_id"]),
            v["created"][:19].replace("T", " "),
            f"{v['rows']:,}",
            f"{v['rows_added']:,}",
            f"{v['rows_retracted']:,}",
            "current" if v["current"] else "",
        )
    console.print(table)


def raw(text: str) -> None:
    sys.stdout.write(text)


def comparison(c: Any) -> None:
    from headwater.reports.compare import summary_rows

    verdict = "[green]equal[/]" if c.equal else "[red]different[/]"
    how = f"key {', '.join(c.key)}" if c.key else "whole rows"
    console.print(
        f"{escape(f'{c.left} vs {c.right}')}: {verdict} ({escape(how)}, {c.seconds:.2f}s)"
    )
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in summary_rows(c):
        _add_row(table, name, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    if c.columns:
        cols = Table(title="columns (matched rows)", title_justify="left")
        for h in ("column", "equal", "unequal", "null one side", "max abs diff", "types"):
            cols.add_column(h, overflow="fold")  # a long name wraps, it is not cut
        for name, col in c.columns.items():
            diff = "" if col.max_abs_diff is None else f"{col.max_abs_diff:.6g}"
            style = "red" if col.unequal else "green"
            _add_row(
                cols,
                name,
                f"{col.equal:,}",
                Text(f"{col.unequal:,}", style=style),
                f"{col.null_one_side:,}",
                diff,
                f"{col.left_type} / {col.right_type}",
            )
        console.print(cols)
    for kind, rows in c.samples.items():
        if not rows:
            continue
        t = Table(title=f"sample: {kind.replace('_', ' ')}", title_justify="left")
        for h in rows[0]:
            t.add_column(Text(str(h)), overflow="fold")
        for r in rows:
            _add_row(t, *["null" if v is None else str(v) for v in r.values()])
        console.print(t)
    for kind, path in c.saved.items():
        line(f"all {kind.replace('_', ' ')}: {path}")


def model_result(what: str, r: dict[str, Any]) -> None:
    score = f"{r['score']:.4f}" if r.get("score") is not None else "-"
    if what == "trained":
        line(
            f"trained model v{r['model_version']} on dataset version {r['dataset_version']} "
            f"({r['train_rows']:,} rows): {r['metric']} = {score} on {r['test_rows']:,} test rows"
        )
        line(f"report: {r['report']}")
        if "reason" in r:
            what = "deploy"
        else:
            line(
                f"production: {r['production_version'] or 'none'} — deploy it with "
                f"`headwater deploy {r['model_version']}`"
            )
            return
    if what == "deploy":
        verdict = "[green]promoted[/]" if r["promoted"] else "[red]not promoted[/]"
        console.print(f"model v{r['model_version']}: {verdict} — {escape(str(r['reason']))}")
        line(
            f"production: v{r['production_version']}"
            if r["production_version"]
            else "production: none"
        )
        return
    line(
        f"production model v{r['model_version']}: {r['metric']} = {score} "
        f"on {r['test_rows']:,} rows "
        f"of {r['data']}"
    )
    if r.get("report"):
        line(f"report: {r['report']}")


def models(info: dict[str, Any]) -> None:
    if not info["models"]:
        line("no models yet — run `headwater train`")
        return
    table = Table(title="models", title_justify="left")
    for col in ("version", "created", "data version", "metric", "score", "test rows", "status", ""):
        table.add_column(col)
    for m in info["models"]:
        _add_row(
            table,
            str(m["version"]),
            m["created"][:19].replace("T", " "),
            str(m["dataset_version"]),
            m["metric"],
            f"{m['score']:.4f}" if m["score"] is not None else "-",
            f"{m['test_rows']:,}",
            m["status"],
            Text("production", style="green") if m["in_production"] else "",
        )
    console.print(table)

    def said(m: dict[str, Any]) -> str:
        score = f"{m['score']:.4f}" if m["score"] is not None else "-"
        return f"v{m['version']} ({m['metric']} {score} on its test data)"

    newest, prod = info.get("newest"), info.get("production")
    if newest is not None:
        line(f"newest: {said(newest)}, {newest['status']}")
    if prod is not None:
        line(f"in production: {said(prod)} since {prod['promoted_at']}")
    else:
        line("in production: none — `headwater deploy` promotes the newest candidate")
    if info.get("drift_unresolved"):
        warn(DRIFT_UNRESOLVED)
    if info["history"]:
        hist = Table(title="production history", title_justify="left")
        for col in ("when", "action", "from", "to", "forced", "by", "why"):
            hist.add_column(col, overflow="fold")
        for h in info["history"][:20]:
            _add_row(
                hist,
                h["at"][:19].replace("T", " "),
                h["action"],
                str(h["from_version"]),
                str(h["to_version"]),
                "yes" if h["forced"] else "",
                f"{h['user']}@{h['host']}",
                h["reason"],
            )
        console.print(hist)
    if info.get("score_history"):
        line(f"score history: {info['score_history']}")


def diagnostics(info: dict[str, Any]) -> None:
    line(f"dataset {info['dataset']!r}: version {info['dataset_version']}, {info['rows']:,} rows")
    if info["columns"]:
        table = Table(title="columns", title_justify="left")
        for col in ("column", "type", "missing", "mean", "median", "std"):
            table.add_column(col)
        for name, c in info["columns"].items():

            def num(v: Any) -> str:
                return "" if v is None else f"{v:.4g}"

            _add_row(
                table,
                name,
                c["type"],
                f"{c['missing_share']:.1%}",
                num(c.get("mean")),
                num(c.get("median")),
                num(c.get("std")),
            )
        console.print(table)
    for kind in ("ingest", "train"):
        last = info.get(f"last_{kind}")
        line(
            f"last {kind}: "
            + (
                f"run {last['run_id']}, {last['seconds']:.2f}s, finished {last['finished']}"
                if last
                else "none"
            )
        )
    line("libraries: " + ", ".join(f"{k} {v}" for k, v in info["libraries"].items()))


def loop_result(r: dict[str, Any]) -> None:
    """``headwater run``: the outcome first, then why, with the numbers."""
    colour = {"deployed": "green", "rejected": "red", "failed": "red", "drift": "red"}
    colour.update(partial="yellow", data_drift="yellow")
    status = r["status"]
    head = f"[{colour[status]}]{status}[/]" if status in colour else status
    run = f"run {r['run_id']}: " if r.get("run_id") else ""
    console.print(f"{run}{head} — {escape(r['reason'])}", soft_wrap=True)
    if r.get("dry_run"):
        plan = r.get("plan") or {}
        line(
            f"files new {plan.get('files_new', 0)}, changed {plan.get('files_changed', 0)}, "
            f"deferred {plan.get('files_deferred', 0)}; nothing was written (dry run)"
        )
    elif r.get("ingest_run_id"):
        line(
            f"ingest run {r['ingest_run_id']}: {r['files_new']} file(s), "
            f"{r['rows_added']:,} rows added"
        )
    d = r.get("drift")
    if d:
        score = "-" if d.get("score") is None else f"{d['score']:.4f}"
        base = "-" if d.get("baseline") is None else f"{d['baseline']:.4f}"
        line(
            f"model drift ({d.get('test')}): {score} on {d.get('rows', 0):,} rows "
            f"vs {base}: {'detected' if d.get('detected') else 'none'}"
        )
    drifted = [f for f, v in (r.get("data_drift") or {}).items() if v.get("detected")]
    if r.get("data_drift"):
        line(
            f"data drift: {len(drifted)} of {len(r['data_drift'])} feature(s)"
            + (f" ({', '.join(drifted)})" if drifted else "")
        )
    c = r.get("candidate")
    if c:
        score = "-" if c.get("score") is None else f"{c['score']:.4f}"
        verdict = "promoted" if c.get("promoted") else "not promoted"
        line(f"candidate v{c['model_version']}: {c.get('metric')} = {score}, {verdict}")
    prod = r.get("production_version")
    line(f"production: {'v' + str(prod) if prod else 'none'}")
    if r.get("drift_unresolved"):
        warn(DRIFT_UNRESOLVED)
    for w in r.get("warnings") or []:
        warn(w.get("reason", str(w)))
    notifications(r.get("notifications") or [])


def notifications(sent: list[dict[str, Any]], *, quiet: bool = False) -> None:
    """What ``[notify]`` did after a run: a line per notifier, a warning when it failed
    (``quiet``: the warnings only)."""
    for n in sent:
        what = f"{n.get('via')} {n.get('target')} ({', '.join(n.get('events') or [])})"
        if not n.get("ok"):
            warn(f"notification by {what} failed: {n.get('error')}")
        elif not quiet:
            line(f"notified: {what}")


# -- the schedule -----------------------------------------------------------------------


def say(text: str) -> None:
    """One line of the foreground scheduler's log, with the local time (flushed at once)."""
    import datetime as dt

    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    console.print(f"{stamp} {escape(text)}", soft_wrap=True)


def _when(iso: str | None) -> str:
    return iso.replace("T", " ") if iso else "-"


def schedule_added(e: dict[str, Any]) -> None:
    line(
        f"added crontab entry {e['id']}: {e['expression']!r} runs `headwater {e['job']}`; "
        f"next {_when(e['next'])}" + (f" ({e['next_note']})" if e.get("next_note") else ""),
        soft_wrap=True,
    )
    line(
        "its output goes to .headwater/logs/schedule.log; `headwater schedule list` shows it",
        soft_wrap=True,
    )


def schedule_list(entries: list[dict[str, Any]]) -> None:
    if not entries:
        line('no schedule entries — add one: headwater schedule add "*/10 * * * *"')
        return
    table = Table(title="schedule", title_justify="left")
    for col in ("id", "source", "expression", "job", "name", "next", "last run"):
        table.add_column(col, overflow="fold")
    for e in entries:
        last = e.get("last_run")
        last_text = (
            f"{last['run_id']} {last['status']} {_when(last['started'])[:19]}" if last else "-"
        )
        nxt = _when(e["next"]) + (f" ({e['next_note']})" if e.get("next_note") else "")
        _add_row(
            table, e["id"], e["source"], e["expression"], e["job"], e.get("name") or "", nxt,
            last_text,
        )  # fmt: skip
    console.print(table)


def schedule_next(data: dict[str, list[dict[str, Any]]]) -> None:
    for expr, fires in data.items():
        line(f"{expr}:")
        if not fires:
            line("  at boot only (@reboot)")
        for f in fires:
            line(f"  {_when(f['at'])}" + (f"  {f['note']}" if f["note"] else ""), soft_wrap=True)


def schedule_removed(gone: list[dict[str, Any]]) -> None:
    if not gone:
        line("this project has no crontab entries: nothing removed")
    for e in gone:
        line(f"removed crontab entry {e['id']} ({e['expression']!r}, job {e['job']})")


def records_copied(r: dict[str, Any]) -> None:
    rows = sum(t["rows"] for t in r["tables"].values())
    into = f" (schema {r['schema']})" if r.get("schema") else ""
    line(
        f"copied {rows:,} rows in {len(r['tables'])} tables from {r['source']} to "
        f"{r['target']}{into}; every table's count and checksum match",
        soft_wrap=True,
    )
    keys = "url and schema" if r.get("schema") else "url"
    line(f"the source is unchanged; to use the copy, set [records] {keys} in headwater.toml")
