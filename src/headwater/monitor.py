"""Monitor: check the production model against new rows (model drift and data drift).

Stage of the flow after ingest and before train: ``headwater run`` scores production on
the new rows and calls :func:`model_drift` with the score, the production model's test
score and its per-batch score history; :func:`data_drift` compares every feature of the
new rows with the reference profile in the production model's card
(:func:`headwater.train.profile`), never by re-reading the training data.

Data drift is computed by the engine, in one query over the new rows (no pandas copy of
the batch, so it runs unchanged on Spark): the features are unpivoted into
``(feature, value)`` rows; for numeric features the reference points (PSI bin edges and
the quantile points of the KS reference) are unioned in and a running count over each
feature's values in order gives, at every point, the number of new values at or below
it; categorical features are counted by value. The query's size grows with the number of
features, not with their product with the points, and no expression nests deeper than a
few levels, so ~1,000-column inputs compile.

Statistics:

- PSI = sum over bins of (new − ref) · ln(new / ref), bin shares of all rows, missing
  values as their own bin; empty bins count as :data:`EPSILON` so an empty bin on one
  side gives a large but finite term.
- KS = max over the reference points x of |F_new(x) − F_ref(x)|, F the share of
  non-missing values at or below x. With the 101-point reference of current cards it is
  within ~0.01 of the two-sample statistic. Threshold: the two-sample critical value
  c(α)·sqrt((n + m) / (n·m)), c(α) = sqrt(−ln(α / 2) / 2), n and m the new and reference
  non-missing counts — unless ``[monitor] ks_threshold`` fixes it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from headwater.metrics import lower_is_better

if TYPE_CHECKING:
    import ibis
    import sqlalchemy as sa

    from headwater.config import MonitorConfig
    from headwater.engines.base import Engine

# the share an empty bin counts as in PSI (a common choice; ln(1e-4) bounds one bin's term)
EPSILON = 1e-4
# below this many new rows the model-drift verdict stands, with a warning
FEW_ROWS = 30
_NUMERIC = ("int", "float", "decimal", "boolean")


@dataclass
class FeatureDrift:
    """One data-drift check of one feature: ``method`` "psi" or "ks"."""

    feature: str
    method: str
    statistic: float | None
    threshold: float | None
    detected: bool
    rows: int  # new rows (KS: new non-missing values)
    reference_rows: int  # training rows (KS: training non-missing values)
    reference: str  # which part of the card was the reference
    reason: str | None = None  # why it could not be checked

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelDrift:
    """The model-drift verdict on one batch: "drift", "no_drift" or "insufficient_data"."""

    test: str  # the test actually used
    score: float | None
    baseline: float | None  # the threshold the score was compared against
    detected: bool
    rows: int
    verdict: str
    reason: str
    requested: str | None = None  # the configured test, when it fell back to raw
    warning: str | None = None
    history: int = 0  # points in the score history

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ks_critical_value(alpha: float, n: int, m: int) -> float:
    """The two-sample KS critical value at ``alpha`` for sample sizes ``n`` and ``m``."""
    c = math.sqrt(-math.log(alpha / 2) / 2)
    return c * math.sqrt((n + m) / (n * m))


def psi(new: list[float], ref: list[float]) -> float:
    """Population stability index of two lists of bin shares (empty bins as EPSILON)."""
    total = 0.0
    for a, b in zip(new, ref, strict=True):
        a, b = max(a, EPSILON), max(b, EPSILON)
        total += (a - b) * math.log(a / b)
    return total


# --- model drift -------------------------------------------------------------------------


def model_drift(
    score: float | None,
    baseline: float,
    history: list[float],
    metric: str,
    cfg: MonitorConfig,
    rows: int,
) -> ModelDrift:
    """Whether production's ``score`` on ``rows`` new rows is worse than it should be.

    Parameters
    ----------
    score
        Production's ``metric`` on the new rows; None when it is undefined (one class only
        for f1 / roc_auc).
    baseline
        The production model's recorded test score (the ``raw`` test's threshold).
    history
        Production's earlier per-batch scores (the current one not included).
    metric
        Its name: rmse and mae are errors (higher is worse), the others higher-is-better.
    cfg
        ``[monitor]``: ``drift_test``, ``history_min``, ``min_rows``.
    """
    lower = lower_is_better(metric)
    warning = (
        f"only {rows} new row(s) with a target: the score is noisy below {FEW_ROWS}"
        if 0 < rows < FEW_ROWS
        else None
    )
    base: dict[str, Any] = {"rows": rows, "warning": warning, "history": len(history)}
    if rows < cfg.min_rows or score is None:
        why = (
            f"{rows} new row(s) with a target, below [monitor] min_rows = {cfg.min_rows}"
            if rows < cfg.min_rows
            else f"{metric} is undefined on the new rows (e.g. a single class)"
        )
        return ModelDrift(
            test=cfg.drift_test,
            score=score,
            baseline=None,
            detected=False,
            verdict="insufficient_data",
            reason=why + "; recorded, no retrain",
            **base,
        )
    test, requested, note = cfg.drift_test, None, ""
    if test != "raw" and len(history) < cfg.history_min:
        requested, test = test, "raw"
        note = (
            f"; {requested} needs {cfg.history_min} history points, "
            f"has {len(history)}: fell back to raw"
        )
    if test == "raw":
        threshold = baseline
        what = f"the production model's test score {baseline:.6g}"
    elif test == "parametric":
        mean, std = statistics.fmean(history), statistics.stdev(history)
        threshold = mean + 2 * std if lower else mean - 2 * std
        sign = "+" if lower else "−"
        what = f"mean {sign} 2·std of {len(history)} batch scores ({mean:.6g} {sign} 2·{std:.6g})"
    else:
        q1, _, q3 = statistics.quantiles(history, n=4, method="inclusive")
        iqr = q3 - q1
        threshold = q3 + 1.5 * iqr if lower else q1 - 1.5 * iqr
        what = (
            f"Q3 + 1.5·IQR of {len(history)} batch scores ({q3:.6g} + 1.5·{iqr:.6g})"
            if lower
            else f"Q1 − 1.5·IQR of {len(history)} batch scores ({q1:.6g} − 1.5·{iqr:.6g})"
        )
    detected = score > threshold if lower else score < threshold
    relation = ("above" if lower else "below") if detected else "not worse than"
    reason = (
        f"{metric} {score:.6g} on {rows} new row(s) is {relation} {threshold:.6g}, "
        f"{what} ({'higher' if lower else 'lower'} is worse){note}"
    )
    return ModelDrift(
        test=test,
        score=score,
        baseline=threshold,
        detected=detected,
        verdict="drift" if detected else "no_drift",
        reason=reason,
        requested=requested,
        **base,
    )


# --- data drift --------------------------------------------------------------------------


@dataclass
class _Numeric:
    feature: str
    psi_edges: list[float]
    psi_shares: list[float]  # of all rows, one per bin, without the missing bin
    psi_reference: str
    ks_points: list[float]
    ks_shares: list[float]  # F_ref at each point
    ks_reference: str
    values: int  # reference non-missing values


def _numeric_reference(feature: str, entry: dict[str, Any], rows: int) -> _Numeric:
    """The PSI bins and the KS reference of one numeric feature, from a new or old card."""
    missing = float(entry.get("missing_share", 0.0))
    values = int(entry.get("values", round(rows * (1 - missing))))
    if "psi" in entry:
        edges, shares = list(entry["psi"]["edges"]), list(entry["psi"]["shares"])
        psi_ref = "deciles"
    else:  # the first cards: a 10-bin equal-width histogram (its inner edges)
        hist = entry["histogram"]
        total = sum(hist["counts"]) or 1
        edges = list(hist["edges"][1:-1])
        shares = [c / total * (1 - missing) for c in hist["counts"]]
        psi_ref = "histogram (10 equal-width bins, an older card)"
    if "cdf" in entry:
        points, cdf = list(entry["cdf"]["points"]), list(entry["cdf"]["shares"])
        ks_ref = f"{len(points)} quantile points"
    else:  # the first cards: 7 quantiles; a repeated value gets the highest level
        levels = {"min": 0.0, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
        levels["max"] = 1.0
        at: dict[float, float] = {}
        for name, q in entry["quantiles"].items():
            at[float(q)] = max(at.get(float(q), 0.0), levels[name])
        points = sorted(at)
        cdf = [at[p] for p in points]
        ks_ref = "7 quantiles (an older card, coarse)"
    return _Numeric(feature, edges, shares, psi_ref, points, cdf, ks_ref, values)


def _counts_query(table: ibis.Table, numeric: list[_Numeric], categorical: list[str]) -> ibis.Table:
    """One query: rows ``(f, k, cat, n)``: f "" the row count; per numeric feature ``nN``,
    k −1 its non-missing count and k ≥ 0 the new values at or below reference point k;
    per categorical feature ``cN`` the count of each value ``cat`` (null: missing)."""
    import ibis
    import ibis.selectors as s
    import pyarrow as pa

    def shape(t: ibis.Table, f: Any, k: Any, cat: Any, n: Any) -> ibis.Table:
        return t.select(
            f=f.cast("string"), k=k.cast("int64"), cat=cat.cast("string"), n=n.cast("int64")
        )

    parts = [
        shape(
            table.aggregate(n=table.count()),
            ibis.literal(""),
            ibis.literal(0),
            ibis.null(),
            ibis._.n,
        )
    ]
    if numeric:

        def number(name: str) -> Any:
            v = table[name].cast("float64")
            return v.isnan().ifelse(ibis.null("float64"), v)  # NaN is missing, as in training

        wide = table.select(**{f"n{i}": number(x.feature) for i, x in enumerate(numeric)})
        long = wide.pivot_longer(s.all(), names_to="f", values_to="v")
        counted = long.group_by("f").aggregate(n=long.v.count())
        parts.append(shape(counted, counted.f, ibis.literal(-1), ibis.null(), counted.n))
        ref_f, ref_v, ref_k = [], [], []
        for i, x in enumerate(numeric):
            # KS points are k = 0 …; the PSI edges follow them
            points = [*x.ks_points, *x.psi_edges]
            ref_f += [f"n{i}"] * len(points)
            ref_v += points
            ref_k += list(range(len(points)))
        ref = ibis.memtable(
            pa.table(
                {
                    "f": pa.array(ref_f, pa.string()),
                    "v": pa.array(ref_v, pa.float64()),
                    "k": pa.array(ref_k, pa.int64()),
                }
            )
        )
        values = long.filter(long.v.notnull())
        both = values.select(
            "f", "v", r=ibis.literal(0).cast("int64"), k=ibis.null().cast("int64")
        ).union(ref.select("f", "v", r=ibis.literal(1).cast("int64"), k="k"))
        # new values equal to a point sort before it, so the running count is "at or below"
        w = ibis.window(group_by=both.f, order_by=[both.v, both.r], rows=(None, 0))
        both = both.mutate(le=(1 - both.r).sum().over(w))
        at_points = both.filter(both.r == 1)
        parts.append(shape(at_points, at_points.f, at_points.k, ibis.null(), at_points.le))
    if categorical:
        wide = table.select(**{f"c{i}": table[f].cast("string") for i, f in enumerate(categorical)})
        long = wide.pivot_longer(s.all(), names_to="f", values_to="v")
        counted = long.group_by(["f", "v"]).aggregate(n=long.count())
        parts.append(shape(counted, counted.f, ibis.literal(0), counted.v, counted.n))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def data_drift(
    engine: Engine,
    table: ibis.Table,
    profile: dict[str, Any],
    features: list[str],
    cfg: MonitorConfig,
) -> list[FeatureDrift]:
    """Compare every feature of ``table`` (the new rows) with the card's ``profile``.

    Numeric features get a PSI and a KS record, categorical ones a PSI record; a feature
    that cannot be checked (absent in the new rows, no reference, all missing, a type
    that changed) gets a record with ``reason`` and ``detected`` false.
    """
    ref_rows = int(profile.get("rows", 0))
    refs: dict[str, Any] = profile.get("features", {})
    schema = table.schema()
    out: dict[str, list[FeatureDrift]] = {}
    numeric: list[_Numeric] = []
    categorical: list[str] = []

    def skip(feature: str, method: str, reason: str) -> None:
        out[feature] = [
            FeatureDrift(feature, method, None, None, False, 0, ref_rows, "none", reason)
        ]

    for f in features:
        entry = refs.get(f)
        kind = (entry or {}).get("kind")
        if entry is None or kind is None:
            skip(f, "psi", "no reference for it in the model card (no values in training)")
        elif f not in schema:
            skip(f, "psi", "absent in the new rows")
        elif kind == "numeric":
            dtype = schema[f]
            if not (dtype.is_numeric() or dtype.is_boolean()):
                skip(f, "psi", f"numeric in training, {dtype} in the new rows")
            else:
                numeric.append(_numeric_reference(f, entry, ref_rows))
        else:
            categorical.append(f)
    counts = engine.to_pyarrow(_counts_query(table, numeric, categorical)).to_pylist()
    total = next(r["n"] for r in counts if r["f"] == "")
    by_feature: dict[str, list[dict[str, Any]]] = {}
    for r in counts:
        by_feature.setdefault(r["f"], []).append(r)
    for i, x in enumerate(numeric):
        out[x.feature] = _numeric_checks(x, by_feature.get(f"n{i}", []), total, ref_rows, cfg)
    for i, f in enumerate(categorical):
        out[f] = [_categorical_check(f, refs[f], by_feature.get(f"c{i}", []), total, ref_rows, cfg)]
    return [d for f in features for d in out[f]]


def _numeric_checks(
    x: _Numeric, rows: list[dict[str, Any]], total: int, ref_rows: int, cfg: MonitorConfig
) -> list[FeatureDrift]:
    nonmissing = next((r["n"] for r in rows if r["k"] == -1), 0)
    le = {r["k"]: r["n"] for r in rows if r["k"] >= 0}
    n_ks = len(x.ks_points)
    results = []
    if total == 0:
        reason = "no new rows"
        return [
            FeatureDrift(x.feature, "psi", None, None, False, 0, ref_rows, x.psi_reference, reason),
            FeatureDrift(x.feature, "ks", None, None, False, 0, x.values, x.ks_reference, reason),
        ]
    cum = [le.get(n_ks + j, 0) for j in range(len(x.psi_edges))]
    bins = [b - a for a, b in zip([0, *cum], [*cum, nonmissing], strict=True)]
    new = [c / total for c in bins] + [(total - nonmissing) / total]
    ref = [*x.psi_shares, max(0.0, 1.0 - sum(x.psi_shares))]
    stat = psi(new, ref)
    results.append(
        FeatureDrift(
            x.feature,
            "psi",
            stat,
            cfg.psi_threshold,
            stat > cfg.psi_threshold,
            total,
            ref_rows,
            x.psi_reference,
        )
    )
    if nonmissing == 0 or x.values == 0:
        side = "new rows" if nonmissing == 0 else "training data"
        results.append(
            FeatureDrift(
                x.feature,
                "ks",
                None,
                None,
                False,
                nonmissing,
                x.values,
                x.ks_reference,
                f"all values missing in the {side}",
            )
        )
        return results
    ks = max(abs(le.get(k, 0) / nonmissing - x.ks_shares[k]) for k in range(n_ks))
    threshold = cfg.ks_threshold or ks_critical_value(cfg.ks_alpha, nonmissing, x.values)
    results.append(
        FeatureDrift(
            x.feature, "ks", ks, threshold, ks > threshold, nonmissing, x.values, x.ks_reference
        )
    )
    return results


def _categorical_check(
    feature: str,
    entry: dict[str, Any],
    rows: list[dict[str, Any]],
    total: int,
    ref_rows: int,
    cfg: MonitorConfig,
) -> FeatureDrift:
    if "categories" in entry:
        shares = dict(entry["categories"]["shares"])
        other = float(entry["categories"]["other"])
        reference = f"{len(shares)} categories"
    else:  # the first cards: counts of the 20 most frequent values
        top = entry.get("top", {})
        seen = ref_rows * (1 - float(entry.get("missing_share", 0.0))) or 1
        shares = {k: v / ref_rows for k, v in top.items()} if ref_rows else {}
        other = max(0.0, (seen - sum(top.values())) / (ref_rows or 1))
        reference = f"top {len(top)} categories (an older card)"
    if total == 0:
        return FeatureDrift(
            feature, "psi", None, None, False, 0, ref_rows, reference, "no new rows"
        )
    counts = {k: 0 for k in shares}
    new_other = new_missing = 0
    for r in rows:
        if r["cat"] is None:
            new_missing += r["n"]
        elif r["cat"] in counts:
            counts[r["cat"]] += r["n"]
        else:
            new_other += r["n"]
    missing = max(0.0, 1.0 - sum(shares.values()) - other)
    new = [counts[k] / total for k in shares] + [new_other / total, new_missing / total]
    ref = [*shares.values(), other, missing]
    stat = psi(new, ref)
    return FeatureDrift(
        feature,
        "psi",
        stat,
        cfg.psi_threshold,
        stat > cfg.psi_threshold,
        total,
        ref_rows,
        reference,
    )


def drift_unresolved(conn: sa.Connection, production: int | None) -> bool:
    """A drift the loop found and could not fix: the newest check with a verdict on the
    production model found drift and its candidate was rejected (a later deploy, rollback
    or a batch without drift resolves it)."""
    if production is None:
        return False
    import sqlalchemy as sa

    from headwater.records import schema as rs

    c = rs.drift_checks.c
    last = conn.execute(
        sa.select(c.outcome, c.model_version)
        .where(c.verdict.in_(["drift", "no_drift", "data_drift"]))
        .order_by(c.id.desc())
        .limit(1)
    ).first()
    return bool(last and last.outcome == "rejected" and last.model_version == production)
