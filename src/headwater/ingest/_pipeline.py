"""The dataset logic of an ingest, as Ibis expressions (DESIGN.md decision 1).

text → trimmed, NA tokens → null, thousands separators removed → typed (strictly: a value
that does not fit its type is a reject, never a silent null) → validation rules → row
fingerprint → de-duplication (append mode) or upsert by key. Nothing here knows which
engine runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from headwater.config import DatasetConfig
from headwater.dataset import IBIS_TYPES
from headwater.ingest._fingerprint import fingerprint

# Strict text forms accepted for each type (engines' own casts are more permissive:
# DuckDB casts '1.5' to BIGINT 2 and 'inf' to a date, which would silently change data).
PATTERNS = {
    "int": r"^[+-]?[0-9]+$",
    "float": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^(?i)[+-]?(inf|infinity)$",
    "bool": r"^(?i)(true|false|t|f|yes|no|y|n|1|0)$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "timestamp": (
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?"
        r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
    ),
}
INFER_ORDER = ("int", "float", "bool", "date", "timestamp")
_INFER_BOOL = r"^(?i)(true|false)$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
NUMERIC = ("int", "float")

OUTCOMES = ("reject", "duplicate", "superseded", "stale", "added")


@ibis.udf.scalar.builtin(name="trim")
def _trim_spaces(value: str) -> str:  # type: ignore[empty-body]
    """SQL TRIM(x): spaces only (DuckDB and Spark both have it)."""


_OTHER_SPACE = ["\t", "\n", "\r", "\x0b", "\x0c"]


def strip_text(value: ir.StringValue) -> ir.StringValue:
    """Whitespace trimmed from both ends.

    The full-whitespace trim is three times slower than the spaces-only one in DuckDB,
    so it is only used for the (rare) values that start or end with other whitespace.
    """
    other = value.left(1).isin(_OTHER_SPACE) | value.right(1).isin(_OTHER_SPACE)
    return ibis.ifelse(other, value.strip(), _trim_spaces(value))


def clean_text(raw: ir.StringValue, na_values: list[str]) -> ir.StringValue:
    trimmed = strip_text(raw)
    return ibis.ifelse(trimmed.isin(na_values), ibis.null("string"), trimmed)


def _numeric_text(v: ir.StringValue, thousands: ir.StringValue | None) -> ir.StringValue:
    if thousands is None:
        return v
    sep = thousands.fill_null("")
    return ibis.ifelse(sep == "", v, v.replace(sep, ""))


def typed_value(v: ir.StringValue, kind: str) -> ir.Value:
    """The value of cleaned text ``v`` as ``kind``; null when it does not fit."""
    if kind == "string":
        return v
    if kind == "bool":
        low = v.lower()
        return ibis.cases(
            (low.isin(_TRUE), ibis.literal(True)),
            (low.isin(_FALSE), ibis.literal(False)),
            else_=ibis.null("boolean"),
        )
    target = IBIS_TYPES[kind]
    return ibis.ifelse(v.re_search(PATTERNS[kind]), v.try_cast(target), ibis.null(target))


@dataclass
class SchemaDecision:
    """The schema a run writes with, and how it got there."""

    schema: dict[str, str]
    added: dict[str, str]
    widened: dict[str, str]
    frozen_out: list[str]


def trim_stage(batch: ir.Table) -> ir.Table:
    """Stage 1a: every data column trimmed, and how many cells of the row needed it.

    Each stage is materialized by the caller: later stages then refer to plain columns
    instead of re-computing (DuckDB does not share a repeated TRIM within a projection).
    A cell needs trimming exactly when its first or last character is whitespace.
    """
    data = [c for c in batch.columns if not c.startswith("_hw_")]
    keep = [c for c in batch.columns if c.startswith("_hw_")]
    space = [" ", *_OTHER_SPACE]
    n_trimmed: ir.IntegerValue = ibis.literal(0)
    for c in data:
        raw = batch[c]
        edge = raw.left(1).isin(space) | raw.right(1).isin(space)
        n_trimmed = n_trimmed + edge.fill_null(False).cast("int64")
    return batch.select(*[strip_text(batch[c]).name(c) for c in data], *keep, _hw_trimmed=n_trimmed)


def clean_stage(trimmed: ir.Table, ds: DatasetConfig) -> ir.Table:
    """Stage 1b: NA tokens → null; per-row counts of cells trimmed and NA tokens mapped."""
    na = list(ds.na_values)
    data = [c for c in trimmed.columns if not c.startswith("_hw_")]
    n_na: ir.IntegerValue = ibis.literal(0)
    cleaned = {}
    for c in data:
        t = trimmed[c]
        is_na = t.isin(na)
        cleaned[c] = ibis.ifelse(is_na, ibis.null("string"), t)
        n_na = n_na + is_na.fill_null(False).cast("int64")
    keep = [c for c in trimmed.columns if c.startswith("_hw_")]
    return trimmed.select(*[cleaned[c].name(c) for c in data], *keep, _hw_na=n_na)


def _fit_counts(text: ir.Table, kinds: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    thousands = text["_hw_thousands"] if "_hw_thousands" in text.columns else None
    aggs: dict[str, Any] = {}
    for i, (c, wanted) in enumerate(kinds.items()):
        v = text[c]
        aggs[f"n{i}"] = v.notnull().sum()
        for kind in wanted:
            t = _numeric_text(v, thousands) if kind in NUMERIC else v
            pattern = _INFER_BOOL if kind == "bool" else PATTERNS[kind]
            aggs[f"{kind}{i}"] = (t.re_search(pattern) & typed_value(t, kind).notnull()).sum()
    return aggs


def _collect(
    row: dict[str, Any], kinds: Mapping[str, tuple[str, ...]]
) -> dict[str, dict[str, int]]:
    out = {}
    for i, (c, wanted) in enumerate(kinds.items()):
        out[c] = {"n": int(row[f"n{i}"] or 0)}
        out[c].update({k: int(row[f"{k}{i}"] or 0) for k in wanted})
    return out


def sample_types(
    text: ir.Table, columns: list[str], execute: Any, *, sample: int = 20_000
) -> dict[str, dict[str, int]]:
    """Fit counts of every type on the first ``sample`` rows only (a proposal)."""
    if not columns:
        return {}
    every = dict.fromkeys(columns, INFER_ORDER)
    head = text.limit(sample)
    return _collect(execute(head.aggregate(**_fit_counts(head, every))).to_pylist()[0], every)


def type_failures(
    typed_text: ir.Table, schema: dict[str, str], columns: list[str], execute: Any
) -> list[str]:
    """Columns of a :func:`type_stage` table where some non-null text did not fit its type."""
    index = {c: i for i, c in enumerate(schema)}

    def bad(c: str) -> Any:
        flag = f"_hw_bad{index[c]}"
        if flag in typed_text.columns:  # a check_stage table carries the flags
            return typed_text[flag]
        return typed_text[f"_hw_t{index[c]}"].notnull() & typed_text[c].isnull()

    checks = {
        f"f{j}": bad(c).sum() for j, c in enumerate(columns) if c in index and schema[c] != "string"
    }
    if not checks:
        return []
    row = execute(typed_text.aggregate(**checks)).to_pylist()[0]
    return [c for j, c in enumerate(columns) if row.get(f"f{j}")]


def infer_types(text: ir.Table, columns: list[str], execute: Any) -> dict[str, dict[str, int]]:
    """For each cleaned text column: non-null count and how many values fit each type, over
    every row (one pass). Used when a :func:`sample_types` proposal turned out wrong."""
    if not columns:
        return {}
    every = dict.fromkeys(columns, INFER_ORDER)
    return _collect(execute(text.aggregate(**_fit_counts(text, every))).to_pylist()[0], every)


def decide_schema(
    pinned: dict[str, str],
    batch_columns: list[str],
    counts: dict[str, dict[str, int]],
    ds: DatasetConfig,
) -> SchemaDecision:
    schema = dict(pinned)
    added: dict[str, str] = {}
    widened: dict[str, str] = {}
    frozen_out: list[str] = []
    configured = {n: c.type for n, c in ds.columns.items() if c.type}
    for c in batch_columns:
        stats = counts.get(c, {"n": 0})
        if c in schema:
            if (
                ds.schema_mode == "evolve"
                and c not in configured
                and schema[c] == "int"
                and stats["n"] > 0
                and stats.get("int", 0) < stats["n"]
                and stats.get("float", 0) == stats["n"]
            ):
                schema[c] = "float"
                widened[c] = "int → float"
            continue
        if pinned and ds.schema_mode == "freeze":
            frozen_out.append(c)
            continue
        kind = configured.get(c) or infer_kind(stats)
        schema[c] = kind
        added[c] = kind
    for c, kind in configured.items():
        if c not in schema and not (pinned and ds.schema_mode == "freeze"):
            schema[c] = kind
            added[c] = kind
    return SchemaDecision(schema, added, widened, frozen_out)


def infer_kind(stats: dict[str, int]) -> str:
    """The narrowest type every non-null value fits (counts from :func:`infer_types`)."""
    n = stats.get("n", 0)
    if n == 0:
        return "string"
    for kind in INFER_ORDER:
        if stats.get(kind, 0) == n:
            return kind
    return "string"


def type_stage(text: ir.Table, schema: dict[str, str], frozen_out: list[str]) -> ir.Table:
    """Stage 2: each column of ``schema`` typed once; its (numeric-normalised) text kept.

    ``_hw_t{i}`` holds the text the i-th schema column was typed from (null if the batch
    lacks the column); ``_hw_f{j}`` the text of the j-th column refused by a frozen schema.
    """
    thousands = text["_hw_thousands"] if "_hw_thousands" in text.columns else None
    cols: dict[str, ir.Value] = {}
    cast: ir.IntegerValue = ibis.literal(0)
    sep_removed: ir.IntegerValue = ibis.literal(0)
    for i, (c, kind) in enumerate(schema.items()):
        if c not in text.columns:
            cols[c] = ibis.null(IBIS_TYPES[kind])
            cols[f"_hw_t{i}"] = ibis.null("string")
            continue
        v = text[c]
        t = _numeric_text(v, thousands) if kind in NUMERIC else v
        value = typed_value(t, kind)
        cols[c] = value
        cols[f"_hw_t{i}"] = v
        if kind != "string":
            cast = cast + value.notnull().cast("int64")
        if kind in NUMERIC and thousands is not None:
            sep_removed = sep_removed + (v.notnull() & (t != v)).cast("int64")
    for j, c in enumerate(frozen_out):
        cols[f"_hw_f{j}"] = text[c]
    keep = [c for c in text.columns if c.startswith("_hw_") and c != "_hw_thousands"]
    return text.select(
        *[e.name(n) for n, e in cols.items()],
        *keep,
        _hw_cast=cast,
        _hw_thousands_removed=sep_removed,
    )


def check_stage(
    typed: ir.Table, schema: dict[str, str], frozen_out: list[str], ds: DatasetConfig
) -> ir.Table:
    """Stage 3: the first failing check of each row (rule, column, value) and its fingerprint."""
    index = {c: i for i, c in enumerate(schema)}
    checks: list[tuple[ir.BooleanValue, str, str, ir.Value]] = []
    for c in schema:
        text = typed[f"_hw_t{index[c]}"]
        checks.append((text.notnull() & typed[c].isnull(), c, "type", text))
    for j, c in enumerate(frozen_out):
        text = typed[f"_hw_f{j}"]
        checks.append((text.notnull(), c, "schema", text))
    for c in ds.key:
        checks.append((typed[c].isnull(), c, "key", typed[f"_hw_t{index[c]}"]))
    for c, rules in ds.columns.items():
        if c not in schema:
            continue
        value = typed[c]
        text = typed[f"_hw_t{index[c]}"]
        if rules.not_null:
            checks.append((value.isnull(), c, "not_null", text))
        if rules.min is not None:
            checks.append((value.notnull() & (value < rules.min), c, "min", text))
        if rules.max is not None:
            checks.append((value.notnull() & (value > rules.max), c, "max", text))
        if rules.allowed is not None:
            checks.append((value.notnull() & ~value.isin(rules.allowed), c, "allowed", text))
        if rules.regex is not None:
            checks.append(
                (text.notnull() & ~text.re_search(f"^(?:{rules.regex})$"), c, "regex", text)
            )
    none = ibis.null("string")
    if checks:
        rule = ibis.cases(*[(cond, r) for cond, _, r, _ in checks], else_=none)
        column = ibis.cases(*[(cond, c) for cond, c, _, _ in checks], else_=none)
        value_expr = ibis.cases(*[(cond, v.cast("string")) for cond, _, _, v in checks], else_=none)
    else:
        rule = column = value_expr = none
    return typed.select(
        *schema,
        *[c for c in ("_hw_file", "_hw_record", "_hw_source") if c in typed.columns],
        "_hw_trimmed",
        "_hw_na",
        "_hw_cast",
        "_hw_thousands_removed",
        _hw_reject_rule=rule,
        _hw_reject_column=column,
        _hw_reject_value=value_expr,
        _hw_fp=fingerprint(typed, schema),
        **{
            f"_hw_bad{index[c]}": typed[f"_hw_t{index[c]}"].notnull() & typed[c].isnull()
            for c, kind in schema.items()
            if kind != "string"
        },
    )


def resolve_outcomes(
    typed: ir.Table,
    existing: ir.Table | None,
    ds: DatasetConfig,
    schema: dict[str, str],
) -> ir.Table:
    """Decide, for every row of the batch, what happens to it.

    ``_hw_outcome`` is one of reject, duplicate (same fingerprint as a live row or an
    earlier row of this run), superseded (a newer row of this run has its key), stale
    (the live row with its key is newer by ``order_by``) or added. In upsert mode
    ``_hw_old_file``/``_hw_old_record`` name the live row an added row replaces.
    """
    good = typed.filter(typed._hw_reject_rule.isnull())
    bad = typed.filter(typed._hw_reject_rule.notnull())
    first_w = ibis.window(group_by=good._hw_fp, order_by=[good._hw_file, good._hw_record])
    ranked = good.mutate(_hw_dup=ibis.row_number().over(first_w))
    dup_in_run = ranked.filter(ranked._hw_dup > 0)
    firsts = ranked.filter(ranked._hw_dup == 0)

    def with_outcome(
        t: ir.Table, outcome: Any, old_file: Any = None, old_rec: Any = None
    ) -> ir.Table:
        return t.select(
            *[t[c] for c in typed.columns],
            _hw_outcome=outcome if isinstance(outcome, ir.Value) else ibis.literal(outcome),
            _hw_old_file=old_file if old_file is not None else ibis.null("int64"),
            _hw_old_record=old_rec if old_rec is not None else ibis.null("int64"),
        )

    pieces = [with_outcome(bad, "reject"), with_outcome(dup_in_run, "duplicate")]

    if not ds.key:
        if existing is not None:
            live_fps = existing.select(existing._hw_fp)
            outcome = ibis.ifelse(firsts._hw_fp.isin(live_fps._hw_fp), "duplicate", "added")
            pieces.append(with_outcome(firsts, outcome))
        else:
            pieces.append(with_outcome(firsts, "added"))
        return ibis.union(*pieces, distinct=False)

    key = list(ds.key)
    ob = ds.order_by
    newest: list[Any] = []
    if ob:  # non-null order values first (False sorts before True), newest first
        newest += [firsts[ob].isnull(), ibis.desc(firsts[ob])]
    # file ids follow (source, path) order within a run: the later file, then record, wins
    newest += [ibis.desc(firsts._hw_file), ibis.desc(firsts._hw_record)]
    kw = ibis.window(group_by=[firsts[k] for k in key], order_by=newest)
    ranked_k = firsts.mutate(_hw_krank=ibis.row_number().over(kw))
    losers = ranked_k.filter(ranked_k._hw_krank > 0).drop("_hw_krank")
    winners = ranked_k.filter(ranked_k._hw_krank == 0).drop("_hw_krank")
    pieces.append(with_outcome(losers, "superseded"))
    if existing is None:
        pieces.append(with_outcome(winners, "added"))
        return ibis.union(*pieces, distinct=False)

    ecols = {f"_hw_e_{i}": existing[k].cast(IBIS_TYPES[schema[k]]) for i, k in enumerate(key)}
    ex = existing.select(
        **ecols,
        _hw_e_fp=existing._hw_fp,
        _hw_e_file=existing._hw_file,
        _hw_e_record=existing._hw_record,
        **(
            {"_hw_e_order": existing[ob].cast(IBIS_TYPES[schema[ob]])}
            if ob and ob in existing.columns
            else {}
        ),
    )
    if ob and "_hw_e_order" not in ex.columns:
        ex = ex.mutate(_hw_e_order=ibis.null(IBIS_TYPES[schema[ob]]))
    joined = winners.left_join(ex, [winners[k] == ex[f"_hw_e_{i}"] for i, k in enumerate(key)])
    joined = joined.select(
        *winners.columns, "_hw_e_fp", "_hw_e_file", "_hw_e_record", *(["_hw_e_order"] if ob else [])
    )
    has_old = joined._hw_e_file.notnull()
    if ob:
        new_o, old_o = joined[ob], joined._hw_e_order
        older = (new_o.isnull() & old_o.notnull()) | (
            new_o.notnull() & old_o.notnull() & (new_o < old_o)
        )
    else:
        older = ibis.literal(False)
    outcome = ibis.cases(
        (has_old & (joined._hw_e_fp == joined._hw_fp), "duplicate"),
        (has_old & older, "stale"),
        else_="added",
    )
    replaced = has_old & (joined._hw_e_fp != joined._hw_fp) & ~older
    pieces.append(
        with_outcome(
            joined,
            outcome,
            ibis.ifelse(replaced, joined._hw_e_file, ibis.null("int64")),
            ibis.ifelse(replaced, joined._hw_e_record, ibis.null("int64")),
        )
    )
    return ibis.union(*pieces, distinct=False)


def file_stats(outcomes: ir.Table) -> ir.Table:
    o = outcomes._hw_outcome
    return outcomes.group_by("_hw_file").aggregate(
        rows_read=outcomes.count(),
        **{name: (o == name).cast("int64").sum() for name in OUTCOMES},
        cells_trimmed=outcomes._hw_trimmed.sum(),
        na_tokens_mapped=outcomes._hw_na.sum(),
        values_cast=outcomes._hw_cast.sum(),
        thousands_removed=outcomes._hw_thousands_removed.sum(),
    )
