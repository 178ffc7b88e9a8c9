"""S-, T-, X- and DR-learners against simulated unit effects, and the Qini curve by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

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
        # the default propensity model is the exact unpenalised MLE: scikit-learn's Newton solver run to 1e-12
        logit = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12,
                                                                   max_iter=1000)).fit(X[train], t[train])
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


def _folds_and_logit(X: np.ndarray, t: np.ndarray, n_folds: int, seed: int):
    """The learners' stratified folds and the cross-fitted, bounded logit, written out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X, t))
    ps = np.empty(len(t))
    for train, test in folds:
        # the default propensity model is the exact unpenalised MLE: scikit-learn's Newton solver run to 1e-12
        logit = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12,
                                                                   max_iter=1000)).fit(X[train], t[train])
        ps[test] = logit.predict_proba(X[test])[:, 1]
    return folds, np.clip(ps, 0.01, 0.99)


def _arrays(df: pd.DataFrame):
    return df[["x1", "x2", "x3"]].to_numpy(float), df["treat"].to_numpy(), df["y"].to_numpy(float)


def _ate_influence_se(y, t, ps, mu1, mu0) -> float:
    phi = mu1 - mu0 + t * (y - mu1) / ps - (1 - t) * (y - mu0) / (1 - ps)
    return float(phi.std() / np.sqrt(len(y)))


def test_t_learner_unit_effects_are_the_mean_of_the_fold_models_predictions(design):
    from sklearn.linear_model import LinearRegression

    df, _, _ = design
    X, t, y = _arrays(df)
    folds, ps = _folds_and_logit(X, t, n_folds=2, seed=6)
    mean1, mean0 = np.zeros(len(df)), np.zeros(len(df))
    mu1, mu0 = np.empty(len(df)), np.empty(len(df))
    for train, test in folds:
        arm1, arm0 = train[t[train] == 1], train[t[train] == 0]
        pred1 = LinearRegression().fit(X[arm1], y[arm1]).predict(X)
        pred0 = LinearRegression().fit(X[arm0], y[arm0]).predict(X)
        mean1, mean0 = mean1 + pred1 / 2, mean0 + pred0 / 2
        mu1[test], mu0[test] = pred1[test], pred0[test]
    r = cc.estimate(df, ROLES, "t_learner", seed=6, base_model="linear", n_folds=2)
    np.testing.assert_allclose(r.unit_effects, mean1 - mean0, rtol=0, atol=1e-10)
    assert r.estimate == pytest.approx((mean1 - mean0).mean(), abs=1e-12)
    assert r.std_error == pytest.approx(_ate_influence_se(y, t, ps, mu1, mu0), rel=1e-9)  # the same fold models


def test_x_learner_first_stage_from_the_fold_models_second_stage_on_all_rows(design):
    from sklearn.linear_model import LinearRegression

    df, _, _ = design
    X, t, y = _arrays(df)
    treated = t == 1
    folds, ps = _folds_and_logit(X, t, n_folds=3, seed=2)
    mean1, mean0 = np.zeros(len(df)), np.zeros(len(df))
    for train, _test in folds:
        arm1, arm0 = train[t[train] == 1], train[t[train] == 0]
        mean1 += LinearRegression().fit(X[arm1], y[arm1]).predict(X) / 3
        mean0 += LinearRegression().fit(X[arm0], y[arm0]).predict(X) / 3
    tau1 = LinearRegression().fit(X[treated], y[treated] - mean0[treated]).predict(X)
    tau0 = LinearRegression().fit(X[~treated], mean1[~treated] - y[~treated]).predict(X)
    r = cc.estimate(df, ROLES, "x_learner", seed=2, base_model="linear", n_folds=3)
    np.testing.assert_allclose(r.unit_effects, ps * tau0 + (1 - ps) * tau1, rtol=0, atol=1e-8)


def test_s_learner_unit_effects_from_one_full_fit_and_its_se_from_the_folds(design):
    from sklearn.linear_model import LinearRegression

    df, _, _ = design
    X, t, y = _arrays(df)
    folds, ps = _folds_and_logit(X, t, n_folds=2, seed=1)
    full = LinearRegression().fit(np.column_stack([X, t]), y)
    effect = full.coef_[-1]
    mu1, mu0 = np.empty(len(df)), np.empty(len(df))
    for train, test in folds:
        fold = LinearRegression().fit(np.column_stack([X[train], t[train]]), y[train])
        mu1[test] = fold.predict(np.column_stack([X[test], np.ones(test.size)]))
        mu0[test] = fold.predict(np.column_stack([X[test], np.zeros(test.size)]))
    r = cc.estimate(df, ROLES, "s_learner", seed=1, base_model="linear")
    np.testing.assert_allclose(r.unit_effects, effect, rtol=1e-9)
    assert r.std_error == pytest.approx(_ate_influence_se(y, t, ps, mu1, mu0), rel=1e-9)


def test_dr_learner_effect_model_is_fitted_once_on_the_cross_fitted_pseudo_outcome(design):
    from sklearn.linear_model import LinearRegression

    df, truth, _ = design
    X, t, y = _arrays(df)
    folds, ps = _folds_and_logit(X, t, n_folds=2, seed=3)
    mu1, mu0 = np.empty(len(df)), np.empty(len(df))
    for train, test in folds:
        arm1, arm0 = train[t[train] == 1], train[t[train] == 0]
        mu1[test] = LinearRegression().fit(X[arm1], y[arm1]).predict(X[test])
        mu0[test] = LinearRegression().fit(X[arm0], y[arm0]).predict(X[test])
    pseudo = mu1 - mu0 + t * (y - mu1) / ps - (1 - t) * (y - mu0) / (1 - ps)
    r = cc.estimate(df, ROLES, "dr_learner", seed=3, base_model="linear", final_model="linear", n_folds=2)
    np.testing.assert_allclose(r.diagnostics["pseudo_outcome"], pseudo, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.unit_effects, LinearRegression().fit(X, pseudo).predict(X), rtol=0, atol=1e-9)
    assert r.estimate == pytest.approx(pseudo.mean(), abs=1e-12)
    assert r.std_error == pytest.approx(_ate_influence_se(y, t, ps, mu1, mu0), rel=1e-9)


class _CountingOLS(LinearRegression):
    """Ordinary least squares that counts its fits (a real regressor: clones share the counter)."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("method, n_folds, fits", [
    ("s_learner", 2, 3), ("t_learner", 2, 4), ("x_learner", 2, 6), ("dr_learner", 2, 4), ("t_learner", 4, 8)])
def test_no_outcome_model_fit_beyond_the_folds(design, method, n_folds, fits):
    """S: one fit per fold + one on all rows; T: one per arm and fold; X: T's plus 2 effect models; DR: T's."""
    df, _, _ = design
    _CountingOLS.fits = 0
    options = {"final_model": "linear"} if method == "dr_learner" else {}
    cc.estimate(df, ROLES, method, seed=0, base_model=_CountingOLS(), n_folds=n_folds, **options)
    assert _CountingOLS.fits == fits


@pytest.mark.parametrize("method, n_folds", [("s_learner", 2), ("t_learner", 3), ("x_learner", 2), ("dr_learner", 3)])
def test_default_folds(design, method, n_folds):
    """2 folds (each model fitted twice); 3 for the T-learner (its 2-fold mean had 88% ATE coverage in bench/)
    and the DR-learner (its 2-fold AIPW average was 22% noisier); the result says how many were used."""
    assert {o.name: o for o in cc.get_method(method).options}["n_folds"].default is None  # automatic
    df, _, _ = design  # 1,200 rows, 3 covariates: plenty of rows per covariate
    r = cc.estimate(df, ROLES, method, seed=0, base_model="linear")
    assert f"{n_folds}-fold" in r.inference.detail


@pytest.mark.parametrize("treated, n_covariates, method, folds", [
    (2000, 10, "s_learner", 2),   # 1,000 treated rows per training fold: 100 per covariate
    (185, 10, "s_learner", 3),    # 92 per fold with 2 folds is under 10 per covariate; 123 with 3
    (185, 10, "t_learner", 3),
    (185, 65, "x_learner", 5),    # LaLonde CPS V-INTERACTION: 148 with 5 folds, still short; 5 is the most
    (4, 2, "dr_learner", 4),      # never above the smaller arm
])
def test_automatic_folds_keep_rows_per_covariate(treated, n_covariates, method, folds):
    from causal_core.estimators.heterogeneity.meta_learners import auto_folds

    t = np.r_[np.ones(treated), np.zeros(5000)]
    assert auto_folds(method, t, n_covariates) == folds


def test_automatic_folds_reach_five_with_many_covariates_in_the_pipeline():
    """40 covariates and about 180 treated rows: 2 folds would leave about 90 treated rows to a 40-covariate
    logit, so the automatic choice takes 5 folds, the same SE as asking for 5."""
    rng = np.random.default_rng(0)
    n, p = 3000, 40
    X = rng.normal(size=(n, p))
    t = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - 3.2)))).astype(int)
    y = X[:, 0] + t + rng.normal(size=n)
    df = pd.DataFrame(X, columns=[f"c{j}" for j in range(p)]).assign(treat=t, y=y)
    roles = cc.Roles(treatment="treat", outcome="y", confounders=[f"c{j}" for j in range(p)])
    auto = cc.estimate(df, roles, "s_learner", seed=0, base_model="linear")
    five = cc.estimate(df, roles, "s_learner", seed=0, base_model="linear", n_folds=5)
    assert "5-fold" in auto.inference.detail
    assert auto.std_error == five.std_error
