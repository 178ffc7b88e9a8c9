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
    return {} if method == "dr_learner" else {"n_boot": 20}


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
    r = cc.estimate(df, ROLES, "s_learner", seed=0, base_model="linear", n_boot=20)
    assert np.ptp(r.unit_effects) < 1e-8
    assert any("same effect to every row" in w for w in r.warnings)


@pytest.mark.parametrize("method, options, match", [
    ("t_learner", {"base_model": "svm"}, "'base_model' option of method 't_learner' must be one of"),
    ("s_learner", {"n_boot": 3}, "'n_boot' option of method 's_learner' must be an integer from 20 to 5000"),
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
    r = cc.estimate(df, ROLES, "t_learner", seed=0, base_model=model, n_boot=20)
    assert not hasattr(model, "coef_")
    assert abs(r.estimate - truth["SATE"]) < 4 * r.std_error


def test_learners_are_deterministic(design):
    df, _, _ = design
    a, b = (cc.estimate(df.head(300), ROLES, "s_learner", seed=4, n_boot=20)
            for _ in range(2))
    assert a.estimate == b.estimate and a.std_error == b.std_error
    assert np.array_equal(a.unit_effects, b.unit_effects)


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
