"""dml's final-stage bases, their choice by the cross-validated R-loss, and the per-row sandwich CATE intervals.

Tolerances: exact algebra to 1e-10 against statsmodels; coverage against the
binomial Monte Carlo error of independent draws; the basis choice over seeded
draws against the share the one-SE rule should reach (said at each test).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.estimators.heterogeneity._cate_basis import (AUTO_CANDIDATES, BASES, SPLINE_DEGREE, SPLINE_KNOTS,
                                                              basis_size, cate_basis, choose_basis)
from causal_core.estimators.heterogeneity._cross_fit import stratified_folds
from causal_core.estimators.heterogeneity.dml import Z_95, cate_intervals, r_learner_fit

ROOT = Path(__file__).resolve().parents[1]


def _design(n: int, seed: int, *, quadratic: bool, randomised: bool = False, p: int = 3):
    """Confounded (or randomised) treatment; effect 1 + x1 (or 1 + 0.5 x1 - 0.5 x2^2)."""
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    e = np.full(n, 0.5) if randomised else expit(0.6 * X[:, 0] - 0.4 * X[:, 1])
    t = rng.binomial(1, e)
    tau = 1 + 0.5 * X[:, 0] - 0.5 * X[:, 1] ** 2 if quadratic else 1 + X[:, 0]
    y = X[:, 0] + 0.5 * X[:, 1] + tau * t + rng.normal(size=n)
    df = pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(p)])
    df["treat"], df["y"] = t, y
    roles = cc.Roles(treatment="treat", outcome="y", confounders=[f"x{j + 1}" for j in range(p)])
    return df, roles, tau


# --------------------------------------------------------------------------- bases


def test_bases_square_only_many_valued_columns_and_drop_empty_products():
    """A 0/1 column is not squared (its square is itself); products of one categorical's dummies (all 0) are left out."""
    rng = np.random.default_rng(0)
    level = rng.integers(0, 3, size=200)
    X = np.column_stack([rng.normal(size=200), level == 1, level == 2]).astype(float)
    names = ("z", "b1", "b2")
    poly = cate_basis(X, names, "polynomial")
    assert poly.terms == ("intercept", "z", "b1", "b2", "z^2")
    full = cate_basis(X, names, "polynomial_interactions")
    assert full.terms == ("intercept", "z", "b1", "b2", "z^2", "z x b1", "z x b2")  # b1 x b2 is always 0
    np.testing.assert_allclose(full.matrix[:, 5], X[:, 0] * X[:, 1])
    splines = cate_basis(X, names, "splines")
    per_column = SPLINE_KNOTS + SPLINE_DEGREE - 2  # B-splines sum to 1: one per column is the intercept's
    assert splines.size == 1 + per_column + 2 and splines.terms[-2:] == ("b1", "b2")
    np.testing.assert_allclose(splines.matrix[:, 1:1 + per_column].sum(axis=1) <= 1 + 1e-12, True)
    for name in BASES:
        assert basis_size(X, name) == cate_basis(X, names, name).size, name


def test_splines_leave_out_constant_columns_of_tied_knots():
    """A column of 70% zeros ties the lower quantile knots; the splines constant on the data are not terms."""
    rng = np.random.default_rng(2)
    earnings = np.where(rng.random(500) < 0.7, 0.0, rng.exponential(5000.0, 500))[:, None]
    basis = cate_basis(earnings, ("re74",), "splines")
    assert 1 < basis.size < 1 + SPLINE_KNOTS + SPLINE_DEGREE - 1
    assert np.all(np.ptp(basis.matrix[:, 1:], axis=0) > 0)
    assert np.linalg.matrix_rank(basis.matrix) == basis.size


def test_splines_span_the_linear_basis():
    """An additive cubic spline basis (with intercept) reproduces any linear function of a column exactly."""
    x = np.random.default_rng(1).normal(size=(300, 1))
    F = cate_basis(x, ("x",), "splines").matrix
    target = 2 - 3 * x[:, 0]
    coefficients, *_ = np.linalg.lstsq(F, target, rcond=None)
    np.testing.assert_allclose(F @ coefficients, target, atol=1e-8)


# --------------------------------------------------------------------------- sandwich


def test_per_row_intervals_match_statsmodels_hc0():
    """beta, its HC0 covariance and each row's interval of F(x)' beta equal statsmodels' OLS of Y~ on T~ F (HC0)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 2))
    F = cate_basis(X, ("a", "b"), "polynomial").matrix
    t_res = rng.binomial(1, 0.4, size=500) - 0.4 + 0.05 * rng.normal(size=500)
    y_res = t_res * (F @ np.array([1.0, 0.5, -0.2, 0.3, 0.0])) + rng.normal(size=500) * (1 + np.abs(X[:, 0]))
    beta, influence = r_learner_fit(y_res, t_res, F)
    low, high = cate_intervals(F, beta, influence)
    fit = sm.OLS(y_res, t_res[:, None] * F).fit(cov_type="HC0")
    np.testing.assert_allclose(beta, fit.params, rtol=1e-10)
    np.testing.assert_allclose(influence.T @ influence / 500**2, fit.cov_params(), rtol=1e-10)
    se = np.sqrt(np.diag(F @ fit.cov_params() @ F.T))
    np.testing.assert_allclose(low, F @ fit.params - Z_95 * se, rtol=1e-10)
    np.testing.assert_allclose(high, F @ fit.params + Z_95 * se, rtol=1e-10)


def test_sandwich_holds_on_badly_scaled_columns():
    """Earnings-like columns (about 1e4) and their squares (about 1e9) beside 0/1 columns: SEs still equal statsmodels'.

    ``D = T~ F`` then has a condition number near 7e9 and ``D'D`` near 5e19, past
    what its pseudo-inverse resolves in double precision (the unscaled fit gave
    SEs of almost 0 here, and shrank those of the LaLonde PSID V-INTERACTION fit
    from 1,247 to 496); the fit works on unit-scaled columns.
    """
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    n = 2000
    earnings = np.where(rng.random((n, 2)) < 0.3, 0.0, rng.gamma(2.0, 8000.0, size=(n, 2)))
    X = np.column_stack([earnings, rng.integers(0, 2, size=n), rng.normal(40, 10, size=n)])
    F = cate_basis(X, ("re74", "re75", "black", "age"), "polynomial").matrix
    t_res = rng.binomial(1, 0.3, size=n) - 0.3
    y_res = t_res * 1000.0 + rng.normal(scale=5000.0, size=n)
    beta, influence = r_learner_fit(y_res, t_res, F)
    fit = sm.OLS(y_res, t_res[:, None] * F).fit(cov_type="HC0")
    assert np.linalg.cond(t_res[:, None] * F) > 1e9  # the case the scaling is for
    np.testing.assert_allclose(F @ beta, F @ fit.params, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.sum(influence**2, axis=0)) / n, fit.bse, rtol=1e-6)


def test_dml_returns_the_intervals_of_its_own_fit():
    df, roles, _ = _design(600, 4, quadratic=True)
    r = cc.estimate(df, roles, "dml", seed=0, final_model="polynomial", outcome_model="linear", n_folds=3)
    d = r.diagnostics
    assert d["cate_basis"] == "polynomial" and "HC0 sandwich" in d["cate_interval_method"]
    assert d["cate_ci_low"].shape == d["cate_ci_high"].shape == (600,)
    assert np.all(d["cate_ci_low"] < r.unit_effects) and np.all(r.unit_effects < d["cate_ci_high"])
    coefficients = d["cate_coefficients"]
    assert list(coefficients["term"]) == ["intercept", "x1", "x2", "x3", "x1^2", "x2^2", "x3^2"]
    assert "cate_basis_selection" not in d  # only 'auto' chooses


def test_cate_intervals_cover_on_a_correctly_specified_design():
    """On 200 seeded draws the 95% interval of one random row covers its true effect at the nominal rate.

    Randomised treatment and a quadratic outcome model make both nuisances
    correct; the effect 1 + 0.5 x1 - 0.5 x2^2 lies in the 'polynomial' basis.
    One row per draw makes the 200 hits independent: the binomial SE of 95%
    is 0.0154, and the test asks for at least 0.95 - 4 SE = 0.888.
    """
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    outcome = make_pipeline(PolynomialFeatures(2), LinearRegression())
    picker = np.random.default_rng(99)
    draws, covered = 200, 0
    for rep in range(draws):
        df, roles, tau = _design(400, 500 + rep, quadratic=True, randomised=True, p=2)
        r = cc.estimate(df, roles, "dml", seed=rep, final_model="polynomial", outcome_model=outcome, n_folds=2)
        row = int(picker.integers(400))
        covered += r.diagnostics["cate_ci_low"][row] <= tau[row] <= r.diagnostics["cate_ci_high"][row]
    assert covered / draws >= 0.888, covered


# --------------------------------------------------------------------------- choice by the R-loss


def _residual_draw(seed: int, tau_of):
    """R-learner residuals as cross-fitting would leave them: Y~ = tau(X) T~ + noise, T~ = T - e(X)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1500, 3))
    e = 1 / (1 + np.exp(-0.6 * X[:, 0]))
    t = rng.binomial(1, e)
    t_res = t - e
    y_res = tau_of(X) * t_res + rng.normal(size=1500)
    bases = sorted((cate_basis(X, ("x1", "x2", "x3"), name) for name in AUTO_CANDIDATES), key=lambda b: b.size)
    return y_res, t_res, bases, stratified_folds(t, 5, seed=seed)


def test_auto_keeps_linear_when_the_effect_is_linear():
    """Over 100 draws with tau = 1 + x1 the one-SE rule keeps 'linear' in at least 94.

    The plain minimum of the cross-validated loss picks a richer basis in about
    15% of such draws (30 of 200 when this test was written), the one-SE rule in
    about 1.5% (3 of 200). At a 2.5% rate 7 or more misses in 100 have
    probability 1.3%; at 15% (no parsimony) 94 hits or more have 0.5%: the
    bound separates the two.
    """
    picks = [choose_basis(*_residual_draw(seed, lambda X: 1 + X[:, 0]))[0] for seed in range(100)]
    assert picks.count("linear") >= 94, picks


def test_auto_picks_a_richer_basis_when_the_effect_is_quadratic():
    """With tau = 1 + x1 - 0.5 x3^2 (PEHE of linear about 0.7) every one of 20 draws leaves 'linear'."""
    picks = []
    for seed in range(20):
        chosen, table = choose_basis(*_residual_draw(seed, lambda X: 1 + X[:, 0] - 0.5 * X[:, 2] ** 2))
        picks.append(chosen)
        assert table["chosen"].sum() == 1 and table.loc[table["excess_loss"].idxmin(), "excess_loss"] == 0
    assert "linear" not in picks, picks
    assert picks.count("polynomial") >= 15, picks  # the smallest basis that holds the effect


@pytest.mark.parametrize("quadratic, expected", [(False, "linear"), (True, "polynomial")])
def test_auto_reports_the_chosen_basis_end_to_end(quadratic, expected):
    df, roles, tau = _design(2000, 7, quadratic=quadratic)
    r = cc.estimate(df, roles, "dml", seed=1, final_model="auto", outcome_model="gradient_boosting", n_folds=3)
    d = r.diagnostics
    assert d["cate_basis"] == expected
    table = d["cate_basis_selection"]
    assert list(table["basis"]) == ["linear", "polynomial", "polynomial_interactions", "splines"]
    assert table.loc[table["chosen"], "basis"].item() == expected
    assert "chosen by cross-validated R-loss" in d["cate_interval_method"]
    assert float(np.sqrt(np.mean((r.unit_effects - tau) ** 2))) < 0.35 * float(np.std(tau))


def test_auto_leaves_out_bases_too_large_for_the_rows_and_says_so():
    """8 covariates on 300 rows: 'polynomial_interactions' (45 terms) and 'splines' (49) exceed one term per 10 rows."""
    df, roles, _ = _design(300, 8, quadratic=False, p=8)
    r = cc.estimate(df, roles, "dml", seed=0, final_model="auto", outcome_model="linear", n_folds=3)
    assert list(r.diagnostics["cate_basis_selection"]["basis"]) == ["linear", "polynomial"]
    assert any("left out 'polynomial_interactions', 'splines'" in w for w in r.warnings), r.warnings


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("value, message", [
    ("cubic", "The 'final_model' option of method 'dml' must be one of 'linear', 'constant', 'polynomial', "
              "'polynomial_interactions', 'splines', 'auto'; got 'cubic'."),
    (2, "The 'final_model' option of method 'dml' must be one of"),
    ("polynomial_interactions", "The 'final_model' option of method 'dml' must be a basis with at most 30 terms "
                                r"\(one per 10 of the 300 rows\), but 'polynomial_interactions' has 45"),
    ("splines", "The 'final_model' option of method 'dml' must be a basis with at most 30 terms .* 'splines' has 49"),
])
def test_bad_final_model_is_refused_naming_the_option(value, message):
    df, roles, _ = _design(300, 8, quadratic=False, p=8)
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(df, roles, "dml", outcome_model="linear", n_folds=3, final_model=value)


# --------------------------------------------------------------------------- page


def test_heterogeneity_page_shows_dml_intervals_the_basis_choice_and_the_coefficients():
    """'auto' (the default): intervals, the basis-choice table and the coefficients; 'linear': the coefficients
    table alone (the basis-choice table comes with 'auto' only)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value("simulated_heterogeneous").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/8_Heterogeneity.py").run()
    at.selectbox(key="het_method").set_value("dml").run()
    at.selectbox(key="het_outcome_model").set_value("linear").run()
    assert at.selectbox(key="het_final_model").value == "auto"  # the default
    at.button(key="het_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # histogram, CATE intervals, effect by covariate with its band, Qini
    assert any("Per-row intervals: HC0 sandwich of the final-stage OLS" in c.value and "chosen by cross-validated"
               in c.value for c in at.caption)
    selection, coefficients = [frame.value for frame in at.dataframe]
    assert list(selection.columns) == ["Basis", "Terms", "Cross-validated R-loss", "Excess over the lowest",
                                       "Std. error of the excess", "Chosen"]
    assert list(selection["Basis"]) == ["linear", "polynomial", "polynomial_interactions", "splines"]
    assert list(coefficients["Term"])[0] == "intercept"

    at.selectbox(key="het_final_model").set_value("linear").run()
    at.button(key="het_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 4  # histogram, CATE intervals, effect by covariate with its band, Qini
    (coefficients,) = [frame.value for frame in at.dataframe]
    assert list(coefficients.columns) == ["Term", "Estimate", "Std. error", "95% CI low", "95% CI high", "p-value"]
    assert list(coefficients["Term"])[0] == "intercept"
