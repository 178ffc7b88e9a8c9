"""Estimates and standard errors do not depend on the units of the covariates.

Rescaling a covariate (and its square) is a reparametrisation: OLS fitted
values, Mahalanobis distances and so every linear-model estimate are the same
in exact arithmetic. Here one column is multiplied by 1e5 and its square
(about 1e10) sits beside it, as squared earnings sit beside 0/1 columns in
LaLonde's V-INTERACTION set; before the fix scikit-learn's ``LinearRegression``
(which cuts singular values below 1e-6 of the largest) and the eigenvalue cut of
the Mahalanobis whitening dropped directions there, which moved estimates by up
to 34 SEs and SEs by 70-80%.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import statsmodels.api as sm

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded
from causal_core.estimators.matching._shared import whiten_mahalanobis
from causal_core.nuisance.models import fit_outcome
from causal_core.studies.stable_learning import stable_fit, stable_learning_data

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "x1_sq"])
SCALE = 1e5
#: Relative agreement asked of two computations that are equal in exact arithmetic on designs whose
#: standardised condition number is below 100: rounding (1e-16) times that, with a wide margin.
REL_TOL = 1e-8


def _design(scale: float):
    df, _ = linear_confounded(n=1500, seed=7)
    df = df.copy()
    df["x1"] = df["x1"] * scale
    df["x1_sq"] = df["x1"] ** 2
    return df


def _raw_columns(scale: float) -> tuple[np.ndarray, np.ndarray]:
    df = _design(scale)
    return df[["x1", "x2", "x3", "x4", "x1_sq", "treat"]].to_numpy(float), df["y"].to_numpy()


def test_default_outcome_model_is_ols_on_badly_scaled_columns():
    X, y = _raw_columns(SCALE)
    reference = sm.OLS(y, sm.add_constant(X)).fit().fittedvalues  # SVD pseudo-inverse of the design itself
    fitted = fit_outcome(X, y)
    assert np.max(np.abs(fitted - reference)) < REL_TOL * np.std(y)


def test_mahalanobis_whitening_does_not_depend_on_units():
    X, _ = _raw_columns(1.0)
    scaled, _ = _raw_columns(SCALE)
    a, b = whiten_mahalanobis(X), whiten_mahalanobis(scaled)
    rows = np.arange(0, X.shape[0], 7)
    distance_a = np.linalg.norm(a[rows, None] - a[None, rows], axis=2)
    distance_b = np.linalg.norm(b[rows, None] - b[None, rows], axis=2)
    np.testing.assert_allclose(distance_b, distance_a, rtol=REL_TOL, atol=REL_TOL)


@pytest.mark.parametrize("method", ["doubly_robust", "s_learner", "t_learner", "x_learner", "dr_learner", "dml",
                                    "nearest_neighbor_matching",
                                    # unaffected before (logit on standardised columns; pinned here): the logit's
                                    # influence function (pinv of its information) and D2VD's solves
                                    "ipw", "d2vd"])
def test_estimate_and_se_do_not_depend_on_units(method: str):
    info = next(m for m in cc.list_methods() if m.id == method)
    results = [cc.estimate(_design(scale), ROLES, method, estimand="ATE", seed=3, **info.cheap_options)
               for scale in (1.0, SCALE)]
    unit, scaled = results
    assert abs(scaled.estimate - unit.estimate) < REL_TOL * unit.std_error, (unit.estimate, scaled.estimate)
    assert scaled.std_error == pytest.approx(unit.std_error, rel=REL_TOL)


def test_stable_learning_ordinary_fit_is_ols_on_badly_scaled_columns():
    df = stable_learning_data(seed=0)
    df = df.assign(s1=df["s1"] * SCALE)
    df["s1_sq"] = df["s1"] ** 2
    features = ["s1", "s2", "s3", "v1", "s1_sq"]
    model = stable_fit(df, "y", features, reweight=False)
    reference = sm.OLS(df["y"], sm.add_constant(df[features])).fit().params
    np.testing.assert_allclose(model.coefficients.to_numpy(), reference[features].to_numpy(), rtol=REL_TOL)


@pytest.mark.parametrize("method", ["ipsw", "shadow_variable"])
def test_selection_estimates_do_not_depend_on_units(method: str):
    """Their designs are standardised before the GMM / logit pseudo-inverses and the jackknife's solves."""
    from designs_selection import DESIGNS

    results = []
    for scale in (1.0, SCALE):
        df, roles, _, options = DESIGNS[method](7)
        df = df.assign(ability=df["ability"] * scale)
        df["ability_sq"] = df["ability"] ** 2
        roles = dataclasses.replace(roles, confounders=[*roles.confounders, "ability_sq"])
        results.append(cc.estimate(df, roles, method, estimand="ATE", seed=3, **options))
    unit, scaled = results
    assert abs(scaled.estimate - unit.estimate) < REL_TOL * unit.std_error
    assert scaled.std_error == pytest.approx(unit.std_error, rel=REL_TOL)


@pytest.mark.parametrize("method, estimand", [("ipw", "ATT"), ("doubly_robust", "ATE"), ("doubly_robust", "ATT"),
                                              ("regression_adjustment", "ATE")])
def test_streamed_estimates_on_badly_scaled_columns_equal_the_in_memory_ones(tmp_path, method, estimand):
    """Before, the streamed AIPW's arm OLS (an SVD solve of the TSQR factor of raw columns) was off by 1e-6."""
    from causal_core.outofcore import open_table, streamed_estimate

    df = _design(SCALE)
    df.to_parquet(tmp_path / "table.parquet")
    got = streamed_estimate(open_table(tmp_path / "table.parquet"), ROLES, method, estimand=estimand,
                            rows_per_partition=400)
    want = cc.estimate(df, ROLES, method, estimand=estimand)
    assert abs(got.estimate - want.estimate) < REL_TOL * want.std_error
    assert got.std_error == pytest.approx(want.std_error, rel=REL_TOL)
