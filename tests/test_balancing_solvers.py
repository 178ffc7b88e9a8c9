"""The fast block solvers of DCB and ARB reach the same minima as cvxpy's formulation of the same problems.

Every bound comes from the solvers' stated accuracy and strong convexity, never from a run:
for a ``m``-strongly convex objective ``f`` with minimiser ``x*``, ``f(x) - f(x*) >= m ||x - x*||^2`` at every
feasible ``x``, so two feasible points whose objectives are within ``eps`` of the minimum are within
``2 sqrt(eps / m)`` of each other. CLARABEL (through cvxpy) stops at an absolute or relative duality gap of
``1e-8``; the fast solvers certify their own accuracy (a KKT residual for the beta block, a dual gradient for the
weight block, a duality gap for ARB).
"""
from __future__ import annotations

import numpy as np
import pytest

import causal_core as cc
from causal_core.core.data import prepare
from causal_core.datasets.simulate import linear_confounded
from causal_core.estimators.balancing.confounder_balancing import (
    BETA_KKT_TOL, STATIONARITY_TOL, _beta_step, _weight_step, beta_block, beta_kkt_residual, dcb_objective,
    dcb_weights)
from causal_core.estimators.balancing.residual_balancing import (
    DUAL_GAP_TOL, approximate_balancing_weights_cvxpy, balancing_objective, balancing_weights_dual)
from causal_core.nuisance.features import expand_covariates, pooled_scale

cp = pytest.importorskip("cvxpy")
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
#: CLARABEL's default absolute and relative duality-gap tolerance (what cvxpy asks of it here).
CLARABEL_GAP = 1e-8


def _arm(n: int, seed: int, moments: int, interactions: bool):
    df, _ = linear_confounded(n=n, seed=seed)
    data = prepare(df, ROLES)
    X, _ = expand_covariates(data.X, data.covariate_names, moments=moments, interactions=interactions)
    X_std = X / pooled_scale(X, data.treated)
    controls = ~data.treated
    X_arm = X_std[controls] - X_std[controls].mean(axis=0)
    target = X_std[data.treated].mean(axis=0) - X_std[controls].mean(axis=0)
    y = data.y[controls]
    return X_arm, (y - y.mean()) / y.std(), target


def _clarabel(problem) -> None:
    problem.solve(solver="CLARABEL")
    assert problem.status == cp.OPTIMAL


@pytest.mark.parametrize("moments, interactions, beta_l1", [(1, False, 1e-3), (2, True, 1e-3), (2, True, 0.05)])
def test_beta_block_minimum_matches_cvxpy(moments, interactions, beta_l1):
    X, y, target = _arm(600, 3, moments, interactions)
    n = y.size
    W = np.random.default_rng(0).dirichlet(np.ones(n))  # any point of the simplex gives a valid block
    Q, b = beta_block(X, y, target, W, outcome_loss=1.0, beta_l2=1e-3)
    fast = _beta_step(Q, b, beta_l1, np.zeros(b.size))
    assert beta_kkt_residual(Q, b, beta_l1, fast) <= BETA_KKT_TOL * (1 + 2 * np.abs(b).max())
    beta = cp.Variable(b.size)
    root = np.linalg.cholesky(Q)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(root.T @ beta) - 2 * b @ beta + beta_l1 * cp.norm1(beta)))
    _clarabel(problem)

    def f(x):
        return float(x @ Q @ x - 2 * b @ x + beta_l1 * np.abs(x).sum())

    reference = np.asarray(beta.value)
    eps = CLARABEL_GAP * (1 + abs(f(reference)))
    assert f(fast) <= f(reference) + eps
    strong = float(np.linalg.eigvalsh(Q)[0])
    assert np.linalg.norm(fast - reference) <= 2 * np.sqrt(eps / strong)
    if beta_l1 == 0.05:
        assert np.sum(fast == 0) > 0  # the l1 term does set coefficients to zero exactly


@pytest.mark.parametrize("start", [None, (0.3, -0.01)])
def test_weight_block_minimum_matches_cvxpy(start):
    X, y, target = _arm(600, 5, 1, False)
    n = y.size
    beta = np.linspace(-0.5, 0.5, X.shape[1])
    s, a, delta = X @ beta, float(target @ beta), 1.0
    c = (y - s) ** 2 / n
    fast, _ = _weight_step(a, s, c, delta, start)
    assert np.all(fast >= 0) and fast.sum() == pytest.approx(1.0, abs=1e-12)
    W = cp.Variable(n, nonneg=True)
    problem = cp.Problem(cp.Minimize(cp.square(a - s @ W) + c @ W + delta * cp.sum_squares(W)), [cp.sum(W) == 1])
    _clarabel(problem)

    def f(w):
        return float((a - s @ w) ** 2 + c @ w + delta * w @ w)

    reference = np.clip(np.asarray(W.value), 0, None)
    reference /= reference.sum()
    eps = CLARABEL_GAP * (1 + abs(f(reference)))
    assert f(fast) <= f(reference) + eps
    assert np.linalg.norm(fast - reference) <= 2 * np.sqrt(eps / delta)


@pytest.mark.parametrize("moments, interactions, zeta", [(1, False, 0.5), (2, True, 0.5), (2, True, 0.9)])
def test_arb_dual_matches_cvxpy_formulation(moments, interactions, zeta):
    X, _, target = _arm(800, 7, moments, interactions)
    solved = balancing_weights_dual(X, target, zeta)
    assert solved is not None
    fast, gap = solved
    assert 0 <= gap <= DUAL_GAP_TOL
    assert np.all(fast >= 0) and fast.sum() == pytest.approx(1.0, abs=1e-12)
    reference = approximate_balancing_weights_cvxpy(X, target, zeta)
    # the dual value (fast objective - gap) bounds the minimum from below, so the fast weights are within
    # ``gap`` of it and cvxpy's within its own gap tolerance
    lower = balancing_objective(X, target, zeta, fast) - gap
    eps = balancing_objective(X, target, zeta, reference) - lower
    assert -1e-15 <= eps <= CLARABEL_GAP * (1 + abs(lower)) + gap
    assert np.linalg.norm(fast - reference) <= np.sqrt(gap / (1 - zeta)) + np.sqrt(eps / (1 - zeta))


def test_dcb_bootstrap_by_default_and_plug_in_on_request(linear_design):
    df, _ = linear_design
    default = cc.estimate(df, ROLES, "differentiated_confounder_balancing", estimand="ATT", seed=3, n_boot=25)
    assert default.inference.n_replicates == 25 and "bootstrap" in default.inference.detail
    info = next(m for m in cc.list_methods() if m.id == "differentiated_confounder_balancing")
    assert next(o for o in info.options if o.name == "n_boot").default == 100
    plug_in = cc.estimate(df, ROLES, "differentiated_confounder_balancing", estimand="ATT", seed=3, n_boot=0)
    assert plug_in.inference.n_replicates == 0 and "plug-in" in plug_in.inference.detail
    assert plug_in.estimate == default.estimate  # the SE route never changes the point estimate
    assert 0 < plug_in.std_error != default.std_error


def _reduced_gradient(X, y, target, beta, *, delta=1.0, beta_l2=1e-3):
    """Gradient of the smooth part of ``phi(beta) = min_W J(beta, W)`` (Danskin: ``d_beta J`` at ``W(beta)``)."""
    s = X @ beta
    W, _ = _weight_step(float(target @ beta), s, (y - s) ** 2 / y.size, delta)
    Q, b = beta_block(X, y, target, W, outcome_loss=1.0, beta_l2=beta_l2)
    return 2 * (Q @ beta - b)


def _distance_bound(X, y, target, fits):
    """Bound on the distance between stationary points ``fits`` of the same DCB problem, from their certificates.

    Near a strict local minimum the reduced objective ``phi`` plus ``nu ||beta||_1`` is strongly convex with
    modulus ``m``, the smallest eigenvalue of ``phi``'s Hessian (central differences of the Danskin gradient,
    which is piecewise smooth; step 1e-5 leaves an error of order 1e-10 in ``m``). Each fit's minimal subgradient
    has l-inf norm at most its KKT residual, so two of them lie within ``sqrt(p) (r_1 + r_2) / m``.
    """
    beta = fits[0].beta
    p, step = beta.size, 1e-5
    hessian = np.column_stack([(_reduced_gradient(X, y, target, beta + step * e)
                                - _reduced_gradient(X, y, target, beta - step * e)) / (2 * step) for e in np.eye(p)])
    modulus = float(np.linalg.eigvalsh((hessian + hessian.T) / 2)[0])
    assert modulus > 0  # a strict local minimum, not a saddle
    return np.sqrt(p) * sum(fit.kkt_residual for fit in fits) / modulus


def _lalonde_cps_controls():
    """LaLonde CPS V-RAW controls, centred and standardised as ``dcb_weights`` takes them (ATT target)."""
    sample = cc.get_sample("lalonde_cps")
    data = prepare(cc.load_sample("lalonde_cps"), sample.roles)
    X_std = data.X / pooled_scale(data.X, data.treated)
    controls = ~data.treated
    centre = X_std[controls].mean(axis=0)
    y = data.y[controls]
    return X_std[controls] - centre, (y - y.mean()) / y.std(), X_std[data.treated].mean(axis=0) - centre


@pytest.mark.parametrize("design", ["linear n=600", "linear n=600 squares", "LaLonde CPS V-RAW"])
def test_accelerated_alternation_reaches_plain_alternations_stationary_point(design):
    X, y, target = (_lalonde_cps_controls() if design.startswith("LaLonde")
                    else _arm(600, 11, 2 if "squares" in design else 1, False))
    accelerated = dcb_weights(X, y, target)
    plain = dcb_weights(X, y, target, anderson_memory=0, max_iter=20_000)
    assert accelerated.converged and plain.converged
    assert accelerated.iterations < plain.iterations
    for fit in (accelerated, plain):
        Q, b = beta_block(X, y, target, fit.weights, outcome_loss=1.0, beta_l2=1e-3)
        # the objective and the certificate hold when recomputed from the returned weights, not only as reported
        assert fit.objective == pytest.approx(dcb_objective(X, y, target, fit.weights, fit.beta, outcome_loss=1.0,
                                                            weight_penalty=1.0, beta_l2=1e-3, beta_l1=1e-3),
                                              rel=y.size * np.finfo(float).eps)  # rounding of n-term sums
        assert max(fit.kkt_residual, beta_kkt_residual(Q, b, 1e-3, fit.beta)) <= STATIONARITY_TOL * (1 + 2 * np.abs(b).max())
    bound = _distance_bound(X, y, target, (accelerated, plain))
    assert np.linalg.norm(accelerated.beta - plain.beta) <= bound
    assert accelerated.objective == pytest.approx(plain.objective, rel=1e-12)


def test_plain_alternation_never_raises_the_objective():
    X, y, target = _arm(600, 11, 1, False)
    values = [dcb_weights(X, y, target, anderson_memory=0, max_iter=k).objective for k in range(1, 30)]
    assert np.all(np.diff(values) <= 4 * np.finfo(float).eps * np.abs(values[1:]))


def test_a_warm_start_reaches_the_cold_starts_stationary_point():
    """What bootstrap replicates rely on (``WARM_START_REPLICATES``): the full-sample solution as start."""
    X, y, target = _arm(600, 11, 1, False)
    full = dcb_weights(X, y, target)
    rows = np.random.default_rng(4).integers(0, y.size, y.size)
    Xr, yr = X[rows] - X[rows].mean(axis=0), (y[rows] - y[rows].mean()) / y[rows].std()
    target_r = target - X[rows].mean(axis=0)
    start = (full.weights[rows] / full.weights[rows].sum(), full.beta)
    warm = dcb_weights(Xr, yr, target_r, start=start)
    cold = dcb_weights(Xr, yr, target_r)
    assert warm.converged and cold.converged and warm.iterations < cold.iterations
    assert np.linalg.norm(warm.beta - cold.beta) <= _distance_bound(Xr, yr, target_r, (warm, cold))
