"""Regression adjustment, IPW and doubly robust estimators against known truth.

Tolerances are 4 of the method's own standard errors; coverage checks use
200 replications (binomial SE about 1.5 points at 95%).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

import causal_core as cc
from causal_core.core.data import prepare
from causal_core.datasets.simulate import kang_schafer
from causal_core.inference import resolve_inference

LINEAR_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
HETERO_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])

# (method, options) pairs that target every estimand on any design
HETEROGENEOUS_CAPABLE = [
    ("regression_adjustment", {"interactions": True}),
    ("regression_adjustment", {"outcome_model": LinearRegression(), "n_boot": 100}),
    ("ipw", {}),
    ("ipw", {"propensity_model": LogisticRegression(C=1e6, max_iter=5000)}),
    ("doubly_robust", {}),
    ("doubly_robust", {"cross_fit": True, "n_folds": 3}),
]


def _case_id(method: str, options: dict) -> str:
    return method + ("[" + ",".join(sorted(options)) + "]" if options else "")


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
@pytest.mark.parametrize(
    "method, options",
    [pytest.param(m, o, id=_case_id(m, o)) for m, o in HETEROGENEOUS_CAPABLE + [("regression_adjustment", {})]],
)
def test_recovers_constant_effect(linear_design, method, options, estimand):
    df, truth = linear_design
    result = cc.estimate(df, LINEAR_ROLES, method, estimand=estimand, seed=0, **options)
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error, (result.estimate, result.std_error)
    assert result.ci_low < result.estimate < result.ci_high


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
@pytest.mark.parametrize("method, options", [pytest.param(m, o, id=_case_id(m, o)) for m, o in HETEROGENEOUS_CAPABLE])
def test_recovers_heterogeneous_effect(heterogeneous_design, method, options, estimand):
    df, truth = heterogeneous_design
    result = cc.estimate(df, HETERO_ROLES, method, estimand=estimand, seed=0, **options)
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error, (result.estimate, result.std_error, truth)


@pytest.mark.parametrize("estimand", ["ATT", "ATC"])
def test_regression_without_interactions_misses_heterogeneous_att_and_warns(heterogeneous_design, estimand):
    df, truth = heterogeneous_design
    result = cc.estimate(df, HETERO_ROLES, "regression_adjustment", estimand=estimand)
    assert any("interactions=True" in w for w in result.warnings)
    assert abs(result.estimate - truth[estimand]) > 4 * result.std_error  # the design has teeth


def test_regression_unit_effects_follow_the_interaction(heterogeneous_design):
    df, _ = heterogeneous_design
    result = cc.estimate(df, HETERO_ROLES, "regression_adjustment", interactions=True)
    slope = np.polyfit(df["x1"], result.unit_effects, 1)[0]  # true effect is 1 + x1
    assert abs(slope - 1) < 0.15


# ---------------------------------------------------------------- IPW specifics


def test_ipw_weights_and_propensity_have_one_value_per_row(linear_design):
    df, _ = linear_design
    result = cc.estimate(df, LINEAR_ROLES, "ipw", estimand="ATT")
    assert result.weights.shape == (len(df),)
    assert result.diagnostics["propensity"].shape == (len(df),)
    treated = df["treat"].to_numpy() == 1
    np.testing.assert_allclose(result.weights[treated], 1.0)  # ATT: treated rows keep weight 1
    ps = result.diagnostics["propensity"]
    np.testing.assert_allclose(result.weights[~treated], ps[~treated] / (1 - ps[~treated]))


def test_ipw_trimming_drops_units_warns_and_reports_ess(linear_design):
    df, _ = linear_design
    full = cc.estimate(df, LINEAR_ROLES, "ipw")
    trimmed = cc.estimate(df, LINEAR_ROLES, "ipw", trim=0.1)
    ps = full.diagnostics["propensity"]
    expected_drop = int(np.sum((ps < 0.1) | (ps > 0.9)))
    assert expected_drop > 0
    assert trimmed.diagnostics["n_trimmed"] == expected_drop
    assert int(np.sum(trimmed.weights == 0)) == expected_drop
    assert trimmed.n_used == len(df) - expected_drop and trimmed.n_rows == len(df)
    assert any(f"dropped {expected_drop} of {len(df)} units" in w and "overlap population" in w
               for w in trimmed.warnings)
    assert not any("overlap population" in w for w in full.warnings)
    ess = trimmed.weight_diagnostics  # the one ESS: row counts before, the weights' Kish ESS after, by arm
    t = df["treat"].to_numpy() == 1
    assert dict(ess.ess_before) == {"treated": float(t.sum()), "control": float((~t).sum())}
    assert dict(ess.n_positive) == {"treated": int(np.sum(trimmed.weights[t] > 0)),
                                    "control": int(np.sum(trimmed.weights[~t] > 0))}
    for arm in ("treated", "control"):
        assert 0 < ess.ess_after[arm] <= ess.n_positive[arm] < ess.ess_before[arm] + 1
    assert "ess_before" not in trimmed.diagnostics and "ess_after" not in trimmed.diagnostics


def test_ipw_clipping_caps_weights_and_warns(linear_design):
    df, _ = linear_design
    result = cc.estimate(df, LINEAR_ROLES, "ipw", clip=0.1)
    ps = result.diagnostics["propensity"]
    n_clipped = int(np.sum((ps < 0.1) | (ps > 0.9)))
    assert result.diagnostics["n_clipped"] == n_clipped > 0
    assert result.weights.max() <= 1 / 0.1 + 1e-9
    assert any("Clipping moved the propensity" in w for w in result.warnings)


def test_ipw_sandwich_is_smaller_than_known_score_error_for_the_ate(linear_design):
    """Estimating the logit reduces the variance of the ATE (Lunceford & Davidian 2004)."""
    df, _ = linear_design
    sandwich = cc.estimate(df, LINEAR_ROLES, "ipw")
    known = cc.estimate(df, LINEAR_ROLES, "ipw", propensity_model=LogisticRegression(C=1e6, max_iter=5000))
    # Both are lbfgs logits stopped at sklearn's default tol=1e-4 on the gradient of the mean log-loss (one on
    # standardised, one on raw covariates), so their coefficients differ by O(1e-4 / curvature) against a
    # sampling SE of O(1 / sqrt(n * curvature)): the same estimate to well within 5% of its SE (n = 2000 and
    # curvature >= 0.01 give at most 1e-4 * sqrt(n / curvature) = 4.5%), not to an absolute 1e-3 one machine met.
    assert abs(sandwich.estimate - known.estimate) < 0.05 * sandwich.std_error
    assert sandwich.std_error < known.std_error


def test_caller_model_is_not_fitted_in_place(linear_design):
    df, _ = linear_design
    ps_model, y_model = LogisticRegression(), LinearRegression()
    cc.estimate(df, LINEAR_ROLES, "doubly_robust", propensity_model=ps_model, outcome_model=y_model)
    assert not hasattr(ps_model, "coef_") and not hasattr(y_model, "coef_")


def test_named_models_are_seeded(linear_design):
    df, _ = linear_design
    df = df.iloc[:300]
    a = cc.estimate(df, LINEAR_ROLES, "doubly_robust", seed=1, propensity_model="random_forest")
    b = cc.estimate(df, LINEAR_ROLES, "doubly_robust", seed=1, propensity_model="random_forest")
    c = cc.estimate(df, LINEAR_ROLES, "doubly_robust", seed=2, propensity_model="random_forest")
    assert a.estimate == b.estimate and a.estimate != c.estimate


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("ipw", {"trim": 0.7}, "'trim' option of method 'ipw' must be a number from 0 to 0.49; got 0.7"),
        ("ipw", {"clip": "big"}, "'clip' option of method 'ipw'"),
        ("ipw", {"propensity_model": "svm"}, "'propensity_model' option of method 'ipw' must be one of"),
        ("ipw", {"propensity_model": LinearRegression()}, "must be a scikit-learn classifier with fit and predict_proba"),
        ("doubly_robust", {"n_folds": 1}, "'n_folds' option of method 'doubly_robust'"),
        ("doubly_robust", {"cross_fit": "yes"}, "'cross_fit' option of method 'doubly_robust' must be True or False"),
        ("regression_adjustment", {"interactions": 1}, "'interactions' option .* must be True or False"),
        ("regression_adjustment", {"outcome_model": LinearRegression(), "n_boot": 5}, "'n_boot' option"),
    ],
    ids=["trim-range", "clip-type", "unknown-model-name", "regressor-as-classifier",
         "one-fold", "cross-fit-type", "interactions-type", "too-few-boot"],
)
def test_bad_options_are_refused(linear_design, method, options, message):
    df, _ = linear_design
    with pytest.raises(cc.CausalInputError, match=message):
        cc.estimate(df, LINEAR_ROLES, method, **options)


# ------------------------------------------------------- doubly robust: one model wrong

KS_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["z1", "z2", "z3", "z4"])


def _kang_schafer_w(Z: np.ndarray) -> np.ndarray:
    """Kang & Schafer's observed transforms w1..w4 of z1..z4: a model on them is misspecified."""
    z1, z2, z3, z4 = Z.T
    return np.column_stack([np.exp(z1 / 2), z2 / (1 + np.exp(z1)) + 10, (z1 * z3 / 25 + 0.6) ** 3, (z2 + z4 + 20) ** 2])


def _drop_z1(Z: np.ndarray) -> np.ndarray:
    """Omit z1, the strongest confounder."""
    return Z[:, 1:]


WRONG_PROPENSITY = {
    "kang_schafer_w": make_pipeline(FunctionTransformer(_kang_schafer_w), StandardScaler(),
                                    LogisticRegression(C=1e6, max_iter=5000)),
    "omit_z1": make_pipeline(FunctionTransformer(_drop_z1), LogisticRegression(C=1e6, max_iter=5000)),
}
WRONG_OUTCOME = {
    "kang_schafer_w": make_pipeline(FunctionTransformer(_kang_schafer_w), LinearRegression()),
    "omit_z1": make_pipeline(FunctionTransformer(_drop_z1), LinearRegression()),
}


@pytest.fixture(scope="module")
def kang_schafer_design():
    return kang_schafer(n=1000, seed=0)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize("misspecification", ["kang_schafer_w", "omit_z1"])
@pytest.mark.parametrize("wrong", ["propensity", "outcome"])
def test_doubly_robust_survives_one_wrong_model(kang_schafer_design, wrong, misspecification, estimand):
    df, truth = kang_schafer_design
    key = "propensity_model" if wrong == "propensity" else "outcome_model"
    model = (WRONG_PROPENSITY if wrong == "propensity" else WRONG_OUTCOME)[misspecification]
    result = cc.estimate(df, KS_ROLES, "doubly_robust", estimand=estimand, **{key: model})
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error, (result.estimate, result.std_error)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize("method, key", [("ipw", "propensity_model"), ("regression_adjustment", "outcome_model")])
def test_single_wrong_model_is_biased_in_the_same_design(kang_schafer_design, method, key, estimand):
    """The misspecification bites: one-model estimators miss the truth by many SEs."""
    df, truth = kang_schafer_design
    model = (WRONG_PROPENSITY if key == "propensity_model" else WRONG_OUTCOME)["omit_z1"]
    options = {key: model, **({"n_boot": 50} if method == "regression_adjustment" else {})}
    result = cc.estimate(df, KS_ROLES, method, estimand=estimand, **options)
    assert abs(result.estimate - truth[estimand]) > 4 * result.std_error


# ------------------------------------------------------------- coverage in 200 replications

COVERAGE_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2"])
COVERAGE_CASES = [
    ("ipw", {}),
    ("doubly_robust", {}),
    ("regression_adjustment", {"interactions": True}),
]


def _coverage_population_truth() -> dict[str, float]:
    grid = np.random.default_rng(12345).normal(size=(2, 1_000_000))
    ps = expit(-0.3 + 0.8 * grid[0] - 0.6 * grid[1])
    return {"ATE": 1.0, "ATT": 1.0 + 0.5 * float(np.sum(grid[0] * ps) / np.sum(ps))}


def _coverage_sample(n: int, seed: int) -> pd.DataFrame:
    """Effect 1 + x1/2 varies with a confounder, so ATE and ATT differ."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, n))
    t = rng.binomial(1, expit(-0.3 + 0.8 * x1 - 0.6 * x2))
    y = 1 + (1 + 0.5 * x1) * t + x1 + x2 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "treat": t, "y": y})


@pytest.fixture(scope="module")
def coverage_hits() -> dict[tuple[str, str], float]:
    truth = _coverage_population_truth()
    hits: dict[tuple[str, str], list[bool]] = {}
    with threadpool_limits(1):  # many tiny fits: BLAS threads only add overhead
        _run_coverage(truth, hits)
    return {key: float(np.mean(value)) for key, value in hits.items()}


def _run_coverage(truth: dict[str, float], hits: dict[tuple[str, str], list[bool]]) -> None:
    for replication in range(200):
        data = prepare(_coverage_sample(600, 5000 + replication), COVERAGE_ROLES)
        for method, options in COVERAGE_CASES:
            function = cc.get_method(method).function
            for estimand in ("ATE", "ATT"):
                out = function(data, estimand=estimand, seed=0, **options)
                hits.setdefault((method, estimand), []).append(
                    abs(out.estimate - truth[estimand])
                    <= 1.959964 * resolve_inference(out.estimate, out.inference, n=data.n, seed=0).std_error)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize("method", [m for m, _ in COVERAGE_CASES])
def test_confidence_interval_coverage(coverage_hits, method, estimand):
    assert 0.88 <= coverage_hits[(method, estimand)] <= 0.99, coverage_hits
