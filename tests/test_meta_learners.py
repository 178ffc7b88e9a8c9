"""S-, T-, X- and DR-learners against simulated unit effects, and the Qini curve by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.datasets.simulate import heterogeneous_confounded
from causal_core.diagnostics.uplift import qini_coefficient, qini_curve

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
LEARNERS = ["s_learner", "t_learner", "x_learner", "dr_learner"]


@pytest.fixture(scope="module")
def design():
    df, truth = heterogeneous_confounded(n=1200, seed=5)
    return df, truth, 1.0 + df["x1"].to_numpy()  # true unit effects


def _fast(method: str) -> dict:
    return {}  # every learner's default standard error is now an influence function (no refits)


@pytest.mark.parametrize("method", LEARNERS)
def test_learner_beats_the_constant_effect_and_recovers_the_ate(design, method):
    df, truth, tau = design
    r = cc.estimate(df, ROLES, method, seed=0, **_fast(method))
    assert r.unit_effects.shape == (len(df),)
    pehe = np.sqrt(np.mean((r.unit_effects - tau) ** 2))
    constant = np.sqrt(np.mean((tau - tau.mean()) ** 2))  # PEHE of predicting the true ATE for everyone
    assert pehe < 0.7 * constant, (method, pehe, constant)
    assert abs(r.estimate - truth["SATE"]) < 4 * r.std_error, (method, r.estimate, r.std_error)


@pytest.mark.parametrize("method", ["t_learner", "x_learner", "dr_learner"])
@pytest.mark.parametrize("estimand", ["ATT", "ATC"])
def test_att_and_atc_with_a_linear_base(design, method, estimand):
    df, truth, tau = design
    r = cc.estimate(df, ROLES, method, estimand=estimand, seed=0, base_model="linear", **_fast(method))
    target = {"ATT": "SATT", "ATC": "SATC"}[estimand]
    assert abs(r.estimate - truth[target]) < 4 * r.std_error, (method, estimand, r.estimate, truth[target])
    if method != "dr_learner":  # plug-in learners average their unit effects over the arm
        arm = df["treat"].to_numpy() == (1 if estimand == "ATT" else 0)
        assert r.estimate == pytest.approx(r.unit_effects[arm].mean())


def test_linear_s_learner_gives_one_effect_to_everyone_and_says_so(design):
    df, _, _ = design
    r = cc.estimate(df, ROLES, "s_learner", seed=0, base_model="linear")
    assert np.ptp(r.unit_effects) < 1e-8
    assert any("same effect to every row" in w for w in r.warnings)


@pytest.mark.parametrize("method, options, match", [
    ("t_learner", {"base_model": "svm"}, "'base_model' option of method 't_learner' must be one of"),
    ("s_learner", {"n_boot": 3}, r"'n_boot' option of method 's_learner' must be 0 \(the cross-fitted influence "
                                 r"function\) or an integer from 20 to 5000"),
    ("t_learner", {"n_folds": 1}, "'n_folds' option of method 't_learner'"),
    ("dr_learner", {"n_folds": 1}, "'n_folds' option of method 'dr_learner'"),
    ("dr_learner", {"final_model": "wiggly"}, "'final_model' option of method 'dr_learner'"),
    ("x_learner", {"propensity_model": "nope"}, "'propensity_model' option of method 'x_learner'"),
])
def test_bad_options_are_refused(design, method, options, match):
    df, _, _ = design
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(df.head(200), ROLES, method, **options)


def test_sklearn_regressor_is_accepted_and_not_fitted_in_place(design):
    from sklearn.linear_model import Ridge

    df, truth, _ = design
    model = Ridge(alpha=1.0)
    r = cc.estimate(df, ROLES, "t_learner", seed=0, base_model=model)
    assert not hasattr(model, "coef_")
    assert abs(r.estimate - truth["SATE"]) < 4 * r.std_error


@pytest.mark.parametrize("options", [{}, {"base_model": "linear", "n_boot": 20}], ids=["influence", "bootstrap"])
def test_learners_are_deterministic(design, options):
    df, _, _ = design
    a, b = (cc.estimate(df.head(300), ROLES, "s_learner", seed=4, **options)
            for _ in range(2))
    assert a.estimate == b.estimate and a.std_error == b.std_error
    assert np.array_equal(a.unit_effects, b.unit_effects)


def _t_learner_se_by_hand(df: pd.DataFrame, n_folds: int, seed: int) -> tuple[float, float]:
    """The T-learner's default SE written out: stratified folds, OLS per arm, logit, ATE influence function."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, t, y = df[["x1", "x2", "x3"]].to_numpy(float), df["treat"].to_numpy(), df["y"].to_numpy(float)
    mu1, mu0, ps = np.empty(len(df)), np.empty(len(df)), np.empty(len(df))
    for train, test in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X, t):
        arm1, arm0 = train[t[train] == 1], train[t[train] == 0]
        mu1[test] = LinearRegression().fit(X[arm1], y[arm1]).predict(X[test])
        mu0[test] = LinearRegression().fit(X[arm0], y[arm0]).predict(X[test])
        logit = make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000)).fit(X[train], t[train])
        ps[test] = logit.predict_proba(X[test])[:, 1]
    ps = np.clip(ps, 0.01, 0.99)
    phi = mu1 - mu0 + t * (y - mu1) / ps - (1 - t) * (y - mu0) / (1 - ps)
    return float(phi.std() / np.sqrt(len(df))), float(phi.mean())


def test_default_standard_error_is_the_cross_fitted_influence_function_without_refits(design):
    df, _, _ = design
    r = cc.estimate(df, ROLES, "t_learner", seed=3, base_model="linear", n_folds=4)
    se, aipw = _t_learner_se_by_hand(df, n_folds=4, seed=3)
    assert r.inference.method == "influence_function" and r.inference.n_replicates == 0
    assert r.std_error == pytest.approx(se, rel=1e-9)
    assert r.diagnostics["aipw_estimate"] == pytest.approx(aipw, rel=1e-9)
    treated = df["treat"].to_numpy() == 1
    assert r.estimate == pytest.approx(r.unit_effects.mean())  # the plug-in average, not the AIPW one
    assert (r.ci_low, r.ci_high) == pytest.approx((r.estimate - 1.959964 * se, r.estimate + 1.959964 * se), rel=1e-6)
    assert treated.any()


@pytest.mark.parametrize("method, refits", [
    ("s_learner", "1 outcome model on all rows"), ("t_learner", "2 outcome models per cross-fitting fold"),
    ("x_learner", "2 outcome models and the propensity model per cross-fitting fold, and 2 effect models")])
def test_bootstrap_runs_only_on_request_and_its_cost_is_stated_first(design, method, refits):
    df, _, _ = design
    spec = {o.name: o for o in cc.get_method(method).options}["n_boot"]
    assert spec.default == 0 and spec.also == (0,)
    assert f"every replicate refits {refits}" in spec.help
    r = cc.estimate(df.head(400), ROLES, method, seed=1, base_model="linear", n_boot=20)
    assert r.inference.method == "bootstrap_normal" and r.inference.n_replicates == 20
    assert refits in r.inference.detail


def test_biased_plug_in_is_flagged_against_the_aipw_average(design):
    from sklearn.linear_model import Ridge

    df, truth, _ = design
    # a huge ridge penalty shrinks the S-learner's treatment coefficient to ~0; AIPW's weights undo it
    r = cc.estimate(df, ROLES, "s_learner", seed=0, base_model=Ridge(alpha=1e7))
    assert abs(r.estimate) < 0.1 * truth["SATE"]
    assert abs(r.diagnostics["aipw_estimate"] - truth["SATE"]) < 4 * r.std_error
    assert any("standard errors from the cross-fitted AIPW average" in w for w in r.warnings)
    unbiased = cc.estimate(df, ROLES, "t_learner", seed=0, base_model="linear")
    assert not any("cross-fitted AIPW average" in w for w in unbiased.warnings)


def test_gradient_boosting_is_the_histogram_implementation():
    from causal_core.nuisance.models import named_model, resolve_model

    boosted = named_model("gradient_boosting", kind="regressor", seed=0)
    assert type(boosted).__name__ == "HistGradientBoostingRegressor" and boosted.max_depth == 3
    assert type(resolve_model("gradient_boosting", option="propensity_model", method="ipw", kind="classifier",
                              seed=0)).__name__ == "HistGradientBoostingClassifier"
    final = named_model("regularised_boosting", kind="regressor", seed=2)
    assert type(final).__name__ == "HistGradientBoostingRegressor" and final.max_depth == 2
    assert final.random_state == 2


def test_qini_curve_by_hand():
    curve = qini_curve(np.array([3.0, 2.0, 1.0, 0.0]), np.array([5.0, 1.0, 2.0, 2.0]), np.array([1, 0, 1, 0]))
    # top 1: 5 (no control yet); top 2: 5 - 1*1/1 = 4; top 3: 7 - 1*2/1 = 5; all: 7 - 3*2/2 = 4
    assert curve["qini"].tolist() == [0.0, 5.0, 4.0, 5.0, 4.0]
    assert curve["random"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert curve["fraction"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # area between the curves: trapezoids of the gaps 0, 4, 2, 2, 0 over steps of 1/4
    assert qini_coefficient(curve) == pytest.approx(0.25 * (2 + 3 + 2 + 1))


def test_qini_curve_order_does_not_matter_and_weights_count_rows():
    scores, y, t = np.array([0.0, 3.0, 1.0, 2.0]), np.array([2.0, 5.0, 2.0, 1.0]), np.array([0, 1, 1, 0])
    curve = qini_curve(scores, y, t)
    assert curve["qini"].tolist() == [0.0, 5.0, 4.0, 5.0, 4.0]
    doubled = qini_curve(np.repeat(scores, 2), np.repeat(y, 2), np.repeat(t, 2))
    weighted = qini_curve(scores, y, t, weights=np.full(4, 2.0))
    assert weighted["qini"].iloc[-1] == pytest.approx(doubled["qini"].iloc[-1])


def test_qini_of_true_effects_beats_random(design):
    df, _, tau = design
    curve = qini_curve(tau, df["y"].to_numpy(), df["treat"].to_numpy())
    assert qini_coefficient(curve) > 0


def test_qini_rejects_bad_input():
    with pytest.raises(cc.CausalInputError, match="coded 0/1"):
        qini_curve(np.zeros(3), np.zeros(3), np.array([0, 1, 2]))
