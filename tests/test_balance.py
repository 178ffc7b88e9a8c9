"""Balance table: numbers against hand computation, conventions per estimand, input checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import causal_core as cc
from causal_core.diagnostics.balance import weighted_ks, weighted_variance

# treated x = 1,2,3,4 (mean 2.5, var 5/3); control x = 2,4,6,8 (mean 5, var 20/3)
# treated b = 1,1,0,0 (p 0.5); control b = 1,0,0,0 (p 0.25)
TINY = pd.DataFrame({
    "t": [1, 1, 1, 1, 0, 0, 0, 0],
    "x": [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.0],
    "b": [1, 1, 0, 0, 1, 0, 0, 0],
    "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
})
TINY_ROLES = cc.Roles(treatment="t", outcome="y", confounders=["x", "b"])
# control weights 3,1,0,0 make the weighted control mean of x 2.5 and of b 0.75
TINY_WEIGHTS = np.array([1, 1, 1, 1, 3, 1, 0, 0], dtype=float)


@pytest.mark.parametrize(
    "estimand, smd_x",
    [
        ("ATE", -2.5 / np.sqrt((5 / 3 + 20 / 3) / 2)),  # pooled SD
        ("ATT", -2.5 / np.sqrt(5 / 3)),  # treated SD
        ("ATC", -2.5 / np.sqrt(20 / 3)),  # control SD
    ],
)
def test_smd_denominator_follows_estimand(estimand, smd_x):
    table = cc.balance_table(TINY, TINY_ROLES, estimand=estimand)
    assert table.loc["x", "smd_before"] == pytest.approx(smd_x, rel=1e-12)
    assert table.loc["b", "smd_before"] == pytest.approx(0.25, rel=1e-12)  # raw difference in proportions


@pytest.mark.parametrize(
    "estimand, smd_b",
    [
        ("ATE", 0.25 / np.sqrt((0.25 + 0.1875) / 2)),
        ("ATT", 0.25 / np.sqrt(0.25)),
        ("ATC", 0.25 / np.sqrt(0.1875)),
    ],
)
def test_binary_std_uses_p_one_minus_p(estimand, smd_b):
    table = cc.balance_table(TINY, TINY_ROLES, estimand=estimand, binary="std")
    assert table.loc["b", "smd_before"] == pytest.approx(smd_b, rel=1e-12)


def test_tiny_table_before_by_hand():
    table = cc.balance_table(TINY, TINY_ROLES)
    assert list(table.index) == ["x", "b"]
    assert table.loc["x", "type"] == "continuous" and table.loc["b", "type"] == "binary"
    assert table.loc["x", "mean_treated_before"] == pytest.approx(2.5)
    assert table.loc["x", "mean_control_before"] == pytest.approx(5.0)
    assert table.loc["x", "var_ratio_before"] == pytest.approx(0.25)
    assert table.loc["x", "ks_before"] == pytest.approx(0.5)
    assert table.loc["b", "ks_before"] == pytest.approx(0.25)
    assert np.isnan(table.loc["b", "var_ratio_before"])


def test_tiny_table_after_weights_by_hand():
    table = cc.balance_table(TINY, TINY_ROLES, TINY_WEIGHTS, estimand="ATT", threshold=0.1)
    assert table.loc["x", "mean_control_after"] == pytest.approx(2.5)
    assert table.loc["x", "smd_after"] == pytest.approx(0.0, abs=1e-12)
    # weighted control variance: sum w / (sum w^2 - sum w^2) * sum w (x - m)^2 = 4 / 6 * 3 = 2
    assert table.loc["x", "var_ratio_after"] == pytest.approx((5 / 3) / 2.0)
    assert table.loc["x", "ks_after"] == pytest.approx(0.25)
    assert table.loc["b", "smd_after"] == pytest.approx(0.5 - 0.75)
    assert bool(table.loc["x", "balanced"]) and not bool(table.loc["b", "balanced"])
    assert bool(table.loc["x", "var_ratio_ok"])
    ess = table.attrs["ess"]
    assert ess["treated"] == {"before": 4.0, "after": pytest.approx(4.0)}
    assert ess["control"]["before"] == 4.0
    assert ess["control"]["after"] == pytest.approx(16 / 10)


@pytest.mark.parametrize(
    "weights, expected",
    [([1, 1, 1, 1], 4.0), ([3, 1, 0, 0], 1.6), ([2, 2], 2.0), ([5], 1.0), ([0, 0], 0.0)],
)
def test_effective_sample_size_is_kish(weights, expected):
    assert cc.effective_sample_size(weights) == pytest.approx(expected)


def test_weighted_helpers_match_numpy_for_equal_weights():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=50), rng.normal(size=70)
    assert weighted_variance(x, np.ones(50)) == pytest.approx(np.var(x, ddof=1))
    from scipy.stats import ks_2samp

    assert weighted_ks(x, np.ones(50), z, np.ones(70)) == pytest.approx(ks_2samp(x, z).statistic)


def test_no_weights_gives_identical_before_and_after():
    from causal_core.datasets.simulate import linear_confounded

    df, _ = linear_confounded(n=300, seed=3)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
    table = cc.balance_table(df, roles)
    for stat in ("mean_treated", "mean_control", "smd", "var_ratio", "ks"):
        pd.testing.assert_series_equal(table[f"{stat}_before"], table[f"{stat}_after"], check_names=False)
    assert list(table.index) == ["x1", "x2", "x3", "x4", "region=north", "region=south", "region=west"]  # every level
    assert table.loc["region=west", "type"] == "binary"


def test_ipw_weights_improve_balance_on_simulated_data():
    from causal_core.datasets.simulate import linear_confounded

    df, _ = linear_confounded(n=2000, seed=0)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x4"])
    X = sm.add_constant(df[["x1", "x2", "x4"]].to_numpy(dtype=float))
    p = sm.Logit(df["treat"].to_numpy(), X).fit(disp=0).predict(X)
    t = df["treat"].to_numpy()
    weights = np.where(t == 1, 1 / p, 1 / (1 - p))
    table = cc.balance_table(df, roles, weights)
    assert table["smd_before"].abs().max() > 0.2
    assert table["smd_after"].abs().max() < 0.05
    assert table.attrs["ess"]["treated"]["after"] < table.attrs["ess"]["treated"]["before"]


def test_series_weights_align_on_index_and_rows_are_dropped_like_prepare():
    df = TINY.copy()
    df.index = [10, 11, 12, 13, 14, 15, 16, 17]
    df.loc[17, "x"] = np.nan  # prepare drops this control row
    weights = pd.Series(TINY_WEIGHTS, index=df.index)[::-1]  # shuffled order, still aligned by label
    from_series = cc.balance_table(df, TINY_ROLES, weights)
    from_array = cc.balance_table(df, TINY_ROLES, TINY_WEIGHTS[:7])
    pd.testing.assert_frame_equal(from_series, from_array)
    assert from_array.attrs["ess"]["control"]["before"] == 3.0


def test_input_is_not_modified():
    before = TINY.copy()
    cc.balance_table(TINY, TINY_ROLES, TINY_WEIGHTS)
    pd.testing.assert_frame_equal(TINY, before)


@pytest.mark.parametrize(
    "weights, match",
    [
        (np.ones(5), "Weights have 5 values but 8 rows are used"),
        (np.r_[-1.0, np.ones(7)], "non-negative"),
        (np.r_[np.nan, np.ones(7)], "finite"),
        (np.r_[np.ones(4), np.zeros(4)], "control arm is zero"),
        (np.r_[np.zeros(4), np.ones(4)], "treated arm is zero"),
        (pd.Series(np.ones(4)), "no value for 4 used row"),
    ],
)
def test_bad_weights_raise(weights, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.balance_table(TINY, TINY_ROLES, weights)


@pytest.mark.parametrize(
    "kwargs, roles, match",
    [
        ({"estimand": "LATE"}, TINY_ROLES, "estimand must be one of"),
        ({"binary": "pooled"}, TINY_ROLES, "Option 'binary'"),
        ({"threshold": -1}, TINY_ROLES, "Option 'threshold'"),
        ({}, cc.Roles(treatment="t", outcome="y"), "'confounders' role"),
        ({}, cc.Roles(treatment="t", outcome="y", confounders=["age"]), "Column 'age'"),
        ({}, cc.Roles(treatment="x", outcome="y", confounders=["b"]), "Treatment column 'x'"),
    ],
)
def test_bad_options_and_roles_raise(kwargs, roles, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.balance_table(TINY, roles, **kwargs)
