"""Heckman two-step: recovery under selection on unobservables, corrected SEs, coverage, refusals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

import causal_core as cc
from causal_core.estimators.selection.heckman import heckman_two_step, inverse_mills_ratio
from designs_hidden import HECKMAN_ROLES, selection_data

METHOD = "heckman"


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    with threadpool_limits(1):
        yield


def _stacked_sandwich_se(y, X_out, W, s, gamma, beta) -> np.ndarray:
    """Independent check: the two steps as one M-estimator (probit score + OLS normal equations),
    sandwich covariance A^-1 B A^-T / n with a numerical Jacobian A."""
    n, q = W.shape

    def moments(theta):
        g, b = theta[:q], theta[q:]
        index = W @ g
        cdf = np.clip(stats.norm.cdf(index), 1e-12, 1 - 1e-12)
        pdf = stats.norm.pdf(index)
        score = W * (s * pdf / cdf - (1 - s) * pdf / (1 - cdf))[:, None]
        Xs = np.column_stack([X_out, inverse_mills_ratio(index)])
        resid = np.where(s == 1, np.nan_to_num(y) - Xs @ b, 0.0)
        return np.column_stack([score, Xs * resid[:, None]])

    theta = np.concatenate([gamma, beta])
    A = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        step = np.zeros(theta.size)
        step[j] = 1e-6 * max(1.0, abs(theta[j]))
        A[:, j] = (moments(theta + step).mean(0) - moments(theta - step).mean(0)) / (2 * step[j])
    G = moments(theta)
    A_inv = np.linalg.inv(A)
    return np.sqrt(np.diag(A_inv @ (G.T @ G / n) @ A_inv.T / n))[q:]


def test_recovers_effect_where_selected_ols_is_far_off():
    df, truth = selection_data(n=4000, seed=21)
    result = cc.estimate(df, HECKMAN_ROLES, METHOD)
    assert abs(result.estimate - truth) < 4 * result.std_error
    naive = result.diagnostics["naive_selected_ols"]
    assert abs(naive - truth) > 4 * result.std_error
    assert result.n_used == len(df) and result.diagnostics["n_selected"] == int(df["observed"].sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_corrected_se_matches_stacked_m_estimator(seed):
    """Greene's corrected two-step covariance equals the stacked-moment sandwich to within 5% at n = 20000."""
    df, _ = selection_data(n=20000, seed=seed)
    s = df["observed"].to_numpy(float)
    t = df["treat"].to_numpy(float)
    X_out = np.column_stack([np.ones(len(df)), t, df["x1"]])
    W = np.column_stack([np.ones(len(df)), df["x1"], t, df["z"]])
    fit = heckman_two_step(df["y"].to_numpy(), X_out, W, s)
    greene = np.sqrt(np.diag(fit["cov"]))
    sandwich = _stacked_sandwich_se(df["y"].to_numpy(), X_out, W, s, fit["gamma"], fit["beta"])
    np.testing.assert_allclose(greene, sandwich, rtol=0.05)
    result = cc.estimate(df, HECKMAN_ROLES, METHOD)
    assert result.std_error == pytest.approx(greene[1], rel=1e-12)


def test_confidence_interval_coverage():
    """200 replications at n = 600: the 95% interval covers the truth 88-99% of the time (MC SE 1.5%)."""
    hits = []
    for seed in range(200):
        df, truth = selection_data(n=600, seed=500 + seed)
        result = cc.estimate(df, HECKMAN_ROLES, METHOD)
        hits.append(result.ci_low <= truth <= result.ci_high)
    assert 0.88 <= np.mean(hits) <= 0.99, np.mean(hits)


def test_diagnostics_report_selection_fit_lambda_rho_sigma():
    df, _ = selection_data(n=5000, seed=4, rho=0.8, sigma=1.0)
    result = cc.estimate(df, HECKMAN_ROLES, METHOD)
    table = result.diagnostics["selection_equation"]
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ["const", "x1", "treat", "z"]
    assert {"coef", "std_error", "z", "p_value"} <= set(table.columns)
    # true selection coefficients 0.2, 0.5, -1.2, 1.0; each within 4 of its SEs
    assert np.all(np.abs(table["coef"] - [0.2, 0.5, -1.2, 1.0]) < 4 * table["std_error"])
    assert 0 < result.diagnostics["selection_pseudo_r2"] < 1
    lam, lam_se = result.diagnostics["lambda"], result.diagnostics["lambda_std_error"]
    assert abs(lam - 0.8) < 4 * lam_se  # beta_lambda = rho * sigma
    assert result.diagnostics["lambda"] == pytest.approx(result.diagnostics["rho"] * result.diagnostics["sigma"])
    assert abs(result.diagnostics["sigma"] - 1.0) < 0.1 and abs(result.diagnostics["rho"] - 0.8) < 0.15


def test_no_selection_on_unobservables_gives_lambda_near_zero():
    df, truth = selection_data(n=4000, seed=8, rho=0.0)
    result = cc.estimate(df, HECKMAN_ROLES, METHOD)
    assert abs(result.diagnostics["lambda"]) < 4 * result.diagnostics["lambda_std_error"]
    assert abs(result.estimate - truth) < 4 * result.std_error


def test_input_is_not_mutated_and_missing_outcomes_are_kept():
    df, _ = selection_data(n=800, seed=2)
    before = df.copy()
    result = cc.estimate(df, HECKMAN_ROLES, METHOD)
    pd.testing.assert_frame_equal(df, before)
    assert result.n_used == 800 and not any("dropped" in w for w in result.warnings)


def _frame(**changes) -> pd.DataFrame:
    df, _ = selection_data(n=400, seed=3)
    return df.assign(**changes)


@pytest.mark.parametrize(
    ("frame", "roles", "match"),
    [
        (_frame, cc.Roles(treatment="treat", outcome="y", confounders=["x1"], selection="observed"),
         "needs at least one column in the 'exclusions' role"),
        (_frame, cc.Roles(treatment="treat", outcome="y", exclusions=["z"], confounders=["x1"]),
         "needs at least one column in the 'selection' role"),
        (lambda: _frame(observed=1, y=lambda d: d["y"].fillna(0.0)), HECKMAN_ROLES,
         "Selection column 'observed' is constant"),
        (lambda: _frame(observed=lambda d: np.where(np.arange(len(d)) % 7 == 0, 1, d["observed"])), HECKMAN_ROLES,
         "Outcome column 'y' is missing in .* rows where selection column 'observed' is 1"),
        (lambda: _frame(z=3.0), HECKMAN_ROLES, "Exclusion variable 'z' is constant"),
        (lambda: _frame(z=lambda d: 2 * d["x1"]), HECKMAN_ROLES, "collinear"),
    ],
    ids=["no-exclusion-variable", "no-selection-column", "selection-constant", "outcome-missing-where-selected",
         "constant-exclusion-variable", "exclusion-collinear"],
)
def test_refusals(frame, roles, match):
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(frame(), roles, METHOD)
