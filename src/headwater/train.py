"""Train: fit a candidate model on a dataset version and score it on the test data.

Stage of the flow after ingest (and, later, monitor). The estimator is any import path
with params from ``[model]``, wrapped in a scikit-learn Pipeline with optional imputing,
scaling and one-hot encoding. The test data is a path read like a source, or a hold-out
split that is stable across dataset versions: a row is in the test set when the md5 of its
key (or, without a key, its row fingerprint) falls below ``test_fraction`` — so a row that
production trained on never moves into a later test set.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, ProjectError, TrainError
from headwater.metrics import CLASSIFICATION, LOWER_IS_BETTER

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from headwater.config import ModelConfig
    from headwater.workspace import Workspace


def better_or_equal(metric: str, candidate: float, production: float, tolerance: float) -> bool:
    """True if ``candidate`` is no worse than ``production`` by more than ``tolerance``."""
    if metric in LOWER_IS_BETTER:
        return candidate <= production + tolerance
    return candidate >= production - tolerance


def meets(metric: str, score: float, minimum: float) -> bool:
    """``min_score`` for lower-is-better metrics is a ceiling."""
    return score <= minimum if metric in LOWER_IS_BETTER else score >= minimum


@dataclass
class TrainingData:
    """Features and target for training and testing, and where they came from."""

    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]
    dataset_version: int | None
    test_source: str
    # with ``new_after``: the hold-out slice of the rows ingested after that run (by the
    # test split's hash), left out of training, for the gate's ``new_rows`` judgement
    new_rows: pd.DataFrame | None = None


def _threshold(fraction: float) -> int:
    """Bound on a fingerprint half (uniform over the int64 range) below which ``fraction``
    of the rows fall."""
    return min(-(2**63) + int(fraction * 2**64), 2**63 - 1)


def load_training_data(
    project: Workspace, spec: ModelConfig, *, new_after: int | None = None
) -> TrainingData:
    """Read the current dataset version (and the test data) as pandas frames.

    With ``new_after`` (an ingest run id) the rows ingested after that run whose key hash
    falls in the test split are held out as ``new_rows`` (and never trained on, also when
    ``[model] test_data`` names the test file)."""
    from headwater import dataset as ds_mod
    from headwater.tables.fingerprint import encoding

    name = project.config.dataset.name
    with project.records.read() as conn:
        try:
            v, row_parts, gone = ds_mod.version_parts(conn, name, None)
        except ProjectError as exc:
            raise TrainError(
                f"dataset {name!r} has no version to train on",
                hint="run `headwater ingest` first",
            ) from exc
    import json

    schema: dict[str, str] = dict(json.loads(v["schema"]))
    if spec.target not in schema:
        raise TrainError(
            f"target column {spec.target!r} is not in dataset {name!r} "
            f"(columns: {', '.join(schema)})",
            hint="fix [model] target in headwater.toml",
        )
    features = spec.features or [c for c in schema if c != spec.target and c not in spec.exclude]
    missing = [f for f in features if f not in schema]
    if missing:
        raise TrainError(
            f"feature(s) {', '.join(map(repr, missing))} are not in dataset {name!r} "
            f"(columns: {', '.join(schema)})",
            hint="fix [model] features in headwater.toml",
        )
    with project.engine_scope() as engine:
        live = ds_mod.live_rows(engine, project.dataset_store, row_parts, gone)
        if live is None:
            raise TrainError(f"dataset {name!r} is empty", hint="ingest some rows first")
        live = ds_mod.conform(live, schema)
        key = list(project.config.dataset.key)
        if key:  # the hold-out follows the key, so a row keeps its side when it is updated
            keyed = live.mutate(_hw_kfp=encoding(live, {k: schema[k] for k in key}))
            live = engine.digest_halves(keyed, "_hw_kfp", ("_hw_split", "_hw_kfp_lo"))
            live = live.drop("_hw_kfp_lo")
        else:
            live = live.mutate(_hw_split=live._hw_fp_hi)
        live = live.mutate(_hw_sample=live._hw_fp_lo)
        cols = [*features, spec.target]
        order = ["_hw_run", "_hw_file", "_hw_record"]
        cut = _threshold(spec.test_fraction)
        fresh = None if new_after is None else (live._hw_run > new_after) & (live._hw_split < cut)
        if spec.test_data:
            train_expr = live if fresh is None else live.filter(~fresh)
            test_source = spec.test_data
        else:
            train_expr = live.filter(live._hw_split >= cut)
            test_expr = live.filter(live._hw_split < cut)
            test_source = f"hold-out: {spec.test_fraction:.0%} of rows by hash of " + (
                f"key {key}" if key else "row fingerprint"
            )
        if spec.max_rows:
            n = engine.to_pyarrow(train_expr.aggregate(n=train_expr.count())).to_pylist()[0]["n"]
            if n > spec.max_rows:
                frac = spec.max_rows / n
                train_expr = train_expr.filter(train_expr._hw_sample < _threshold(frac))
        train = engine.to_pyarrow(train_expr.order_by(order).select(*cols)).to_pandas()
        # the test rows keep every column: the gate scores production on them too, and
        # production may use other features than the candidate
        if spec.test_data:
            test = _read_path_frame(
                project, spec.test_data, cols, keep_all=True, option="[model] test_data"
            )
        else:
            test = engine.to_pyarrow(test_expr.order_by(order).select(*schema)).to_pandas()
        new_rows = None
        if fresh is not None:
            held = live.filter(fresh).order_by(order).select(*schema)
            new_rows = engine.to_pyarrow(held).to_pandas()
    return TrainingData(train, test, features, v["version"], test_source, new_rows)


def numeric_features(card: str | dict[str, Any] | None, features: list[str]) -> list[str]:
    """The features a model card profiles as numeric (what the model was fitted on)."""
    import json

    about = json.loads(card) if isinstance(card, str) else dict(card or {})
    kinds = (about.get("profile") or {}).get("features") or {}
    return [f for f in features if (kinds.get(f) or {}).get("kind") == "numeric"]


_SHOWN = 5  # bad values named per column


def _refuse_text_in_numbers(
    engine: Any, t: Any, wants: dict[str, str], path: str, option: str
) -> None:
    """ConfigError naming the first rows whose text in a numeric feature (``wants``:
    column → int/float) is not a number; a missing value stays missing (the imputer's)."""
    import ibis

    from headwater.tables import transform as pl

    # the position in reading order (``_hw_order`` also encodes the file): row 1 is the first
    t = t.mutate(_hw_row=ibis.row_number().over(order_by=t._hw_order) + 1)
    flags = {c: t[c].notnull() & pl.typed_value(t[c], want).isnull() for c, want in wants.items()}
    counts = engine.to_pyarrow(
        t.aggregate(**{f"n_{i}": f.sum() for i, f in enumerate(flags.values())})
    ).to_pylist()[0]
    problems = []
    for i, (c, flag) in enumerate(flags.items()):
        n = int(counts[f"n_{i}"] or 0)
        if not n:
            continue
        sel = t.filter(flag).order_by("_hw_row").limit(_SHOWN)
        rows = engine.to_pyarrow(sel.select("_hw_row", value=sel[c])).to_pylist()
        shown = ", ".join(f"row {r['_hw_row']} {r['value']!r}" for r in rows)
        more = f" and {n - len(rows)} more" if n > len(rows) else ""
        problems.append(f"numeric feature {c!r} holds text: {shown}{more}")
    if problems:
        raise ConfigError(
            f"{option} {path!r}: " + "; ".join(problems),
            hint="fix those values (rows are counted from 1 after the header); "
            "an empty cell is a missing value, which the model's [model] impute handles",
            key=option,
            value=path,
        )


def _read_path_frame(
    project: Workspace,
    path: str,
    cols: list[str],
    *,
    keep_all: bool = False,
    option: str = "--data",
    numeric: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read a file/folder/glob like a source, as pandas, with the dataset's column types.

    ``option`` is where the path came from (``--data``, ``[model] test_data``): a path
    that cannot be read is a ConfigError naming it (exit 2, as for any missing path).
    A column in ``numeric`` (the model's numeric features) holding text that is not a
    number is a ConfigError naming the rows and values, not a missing value.

    Columns the dataset has are given its types (strictly: a value that does not fit
    becomes missing, as it cannot be scored or predicted on), so data read here looks to a
    model exactly like the data it was trained on.
    """
    import json

    from headwater import dataset as ds_mod
    from headwater.errors import CompareError
    from headwater.inputs import read_side, staging_dir
    from headwater.tables import transform as pl

    kinds: dict[str, str] = {}
    with project.records.read() as conn:
        try:
            v = ds_mod.version_row(conn, project.config.dataset.name, None)
            kinds = dict(json.loads(v["schema"]))
        except ProjectError:  # no dataset version yet: keep the inferred types
            kinds = {}
    # the stage's tables are dropped before the local copies they read are removed
    with staging_dir() as staging, project.engine_scope() as engine:
        try:
            side = read_side(
                engine,
                project.config.resolve(path),
                label=path,
                project=None,
                source=None,
                prefix="_hw_data",
                staging=staging,
            )
        except CompareError as exc:
            raise ConfigError(
                f"{option}: {exc}",
                hint=f"give an existing file, folder or glob as {option}",
                key=option,
                value=path,
            ) from exc
        lacking = [c for c in cols if c not in side.schema]
        if lacking:
            raise TrainError(
                f"{path!r} lacks column(s) {', '.join(map(repr, lacking))} "
                f"(it has {', '.join(side.schema)})",
                hint="give data with the model's features (and target, to score)",
            )
        t = side.table
        conversions = {}
        for c, want in kinds.items():
            have = side.schema.get(c)
            if have is None or have == want:
                continue
            if have == "string":
                conversions[c] = pl.typed_value(t[c], want)
            elif want in ("int", "float") and have in ("int", "float", "bool"):
                conversions[c] = t[c].cast(ds_mod.IBIS_TYPES[want])
        wants = {  # a model feature that must be a number, read as text
            c: kinds[c] if kinds.get(c) in ("int", "float") else "float"
            for c in numeric
            if side.schema.get(c) == "string"
        }
        if wants:
            _refuse_text_in_numbers(engine, t, wants, path, option)
            conversions.update({c: pl.typed_value(t[c], want) for c, want in wants.items()})
        if conversions:
            t = t.mutate(**conversions)
        t = t.order_by("_hw_order").select(*(side.schema if keep_all else cols))
        return engine.to_pyarrow(t).to_pandas()


def read_frame(
    project: Workspace,
    path: str,
    cols: list[str],
    *,
    keep_all: bool = False,
    numeric: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """Public form of the path reader (used by score and predict)."""
    return _read_path_frame(project, path, cols, keep_all=keep_all, numeric=numeric)


def resolve_estimator(path: str) -> type:
    """The class ``path`` names, if it is a scikit-learn estimator: a subclass of
    ``sklearn.base.BaseEstimator`` with ``fit``. Checked before anything is called, so a
    config naming ``subprocess.run`` or ``os.system`` runs nothing: a ConfigError."""
    from sklearn.base import BaseEstimator

    module_name, _, cls_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, cls_name)
    except (ImportError, AttributeError) as exc:
        raise TrainError(
            f"estimator {path!r} cannot be imported ({exc})",
            hint="give an import path such as 'sklearn.ensemble.RandomForestClassifier'",
        ) from exc
    if not isinstance(cls, type):
        what = f"a {type(cls).__name__}, not a class"
    elif not issubclass(cls, BaseEstimator):
        what = "a class that is not a scikit-learn estimator (no BaseEstimator subclass)"
    elif not callable(getattr(cls, "fit", None)):
        what = "an estimator class without fit()"
    else:
        return cls
    raise ConfigError(
        f"[model] estimator {path!r} is {what}; nothing was run",
        hint="name a scikit-learn estimator class, e.g. 'sklearn.ensemble.RandomForestClassifier'",
        key="model.estimator",
        value=path,
    )


def build_pipeline(spec: ModelConfig, frame: pd.DataFrame, features: list[str]) -> Any:
    """The estimator from its import path, inside a Pipeline with the preprocessing."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cls = resolve_estimator(spec.estimator)
    try:
        estimator = cls(**spec.params)
    except TypeError as exc:
        raise TrainError(
            f"estimator {spec.estimator!r} rejects params {spec.params!r}: {exc}",
            hint="fix [model] params in headwater.toml",
        ) from exc
    categorical = [
        f
        for f in features
        if frame[f].dtype == object or str(frame[f].dtype) in ("string", "str", "category")
    ]
    numeric = [f for f in features if f not in categorical]
    steps = []
    transformers = []
    num_steps: list[tuple[str, Any]] = []
    if spec.impute != "none":
        num_steps.append(("impute", SimpleImputer(strategy=spec.impute)))
    if spec.scale:
        num_steps.append(("scale", StandardScaler()))
    if numeric:
        transformers.append(
            ("numeric", Pipeline(num_steps) if num_steps else "passthrough", numeric)
        )
    if categorical:
        if spec.one_hot:
            cat: Any = OneHotEncoder(handle_unknown="ignore")
            if spec.impute != "none":
                cat = Pipeline(
                    [("impute", SimpleImputer(strategy="most_frequent")), ("onehot", cat)]
                )
            transformers.append(("categorical", cat, categorical))
        else:
            transformers.append(("categorical", "passthrough", categorical))
    steps.append(("prepare", ColumnTransformer(transformers, verbose_feature_names_out=False)))
    steps.append(("estimator", estimator))
    return Pipeline(steps)


def is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier as _is

    return bool(_is(model))


def default_metric(model: Any) -> str:
    return "f1" if is_classifier(model) else "rmse"


def score(model: Any, frame: pd.DataFrame, features: list[str], target: str, metric: str) -> float:
    """The model's ``metric`` on ``frame`` (rows with a missing target are left out)."""
    from sklearn import metrics as m

    data = frame[frame[target].notna()]
    if data.empty:
        raise TrainError("the test data has no rows with a target value", hint="check test_data")
    y = data[target]
    X = data[features]
    try:
        if metric == "roc_auc":
            if hasattr(model, "predict_proba"):
                proba = model.predict_proba(X)
                value = (
                    m.roc_auc_score(y, proba[:, 1])
                    if proba.shape[1] == 2
                    else m.roc_auc_score(y, proba, multi_class="ovr")
                )
            else:
                value = m.roc_auc_score(y, model.decision_function(X))
            return float(value)
        pred = model.predict(X)
    except ValueError as exc:
        raise TrainError(f"the model cannot score this data: {exc}", hint=_value_hint(exc)) from exc
    if metric in CLASSIFICATION:
        binary = len(set(y.tolist()) | set(pred.tolist())) <= 2
        avg = "binary" if binary else "macro"
        if metric == "accuracy":
            return float(m.accuracy_score(y, pred))
        fn = {"f1": m.f1_score, "precision": m.precision_score, "recall": m.recall_score}[metric]
        pos = sorted(set(y.tolist()))[-1] if binary else None
        kwargs: dict[str, Any] = {"average": avg, "zero_division": 0}
        if binary:
            kwargs["pos_label"] = pos
        return float(fn(y, pred, **kwargs))
    if metric == "rmse":
        return float(math.sqrt(m.mean_squared_error(y, pred)))
    if metric == "mae":
        return float(m.mean_absolute_error(y, pred))
    return float(m.r2_score(y, pred))


def _value_hint(exc: Exception) -> str:
    text = str(exc).lower()
    if "could not convert string to float" in text or "dtype" in text:
        return "a feature holds text: set [model] one_hot = true or drop it from features"
    if "nan" in text or "missing" in text:
        return 'features have missing values: set [model] impute = "median" (or another strategy)'
    return "check the features and the estimator's requirements"


@dataclass
class Fitted:
    model: Any
    metric: str
    score: float
    train_rows: int
    test_rows: int
    seconds: float
    classes: list[Any] | None


def fit(
    spec: ModelConfig,
    data: TrainingData,
    progress: Callable[[str, int, int, str], None] | None = None,
) -> Fitted:
    """Fit the pipeline on the training rows and score it on the test rows; ``progress``
    hears the stages ``fit`` and ``evaluate`` start and end."""
    t0 = time.monotonic()
    report = (lambda stage, done, total, detail: None) if progress is None else progress
    report("fit", 0, 1, spec.estimator)
    train = data.train[data.train[spec.target].notna()]
    if train.empty:
        raise TrainError(
            "there are no training rows (the dataset is empty or all targets are missing)",
            hint="ingest data with target values",
        )
    if data.test.empty:
        raise TrainError(
            f"the test data is empty ({data.test_source})",
            hint="give [model] test_data, or more rows, or a larger test_fraction",
        )
    model = build_pipeline(spec, train, data.features)
    classifier = is_classifier(model)
    if classifier and train[spec.target].nunique() < 2:
        only = train[spec.target].iloc[0]
        only = only.item() if hasattr(only, "item") else only  # a numpy scalar, shown plainly
        raise TrainError(
            f"target {spec.target!r} has a single class ({only!r}) in the "
            "training data: a classifier cannot learn from it",
            hint="ingest data with both outcomes, or check the target column",
        )
    metric = spec.metric or default_metric(model)
    if classifier != (metric in CLASSIFICATION):
        raise TrainError(
            f"metric {metric!r} does not suit estimator {spec.estimator!r} "
            f"({'a classifier' if classifier else 'a regressor'})",
            hint="use f1, accuracy, precision, recall or roc_auc for classifiers; "
            "rmse, mae or r2 for regressors",
        )
    try:
        model.fit(train[data.features], train[spec.target])
    except (ValueError, TypeError) as exc:
        text = [f for f in data.features if train[f].dtype.kind not in "iufb"]
        which = (
            f" (text feature(s): {', '.join(map(repr, text))}; one_hot is "
            f"{'on' if spec.one_hot else 'off'})"
            if text and "string" in str(exc)
            else ""
        )
        raise TrainError(
            f"fitting {spec.estimator} failed: {exc}{which}", hint=_value_hint(exc)
        ) from exc
    report("fit", 1, 1, spec.estimator)
    report("evaluate", 0, 1, f"{metric} on the test data")
    value = score(model, data.test, data.features, spec.target, metric)
    report("evaluate", 1, 1, f"{metric} on the test data")
    classes = [
        c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])
    ] or None
    return Fitted(
        model=model,
        metric=metric,
        score=value,
        train_rows=len(train),
        test_rows=int(data.test[spec.target].notna().sum()),
        seconds=round(time.monotonic() - t0, 3),
        classes=classes,
    )


PROFILE_TOP = 20  # categories counted in ``top`` (the first cards' field)
PROFILE_CATEGORIES = 50  # categories with their own share for PSI; the rest is "other"
PROFILE_BINS = 10  # PSI bins for numeric features: deciles of the training values
PROFILE_POINTS = 101  # quantile points p0..p100 for the KS statistic


def _numeric_reference(values: Any, rows: int) -> dict[str, Any]:
    """PSI bins (decile edges, share of all rows per bin) and the CDF at p0..p100.

    Bins are ``(-inf, e1], (e1, e2], …, (e_last, inf)`` over the inner decile edges (repeated
    edges merged, so a feature with few values has fewer bins); the missing share is the
    drift code's extra bin. ``cdf`` holds, for each distinct quantile point, the share of
    the non-missing values at or below it — exact even for discrete features.
    """
    import numpy as np

    inner = np.quantile(values, np.linspace(0, 1, PROFILE_BINS + 1)[1:-1])
    edges = np.unique(inner)
    below = np.searchsorted(np.sort(values), edges, side="right")
    counts = np.diff(np.concatenate([[0], below, [len(values)]]))
    points = np.unique(np.quantile(values, np.linspace(0, 1, PROFILE_POINTS)))
    at_or_below = np.searchsorted(np.sort(values), points, side="right") / len(values)
    return {
        "psi": {
            "edges": [float(e) for e in edges],
            "shares": [float(c) / rows for c in counts],
        },
        "cdf": {
            "points": [float(p) for p in points],
            "shares": [round(float(c), 6) for c in at_or_below],
        },
    }


def profile(frame: pd.DataFrame, features: list[str], target: str) -> dict[str, Any]:
    """A reference profile of the training data, for the drift checks (headwater.monitor).

    Every feature has ``missing_share`` and ``values`` (non-missing rows). Numeric features:
    ``mean``, ``std``, 7 ``quantiles``, a 10-bin equal-width ``histogram`` (the first
    cards' fields), and the drift references ``psi`` and ``cdf`` (see
    :func:`_numeric_reference`). Categorical: ``top`` (20 counts) and ``categories`` (the
    share of all rows of each of the 50 most frequent, ``other`` for the rest).
    """
    import numpy as np

    out: dict[str, Any] = {"rows": len(frame), "features": {}}
    for f in features:
        col = frame[f]
        entry: dict[str, Any] = {"missing_share": float(col.isna().mean()) if len(col) else 0.0}
        entry["values"] = int(col.notna().sum())
        if col.dtype.kind in "iufb":
            values = col.dropna().astype(float).to_numpy()
            if len(values):
                qs = np.quantile(values, [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1])
                counts, edges = np.histogram(values, bins=10)
                entry.update(
                    kind="numeric",
                    mean=float(values.mean()),
                    std=float(values.std()),
                    quantiles=dict(
                        zip(
                            ["min", "p05", "p25", "p50", "p75", "p95", "max"],
                            map(float, qs),
                            strict=True,
                        )
                    ),
                    histogram={
                        "edges": [float(e) for e in edges],
                        "counts": [int(c) for c in counts],
                    },
                    **_numeric_reference(values, len(frame)),
                )
        else:
            counted = col.astype("string").value_counts()
            top = counted.head(PROFILE_TOP)
            entry.update(kind="categorical", top={str(k): int(v) for k, v in top.items()})
            rows = max(len(frame), 1)
            kept = counted.head(PROFILE_CATEGORIES)
            entry["categories"] = {
                "shares": {str(k): float(v) / rows for k, v in kept.items()},
                "other": float(counted.iloc[PROFILE_CATEGORIES:].sum()) / rows,
            }
        out["features"][f] = entry
    t = frame[target].dropna()
    if t.dtype.kind not in "fc":  # labels: ints, bools, text (object or pandas' str dtype)
        out["target_balance"] = {str(k): int(v) for k, v in t.value_counts().items()}
    else:
        out["target_summary"] = {"mean": float(t.mean()), "std": float(t.std())} if len(t) else {}
    return out


def require_spec(project: Workspace) -> ModelConfig:
    """The ``[model]`` section, or a ConfigError saying how to add one."""
    if project.config.model is None:
        raise ConfigError(
            "headwater.toml has no [model] section",
            hint='add [model] with at least target = "<column>" (see `headwater init` template)',
            key="model",
        )
    return project.config.model


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries a model card records."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "headwater",
        "scikit-learn",
        "skops",
        "numpy",
        "pandas",
        "pyarrow",
        "duckdb",
        "ibis-framework",
        "sqlalchemy",
        "matplotlib",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
