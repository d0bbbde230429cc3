"""Request rows → the frame a model predicts on, with the training data's rules.

Column names go through the same header normalisation as ingested files; every feature
the model was trained on must be there; a numeric feature takes a number, a numeric
string or nothing (missing), a categorical one any scalar (as text). A row that breaks a
rule is named with its column and value (HTTP 422). Columns the model does not use are
ignored. Nothing here reads a file: a CSV body is parsed from the request's bytes.
"""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError
from headwater.tables.headers import normalize_header

if TYPE_CHECKING:
    import pandas as pd

    from headwater.serve.holder import Loaded


class BadRows(HeadwaterError):
    """The request's rows do not fit the production model (HTTP 422)."""


class TooLarge(HeadwaterError):
    """The request is over ``[serve] max_rows`` or ``max_bytes`` (HTTP 413)."""


def rows_from_csv(body: bytes) -> list[dict[str, Any]]:
    """A CSV body (a header line, then rows) as row dicts of strings."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRows(
            f"the CSV body is not UTF-8 ({exc.reason} at byte {exc.start})",
            hint="send UTF-8 text",
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BadRows("the CSV body is empty", hint="send a header line, then rows") from None
    except csv.Error as exc:
        raise BadRows(f"the CSV body cannot be parsed: {exc}", hint="check its quoting") from None
    rows = []
    try:
        for n, cells in enumerate(reader, start=1):
            if not cells:
                continue
            if len(cells) != len(header):
                raise BadRows(
                    f"CSV row {n} has {len(cells)} field(s), the header {len(header)}",
                    hint="every row needs one value per header column",
                    row=n - 1,
                )
            rows.append(dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        raise BadRows(f"the CSV body cannot be parsed: {exc}", hint="check its quoting") from None
    return rows


def check_size(rows: list[Any], max_rows: int) -> None:
    if not rows:
        raise BadRows("no rows to predict on", hint='send {"rows": [{"column": value, ...}]}')
    if len(rows) > max_rows:
        raise TooLarge(
            f"{len(rows):,} rows in one request, more than [serve] max_rows {max_rows:,}",
            hint="split the rows over several requests, or raise [serve] max_rows",
        )


_LACKING = object()


def frame(rows: list[Any], loaded: Loaded) -> pd.DataFrame:
    """The rows as the model's feature frame, or BadRows naming the first bad cell."""
    import pandas as pd

    names_of = _names(rows)
    numeric = set(loaded.numeric)
    columns: dict[str, Any] = {}
    for f in loaded.features:
        values = names_of.values(f)
        if f in numeric:
            if all(type(v) is float or type(v) is int for v in values):  # the usual case
                columns[f] = pd.Series(values, dtype="float64")
                continue
            _check_present(values, names_of, loaded)
            columns[f] = pd.Series(
                [_number(i, f, v) for i, v in enumerate(values)], dtype="float64"
            )
        else:
            if all(type(v) is str for v in values):
                columns[f] = pd.Series([v.strip() or None for v in values], dtype=object)
                continue
            _check_present(values, names_of, loaded)
            columns[f] = pd.Series([_text(i, f, v) for i, v in enumerate(values)], dtype=object)
    return pd.DataFrame(columns)


class _Uniform:
    """Rows that all have the first row's keys (the usual request): each column is read
    straight from the client's dicts by its raw key, with no per-row copy."""

    def __init__(self, rows: list[dict[Any, Any]], raw_key: dict[str, Any]) -> None:
        self.rows, self.raw_key = rows, raw_key

    def values(self, name: str) -> list[Any]:
        key = self.raw_key.get(name, _LACKING)
        if key is _LACKING:
            return [_LACKING] * len(self.rows)
        return [r[key] for r in self.rows]

    def has(self, i: int, name: str) -> bool:
        return name in self.raw_key


class _Normalized:
    """Rows with their keys normalised one by one (rows whose keys differ)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def values(self, name: str) -> list[Any]:
        return [r.get(name, _LACKING) for r in self.rows]

    def has(self, i: int, name: str) -> bool:
        return name in self.rows[i]


def _names(rows: list[Any]) -> _Uniform | _Normalized:
    """The rows' columns by normalised name; BadRows for a row that is not an object."""
    for i, raw in enumerate(rows):
        if not isinstance(raw, dict):
            raise BadRows(
                f"row {i} is a {type(raw).__name__}, not an object of column: value",
                hint='send {"rows": [{"column": value, ...}]}',
                row=i,
            )
    names: dict[Any, str] = {}  # each distinct key normalised once, not once per cell
    for raw in rows:
        for k in raw:
            if k not in names:
                names[k] = normalize_header(str(k))
    first = rows[0].keys()
    if len(set(names.values())) == len(names) == len(first) and all(
        r.keys() == first for r in rows
    ):
        return _Uniform(rows, {names[k]: k for k in first})
    # keys differ between rows, or two keys normalise to one name (the later one wins,
    # as it would in one JSON object)
    return _Normalized([{names[k]: v for k, v in raw.items()} for raw in rows])


def _check_present(values: list[Any], names_of: _Uniform | _Normalized, loaded: Loaded) -> None:
    for i, v in enumerate(values):
        if v is _LACKING:
            lacking = [f for f in loaded.features if not names_of.has(i, f)]
            raise BadRows(
                f"row {i} lacks feature(s) {', '.join(map(repr, lacking))} of model "
                f"v{loaded.version}",
                hint=f"send every feature: {', '.join(loaded.features)}",
                row=i,
                column=lacking[0],
            )


def _number(i: int, column: str, value: Any) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise _bad(i, column, value, "is a boolean, not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
        raise _bad(i, column, value, "is not a number")
    raise _bad(i, column, value, f"is a {type(value).__name__}, not a number")


def _text(i: int, column: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool | int | float):
        return str(value)
    raise _bad(i, column, value, f"is a {type(value).__name__}, not a single value")


def _bad(i: int, column: str, value: Any, why: str) -> BadRows:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return BadRows(
        f"row {i}, column {column!r}: {shown} {why}",
        hint=f"{column!r} is a numeric feature of the model"
        if "number" in why
        else "send a string, a number or null",
        row=i,
        column=column,
        value=shown,
    )
