"""D2VD: recovers planted variable roles and the effect, and reduces variance against plain IPW."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from threadpoolctl import threadpool_limits

import causal_core as cc
from causal_core.core.data import prepare
from causal_core.estimators.weighting.d2vd import variable_roles
from causal_core.inference import resolve_inference

PLANTED = {"c1": "confounder", "c2": "confounder", "a1": "adjustment", "a2": "adjustment",
           "i1": "irrelevant", "i2": "irrelevant"}
PLANTED_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=list(PLANTED))


def _planted_sample(n: int, seed: int) -> pd.DataFrame:
    """c1, c2 drive treatment and outcome; a1, a2 only the outcome; i1, i2 nothing. Effect 1."""
    rng = np.random.default_rng(seed)
    c1, c2, a1, a2, i1, i2 = rng.normal(size=(6, n))
    t = rng.binomial(1, expit(0.7 * c1 - 0.7 * c2))
    y = 1 + 1.0 * t + c1 + c2 + 2.0 * a1 - 1.5 * a2 + rng.normal(size=n)
    return pd.DataFrame({"c1": c1, "c2": c2, "a1": a1, "a2": a2, "i1": i1, "i2": i2, "treat": t, "y": y})


@pytest.fixture(scope="module")
def planted():
    return _planted_sample(1500, 11)


def test_recovers_planted_roles(planted):
    result = cc.estimate(planted, PLANTED_ROLES, "d2vd", seed=0)
    assert result.diagnostics["variable_roles"] == PLANTED
    assert set(result.diagnostics["adjustment_coefficients"]) == {"a1", "a2"}
    np.testing.assert_allclose(list(result.diagnostics["adjustment_coefficients"].values()), [2.0, -1.5], atol=0.15)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_recovers_planted_effect_with_less_variance_than_ipw(planted, estimand):
    result = cc.estimate(planted, PLANTED_ROLES, "d2vd", estimand=estimand)
    plain = cc.estimate(planted, PLANTED_ROLES, "ipw", estimand=estimand)
    assert abs(result.estimate - 1.0) < 4 * result.std_error
    assert result.std_error < plain.std_error  # regressing out a1, a2 removes outcome noise
    assert result.weights.shape == (len(planted),)
    assert result.diagnostics["propensity"].shape == (len(planted),)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_recovers_linear_design(linear_design, estimand):
    df, truth = linear_design
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
    result = cc.estimate(df, roles, "d2vd", estimand=estimand)
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error
    assert result.diagnostics["variable_roles"]["x3"] == "adjustment"  # x3 enters the outcome only


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_recovers_heterogeneous_design(heterogeneous_design, estimand):
    df, truth = heterogeneous_design
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
    result = cc.estimate(df, roles, "d2vd", estimand=estimand)
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error
    assert result.diagnostics["variable_roles"] == {"x1": "confounder", "x2": "confounder", "x3": "adjustment"}


def test_no_covariate_associated_with_treatment_warns():
    """Covariates centred within each arm carry no information on treatment, so none is a confounder."""
    rng = np.random.default_rng(3)
    df = _planted_sample(800, 4)
    df["treat"] = np.arange(len(df)) % 2
    for column in PLANTED:
        df[column] -= df.groupby("treat")[column].transform("mean")
    df["y"] = 1 + df["treat"] + 2 * df["a1"] + rng.normal(size=len(df))
    result = cc.estimate(df, PLANTED_ROLES, "d2vd")
    assert "confounder" not in result.diagnostics["variable_roles"].values()
    assert result.diagnostics["variable_roles"]["a1"] == "adjustment"
    assert any("No covariate predicts treatment" in w for w in result.warnings)
    assert abs(result.estimate - 1.0) < 4 * result.std_error


def test_seeded_and_deterministic(planted):
    a = cc.estimate(planted, PLANTED_ROLES, "d2vd", seed=5)
    b = cc.estimate(planted, PLANTED_ROLES, "d2vd", seed=5)
    assert a.estimate == b.estimate and a.std_error == b.std_error


def test_variable_roles_follow_the_separation_rule():
    in_treatment = np.array([True, True, False, False])
    in_outcome = np.array([True, False, True, False])
    assert variable_roles(in_treatment, in_outcome) == ["confounder", "confounder", "adjustment", "irrelevant"]


@pytest.mark.parametrize(
    "options, message",
    [({"n_folds": 2}, "'n_folds' option of method 'd2vd'"),
     ({"penalty_rule": "aic"}, "'penalty_rule' option of method 'd2vd' must be one of '1se', 'min'")],
    ids=["folds", "rule"],
)
def test_bad_options_are_refused(planted, options, message):
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(planted, PLANTED_ROLES, "d2vd", **options)


def test_coverage_on_planted_design():
    """60 replications (fast): coverage near 95% (binomial SE about 3 points), well above 80%."""
    function = cc.get_method("d2vd").function
    hits = []
    with threadpool_limits(1):  # many tiny fits: BLAS threads only add overhead
        for replication in range(60):
            data = prepare(_planted_sample(400, 700 + replication), PLANTED_ROLES)
            out = function(data, estimand="ATE", seed=0)
            se = resolve_inference(out.estimate, out.inference, n=data.n, seed=0).std_error
            hits.append(abs(out.estimate - 1.0) <= 1.959964 * se)
    assert 0.85 <= np.mean(hits) <= 1.0
