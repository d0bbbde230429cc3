"""The comparison itself, as Ibis expressions over the two sides (DESIGN.md decision 1).

Without a key, rows are compared as whole rows over the columns both sides have: each
distinct row (by its portable fingerprint) counts min(left, right) times as in both.

With a key, rows are paired by key; duplicate keys are paired in order of appearance (the
k-th left row with that key against the k-th right row; extras are only-left or
only-right). Matched pairs are compared column by column in one aggregate pass; rows with
a difference are materialized once, for samples and ``--save-differences``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from headwater.compare._inputs import Side


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

    from headwater.ingest._fingerprint import canonical_text

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


def compare_sides(engine: Any, left: Side, right: Side, opts: Options) -> dict[str, Any]:
    """Run the comparison; return the numbers and the materialized difference tables."""
    import ibis

    from headwater.errors import CompareError
    from headwater.ingest._fingerprint import fingerprint

    lcols = [c for c in left.schema]
    rcols = [c for c in right.schema]
    common = [c for c in lcols if c in right.schema]
    out: dict[str, Any] = {
        "columns_only_left": [c for c in lcols if c not in right.schema],
        "columns_only_right": [c for c in rcols if c not in left.schema],
        "columns_type_differs": {
            c: [left.schema[c], right.schema[c]]
            for c in common
            if left.schema[c] != right.schema[c]
            and not (left.schema[c] in NUMERIC and right.schema[c] in NUMERIC)
        },
    }
    L, R = left.table, right.table
    key = list(opts.key)
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

    lschema = {c: left.schema[c] for c in common}
    rschema = {c: right.schema[c] for c in common}
    Lf = L.mutate(_hw_fp=fingerprint(L, lschema))
    Rf = R.mutate(_hw_fp=fingerprint(R, rschema))

    # whole-row multiplicity (both modes report duplicate rows)
    lc = Lf.group_by("_hw_fp").aggregate(n=Lf.count())
    rc = Rf.group_by("_hw_fp").aggregate(n=Rf.count())
    dup_l = lc.aggregate(rows=lc.n.sum(), dups=(lc.n - 1).sum(), distinct_dup=(lc.n > 1).sum())
    dup_r = rc.aggregate(rows=rc.n.sum(), dups=(rc.n - 1).sum(), distinct_dup=(rc.n > 1).sum())
    dl = engine.to_pyarrow(dup_l).to_pylist()[0]
    dr = engine.to_pyarrow(dup_r).to_pylist()[0]
    out["rows_left"] = int(dl["rows"] or 0)
    out["rows_right"] = int(dr["rows"] or 0)
    out["duplicate_rows_left"] = int(dl["dups"] or 0)
    out["duplicate_rows_right"] = int(dr["dups"] or 0)

    if not key:
        j = lc.outer_join(rc, lc._hw_fp == rc._hw_fp)
        j = j.select(nl=j.n.fill_null(0), nr=j.n_right.fill_null(0))
        agg = j.aggregate(
            both=ibis.least(j.nl, j.nr).sum(),
            only_l=(j.nl - ibis.least(j.nl, j.nr)).sum(),
            only_r=(j.nr - ibis.least(j.nl, j.nr)).sum(),
        )
        a = engine.to_pyarrow(agg).to_pylist()[0]
        out["rows_in_both"] = int(a["both"] or 0)
        out["rows_only_left"] = int(a["only_l"] or 0)
        out["rows_only_right"] = int(a["only_r"] or 0)
        # samples: rows whose fingerprint has more copies on one side
        extra_l = Lf.filter(~Lf._hw_fp.isin(rc._hw_fp)).order_by("_hw_order")
        extra_r = Rf.filter(~Rf._hw_fp.isin(lc._hw_fp)).order_by("_hw_order")
        dup_rows_l = Lf.filter(Lf._hw_fp.isin(lc.filter(lc.n > 1)._hw_fp)).order_by("_hw_order")
        dup_rows_r = Rf.filter(Rf._hw_fp.isin(rc.filter(rc.n > 1)._hw_fp)).order_by("_hw_order")
        out["tables"] = {
            "rows_only_left": extra_l.select(*lcols),
            "rows_only_right": extra_r.select(*rcols),
            "duplicate_rows_left": dup_rows_l.select(*lcols),
            "duplicate_rows_right": dup_rows_r.select(*rcols),
        }
        out["columns"] = {}
        return out

    # keyed: pair duplicates in order of appearance
    lkc = L.group_by(key).aggregate(n=L.count())
    rkc = R.group_by(key).aggregate(n=R.count())
    kl = engine.to_pyarrow(lkc.aggregate(keys=lkc.count(), dup=(lkc.n > 1).sum())).to_pylist()[0]
    kr = engine.to_pyarrow(rkc.aggregate(keys=rkc.count(), dup=(rkc.n > 1).sum())).to_pylist()[0]
    out["duplicate_keys_left"] = int(kl["dup"] or 0)
    out["duplicate_keys_right"] = int(kr["dup"] or 0)
    if out["duplicate_keys_left"] or out["duplicate_keys_right"]:
        L = L.mutate(_hw_k=ibis.row_number().over(group_by=key, order_by="_hw_order"))
        R = R.mutate(_hw_k=ibis.row_number().over(group_by=key, order_by="_hw_order"))
    else:
        L = L.mutate(_hw_k=ibis.literal(0, "int64"))
        R = R.mutate(_hw_k=ibis.literal(0, "int64"))
    lsel = L.select(
        *[L[c].name(f"l_{i}") for i, c in enumerate(lcols)],
        _hw_k=L._hw_k,
        _l=ibis.literal(True),
        _lo=L._hw_order,
    )
    rsel = R.select(
        *[R[c].name(f"r_{i}") for i, c in enumerate(rcols)],
        _hw_kr=R._hw_k,
        _r=ibis.literal(True),
        _ro=R._hw_order,
    )
    li = {c: f"l_{i}" for i, c in enumerate(lcols)}
    ri = {c: f"r_{i}" for i, c in enumerate(rcols)}
    preds = [lsel[li[k]] == rsel[ri[k]] for k in key] + [lsel._hw_k == rsel._hw_kr]
    j = lsel.outer_join(rsel, preds)
    in_l, in_r = j._l.notnull(), j._r.notnull()
    matched = in_l & in_r
    aggs: dict[str, Any] = {
        "both": matched.sum(),
        "only_l": (in_l & ~in_r).sum(),
        "only_r": (in_r & ~in_l).sum(),
    }
    flags = {}
    compared = [c for c in common if c not in key]
    any_diff: Any = ibis.literal(False)
    for i, c in enumerate(compared):
        unequal, one_null, diff = column_flags(
            j[li[c]], j[ri[c]], left.schema[c], right.schema[c], opts, c
        )
        flags[c] = unequal
        aggs[f"u{i}"] = (matched & unequal).sum()
        aggs[f"n{i}"] = (matched & one_null).sum()
        if diff is not None:
            aggs[f"d{i}"] = ibis.ifelse(matched, diff, ibis.null("float64")).max()
        any_diff = any_diff | unequal
    aggs["diff_rows"] = (matched & any_diff).sum()
    a = engine.to_pyarrow(j.aggregate(**aggs)).to_pylist()[0]
    out["rows_in_both"] = int(a["both"] or 0)
    out["rows_only_left"] = int(a["only_l"] or 0)
    out["rows_only_right"] = int(a["only_r"] or 0)
    out["rows_with_differences"] = int(a["diff_rows"] or 0)
    # keys: distinct keys present on both sides / one side
    kj = lkc.outer_join(rkc, [lkc[k] == rkc[k] for k in key])
    ka = engine.to_pyarrow(
        kj.aggregate(
            both=(kj.n.notnull() & kj.n_right.notnull()).sum(),
            only_l=(kj.n.notnull() & kj.n_right.isnull()).sum(),
            only_r=(kj.n.isnull() & kj.n_right.notnull()).sum(),
        )
    ).to_pylist()[0]
    out["keys_in_both"] = int(ka["both"] or 0)
    out["keys_only_left"] = int(ka["only_l"] or 0)
    out["keys_only_right"] = int(ka["only_r"] or 0)
    out["columns"] = {
        c: {
            "unequal": int(a[f"u{i}"] or 0),
            "equal": out["rows_in_both"] - int(a[f"u{i}"] or 0),
            "null_one_side": int(a[f"n{i}"] or 0),
            "max_abs_diff": (float(a[f"d{i}"]) if a.get(f"d{i}") is not None else None),
            "left_type": left.schema[c],
            "right_type": right.schema[c],
        }
        for i, c in enumerate(compared)
    }
    # tables of differences (materialized lazily by the caller)
    diffs = j.filter(matched & any_diff)
    diff_cols = []
    for k in key:
        diff_cols.append(diffs[li[k]].name(k))
    for c in compared:
        diff_cols += [diffs[li[c]].name(f"{c}_left"), diffs[ri[c]].name(f"{c}_right")]
    only_l = j.filter(in_l & ~in_r).order_by("_lo")
    only_r = j.filter(in_r & ~in_l).order_by("_ro")
    dup_l = L.filter(L._hw_k > 0) if out["duplicate_keys_left"] else None
    dup_r = R.filter(R._hw_k > 0) if out["duplicate_keys_right"] else None
    out["tables"] = {
        "rows_with_differences": diffs.order_by("_lo").select(*diff_cols),
        "rows_only_left": only_l.select(*[only_l[li[c]].name(c) for c in lcols]),
        "rows_only_right": only_r.select(*[only_r[ri[c]].name(c) for c in rcols]),
        "duplicate_keys_left": dup_l.order_by("_hw_order").select(*lcols)
        if dup_l is not None
        else None,
        "duplicate_keys_right": dup_r.order_by("_hw_order").select(*rcols)
        if dup_r is not None
        else None,
    }
    out["flags"] = flags
    return out
