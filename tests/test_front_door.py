"""Front-door adjustment: exact formula, product of coefficients, recovery under hidden confounding, refusals.

No CI-coverage test here: each fit runs a bootstrap, so 200 replications cost
minutes; ``bench/hidden_confounding.py`` reports coverage instead.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

import causal_core as cc
from causal_core.estimators.frontdoor.front_door import front_door_discrete
from designs_hidden import FRONT_DOOR_ROLES, front_door_data

METHOD = "front_door"


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    with threadpool_limits(1):
        yield


def _roles(with_covariate: bool) -> cc.Roles:
    return cc.Roles(treatment="treat", outcome="y", mechanisms=["m"], confounders=["x1"] if with_covariate else [])


def _backdoor_ols(df: pd.DataFrame, covariates: list[str]) -> float:
    design = sm.add_constant(df[["treat", *covariates]].astype(float))
    return float(sm.OLS(df["y"], design).fit().params["treat"])


@pytest.mark.parametrize(
    ("kind", "with_covariate", "n"),
    [("discrete", False, 2000), ("discrete", True, 2000), ("linear", False, 2000), ("linear", True, 2000),
     ("nonparametric", False, 1000), ("nonparametric", True, 1000)],
    ids=["discrete", "discrete+covariate", "linear", "linear+covariate", "nonparametric", "nonparametric+covariate"],
)
def test_recovers_effect_where_naive_and_backdoor_fail(kind, with_covariate, n):
    df, truth = front_door_data(n=n, seed=31, kind=kind, with_covariate=with_covariate)
    result = cc.estimate(df, _roles(with_covariate), METHOD, mechanism_type=kind, n_boot=40, seed=1)
    assert result.diagnostics["mechanism_type"] == kind
    assert abs(result.estimate - truth) < 4 * result.std_error
    assert result.ci_low < result.estimate < result.ci_high
    naive = result.diagnostics["naive_difference"]
    backdoor = _backdoor_ols(df, ["x1"] if with_covariate else [])
    for wrong in (naive, backdoor):
        assert abs(wrong - truth) > 8 * result.std_error


def test_discrete_formula_by_hand():
    """sum_m [P(m|1) - P(m|0)] sum_t' E[y|m,t'] P(t') on a small table, computed cell by cell."""
    t = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], float)
    m = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 0], float)
    y = np.array([1, 2, 3, 5, 2, 7, 8, 6, 9, 4], float)
    p1 = 0.6
    mu = {(0, 0): 2.0, (1, 0): 5.0, (0, 1): 3.0, (1, 1): 7.5}
    h = {k: p1 * mu[(k, 1)] + (1 - p1) * mu[(k, 0)] for k in (0, 1)}
    p_m_given = {1: {0: 2 / 6, 1: 4 / 6}, 0: {0: 3 / 4, 1: 1 / 4}}
    expected = sum((p_m_given[1][k] - p_m_given[0][k]) * h[k] for k in (0, 1))
    assert front_door_discrete(y, t, m.astype(int)) == pytest.approx(expected)
    # the engine needs 10 rows per arm (front_door's declared limit): five copies of the table keep every
    # proportion and cell mean, so the formula's value is unchanged
    df = pd.DataFrame({"treat": np.tile(t, 5).astype(int), "m": np.tile(m, 5), "y": np.tile(y, 5)})
    result = cc.estimate(df, FRONT_DOOR_ROLES, METHOD, n_boot=20)
    assert result.estimate == pytest.approx(expected)


def test_linear_is_product_of_coefficients():
    df, _ = front_door_data(n=1500, seed=4, kind="linear", with_covariate=True)
    a = sm.OLS(df["m"], sm.add_constant(df[["treat", "x1"]].astype(float))).fit().params["treat"]
    b = sm.OLS(df["y"], sm.add_constant(df[["m", "treat", "x1"]].astype(float))).fit().params["m"]
    result = cc.estimate(df, _roles(True), METHOD, mechanism_type="linear", n_boot=20)
    assert result.estimate == pytest.approx(a * b, rel=1e-10)


def test_auto_picks_discrete_for_few_levels_and_linear_otherwise():
    discrete, _ = front_door_data(n=600, seed=2, kind="discrete")
    linear, _ = front_door_data(n=600, seed=2, kind="linear")
    assert cc.estimate(discrete, FRONT_DOOR_ROLES, METHOD, n_boot=20).diagnostics["mechanism_type"] == "discrete"
    assert cc.estimate(linear, FRONT_DOOR_ROLES, METHOD, n_boot=20).diagnostics["mechanism_type"] == "linear"


def test_bootstrap_is_seeded():
    df, _ = front_door_data(n=600, seed=2, kind="discrete")
    first = cc.estimate(df, FRONT_DOOR_ROLES, METHOD, n_boot=30, seed=5)
    again = cc.estimate(df, FRONT_DOOR_ROLES, METHOD, n_boot=30, seed=5)
    other = cc.estimate(df, FRONT_DOOR_ROLES, METHOD, n_boot=30, seed=6)
    assert (first.std_error, first.ci_low, first.ci_high) == (again.std_error, again.ci_low, again.ci_high)
    assert first.estimate == other.estimate and first.std_error != other.std_error


def _frame(**changes) -> pd.DataFrame:
    df, _ = front_door_data(n=300, seed=1, kind="discrete")
    return df.assign(**changes)


def _mechanism_unmoved_by_treatment() -> pd.DataFrame:
    """The same mechanism values in both arms, so the arm means are identical."""
    t = np.tile([0, 1], 100)
    m = np.repeat(np.arange(100) % 5, 2).astype(float)
    return pd.DataFrame({"treat": t, "m": m, "y": m + np.arange(200) % 3})


@pytest.mark.parametrize(
    ("frame", "roles", "options", "match"),
    [
        (_frame, cc.Roles(treatment="treat", outcome="y"), {}, "needs at least one column in the 'mechanisms' role"),
        (lambda: _frame(m=1.0), FRONT_DOOR_ROLES, {}, "Mechanism column 'm' is constant"),
        (_mechanism_unmoved_by_treatment, FRONT_DOOR_ROLES, {}, "Mechanism column 'm' does not vary with treatment 'treat'"),
        (lambda: _frame(m=lambda d: d["treat"] * 2.0), FRONT_DOOR_ROLES, {}, "is a function of the treatment"),
        (lambda: _frame(m=lambda d: np.where((d["treat"] == 1) & (np.arange(len(d)) % 3 == 0), 2.0, d["m"])), FRONT_DOOR_ROLES,
         {"mechanism_type": "discrete"}, r"Mechanism level \(m=2\) never occurs with treatment 'treat' = 0"),
        (_frame, FRONT_DOOR_ROLES, {"mechanism_type": "spline"}, "'mechanism_type' option of method 'front_door' must be one of"),
        (_frame, FRONT_DOOR_ROLES, {"n_boot": 5}, "'n_boot' option of method 'front_door' must be an integer from 20 to 5000"),
        (_frame, FRONT_DOOR_ROLES, {"mechanism_type": "nonparametric", "mechanism_model": "forest"},
         "'mechanism_model' option of method 'front_door' must be one of 'default', 'random_forest', 'gradient_boosting' or a scikit-learn regressor"),
    ],
    ids=["no-mechanism", "constant-mechanism", "mechanism-unmoved-by-treatment", "mechanism-equals-treatment",
         "level-missing-from-an-arm", "bad-mechanism-type", "too-few-bootstraps", "bad-model"],
)
def test_refusals(frame, roles, options, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(frame(), roles, METHOD, **options)


def test_propensity_refusal_inside_the_plug_in_names_the_covariate():
    """A bootstrap resample can separate the arms; the refusal then names the column, not 'x0'."""
    from sklearn.linear_model import LinearRegression

    from causal_core.estimators.frontdoor.front_door import front_door_regression

    t = np.tile([0.0, 1.0], 50)
    X = np.column_stack([t * 3.0 + np.linspace(0, 1, 100)])  # separates the arms
    with pytest.raises(cc.CausalInputError, match="Covariate 'age' perfectly separates"):
        front_door_regression(np.ones(100), t, np.ones((100, 1)), X, LinearRegression(), ("age",))
