"""The comparison itself, as Ibis expressions over the two sides (DESIGN.md decision 1).

Without a key, rows are compared as whole rows over the columns both sides have: each
distinct row (by its portable fingerprint) counts min(left, right) times as in both.

With a key, rows are paired by key; duplicate keys are paired in order of appearance (the
k-th left row with that key against the k-th right row; extras are only-left or
only-right). Matched pairs are compared column by column in one aggregate pass; rows with
a difference are materialized once, for samples and ``--save-differences``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from headwater.config import DatasetConfig

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from headwater.inputs import Side


@dataclass(frozen=True)
class Tolerance:
    """|left − right| ≤ abs + rel × |right| counts as equal (numbers only)."""

    abs: float = 0.0
    rel: float = 0.0


@dataclass(frozen=True)
class Options:
    key: tuple[str, ...] = ()
    tolerance: dict[str, Tolerance] | None = None
    default_tolerance: Tolerance = Tolerance()
    ignore_case: bool = False
    ignore_spaces: bool = False
    sample: int = 10

    def tol(self, column: str) -> Tolerance:
        return (self.tolerance or {}).get(column, self.default_tolerance)


NUMERIC = ("int", "float")


def _norm_string(v: ir.Value, opts: Options) -> ir.Value:
    if opts.ignore_spaces:
        v = v.strip()
    if opts.ignore_case:
        v = v.lower()
    return v


def column_flags(
    left: ir.Value, right: ir.Value, lk: str, rk: str, opts: Options, column: str
) -> tuple[ir.BooleanValue, ir.BooleanValue, ir.Value | None]:
    """(unequal, null on one side only, |difference|) for one matched column."""
    import ibis

    from headwater.tables.fingerprint import canonical_text

    one_null = left.isnull() != right.isnull()
    both = left.notnull() & right.notnull()
    diff = None
    if lk in NUMERIC and rk in NUMERIC:
        lf, rf = left.cast("float64"), right.cast("float64")
        diff = (lf - rf).abs()
        t = opts.tol(column)
        # NaN on both sides is equal; NaN on one side is a difference
        l_nan, r_nan = lf.isnan().fill_null(False), rf.isnan().fill_null(False)
        close = diff <= (ibis.literal(t.abs) + ibis.literal(t.rel) * rf.abs())
        same = ibis.ifelse(l_nan | r_nan, l_nan & r_nan, close)
        unequal = one_null | (both & ~same.fill_null(False))
        diff = ibis.ifelse(l_nan | r_nan, ibis.null("float64"), diff)
    elif lk == "string" and rk == "string":
        unequal = one_null | (both & (_norm_string(left, opts) != _norm_string(right, opts)))
    elif lk == rk:
        unequal = one_null | (both & (left != right))
    else:  # different kinds: compare their canonical texts
        lt, rt = canonical_text(left, lk), canonical_text(right, rk)
        unequal = one_null | (both & (_norm_string(lt, opts) != _norm_string(rt, opts)))
    return unequal, one_null, diff


def _comparable(value: ir.Value, kind: str, other: str) -> ir.Value:
    """A value cast so that it can be matched against the other side's column."""
    from headwater.tables.fingerprint import canonical_text

    if kind == other:
        return value
    if kind in NUMERIC and other in NUMERIC:
        return value.cast("float64")
    return canonical_text(value, kind)


MAX_RUNS = 256  # ascending runs the sorted-key shortcut examines before giving up


def _rows_if_sorted_unique(engine: Any, t: Any, key: list[str]) -> int | None:
    """The row count of ``t`` when its ``key`` provably never repeats because the keys
    come in a few strictly ascending runs whose ranges do not overlap; None otherwise
    (a null key, a repeat, unsorted keys, or key types this check does not order).

    The engine lists its rows once in some order (``lag``/``lead``/``row_number`` over one
    window with no ORDER BY: a sequential pass, no hashing). A row whose key is not
    strictly greater than the one before starts a new run; only the first and last rows
    and those run starts are fetched. Within a run keys are strictly ascending, so its
    range is [first key, last key], and runs whose ranges are disjoint share no key. The
    answer does not depend on the order the engine chose; sorted keys (ids, dates, both
    sides of most comparisons) just make it apply. Floats are left out (NaN ordering).
    """
    orderable = ("is_integer", "is_string", "is_date", "is_timestamp", "is_boolean")
    for c in key:
        dtype = t[c].type()
        if not any(getattr(dtype, check)() for check in orderable):
            return None
    import ibis

    n = len(key)
    w = t.select(
        *[t[c].name(f"k{i}") for i, c in enumerate(key)],
        *[t[c].lag().name(f"p{i}") for i, c in enumerate(key)],
        _next=t[key[0]].lead(),
        _rn=ibis.row_number(),
    )
    any_null: Any = w.k0.isnull()
    for i in range(1, n):
        any_null = any_null | w[f"k{i}"].isnull()
    after = w[f"k{n - 1}"] > w[f"p{n - 1}"]  # lexicographically after the previous key
    for i in range(n - 2, -1, -1):
        after = (w[f"k{i}"] > w[f"p{i}"]) | ((w[f"k{i}"] == w[f"p{i}"]) & after)
    first, last = w.p0.isnull(), w._next.isnull()
    starts = first | ~after.fill_null(False)
    rows = engine.to_pyarrow(
        w.filter(any_null | starts | last)
        .select(
            "_rn",
            *[f"k{i}" for i in range(n)],
            *[f"p{i}" for i in range(n)],
            _start=starts,
            _last=last,
            _null=any_null,
        )
        .limit(MAX_RUNS + 2),
        sequential=True,
    ).to_pylist()
    if not rows:  # no rows at all
        return 0
    if len(rows) > MAX_RUNS + 1 or any(r["_null"] for r in rows):
        return None
    rows.sort(key=lambda r: r["_rn"])
    if not rows[0]["_start"] or not rows[-1]["_last"]:
        return None  # cannot happen with non-null keys; be safe
    ranges = []
    run_starts = [r for r in rows if r["_start"]]
    for j, r in enumerate(run_starts):
        low = tuple(r[f"k{i}"] for i in range(n))
        if j + 1 < len(run_starts):
            nxt = run_starts[j + 1]
            high = tuple(nxt[f"p{i}"] for i in range(n))
        else:
            high = tuple(rows[-1][f"k{i}"] for i in range(n))
        ranges.append((low, high))
    ranges.sort()
    if any(ranges[j][1] >= ranges[j + 1][0] for j in range(len(ranges) - 1)):
        return None
    return int(rows[-1]["_rn"]) + 1


def _duplicate_rows(engine: Any, side: Side) -> int:
    """Extra copies of whole rows in one side, by grouping on every column. (Grouping only
    the rows whose key repeats, found by a semi-join, was slower with many such keys:
    10M rows with 1.8M repeated keys, 2.9 s against 1.4 s.)"""
    t = side.table
    g = t.group_by(list(side.schema)).aggregate(_n=t.count())
    row = engine.to_pyarrow(g.aggregate(dups=(g._n - 1).sum())).to_pylist()[0]
    return int(row["dups"] or 0)


def _align_text(engine: Any, side: Side, other: Side) -> Side:
    """``side`` with its text columns typed as ``other`` types them, where every value fits.

    A Parquet file or an in-memory table may hold as text what the other side has typed (a
    date kept as a string against a CSV whose dates were inferred): such a column is cleaned
    and typed strictly, as ingest would, when no value fails (one aggregate pass for those
    columns only); otherwise it stays text and is compared by canonical text.
    """
    from headwater.tables import transform as pl

    wanted = {
        c: other.schema[c]
        for c, kind in side.schema.items()
        if kind == "string" and other.schema.get(c, "string") != "string"
    }
    if not wanted:
        return side
    t = side.table
    na = list(DatasetConfig().na_values)
    cleaned = {c: pl.clean_text(t[c], na) for c in wanted}
    typed = {c: pl.typed_value(cleaned[c], kind) for c, kind in wanted.items()}
    checks = {
        f"f{i}": (cleaned[c].notnull() & typed[c].isnull()).sum() for i, c in enumerate(wanted)
    }
    fails = engine.to_pyarrow(t.aggregate(**checks)).to_pylist()[0]
    fit = [c for i, c in enumerate(wanted) if not fails[f"f{i}"]]
    if not fit:
        return side
    table = t.mutate(**{c: typed[c] for c in fit})
    schema = {c: wanted[c] if c in fit else k for c, k in side.schema.items()}
    return replace(side, table=table, schema=schema)


def compare_sides(engine: Any, left: Side, right: Side, opts: Options) -> dict[str, Any]:
    """Run the comparison; return the numbers and expressions for the differences."""
    left, right = _align_text(engine, left, right), _align_text(engine, right, left)
    out = _schema_differences(left, right)
    common = [c for c in left.schema if c in right.schema]
    key = list(opts.key)
    _check_key(left, right, key)
    _check_common(left, right, common)
    if not key:
        return _compare_rows(engine, left, right, common, out)
    keys_left, has_dups = _key_counts(engine, left, right, key, out)
    pair = _pair_by_key(left, right, key, has_dups)
    compared = [c for c in common if c not in key]
    d, numeric = _differences(engine, pair, left, right, compared, opts)
    per_column = _tally_keyed(engine, d, compared, numeric, has_dups, keys_left, out)
    out["columns"] = _column_counts(per_column, out, compared, numeric, left, right)
    out["tables"] = _keyed_examples(d, pair, key, compared, out)
    return out


def _schema_differences(left: Side, right: Side) -> dict[str, Any]:
    """Columns on one side only, and columns whose kinds cannot be compared."""
    common = [c for c in left.schema if c in right.schema]
    return {
        "columns_only_left": [c for c in left.schema if c not in right.schema],
        "columns_only_right": [c for c in right.schema if c not in left.schema],
        "columns_type_differs": {
            c: [left.schema[c], right.schema[c]]
            for c in common
            if left.schema[c] != right.schema[c]
            and not (left.schema[c] in NUMERIC and right.schema[c] in NUMERIC)
        },
    }


def _check_key(left: Side, right: Side, key: list[str]) -> None:
    """Every key column is on both sides, with kinds that can be matched."""
    from headwater.errors import CompareError

    for k in key:
        for side, name in ((left, "left"), (right, "right")):
            if k not in side.schema:
                raise CompareError(
                    f"key column {k!r} is missing on the {name} side ({side.label!r}); "
                    f"its columns are {', '.join(side.schema) or 'none'}",
                    hint="check --key (names are matched after header normalisation)",
                    column=k,
                )
        lk, rk = left.schema[k], right.schema[k]
        if lk != rk and not (lk in NUMERIC and rk in NUMERIC):
            raise CompareError(
                f"key column {k!r} is {lk} on the left but {rk} on the right: keys of "
                "different types cannot be matched",
                hint="compare files whose key columns have the same type, or choose another key",
                column=k,
            )


def _check_common(left: Side, right: Side, common: list[str]) -> None:
    from headwater.errors import CompareError

    if not common:
        raise CompareError(
            f"{left.label!r} and {right.label!r} have no column in common (left: "
            f"{', '.join(left.schema) or 'none'}; right: {', '.join(right.schema) or 'none'}): "
            "there is nothing to compare their rows by",
            hint="check the inputs; a whole file read as one column usually means another "
            "delimiter (--delimiter)",
        )


def _key_stats(engine: Any, side: Side, key: list[str]) -> tuple[int, int, int]:
    """(rows, distinct keys, keys occurring more than once) of a side.

    A side whose keys come sorted has no repeats (one cheap pass over a side that is a
    plain scan, on engines that can compare each row with the one before, see
    :func:`_rows_if_sorted_unique`); otherwise one pass groups it by key (as cheap as a
    distinct count, and it counts the repeats too; a null key is a key)."""
    t = side.table
    if side.scannable and engine.capabilities.window_without_order:
        rows = _rows_if_sorted_unique(engine, t, key)
        if rows is not None:
            return rows, rows, 0
    kc = t.group_by(key).aggregate(n=t.count())
    row = engine.to_pyarrow(
        kc.aggregate(rows=kc.n.sum(), keys=kc.count(), dup=(kc.n > 1).sum())
    ).to_pylist()[0]
    return int(row["rows"] or 0), int(row["keys"] or 0), int(row["dup"] or 0)


def _key_counts(
    engine: Any, left: Side, right: Side, key: list[str], out: dict[str, Any]
) -> tuple[int, bool]:
    """Rows, duplicate keys and duplicate rows of each side into ``out``; returns (the left
    side's distinct keys, whether either side repeats a key)."""
    out["rows_left"], keys_left, out["duplicate_keys_left"] = _key_stats(engine, left, key)
    out["rows_right"], _, out["duplicate_keys_right"] = _key_stats(engine, right, key)
    # a whole-row duplicate has a duplicate key: only sides with duplicate keys need a look
    for name, side in (("left", left), ("right", right)):
        dup = out[f"duplicate_keys_{name}"]
        out[f"duplicate_rows_{name}"] = _duplicate_rows(engine, side) if dup else 0
    return keys_left, bool(out["duplicate_keys_left"] or out["duplicate_keys_right"])


@dataclass
class _Pair:
    """The two sides joined by key: ``j``, with each side's columns renamed (``li`` /
    ``ri``: column → ``l_{i}`` / ``r_{i}``) and ``_lo`` / ``_ro``, each row's order on its
    side (never null where the row has that side)."""

    j: Any
    li: dict[str, str]
    ri: dict[str, str]
    has_dups: bool


def _pair_by_key(left: Side, right: Side, key: list[str], has_dups: bool) -> _Pair:
    """Full outer join on the key (null-safe: a null key is a value); with repeated keys
    the k-th row of a key on the left pairs with the k-th on the right (``_hw_k``)."""
    import ibis

    L, R = left.table, right.table
    if has_dups:
        L = L.mutate(_hw_k=ibis.row_number().over(group_by=key, order_by="_hw_order"))
        R = R.mutate(_hw_k=ibis.row_number().over(group_by=key, order_by="_hw_order"))
    li = {c: f"l_{i}" for i, c in enumerate(left.schema)}
    ri = {c: f"r_{i}" for i, c in enumerate(right.schema)}
    # nothing else rides along (each column carried through the join's hash table costs)
    lx = {"_hw_k": L._hw_k} if has_dups else {}
    rx = {"_hw_kr": R._hw_k} if has_dups else {}
    lsel = L.select(*[L[c].name(li[c]) for c in left.schema], **lx, _lo=L._hw_order)
    rsel = R.select(*[R[c].name(ri[c]) for c in right.schema], **rx, _ro=R._hw_order)
    preds = [lsel[li[k]].identical_to(rsel[ri[k]]) for k in key]
    if has_dups:
        preds.append(lsel._hw_k == rsel._hw_kr)
    return _Pair(lsel.outer_join(rsel, preds), li, ri, has_dups)


def _differences(
    engine: Any, pair: _Pair, left: Side, right: Side, compared: list[str], opts: Options
) -> tuple[Any, list[int]]:
    """The joined rows that are unmatched, unequal, or differ by any amount, materialized
    with their flags (``_u{i}`` unequal, ``_n{i}`` null on one side, ``_x{i}`` the absolute
    difference, ``_any``); returns (that table, the indexes of numeric columns).

    One pass over the join keeps only those rows, so every count is then taken from a
    small table: matched-and-equal rows are never stored (but for the later rows of a
    repeated key, kept as its examples: a window over each side numbers them, and
    recomputing it per example query cost 2 s a side at 10M). The filter is a cheap
    superset (values not identical); the flags, with tolerances, NaN rules and string
    options, are computed only for the rows it keeps."""
    import ibis

    from headwater.tables import transform as pl

    j = pair.j
    matched = j._lo.notnull() & j._ro.notnull()
    flags: dict[str, Any] = {}
    unequals: list[Any] = []
    maybes: list[Any] = [~matched]
    numeric = []
    for i, c in enumerate(compared):
        lv, rv = j[pair.li[c]], j[pair.ri[c]]
        lk, rk = left.schema[c], right.schema[c]
        unequal, one_null, diff = column_flags(lv, rv, lk, rk, opts, c)
        flags[f"_u{i}"] = unequal
        flags[f"_n{i}"] = one_null
        if diff is not None:
            flags[f"_x{i}"] = diff
            numeric.append(i)
        unequals.append(unequal)
        if lk == rk:
            maybes.append(~lv.identical_to(rv))
        elif lk in NUMERIC and rk in NUMERIC:
            maybes.append(~lv.cast("float64").identical_to(rv.cast("float64")))
        else:
            maybes.append(unequal)
    if pair.has_dups:  # the later rows of a repeated key are kept too, for their examples
        maybes += [(j._hw_k > 0).fill_null(False), (j._hw_kr > 0).fill_null(False)]
    # balanced trees: a chain of one `|` per column is too deep for wide tables
    any_diff = pl.balanced(operator.or_, unequals, ibis.literal(False))
    maybe = pl.balanced(operator.or_, maybes, ibis.literal(False))
    d = engine.materialize(j.filter(maybe).mutate(**flags, _any=any_diff), "_hw_cmp_diffs")
    return d, numeric


def _tally_keyed(
    engine: Any,
    d: Any,
    compared: list[str],
    numeric: list[int],
    has_dups: bool,
    keys_left: int,
    out: dict[str, Any],
) -> dict[str, Any]:
    """Every row and key count into ``out``, from the differences table in one pass;
    returns the aggregate row (with the per-column counts ``u{i}``, ``n{i}``, ``d{i}``)."""
    import ibis

    d_in_l, d_in_r = d._lo.notnull(), d._ro.notnull()
    d_matched = d_in_l & d_in_r
    aggs: dict[str, Any] = {
        "only_l": (d_in_l & ~d_in_r).sum(),
        "only_r": (d_in_r & ~d_in_l).sum(),
        "diff_rows": (d_matched & d._any).sum(),
    }
    if has_dups:
        aggs["konly_l"] = (d_in_l & ~d_in_r & (d._hw_k == 0)).sum()
        aggs["konly_r"] = (d_in_r & ~d_in_l & (d._hw_kr == 0)).sum()
    for i, _ in enumerate(compared):
        aggs[f"u{i}"] = (d_matched & d[f"_u{i}"]).sum()
        aggs[f"n{i}"] = (d_matched & d[f"_n{i}"]).sum()
        if i in numeric:
            aggs[f"d{i}"] = ibis.ifelse(d_matched, d[f"_x{i}"], ibis.null("float64")).max()
    a: dict[str, Any] = engine.to_pyarrow(d.aggregate(**aggs)).to_pylist()[0]
    out["rows_only_left"] = int(a["only_l"] or 0)
    out["rows_only_right"] = int(a["only_r"] or 0)
    out["rows_in_both"] = out["rows_left"] - out["rows_only_left"]
    out["rows_with_differences"] = int(a["diff_rows"] or 0)
    if has_dups:
        # a key's first row on a side is its k = 0 row: a key only on the left is a left
        # k = 0 row with no partner (stored, as every unmatched row is); the others are in both
        out["keys_only_left"] = int(a["konly_l"] or 0)
        out["keys_only_right"] = int(a["konly_r"] or 0)
        out["keys_in_both"] = keys_left - out["keys_only_left"]
    else:  # every key is one row: key counts are row counts
        out["keys_in_both"] = out["rows_in_both"]
        out["keys_only_left"] = out["rows_only_left"]
        out["keys_only_right"] = out["rows_only_right"]
    return a


def _column_counts(
    a: dict[str, Any],
    out: dict[str, Any],
    compared: list[str],
    numeric: list[int],
    left: Side,
    right: Side,
) -> dict[str, dict[str, Any]]:
    """Per compared column: equal, unequal, null on one side, the largest difference."""

    def max_diff(i: int) -> float | None:
        if i not in numeric:
            return None
        value = a.get(f"d{i}")
        # rows that matched exactly were not kept: their difference is 0
        return float(value) if value is not None else (0.0 if out["rows_in_both"] else None)

    return {
        c: {
            "unequal": int(a[f"u{i}"] or 0),
            "equal": out["rows_in_both"] - int(a[f"u{i}"] or 0),
            "null_one_side": int(a[f"n{i}"] or 0),
            "max_abs_diff": max_diff(i),
            "left_type": left.schema[c],
            "right_type": right.schema[c],
        }
        for i, c in enumerate(compared)
    }


def _keyed_examples(
    d: Any, pair: _Pair, key: list[str], compared: list[str], out: dict[str, Any]
) -> dict[str, Any]:
    """The example tables (lazy): differing rows side by side, rows on one side only, and
    the later rows of a repeated key, each in its side's order."""
    li, ri = pair.li, pair.ri
    d_in_l, d_in_r = d._lo.notnull(), d._ro.notnull()
    tables: dict[str, Any] = {}

    def side_rows(rows: Any, names: dict[str, str], order: str) -> Any:
        return rows.order_by(order).select(*[rows[n].name(c) for c, n in names.items()])

    if out["rows_only_left"] + out["rows_only_right"] + out["rows_with_differences"]:
        diffs = d.filter(d_in_l & d_in_r & d._any)
        cols = [diffs[li[k]].name(k) for k in key]
        for c in compared:
            cols += [diffs[li[c]].name(f"{c}_left"), diffs[ri[c]].name(f"{c}_right")]
        tables["rows_with_differences"] = diffs.order_by("_lo").select(*cols)
        tables["rows_only_left"] = side_rows(d.filter(d_in_l & ~d_in_r), li, "_lo")
        tables["rows_only_right"] = side_rows(d.filter(d_in_r & ~d_in_l), ri, "_ro")
    if out["duplicate_keys_left"]:
        tables["duplicate_keys_left"] = side_rows(d.filter(d_in_l & (d._hw_k > 0)), li, "_lo")
    if out["duplicate_keys_right"]:
        tables["duplicate_keys_right"] = side_rows(d.filter(d_in_r & (d._hw_kr > 0)), ri, "_ro")
    return tables


def _compare_rows(
    engine: Any, left: Side, right: Side, common: list[str], out: dict[str, Any]
) -> dict[str, Any]:
    """Whole rows over the common columns, counting multiplicity (no key).

    Each side is grouped by its rows (the common columns, made comparable: ``c{i}``) and
    the groups are joined, null-safe. One pass stores only the groups that hold a
    difference — counts that differ between the sides, or (when each side's rows are its
    comparable rows) a row that repeats within a side — with the first order of each side;
    every count comes from that small table and the sides' row counts, and so do the
    examples when the sides have the same columns and kinds (a group is then its row).
    Otherwise examples are the side's rows that belong to those groups: the copies after
    the first ``n`` of a row found ``n`` times on the other side.
    """
    import ibis

    # each side's rows are exactly its comparable rows: same columns, same kinds
    same = list(left.schema) == common and set(right.schema) == set(common)
    same = same and all(left.schema[c] == right.schema[c] for c in common)
    keys = [f"c{i}" for i in range(len(common))]
    lk, rk = _comparable_rows(left, right, common), _comparable_rows(right, left, common)
    lg = lk.group_by(keys).aggregate(nl=lk.count(), ol=lk._hw_order.min())
    rg = rk.group_by(keys).aggregate(nr=rk.count(), orr=rk._hw_order.min())
    preds = [lg[k].identical_to(rg[k]) for k in keys]
    j = lg.outer_join(rg, preds) if preds else lg.cross_join(rg)
    nl, nr = j.nl.fill_null(0), j.nr.fill_null(0)
    keep = nl != nr
    if same:
        keep = keep | (nl > 1) | (nr > 1)
    # an unmatched group has nulls for the other side's columns: take the side it has
    vals = {
        k: ibis.ifelse(nl > 0, j[k], j[f"{k}_right"]) if f"{k}_right" in j.columns else j[k]
        for k in keys
    }
    d = engine.materialize(
        j.filter(keep).select(**vals, nl=nl, nr=nr, ol=j.ol, orr=j.orr), "_hw_cmp_rows"
    )
    aggs: dict[str, Any] = {
        "rows_left": left.table.count().as_scalar(),
        "rows_right": right.table.count().as_scalar(),
        "only_l": ibis.greatest(d.nl - d.nr, 0).sum(),
        "only_r": ibis.greatest(d.nr - d.nl, 0).sum(),
        "dup_l": ibis.greatest(d.nl - 1, 0).sum(),
        "dup_r": ibis.greatest(d.nr - 1, 0).sum(),
    }
    a = {k: int(v or 0) for k, v in engine.to_pyarrow(d.aggregate(**aggs)).to_pylist()[0].items()}
    out["rows_left"], out["rows_right"] = a["rows_left"], a["rows_right"]
    if same:
        out["duplicate_rows_left"], out["duplicate_rows_right"] = a["dup_l"], a["dup_r"]
    else:  # repeats over all of a side's columns, not only the common ones
        out["duplicate_rows_left"] = _duplicate_rows(engine, left)
        out["duplicate_rows_right"] = _duplicate_rows(engine, right)
    out["rows_only_left"], out["rows_only_right"] = a["only_l"], a["only_r"]
    out["rows_in_both"] = out["rows_left"] - out["rows_only_left"]
    out["tables"] = _row_examples(d, (left, lk), (right, rk), common, same, out)
    out["columns"] = {}
    return out


def _comparable_rows(side: Side, other: Side, common: list[str]) -> Any:
    """Each row as ``c{i}`` (common columns, made comparable), its order and ``_o{i}``
    (its own columns, as they are)."""
    t = side.table
    return t.select(
        *[
            _comparable(t[c], side.schema[c], other.schema[c]).name(f"c{i}")
            for i, c in enumerate(common)
        ],
        _hw_order=t._hw_order,
        **{f"_o{i}": t[c] for i, c in enumerate(side.schema)},
    )


def _row_examples(
    d: Any,
    left: tuple[Side, Any],
    right: tuple[Side, Any],
    common: list[str],
    same: bool,
    out: dict[str, Any],
) -> dict[str, Any]:
    """The example tables (lazy) of a comparison without a key: each side's rows found
    only there, and its repeated rows. ``left`` / ``right``: (the side, its comparable
    rows); ``d``: the groups holding a difference, with their counts per side."""
    tables: dict[str, Any] = {}
    # each side: its examples' table names, the group counts ``mine`` / ``theirs``, its order
    for name, (side, rows), mine, theirs, order in (
        ("left", left, "nl", "nr", "ol"),
        ("right", right, "nr", "nl", "orr"),
    ):
        if out[f"rows_only_{name}"]:
            more = d.filter(d[mine] > d[theirs])
            tables[f"rows_only_{name}"] = (
                _copies(more, more[mine] - more[theirs], order, side, common)
                if same
                else _extra_rows(rows, more, more[theirs], side.schema, len(common))
            )
        if out[f"duplicate_rows_{name}"]:
            rep = d.filter(d[mine] > 1)
            tables[f"duplicate_rows_{name}"] = (
                _copies(rep, rep[mine] - 1, order, side, common) if same else _own_duplicates(side)
            )
    return tables


def _copies(groups: Any, n: Any, order: str, side: Side, common: list[str]) -> Any:
    """``n`` copies of each group's row, as ``side``'s columns, in ``order``."""
    import ibis

    names = {c: f"c{common.index(c)}" for c in side.schema}
    g = groups.mutate(_rep=ibis.range(0, n)).unnest("_rep")
    return g.order_by(order).select(*[g[names[c]].name(c) for c in side.schema])


def _extra_rows(rows: Any, groups: Any, first: Any, schema: dict[str, str], n_keys: int) -> Any:
    """The rows of ``rows`` in ``groups`` after the first ``first`` of each, in order."""
    import ibis

    keys = [f"c{i}" for i in range(n_keys)]
    g = groups.select(*keys, _first=first)
    hit = rows.join(g, [rows[k].identical_to(g[k]) for k in keys])
    hit = hit.mutate(_rn=ibis.row_number().over(group_by=keys, order_by="_hw_order"))
    hit = hit.filter(hit._rn >= hit._first)
    return hit.order_by("_hw_order").select(*[hit[f"_o{i}"].name(c) for i, c in enumerate(schema)])


def _own_duplicates(side: Side) -> Any:
    """A side's rows that repeat an earlier row, over all of its columns."""
    import ibis

    t, cols = side.table, list(side.schema)
    groups = t.group_by(cols).aggregate(_n=t.count()).filter(lambda g: g._n > 1)
    hit = t.semi_join(groups, [t[c].identical_to(groups[c]) for c in cols])
    hit = hit.mutate(_rn=ibis.row_number().over(group_by=cols, order_by="_hw_order"))
    return hit.filter(hit._rn >= 1).order_by("_hw_order").select(*cols)
