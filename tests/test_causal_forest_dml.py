"""The causal forest (EconML CausalForestDML) and double ML: recovery, CATE intervals, checks, options, page.

Small designs and the registry's cheap options keep the file fast; tolerances
are the methods' own standard errors (4-sigma z-tests) or binomial bands.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.charts.heterogeneity import cate_intervals_plot, effect_by_feature_plot, variable_importance_plot
from causal_core.datasets.simulate import heterogeneous_confounded, linear_confounded
from causal_core.estimators.heterogeneity._cate_checks import (best_linear_projection, calibration_groups,
                                                               calibration_test)
from causal_core.estimators.heterogeneity.dml import r_learner_fit
from designs_heterogeneity import BACKDOOR_ROLES

ROOT = Path(__file__).resolve().parents[1]
HET_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
METHODS = ("causal_forest", "dml")


def _cheap(method: str, **extra) -> dict:
    return {**cc.get_method(method).cheap_options, **extra}


@pytest.fixture(scope="module")
def heterogeneous():
    df, truth = heterogeneous_confounded(n=2000, seed=11)
    return df, truth, 1.0 + df["x1"].to_numpy()


@pytest.fixture(scope="module")
def forest_result(heterogeneous):
    df, _, _ = heterogeneous
    return cc.estimate(df, HET_ROLES, "causal_forest", estimand="ATE", seed=0,
                       **_cheap("causal_forest", n_estimators=100))


@pytest.mark.parametrize("method", METHODS)
def test_recovers_the_constant_effect_of_the_contract_design(method):
    df, truth = linear_confounded(n=1500, seed=21)
    r = cc.estimate(df, BACKDOOR_ROLES, method, estimand="ATE", seed=2, **_cheap(method))
    assert abs(r.estimate - truth["ATE"]) < 4 * r.std_error, (r.estimate, r.std_error)
    assert r.unit_effects.shape == (len(df),)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_recovers_ate_att_atc_when_the_effect_varies(heterogeneous, method, estimand):
    df, truth, _ = heterogeneous
    r = cc.estimate(df, HET_ROLES, method, estimand=estimand, seed=1, **_cheap(method))
    assert abs(r.estimate - truth["S" + estimand]) < 4 * r.std_error, (r.estimate, r.std_error, truth)


def test_forest_cate_intervals_cover_the_true_effects(forest_result, heterogeneous):
    """On one 2000-row draw the per-row 95% intervals cover the true CATE 1 + x1 for at least 80% of rows.

    The binomial SE of 95% coverage over 2000 rows is 0.005; rows share one
    forest, so their misses are correlated and the band is kept loose (0.8).
    """
    _, _, tau = heterogeneous
    d = forest_result.diagnostics
    low, high = d["cate_ci_low"], d["cate_ci_high"]
    assert low.shape == high.shape == tau.shape
    assert np.all(low <= forest_result.unit_effects) and np.all(forest_result.unit_effects <= high)
    coverage = float(np.mean((low <= tau) & (tau <= high)))
    assert 0.8 <= coverage <= 1.0, coverage
    pehe = float(np.sqrt(np.mean((forest_result.unit_effects - tau) ** 2)))
    assert pehe < 0.5 * float(np.std(tau)), pehe  # far better than the constant predictor (sqrt PEHE = SD of tau)


def test_forest_checks_find_the_effect_modifier(forest_result):
    d = forest_result.diagnostics
    importance = d["variable_importance"]
    assert list(importance.columns) == ["covariate", "importance"]
    assert importance["covariate"].iloc[0] == "x1" and importance["importance"].sum() == pytest.approx(1.0)
    blp = d["best_linear_projection"].set_index("term")
    for term, true_slope in (("intercept", 1.0), ("x1", 1.0), ("x2", 0.0), ("x3", 0.0)):
        assert abs(blp.loc[term, "estimate"] - true_slope) < 4 * blp.loc[term, "std_error"], term
    calibration = d["calibration_test"].set_index("term")
    differential = calibration.loc["differential prediction"]
    assert differential["p_value"] < 0.001  # heterogeneity is detected
    assert abs(differential["estimate"] - 1.0) < 4 * differential["std_error"]
    groups = d["calibration_groups"]
    assert groups["n_rows"].sum() == 2000 and groups["mean_predicted"].is_monotonic_increasing
    assert groups["estimate"].iloc[-1] > groups["estimate"].iloc[0]


def test_forest_is_deterministic_under_a_seed_and_moves_with_it(heterogeneous):
    df, _, _ = heterogeneous
    small = df.iloc[:600]
    before = small.copy(deep=True)
    runs = [cc.estimate(small, HET_ROLES, "causal_forest", seed=seed, **_cheap("causal_forest")) for seed in (5, 5, 6)]
    pd.testing.assert_frame_equal(small, before)
    assert runs[0].estimate == runs[1].estimate and runs[0].std_error == runs[1].std_error
    np.testing.assert_array_equal(runs[0].unit_effects, runs[1].unit_effects)
    np.testing.assert_array_equal(runs[0].diagnostics["cate_ci_low"], runs[1].diagnostics["cate_ci_low"])
    assert not np.array_equal(runs[0].unit_effects, runs[2].unit_effects)


def test_dml_linear_r_learner_recovers_the_cate_coefficients(heterogeneous):
    df, _, tau = heterogeneous
    r = cc.estimate(df, HET_ROLES, "dml", seed=0, **_cheap("dml"))
    coefficients = r.diagnostics["cate_coefficients"].set_index("term")
    for term, true_value in (("intercept", 1.0), ("x1", 1.0), ("x2", 0.0), ("x3", 0.0)):
        assert abs(coefficients.loc[term, "estimate"] - true_value) < 4 * coefficients.loc[term, "std_error"], term
    assert float(np.sqrt(np.mean((r.unit_effects - tau) ** 2))) < 0.25


def test_dml_constant_final_is_the_residual_on_residual_slope():
    rng = np.random.default_rng(0)
    t_res, y_res = rng.normal(size=400), rng.normal(size=400)
    beta, influence = r_learner_fit(y_res, t_res, np.ones((400, 1)))
    assert beta[0] == pytest.approx(np.sum(t_res * y_res) / np.sum(t_res**2), rel=1e-12)
    e = y_res - beta[0] * t_res  # HC0 sandwich variance of the slope
    hc0 = np.sum(t_res**2 * e**2) / np.sum(t_res**2) ** 2
    assert np.sum(influence[:, 0] ** 2) / 400**2 == pytest.approx(hc0, rel=1e-10)


def test_dml_interval_coverage_over_replications():
    """The sandwich interval of the partially linear DML covers the constant effect in >= 80% of 40 draws.

    Nominal 95%: the binomial SE over 40 draws is 0.034, so 0.8 is more than 4 SEs below.
    """
    covered = 0
    for rep in range(40):
        df, truth = linear_confounded(n=400, seed=100 + rep)
        r = cc.estimate(df, BACKDOOR_ROLES, "dml", seed=rep, final_model="constant", outcome_model="linear",
                        n_folds=2)
        covered += r.ci_low <= truth["ATE"] <= r.ci_high
    assert covered / 40 >= 0.8, covered


def test_cate_checks_are_exact_on_known_scores():
    """With scores exactly 1 + 2 x the projection and calibration regressions return the coefficients exactly."""
    x = np.linspace(-1, 1, 200)
    scores = 1 + 2 * x
    blp = best_linear_projection(scores, x[:, None], ("x",)).set_index("term")
    assert blp.loc["intercept", "estimate"] == pytest.approx(1.0) and blp.loc["x", "estimate"] == pytest.approx(2.0)
    calibration = calibration_test(scores, scores).set_index("term")["estimate"]
    assert calibration.to_numpy() == pytest.approx([1.0, 1.0])
    groups = calibration_groups(scores, scores, 4)
    assert list(groups["n_rows"]) == [50, 50, 50, 50]
    np.testing.assert_allclose(groups["estimate"], groups["mean_predicted"])
    assert np.isnan(calibration_test(scores, np.ones(200)).loc[1, "estimate"])  # a constant CATE has no slope


@pytest.mark.parametrize("method, option, value, message", [
    ("causal_forest", "n_estimators", 30, "'n_estimators' option of method 'causal_forest' must be a multiple of 4"),
    ("causal_forest", "n_estimators", 4, "'n_estimators' option of method 'causal_forest' must be an integer from 8"),
    ("causal_forest", "min_samples_leaf", 0, "'min_samples_leaf' option of method 'causal_forest' must be"),
    ("causal_forest", "min_samples_leaf", 500, "'min_samples_leaf' option of method 'causal_forest' must be at most"),
    ("causal_forest", "outcome_model", "svm", "'outcome_model' option of method 'causal_forest' must be one of"),
    ("causal_forest", "propensity_model", 3, "'propensity_model' option of method 'causal_forest' must be"),
    ("causal_forest", "n_folds", 1, "'n_folds' option of method 'causal_forest' must be an integer from 2"),
    ("dml", "final_model", "quadratic", "'final_model' option of method 'dml' must be one of 'linear', 'constant', "
            "'polynomial'"),
    ("dml", "outcome_model", "lasso", "'outcome_model' option of method 'dml' must be one of"),
    ("dml", "outcome_model", "auto", "'outcome_model' option of method 'dml' must be one of"),
    ("dml", "n_folds", 50, "'n_folds' option of method 'dml' must be an integer from 2 to 20"),
])
def test_bad_options_are_refused_naming_the_option(method, option, value, message):
    df, _ = linear_confounded(n=300, seed=0)
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(df, BACKDOOR_ROLES, method, **{**_cheap(method), option: value})


def test_import_and_list_methods_do_not_load_econml():
    code = ("import json, sys, causal_core; causal_core.list_methods(); "
            "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & {"econml", "numba", "shap", "lightgbm", "llvmlite"}, loaded & {"econml", "numba"}


def test_interval_charts_draw_the_band_and_the_importance(forest_result, heterogeneous):
    df, _, _ = heterogeneous
    d = forest_result.diagnostics
    figure = cate_intervals_plot(forest_result.unit_effects, d["cate_ci_low"], d["cate_ci_high"],
                                 average=forest_result.estimate)
    band_high, band_low, line = figure.data
    assert band_low.fill == "tonexty" and len(line.y) == 2000 and np.all(np.diff(line.y) >= 0)
    assert np.all(band_low.y <= line.y) and np.all(line.y <= band_high.y)
    by_feature = effect_by_feature_plot(df["x1"].to_numpy(), forest_result.unit_effects, d["cate_ci_low"],
                                        d["cate_ci_high"], name="x1")
    means = by_feature.data[-1]
    assert len(means.y) == 10 and np.all(np.diff(means.y) > 0)  # the mean CATE rises with x1 across deciles
    bars = variable_importance_plot(d["variable_importance"]).data[0]
    assert list(bars.y)[0] == "x1"


def test_heterogeneity_page_shows_forest_intervals_and_check_tables():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value("simulated_heterogeneous").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/8_Heterogeneity.py").run()
    at.selectbox(key="het_method").set_value("causal_forest").run()
    at.number_input(key="het_n_estimators").set_value(24).run()
    at.selectbox(key="het_outcome_model").set_value("linear").run()
    at.button(key="het_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 5  # histogram, CATE intervals, effect by feature, Qini, importance
    headers = [list(frame.value.columns) for frame in at.dataframe]
    assert ["Covariate", "Importance"] in headers
    assert ["Term", "Estimate", "Std. error", "95% CI low", "95% CI high", "p-value"] in headers
    assert any("Group average effect (mean DR score)" in columns for columns in headers)
    at.number_input(key="het_n_estimators").set_value(30).run()  # not a multiple of 4
    at.button(key="het_run").click().run()
    assert not at.exception
    assert at.error and "must be a multiple of 4" in at.error[0].value


def test_forest_ate_and_cate_are_econml_own_numbers(heterogeneous):
    """The method's ATE is EconML's doubly robust ``ate_`` and its unit effects ``effect(X)`` of the same fit."""
    from econml.dml import CausalForestDML

    from causal_core.estimators.heterogeneity._cross_fit import stratified_folds
    from causal_core.nuisance.models import default_propensity_model, named_model

    df, _, _ = heterogeneous
    small = df.iloc[:800]
    r = cc.estimate(small, HET_ROLES, "causal_forest", seed=4, **_cheap("causal_forest", n_estimators=100))
    assert np.all((r.diagnostics["propensity"] > 0.01) & (r.diagnostics["propensity"] < 0.99))  # nothing bounded
    assert not any("out-of-bag" in w for w in r.warnings)  # every row has an out-of-bag CATE
    X, t, y = small[["x1", "x2", "x3"]].to_numpy(), small["treat"].to_numpy(), small["y"].to_numpy()
    forest = CausalForestDML(model_y=named_model("linear", kind="regressor", seed=4), model_t=default_propensity_model(),
                             discrete_treatment=True, cv=stratified_folds(t.astype(float), 2, seed=4), n_estimators=100,
                             min_samples_leaf=5, honest=True, random_state=4, n_jobs=1)
    forest.fit(y, t, X=X)
    assert r.estimate == pytest.approx(float(np.ravel(forest.ate_)[0]), rel=1e-9)
    assert r.std_error == pytest.approx(float(np.ravel(forest.ate_stderr_)[0]), rel=1e-9)
    np.testing.assert_allclose(r.unit_effects, np.ravel(forest.effect(X)), rtol=1e-12)
    low, high = forest.effect_interval(X, alpha=0.05)  # ours grows its trees on every core, EconML's here on one
    np.testing.assert_allclose(r.diagnostics["cate_ci_low"], np.ravel(low), rtol=1e-12)
    np.testing.assert_allclose(r.diagnostics["cate_ci_high"], np.ravel(high), rtol=1e-12)


def test_rows_without_out_of_bag_prediction_are_warned_once(heterogeneous):
    """With 8 trees (2 sub-forests, each on half the rows) about a quarter of rows are in every tree's sample."""
    df, _, _ = heterogeneous
    r = cc.estimate(df.iloc[:600], HET_ROLES, "causal_forest", seed=0, **_cheap("causal_forest", n_estimators=8))
    ours = [w for w in r.warnings if "no out-of-bag forest prediction" in w]
    assert len(ours) == 1 and not any("Could not generate out-of-bag" in w for w in r.warnings), r.warnings
    assert np.isfinite(r.estimate) and np.all(np.isfinite(r.diagnostics["dr_score"]))


def test_forest_outcome_model_is_linear_by_default_and_takes_econmls_auto():
    """The forest's E[Y|X] is linear unless asked (see the option's help); 'auto' is EconML's own selection."""
    spec = {o.name: o for o in cc.get_method("causal_forest").options}["outcome_model"]
    assert spec.default == "linear" and "auto" in spec.choices
    df, _ = linear_confounded(n=300, seed=0)
    options = {**_cheap("causal_forest"), "outcome_model": "auto"}
    result = cc.estimate(df, BACKDOOR_ROLES, "causal_forest", seed=1, **options)
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error) and result.unit_effects.shape == (len(df),)
