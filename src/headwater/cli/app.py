"""The typer application: options, help texts, and one Project call per command."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from headwater.cli import output

app = typer.Typer(
    name="headwater",
    help="Keep a production ML model fed with fresh, clean, versioned data.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
records_app = typer.Typer(help="Export and inspect the record store.", no_args_is_help=True)
app.add_typer(records_app, name="records")
schedule_app = typer.Typer(
    help="Run the loop on a schedule: crontab entries, or a foreground scheduler.",
    no_args_is_help=True,
)
app.add_typer(schedule_app, name="schedule")


@dataclass
class _State:
    debug: bool = False
    project: Path | None = None


state = _State()


class Fmt(StrEnum):
    text = "text"
    json = "json"


ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder (default: here, or a parent)."),
]
FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Wait for another writer instead of skipping.")
]


def _emit(format: Fmt, data: Any, render: Any) -> None:
    """Print ``data`` as JSON or through its text renderer (the only switch on --format).

    Typed results (``to_dict()``) are printed and rendered as their dict: the contract."""
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    if format is Fmt.json:
        output.emit_json(data)
    else:
        render(data)


def _prog() -> str:
    """How the user can run headwater again: its name if it is on PATH, else its path."""
    import shutil
    import sys

    argv0 = sys.argv[0]
    if argv0.endswith("__main__.py") or not argv0:
        return f"{sys.executable} -m headwater"
    found = shutil.which("headwater")
    if found and os.path.exists(argv0) and os.path.samefile(found, argv0):
        return "headwater"
    return os.path.relpath(argv0) if os.path.exists(argv0) else "headwater"


def _here(path: str) -> str:
    """A path given on the command line is relative to the current folder (URLs as they are)."""
    return path if "://" in path else str(Path(path).expanduser().resolve())


def _open(project: Path | None) -> Any:
    from headwater.project import Project

    return Project.open(project or state.project or Path("."), env=os.environ)


def _print_version(value: bool) -> None:
    if value:
        from headwater._version import __version__

        output.line(f"headwater {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    project: ProjectOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=lambda v: _print_version(v),
        ),
    ] = False,
) -> None:
    state.debug = debug
    state.project = project
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
    example: Annotated[
        str | None, typer.Option(help="Start from an example project: 'stocks'.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing headwater.toml.")] = False,
) -> int:
    """Create a project folder with a commented headwater.toml."""
    from headwater.project import Project

    if example:
        from headwater import examples

        project = examples.create(example, directory, force=force)
    else:
        project = Project.init(directory, name=name, force=force)
    output.line(f"created project {project.config.project.name!r} in {project.root}")
    output.line(f"edit {project.root / 'headwater.toml'}, put files in the sources, then run:")
    output.line(f"  headwater --project {directory} ingest", soft_wrap=True)
    return 0


@app.command()
def history(
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs to show (0 = all).")] = 50,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind.")] = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """One line per run: id, kind, started, took, status, summary."""
    proj = _open(project)
    runs = proj.history(limit=limit or None, kind=kind)
    flagged = format is Fmt.text and proj.drift_unresolved()
    _emit(format, runs, lambda r: output.history(r, drift_unresolved=flagged))
    return 0


@app.command()
def show(
    run_id: Annotated[int, typer.Argument(help="The run's id (see `headwater history`).")],
    project: ProjectOpt = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """Everything recorded about one run, explained in plain words."""
    record = _open(project).run_record(run_id)
    _emit(format, record, output.show)
    return 0


@app.command()
def ingest(
    project: ProjectOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail, publishing nothing, on any bad file or row.")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-ingest everything into a new version line.")
    ] = False,
    wait: WaitOpt = False,
    format: FormatOpt = Fmt.text,
) -> int:
    """Ingest what is new in the sources into a new dataset version."""
    proj = _open(project)
    with _progress(enabled=format is Fmt.text) as progress:
        result = proj.ingest(
            dry_run=dry_run, strict=strict, rebuild=rebuild, wait=wait, progress=progress
        )
    _emit(format, result.to_dict(), output.ingest_result)
    return 1 if result.status == "failed" or result.error else 0  # nothing was achieved


class _progress:
    """A rich progress bar on stderr (when it is a terminal), fed by a progress callback
    (ingest, compare, train, score, predict): one line per stage, with what it is doing
    and for how long."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and output.err_console.is_terminal
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}", style="dim", markup=False),
            console=output.err_console,
            transient=True,
        )
        self.bar.start()
        return self.update

    def update(self, stage: str, done: int, total: int, detail: str) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=max(total, 1), detail=detail)
        self.bar.update(self.tasks[stage], completed=done, total=max(total, 1), detail=detail)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def rejects(
    run_id: Annotated[int, typer.Argument(help="The ingest run's id.")],
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 = all).")] = 100,
    format: FormatOpt = Fmt.text,
) -> int:
    """The rows a run refused: file, record, column, value and why."""
    rows = _open(project).rejects(run_id, limit=limit or None)
    _emit(format, rows, lambda d: output.rejects(d, run_id))
    return 0


class ExportFmt(StrEnum):
    csv = "csv"
    parquet = "parquet"


class ExportPrintFmt(StrEnum):
    """``export --format``: how the result is printed, as everywhere; csv/parquet are the
    old spelling of ``--file-format`` (deprecated, still accepted)."""

    text = "text"
    json = "json"
    csv = "csv"
    parquet = "parquet"


def _said(out: Path | str, text: str) -> None:
    """What a command wrote, on stdout; on stderr when stdout carries the output (-o -)."""
    from headwater._output import is_stdout

    (output.note if is_stdout(out) else output.line)(text)


@app.command()
def export(
    out: Annotated[
        str, typer.Option("--output", "-o", help="File or fsspec URL to write ('-': stdout).")
    ],
    project: ProjectOpt = None,
    version: Annotated[int | None, typer.Option(help="Dataset version (default: current).")] = None,
    file_format: Annotated[
        ExportFmt | None,
        typer.Option("--file-format", help="csv or parquet (default: from the file name)."),
    ] = None,
    format: Annotated[
        ExportPrintFmt,
        typer.Option(
            "--format",
            "-f",
            help="Output format: text or json (csv/parquet: deprecated, use --file-format).",
        ),
    ] = ExportPrintFmt.text,
    provenance: Annotated[bool, typer.Option(help="Include the _hw_* provenance columns.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Deprecated: use --format json.", hidden=True)
    ] = False,
) -> int:
    """Write a dataset version to one CSV or Parquet file."""
    from headwater._output import is_stdout
    from headwater.errors import ConfigError

    if format in (ExportPrintFmt.csv, ExportPrintFmt.parquet):
        if file_format is not None and file_format.value != format.value:
            raise ConfigError(
                f"--format {format.value!r} and --file-format {file_format.value!r} disagree",
                hint="give the file format once, as --file-format",
                key="format",
            )
        output.warn(
            f"`export --format {format.value}` is deprecated: use `--file-format {format.value}`"
            " (--format is how the result is printed, text or json, as for every command)"
        )
        file_format, format = ExportFmt(format.value), ExportPrintFmt.text
    if json_output:
        output.warn("`export --json` is deprecated: use `--format json`")
        format = ExportPrintFmt.json
    info = _open(project).export(
        out,  # a string: Project.export keeps a URL one (a Path eats one of its slashes)
        format=file_format.value if file_format else None,
        version=version,
        provenance=provenance,
    )
    if format is ExportPrintFmt.json:
        if is_stdout(out):  # stdout carries the data
            output.note(output.json_text(info))
        else:
            output.emit_json(info)
    else:
        _said(out, f"wrote {info['rows']:,} rows of version {info['version']} to {info['output']}")
    return 0


@app.command()
def versions(project: ProjectOpt = None, format: FormatOpt = Fmt.text) -> int:
    """Every version of the dataset, newest first."""
    rows = _open(project).versions()
    _emit(format, rows, output.versions)
    return 0


@records_app.command("export")
def records_export(
    run_id: Annotated[int, typer.Argument(help="The run's id.")],
    project: ProjectOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of stdout ('-': stdout)."),
    ] = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """The human-readable record of a run (sources, date, counts, fixes, output)."""
    proj = _open(project)
    if format is Fmt.json:
        text = output.json_text(proj.run_record(run_id)) + "\n"
    else:
        text = proj.record_text(run_id)
    if out:
        from headwater._output import check_output_file, write_atomically

        check_output_file(out, f"run-{run_id}.txt")
        write_atomically(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        _said(out, f"wrote the record of run {run_id} to {out}")
    else:
        output.raw(text)  # as written to a file: never wrapped at the terminal's width
    return 0


@records_app.command("migrate")
def records_migrate(project: ProjectOpt = None, format: FormatOpt = Fmt.text) -> int:
    """Create or upgrade the record store's schema (also done on first use)."""
    info = _open(project).records_migrate()

    def text(i: dict[str, Any]) -> None:
        schema = f" (schema {i['schema']})" if i.get("schema") else ""
        output.line(f"{i['records']}{schema}: at revision {i['revision']}", soft_wrap=True)

    _emit(format, info, text)
    return 0


@records_app.command("copy")
def records_copy(
    to: Annotated[str, typer.Option("--to", help="The new store's URL (an empty database).")],
    schema: Annotated[
        str | None,
        typer.Option(help="PostgreSQL: the schema to copy into, created if missing."),
    ] = None,
    project: ProjectOpt = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """Copy this project's records to another store (SQLite ↔ PostgreSQL), verified per
    table; the source is left as it was. Then point [records] url (and schema) at the new
    store."""
    result = _open(project).records_copy(to, schema)
    _emit(format, result, output.records_copied)
    return 0


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to create the demo project.")] = Path(
        "headwater-demo"
    ),
    rows: Annotated[int, typer.Option(help="Roughly how many stock rows to generate.")] = 20_000,
    force: Annotated[bool, typer.Option(help="Replace an existing demo folder.")] = False,
) -> int:
    """Create a sample stock-data project and run it: ingest, land more data, ingest again."""
    from headwater import examples

    for text in examples.run_demo(directory, rows=rows, force=force, prog=_prog()):
        output.line(text, soft_wrap=True)  # the "try next" commands must copy whole
    return 0


class CompareFmt(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


def _tolerance_map(items: list[str] | None, what: str) -> dict[str, float]:
    from headwater.errors import ConfigError

    out = {}
    for item in items or []:
        col, sep, value = item.partition("=")
        try:
            out[col.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not col.strip():
            raise ConfigError(
                f"{what} {item!r} is not COLUMN=NUMBER", hint=f"e.g. {what} price=0.01"
            )
    return out


@app.command()
def compare(
    left: Annotated[
        str, typer.Argument(help="File, folder, glob, URL, or dataset@N / dataset@latest.")
    ],
    right: Annotated[str, typer.Argument(help="The other side, in the same forms.")],
    key: Annotated[
        str | None, typer.Option(help="Key columns, comma-separated (default: whole rows).")
    ] = None,
    project: ProjectOpt = None,
    format: Annotated[
        CompareFmt, typer.Option("--format", "-f", help="text, json, markdown or html.")
    ] = CompareFmt.text,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file ('-': stdout)."),
    ] = None,
    sample: Annotated[int, typer.Option(help="Example rows of each kind of difference.")] = 10,
    save_differences: Annotated[
        Path | None, typer.Option(help="Write every difference as Parquet into this folder.")
    ] = None,
    abs_tol: Annotated[
        float, typer.Option(help="Numbers within this absolute difference are equal.")
    ] = 0.0,
    rel_tol: Annotated[float, typer.Option(help="… or within this relative difference.")] = 0.0,
    column_abs_tol: Annotated[
        list[str] | None, typer.Option("--column-abs-tol", help="COLUMN=NUMBER, repeatable.")
    ] = None,
    column_rel_tol: Annotated[
        list[str] | None, typer.Option("--column-rel-tol", help="COLUMN=NUMBER, repeatable.")
    ] = None,
    ignore_case: Annotated[bool, typer.Option(help="Compare strings case-insensitively.")] = False,
    ignore_spaces: Annotated[
        bool, typer.Option(help="Ignore surrounding whitespace in strings.")
    ] = False,
    input_format: Annotated[
        str | None, typer.Option(help="Read file inputs as csv, tsv, json, jsonl or parquet.")
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter of file inputs.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of file inputs.")] = None,
    record: Annotated[
        bool, typer.Option(help="Save the result in the project's record store.")
    ] = False,
) -> int:
    """Compare two datasets: rows in common, one-sided rows, duplicates, column differences.

    Exit code 0 when both sides are equal, 1 when they differ, 2 on bad input.
    """
    from headwater.compare import compare as run_compare
    from headwater.errors import ConfigError, ProjectError

    if out is not None:  # before the work, not after it
        from headwater._output import check_output_file

        check_output_file(out, "report.html")
    kwargs: dict[str, Any] = dict(
        key=key,
        abs_tol=abs_tol,
        rel_tol=rel_tol,
        column_abs_tol=_tolerance_map(column_abs_tol, "--column-abs-tol"),
        column_rel_tol=_tolerance_map(column_rel_tol, "--column-rel-tol"),
        ignore_case=ignore_case,
        ignore_spaces=ignore_spaces,
        sample=sample,
        save_differences=save_differences,
        source=_input_source(input_format, delimiter, encoding),
    )
    proj = None
    wants_project = record or "@" in left or "@" in right
    if wants_project or project or state.project:
        try:
            proj = _open(project)
        except (ConfigError, ProjectError):
            if wants_project:
                raise
    with _progress(enabled=True) as progress:  # on stderr: stdout keeps the report alone
        kwargs["progress"] = progress
        if proj is not None:
            result = proj.compare(left, right, record=record, **kwargs)
        else:
            result = run_compare(left, right, **kwargs)
    _compare_report(result, format, out)
    return 0 if result.equal else 1


def _input_source(input_format: str | None, delimiter: str | None, encoding: str | None) -> Any:
    """How compare reads file inputs, as a source; a bad value names its option."""
    from headwater.config import SourceConfig
    from headwater.errors import ConfigError

    given = {"format": input_format, "delimiter": delimiter, "encoding": encoding}
    options: dict[str, Any] = {"path": ".", **{k: v for k, v in given.items() if v}}
    try:
        return SourceConfig(**options)
    except Exception as exc:
        from pydantic import ValidationError

        flags = {"format": "--input-format", "delimiter": "--delimiter", "encoding": "--encoding"}
        problems = (
            [
                f"{flags.get(str(e['loc'][0]), e['loc'][0])} {e.get('input')!r}: "
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            ]
            if isinstance(exc, ValidationError)
            else [str(exc)]
        )
        raise ConfigError(
            "bad input option: " + "; ".join(problems), hint="see `headwater compare --help`"
        ) from exc


def _compare_report(result: Any, format: CompareFmt, out: Path | None) -> None:
    """The comparison on stdout (text, or the report in ``format``) or into ``out``
    (markdown when the format is text)."""
    from headwater.reports.compare import to_html, to_markdown

    if format is CompareFmt.text and out is None:
        output.comparison(result)
        return
    if format is CompareFmt.json:
        text = output.json_text(result.to_dict()) + "\n"
    elif format is CompareFmt.html:
        text = to_html(result)
    else:
        text = to_markdown(result)
    if out is None:
        output.raw(text)
        return
    from headwater._output import write_atomically

    write_atomically(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    _said(out, f"{'equal' if result.equal else 'different'}; wrote the report to {out}")


@app.command()
def train(
    project: ProjectOpt = None,
    deploy: Annotated[
        bool, typer.Option("--deploy", help="Deploy the candidate if it passes the gate.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --deploy: promote even if the gate refuses.")
    ] = False,
    wait: WaitOpt = False,
    format: FormatOpt = Fmt.text,
) -> int:
    """Fit a candidate on the latest dataset version; score it on the test data."""
    if force and not deploy:  # a flag that would silently do nothing
        from headwater.errors import ConfigError

        raise ConfigError(
            "--force only applies with --deploy",
            hint="`headwater train --deploy --force` promotes even if the gate refuses;"
            " drop --force to only train",
            key="force",
        )
    proj = _open(project)
    with _progress(enabled=format is Fmt.text) as progress:
        result = proj.train(deploy=deploy, force=force, wait=wait, progress=progress)
    _emit(format, result, lambda d: output.model_result("trained", d))
    return 1 if deploy and not result["promoted"] else 0


@app.command()
def deploy(
    version: Annotated[
        int | None, typer.Argument(help="Model version (default: the newest candidate).")
    ] = None,
    project: ProjectOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the gate refuses (recorded).")
    ] = False,
    wait: WaitOpt = False,
    format: FormatOpt = Fmt.text,
) -> int:
    """Promote a model to production if it is at least as good as production."""
    result = _open(project).deploy(version, force=force, wait=wait)
    _emit(format, result, lambda d: output.model_result("deploy", d))
    return 0 if result["promoted"] else 1


@app.command()
def models(project: ProjectOpt = None, format: FormatOpt = Fmt.text) -> int:
    """Model versions, scores, data versions, and which one is in production since when."""
    info = _open(project).models()
    _emit(format, info, output.models)
    return 0


@app.command()
def rollback(
    project: ProjectOpt = None,
    wait: WaitOpt = False,
    format: FormatOpt = Fmt.text,
) -> int:
    """Put the previous production version back, in one step."""
    result = _open(project).rollback(wait=wait)
    if format is Fmt.json:
        output.emit_json(result)
    else:
        output.line(
            f"production is back to v{result['production_version']} (was v{result['from_version']})"
        )
    return 0


@app.command()
def score(
    project: ProjectOpt = None,
    data: Annotated[
        str | None, typer.Option(help="Score on this file/folder instead of the test data.")
    ] = None,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot", help="Also write a confusion matrix / residual plot beside the model."
        ),
    ] = False,
    format: FormatOpt = Fmt.text,
) -> int:
    """Score the production model on the test data (or --data); changes nothing."""
    proj = _open(project)
    with _progress(enabled=format is Fmt.text) as progress:
        result = proj.score(_here(data) if data else None, progress=progress, plot=plot)
    _emit(format, result, lambda d: output.model_result("score", d))
    return 0


@app.command()
def predict(
    data: Annotated[str, typer.Option(help="File, folder or glob with the model's features.")],
    out: Annotated[
        Path, typer.Option("--output", "-o", help="CSV file to write ('-': stdout).")
    ] = Path("predictions.csv"),
    project: ProjectOpt = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """Predict with the production model; write the rows with their predictions as CSV."""
    proj = _open(project)
    with _progress(enabled=format is Fmt.text) as progress:
        result = proj.predict(_here(data), out, progress=progress)
    if format is Fmt.json:
        from headwater._output import is_stdout

        if is_stdout(out):  # stdout carries the predictions
            output.note(output.json_text(result))
        else:
            output.emit_json(result)
    else:
        _said(
            out,
            f"wrote {result['rows']:,} predictions of model v{result['model_version']} "
            f"to {result['output']}",
        )
    return 0


@app.command()
def diagnostics(project: ProjectOpt = None, format: FormatOpt = Fmt.text) -> int:
    """Summary statistics, missing values, run timings and dependency versions."""
    info = _open(project).diagnostics()
    _emit(format, info, output.diagnostics)
    return 0


@app.command("run")
def run_(
    project: ProjectOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what a run would do; write nothing.")
    ] = False,
    wait: WaitOpt = False,
    format: FormatOpt = Fmt.text,
) -> int:
    """The whole loop once: ingest what is new, check production for drift, retrain and
    deploy through the gate when it drifts.

    Exit codes: 0 no_new_data, no_drift, insufficient_data, deployed (and partial: files
    failed, nothing else happened); 1 failed, rejected; 2 skipped (another run holds the
    lock) and usage errors."""
    from headwater.loop import EXIT_CODES

    proj = _open(project)
    try:
        with _progress(enabled=format is Fmt.text) as progress:
            result = proj.run(wait=wait, dry_run=dry_run, progress=progress)
    except Exception as exc:
        partial = getattr(exc, "loop_result", None)
        if format is Fmt.json and partial is not None:
            # a script reading stdout still gets the run's JSON (status failed or skipped,
            # the step, the run id); the error itself goes to stderr as always
            hint = getattr(exc, "hint", None)
            output.emit_json({**partial.to_dict(), "error": str(exc), "hint": hint})
        raise
    _emit(format, result, output.loop_result)
    if format is Fmt.json:  # stdout is the JSON: a failed notifier is said on stderr
        output.notifications(result.notifications, quiet=True)
    return EXIT_CODES.get(result.status, 0)  # whatever the notifiers did


@app.command()
def drift(
    project: ProjectOpt = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Check these rows (file, folder or glob) instead."),
    ] = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """The drift checks alone, against the production model; changes nothing.

    On the rows the next `run` would check (else those the last run checked), or --data.
    Exit 1 when model or data drift is found, 0 when not."""
    result = _open(project).drift(_here(data) if data else None)
    _emit(format, result, output.loop_result)
    return 1 if result.status in ("drift", "data_drift") else 0


# -- the server -------------------------------------------------------------------------


@app.command()
def serve(
    project: ProjectOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on ([serve] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port ([serve] port, 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes ([serve] workers, 1).")
    ] = None,
) -> int:
    """Serve predictions, the records and the dashboard over HTTP until stopped.

    POST /predict, GET /model, /health, /runs, /datasets, /models, the dashboard at /;
    POST /runs and /rollback need the bearer token named by [serve] token_env."""
    from headwater.serve import server

    proj = _open(project)
    cfg = proj.config.serve
    host = host or cfg.host
    if server.exposed_without_token(proj, host):
        output.warn(
            f"listening on {host}, beyond this host: anyone who can reach it can read the "
            "records and predict (POST /runs and /rollback stay disabled without a token); "
            "set [serve] token_env, or put it behind a proxy that authenticates"
        )
    server.serve(proj, host, cfg.port if port is None else port, workers or cfg.workers)
    return 0


# -- the schedule -----------------------------------------------------------------------

JobOpt = Annotated[str, typer.Option("--job", help="The job each fire starts: run or ingest.")]


@schedule_app.command("add")
def schedule_add(
    expression: Annotated[
        str, typer.Argument(help='Five cron fields or a macro, e.g. "*/10 * * * *", "@daily".')
    ],
    job: JobOpt = "run",
    name: Annotated[str | None, typer.Option(help="A name to know the entry by.")] = None,
    project: ProjectOpt = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """Add a user crontab entry that runs the job for this project."""
    entry = _open(project).schedule_add(expression, job, name)
    _emit(format, entry, output.schedule_added)
    return 0


@schedule_app.command("list")
def schedule_list(project: ProjectOpt = None, format: FormatOpt = Fmt.text) -> int:
    """This project's entries: id, expression, job, next fire time, last run and status."""
    _emit(format, _open(project).schedule_list(), output.schedule_list)
    return 0


@schedule_app.command("next")
def schedule_next(
    expression: Annotated[
        str | None, typer.Argument(help="An expression (default: this project's entries).")
    ] = None,
    n: Annotated[int, typer.Option("-n", help="How many fire times.", min=1)] = 5,
    project: ProjectOpt = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """The next N fire times, in local time, with DST noted."""
    from headwater import schedule

    exprs = (
        [expression]
        if expression
        else list(dict.fromkeys(e["expression"] for e in _open(project).schedule_list()))
    )
    if not exprs:
        from headwater.errors import ScheduleError

        raise ScheduleError(
            "this project has no schedule entry",
            hint='give one: headwater schedule next "0 3 * * *"',
        )
    data = {
        e: [{"at": f.at.isoformat(), "note": f.note} for f in schedule.next_times(e, n)]
        for e in exprs
    }
    _emit(format, data, output.schedule_next)
    return 0


@schedule_app.command("remove")
def schedule_remove(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Entry ids (see `schedule list`).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove all of this project's.")] = False,
    project: ProjectOpt = None,
    format: FormatOpt = Fmt.text,
) -> int:
    """Remove this project's crontab entries; the crontab's other lines stay as they are."""
    from headwater.errors import ConfigError

    if bool(ids) == all_:
        raise ConfigError("give entry ids or --all (not both)", hint="headwater schedule list")
    gone = _open(project).schedule_remove(None if all_ else list(ids or []))
    _emit(format, gone, output.schedule_removed)
    return 0


@schedule_app.command("run")
def schedule_run(
    once: Annotated[
        bool, typer.Option("--once", help="Fire at the next fire time, then exit with its code.")
    ] = False,
    project: ProjectOpt = None,
) -> int:
    """The foreground scheduler: fires [[schedule]] entries of headwater.toml (containers,
    systemd). SIGTERM/SIGINT: fire nothing more, let a running job finish; a second one
    interrupts it."""
    import signal

    proj = _open(project)
    sched = proj.scheduler(output.say)
    previous = {s: signal.signal(s, sched.stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        output.say(
            f"scheduler for {proj.root}: "
            + "; ".join(f"{e.id} {e.expression!r} → {e.job}" for e in sched.entries)
        )
        return sched.serve(once=once)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@schedule_app.command("fire", hidden=True)
def schedule_fire(
    entry: Annotated[str, typer.Argument(help="The crontab entry's id.")],
    job: JobOpt = "run",
    project: ProjectOpt = None,
) -> int:
    """What a crontab entry runs: the job as a child process, output to the schedule log."""
    return _open(project).schedule_fire(entry, job)
