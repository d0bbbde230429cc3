"""Compare: any two datasets, or two versions of one, on any engine.

``headwater.compare(left, right, key=...)`` returns a :class:`Comparison`; the CLI's
``headwater compare`` renders it (text, Markdown, JSON, HTML) and exits 0 when the sides
are equal, 1 when they differ, 2 on bad input. The logic is Ibis expressions
(:mod:`headwater.compare._core`), so it runs unchanged on every engine.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from headwater.compare._core import Options, Tolerance
from headwater.config import EngineConfig, SourceConfig

if TYPE_CHECKING:
    from headwater.engines.base import Engine
    from headwater.inputs import Side
    from headwater.progress import ProgressCallback
    from headwater.workspace import Workspace

SAMPLE_KINDS = (
    "rows_with_differences",
    "rows_only_left",
    "rows_only_right",
    "duplicate_rows_left",
    "duplicate_rows_right",
    "duplicate_keys_left",
    "duplicate_keys_right",
)


@dataclass
class ColumnComparison:
    """How one column compares over the matched rows."""

    unequal: int
    equal: int
    null_one_side: int
    max_abs_diff: float | None
    left_type: str
    right_type: str


@dataclass
class Comparison:
    """The result of comparing two datasets.

    Counts without a key compare whole rows over the columns both sides have, counting
    multiplicity. With a key, ``rows_*`` count paired rows and ``keys_*`` distinct keys.
    """

    left: str
    right: str
    key: list[str]
    rows_left: int
    rows_right: int
    rows_in_both: int
    rows_only_left: int
    rows_only_right: int
    duplicate_rows_left: int
    duplicate_rows_right: int
    columns_only_left: list[str]
    columns_only_right: list[str]
    columns_type_differs: dict[str, list[str]]
    keys_in_both: int | None = None
    keys_only_left: int | None = None
    keys_only_right: int | None = None
    duplicate_keys_left: int | None = None
    duplicate_keys_right: int | None = None
    rows_with_differences: int | None = None
    columns: dict[str, ColumnComparison] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    saved: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def equal(self) -> bool:
        """True when both sides hold the same rows and the same columns."""
        return not (
            self.rows_only_left
            or self.rows_only_right
            or self.rows_with_differences
            or self.columns_only_left
            or self.columns_only_right
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["equal"] = self.equal
        if not self.key:
            for name in (
                "keys_in_both",
                "keys_only_left",
                "keys_only_right",
                "duplicate_keys_left",
                "duplicate_keys_right",
                "rows_with_differences",
            ):
                out.pop(name)
        return out


def compare(
    left: Any,
    right: Any,
    *,
    key: Sequence[str] | str | None = None,
    abs_tol: float = 0.0,
    rel_tol: float = 0.0,
    column_abs_tol: Mapping[str, float] | None = None,
    column_rel_tol: Mapping[str, float] | None = None,
    ignore_case: bool = False,
    ignore_spaces: bool = False,
    sample: int = 10,
    save_differences: str | os.PathLike[str] | None = None,
    project: Workspace | HasWorkspace | None = None,
    source: SourceConfig | None = None,
    engine: EngineConfig | None = None,
    progress: ProgressCallback | None = None,
) -> Comparison:
    """Compare two datasets.

    Parameters
    ----------
    left, right
        A file, folder, glob or fsspec URL; ``"name@N"`` / ``"name@latest"`` (a version
        of ``project``'s dataset); a pandas DataFrame or a pyarrow Table.
    key
        Columns that identify a row (after header normalisation). Without a key whole
        rows are compared.
    abs_tol, rel_tol
        Numbers within ``abs_tol + rel_tol * |right|`` are equal; per-column values in
        ``column_abs_tol`` / ``column_rel_tol`` override them.
    ignore_case, ignore_spaces
        Compare strings case-insensitively / with surrounding whitespace removed.
    sample
        How many example rows of each kind of difference to keep.
    save_differences
        A folder to write every difference to, as Parquet files.
    source
        Read options for file inputs (delimiter, encoding …), as for a ``[[sources]]``.
    progress
        ``progress(stage, done, total, detail)``, called as each stage (``left``,
        ``right``, ``compare``, ``samples``) starts (done 0 of 1) and ends (1 of 1).

    Raises
    ------
    CompareError
        A key column missing on one side, key types that cannot be matched, an unreadable
        input or an unknown dataset version.
    """
    from headwater.compare._core import compare_sides
    from headwater.inputs import staging_dir

    t0 = time.monotonic()
    keys = [k.strip() for k in key.split(",")] if isinstance(key, str) else list(key or [])
    keys = [k for k in keys if k]
    _check_options(sample, abs_tol, rel_tol, column_abs_tol, column_rel_tol)
    _check_save_folder(save_differences)
    opts = _options(keys, abs_tol, rel_tol, column_abs_tol, column_rel_tol)
    opts = replace(opts, ignore_case=ignore_case, ignore_spaces=ignore_spaces, sample=sample)
    ws = _workspace(project)
    stage = _stages(progress)
    # the engine's tables are dropped (or it is closed) before the local copies are removed
    with staging_dir() as staging, _engine_for(ws, engine) as eng:
        lside, rside = (
            _read(eng, obj, name, prefix, ws=ws, source=source, staging=staging, stage=stage)
            for name, obj, prefix in (("left", left, "_hw_l"), ("right", right, "_hw_r"))
        )
        with stage("compare", "matching rows" + (f" by {', '.join(keys)}" if keys else "")):
            res = compare_sides(eng, lside, rside, opts)
        detail = "writing differences" if save_differences else "fetching samples"
        with stage("samples", detail):
            samples, saved = _examples(eng, res.pop("tables"), sample, save_differences)
    columns = {c: ColumnComparison(**v) for c, v in res.pop("columns").items()}
    return Comparison(
        left=lside.label,
        right=rside.label,
        key=keys,
        columns=columns,
        samples=samples,
        saved=saved,
        options={
            "abs_tol": abs_tol,
            "rel_tol": rel_tol,
            "ignore_case": ignore_case,
            "ignore_spaces": ignore_spaces,
            "column_abs_tol": dict(column_abs_tol or {}),
            "column_rel_tol": dict(column_rel_tol or {}),
        },
        seconds=round(time.monotonic() - t0, 3),
        **res,
    )


def compare_in(
    ws: Workspace, left: Any, right: Any, *, record: bool = False, **options: Any
) -> Comparison:
    """:func:`compare` inside a project (``name@N`` are its dataset's versions), on the
    workspace's engine; with ``record``, saved as a ``compare`` run."""
    from headwater.records import now_iso

    started = now_iso()
    result = compare(left, right, project=ws, **options)
    if record:
        _record(ws, result, started)
    return result


class HasWorkspace(Protocol):
    """What :func:`compare` accepts as ``project``: a Project (or anything) with a workspace."""

    workspace: Workspace


def _workspace(project: Workspace | HasWorkspace | None) -> Workspace | None:
    if project is None:
        return None
    ws = getattr(project, "workspace", project)
    return cast("Workspace", ws)


@contextlib.contextmanager
def _engine_for(ws: Workspace | None, config: EngineConfig | None) -> Iterator[Engine]:
    """The workspace's engine (its tables dropped after), or one of our own, closed after."""
    if ws is not None:
        with ws.engine_scope() as eng:
            yield eng
        return
    from headwater.engines import connect

    cfg = config or EngineConfig(temp_directory=str(Path(tempfile.gettempdir()) / "headwater-tmp"))
    eng = connect(cfg, Path(".").resolve())
    try:
        yield eng
    finally:
        eng.close()


def _check_save_folder(save_differences: str | os.PathLike[str] | None) -> None:
    if save_differences is not None and Path(save_differences).is_file():
        from headwater.errors import CompareError

        raise CompareError(
            f"{str(save_differences)!r} is a file; the differences are written as Parquet "
            "files into a folder",
            hint="give a folder for --save-differences (it is created if needed)",
        )


def _options(
    keys: list[str],
    abs_tol: float,
    rel_tol: float,
    column_abs_tol: Mapping[str, float] | None,
    column_rel_tol: Mapping[str, float] | None,
) -> Options:
    """The key and the tolerances: per-column values override the defaults."""
    tol = {
        c: Tolerance(abs=v, rel=(column_rel_tol or {}).get(c, rel_tol))
        for c, v in (column_abs_tol or {}).items()
    }
    for c, v in (column_rel_tol or {}).items():
        tol.setdefault(c, Tolerance(abs=abs_tol, rel=v))
    return Options(
        key=tuple(keys), tolerance=tol, default_tolerance=Tolerance(abs=abs_tol, rel=rel_tol)
    )


def _read(
    eng: Engine,
    obj: Any,
    name: str,
    prefix: str,
    *,
    ws: Workspace | None,
    source: SourceConfig | None,
    staging: Path,
    stage: Callable[[str, str], contextlib.AbstractContextManager[None]],
) -> Side:
    """One side, read into a typed table (progress stage ``left`` or ``right``)."""
    from headwater.inputs import read_side

    with stage(name, f"reading {_label(obj)}"):
        return read_side(
            eng, obj, label=_label(obj), project=ws, source=source, prefix=prefix, staging=staging
        )


def _examples(
    eng: Engine,
    tables: dict[str, Any],
    sample: int,
    save_differences: str | os.PathLike[str] | None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Example rows of each kind of difference, and the files every difference went to."""
    samples: dict[str, list[dict[str, Any]]] = {}
    saved: dict[str, str] = {}
    for kind, expr in tables.items():
        if expr is None:
            continue
        if save_differences is not None:
            folder = Path(save_differences)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{kind}.parquet"
            eng.write_parquet(expr, str(path))
            saved[kind] = str(path)
        if sample > 0:
            rows = eng.to_pyarrow(expr.limit(sample)).to_pylist()
            if rows:
                samples[kind] = rows
    return samples, saved


def _record(ws: Workspace, result: Comparison, started: str) -> None:
    """Save a comparison as a ``compare`` run with its result (``headwater show``)."""
    import json

    from headwater.records import now_iso
    from headwater.records import schema as rs

    summary = result.to_dict()
    summary.pop("samples", None)
    run_id = ws.records.start_run(
        **ws.run_values("compare"),
        started=started,
        status="ok" if result.equal else "differences",
        finished=now_iso(),
        summary=json.dumps(summary, default=str),
        note=f"{result.left} vs {result.right}",
    )
    with ws.records.write() as conn:
        conn.execute(
            rs.comparisons.insert().values(
                run_id=run_id,
                created=now_iso(),
                left=result.left,
                right=result.right,
                key=json.dumps(result.key),
                equal=result.equal,
                result=json.dumps(result.to_dict(), default=str),
            )
        )
    result.options["run_id"] = run_id


def _check_options(
    sample: int,
    abs_tol: float,
    rel_tol: float,
    column_abs_tol: Mapping[str, float] | None,
    column_rel_tol: Mapping[str, float] | None,
) -> None:
    """Refuse option values that would make every count meaningless."""
    import math

    from headwater.errors import CompareError

    if sample < 0:
        raise CompareError(
            f"sample must be 0 or more, not {sample}", hint="--sample 0 prints no example rows"
        )
    named = [("abs_tol", abs_tol), ("rel_tol", rel_tol)]
    named += [(f"column_abs_tol[{c}]", v) for c, v in (column_abs_tol or {}).items()]
    named += [(f"column_rel_tol[{c}]", v) for c, v in (column_rel_tol or {}).items()]
    for name, value in named:
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise CompareError(
                f"{name} must be a finite number, 0 or more, not {value!r}",
                hint="a tolerance is how far apart two numbers may be and still be equal",
            )


def _stages(
    progress: ProgressCallback | None,
) -> Callable[[str, str], contextlib.AbstractContextManager[None]]:
    """A context manager per stage that reports its start and end to ``progress``."""

    @contextlib.contextmanager
    def stage(name: str, detail: str) -> Iterator[None]:
        if progress is not None:
            progress(name, 0, 1, detail)
        yield
        if progress is not None:
            progress(name, 1, 1, detail)

    return stage


def _label(obj: Any) -> str:
    if isinstance(obj, str | Path):
        return str(obj)
    return f"<{type(obj).__name__} in memory>"


__all__ = ["ColumnComparison", "Comparison", "compare", "compare_in"]
