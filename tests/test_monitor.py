"""The drift checks (headwater.monitor): PSI and KS per feature on a real DuckDB engine,
and the model-drift tests on fixed score histories."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from headwater.config import EngineConfig, MonitorConfig
from headwater.engines import connect
from headwater.monitor import EPSILON, data_drift, ks_critical_value, model_drift, psi
from headwater.train import profile

_names = iter(range(10_000))


@pytest.fixture
def engine(tmp_path):
    e = connect(EngineConfig(), tmp_path)
    yield e
    e.close()


def table_of(engine, frame: pd.DataFrame):
    """``frame`` as a table in the engine (the way other tests register data)."""
    name = f"t{next(_names)}"
    engine.raw.register(name + "_src", pa.Table.from_pandas(frame, preserve_index=False))
    engine.raw.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_src")
    return engine.con.table(name)


def by(results, feature, method):
    (found,) = [r for r in results if r.feature == feature and r.method == method]
    return found


def normal(seed: int, n: int, loc: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, 1.0, n)


# --- PSI -----------------------------------------------------------------------------------


def test_psi_matches_a_numpy_computation_on_known_bins(engine):
    train = pd.DataFrame({"x": np.arange(1, 101, dtype=float)})  # deciles 10.9, 20.8, …
    prof = profile(train, ["x"], "x")
    edges = prof["features"]["x"]["psi"]["edges"]
    assert len(edges) == 9
    # new rows: 40 below the first edge, 10 in each of bins 2-5, 20 above the last edge,
    # 4 missing, and none in bins 6-9 (empty bins count as EPSILON)
    new_vals = [1.0] * 40 + [15.0] * 10 + [25.0] * 10 + [35.0] * 10 + [45.0] * 10
    new_vals += [200.0] * 20 + [None] * 4
    new = pd.DataFrame({"x": new_vals})
    got = by(data_drift(engine, table_of(engine, new), prof, ["x"], MonitorConfig()), "x", "psi")
    n = len(new_vals)
    new_shares = np.array([40, 10, 10, 10, 10, 0, 0, 0, 0, 20, 4]) / n
    ref_shares = np.array([10] * 10 + [0]) / 100
    a, b = np.maximum(new_shares, EPSILON), np.maximum(ref_shares, EPSILON)
    expected = float(np.sum((a - b) * np.log(a / b)))
    assert got.statistic == pytest.approx(expected, rel=1e-9)
    assert got.detected and got.rows == n and got.reference_rows == 100
    assert got.reference == "deciles"


def test_psi_is_near_zero_for_the_same_distribution_and_high_for_a_shift(engine):
    prof = profile(pd.DataFrame({"x": normal(1, 5000)}), ["x"], "x")
    same = table_of(engine, pd.DataFrame({"x": normal(2, 3000)}))
    shifted = table_of(engine, pd.DataFrame({"x": normal(3, 3000, loc=1.0)}))
    cfg = MonitorConfig()
    s = by(data_drift(engine, same, prof, ["x"], cfg), "x", "psi")
    d = by(data_drift(engine, shifted, prof, ["x"], cfg), "x", "psi")
    assert s.statistic < 0.02 and not s.detected
    assert d.statistic > 0.2 and d.detected and d.threshold == 0.2


def test_categorical_psi_counts_a_new_category_as_other(engine):
    train = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    prof = profile(train, ["c"], "c")
    assert prof["features"]["c"]["categories"]["shares"] == {"a": 0.5, "b": 0.3, "c": 0.2}
    new = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 30 + ["z"] * 20 + [None] * 10})
    got = by(data_drift(engine, table_of(engine, new), prof, ["c"], MonitorConfig()), "c", "psi")
    a = np.maximum(np.array([0.4, 0.3, 0.0, 0.2, 0.1]), EPSILON)  # a b c other missing
    b = np.maximum(np.array([0.5, 0.3, 0.2, 0.0, 0.0]), EPSILON)
    assert got.statistic == pytest.approx(float(np.sum((a - b) * np.log(a / b))))
    assert got.detected
    same = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2})
    ok = by(data_drift(engine, table_of(engine, same), prof, ["c"], MonitorConfig()), "c", "psi")
    assert ok.statistic == pytest.approx(0.0, abs=1e-12) and not ok.detected


# --- KS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("loc", [0.0, 0.15, 0.5])
def test_ks_statistic_is_close_to_scipy(engine, loc):
    from scipy.stats import ks_2samp

    ref_values, new_values = normal(10, 4000), normal(11, 3000, loc=loc)
    prof = profile(pd.DataFrame({"x": ref_values}), ["x"], "x")
    got = by(
        data_drift(
            engine, table_of(engine, pd.DataFrame({"x": new_values})), prof, ["x"], MonitorConfig()
        ),
        "x",
        "ks",
    )
    exact = ks_2samp(new_values, ref_values).statistic
    # the reference holds F at 101 points, 1/100 apart: between two points the exact
    # statistic can exceed ours by at most the reference's step there (0.01 + 1/m, m =
    # 4,000), never fall below it (up to the 6 decimals the reference shares are kept to)
    assert exact - 0.011 <= got.statistic <= exact + 1e-6
    assert got.rows == 3000 and got.reference_rows == 4000


def test_ks_threshold_is_the_two_sample_critical_value():
    c = math.sqrt(-math.log(0.05 / 2) / 2)
    assert c == pytest.approx(1.3581, abs=1e-4)
    assert ks_critical_value(0.05, 300, 1200) == pytest.approx(c * math.sqrt(1500 / 360000))
    assert ks_critical_value(0.01, 100, 100) > ks_critical_value(0.05, 100, 100)


def test_ks_threshold_override(engine):
    prof = profile(pd.DataFrame({"x": normal(1, 2000)}), ["x"], "x")
    t = table_of(engine, pd.DataFrame({"x": normal(2, 500)}))
    got = by(data_drift(engine, t, prof, ["x"], MonitorConfig(ks_threshold=0.001)), "x", "ks")
    assert got.threshold == 0.001 and got.detected


def grid(n: int, loc: float = 0.0) -> np.ndarray:
    """``n`` values spread exactly like N(loc, 1): its quantiles at (i + 0.5) / n."""
    from scipy.stats import norm

    return norm.ppf((np.arange(n) + 0.5) / n, loc=loc)


@pytest.mark.parametrize("n", [200, 2000, 20000])
def test_ks_verdict_does_not_flip_with_batch_size(engine, n):
    # the threshold shrinks with n, but towards c(α)/sqrt(m) (m = 5,000 reference values,
    # 0.0192), not towards 0: a shift of 0.02 (KS ~0.008) is no drift at every batch size,
    # a shift of 0.5 (KS ~0.197) is drift at every size
    prof = profile(pd.DataFrame({"x": grid(5000)}), ["x"], "x")
    cfg = MonitorConfig()

    def ks(loc: float):
        t = table_of(engine, pd.DataFrame({"x": grid(n, loc)}))
        return by(data_drift(engine, t, prof, ["x"], cfg), "x", "ks")

    same, tiny, shifted = ks(0.0), ks(0.02), ks(0.5)
    assert same.threshold == pytest.approx(ks_critical_value(0.05, n, 5000))
    assert not same.detected and not tiny.detected
    assert shifted.detected
    assert shifted.statistic == pytest.approx(0.197, abs=0.012)


# --- older cards, odd inputs, width --------------------------------------------------------


def old_card(frame: pd.DataFrame, features: list[str]) -> dict:
    """A profile as the first cards wrote it: 7 quantiles, a 10-bin histogram, top 20."""
    prof = profile(frame, features, features[0])
    for entry in prof["features"].values():
        for key in ("psi", "cdf", "categories", "values"):
            entry.pop(key, None)
    return prof


def test_an_old_card_still_works_coarser(engine):
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"x": normal(30, 3000), "c": rng.choice(["u", "v"], 3000)})
    prof = old_card(train, ["x", "c"])
    same = pd.DataFrame({"x": normal(31, 1000), "c": rng.choice(["u", "v"], 1000)})
    moved = pd.DataFrame({"x": normal(32, 1000, 1.0), "c": ["w"] * 1000})
    cfg = MonitorConfig()
    s = data_drift(engine, table_of(engine, same), prof, ["x", "c"], cfg)
    m = data_drift(engine, table_of(engine, moved), prof, ["x", "c"], cfg)
    assert by(s, "x", "psi").reference.startswith("histogram")
    assert by(s, "x", "ks").reference.startswith("7 quantiles")
    assert by(s, "c", "psi").reference.startswith("top 2")
    assert not any(r.detected for r in s), [r.to_dict() for r in s]
    assert all(r.detected for r in m), [r.to_dict() for r in m]


def test_features_that_cannot_be_checked_say_why(engine):
    prof = profile(pd.DataFrame({"x": normal(1, 100), "y": normal(2, 100)}), ["x", "y"], "x")
    new = pd.DataFrame({"x": pd.Series([None, None], dtype="float64")})
    res = data_drift(engine, table_of(engine, new), prof, ["x", "y"], MonitorConfig())
    assert by(res, "y", "psi").reason == "absent in the new rows"
    assert by(res, "x", "ks").reason == "all values missing in the new rows"
    assert by(res, "x", "psi").detected  # all missing against none in training
    assert not any(r.detected for r in res if r.reason)


def test_a_thousand_numeric_features_in_one_query(engine):
    rng = np.random.default_rng(7)
    width = 1000
    train = pd.DataFrame(rng.normal(size=(300, width)), columns=[f"f{i}" for i in range(width)])
    prof = profile(train, list(train.columns), "f0")
    new = train.copy()  # the training rows themselves: no drift but in f999
    new["f999"] = new["f999"] + 5
    res = data_drift(engine, table_of(engine, new), prof, list(train.columns), MonitorConfig())
    assert len(res) == 2 * width
    assert {r.feature for r in res if r.detected} == {"f999"}


# --- model drift ---------------------------------------------------------------------------

HISTORY = [0.80, 0.82, 0.81, 0.79, 0.83, 0.80]  # mean 0.8083, stdev 0.0147; Q1 0.8, Q3 0.8175


def test_raw_test_compares_with_the_recorded_score():
    cfg = MonitorConfig()
    assert model_drift(0.70, 0.75, [], "f1", cfg, rows=100).verdict == "drift"
    ok = model_drift(0.76, 0.75, [], "f1", cfg, rows=100)
    assert ok.verdict == "no_drift" and ok.baseline == 0.75 and ok.test == "raw"
    # rmse: higher is worse
    assert model_drift(2.1, 2.0, [], "rmse", cfg, rows=100).detected
    assert not model_drift(1.9, 2.0, [], "rmse", cfg, rows=100).detected


def test_parametric_test_uses_mean_minus_two_std():
    cfg = MonitorConfig(drift_test="parametric")
    mean, std = float(np.mean(HISTORY)), float(np.std(HISTORY, ddof=1))
    low = model_drift(0.78, 0.9, HISTORY, "f1", cfg, rows=100)
    assert low.baseline == pytest.approx(mean - 2 * std)
    assert low.verdict == "no_drift"  # 0.78 > 0.7789, though far below the raw 0.9
    assert model_drift(0.77, 0.9, HISTORY, "f1", cfg, rows=100).detected
    errors = [1.0, 1.1, 0.9, 1.05, 0.95]
    high = model_drift(1.2, 0.5, errors, "mae", cfg, rows=100)
    assert high.baseline == pytest.approx(np.mean(errors) + 2 * np.std(errors, ddof=1))
    assert high.detected and high.test == "parametric" and high.requested is None


def test_nonparametric_test_uses_the_iqr_fence():
    cfg = MonitorConfig(drift_test="nonparametric")
    q1, q3 = np.quantile(HISTORY, [0.25, 0.75])
    res = model_drift(0.775, 0.9, HISTORY, "accuracy", cfg, rows=100)
    assert res.baseline == pytest.approx(q1 - 1.5 * (q3 - q1))
    assert not res.detected
    assert model_drift(0.77, 0.9, HISTORY, "accuracy", cfg, rows=100).detected
    errors = [1.0, 1.1, 0.9, 1.05, 0.95]
    e1, e3 = np.quantile(errors, [0.25, 0.75])
    high = model_drift(1.3, 9.0, errors, "rmse", cfg, rows=100)
    assert high.baseline == pytest.approx(e3 + 1.5 * (e3 - e1)) and high.detected


def test_short_history_falls_back_to_raw_and_says_so():
    cfg = MonitorConfig(drift_test="parametric", history_min=5)
    res = model_drift(0.70, 0.75, [0.8, 0.81, 0.79], "f1", cfg, rows=100)
    assert res.test == "raw" and res.requested == "parametric"
    assert res.baseline == 0.75 and res.detected
    assert "fell back to raw" in res.reason and "has 3" in res.reason
    assert res.to_dict()["requested"] == "parametric"


def test_insufficient_data_is_recorded_without_a_verdict():
    cfg = MonitorConfig(min_rows=10)
    few = model_drift(0.1, 0.75, [], "f1", cfg, rows=5)
    assert few.verdict == "insufficient_data" and not few.detected
    assert "min_rows = 10" in few.reason
    undefined = model_drift(None, 0.75, [], "roc_auc", MonitorConfig(), rows=50)
    assert undefined.verdict == "insufficient_data" and "undefined" in undefined.reason
    warned = model_drift(0.9, 0.75, [], "f1", MonitorConfig(), rows=12)
    assert warned.verdict == "no_drift" and "12 new row" in (warned.warning or "")
    assert model_drift(0.9, 0.75, [], "f1", MonitorConfig(), rows=30).warning is None


def test_monitor_config_defaults_and_errors(tmp_path):
    from headwater.config import config_from_dict
    from headwater.errors import ConfigError

    cfg = config_from_dict({}, root=tmp_path).monitor
    assert (cfg.drift_test, cfg.history_min, cfg.min_rows) == ("raw", 5, 1)
    assert (cfg.psi_threshold, cfg.ks_alpha, cfg.ks_threshold) == (0.2, 0.05, None)
    assert cfg.retrain_on_data_drift is False
    with pytest.raises(ConfigError, match=r"monitor\.drift_test"):
        config_from_dict({"monitor": {"drift_test": "bayes"}}, root=tmp_path)
    with pytest.raises(ConfigError, match="did you mean 'psi_threshold'"):
        config_from_dict({"monitor": {"psi_treshold": 0.1}}, root=tmp_path)
    env = {"HEADWATER_MONITOR__MIN_ROWS": "50"}
    assert config_from_dict({}, root=tmp_path, env=env).monitor.min_rows == 50


def test_psi_helper_treats_empty_bins_as_epsilon():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([1.0, 0.0], [0.5, 0.5]) == pytest.approx(
        0.5 * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    )


def test_discrete_and_boolean_features_are_not_flagged_for_their_ties(engine):
    # 70% zeros: the quantile points repeat; the reference keeps the share at or below each
    # distinct point, so the same mix is no drift (comparing with p0..p100 would say 0.7)
    rng = np.random.default_rng(9)
    train = pd.DataFrame({"z": rng.choice([0, 1], 2000, p=[0.7, 0.3]), "b": rng.random(2000) < 0.4})
    prof = profile(train, ["z", "b"], "z")
    new = pd.DataFrame({"z": [0] * 70 + [1] * 30, "b": [True] * 40 + [False] * 60})
    res = data_drift(engine, table_of(engine, new), prof, ["z", "b"], MonitorConfig())
    assert not any(r.detected for r in res), [r.to_dict() for r in res]
    assert by(res, "z", "ks").statistic < 0.05
    flipped = pd.DataFrame({"z": [0] * 30 + [1] * 70, "b": [True] * 90 + [False] * 10})
    res = data_drift(engine, table_of(engine, flipped), prof, ["z", "b"], MonitorConfig())
    assert all(r.detected for r in res)


def test_an_empty_batch_is_recorded_not_judged(engine):
    prof = profile(pd.DataFrame({"x": normal(1, 100), "c": ["a", "b"] * 50}), ["x", "c"], "x")
    empty = pd.DataFrame({"x": pd.Series([], dtype="float64"), "c": pd.Series([], dtype=object)})
    res = data_drift(engine, table_of(engine, empty), prof, ["x", "c"], MonitorConfig())
    assert [r.reason for r in res] == ["no new rows"] * 3
    assert not any(r.detected for r in res)


def test_nan_counts_as_missing_like_in_training(engine):
    prof = profile(pd.DataFrame({"x": np.arange(100.0)}), ["x"], "x")
    new = pd.DataFrame({"x": [*np.arange(0.0, 100.0, 2.0), *[float("nan")] * 50]})
    t = table_of(engine, new)
    engine.raw.execute(f"UPDATE {t.get_name()} SET x = 'NaN'::DOUBLE WHERE x IS NULL")
    res = data_drift(engine, t, prof, ["x"], MonitorConfig())
    ks = by(res, "x", "ks")
    assert ks.rows == 50 and not ks.detected  # the 50 numbers spread like training
    assert by(res, "x", "psi").detected  # half missing against none in training
