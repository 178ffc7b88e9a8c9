"""Direct confounder-balancing methods: entropy balancing, approximate residual balancing, DCB."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.core.data import prepare
from causal_core.datasets.simulate import linear_confounded
from causal_core.estimators.balancing.confounder_balancing import dcb_weights
from causal_core.estimators.balancing.entropy_balancing import entropy_balancing_weights
from causal_core.nuisance.features import expand_covariates

LINEAR_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
HETEROGENEOUS_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
METHODS = {
    "entropy_balancing": {},
    "approximate_residual_balancing": {},
    "differentiated_confounder_balancing": {"n_boot": 50},
}


def test_expand_covariates_builds_v_interaction_set():
    X = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [3.0, 1.0, 1.0], [0.5, 0.0, 3.0]])
    expanded, names = expand_covariates(X, ["a", "d", "b"], moments=2, interactions=True)
    assert names == ("a", "d", "b", "a^2", "b^2", "a*d", "a*b", "d*b")  # no square of the binary 'd'
    np.testing.assert_allclose(expanded[:, names.index("a*b")], X[:, 0] * X[:, 2])
    cubes, cube_names = expand_covariates(X, ["a", "d", "b"], moments=3)
    assert cube_names[-2:] == ("a^3", "b^3") and cubes.shape == (4, 7)


def test_expand_covariates_drops_constant_products():
    X = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.1], [0.0, 0.0, 0.7]])  # two levels of one categorical
    _, names = expand_covariates(X, ["r=b", "r=c", "z"], interactions=True)
    assert "r=b*r=c" not in names


@pytest.mark.parametrize("moments, interactions, match", [(4, False, "'moments'"), (1, "yes", "'interactions'")])
def test_expand_covariates_rejects_bad_options(moments, interactions, match):
    with pytest.raises(cc.CausalInputError, match=match):
        expand_covariates(np.ones((3, 1)), ["a"], moments=moments, interactions=interactions)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("design", ["linear", "heterogeneous"])
def test_recovers_att_within_four_standard_errors(method, design, linear_design, heterogeneous_design):
    df, truth = linear_design if design == "linear" else heterogeneous_design
    roles = LINEAR_ROLES if design == "linear" else HETEROGENEOUS_ROLES
    result = cc.estimate(df, roles, method, estimand="ATT", seed=5, **METHODS[method])
    assert result.std_error > 0
    assert abs(result.estimate - truth["ATT"]) < 4 * result.std_error, (result.estimate, result.std_error, truth["ATT"])


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("estimand", ["ATE", "ATC"])
def test_recovers_ate_and_atc_on_heterogeneous_design(method, estimand, heterogeneous_design):
    df, truth = heterogeneous_design
    result = cc.estimate(df, HETEROGENEOUS_ROLES, method, estimand=estimand, seed=5, **METHODS[method])
    assert abs(result.estimate - truth[estimand]) < 4 * result.std_error, (result.estimate, result.std_error)


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
@pytest.mark.parametrize("moments, interactions", [(1, False), (2, True), (3, False)])
def test_entropy_balancing_balances_means_exactly(estimand, moments, interactions, linear_design):
    df, _ = linear_design
    result = cc.estimate(df, LINEAR_ROLES, "entropy_balancing", estimand=estimand,
                         moments=moments, interactions=interactions)
    assert result.diagnostics["converged"]
    assert result.diagnostics["max_abs_smd_before"] > 0.5
    assert result.diagnostics["max_abs_smd_after"] < 1e-6
    ess = result.weight_diagnostics
    assert sum(ess.ess_after.values()) < sum(ess.ess_before.values())


#: Accuracy that ``cvxpy_primal`` asks of CLARABEL: ``min(tol, 1e-7)`` for the absolute and relative duality gap
#: and the (relative) feasibility residual, with the default ``tol=1e-8`` of Newton (which stops once every
#: standardised imbalance is below ``tol``).
CVXPY_EPS = 1e-7
NEWTON_TOL = 1e-8


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(p @ np.log(p / q))


def test_newton_and_cvxpy_give_the_same_weights():
    """Both solvers reach the same I-projection to within their stated accuracy.

    The tolerances come from the solvers' settings, not from a run: Newton's imbalance is below its ``tol``;
    CLARABEL's residual is below ``CVXPY_EPS`` times ``max(1, ||v||)`` with ``v = w / q`` about 1, i.e. at most
    ``CVXPY_EPS * sqrt(n)`` on the whitened constraints (mapped back through the whitening transform); the two
    entropy objectives KL(w || q) agree within the duality-gap tolerance ``eps = CVXPY_EPS * (1 + |objective|)``;
    since both weight vectors satisfy the same linear constraints, KL(cvxpy || newton) equals their objective
    difference (the Pythagorean identity of I-projections), so it is below ``eps`` too, and to second order
    the q-weighted RMS of the relative weight differences is sqrt(2 KL) <= sqrt(2 eps) (factor 2 for the
    higher-order terms). Single weights may differ by more (about 2e-4 relative on one machine, 7e-4 on
    another), which is why they are not compared one by one.
    """
    df, _ = linear_confounded(n=300, seed=4)
    data = prepare(df, LINEAR_ROLES)
    X, names = expand_covariates(data.X, data.covariate_names, moments=2)
    treated = data.treated
    scale = X.std(axis=0)
    target = X[treated].mean(axis=0)
    newton = entropy_balancing_weights(X[~treated], target, scale, names=names, solver="newton", tol=NEWTON_TOL)
    primal = entropy_balancing_weights(X[~treated], target, scale, names=names, solver="cvxpy", tol=NEWTON_TOL)
    assert newton.solution.converged and primal.solution.converged
    n_controls = primal.weights.size
    assert newton.max_abs_imbalance < NEWTON_TOL
    back_to_standardised = np.linalg.norm(np.linalg.pinv(primal.basis.transform), 2)
    assert primal.max_abs_imbalance <= CVXPY_EPS * np.sqrt(n_controls) * back_to_standardised
    q = np.full(n_controls, 1.0 / n_controls)
    objective = _kl(newton.weights, q)
    eps = CVXPY_EPS * (1.0 + abs(objective))
    assert abs(_kl(primal.weights, q) - objective) <= eps
    divergence = _kl(primal.weights, newton.weights)
    assert divergence <= eps, divergence
    relative = primal.weights / newton.weights - 1.0
    assert np.sqrt(newton.weights @ relative**2) <= 2 * np.sqrt(2 * eps)


def test_newton_and_cvxpy_give_the_same_estimate():
    """The ATT of both solvers agrees to 1% of its standard error (far inside its sampling noise)."""
    df, _ = linear_confounded(n=300, seed=4)
    newton = cc.estimate(df, LINEAR_ROLES, "entropy_balancing", estimand="ATT", moments=2, solver="newton")
    primal = cc.estimate(df, LINEAR_ROLES, "entropy_balancing", estimand="ATT", moments=2, solver="cvxpy")
    assert abs(primal.estimate - newton.estimate) < 0.01 * newton.std_error
    assert abs(primal.std_error - newton.std_error) < 0.01 * newton.std_error


def test_entropy_balancing_att_coverage():
    """95% intervals from the sandwich standard error cover the truth in 88-99% of 200 small samples."""
    covered = []
    for replication in range(200):
        df, truth = linear_confounded(n=400, seed=10_000 + replication)
        result = cc.estimate(df, LINEAR_ROLES, "entropy_balancing", estimand="ATT")
        covered.append(result.ci_low < truth["ATT"] < result.ci_high)
    assert 0.88 <= np.mean(covered) <= 0.99, np.mean(covered)


def _hull_design() -> pd.DataFrame:
    """Controls satisfy x1 + x2 <= 1 while the treated means add to about 1.1: each mean is in range, the pair is not.

    Five treated rows lie among the controls, so the arms are not separable (that case is refused
    earlier, by the identifiability limits) and only entropy balancing's own hull check can refuse.
    """
    rng = np.random.default_rng(0)
    controls = rng.dirichlet([1, 1, 1], size=200)[:, :2]
    treated = np.clip(rng.normal(0.6, 0.05, size=(50, 2)), 0, 1)
    treated[:5] = controls[:5]
    X = np.vstack([controls, treated])
    return pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "treat": np.r_[np.zeros(200), np.ones(50)],
                         "y": rng.normal(size=250)})


@pytest.mark.parametrize("solver", ["newton", "cvxpy"])
def test_entropy_balancing_outside_convex_hull_raises(solver):
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2"])
    with pytest.raises(cc.CausalInputError, match="cannot reweight the control rows.*'x[12]'.*convex hull"):
        cc.estimate(_hull_design(), roles, "entropy_balancing", estimand="ATT", solver=solver)


def test_entropy_balancing_target_outside_range_names_covariate():
    df, _ = linear_confounded(n=400, seed=1)
    # most treated rows shifted far beyond the controls; the first treated rows stay, so x3 does not separate the arms
    shifted = (df["treat"] == 1) & (df["treat"].cumsum() > 5)
    df = df.assign(x3=np.where(shifted, df["x3"] + 100, df["x3"]))
    with pytest.raises(cc.CausalInputError, match="treated means of 'x3'"):
        cc.estimate(df, LINEAR_ROLES, "entropy_balancing", estimand="ATT")


def test_entropy_balancing_warns_when_not_converged(linear_design):
    df, _ = linear_design
    result = cc.estimate(df, LINEAR_ROLES, "entropy_balancing", estimand="ATT", max_iter=1)
    assert not result.diagnostics["converged"]
    assert any("did not converge in 1 iterations" in w for w in result.warnings)


@pytest.mark.parametrize("method, options, match", [
    ("entropy_balancing", {"solver": "scipy"}, "'solver'"),
    ("entropy_balancing", {"moments": 0}, "'moments'"),
    ("entropy_balancing", {"tol": -1.0}, "'tol'"),
    ("approximate_residual_balancing", {"zeta": 1.5}, "'zeta'"),
    ("differentiated_confounder_balancing", {"weight_penalty": 0.0}, "'weight_penalty'"),
    ("differentiated_confounder_balancing", {"n_boot": 5}, "'n_boot'"),
])
def test_bad_options_are_refused(method, options, match):
    df, _ = linear_confounded(n=200, seed=0)
    with pytest.raises(cc.CausalInputError, match=match):
        cc.estimate(df, LINEAR_ROLES, method, estimand="ATT", **options)


def test_dcb_weights_balance_the_learned_confounder_direction():
    df, _ = linear_confounded(n=800, seed=3)
    data = prepare(df, LINEAR_ROLES)
    X = data.X / data.X.std(axis=0)
    treated = data.treated
    target = X[treated].mean(axis=0)
    fit = dcb_weights(X[~treated], data.y[~treated], target)
    assert fit.converged
    assert np.all(fit.weights >= 0) and fit.weights.sum() == pytest.approx(1.0)
    gap_before = abs(fit.beta @ (target - X[~treated].mean(axis=0)))
    gap_after = abs(fit.beta @ (target - X[~treated].T @ fit.weights))
    assert gap_after < 0.02 * gap_before


def test_balancing_methods_are_deterministic_under_a_seed(linear_design):
    df, _ = linear_design
    first = cc.estimate(df, LINEAR_ROLES, "differentiated_confounder_balancing", estimand="ATT", seed=9, n_boot=30)
    second = cc.estimate(df, LINEAR_ROLES, "differentiated_confounder_balancing", estimand="ATT", seed=9, n_boot=30)
    assert first.std_error == second.std_error and first.estimate == second.estimate
